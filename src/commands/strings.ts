/**
 * String commands.
 *
 * @module
 */
import { DEFAULT_MAX_BULK_BYTES, effectiveMaxBulkBytes } from "../constants.ts";
import type { Entry, Store } from "../keyspace/store.ts";
import { addLongDouble, formatLongDouble, parseLongDouble } from "./_long_double.ts";
import { expiryMs, parseInt64, parseSafeInteger } from "./args.ts";
import {
  invalidExpire,
  NOT_FLOAT,
  NOT_INTEGER,
  OVERFLOW,
  ReplyError,
  SYNTAX,
  wrongArity,
  WRONGTYPE,
} from "./errors.ts";
import {
  command,
  type CommandContext,
  type CommandSpec,
  familySpec,
  KEY_ONE,
  KEY_TWO,
  withEvents,
} from "./types.ts";
import { getexEvents, setEvents } from "./events.ts";

/** The entry of the string at `key`, undefined when absent; WRONGTYPE for another type. */
function readStringEntry(store: Store, key: string): Entry | undefined {
  const entry = store.read(key);
  if (entry !== undefined && entry.stringLength() < 0) throw new ReplyError(WRONGTYPE);
  return entry;
}

/** The string value at `key`, null when absent; WRONGTYPE for another type. */
export function readString(store: Store, key: string): string | null {
  return (readStringEntry(store, key)?.value as string | undefined) ?? null;
}

/**
 * Turns a relative or absolute expiry argument into absolute Unix ms, with Redis's checks:
 * a non-positive or overflowing time is `invalid expire time`.
 */
export function absoluteExpiry(
  name: string,
  unit: "EX" | "PX" | "EXAT" | "PXAT",
  text: string,
  nowMs: number,
): number {
  // Any 64-bit integer is a number to Redis; a non-positive one, or one whose time overflows
  // 64 bits, is an invalid time.
  const relative = unit === "EX" || unit === "PX";
  const absolute = expiryMs(text, unit === "EX" || unit === "EXAT", relative, nowMs);
  if (absolute === undefined) throw new ReplyError("ERR value is not an integer or out of range");
  if (absolute === null || absolute - (relative ? nowMs : 0) <= 0) {
    throw new ReplyError(invalidExpire(name));
  }
  return absolute;
}

function get(ctx: CommandContext, argv: string[]): void {
  const entry = ctx.store.read(argv[1]);
  if (entry === undefined) return ctx.out.nullReply();
  if (entry.stringLength() < 0) throw new ReplyError(WRONGTYPE);
  // Copied from where the value is kept, without making a string of it.
  ctx.out.bulkFrom(entry);
}

const EXPIRY_OPTIONS = new Set(["EX", "PX", "EXAT", "PXAT"]);

