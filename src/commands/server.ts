/**
 * Connection and server commands: PING, ECHO, SELECT, DBSIZE, FLUSHDB, FLUSHALL, INFO, QUIT,
 * COMMAND.
 *
 * @module
 */
import { DB_OUT_OF_RANGE, ReplyError, unknownSubcommand, wrongArity } from "./errors.ts";
import type { CommandTable } from "./table.ts";
import { command, type CommandContext, type CommandSpec, keyIndices, specFor } from "./types.ts";

function ping(ctx: CommandContext, argv: string[]): void {
  if (argv.length > 2) throw new ReplyError(wrongArity("ping"));
  if (ctx.client.protocol === 2 && (ctx.client.subscriptions ?? 0) > 0) {
    // In subscribed mode Redis answers PING with a pub/sub-shaped array.
    ctx.out.arrayHeader(2);
    ctx.out.bulk("pong");
    ctx.out.bulk(argv[1] ?? "");
    return;
  }
  if (argv.length === 2) ctx.out.bulk(argv[1]);
  else ctx.out.simple("PONG");
}

function select(ctx: CommandContext, argv: string[]): void {
  const store = ctx.keyspace.find(argv[1]);
  if (store === undefined) {
    if (/^-?\d+$/.test(argv[1])) throw new ReplyError(DB_OUT_OF_RANGE);
    throw new ReplyError(`ERR no such store '${argv[1]}'`);
  }
  ctx.client.db = store.index;
  ctx.store = store;
  ctx.out.ok();
}

function flushOptions(argv: string[]): void {
  if (argv.length > 2) throw new ReplyError("ERR syntax error");
  if (argv.length === 2 && !/^(ASYNC|SYNC)$/i.test(argv[1])) {
    throw new ReplyError("ERR syntax error");
  }
}

function commandInfoReply(ctx: CommandContext, spec: CommandSpec): void {
  const out = ctx.out;
  out.arrayHeader(10);
  out.bulk(spec.name);
  out.integer(spec.arity);
  const movable = spec.keyFinder !== undefined;
  out.setHeader(spec.flags.length + (movable ? 1 : 0));
  for (const flag of spec.flags) out.simple(flag);
  if (movable) out.simple("movablekeys");
  out.integer(spec.firstKey);
  out.integer(spec.lastKey);
  out.integer(spec.step);
  out.setHeader(spec.categories.length);
  for (const category of spec.categories) out.simple(`@${category}`);
  out.setHeader(0);
  keySpecsReply(ctx, spec);
  out.arrayHeader(spec.subcommands?.length ?? 0);
  for (const sub of spec.subcommands ?? []) commandInfoReply(ctx, sub);
}

/**
 * The command's key specs, in Redis 7's shape: where the search for keys begins (`index`, or
 * after a `keyword`) and how they are found from there (`range`, or `keynum` for a count then
 * keys). The access
 * flags are the command's own (`RO access` for a read, `RW update` for a write), coarser than
 * Redis's per-key flags.
 */
