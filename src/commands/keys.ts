/**
 * Generic key commands: existence, deletion, TTLs, types.
 *
 * @module
 */
import { scanPositions } from "./_cursor.ts";
import type { Store } from "../keyspace/store.ts";
import { typeName, type Value } from "../keyspace/values.ts";
import { parseScanArgs } from "./_container.ts";
import { globMatch } from "./glob.ts";
import { expiryMs, parseInt64 } from "./args.ts";
import {
  DB_OUT_OF_RANGE,
  invalidExpire,
  NO_SUCH_KEY,
  NOT_INTEGER,
  ReplyError,
  SYNTAX,
  unknownSubcommand,
  wrongArity,
} from "./errors.ts";
import { command, type CommandContext, type CommandSpec, withEvents } from "./types.ts";
import { copyEvents, moveKeyEvents, renameEvents } from "./events.ts";

function del(ctx: CommandContext, argv: string[]): void {
  let deleted = 0;
  for (let i = 1; i < argv.length; i++) if (ctx.store.delete(argv[i])) deleted++;
  ctx.out.integer(deleted);
}

function exists(ctx: CommandContext, argv: string[]): void {
  let count = 0;
  for (let i = 1; i < argv.length; i++) if (ctx.store.lookup(argv[i], false)) count++;
  ctx.out.integer(count);
}

type ExpireUnit = "s" | "ms" | "at-s" | "at-ms";

/** EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT with NX, XX, GT and LT (Redis 7). */
function expireGeneric(unit: ExpireUnit) {
  return (ctx: CommandContext, argv: string[]): void => {
    const [name, key, amount] = argv;
    const store = ctx.store;
    const now = store.now();
    const at = expiryMs(
      amount,
      unit === "s" || unit === "at-s",
      unit === "s" || unit === "ms",
      now,
    );
    if (at === undefined) throw new ReplyError(NOT_INTEGER);
    let nx = false, xx = false, gt = false, lt = false;
    for (let i = 3; i < argv.length; i++) {
      const option = argv[i].toUpperCase();
      if (option === "NX") nx = true;
      else if (option === "XX") xx = true;
      else if (option === "GT") gt = true;
      else if (option === "LT") lt = true;
      else throw new ReplyError(`ERR Unsupported option ${argv[i]}`);
    }
    if (nx && (xx || gt || lt)) {
      throw new ReplyError("ERR NX and XX, GT or LT options at the same time are not compatible");
    }
    if (gt && lt) throw new ReplyError("ERR GT and LT options at the same time are not compatible");
    // Redis checks the options first, then the time.
    if (at === null) throw new ReplyError(invalidExpire(name.toLowerCase()));
    const entry = store.lookup(key, false);
    if (entry === undefined) return ctx.out.integer(0);
    const current = entry.expiresAtMs;
    // A key without a TTL counts as an infinite TTL for GT and LT, as in Redis.
    if (
      (nx && current !== 0) || (xx && current === 0) ||
      (gt && (current === 0 || at <= current)) || (lt && current !== 0 && at >= current)
    ) {
      return ctx.out.integer(0);
    }
    if (at <= now) {
      store.removeEntry(entry);
      ctx.propagate(["DEL", key]);
    } else {
      store.setExpiry(entry, at);
      store.dirty++;
      ctx.propagate(["PEXPIREAT", key, String(at)]);
    }
    ctx.out.integer(1);
  };
}

function ttlGeneric(ms: boolean) {
  return (ctx: CommandContext, argv: string[]): void => {
    const entry = ctx.store.lookup(argv[1], false);
    if (entry === undefined) return ctx.out.integer(-2);
    if (entry.expiresAtMs === 0) return ctx.out.integer(-1);
    const remaining = Math.max(0, entry.expiresAtMs - ctx.store.now());
    ctx.out.integer(ms ? remaining : Math.floor((remaining + 500) / 1000));
  };
}

function expireTimeGeneric(ms: boolean) {
  return (ctx: CommandContext, argv: string[]): void => {
    const entry = ctx.store.lookup(argv[1], false);
    if (entry === undefined) return ctx.out.integer(-2);
    if (entry.expiresAtMs === 0) return ctx.out.integer(-1);
    ctx.out.integer(ms ? entry.expiresAtMs : Math.floor(entry.expiresAtMs / 1000));
  };
}

