/**
 * Persistence commands: SAVE, BGSAVE, BGREWRITEAOF, LASTSAVE. A snapshot always starts a new AOF
 * generation, so BGSAVE and BGREWRITEAOF do the same work.
 *
 * @module
 */
import { busyError, ReplyError, SYNTAX } from "./errors.ts";
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

/** What SHUTDOWN answers when it cannot save as asked (the reason goes to the log). */
const SHUTDOWN_FAILED = "ERR Errors trying to SHUTDOWN. Check logs.";

/**
 * SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]: the node stops as on SIGTERM (replies in flight
 * go out, the AOF is flushed and fsynced) and exits with status 0; the client gets no reply, its
 * connection closes. SAVE writes a snapshot first (a new AOF generation, as SAVE does); without
 * it none is taken, the AOF already holding every write, and NOSAVE says so explicitly (Redis's
 * NOSAVE skips only the RDB file, never the AOF). A snapshot that fails, or SAVE where
 * persistence is off, stops the shutdown unless FORCE is given. Nothing waits for replicas, so
 * NOW changes nothing and ABORT finds no shutdown to abort.
 */
function shutdown(ctx: CommandContext, argv: string[]): void {
  let nosave = false, save = false, now = false, force = false, abort = false;
  for (let i = 1; i < argv.length; i++) {
    const option = argv[i].toUpperCase();
    if (option === "NOSAVE") nosave = true;
    else if (option === "SAVE") save = true;
    else if (option === "NOW") now = true;
    else if (option === "FORCE") force = true;
    else if (option === "ABORT") abort = true;
    else throw new ReplyError(SYNTAX);
  }
  if ((abort && (nosave || save || now || force)) || (nosave && save)) {
    throw new ReplyError(SYNTAX);
  }
  if (abort) throw new ReplyError("ERR No shutdown in progress.");
  const scripting = ctx.server.scripting;
  if (scripting?.busy) {
    const kind = (scripting.running()?.name ?? "") !== "" ? "function" : "script";
    // A script past busy-reply-threshold: only NOSAVE may stop the node under it, as in Redis.
    if (!nosave) throw new ReplyError(busyError(kind));
    try {
      scripting.kill(kind);
    } catch {
      // It wrote: the node stops once it ends.
    }
  }
  const stop = ctx.server.shutdown;
  if (stop === undefined) throw new ReplyError("ERR SHUTDOWN is not available on this node");
  if (save) {
    const persistence = ctx.server.persistence as SaveHooks | undefined;
    try {
      if (persistence?.save === undefined) {
        throw new Error("persistence is off on this node (start it with --appendonly yes)");
      }
      persistence.save();
    } catch (error) {
      console.error(`hypercache: SHUTDOWN SAVE cannot save: ${(error as Error).message}`);
      if (!force) throw new ReplyError(SHUTDOWN_FAILED);
    }
  }
  // No reply: the connection closes, then the node stops.
  ctx.client.closeAfterReply = true;
  stop();
}

export const persistenceCommands: CommandSpec[] = [
  command({
    name: "shutdown",
    arity: -1,
    flags: ["admin", "noscript", "loading", "stale", "no_multi", "allow_busy"],
    group: "server",
    categories: ["admin", "slow", "dangerous"],
    needsConnection: true,
    summary: "Synchronously saves the database(s) to disk and shuts down the Redis server.",
    handler: shutdown,
  }),
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