function keySpecsReply(ctx: CommandContext, spec: CommandSpec): void {
  const out = ctx.out;
  const finder = spec.keyFinder;
  if (finder === undefined && spec.firstKey === 0) return out.arrayHeader(0);
  const destination = finder !== undefined && "destination" in finder.keySpec
    ? finder.keySpec.destination
    : undefined;
  out.arrayHeader(destination === undefined ? 1 : 2);
  if (destination !== undefined) {
    // ZUNIONSTORE's destination, then its sources (read) after the count.
    out.mapHeader(3);
    out.bulk("flags");
    out.setHeader(2);
    out.simple("OW");
    out.simple("update");
    out.bulk("begin_search");
    out.mapHeader(2);
    out.bulk("type");
    out.bulk("index");
    out.bulk("spec");
    out.mapHeader(1);
    out.bulk("index");
    out.integer(destination);
    out.bulk("find_keys");
    out.mapHeader(2);
    out.bulk("type");
    out.bulk("range");
    out.bulk("spec");
    out.mapHeader(3);
    out.bulk("lastkey");
    out.integer(0);
    out.bulk("keystep");
    out.integer(1);
    out.bulk("limit");
    out.integer(0);
  }
  out.mapHeader(3);
  out.bulk("flags");
  const write = spec.flags.includes("write") && destination === undefined;
  out.setHeader(2);
  out.simple(write ? "RW" : "RO");
  out.simple(write ? "update" : "access");
  out.bulk("begin_search");
  out.mapHeader(2);
  out.bulk("type");
  const keySpec = finder?.keySpec;
  if (keySpec !== undefined && "keyword" in keySpec) {
    out.bulk("keyword");
    out.bulk("spec");
    out.mapHeader(2);
    out.bulk("keyword");
    out.bulk(keySpec.keyword);
    out.bulk("startfrom");
    out.integer(keySpec.startfrom);
    out.bulk("find_keys");
    out.mapHeader(2);
    out.bulk("type");
    out.bulk("range");
    out.bulk("spec");
    out.mapHeader(3);
    out.bulk("lastkey");
    out.integer(keySpec.lastkey);
    out.bulk("keystep");
    out.integer(keySpec.keystep);
    out.bulk("limit");
    out.integer(keySpec.limit);
    return;
  }
  out.bulk("index");
  out.bulk("spec");
  out.mapHeader(1);
  out.bulk("index");
  out.integer(keySpec?.begin ?? spec.firstKey);
  out.bulk("find_keys");
  out.mapHeader(2);
  out.bulk("type");
  if (keySpec !== undefined && "keynumidx" in keySpec) {
    const { keynumidx, firstkey, keystep } = keySpec;
    out.bulk("keynum");
    out.bulk("spec");
    out.mapHeader(3);
    out.bulk("keynumidx");
    out.integer(keynumidx);
    out.bulk("firstkey");
    out.integer(firstkey);
    out.bulk("keystep");
    out.integer(keystep);
    return;
  }
  out.bulk("range");
  out.bulk("spec");
  out.mapHeader(3);
  out.bulk("lastkey");
  const range = keySpec !== undefined && "lastkey" in keySpec ? keySpec : undefined;
  out.integer(range?.lastkey ?? (spec.lastKey < 0 ? spec.lastKey : spec.lastKey - spec.firstKey));
  out.bulk("keystep");
  out.integer(range?.keystep ?? spec.step);
  out.bulk("limit");
  out.integer(0);
}

function commandDocsReply(ctx: CommandContext, spec: CommandSpec): void {
  const out = ctx.out;
  out.bulk(spec.name);
  out.mapHeader(spec.subcommands ? 3 : 2);
  out.bulk("summary");
  out.bulk(spec.summary);
  out.bulk("group");
  out.bulk(spec.group);
  if (spec.subcommands) {
    out.bulk("subcommands");
    out.mapHeader(spec.subcommands.length);
    for (const sub of spec.subcommands) commandDocsReply(ctx, sub);
  }
}