function persist(ctx: CommandContext, argv: string[]): void {
  const entry = ctx.store.lookup(argv[1], false);
  if (entry === undefined || entry.expiresAtMs === 0) return ctx.out.integer(0);
  ctx.store.setExpiry(entry, 0);
  ctx.store.dirty++;
  ctx.out.integer(1);
}

function type(ctx: CommandContext, argv: string[]): void {
  const entry = ctx.store.lookup(argv[1], false);
  ctx.out.simple(entry === undefined ? "none" : typeName(entry.value));
}

function keys(ctx: CommandContext, argv: string[]): void {
  const pattern = argv[1];
  const store = ctx.store;
  const now = store.now();
  const matched: string[] = [];
  for (const entry of store.entries) {
    if (entry.expiresAtMs !== 0 && entry.expiresAtMs <= now) continue;
    if (pattern === "*" || globMatch(pattern, entry.key)) matched.push(entry.key);
  }
  ctx.out.bulkArray(matched);
}

/**
 * SCAN walks `Store.entries` from the last position down to 0; the cursor is the number of
 * positions still to visit. Removal swaps the last entry into the hole, so an entry not yet
 * visited (below the cursor) only ever moves further down: every key present for the whole
 * scan is returned at least once, whatever is added or deleted in between.
 */
function scan(ctx: CommandContext, argv: string[]): void {
  const options = parseScanArgs(argv, 2, true);
  const store = ctx.store;
  const now = store.now();
  const { positions, next } = scanPositions(options.cursor, store.entries.length, options.count);
  const matched: string[] = [];
  // Expired keys are skipped, not deleted: a deletion here would move an unvisited entry.
  for (const position of positions) {
    const entry = store.entries[position];
    if (entry.expiresAtMs !== 0 && entry.expiresAtMs <= now) continue;
    if (options.pattern !== null && !globMatch(options.pattern, entry.key)) continue;
    if (options.type !== null && options.type.toLowerCase() !== typeName(entry.value)) continue;
    matched.push(entry.key);
  }
  ctx.out.arrayHeader(2);
  ctx.out.bulk(String(next));
  ctx.out.bulkArray(matched);
}

/** Stores `value` at `key` with exactly `expiresAtMs` (0: none, even with a store default TTL). */
function place(store: Store, key: string, value: Value, expiresAtMs: number): void {
  const entry = store.set(key, value, expiresAtMs);
  if (expiresAtMs === 0 && entry.expiresAtMs !== 0) store.setExpiry(entry, 0);
}

/** Tells blocked clients about a list, sorted set or stream that arrived at `key` by RENAME or
 * COPY. */
function signalList(ctx: CommandContext, store: Store, key: string, value: Value): void {
  const type = typeof value === "string" ? "string" : value.type;
  if (type === "list" || type === "zset" || type === "stream") {
    ctx.server.keyReady?.(store, key);
  }
}

function renameGeneric(onlyNew: boolean) {
  return (ctx: CommandContext, argv: string[]): void => {
    const [, source, destination] = argv;
    const store = ctx.store;
    const entry = store.lookup(source, false);
    if (entry === undefined) throw new ReplyError(NO_SUCH_KEY);
    if (source === destination) return onlyNew ? ctx.out.integer(0) : ctx.out.ok();
    if (store.lookup(destination, false) !== undefined) {
      if (onlyNew) return ctx.out.integer(0);
      store.delete(destination);
    }
    const { value, expiresAtMs } = entry;
    store.removeEntry(entry);
    place(store, destination, value, expiresAtMs);
    signalList(ctx, store, destination, value);
    if (onlyNew) ctx.out.integer(1);
    else ctx.out.ok();
  };
}

function randomkey(ctx: CommandContext): void {
  ctx.out.bulk(ctx.store.randomEntry()?.key ?? null);
}

function touch(ctx: CommandContext, argv: string[]): void {
  let count = 0;
  for (let i = 1; i < argv.length; i++) if (ctx.store.lookup(argv[i])) count++;
  ctx.out.integer(count);
}

