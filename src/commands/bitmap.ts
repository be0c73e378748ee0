/**
 * Bitmap commands: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD and BITFIELD_RO. A bitmap
 * is a string value (the one SET, GET, APPEND and SETRANGE use), read as bits from the most
 * significant bit of its first byte; bits past its end read as 0, and a write past its end pads
 * it with zero bytes. Replies and errors are redis-server 7.0's, and so is what counts as a
 * change: a SETBIT or a BITFIELD write that leaves the value as it was (same bits, no padding)
 * is not logged and raises no event.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { DEFAULT_MAX_BULK_BYTES } from "../constants.ts";
import { readLatin1 } from "../_latin1.ts";
import { type AclCategory, deriveCategories } from "./acl.ts";
import { parseInt64 } from "./args.ts";
import { ReplyError, SYNTAX } from "./errors.ts";
import type { Exists, KeyspaceEvent } from "./events.ts";
import { int64Arg, maxStringBytes, readString } from "./strings.ts";
import {
  type CommandContext,
  type CommandFlag,
  type CommandHandler,
  type CommandSpec,
  KEY_ONE,
  type KeyPositions,
} from "./types.ts";

const BIT_OFFSET = "ERR bit offset is not an integer or out of range";
const BIT_VALUE = "ERR bit is not an integer or out of range";
const BITPOS_BIT = "ERR The bit argument must be 1 or 0.";
const BITOP_NOT = "ERR BITOP NOT must be called with a single source key.";
const FIELD_TYPE =
  "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";
const OVERFLOW_TYPE = "ERR Invalid OVERFLOW type specified";
const RO_ONLY_GET = "ERR BITFIELD_RO only supports the GET subcommand";

/** Set bits of each byte value. */
const POPCOUNT = Uint8Array.from({ length: 256 }, (_, byte) => {
  let count = 0;
  for (let bits = byte; bits !== 0; bits &= bits - 1) count++;
  return count;
});

/**
 * A bit offset argument, as Redis reads it: a non-negative 64-bit integer whose byte lies below
 * `proto-max-bulk-len`. For BITFIELD (`fieldBits` > 0) `#n` means the n-th field of that width,
 * `n * fieldBits`, multiplied in 64 bits as Redis does (a product past 2^63 wraps around).
 */
function bitOffsetArg(ctx: CommandContext, text: string, write: boolean, fieldBits = 0): number {
  const positional = fieldBits > 0 && text.startsWith("#");
  const parsed = parseInt64(positional ? text.slice(1) : text);
  if (parsed === null) throw new ReplyError(BIT_OFFSET);
  const offset = positional ? BigInt.asIntN(64, parsed * BigInt(fieldBits)) : parsed;
  if (offset < 0n) throw new ReplyError(BIT_OFFSET);
  const byte = offset >> 3n;
  // A write must also fit a string the runtime can make (V8's is 24 bytes short of 512 MiB).
  if (byte >= BigInt(maxStringBytes(ctx)) && (write || byte >= BigInt(maxBulkBytes(ctx)))) {
    throw new ReplyError(BIT_OFFSET);
  }
  return Number(offset);
}

/** The configured `proto-max-bulk-len` (not capped by the runtime's string limit). */
function maxBulkBytes(ctx: CommandContext): number {
  const setting = ctx.server.config?.get("proto-max-bulk-len")[0]?.[1];
  return setting === undefined ? DEFAULT_MAX_BULK_BYTES : Number(setting);
}

/** The bit at `offset` of `value` (0 past its end). */
function bitAt(value: string, offset: number): number {
  const byte = Math.floor(offset / 8);
  return byte < value.length ? (value.charCodeAt(byte) >> (7 - offset % 8)) & 1 : 0;
}

/** Stores a bitmap's new value: a new key has no TTL of its own, a changed one keeps its TTL. */
function storeBitmap(ctx: CommandContext, key: string, old: string | null, value: string): void {
  ctx.store.set(key, value, old === null ? 0 : undefined);
}