/** The server command family; COMMAND reads the table it belongs to. */
export function serverCommands(table: () => CommandTable): CommandSpec[] {
  const commandSub = (
    name: string,
    arity: number,
    summary: string,
    handler: CommandSpec["handler"],
  ) =>
    command({
      name: `command|${name}`,
      arity,
      flags: ["loading", "stale"],
      group: "server",
      categories: ["slow", "connection"],
      summary,
      handler,
    });
  const subcommands = [
    commandSub(
      "count",
      2,
      "Returns a count of commands.",
      (ctx) => ctx.out.integer(table().specs.length),
    ),
    commandSub("list", -2, "Returns a list of command names.", (ctx) => {
      ctx.out.arrayHeader(table().specs.length);
      for (const spec of table().specs) ctx.out.bulk(spec.name);
    }),
    commandSub(
      "info",
      -2,
      "Returns information about one, multiple or all commands.",
      (ctx, argv) => {
        const specs = argv.length > 2
          ? argv.slice(2).map((name) => table().lookup(name) ?? null)
          : table().specs;
        ctx.out.arrayHeader(specs.length);
        for (const spec of specs) spec === null ? ctx.out.nullArray() : commandInfoReply(ctx, spec);
      },
    ),
    commandSub(
      "getkeys",
      -4,
      "Extracts the key names from an arbitrary command.",
      (ctx, argv) => {
        if (argv.length < 4) throw new ReplyError(wrongArity("command|getkeys"));
        const parent = table().lookup(argv[2]);
        if (parent === undefined) throw new ReplyError("ERR Invalid command specified");
        const target = argv.slice(2);
        const spec = specFor(parent, target);
        if (spec === parent && parent.subcommands !== undefined) {
          throw new ReplyError("ERR Invalid command specified");
        }
        if (spec.arity > 0 ? target.length !== spec.arity : target.length < -spec.arity) {
          throw new ReplyError("ERR Invalid number of arguments specified for command");
        }
        const indices = keyIndices(spec, target);
        if (indices === null) throw new ReplyError("ERR Invalid arguments specified for command");
        // Channels (SPUBLISH's) route like keys but are not keys, as Redis's `not_key` spec says.
        if (indices.length === 0 && spec.flags.includes("no_mandatory_keys")) {
          ctx.out.arrayHeader(0);
          return;
        }
        if (indices.length === 0 || spec.channelKeys === true) {
          throw new ReplyError("ERR The command has no key arguments");
        }
        ctx.out.bulkArray(indices.map((i) => target[i]));
      },
    ),
    commandSub(
      "docs",
      -2,
      "Returns documentary information about one, multiple or all commands.",
      (ctx, argv) => {
        const specs = argv.length > 2
          ? argv.slice(2).map((name) => table().lookup(name)).filter((s) => s !== undefined)
          : table().specs;
        ctx.out.mapHeader(specs.length);
        for (const spec of specs) commandDocsReply(ctx, spec);
      },
    ),
  ];
  return [
    command({
      name: "ping",
      arity: -1,
      flags: ["fast", "stale"],
      group: "connection",
      summary: "Returns the server's liveliness response.",
      handler: ping,
    }),
    command({
      name: "echo",
      arity: 2,
      flags: ["fast"],
      group: "connection",
      summary: "Returns the given string.",
      handler: (ctx, argv) => ctx.out.bulk(argv[1]),
    }),
    command({
      name: "select",
      arity: 2,
      flags: ["fast", "loading", "stale"],
      group: "connection",
      summary: "Changes the selected store (by index, or by name as an extension).",
      handler: select,
    }),
    command({
      name: "quit",
      notQueued: true,
      needsConnection: true,
      arity: -1,
      flags: ["fast", "noauth", "loading", "stale", "allow_busy"],
      group: "connection",
      summary: "Closes the connection.",
      handler: (ctx) => {
        ctx.client.closeAfterReply = true;
        ctx.out.ok();
      },
    }),
    command({
      name: "dbsize",
      arity: 1,
      flags: ["readonly", "fast"],
      group: "server",
      categories: ["keyspace", "read", "fast"],
      summary: "Returns the number of keys in the selected store.",
      handler: (ctx) => ctx.out.integer(ctx.store.size),
    }),
    command({
      name: "flushdb",
      arity: -1,
      flags: ["write"],
      group: "server",
      categories: ["keyspace", "write", "slow", "dangerous"],
      summary: "Removes all keys from the selected store.",
      handler: (ctx, argv) => {
        flushOptions(argv);
        ctx.store.flush();
        ctx.out.ok();
      },
    }),
    command({
      name: "flushall",
      arity: -1,
      flags: ["write"],
      group: "server",
      categories: ["keyspace", "write", "slow", "dangerous"],
      summary: "Removes all keys from all stores.",
      handler: (ctx, argv) => {
        flushOptions(argv);
        for (const store of ctx.keyspace.stores) store.flush();
        ctx.out.ok();
      },
    }),
    command({
      name: "info",
      arity: -1,
      flags: ["loading", "stale"],
      group: "server",
      categories: ["slow", "dangerous"],
      summary: "Returns information and statistics about the server.",
      handler: (ctx, argv) => ctx.out.verbatim(ctx.server.info(argv.slice(1), ctx.client)),
    }),
    command({
      name: "command",
      arity: -1,
      flags: ["loading", "stale"],
      group: "server",
      categories: ["slow", "connection"],
      summary: "Returns detailed information about all commands.",
      handler: (ctx, argv) => {
        if (argv.length === 1) {
          ctx.out.arrayHeader(table().specs.length);
          for (const spec of table().specs) commandInfoReply(ctx, spec);
          return;
        }
        const sub = subcommands.find((s) => s.name === `command|${argv[1].toLowerCase()}`);
        if (sub === undefined) throw new ReplyError(unknownSubcommand(argv));
        if (sub.arity > 0 ? argv.length !== sub.arity : argv.length < -sub.arity) {
          throw new ReplyError(wrongArity(`command|${argv[1].toLowerCase()}`));
        }
        sub.handler(ctx, argv);
      },
      subcommands,
    }),
  ];
}
