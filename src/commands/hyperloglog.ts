/**
 * HyperLogLog commands: PFADD, PFCOUNT, PFMERGE and PFDEBUG, over string values in Redis's own
 * format (`keyspace/hyperloglog.ts`): a value copied between this node and redis-server with
 * GET and SET counts the same on both, and the same PFADDs build the same bytes.
 *
 * As in Redis: PFADD and PFMERGE raise the `pfadd` event (string class) and are logged as they
 * came in (PFMERGE always, PFADD when a register grew); PFCOUNT is a read, which may still write
 * the count it computed into the value's cache (see `pfcount`).
 *
 * Where this differs from redis-server 7.0, on purpose: `PFMERGE dest` alone has its key, so a
 * cluster routes it to the destination's slot (Redis's two key specs find no key there, and its
 * COMMAND GETKEYS answers "Invalid arguments"); and a PFADD that meets corrupt opcodes changes
 * nothing (Redis keeps, unlogged, the registers it set before it met them).
 *
 * @module
 */
import { forgetSource, noteSource } from "../_latin1.ts";
import {
  cardinalityReply,
  countRegisters,
  HLL_DENSE,
  HLL_REGISTERS,
  HLL_SPARSE,
  HyperLogLog,
} from "../keyspace/hyperloglog.ts";
import type { Entry, Store } from "../keyspace/store.ts";
import type { AclCategory } from "./acl.ts";
import { ReplyError, WRONGTYPE } from "./errors.ts";
import type { EventRule } from "./events.ts";
import type {
  CommandContext,
  CommandFlag,
  CommandHandler,
  CommandSpec,
  KeyPositions,
} from "./types.ts";

/** A string value that is not a HyperLogLog (Redis's text, with its own WRONGTYPE code). */
export const NOT_HLL = "WRONGTYPE Key is not a valid HyperLogLog string value.";
/** A HyperLogLog whose sparse opcodes do not cover exactly every register. */
export const CORRUPT_HLL = "INVALIDOBJ Corrupted HLL object detected";

/** The value being worked on, one buffer for every command (a dense value is 12 KB). */
const sketch = new HyperLogLog();
/** The union's registers, one per byte (PFCOUNT of several keys, PFMERGE). */
const union = new Uint8Array(HLL_REGISTERS);

/** Loads the value of `entry` into `sketch`; WRONGTYPE for another type or a string that is
 * not a HyperLogLog. */
function load(entry: Entry): void {
  const length = entry.stringLength();
  if (length < 0) throw new ReplyError(WRONGTYPE);
  entry.copyString(sketch.prepare(length), 0);
  if (!sketch.isValid()) throw new ReplyError(NOT_HLL);
}

/** Stores `sketch` at `key` (`entry` when the key exists; a new key gets no TTL of its own). */
function save(store: Store, key: string, entry: Entry | undefined): void {
  const value = sketch.toLatin1();
  // The store copies these bytes rather than encoding the string back (it is not ASCII).
  noteSource(value, sketch.bytes, 0);
  try {
    if (entry === undefined) store.set(key, value, 0);
    else store.replace(entry, value);
  } finally {
    forgetSource();
  }
}

function pfadd(ctx: CommandContext, argv: string[]): void {
  const store = ctx.store;
  const key = argv[1];
  const entry = store.lookup(key);
  let updated = 0;
  if (entry === undefined) {
    sketch.loadEmpty();
    updated = 1;
  } else load(entry);
  for (let i = 2; i < argv.length; i++) {
    const result = sketch.add(argv[i]);
    if (result < 0) throw new ReplyError(CORRUPT_HLL);
    updated |= result;
  }
  if (updated !== 0) {
    sketch.invalidateCache();
    save(store, key, entry);
  }
  ctx.out.integer(updated);
}

/** Merges the HyperLogLogs at `argv[1..]` into `union` (absent keys are empty ones); returns
 * whether one of them is dense. */
function mergeAll(store: Store, argv: string[]): boolean {
  union.fill(0);
  let dense = false;
  for (let i = 1; i < argv.length; i++) {
    const entry = store.read(argv[i]);
    if (entry === undefined) continue;
    load(entry);
    if (sketch.encoding === HLL_DENSE) dense = true;
    if (!sketch.mergeInto(union)) throw new ReplyError(CORRUPT_HLL);
  }
  return dense;
}

/**
 * One key: the cached count, or the count computed and cached. As in Redis the cache is part of
 * the value, so GET shows it; it is written in place, the way Redis changes it under a
 * read-only command: the key's version, WATCH and the AOF are not told (Redis logs the PFCOUNT;
 * here a replay or a replica has the cache still to fill, and its first PFCOUNT computes the
 * same count). Several keys: the count of their union, changing nothing.
 */