function setbit(ctx: CommandContext, argv: string[]): void {
  const [, key, , bitText] = argv;
  const offset = bitOffsetArg(ctx, argv[2], true);
  // Any integer but 0 and 1 is refused, and so is what is not an integer.
  if (bitText !== "0" && bitText !== "1") throw new ReplyError(BIT_VALUE);
  const old = readString(ctx.store, key);
  const base = old ?? "";
  const byte = Math.floor(offset / 8);
  const mask = 0x80 >> (offset % 8);
  const current = byte < base.length ? base.charCodeAt(byte) : 0;
  const next = bitText === "1" ? current | mask : current & ~mask;
  const grows = old === null || byte >= base.length;
  // Neither padded nor changed: nothing to log, no event (redis-server 7.0 does the same).
  if (grows || next !== current) {
    const value = grows
      ? base + "\0".repeat(byte - base.length) + String.fromCharCode(next)
      : base.slice(0, byte) + String.fromCharCode(next) + base.slice(byte + 1);
    storeBitmap(ctx, key, old, value);
  }
  ctx.out.integer((current & mask) === 0 ? 0 : 1);
}

function getbit(ctx: CommandContext, argv: string[]): void {
  const offset = bitOffsetArg(ctx, argv[2], false);
  const value = readString(ctx.store, argv[1]);
  ctx.out.integer(value === null ? 0 : bitAt(value, offset));
}

/** The set bits of `value` in bits [from, to). */
function countBits(value: string, from: number, to: number): number {
  if (from >= to) return 0;
  const first = Math.floor(from / 8);
  const last = Math.floor((to - 1) / 8);
  const headMask = 0xff >> (from % 8);
  const tailMask = (0xff << (7 - (to - 1) % 8)) & 0xff;
  if (first === last) return POPCOUNT[value.charCodeAt(first) & headMask & tailMask];
  let count = POPCOUNT[value.charCodeAt(first) & headMask] +
    POPCOUNT[value.charCodeAt(last) & tailMask];
  for (let i = first + 1; i < last; i++) count += POPCOUNT[value.charCodeAt(i)];
  return count;
}

/**
 * A keyword argument in upper case, read as Redis compares keywords: as a C string, so what
 * follows a NUL byte is not part of it.
 */
function keyword(text: string): string {
  const nul = text.indexOf("\0");
  return (nul === -1 ? text : text.slice(0, nul)).toUpperCase();
}

/** BYTE or BIT, the unit of BITCOUNT's and BITPOS's range: true for BIT. */
function unitArg(text: string): boolean {
  const unit = keyword(text);
  if (unit === "BIT") return true;
  if (unit === "BYTE") return false;
  throw new ReplyError(SYNTAX);
}

/** A range's index counted from the end when negative, clamped to [0, `length` - 1]. */
function clampIndex(index: number, length: number): number {
  if (index < 0) index += length;
  return Math.min(Math.max(index, 0), length - 1);
}

function bitcount(ctx: CommandContext, argv: string[]): void {
  // The key first: a missing key counts 0 whatever the other arguments are.
  const value = readString(ctx.store, argv[1]);
  if (value === null) return ctx.out.integer(0);
  if (argv.length === 2) return ctx.out.integer(countBits(value, 0, value.length * 8));
  if (argv.length !== 4 && argv.length !== 5) throw new ReplyError(SYNTAX);
  const startArg = int64Arg(argv[2]);
  const endArg = int64Arg(argv[3]);
  // Both counted from the end, the start after the end: empty, compared before clamping, and
  // before the unit is read (as Redis does).
  if (startArg < 0n && endArg < 0n && startArg > endArg) return ctx.out.integer(0);
  const inBits = argv.length === 5 && unitArg(argv[4]);
  const length = inBits ? value.length * 8 : value.length;
  // Beyond 2^53 a number is inexact, but clamps to the same end of the string.
  const start = Math.max(Number(startArg) < 0 ? Number(startArg) + length : Number(startArg), 0);
  const end = clampIndex(Number(endArg), length);
  if (start > end) return ctx.out.integer(0);
  const scale = inBits ? 1 : 8;
  ctx.out.integer(countBits(value, start * scale, (end + 1) * scale));
}