/** Whether a client blocked on a key can be served by `value` (a list, sorted set or stream). */
function wakes(value: Value): boolean {
  return typeof value !== "string" &&
    (value.type === "list" || value.type === "zset" || value.type === "stream");
}

/** A store's index as Redis's `getIntFromObjectOrReply` reads it: an integer that fits 32 bits. */
function dbIndexArg(text: string, error?: string): number {
  const value = parseInt64(text);
  if (value === null) throw new ReplyError(error ?? NOT_INTEGER);
  if (value < -(2n ** 31n) || value >= 2n ** 31n) {
    throw new ReplyError(
      error ?? "ERR value is out of range, value must between -2147483648 and 2147483647",
    );
  }
  return Number(value);
}

/** The store at `index`, or Redis's out-of-range error. */
function storeAt(ctx: CommandContext, index: number): Store {
  if (index < 0 || index >= ctx.keyspace.stores.length) throw new ReplyError(DB_OUT_OF_RANGE);
  return ctx.keyspace.store(index);
}

/**
 * With persistence on, a key may not cross between a store that persists and one that does
 * not, nor be moved from a store that does not: the AOF could not replay the move.
 */
function checkPersisted(ctx: CommandContext, name: string, stores: Store[]): void {
  if (ctx.server.persistence === undefined) return;
  const persist = stores[0].options.persist;
  if (stores.some((store) => store.options.persist !== persist)) {
    throw new ReplyError(
      `ERR ${name} between a store that persists and one that does not would not replay from the AOF`,
    );
  }
}

/** MOVE key db: the key, its TTL and access data go to another store, if it lacks the key. */
function move(ctx: CommandContext, argv: string[]): void {
  if (ctx.server.cluster !== undefined) {
    throw new ReplyError("ERR MOVE is not allowed in cluster mode");
  }
  const [, key, db] = argv;
  const source = ctx.store;
  const target = storeAt(ctx, dbIndexArg(db));
  if (target === source) throw new ReplyError("ERR source and destination objects are the same");
  const entry = source.lookup(key);
  if (entry === undefined) return ctx.out.integer(0);
  if (target.lookup(key, false) !== undefined) return ctx.out.integer(0);
  checkPersisted(ctx, "MOVE", [source, target]);
  const { value, expiresAtMs, access } = entry;
  const sameKind = source.options.evictionPolicy.endsWith("-lfu") ===
    target.options.evictionPolicy.endsWith("-lfu");
  const sourceEpochMs = source.epochMs;
  source.removeEntry(entry);
  place(target, key, value, expiresAtMs);
  // Redis moves the object itself, with its LRU clock or LFU counter.
  const moved = sameKind ? target.lookup(key, false) : undefined;
  if (moved !== undefined) {
    const shiftMs = sourceEpochMs - target.epochMs;
    moved.access = target.options.evictionPolicy.endsWith("-lfu")
      ? access + Math.round(shiftMs / 60_000) * 256
      : access + shiftMs;
  }
  if (wakes(value)) ctx.server.keyReady?.(target, key);
  ctx.out.integer(1);
}

/**
 * SWAPDB index1 index2: the two stores exchange their keys (settings stay where they are);
 * clients watching keys in either are told, and clients blocked on keys either store now holds
 * are served.
 */
function swapdb(ctx: CommandContext, argv: string[]): void {
  if (ctx.server.cluster !== undefined) {
    throw new ReplyError("ERR SWAPDB is not allowed in cluster mode");
  }
  const first = dbIndexArg(argv[1], "ERR invalid first DB index");
  const second = dbIndexArg(argv[2], "ERR invalid second DB index");
  const a = storeAt(ctx, first);
  const b = storeAt(ctx, second);
  checkPersisted(ctx, "SWAPDB", [a, b, ctx.store]);
  a.swapData(b);
  // Logged (and so replayed) even when nothing moved, as Redis counts every SWAPDB a change.
  ctx.store.dirty++;
  const blockedKeys = ctx.server.blockedKeys;
  if (blockedKeys !== undefined && ctx.server.keyReady !== undefined) {
    for (const store of a === b ? [a] : [a, b]) {
      for (const key of blockedKeys(store.index)) {
        const entry = store.lookup(key, false);
        if (entry !== undefined && wakes(entry.value)) ctx.server.keyReady(store, key);
      }
    }
  }
  ctx.out.ok();
}