function pfcount(ctx: CommandContext, argv: string[]): void {
  const store = ctx.store;
  if (argv.length > 2) {
    mergeAll(store, argv);
    return ctx.out.integer(cardinalityReply(countRegisters(union)));
  }
  const entry = store.read(argv[1]);
  if (entry === undefined) return ctx.out.integer(0);
  load(entry);
  const cached = sketch.cachedCardinality();
  if (cached !== -1) return ctx.out.integer(cached);
  const estimate = sketch.count();
  if (estimate < 0) throw new ReplyError(CORRUPT_HLL);
  sketch.cacheCardinality(estimate);
  const value = sketch.toLatin1();
  noteSource(value, sketch.bytes, 0);
  try {
    entry.value = value; // the same length: the same slot and accounted bytes
  } finally {
    forgetSource();
  }
  ctx.out.integer(cardinalityReply(estimate));
}

/** Redis 7.0: the destination may be absent (it is made), and counts as one of the sources. */
function pfmerge(ctx: CommandContext, argv: string[]): void {
  const store = ctx.store;
  const dense = mergeAll(store, argv);
  const key = argv[1];
  const entry = store.lookup(key);
  if (entry === undefined) sketch.loadEmpty();
  else load(entry);
  if (dense && !sketch.toDense()) throw new ReplyError(CORRUPT_HLL);
  for (let i = 0; i < HLL_REGISTERS; i++) {
    const value = union[i];
    if (value !== 0) sketch.set(i, value);
  }
  sketch.invalidateCache();
  // A write even when nothing grew: Redis logs and notifies every PFMERGE.
  save(store, key, entry);
  ctx.out.ok();
}

/** PFDEBUG GETREG | DECODE | ENCODING | TODENSE key. */
function pfdebug(ctx: CommandContext, argv: string[]): void {
  const [, subcommand, key] = argv;
  const store = ctx.store;
  const entry = store.lookup(key);
  if (entry === undefined) throw new ReplyError("ERR The specified key does not exist");
  load(entry);
  const out = ctx.out;
  switch (subcommand.toLowerCase()) {
    case "getreg": {
      // Redis makes the value dense first, and logs that as a change.
      if (sketch.encoding === HLL_SPARSE) {
        if (!sketch.toDense()) throw new ReplyError(CORRUPT_HLL);
        save(store, key, entry);
      }
      out.arrayHeader(HLL_REGISTERS);
      for (let i = 0; i < HLL_REGISTERS; i++) out.integer(sketch.register(i));
      return;
    }
    case "decode":
      if (sketch.encoding !== HLL_SPARSE) throw new ReplyError("ERR HLL encoding is not sparse");
      return out.bulk(sketch.decodeSparse());
    case "encoding":
      return out.simple(sketch.encoding === HLL_DENSE ? "dense" : "sparse");
    case "todense": {
      const converted = sketch.encoding === HLL_SPARSE;
      if (converted) {
        if (!sketch.toDense()) throw new ReplyError(CORRUPT_HLL);
        save(store, key, entry);
      }
      return out.integer(converted ? 1 : 0);
    }
    default:
      // Redis's formatted errors have each CR and LF as a space.
      throw new ReplyError(
        `ERR Unknown PFDEBUG subcommand '${subcommand.replace(/[\r\n]/g, " ")}'`,
      );
  }
}

/** The `pfadd` event on the first key: what PFADD and PFMERGE raise in Redis. */
const PFADD_EVENT: EventRule = { custom: (argv) => [["$", "pfadd", argv[1]]] };
/** PFDEBUG raises none (it changes only the encoding). */
const NO_EVENTS: EventRule = { custom: () => [] };

/** One command of the family, with Redis's ACL categories written out (the family is not one
 * of those `deriveCategories` knows). */
function hllSpec(
  name: string,
  arity: number,
  flags: CommandFlag[],
  keys: KeyPositions,
  categories: AclCategory[],
  summary: string,
  handler: CommandHandler,
  events?: EventRule,
): CommandSpec {
  const [firstKey, lastKey, step] = keys;
  const spec: CommandSpec = {
    name,
    arity,
    flags,
    firstKey,
    lastKey,
    step,
    group: "hyperloglog",
    categories,
    summary,
    handler,
  };
  return events === undefined ? spec : { ...spec, events };
}

/** Flags, key positions and categories as redis-server 7.0's COMMAND INFO gives them. */
export const hyperloglogCommands: CommandSpec[] = [
  hllSpec(
    "pfadd",
    -2,
    ["write", "denyoom", "fast"],
    [1, 1, 1],
    ["write", "hyperloglog", "fast"],
    "Adds the specified elements to the specified HyperLogLog.",
    pfadd,
    PFADD_EVENT,
  ),
  hllSpec(
    "pfcount",
    -2,
    ["readonly"],
    [1, -1, 1],
    ["read", "hyperloglog", "slow"],
    "Return the approximated cardinality of the set(s) observed by the HyperLogLog at key(s).",
    pfcount,
  ),
  hllSpec(
    "pfmerge",
    -2,
    ["write", "denyoom"],
    [1, -1, 1],
    ["write", "hyperloglog", "slow"],
    "Merge N different HyperLogLogs into a single one.",
    pfmerge,
    PFADD_EVENT,
  ),
  hllSpec(
    "pfdebug",
    3,
    ["write", "denyoom", "admin"],
    [2, 2, 1],
    ["write", "hyperloglog", "admin", "slow", "dangerous"],
    "Internal commands for debugging HyperLogLog values",
    pfdebug,
    NO_EVENTS,
  ),
];