/** The first bit equal to `bit` in bits [from, to) of `value`, or -1. */
function findBit(value: string, from: number, to: number, bit: number): number {
  const skip = bit === 1 ? 0x00 : 0xff;
  const last = Math.floor((to - 1) / 8);
  for (let byte = Math.floor(from / 8); byte <= last; byte++) {
    const bits = value.charCodeAt(byte);
    if (bits === skip) continue;
    for (let i = Math.max(byte * 8, from); i < Math.min(byte * 8 + 8, to); i++) {
      if (((bits >> (7 - i % 8)) & 1) === bit) return i;
    }
  }
  return -1;
}

function bitpos(ctx: CommandContext, argv: string[]): void {
  const bitArg = int64Arg(argv[2]);
  if (bitArg !== 0n && bitArg !== 1n) throw new ReplyError(BITPOS_BIT);
  const bit = Number(bitArg);
  // A missing key is all clear bits: the first 0 is bit 0, and there is no 1.
  const value = readString(ctx.store, argv[1]);
  if (value === null) return ctx.out.integer(bit === 1 ? -1 : 0);
  if (argv.length > 6) throw new ReplyError(SYNTAX);
  // Checked in Redis's order: the start, the unit, then the end.
  const startArg = argv.length > 3 ? Number(int64Arg(argv[3])) : 0;
  const inBits = argv.length === 6 && unitArg(argv[5]);
  const endGiven = argv.length > 4;
  const endArg = endGiven ? Number(int64Arg(argv[4])) : -1;
  const length = inBits ? value.length * 8 : value.length;
  const start = Math.max(startArg < 0 ? startArg + length : startArg, 0);
  const end = clampIndex(endArg, length);
  if (start > end) return ctx.out.integer(-1);
  const scale = inBits ? 1 : 8;
  const from = start * scale;
  const to = (end + 1) * scale;
  const found = findBit(value, from, to, bit);
  // Without an end, the string continues with clear bits: the first 0 may be just past it.
  ctx.out.integer(found === -1 && bit === 0 && !endGiven ? to : found);
}

function bitop(ctx: CommandContext, argv: string[]): void {
  const operation = keyword(argv[1]);
  if (operation !== "AND" && operation !== "OR" && operation !== "XOR" && operation !== "NOT") {
    throw new ReplyError(SYNTAX);
  }
  const destination = argv[2];
  if (operation === "NOT" && argv.length !== 4) throw new ReplyError(BITOP_NOT);
  // A missing source is an empty string (all clear bits); another type fails the command.
  const sources: string[] = [];
  let longest = 0;
  let shortest = Infinity;
  for (let i = 3; i < argv.length; i++) {
    const value = readString(ctx.store, argv[i]) ?? "";
    sources.push(value);
    longest = Math.max(longest, value.length);
    shortest = Math.min(shortest, value.length);
  }
  const result = Buffer.alloc(longest);
  if (operation === "NOT") {
    const [source] = sources;
    for (let i = 0; i < longest; i++) result[i] = ~source.charCodeAt(i) & 0xff;
  } else if (operation === "AND") {
    // Past the shortest source every byte ANDs with a padding 0.
    for (let i = 0; i < shortest; i++) {
      let byte = 0xff;
      for (const source of sources) byte &= source.charCodeAt(i);
      result[i] = byte;
    }
  } else {
    const xor = operation === "XOR";
    for (const source of sources) {
      for (let i = 0; i < source.length; i++) {
        result[i] = xor ? result[i] ^ source.charCodeAt(i) : result[i] | source.charCodeAt(i);
      }
    }
  }
  // The destination is replaced whatever it held (its TTL goes), or removed by an empty result.
  if (longest > 0) ctx.store.set(destination, readLatin1(result, 0, longest), 0);
  else ctx.store.delete(destination);
  ctx.out.integer(longest);
}