function copy(ctx: CommandContext, argv: string[]): void {
  const [, source, destination] = argv;
  let replace = false;
  let target = ctx.store;
  for (let i = 3; i < argv.length; i++) {
    const option = argv[i].toUpperCase();
    if (option === "REPLACE") replace = true;
    else if (option === "DB" && i + 1 < argv.length) {
      const index = parseInt64(argv[++i]);
      if (index === null) throw new ReplyError(NOT_INTEGER);
      const store = index >= 0n && index < BigInt(ctx.keyspace.stores.length)
        ? ctx.keyspace.store(Number(index))
        : undefined;
      if (store === undefined) throw new ReplyError(DB_OUT_OF_RANGE);
      target = store;
    } else throw new ReplyError(SYNTAX);
  }
  if (target === ctx.store && source === destination) {
    throw new ReplyError("ERR source and destination objects are the same");
  }
  const entry = ctx.store.read(source);
  if (entry === undefined) return ctx.out.integer(0);
  if (target.lookup(destination, false) !== undefined) {
    if (!replace) return ctx.out.integer(0);
    target.delete(destination);
  }
  const held = entry.value;
  const value = typeof held === "string" ? held : held.clone();
  place(target, destination, value, entry.expiresAtMs);
  signalList(ctx, target, destination, value);
  ctx.out.integer(1);
}

/** Redis 7.0's OBJECT ENCODING for a string. */
export function stringEncoding(value: string): string {
  if (value.length <= 20 && parseInt64(value) !== null) return "int";
  return value.length <= 44 ? "embstr" : "raw";
}

/** Redis's refcount of its shared integer objects (0 to 9999). */
const SHARED_REFCOUNT = 2147483647;

/**
 * OBJECT REFCOUNT as Redis 7.0 counts: a string holding an integer from 0 to 9999 is one of its
 * shared objects, unless a memory limit with an LRU or LFU policy is on (those need an object
 * per key); every other value has one reference. (Redis decides when the value is written; here
 * it is read off the store's settings now.)
 */
export function refcount(store: Store, value: Value): number {
  if (typeof value !== "string" || !/^\d{1,4}$/.test(value) || stringEncoding(value) !== "int") {
    return 1;
  }
  const owner = store.memoryPool?.[0] ?? store;
  const policy = store.options.evictionPolicy;
  const perKey = owner.options.maxMemoryBytes !== 0 &&
    (policy.endsWith("-lru") || policy.endsWith("-lfu"));
  return perKey ? 1 : SHARED_REFCOUNT;
}

const LFU_POLICIES = new Set(["allkeys-lfu", "volatile-lfu"]);
const POLICY_SWITCH_NOTE =
  "Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";

const OBJECT_HELP = [
  "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "ENCODING <key>",
  "    Return the kind of internal representation used in order to store the value",
  "    associated with a <key>.",
  "FREQ <key>",
  "    Return the access frequency index of the <key>. The returned integer is",
  "    proportional to the logarithm of the recent access frequency of the key.",
  "IDLETIME <key>",
  "    Return the idle time of the <key>, that is the approximated number of",
  "    seconds elapsed since the last access to the key.",
  "REFCOUNT <key>",
  "    Return the number of references of the value associated with the specified",
  "    <key>.",
  "HELP",
  "    Prints this help.",
];

function objectSub(
  name: string,
  arity: number,
  handler: CommandSpec["handler"],
  summary: string,
): CommandSpec {
  const keyed = arity === 3;
  return command({
    name: `object|${name}`,
    arity,
    flags: keyed ? ["readonly"] : ["loading", "stale"],
    firstKey: keyed ? 2 : 0,
    lastKey: keyed ? 2 : 0,
    step: keyed ? 1 : 0,
    group: "generic",
    summary,
    handler,
  });
}

