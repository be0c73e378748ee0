/**
 * Hash commands.
 *
 * @module
 */
import { scanPositions } from "./_cursor.ts";
import { HashValue } from "../keyspace/hash.ts";
import type { Store } from "../keyspace/store.ts";
import {
  containerChanged,
  containerEntry,
  containerEntryOrCreate,
  parseScanArgs,
  randomBelow,
  scanReply,
} from "./_container.ts";
import { globMatch } from "./glob.ts";
import { parseLongDouble } from "./_long_double.ts";
import { parseInt64 } from "./args.ts";
import { NOT_FLOAT, NOT_INTEGER, OVERFLOW, ReplyError, SYNTAX, wrongArity } from "./errors.ts";
import { addFloatText, int64Arg } from "./strings.ts";
import { type CommandContext, type CommandSpec, oneKeySpec, withEvents } from "./types.ts";

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function readHash(store: Store, key: string): HashValue | undefined {
  return containerEntry(store, key, "hash")?.value as HashValue | undefined;
}

function hsetGeneric(reply: "count" | "ok") {
  return (ctx: CommandContext, argv: string[]): void => {
    if (argv.length % 2 !== 0) throw new ReplyError(wrongArity(argv[0].toLowerCase()));
    const entry = containerEntryOrCreate(ctx.store, argv[1], "hash", () => new HashValue());
    const hash = entry.value as HashValue;
    let created = 0;
    for (let i = 2; i < argv.length; i += 2) if (hash.set(argv[i], argv[i + 1])) created++;
    containerChanged(ctx.store, entry);
    if (reply === "count") ctx.out.integer(created);
    else ctx.out.ok();
  };
}

function hsetnx(ctx: CommandContext, argv: string[]): void {
  const [, key, field, value] = argv;
  const entry = containerEntryOrCreate(ctx.store, key, "hash", () => new HashValue());
  const hash = entry.value as HashValue;
  if (hash.get(field) !== undefined) return ctx.out.integer(0);
  hash.set(field, value);
  containerChanged(ctx.store, entry);
  ctx.out.integer(1);
}

function hget(ctx: CommandContext, argv: string[]): void {
  ctx.out.bulk(readHash(ctx.store, argv[1])?.get(argv[2]) ?? null);
}

function hmget(ctx: CommandContext, argv: string[]): void {
  const hash = readHash(ctx.store, argv[1]);
  ctx.out.arrayHeader(argv.length - 2);
  for (let i = 2; i < argv.length; i++) ctx.out.bulk(hash?.get(argv[i]) ?? null);
}

function hgetall(ctx: CommandContext, argv: string[]): void {
  const hash = readHash(ctx.store, argv[1]);
  if (hash === undefined) return ctx.out.mapHeader(0);
  const { keys, values } = hash.fields;
  ctx.out.mapHeader(keys.length);
  for (let i = 0; i < keys.length; i++) {
    ctx.out.bulk(keys[i]);
    ctx.out.bulk(values[i]);
  }
}

function hkeysOrValues(values: boolean) {
  return (ctx: CommandContext, argv: string[]): void => {
    const hash = readHash(ctx.store, argv[1]);
    ctx.out.bulkArray(hash === undefined ? [] : values ? hash.fields.values : hash.fields.keys);
  };
}

function hdel(ctx: CommandContext, argv: string[]): void {
  const entry = containerEntry(ctx.store, argv[1], "hash");
  if (entry === undefined) return ctx.out.integer(0);
  const hash = entry.value as HashValue;
  let deleted = 0;
  for (let i = 2; i < argv.length && hash.length > 0; i++) if (hash.delete(argv[i])) deleted++;
  if (deleted > 0) containerChanged(ctx.store, entry);
  ctx.out.integer(deleted);
}

function hexists(ctx: CommandContext, argv: string[]): void {
  ctx.out.integer(readHash(ctx.store, argv[1])?.get(argv[2]) === undefined ? 0 : 1);
}

function hlen(ctx: CommandContext, argv: string[]): void {
  ctx.out.integer(readHash(ctx.store, argv[1])?.length ?? 0);
}

function hstrlen(ctx: CommandContext, argv: string[]): void {
  ctx.out.integer(readHash(ctx.store, argv[1])?.get(argv[2])?.length ?? 0);
}

function hincrby(ctx: CommandContext, argv: string[]): void {
  const [, key, field] = argv;
  const increment = int64Arg(argv[3]);
  const entry = containerEntryOrCreate(ctx.store, key, "hash", () => new HashValue());
  const hash = entry.value as HashValue;
  const old = hash.get(field);
  const current = old === undefined ? 0n : parseInt64(old);
  if (current === null) throw new ReplyError("ERR hash value is not an integer");
  const result = current + increment;
  if (result < INT64_MIN || result > INT64_MAX) throw new ReplyError(OVERFLOW);
  hash.set(field, result.toString());
  containerChanged(ctx.store, entry);
  ctx.out.integer(result);
}

function hincrbyfloat(ctx: CommandContext, argv: string[]): void {
  const [, key, field, increment] = argv;
  // Redis rejects a non-finite increment before it looks at the key.
  const delta = parseLongDouble(increment);
  if (delta === null) throw new ReplyError(NOT_FLOAT);
  if (typeof delta === "number") throw new ReplyError("ERR value is NaN or Infinity");
  const entry = containerEntryOrCreate(ctx.store, key, "hash", () => new HashValue());
  const hash = entry.value as HashValue;
  const value = addFloatText(hash.get(field) ?? "0", increment, "ERR hash value is not a float");
  hash.set(field, value);
  containerChanged(ctx.store, entry);
  ctx.propagate(["HSET", key, field, value]);
  ctx.out.bulk(value);
}