/** BITOP's notifications: `set` on the destination, or `del` when an empty result removed it. */
const bitopEvents = (argv: readonly string[], exists: Exists): KeyspaceEvent[] =>
  exists(argv[2]) ? [["$", "set", argv[2]]] : [["g", "del", argv[2]]];

/** SETBIT's and BITFIELD's notification: `setbit` on the key, in the string class. */
const setbitEvents = (argv: readonly string[]): KeyspaceEvent[] => [["$", "setbit", argv[1]]];

type Overflow = "WRAP" | "SAT" | "FAIL";

/** One BITFIELD operation, parsed. */
interface FieldOp {
  readonly kind: "GET" | "SET" | "INCRBY";
  readonly signed: boolean;
  readonly bits: number;
  readonly offset: number;
  /** SET's value or INCRBY's increment. */
  readonly value: bigint;
  /** The OVERFLOW mode in force where the operation is. */
  readonly overflow: Overflow;
}

/** A field type: `i1`..`i64` or `u1`..`u63`. */
function fieldTypeArg(text: string): { signed: boolean; bits: number } {
  // Redis reads the type as a C string: what follows a NUL byte is not part of it.
  const nul = text.indexOf("\0");
  if (nul !== -1) text = text.slice(0, nul);
  const signed = text.startsWith("i");
  if (!signed && !text.startsWith("u")) throw new ReplyError(FIELD_TYPE);
  const bits = parseInt64(text.slice(1));
  if (bits === null || bits < 1n || bits > (signed ? 64n : 63n)) throw new ReplyError(FIELD_TYPE);
  return { signed, bits: Number(bits) };
}

/** BITFIELD's operations: every argument is checked before any operation runs. */
function fieldOps(ctx: CommandContext, argv: string[], readonly: boolean): FieldOp[] {
  const ops: FieldOp[] = [];
  let overflow: Overflow = "WRAP";
  let writes = false;
  for (let i = 2; i < argv.length; i++) {
    const left = argv.length - i - 1;
    const name = keyword(argv[i]);
    let kind: FieldOp["kind"];
    if (name === "GET" && left >= 2) kind = "GET";
    else if (name === "SET" && left >= 3) kind = "SET";
    else if (name === "INCRBY" && left >= 3) kind = "INCRBY";
    else if (name === "OVERFLOW" && left >= 1) {
      const mode = keyword(argv[++i]);
      if (mode !== "WRAP" && mode !== "SAT" && mode !== "FAIL") {
        throw new ReplyError(OVERFLOW_TYPE);
      }
      overflow = mode;
      continue;
    } else throw new ReplyError(SYNTAX);
    const { signed, bits } = fieldTypeArg(argv[i + 1]);
    const offset = bitOffsetArg(ctx, argv[i + 2], kind !== "GET", bits);
    const value = kind === "GET" ? 0n : int64Arg(argv[i + 3]);
    i += kind === "GET" ? 2 : 3;
    if (kind !== "GET") writes = true;
    ops.push({ kind, signed, bits, offset, value, overflow });
  }
  if (readonly && writes) throw new ReplyError(RO_ONLY_GET);
  return ops;
}

/** The unsigned `bits`-bit field at bit `offset` of the bytes `byteAt` reads (0s past the end). */
function readField(byteAt: (index: number) => number, offset: number, bits: number): bigint {
  let field = 0n;
  let chunk = 0;
  let chunkBits = 0;
  for (let i = offset; i < offset + bits; i++) {
    chunk = chunk * 2 + ((byteAt(Math.floor(i / 8)) >> (7 - i % 8)) & 1);
    // Up to 32 bits are gathered in a number before they go into the BigInt.
    if (++chunkBits === 32) {
      field = (field << 32n) | BigInt(chunk);
      chunk = 0;
      chunkBits = 0;
    }
  }
  return chunkBits === 0 ? field : (field << BigInt(chunkBits)) | BigInt(chunk);
}