const objectSubcommands: CommandSpec[] = [
  objectSub("encoding", 3, (ctx, argv) => {
    const entry = ctx.store.lookup(argv[2], false);
    if (entry === undefined) return ctx.out.nullReply();
    const value = entry.value;
    ctx.out.bulk(typeof value === "string" ? stringEncoding(value) : value.encoding());
  }, "Returns the internal encoding of a Redis object."),
  objectSub("freq", 3, (ctx, argv) => {
    const entry = ctx.store.lookup(argv[2], false);
    if (entry === undefined) return ctx.out.nullReply();
    if (!LFU_POLICIES.has(ctx.store.options.evictionPolicy)) {
      throw new ReplyError(
        `ERR An LFU maxmemory policy is not selected, access frequency not tracked. ${POLICY_SWITCH_NOTE}`,
      );
    }
    ctx.out.integer(ctx.store.frequency(entry));
  }, "Returns the logarithmic access frequency counter of a Redis object."),
  objectSub("idletime", 3, (ctx, argv) => {
    const entry = ctx.store.lookup(argv[2], false);
    if (entry === undefined) return ctx.out.nullReply();
    if (LFU_POLICIES.has(ctx.store.options.evictionPolicy)) {
      throw new ReplyError(
        `ERR An LFU maxmemory policy is selected, idle time not tracked. ${POLICY_SWITCH_NOTE}`,
      );
    }
    ctx.out.integer(Math.floor(ctx.store.idleMs(entry) / 1000));
  }, "Returns the time since the last access to a Redis object."),
  objectSub("refcount", 3, (ctx, argv) => {
    const entry = ctx.store.lookup(argv[2], false);
    if (entry === undefined) return ctx.out.nullReply();
    ctx.out.integer(refcount(ctx.store, entry.value));
  }, "Returns the reference count of a value of a key."),
  objectSub("help", 2, (ctx) => {
    ctx.out.arrayHeader(OBJECT_HELP.length);
    for (const line of OBJECT_HELP) ctx.out.simple(line);
  }, "Returns helpful text about the different subcommands."),
];

function object(ctx: CommandContext, argv: string[]): void {
  const name = `object|${argv[1].toLowerCase()}`;
  const sub = objectSubcommands.find((spec) => spec.name === name);
  if (sub === undefined) throw new ReplyError(unknownSubcommand(argv));
  if (sub.arity > 0 ? argv.length !== sub.arity : argv.length < -sub.arity) {
    throw new ReplyError(wrongArity(name));
  }
  sub.handler(ctx, argv);
}

const oneKey = { firstKey: 1, lastKey: 1, step: 1, group: "generic" } as const;
const allKeys = { firstKey: 1, lastKey: -1, step: 1, group: "generic" } as const;

function expireSpec(name: string, unit: ExpireUnit, summary: string): CommandSpec {
  return command({
    name,
    arity: -3,
    flags: ["write", "fast"],
    ...oneKey,
    summary,
    handler: expireGeneric(unit),
  });
}