/** Redis 7.0 returns a small (listpack) container whole, with cursor 0. */
function hscan(ctx: CommandContext, argv: string[]): void {
  const options = parseScanArgs(argv, 3, false);
  const hash = readHash(ctx.store, argv[1]);
  if (hash === undefined) return scanReply(ctx.out, 0, []);
  const { keys, values } = hash.fields;
  const small = hash.encoding() === "listpack";
  const { positions, next } = small
    ? { positions: keys.map((_, i) => i), next: 0 }
    : scanPositions(options.cursor, keys.length, options.count);
  const items: string[] = [];
  for (const position of positions) {
    if (options.pattern !== null && !globMatch(options.pattern, keys[position])) continue;
    items.push(keys[position], values[position]);
  }
  scanReply(ctx.out, next, items);
}

function hrandfield(ctx: CommandContext, argv: string[]): void {
  if (argv.length === 2) {
    const hash = readHash(ctx.store, argv[1]);
    if (hash === undefined) return ctx.out.nullReply();
    return ctx.out.bulk(hash.fields.keys[randomBelow(hash.length)]);
  }
  const count = parseInt64(argv[2]);
  if (count === null || count < -(2n ** 62n) || count > 2n ** 62n) {
    throw new ReplyError(count === null ? NOT_INTEGER : "ERR value is out of range");
  }
  if (argv.length > 4 || (argv.length === 4 && argv[3].toUpperCase() !== "WITHVALUES")) {
    throw new ReplyError(SYNTAX);
  }
  const withValues = argv.length === 4;
  const hash = readHash(ctx.store, argv[1]);
  if (hash === undefined || count === 0n) return ctx.out.arrayHeader(0);
  const positions = randomPositions(hash.length, count);
  const { keys, values } = hash.fields;
  const pairs = withValues && ctx.out.protocol === 3;
  ctx.out.arrayHeader(withValues && !pairs ? positions.length * 2 : positions.length);
  for (const position of positions) {
    if (pairs) ctx.out.arrayHeader(2);
    ctx.out.bulk(keys[position]);
    if (withValues) ctx.out.bulk(values[position]);
  }
}

/**
 * Positions for HRANDFIELD/SRANDMEMBER/ZRANDMEMBER-style counts: a positive count gives distinct
 * positions (all when it covers the container), a negative one `-count` positions with repeats.
 */
export function randomPositions(size: number, count: bigint): number[] {
  const positions: number[] = [];
  if (count < 0n) {
    for (let i = 0n; i < -count; i++) positions.push(randomBelow(size));
    return positions;
  }
  const all = Array.from({ length: size }, (_, i) => i);
  if (count >= BigInt(size)) return all;
  for (let i = 0; i < Number(count); i++) {
    const j = i + randomBelow(size - i);
    [all[i], all[j]] = [all[j], all[i]];
    positions.push(all[i]);
  }
  return positions;
}

const hashSpec = oneKeySpec("hash");

export const hashCommands: CommandSpec[] = [
  hashSpec(
    "hset",
    -4,
    ["write", "denyoom", "fast"],
    "Creates or modifies the value of a field in a hash.",
    hsetGeneric("count"),
  ),
  withEvents(
    hashSpec(
      "hmset",
      -4,
      ["write", "denyoom", "fast"],
      "Sets the values of multiple fields.",
      hsetGeneric("ok"),
    ),
    { name: "hset" },
  ),
  withEvents(
    hashSpec(
      "hsetnx",
      4,
      ["write", "denyoom", "fast"],
      "Sets the value of a field in a hash only when the field doesn't exist.",
      hsetnx,
    ),
    { name: "hset" },
  ),
  hashSpec("hget", 3, ["readonly", "fast"], "Returns the value of a field in a hash.", hget),
  hashSpec("hmget", -3, ["readonly", "fast"], "Returns the values of all fields in a hash.", hmget),
  hashSpec("hgetall", 2, ["readonly"], "Returns all fields and values in a hash.", hgetall),
  hashSpec("hkeys", 2, ["readonly"], "Returns all fields in a hash.", hkeysOrValues(false)),
  hashSpec("hvals", 2, ["readonly"], "Returns all values in a hash.", hkeysOrValues(true)),
  hashSpec(
    "hdel",
    -3,
    ["write", "fast"],
    "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.",
    hdel,
  ),
  hashSpec(
    "hexists",
    3,
    ["readonly", "fast"],
    "Determines whether a field exists in a hash.",
    hexists,
  ),
  hashSpec("hlen", 2, ["readonly", "fast"], "Returns the number of fields in a hash.", hlen),
  hashSpec(
    "hstrlen",
    3,
    ["readonly", "fast"],
    "Returns the length of the value of a field.",
    hstrlen,
  ),
  hashSpec(
    "hincrby",
    4,
    ["write", "denyoom", "fast"],
    "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.",
    hincrby,
  ),
  hashSpec(
    "hincrbyfloat",
    4,
    ["write", "denyoom", "fast"],
    "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.",
    hincrbyfloat,
  ),
  hashSpec("hscan", -3, ["readonly"], "Iterates over fields and values of a hash.", hscan),
  hashSpec(
    "hrandfield",
    -2,
    ["readonly"],
    "Returns one or more random fields from a hash.",
    hrandfield,
  ),
];