/**
 * A bitmap as BITFIELD's writes change it: the value as it was, and a copy of only the bytes
 * [`from`, `to`) the writes reach (zeros past the value's end), so that a write to a large
 * bitmap copies a few bytes, not all of them.
 */
class FieldWindow {
  readonly bytes: Buffer;

  constructor(readonly base: string, readonly from: number, readonly to: number) {
    this.bytes = Buffer.alloc(to - from);
    const end = Math.min(to, base.length);
    for (let i = from; i < end; i++) this.bytes[i - from] = base.charCodeAt(i);
  }

  readonly byteAt = (index: number): number => {
    if (index >= this.from && index < this.to) return this.bytes[index - this.from];
    return index < this.base.length ? this.base.charCodeAt(index) : 0;
  };

  /** The new value: the old one with the window written over it, padded with zeros to it. */
  value(): string {
    const { base, from, to, bytes } = this;
    const gap = from > base.length ? "\0".repeat(from - base.length) : "";
    return base.slice(0, from) + gap + readLatin1(bytes, 0, bytes.length) + base.slice(to);
  }
}

/** Writes the low `bits` bits of `field` at bit `offset` of `bytes` (long enough for them). */
function writeField(bytes: Uint8Array, offset: number, bits: number, field: bigint): void {
  const unsigned = BigInt.asUintN(bits, field);
  for (let i = 0; i < bits; i++) {
    const position = offset + i;
    const byte = Math.floor(position / 8);
    const mask = 0x80 >> (position % 8);
    if ((unsigned >> BigInt(bits - 1 - i)) & 1n) bytes[byte] |= mask;
    else bytes[byte] &= ~mask;
  }
}

/**
 * `value + increment` in a field of `bits` bits under `overflow`: the field's new value, or null
 * when FAIL refuses it. Where the sum leaves the field's range, WRAP keeps its low bits and SAT
 * the nearest bound; which bound follows Redis, which finds the room left above and below
 * `value` with 64-bit arithmetic that wraps around: a signed SET of a value within 2^(bits-1)
 * of -2^63 counts as too large. `value` is SET's value (as unsigned 64 bits for an unsigned
 * field) with an increment of 0, or INCRBY's old field value.
 */
function fitField(
  value: bigint,
  increment: bigint,
  signed: boolean,
  bits: number,
  overflow: Overflow,
): bigint | null {
  const max = signed ? (1n << BigInt(bits - 1)) - 1n : (1n << BigInt(bits)) - 1n;
  const min = signed ? -max - 1n : 0n;
  const roomUp = BigInt.asIntN(64, max - value);
  const roomDown = BigInt.asIntN(64, min - value);
  let above: boolean;
  let below: boolean;
  if (signed) {
    above = value > max || (bits !== 64 && increment > roomUp) ||
      (value >= 0n && increment > 0n && increment > roomUp);
    below = !above && (value < min || (bits !== 64 && increment < roomDown) ||
      (value < 0n && increment < 0n && increment < roomDown));
  } else {
    above = value > max || (increment > 0n && increment > roomUp);
    below = !above && increment < 0n && increment < roomDown;
  }
  if (!above && !below) return value + increment;
  if (overflow === "FAIL") return null;
  if (overflow === "SAT") return above ? max : min;
  const sum = value + increment;
  return signed ? BigInt.asIntN(bits, sum) : BigInt.asUintN(bits, sum);
}

/** The field's value as the type reads it. */
function asType(field: bigint, signed: boolean, bits: number): bigint {
  return signed ? BigInt.asIntN(bits, field) : field;
}