export const keyCommands: CommandSpec[] = [
  withEvents(
    command({
      name: "del",
      arity: -2,
      flags: ["write"],
      ...allKeys,
      summary: "Deletes one or more keys.",
      handler: del,
    }),
    { kind: "delete" },
  ),
  command({
    name: "exists",
    arity: -2,
    flags: ["readonly", "fast"],
    ...allKeys,
    summary: "Determines whether one or more keys exist.",
    handler: exists,
  }),
  withEvents(expireSpec("expire", "s", "Sets the expiration time of a key in seconds."), {
    kind: "expire",
  }),
  withEvents(expireSpec("pexpire", "ms", "Sets the expiration time of a key in milliseconds."), {
    name: "expire",
    kind: "expire",
  }),
  withEvents(
    expireSpec("expireat", "at-s", "Sets the expiration time of a key to a Unix timestamp."),
    { name: "expire", kind: "expire" },
  ),
  withEvents(
    expireSpec(
      "pexpireat",
      "at-ms",
      "Sets the expiration time of a key to a Unix milliseconds timestamp.",
    ),
    { name: "expire", kind: "expire" },
  ),
  command({
    name: "ttl",
    arity: 2,
    flags: ["readonly", "fast"],
    ...oneKey,
    summary: "Returns the expiration time in seconds of a key.",
    handler: ttlGeneric(false),
  }),
  command({
    name: "pttl",
    arity: 2,
    flags: ["readonly", "fast"],
    ...oneKey,
    summary: "Returns the expiration time in milliseconds of a key.",
    handler: ttlGeneric(true),
  }),
  command({
    name: "expiretime",
    arity: 2,
    flags: ["readonly", "fast"],
    ...oneKey,
    summary: "Returns the expiration time of a key as a Unix timestamp.",
    handler: expireTimeGeneric(false),
  }),
  command({
    name: "pexpiretime",
    arity: 2,
    flags: ["readonly", "fast"],
    ...oneKey,
    summary: "Returns the expiration time of a key as a Unix milliseconds timestamp.",
    handler: expireTimeGeneric(true),
  }),
  command({
    name: "persist",
    arity: 2,
    flags: ["write", "fast"],
    ...oneKey,
    summary: "Removes the expiration time of a key.",
    handler: persist,
  }),
  command({
    name: "type",
    arity: 2,
    flags: ["readonly", "fast"],
    ...oneKey,
    summary: "Determines the type of value stored at a key.",
    handler: type,
  }),
  command({
    name: "keys",
    arity: 2,
    flags: ["readonly"],
    group: "generic",
    categories: ["keyspace", "read", "slow", "dangerous"],
    summary: "Returns all key names that match a pattern.",
    handler: keys,
  }),
  command({
    name: "scan",
    arity: -2,
    flags: ["readonly"],
    group: "generic",
    summary: "Iterates over the key names in the database.",
    handler: scan,
  }),
  withEvents(
    command({
      name: "rename",
      arity: 3,
      flags: ["write"],
      firstKey: 1,
      lastKey: 2,
      step: 1,
      group: "generic",
      summary: "Renames a key and overwrites the destination.",
      handler: renameGeneric(false),
    }),
    { custom: renameEvents },
  ),
  withEvents(
    command({
      name: "renamenx",
      arity: 3,
      flags: ["write", "fast"],
      firstKey: 1,
      lastKey: 2,
      step: 1,
      group: "generic",
      summary: "Renames a key only when the target key name doesn't exist.",
      handler: renameGeneric(true),
    }),
    { custom: renameEvents },
  ),
  command({
    name: "randomkey",
    arity: 1,
    flags: ["readonly"],
    group: "generic",
    summary: "Returns a random key name from the database.",
    handler: randomkey,
  }),
  withEvents(
    command({
      name: "unlink",
      arity: -2,
      flags: ["write", "fast"],
      ...allKeys,
      summary: "Asynchronously deletes one or more keys.",
      handler: del,
    }),
    { name: "del", kind: "delete" },
  ),
  command({
    name: "touch",
    arity: -2,
    flags: ["readonly", "fast"],
    ...allKeys,
    summary:
      "Returns the number of existing keys out of those specified after updating the time they were last accessed.",
    handler: touch,
  }),
  withEvents(
    command({
      name: "copy",
      arity: -3,
      flags: ["write", "denyoom"],
      firstKey: 1,
      lastKey: 2,
      step: 1,
      group: "generic",
      summary: "Copies the value of a key to a new key.",
      handler: copy,
    }),
    { custom: copyEvents },
  ),
  withEvents(
    command({
      name: "move",
      arity: 3,
      flags: ["write", "fast"],
      ...oneKey,
      summary: "Moves a key to another database.",
      handler: move,
    }),
    { custom: moveKeyEvents },
  ),
  command({
    name: "swapdb",
    arity: 3,
    flags: ["write", "fast"],
    group: "server",
    categories: ["keyspace", "write", "fast", "dangerous"],
    summary: "Swaps two Redis databases.",
    handler: swapdb,
  }),
  command({
    name: "object",
    arity: -2,
    flags: [],
    group: "generic",
    categories: ["slow"],
    summary: "A container for object introspection commands.",
    handler: object,
    subcommands: objectSubcommands,
  }),
];