function set(ctx: CommandContext, argv: string[]): void {
  const [, key, value] = argv;
  let condition: "" | "NX" | "XX" = "";
  let returnOld = false;
  let keepTtl = false;
  let expiry: { unit: "EX" | "PX" | "EXAT" | "PXAT"; text: string } | null = null;
  for (let i = 3; i < argv.length; i++) {
    const option = argv[i].toUpperCase();
    if ((option === "NX" || option === "XX") && condition === "") condition = option;
    else if (option === "GET" && !returnOld) returnOld = true;
    else if (option === "KEEPTTL" && expiry === null && !keepTtl) keepTtl = true;
    else if (EXPIRY_OPTIONS.has(option) && expiry === null && !keepTtl && i + 1 < argv.length) {
      expiry = { unit: option as "EX", text: argv[++i] };
    } else throw new ReplyError(SYNTAX);
  }
  const store = ctx.store;
  const now = store.now();
  const expiresAtMs = expiry ? absoluteExpiry("set", expiry.unit, expiry.text, now) : 0;
  // Plain SET needs nothing of the old value: one probe of the key table, in `store.write`.
  const looksUp = condition !== "" || returnOld;
  const existing = looksUp ? store.lookup(key) : undefined;
  let old: string | null = null;
  if (returnOld && existing !== undefined) {
    const value = existing.value;
    if (typeof value !== "string") throw new ReplyError(WRONGTYPE);
    old = value;
  }
  const blocked = (condition === "NX" && existing !== undefined) ||
    (condition === "XX" && existing === undefined);
  if (!blocked) {
    // Without the lookup, `write` counts the overwrite as the key's access.
    const at = keepTtl ? undefined : expiresAtMs;
    const entry = looksUp ? store.set(key, value, at) : store.write(key, value, at);
    // The TTL the key ended with (from EX/PX, KEEPTTL or the store's default TTL) is logged as an
    // absolute time, so a replay gives the same expiry.
    if (entry.expiresAtMs !== 0 || returnOld || keepTtl) {
      const logged = ["SET", key, value];
      if (entry.expiresAtMs !== 0) logged.push("PXAT", String(entry.expiresAtMs));
      ctx.propagate(logged);
      store.defaultTtlKeys.length = 0; // the entry above carries the expiry
    }
  }
  if (returnOld) ctx.out.bulk(old);
  else if (blocked) ctx.out.nullReply();
  else ctx.out.ok();
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** The longest string a command may build here (a hook-less dispatcher: the defaults). */
export function maxStringBytes(ctx: CommandContext): number {
  return ctx.server.maxStringBytes ?? effectiveMaxBulkBytes(DEFAULT_MAX_BULK_BYTES);
}

/** Redis's `checkStringLength`: a string may not grow past `proto-max-bulk-len`, nor past what
 * the runtime can hold. */
function checkStringLength(ctx: CommandContext, sizeBytes: number, appendBytes: number): void {
  if (sizeBytes + appendBytes > maxStringBytes(ctx)) {
    throw new ReplyError("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
  }
}

/** A signed 64-bit argument, with Redis's integer error. */
export function int64Arg(text: string): bigint {
  const value = parseInt64(text);
  if (value === null) throw new ReplyError(NOT_INTEGER);
  return value;
}

function append(ctx: CommandContext, argv: string[]): void {
  const [, key, suffix] = argv;
  const old = readString(ctx.store, key);
  if (old !== null) checkStringLength(ctx, old.length, suffix.length);
  const value = old === null ? suffix : old + suffix;
  ctx.store.set(key, value, old === null ? 0 : undefined);
  ctx.out.integer(value.length);
}

function getrange(ctx: CommandContext, argv: string[]): void {
  let start = Number(int64Arg(argv[2]));
  let end = Number(int64Arg(argv[3]));
  const value = readString(ctx.store, argv[1]) ?? "";
  const length = value.length;
  if (start < 0 && end < 0 && start > end) return ctx.out.bulk("");
  if (start < 0) start = Math.max(0, length + start);
  if (end < 0) end = Math.max(0, length + end);
  if (end >= length) end = length - 1;
  ctx.out.bulk(start > end || length === 0 ? "" : value.slice(start, end + 1));
}

function setrange(ctx: CommandContext, argv: string[]): void {
  const [, key, , patch] = argv;
  const offsetBig = int64Arg(argv[2]);
  if (offsetBig < 0n) throw new ReplyError("ERR offset is out of range");
  const old = readString(ctx.store, key);
  if (patch.length === 0) return ctx.out.integer(old?.length ?? 0);
  if (offsetBig > BigInt(maxStringBytes(ctx))) checkStringLength(ctx, maxStringBytes(ctx) + 1, 0);
  const offset = Number(offsetBig);
  checkStringLength(ctx, offset, patch.length);
  const base = old ?? "";
  const padded = base.length < offset ? base + "\0".repeat(offset - base.length) : base;
  const value = padded.slice(0, offset) + patch + padded.slice(offset + patch.length);
  ctx.store.set(key, value, old === null ? 0 : undefined);
  ctx.out.integer(value.length);
}

function strlen(ctx: CommandContext, argv: string[]): void {
  ctx.out.integer(readString(ctx.store, argv[1])?.length ?? 0);
}

/** Integers of up to this many characters add exactly as JS numbers: sums stay below 2^53. */
const SMALL_CHARS = 15;

/** `text` as a JS number when it is an integer of at most `SMALL_CHARS` characters, or null. */
function smallInteger(text: string): number | null {
  return text.length <= SMALL_CHARS ? parseSafeInteger(text) : null;
}

/** Adds `increment` to the integer at `key` (0 when absent), keeping its TTL. */
function incrementBy(ctx: CommandContext, key: string, increment: bigint | number): void {
  const entry = readStringEntry(ctx.store, key);
  const old = entry === undefined ? null : entry.value as string;
  let result: number | bigint;
  // Counters are small: add them as numbers, without BigInt's allocations, when both are.
  const small = old === null ? 0 : smallInteger(old);
  if (typeof increment === "number" && small !== null) {
    result = small + increment;
  } else {
    const current = old === null ? 0n : parseInt64(old);
    if (current === null) throw new ReplyError(NOT_INTEGER);
    result = current + BigInt(increment);
    if (result < INT64_MIN || result > INT64_MAX) throw new ReplyError(OVERFLOW);
  }
  if (entry === undefined) ctx.store.set(key, String(result), 0);
  else ctx.store.replace(entry, String(result));
  ctx.out.integer(result);
}

function incr(ctx: CommandContext, argv: string[]): void {
  incrementBy(ctx, argv[1], 1);
}

function decr(ctx: CommandContext, argv: string[]): void {
  incrementBy(ctx, argv[1], -1);
}

function incrby(ctx: CommandContext, argv: string[]): void {
  incrementBy(ctx, argv[1], smallInteger(argv[2]) ?? int64Arg(argv[2]));
}

function decrby(ctx: CommandContext, argv: string[]): void {
  const decrement = int64Arg(argv[2]);
  if (decrement === INT64_MIN) throw new ReplyError("ERR decrement would overflow");
  incrementBy(ctx, argv[1], -decrement);
}

/**
 * `text + increment` as Redis's INCRBYFLOAT computes it (long double, `%.17Lf`), with its errors;
 * `notFloat` is the error for a current value that does not parse.
 */
export function addFloatText(current: string, increment: string, notFloat: string): string {
  const value = parseLongDouble(current);
  if (value === null) throw new ReplyError(notFloat);
  const delta = parseLongDouble(increment);
  if (delta === null) throw new ReplyError(NOT_FLOAT);
  const nanOrInfinity = "ERR increment would produce NaN or Infinity";
  if (typeof value === "number" || typeof delta === "number") throw new ReplyError(nanOrInfinity);
  const sum = addLongDouble(value, delta);
  if (sum === null) throw new ReplyError(nanOrInfinity);
  return formatLongDouble(sum);
}

function incrbyfloat(ctx: CommandContext, argv: string[]): void {
  const [, key, increment] = argv;
  const old = readString(ctx.store, key);
  const value = addFloatText(old ?? "0", increment, NOT_FLOAT);
  ctx.store.set(key, value, old === null ? 0 : undefined);
  ctx.propagate(["SET", key, value, "KEEPTTL"]);
  ctx.out.bulk(value);
}

function mget(ctx: CommandContext, argv: string[]): void {
  ctx.out.arrayHeader(argv.length - 1);
  for (let i = 1; i < argv.length; i++) {
    const value = ctx.store.read(argv[i])?.value;
    ctx.out.bulk(typeof value === "string" ? value : null);
  }
}

function msetGeneric(onlyNew: boolean) {
  return (ctx: CommandContext, argv: string[]): void => {
    if (argv.length % 2 === 0) throw new ReplyError(wrongArity(argv[0].toLowerCase()));
    if (onlyNew) {
      for (let i = 1; i < argv.length; i += 2) {
        if (ctx.store.lookup(argv[i], false) !== undefined) return ctx.out.integer(0);
      }
    }
    for (let i = 1; i < argv.length; i += 2) ctx.store.set(argv[i], argv[i + 1], 0);
    if (onlyNew) ctx.out.integer(1);
    else ctx.out.ok();
  };
}

function setnx(ctx: CommandContext, argv: string[]): void {
  if (ctx.store.lookup(argv[1], false) !== undefined) return ctx.out.integer(0);
  ctx.store.set(argv[1], argv[2], 0);
  ctx.out.integer(1);
}

function setexGeneric(unit: "EX" | "PX") {
  return (ctx: CommandContext, argv: string[]): void => {
    const [name, key, time, value] = argv;
    const at = absoluteExpiry(name.toLowerCase(), unit, time, ctx.store.now());
    ctx.store.set(key, value, at);
    ctx.propagate(["SET", key, value, "PXAT", String(at)]);
    ctx.out.ok();
  };
}

function getset(ctx: CommandContext, argv: string[]): void {
  const old = readString(ctx.store, argv[1]);
  ctx.store.set(argv[1], argv[2], 0);
  ctx.out.bulk(old);
}

function getdel(ctx: CommandContext, argv: string[]): void {
  const value = readString(ctx.store, argv[1]);
  if (value !== null) ctx.store.delete(argv[1]);
  ctx.out.bulk(value);
}

function getex(ctx: CommandContext, argv: string[]): void {
  const [, key] = argv;
  let expiry: { unit: "EX" | "PX" | "EXAT" | "PXAT"; text: string } | null = null;
  let persist = false;
  for (let i = 2; i < argv.length; i++) {
    const option = argv[i].toUpperCase();
    if (EXPIRY_OPTIONS.has(option) && expiry === null && !persist && i + 1 < argv.length) {
      expiry = { unit: option as "EX", text: argv[++i] };
    } else if (option === "PERSIST" && expiry === null) persist = true;
    else throw new ReplyError(SYNTAX);
  }
  const store = ctx.store;
  const now = store.now();
  const at = expiry === null ? 0 : absoluteExpiry("getex", expiry.unit, expiry.text, now);
  const entry = store.read(key);
  if (entry === undefined) return ctx.out.nullReply();
  const value = entry.value;
  if (typeof value !== "string") throw new ReplyError(WRONGTYPE);
  ctx.out.bulk(value);
  if (expiry !== null && at <= now) {
    store.removeEntry(entry);
    ctx.propagate(["DEL", key]);
  } else if (expiry !== null) {
    store.setExpiry(entry, at);
    store.dirty++;
    ctx.propagate(["PEXPIREAT", key, String(at)]);
  } else if (persist && entry.expiresAtMs !== 0) {
    store.setExpiry(entry, 0);
    store.dirty++;
    ctx.propagate(["PERSIST", key]);
  }
}

/**
 * The most memory LCS's table may take: (len1 + 1) x (len2 + 1) cells of 4 bytes, as Redis
 * allocates it. Redis answers its allocation-failure error where the allocation fails; here the
 * bound is fixed, and it bounds the time the table takes to fill too (about a second).
 */
export const LCS_MAX_TABLE_BYTES = 256 * 1024 * 1024;

/** LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]. */
function lcs(ctx: CommandContext, argv: string[]): void {
  const first = ctx.store.read(argv[1]);
  const second = ctx.store.read(argv[2]);
  if (
    (first !== undefined && first.stringLength() < 0) ||
    (second !== undefined && second.stringLength() < 0)
  ) {
    throw new ReplyError("ERR The specified keys must contain string values");
  }
  let getLen = false;
  let getIdx = false;
  let withMatchLen = false;
  let minMatchLen = 0;
  for (let i = 3; i < argv.length; i++) {
    const option = argv[i].toUpperCase();
    if (option === "IDX") getIdx = true;
    else if (option === "LEN") getLen = true;
    else if (option === "WITHMATCHLEN") withMatchLen = true;
    else if (option === "MINMATCHLEN" && i + 1 < argv.length) {
      const value = parseInt64(argv[++i]);
      if (value === null) throw new ReplyError(NOT_INTEGER);
      minMatchLen = value < 0n ? 0 : value > 2n ** 53n ? Number.MAX_SAFE_INTEGER : Number(value);
    } else throw new ReplyError(SYNTAX);
  }
  if (getIdx && getLen) {
    throw new ReplyError("ERR If you want both the length and indexes, please just use IDX.");
  }
  const a = (first?.value as string | undefined) ?? "";
  const b = (second?.value as string | undefined) ?? "";
  if ((a.length + 1) * (b.length + 1) * 4 > LCS_MAX_TABLE_BYTES) {
    throw new ReplyError("ERR Insufficient memory, failed allocating transient memory for LCS");
  }
  const out = ctx.out;
  const width = b.length + 1;
  // table[i * width + j]: the LCS length of a[0, i) and b[0, j).
  const table = new Uint32Array((a.length + 1) * width);
  for (let i = 1; i <= a.length; i++) {
    const char = a.charCodeAt(i - 1);
    const row = i * width;
    const above = row - width;
    for (let j = 1; j <= b.length; j++) {
      table[row + j] = char === b.charCodeAt(j - 1)
        ? table[above + j - 1] + 1
        : Math.max(table[above + j], table[row + j - 1]);
    }
  }
  const length = table[a.length * width + b.length];
  if (getLen) return out.integer(length);
  // Walk back from the end: a match takes the diagonal, else the larger neighbour (b's side on a
  // tie). Runs of matches on consecutive positions are one range, told from the end backwards.
  const chars: string[] = new Array(length);
  let at = length;
  const matches: number[][] = [];
  let rangeOpen = false;
  let aStart = 0, aEnd = 0, bStart = 0, bEnd = 0;
  const close = () => {
    if (minMatchLen === 0 || aEnd - aStart + 1 >= minMatchLen) {
      matches.push([aStart, aEnd, bStart, bEnd]);
    }
    rangeOpen = false;
  };
  let i = a.length;
  let j = b.length;
  while (i > 0 && j > 0) {
    if (a.charCodeAt(i - 1) === b.charCodeAt(j - 1)) {
      chars[--at] = a[i - 1];
      if (rangeOpen && aStart === i && bStart === j) {
        aStart--;
        bStart--;
      } else {
        if (rangeOpen) close();
        rangeOpen = true;
        aStart = aEnd = i - 1;
        bStart = bEnd = j - 1;
      }
      i--;
      j--;
      if (i === 0 || j === 0) close();
    } else {
      if (table[(i - 1) * width + j] > table[i * width + j - 1]) i--;
      else j--;
      if (rangeOpen) close();
    }
  }
  if (!getIdx) return out.bulk(chars.join(""));
  out.mapHeader(2);
  out.bulk("matches");
  out.arrayHeader(matches.length);
  for (const [aFrom, aTo, bFrom, bTo] of matches) {
    out.arrayHeader(withMatchLen ? 3 : 2);
    out.arrayHeader(2);
    out.integer(aFrom);
    out.integer(aTo);
    out.arrayHeader(2);
    out.integer(bFrom);
    out.integer(bTo);
    if (withMatchLen) out.integer(aTo - aFrom + 1);
  }
  out.bulk("len");
  out.integer(length);
}

const stringSpec = familySpec("string");

const ONE = KEY_ONE;

export const stringCommands: CommandSpec[] = [
  stringSpec(
    "lcs",
    -3,
    ["readonly"],
    KEY_TWO,
    "Finds the longest common substring.",
    lcs,
  ),
  command({
    name: "get",
    arity: 2,
    flags: ["readonly", "fast"],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    group: "string",
    summary: "Returns the string value of a key.",
    handler: get,
  }),
  withEvents(
    command({
      name: "set",
      arity: -3,
      flags: ["write", "denyoom"],
      firstKey: 1,
      lastKey: 1,
      step: 1,
      group: "string",
      summary:
        "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.",
      handler: set,
    }),
    { custom: setEvents(false) },
  ),
  stringSpec(
    "append",
    3,
    ["write", "denyoom", "fast"],
    ONE,
    "Appends a string to the value of a key. Creates the key if it doesn't exist.",
    append,
  ),
  stringSpec(
    "getrange",
    4,
    ["readonly"],
    ONE,
    "Returns a substring of the string stored at a key.",
    getrange,
  ),
  stringSpec(
    "setrange",
    4,
    ["write", "denyoom"],
    ONE,
    "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.",
    setrange,
  ),
  stringSpec(
    "strlen",
    2,
    ["readonly", "fast"],
    ONE,
    "Returns the length of a string value.",
    strlen,
  ),
  withEvents(
    stringSpec(
      "incr",
      2,
      ["write", "denyoom", "fast"],
      ONE,
      "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.",
      incr,
    ),
    { name: "incrby" },
  ),
  withEvents(
    stringSpec(
      "decr",
      2,
      ["write", "denyoom", "fast"],
      ONE,
      "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.",
      decr,
    ),
    { name: "incrby" },
  ),
  stringSpec(
    "incrby",
    3,
    ["write", "denyoom", "fast"],
    ONE,
    "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
    incrby,
  ),
  withEvents(
    stringSpec(
      "decrby",
      3,
      ["write", "denyoom", "fast"],
      ONE,
      "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.",
      decrby,
    ),
    { name: "incrby" },
  ),
  stringSpec(
    "incrbyfloat",
    3,
    ["write", "denyoom", "fast"],
    ONE,
    "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
    incrbyfloat,
  ),
  stringSpec(
    "mget",
    -2,
    ["readonly", "fast"],
    [1, -1, 1],
    "Atomically returns the string values of one or more keys.",
    mget,
  ),
  withEvents(
    stringSpec(
      "mset",
      -3,
      ["write", "denyoom"],
      [1, -1, 2],
      "Atomically creates or modifies the string values of one or more keys.",
      msetGeneric(false),
    ),
    { name: "set", perKey: true },
  ),
  withEvents(
    stringSpec(
      "msetnx",
      -3,
      ["write", "denyoom"],
      [1, -1, 2],
      "Atomically modifies the string values of one or more keys only when all keys don't exist.",
      msetGeneric(true),
    ),
    { name: "set", perKey: true },
  ),
  withEvents(
    stringSpec(
      "setnx",
      3,
      ["write", "denyoom", "fast"],
      ONE,
      "Set the string value of a key only when the key doesn't exist.",
      setnx,
    ),
    { name: "set" },
  ),
  withEvents(
    stringSpec(
      "setex",
      4,
      ["write", "denyoom"],
      ONE,
      "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.",
      setexGeneric("EX"),
    ),
    { custom: setEvents(true) },
  ),
  withEvents(
    stringSpec(
      "psetex",
      4,
      ["write", "denyoom"],
      ONE,
      "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.",
      setexGeneric("PX"),
    ),
    { custom: setEvents(true) },
  ),
  withEvents(
    stringSpec(
      "getset",
      3,
      ["write", "denyoom", "fast"],
      ONE,
      "Returns the previous string value of a key after setting it to a new value.",
      getset,
    ),
    { name: "set" },
  ),
  withEvents(
    stringSpec(
      "getdel",
      2,
      ["write", "fast"],
      ONE,
      "Returns the string value of a key after deleting the key.",
      getdel,
    ),
    { name: "del", kind: "delete" },
  ),
  withEvents(
    stringSpec(
      "getex",
      -2,
      ["write", "fast"],
      ONE,
      "Returns the string value of a key after setting its expiration time.",
      getex,
    ),
    { custom: getexEvents },
  ),
];