function bitfieldGeneric(readonly: boolean): CommandHandler {
  return (ctx, argv) => {
    const key = argv[1];
    const ops = fieldOps(ctx, argv, readonly);
    const old = readString(ctx.store, key);
    const base = old ?? "";
    const out = ctx.out;
    // The bytes the writes reach: the value is padded to them before any operation runs.
    let from = Infinity;
    let to = 0;
    for (const op of ops) {
      if (op.kind === "GET") continue;
      from = Math.min(from, Math.floor(op.offset / 8));
      to = Math.max(to, Math.floor((op.offset + op.bits - 1) / 8) + 1);
    }
    out.arrayHeader(ops.length);
    if (to === 0) {
      const byteAt = (index: number) => index < base.length ? base.charCodeAt(index) : 0;
      for (const op of ops) {
        out.integer(asType(readField(byteAt, op.offset, op.bits), op.signed, op.bits));
      }
      return;
    }
    const window = new FieldWindow(base, from, to);
    const padded = old === null || to > base.length;
    let changed = false;
    for (const op of ops) {
      const { signed, bits, offset } = op;
      const current = asType(readField(window.byteAt, offset, bits), signed, bits);
      if (op.kind === "GET") {
        out.integer(current);
        continue;
      }
      const next = op.kind === "SET"
        ? fitField(signed ? op.value : BigInt.asUintN(64, op.value), 0n, signed, bits, op.overflow)
        : fitField(current, op.value, signed, bits, op.overflow);
      if (next === null) {
        out.nullReply();
        continue;
      }
      writeField(window.bytes, offset - from * 8, bits, next);
      // As in redis-server 7.0, an operation that leaves the value as it was changes nothing.
      if (padded || next !== current) changed = true;
      out.integer(op.kind === "SET" ? current : next);
    }
    // Padding alone (every write refused by FAIL) is stored and logged too, so that a replay
    // makes the same value (redis-server keeps the padding without logging the command).
    if (changed || padded) storeBitmap(ctx, key, old, window.value());
  };
}

/** The categories of a bitmap command: Redis's for its flags, with `@bitmap` as its type. */
function bitmapCategories(flags: readonly CommandFlag[]): AclCategory[] {
  return deriveCategories("string", flags).map((category) =>
    category === "string" ? "bitmap" : category
  );
}

function bitmapSpec(
  name: string,
  arity: number,
  flags: CommandFlag[],
  keys: KeyPositions,
  summary: string,
  handler: CommandHandler,
  custom?: (argv: readonly string[], exists: Exists) => KeyspaceEvent[],
): CommandSpec {
  const [firstKey, lastKey, step] = keys;
  const categories = bitmapCategories(flags);
  const spec: CommandSpec = {
    name,
    arity,
    flags,
    firstKey,
    lastKey,
    step,
    group: "bitmap",
    categories,
    summary,
    handler,
  };
  return custom === undefined ? spec : { ...spec, events: { custom } };
}

export const bitmapCommands: CommandSpec[] = [
  bitmapSpec(
    "setbit",
    4,
    ["write", "denyoom"],
    KEY_ONE,
    "Sets or clears the bit at offset in the string value stored at key",
    setbit,
    setbitEvents,
  ),
  bitmapSpec(
    "getbit",
    3,
    ["readonly", "fast"],
    KEY_ONE,
    "Returns the bit value at offset in the string value stored at key",
    getbit,
  ),
  bitmapSpec(
    "bitcount",
    -2,
    ["readonly"],
    KEY_ONE,
    "Count set bits in a string",
    bitcount,
  ),
  bitmapSpec(
    "bitpos",
    -3,
    ["readonly"],
    KEY_ONE,
    "Find first bit set or clear in a string",
    bitpos,
  ),
  bitmapSpec(
    "bitop",
    -4,
    ["write", "denyoom"],
    [2, -1, 1],
    "Perform bitwise operations between strings",
    bitop,
    bitopEvents,
  ),
  bitmapSpec(
    "bitfield",
    -2,
    ["write", "denyoom"],
    KEY_ONE,
    "Perform arbitrary bitfield integer operations on strings",
    bitfieldGeneric(false),
    setbitEvents,
  ),
  bitmapSpec(
    "bitfield_ro",
    -2,
    ["readonly", "fast"],
    KEY_ONE,
    "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD",
    bitfieldGeneric(true),
  ),
];
