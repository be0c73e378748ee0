/**
 * Persistence commands: SAVE, BGSAVE, BGREWRITEAOF, LASTSAVE. A snapshot always starts a new AOF
 * generation, so BGSAVE and BGREWRITEAOF do the same work.
 *
 * @module
 */
import { ReplyError } from "./errors.ts";
import { command, type CommandContext, type CommandSpec, type PersistenceHooks } from "./types.ts";

/**
 * The hooks with SAVE's blocking path, which `Persistence` has: `save()` returns once the
 * snapshot is durable and throws with the reason when it cannot be.
 */
interface SaveHooks extends PersistenceHooks {
  save?(): void;
}

function persistenceOf(ctx: CommandContext): SaveHooks {
  const persistence = ctx.server.persistence;
  if (persistence === undefined) {
    throw new ReplyError("ERR persistence is off on this node (start it with --appendonly yes)");
  }
  return persistence;
}

function background(started: string) {
  return (ctx: CommandContext): void => {
    const persistence = persistenceOf(ctx);
    if (persistence.rewriting) throw new ReplyError("ERR Background save already in progress");
    persistence.rewrite().catch((error) =>
      console.error(`hypercache: background save failed: ${error.message}`)
    );
    ctx.out.simple(started);
  };
}

export const persistenceCommands: CommandSpec[] = [
  command({
    name: "bgsave",
    arity: -1,
    flags: ["admin", "noscript"],
    group: "server",
    summary: "Asynchronously saves the data to disk (a snapshot and a new AOF).",
    handler: background("Background saving started"),
  }),
  command({
    name: "save",
    arity: 1,
    // Refused inside MULTI, as Redis refuses it: EXEC would block on disk mid-transaction.
    flags: ["admin", "noscript", "no_multi"],
    group: "server",
    summary: "Saves the data to disk; replies once the snapshot is durable (blocking, as Redis).",
    handler: (ctx) => {
      const persistence = persistenceOf(ctx);
      if (persistence.save === undefined) throw new ReplyError("ERR SAVE is not supported here");
      try {
        persistence.save();
      } catch (error) {
        throw new ReplyError(`ERR ${(error as Error).message}`);
      }
      ctx.out.simple("OK");
    },
  }),
  command({
    name: "bgrewriteaof",
    arity: 1,
    flags: ["admin", "noscript"],
    group: "server",
    summary: "Asynchronously rewrites the append-only file (a snapshot and a new AOF).",
    handler: background("Background append only file rewriting started"),
  }),
  command({
    name: "lastsave",
    arity: 1,
    flags: ["fast"],
    group: "server",
    categories: ["admin", "fast", "dangerous"],
    summary: "Returns the Unix timestamp of the last successful save to disk.",
    handler: (ctx) => ctx.out.integer(Math.floor(persistenceOf(ctx).lastSaveMs / 1000)),
  }),
];
