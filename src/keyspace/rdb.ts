/**
 * Redis's DUMP payload: one value serialized as an RDB object (its type byte, then the object),
 * then the 2-byte RDB version (10 for Redis 7.0) and a CRC-64 (Jones polynomial, reflected) of
 * everything before it, both little-endian. Sans-I/O: bytes in, values out, and back.
 *
 * Encoding picks the RDB types redis-server 7.0 itself writes for the same contents, so that a
 * DUMP here is byte for byte redis-server's wherever the contents fix the bytes: a string as an
 * 8/16/32-bit integer, raw, or LZF-compressed (with liblzf's greedy matching, so the same
 * bytes); a list as a quicklist of listpacks cut where Redis's 8 KB nodes end when a list grows
 * at its tail; a set as an intset while Redis would keep one, else a plain set; a hash and a
 * sorted set as a listpack while small, else a plain hash and a `ZSET_2` (binary scores,
 * highest first, as Redis writes its skiplist); a stream as `STREAM_LISTPACKS_2`. (Where Redis
 * itself iterates a hash table the order is its own, random, so those bytes differ.)
 *
 * Decoding takes everything redis-server 7.0 loads from a DUMP payload: strings raw,
 * integer-encoded and LZF-compressed; lists as quicklist 2 (listpack and plain nodes), quicklist
 * (ziplists), ziplist or plain; sets as intset or plain; hashes as listpack, ziplist or plain;
 * sorted sets as listpack, ziplist, `ZSET_2` or `ZSET`; streams as `STREAM_LISTPACKS` 1 and 2.
 * A payload that is not one of these, or is inconsistent, throws a {@linkcode DumpPayloadError}.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { readLatin1, writeLatin1 } from "../_latin1.ts";
import { HashValue } from "./hash.ts";
import { ListValue } from "./list.ts";
import { SetValue } from "./set.ts";
import { ZSetValue } from "./zset.ts";
import {
  formatId,
  idMs,
  idSeq,
  INVALID_ENTRIES_READ,
  restoreStream,
  type StreamId,
  streamId,
  type StreamValue,
} from "./stream.ts";
import type { Value } from "./values.ts";

/** The RDB version redis-server 7.0 writes (and the highest it reads). */
export const RDB_VERSION = 10;

/** RDB object types (Redis's `RDB_TYPE_*`). */
export const RDB_TYPE = {
  STRING: 0,
  LIST: 1,
  SET: 2,
  ZSET: 3,
  HASH: 4,
  ZSET_2: 5,
  MODULE: 6,
  MODULE_2: 7,
  HASH_ZIPMAP: 9,
  LIST_ZIPLIST: 10,
  SET_INTSET: 11,
  ZSET_ZIPLIST: 12,
  HASH_ZIPLIST: 13,
  LIST_QUICKLIST: 14,
  STREAM_LISTPACKS: 15,
  HASH_LISTPACK: 16,
  ZSET_LISTPACK: 17,
  LIST_QUICKLIST_2: 18,
  STREAM_LISTPACKS_2: 19,
} as const;

/** Why a payload was refused: its footer (version or checksum), or its contents. */
export class DumpPayloadError extends Error {
  constructor(readonly kind: "footer" | "format", message: string) {
    super(message);
    this.name = "DumpPayloadError";
  }
}

function bad(reason: string): never {
  throw new DumpPayloadError("format", reason);
}

// CRC-64/Jones, reflected (Redis's crc64): polynomial 0xad93d23594c935a9, reflected to
// 0x95ac9329ac4bc9b5, initial value 0, no final xor. Kept as two 32-bit halves.

const CRC_LOW = new Uint32Array(256);
const CRC_HIGH = new Uint32Array(256);
for (let i = 0; i < 256; i++) {
  let low = i;
  let high = 0;
  for (let bit = 0; bit < 8; bit++) {
    const carry = low & 1;
    low = ((low >>> 1) | ((high & 1) << 31)) >>> 0;
    high = high >>> 1;
    if (carry) {
      low = (low ^ 0xac4bc9b5) >>> 0;
      high = (high ^ 0x95ac9329) >>> 0;
    }
  }
  CRC_LOW[i] = low;
  CRC_HIGH[i] = high;
}

/** Redis's CRC-64 of `bytes[start, end)`, as [low 32 bits, high 32 bits]. */
function crc64Halves(bytes: Uint8Array, start: number, end: number): [number, number] {
  let low = 0;
  let high = 0;
  const tl = CRC_LOW;
  const th = CRC_HIGH;
  for (let i = start; i < end; i++) {
    const index = (low ^ bytes[i]) & 0xff;
    low = ((low >>> 8) | (high << 24)) ^ tl[index];
    high = (high >>> 8) ^ th[index];
  }
  return [low >>> 0, high >>> 0];
}

/** Redis's CRC-64 (Jones, reflected) of `bytes[start, end)`. */
export function crc64(bytes: Uint8Array, start = 0, end: number = bytes.length): bigint {
  const [low, high] = crc64Halves(bytes, start, end);
  return (BigInt(high) << 32n) | BigInt(low);
}

// LZF, the format of liblzf (which Redis uses) with its greedy matcher: 16-bit hash of three
// bytes (the "very fast" variant), offsets up to 8 KiB, matches up to 264 bytes, runs of up to
// 32 literals.

const LZF_HASH_SLOTS = 1 << 16;
const LZF_MAX_LITERAL = 32;
const LZF_MAX_OFFSET = 1 << 13;
const LZF_MAX_REF = (1 << 8) + (1 << 3);

/**
 * The hash table, shared by every call: a slot holds `base + position + 1` of the call that set
 * it, so a slot at or below the current call's `base` is empty without clearing the table.
 */
const lzfTable = new Uint32Array(LZF_HASH_SLOTS);
let lzfBase = 0;

function lzfSlot(hash: number): number {
  return ((hash >>> 8) - hash * 5) & 0xffff;
}

/**
 * Compresses `input[0, length)` into `output` within `limit` bytes; returns the compressed
 * length, or 0 when it does not fit. `output` needs room for `limit + 8` bytes.
 */
export function lzfCompress(
  input: Uint8Array,
  length: number,
  output: Uint8Array,
  limit: number,
): number {
  if (length === 0 || limit === 0) return 0;
  if (lzfBase + length + 2 >= 0xffff_fff0) {
    lzfTable.fill(0);
    lzfBase = 0;
  }
  const base = lzfBase;
  lzfBase += length + 1;
  const table = lzfTable;
  let ip = 0;
  let op = 1; // the first literal run's length byte
  let lit = 0;
  let hash = length > 1 ? (input[0] << 8) | input[1] : 0;
  const inEnd = length;
  while (ip < inEnd - 2) {
    hash = ((hash << 8) | input[ip + 2]) >>> 0;
    const slot = lzfSlot(hash);
    const stored = table[slot];
    const ref = stored > base ? stored - base - 1 : 0;
    table[slot] = base + ip + 1;
    const off = ip - ref - 1;
    if (
      off < LZF_MAX_OFFSET && ref > 0 && input[ref + 2] === input[ip + 2] &&
      input[ref] === input[ip] && input[ref + 1] === input[ip + 1]
    ) {
      let len = 2;
      let maxlen = inEnd - ip - len;
      if (maxlen > LZF_MAX_REF) maxlen = LZF_MAX_REF;
      if (op + 3 + 1 >= limit && op - (lit === 0 ? 1 : 0) + 3 + 1 >= limit) return 0;
      output[op - lit - 1] = lit - 1; // closes the literal run
      if (lit === 0) op--; // ... or takes back an empty one
      matching: {
        if (maxlen > 16) {
          // liblzf compares 16 more bytes before it looks at the limit again.
          for (let k = 0; k < 16; k++) {
            len++;
            if (input[ref + len] !== input[ip + len]) break matching;
          }
        }
        do len++; while (len < maxlen && input[ref + len] === input[ip + len]);
      }
      len -= 2;
      ip++;
      if (len < 7) {
        output[op++] = (off >> 8) + (len << 5);
      } else {
        output[op++] = (off >> 8) + (7 << 5);
        output[op++] = len - 7;
      }
      output[op++] = off & 0xff;
      lit = 0;
      op++;
      ip += len + 1;
      if (ip >= inEnd - 2) break;
      ip -= 2;
      hash = (input[ip] << 8) | input[ip + 1];
      hash = ((hash << 8) | input[ip + 2]) >>> 0;
      table[lzfSlot(hash)] = base + ip + 1;
      ip++;
      hash = ((hash << 8) | input[ip + 2]) >>> 0;
      table[lzfSlot(hash)] = base + ip + 1;
      ip++;
    } else {
      if (op >= limit) return 0;
      lit++;
      output[op++] = input[ip++];
      if (lit === LZF_MAX_LITERAL) {
        output[op - lit - 1] = lit - 1;
        lit = 0;
        op++;
      }
    }
  }
  if (op + 3 > limit) return 0;
  while (ip < inEnd) {
    lit++;
    output[op++] = input[ip++];
    if (lit === LZF_MAX_LITERAL) {
      output[op - lit - 1] = lit - 1;
      lit = 0;
      op++;
    }
  }
  output[op - lit - 1] = lit - 1;
  if (lit === 0) op--;
  return op;
}

/**
 * Decompresses `input[start, end)` into a new buffer of exactly `length` bytes; null when the
 * data is not LZF or does not come out at that length.
 */
export function lzfDecompress(
  input: Uint8Array,
  start: number,
  end: number,
  length: number,
): Buffer | null {
  const out = Buffer.allocUnsafe(length);
  let ip = start;
  let op = 0;
  while (ip < end) {
    const control = input[ip++];
    if (control < 32) {
      const run = control + 1;
      if (op + run > length || ip + run > end) return null;
      for (let i = 0; i < run; i++) out[op++] = input[ip++];
      continue;
    }
    let len = control >> 5;
    if (len === 7) {
      if (ip >= end) return null;
      len += input[ip++];
    }
    if (ip >= end) return null;
    const ref = op - ((control & 0x1f) << 8) - 1 - input[ip++];
    len += 2;
    if (ref < 0 || op + len > length) return null;
    for (let i = 0; i < len; i++) out[op++] = out[ref + i];
  }
  return op === length ? out : null;
}

// Writing.

/** A growing byte buffer. */
class Output {
  bytes: Uint8Array;
  view: DataView;
  pos = 0;

  constructor(size = 256) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }

  reserve(count: number): void {
    const need = this.pos + count;
    if (need <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < need) size *= 2;
    const bytes = new Uint8Array(size);
    bytes.set(this.bytes.subarray(0, this.pos));
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer);
  }

  byte(value: number): void {
    this.reserve(1);
    this.bytes[this.pos++] = value;
  }

  raw(source: Uint8Array, start: number, end: number): void {
    const count = end - start;
    this.reserve(count);
    if (count <= 16) { for (let i = start; i < end; i++) this.bytes[this.pos++] = source[i]; }
    else {
      this.bytes.set(source.subarray(start, end), this.pos);
      this.pos += count;
    }
  }

  text(value: string): void {
    this.reserve(value.length);
    this.pos += writeLatin1(this.bytes, value, this.pos);
  }

  /** RDB's length encoding. */
  length(value: number): void {
    this.reserve(9);
    const bytes = this.bytes;
    if (value < 64) bytes[this.pos++] = value;
    else if (value < 16384) {
      bytes[this.pos++] = 0x40 | (value >> 8);
      bytes[this.pos++] = value & 0xff;
    } else if (value <= 0xffffffff) {
      bytes[this.pos++] = 0x80;
      this.view.setUint32(this.pos, value, false);
      this.pos += 4;
    } else {
      bytes[this.pos++] = 0x81;
      this.view.setBigUint64(this.pos, BigInt(value), false);
      this.pos += 8;
    }
  }

  /** RDB's length encoding of an unsigned 64-bit value. */
  bigLength(value: bigint): void {
    if (value <= 0xffffffffn) return this.length(Number(value));
    this.reserve(9);
    this.bytes[this.pos++] = 0x81;
    this.view.setBigUint64(this.pos, BigInt.asUintN(64, value), false);
    this.pos += 8;
  }

  /** A 16-byte stream ID, big-endian milliseconds then sequence (a radix tree key). */
  streamId(id: StreamId): void {
    this.reserve(16);
    this.view.setBigUint64(this.pos, idMs(id), false);
    this.view.setBigUint64(this.pos + 8, idSeq(id), false);
    this.pos += 16;
  }

  /** Little-endian 64-bit milliseconds (Redis's `rdbSaveMillisecondTime`). */
  milliseconds(value: number): void {
    this.reserve(8);
    this.view.setBigInt64(this.pos, BigInt(Math.trunc(value)), true);
    this.pos += 8;
  }

  double(value: number): void {
    this.reserve(8);
    this.view.setFloat64(this.pos, value, true);
    this.pos += 8;
  }
}

/** Scratch space for a string being compressed, and for its compressed form. */
let lzfInput: Uint8Array = new Uint8Array(1024);
let lzfOutput: Uint8Array = new Uint8Array(1024);

function scratch(size: number, current: Uint8Array): Uint8Array {
  if (current.length >= size) return current;
  let length = current.length;
  while (length < size) length *= 2;
  return new Uint8Array(length);
}

/** The value of a canonical decimal integer in `text` (no sign but `-`, no leading zero, at
 * most 20 characters, within 64 bits), or null. Small ones are numbers, others bigints. */
export function canonicalInteger(text: string): number | bigint | null {
  const n = text.length;
  if (n === 0 || n > 20) return null;
  let i = 0;
  if (text.charCodeAt(0) === 45) {
    if (n === 1) return null;
    i = 1;
  }
  const first = text.charCodeAt(i);
  if (first === 48) return n === 1 ? 0 : null;
  if (first < 49 || first > 57) return null;
  for (let j = i + 1; j < n; j++) {
    const c = text.charCodeAt(j);
    if (c < 48 || c > 57) return null;
  }
  if (n - i <= 15) return Number(text);
  const big = BigInt(text);
  if (big < INT64_MIN || big > INT64_MAX) return null;
  return Number.isSafeInteger(Number(big)) ? Number(big) : big;
}

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

/** Writes an integer that fits 32 bits in RDB's integer string encoding. */
function writeEncodedInteger(out: Output, value: number): void {
  out.reserve(5);
  if (value >= -128 && value <= 127) {
    out.bytes[out.pos++] = 0xc0;
    out.bytes[out.pos++] = value & 0xff;
  } else if (value >= -32768 && value <= 32767) {
    out.bytes[out.pos++] = 0xc1;
    out.view.setInt16(out.pos, value, true);
    out.pos += 2;
  } else {
    out.bytes[out.pos++] = 0xc2;
    out.view.setInt32(out.pos, value, true);
    out.pos += 4;
  }
}

/** Whether a value fits RDB's integer string encoding (32 bits). */
function fitsInt32(value: number | bigint | null): value is number {
  return typeof value === "number" && value >= -2147483648 && value <= 2147483647;
}

/**
 * Writes `input[0, length)` LZF-compressed when that saves at least 4 bytes, as Redis does for
 * strings over 20 bytes; false when it did not.
 */
function writeCompressed(out: Output, input: Uint8Array, length: number): boolean {
  const limit = length - 4;
  lzfOutput = scratch(limit + 8, lzfOutput);
  const compressed = lzfCompress(input, length, lzfOutput, limit);
  if (compressed === 0) return false;
  out.byte(0xc3);
  out.length(compressed);
  out.length(length);
  out.raw(lzfOutput, 0, compressed);
  return true;
}

/** Writes a string as Redis's `rdbSaveRawString` does: integer, LZF or raw. */
function writeString(out: Output, value: string): void {
  const n = value.length;
  if (n <= 11) {
    const integer = canonicalInteger(value);
    if (fitsInt32(integer)) return writeEncodedInteger(out, integer);
  }
  if (n > 20) {
    lzfInput = scratch(n, lzfInput);
    writeLatin1(lzfInput, value, 0);
    if (writeCompressed(out, lzfInput, n)) return;
    out.length(n);
    out.raw(lzfInput, 0, n);
    return;
  }
  out.length(n);
  out.text(value);
}

/** `writeString` of bytes (a listpack or an intset). */
function writeBlob(out: Output, bytes: Uint8Array, length: number): void {
  if (length > 20 && writeCompressed(out, bytes, length)) return;
  // A listpack or intset never reads as a decimal integer: it starts with a binary header.
  out.length(length);
  out.raw(bytes, 0, length);
}

// Listpacks.

/** Bytes of a listpack element's back-length for an element of `length` bytes. */
function backlenSize(length: number): number {
  if (length <= 127) return 1;
  if (length < 16383) return 2;
  if (length < 2097151) return 3;
  if (length < 268435455) return 4;
  return 5;
}

/** Bytes of the encoding and data of a listpack integer. */
function integerSize(value: number | bigint): number {
  if (value >= 0 && value <= 127) return 1;
  if (value >= -4096 && value <= 4095) return 2;
  if (value >= -32768 && value <= 32767) return 3;
  if (value >= -8388608 && value <= 8388607) return 4;
  if (value >= -2147483648 && value <= 2147483647) return 5;
  return 9;
}

/** Bytes a string takes as a listpack element, back-length included. */
function elementSize(text: string): number {
  const integer = canonicalInteger(text);
  let size: number;
  if (integer !== null) size = integerSize(integer);
  else {
    const n = text.length;
    size = n < 64 ? 1 + n : n < 4096 ? 2 + n : 5 + n;
  }
  return size + backlenSize(size);
}

/** Builds one listpack at a time, reused. */
class ListpackWriter {
  readonly out = new Output(1024);
  count = 0;

  begin(): void {
    this.out.pos = 6;
    this.count = 0;
  }

  /** Total bytes of the listpack as it stands, terminator included. */
  get size(): number {
    return this.out.pos + 1;
  }

  private backlen(length: number): void {
    const out = this.out;
    out.reserve(5);
    const bytes = out.bytes;
    if (length <= 127) bytes[out.pos++] = length;
    else if (length < 16383) {
      bytes[out.pos++] = length >> 7;
      bytes[out.pos++] = (length & 127) | 128;
    } else if (length < 2097151) {
      bytes[out.pos++] = length >> 14;
      bytes[out.pos++] = ((length >> 7) & 127) | 128;
      bytes[out.pos++] = (length & 127) | 128;
    } else if (length < 268435455) {
      bytes[out.pos++] = length >> 21;
      bytes[out.pos++] = ((length >> 14) & 127) | 128;
      bytes[out.pos++] = ((length >> 7) & 127) | 128;
      bytes[out.pos++] = (length & 127) | 128;
    } else {
      bytes[out.pos++] = Math.floor(length / 2 ** 28);
      bytes[out.pos++] = ((length >> 21) & 127) | 128;
      bytes[out.pos++] = ((length >> 14) & 127) | 128;
      bytes[out.pos++] = ((length >> 7) & 127) | 128;
      bytes[out.pos++] = (length & 127) | 128;
    }
  }

  integer(value: number | bigint): void {
    const out = this.out;
    out.reserve(9);
    const bytes = out.bytes;
    const size = integerSize(value);
    if (typeof value === "bigint") {
      bytes[out.pos++] = 0xf4;
      out.view.setBigInt64(out.pos, value, true);
      out.pos += 8;
    } else if (size === 1) {
      bytes[out.pos++] = value;
    } else if (size === 2) {
      const bits = value & 0x1fff;
      bytes[out.pos++] = 0xc0 | (bits >> 8);
      bytes[out.pos++] = bits & 0xff;
    } else if (size === 3) {
      bytes[out.pos++] = 0xf1;
      out.view.setInt16(out.pos, value, true);
      out.pos += 2;
    } else if (size === 4) {
      bytes[out.pos++] = 0xf2;
      bytes[out.pos++] = value & 0xff;
      bytes[out.pos++] = (value >> 8) & 0xff;
      bytes[out.pos++] = (value >> 16) & 0xff;
    } else if (size === 5) {
      bytes[out.pos++] = 0xf3;
      out.view.setInt32(out.pos, value, true);
      out.pos += 4;
    } else {
      bytes[out.pos++] = 0xf4;
      out.view.setBigInt64(out.pos, BigInt(value), true);
      out.pos += 8;
    }
    this.backlen(size);
    this.count++;
  }

  /** Adds a string: as an integer when it is a canonical 64-bit one, as Redis stores it. */
  string(text: string): void {
    const integer = canonicalInteger(text);
    if (integer !== null) return this.integer(integer);
    const out = this.out;
    const n = text.length;
    out.reserve(n + 5);
    const bytes = out.bytes;
    let size: number;
    if (n < 64) {
      bytes[out.pos++] = 0x80 | n;
      size = 1 + n;
    } else if (n < 4096) {
      bytes[out.pos++] = 0xe0 | (n >> 8);
      bytes[out.pos++] = n & 0xff;
      size = 2 + n;
    } else {
      bytes[out.pos++] = 0xf0;
      out.view.setUint32(out.pos, n, true);
      out.pos += 4;
      size = 5 + n;
    }
    out.text(text);
    this.backlen(size);
    this.count++;
  }

  /** Closes the listpack; returns its length (its bytes are `out.bytes`). */
  finish(): number {
    const out = this.out;
    out.byte(0xff);
    out.view.setUint32(0, out.pos, true);
    out.view.setUint16(4, Math.min(this.count, 65535), true);
    return out.pos;
  }
}

const listpack = new ListpackWriter();

/** Writes the listpack `listpack` holds as an RDB string. */
function writeListpack(out: Output): void {
  const length = listpack.finish();
  writeBlob(out, listpack.out.bytes, length);
}

/** Redis 7.0's `%.17g` of a double, as its `d2string` writes scores into a listpack. */
export function d2string(value: number): string {
  if (Number.isNaN(value)) return "nan";
  if (value === Infinity) return "inf";
  if (value === -Infinity) return "-inf";
  // -0 passes the integer test and prints as 0, as in Redis 7.0.
  if (value > -4503599627370495 && value < 4503599627370496 && Number.isInteger(value)) {
    return String(value);
  }
  return formatG17(value);
}

/** C's `%.17g`: 17 significant digits, ties to even as glibc rounds them. */
function formatG17(value: number): string {
  const negative = value < 0;
  const magnitude = Math.abs(value);
  const [mantissa, exponentText] = magnitude.toExponential(16).split("e");
  let digits = mantissa.replace(".", "");
  let exponent = Number(exponentText);
  // toExponential rounds a tie away from zero; glibc to even. A tie is an exact expansion
  // whose 18th digit is 5 with nothing after it.
  const [exactMantissa, exactExponent] = magnitude.toExponential(100).split("e");
  const exact = exactMantissa.replace(".", "");
  if (exact[17] === "5" && /^0*$/.test(exact.slice(18)) && Number(exact[16]) % 2 === 0) {
    digits = exact.slice(0, 17);
    exponent = Number(exactExponent);
  }
  let text: string;
  if (exponent < -4 || exponent >= 17) {
    let fraction = digits.slice(1).replace(/0+$/, "");
    fraction = fraction === "" ? "" : "." + fraction;
    const sign = exponent < 0 ? "-" : "+";
    const absExponent = String(Math.abs(exponent)).padStart(2, "0");
    text = `${digits[0]}${fraction}e${sign}${absExponent}`;
  } else if (exponent >= 0) {
    const whole = digits.slice(0, exponent + 1);
    const fraction = digits.slice(exponent + 1).replace(/0+$/, "");
    text = fraction === "" ? whole : `${whole}.${fraction}`;
  } else {
    const fraction = ("0".repeat(-exponent - 1) + digits).replace(/0+$/, "");
    text = `0.${fraction}`;
  }
  return negative ? "-" + text : text;
}

// Encoding each type.

/** Redis's `list-max-listpack-size` -2: a quicklist node's listpack holds at most 8 KB. */
const QUICKLIST_NODE_BYTES = 8192;
/** Elements this long get a node of their own, unpacked (Redis's `packed_threshold`). */
const PLAIN_ELEMENT_BYTES = 1 << 30;

/** Redis's over-estimate of what an element adds to a listpack beyond its own bytes. */
const NODE_ENTRY_OVERHEAD = 8;

/** Whether Redis would add an element of `length` bytes to a node of `nodeBytes`. */
function nodeTakes(nodeBytes: number, length: number): boolean {
  return nodeBytes + length + NODE_ENTRY_OVERHEAD <= QUICKLIST_NODE_BYTES;
}

function writeList(out: Output, list: ListValue): void {
  const elements = list.toArray();
  // Where nodes end: a list grown at its tail fills each node up to the limit.
  const ends: number[] = [];
  let nodeBytes = 0;
  let plainBefore = false;
  for (let i = 0; i < elements.length; i++) {
    const text = elements[i];
    const plain = text.length >= PLAIN_ELEMENT_BYTES;
    if (i > 0 && (plain || plainBefore || !nodeTakes(nodeBytes, text.length))) {
      ends.push(i);
      nodeBytes = 7;
    } else if (i === 0) nodeBytes = 7;
    nodeBytes += elementSize(text);
    plainBefore = plain;
  }
  ends.push(elements.length);
  out.byte(RDB_TYPE.LIST_QUICKLIST_2);
  out.length(ends.length);
  let start = 0;
  for (const end of ends) {
    if (end - start === 1 && elements[start].length >= PLAIN_ELEMENT_BYTES) {
      out.length(1);
      writeString(out, elements[start]);
    } else {
      out.length(2);
      listpack.begin();
      for (let i = start; i < end; i++) listpack.string(elements[i]);
      writeListpack(out);
    }
    start = end;
  }
}

function writeSet(out: Output, set: SetValue): void {
  if (set.encoding() === "intset") {
    const values = set.values().map((member) => BigInt(member));
    let width = 2;
    for (const value of values) {
      if (value < -2147483648n || value > 2147483647n) width = 8;
      else if ((value < -32768n || value > 32767n) && width < 4) width = 4;
    }
    const blob = new Output(8 + values.length * width);
    blob.view.setUint32(0, width, true);
    blob.view.setUint32(4, values.length, true);
    blob.pos = 8;
    for (const value of values) {
      if (width === 2) blob.view.setInt16(blob.pos, Number(value), true);
      else if (width === 4) blob.view.setInt32(blob.pos, Number(value), true);
      else blob.view.setBigInt64(blob.pos, value, true);
      blob.pos += width;
    }
    out.byte(RDB_TYPE.SET_INTSET);
    writeBlob(out, blob.bytes, blob.pos);
    return;
  }
  const members = set.members.keys;
  out.byte(RDB_TYPE.SET);
  out.length(members.length);
  for (let i = 0; i < members.length; i++) writeString(out, members[i]);
}

function writeHash(out: Output, hash: HashValue): void {
  const { keys, values } = hash.fields;
  if (hash.encoding() === "listpack") {
    out.byte(RDB_TYPE.HASH_LISTPACK);
    listpack.begin();
    for (let i = 0; i < keys.length; i++) {
      listpack.string(keys[i]);
      listpack.string(values[i]);
    }
    writeListpack(out);
    return;
  }
  out.byte(RDB_TYPE.HASH);
  out.length(keys.length);
  for (let i = 0; i < keys.length; i++) {
    writeString(out, keys[i]);
    writeString(out, values[i]);
  }
}

function writeZSet(out: Output, zset: ZSetValue): void {
  if (zset.encoding() === "listpack") {
    out.byte(RDB_TYPE.ZSET_LISTPACK);
    listpack.begin();
    zset.list.walk(0, false, (score, member) => {
      listpack.string(member);
      listpack.string(d2string(score));
      return true;
    });
    writeListpack(out);
    return;
  }
  // Redis writes its skiplist from the highest score down, so loading inserts at the head.
  out.byte(RDB_TYPE.ZSET_2);
  out.length(zset.length);
  zset.list.walk(zset.length - 1, true, (score, member) => {
    writeString(out, member);
    out.double(score === 0 ? 0 : score); // Redis keeps no -0 in a sorted set
    return true;
  });
}

/** Stream entry flags in a node's listpack. */
const STREAM_DELETED = 1;
const STREAM_SAME_FIELDS = 2;

function writeStream(out: Output, stream: StreamValue): void {
  out.byte(RDB_TYPE.STREAM_LISTPACKS_2);
  out.length(stream.nodes.length);
  for (const node of stream.nodes) {
    const key = new Output(16);
    key.streamId(node.master);
    writeBlob(out, key.bytes, 16);
    const master = node.masterFields;
    const masterMs = idMs(node.master);
    const masterSeq = idSeq(node.master);
    listpack.begin();
    listpack.integer(node.live);
    listpack.integer(node.deleted);
    listpack.integer(master.length);
    for (const field of master) listpack.string(field);
    listpack.integer(0);
    for (let i = 0; i < node.ids.length; i++) {
      const id = node.ids[i];
      const fields = node.entries[i];
      const msDelta = BigInt.asIntN(64, idMs(id) - masterMs);
      const seqDelta = BigInt.asIntN(64, idSeq(id) - masterSeq);
      if (fields === null) {
        // A deleted entry keeps its place; its fields are gone here, so it is written with none.
        listpack.integer(STREAM_DELETED);
        listpack.integer(small(msDelta));
        listpack.integer(small(seqDelta));
        listpack.integer(0);
        listpack.integer(4);
        continue;
      }
      const pairs = fields.length / 2;
      let same = master.length === pairs;
      for (let f = 0; same && f < pairs; f++) same = master[f] === fields[2 * f];
      listpack.integer(same ? STREAM_SAME_FIELDS : 0);
      listpack.integer(small(msDelta));
      listpack.integer(small(seqDelta));
      if (same) {
        for (let f = 1; f < fields.length; f += 2) listpack.string(fields[f]);
        listpack.integer(pairs + 3);
      } else {
        listpack.integer(pairs);
        for (const text of fields) listpack.string(text);
        listpack.integer(2 * pairs + 4);
      }
    }
    writeListpack(out);
  }
  out.length(stream.length);
  out.bigLength(idMs(stream.lastId));
  out.bigLength(idSeq(stream.lastId));
  const first = stream.firstId();
  out.bigLength(idMs(first));
  out.bigLength(idSeq(first));
  out.bigLength(idMs(stream.maxDeletedId));
  out.bigLength(idSeq(stream.maxDeletedId));
  out.bigLength(stream.entriesAdded);
  const groups = stream.sortedGroups();
  out.length(groups.length);
  for (const group of groups) {
    writeString(out, group.name);
    out.bigLength(idMs(group.lastId));
    out.bigLength(idSeq(group.lastId));
    out.bigLength(BigInt.asUintN(64, group.entriesRead));
    out.length(group.pel.size);
    group.pel.walk(0n, (id, entry) => {
      out.streamId(id);
      out.milliseconds(entry.deliveryTime);
      out.bigLength(entry.deliveryCount);
      return true;
    });
    const consumers = group.sortedConsumers();
    out.length(consumers.length);
    for (const consumer of consumers) {
      writeString(out, consumer.name);
      out.milliseconds(consumer.seenTime);
      out.length(consumer.pel.size);
      consumer.pel.walk(0n, (id) => {
        out.streamId(id);
        return true;
      });
    }
  }
}

/** A 64-bit integer as a number when it is one exactly. */
function small(value: bigint): number | bigint {
  return value >= -9007199254740991n && value <= 9007199254740991n ? Number(value) : value;
}

/** The RDB object of `value`: its type byte, then the object. */
function writeObject(out: Output, value: Value): void {
  if (typeof value === "string") {
    out.byte(RDB_TYPE.STRING);
    return writeString(out, value);
  }
  switch (value.type) {
    case "list":
      return writeList(out, value as ListValue);
    case "set":
      return writeSet(out, value as SetValue);
    case "hash":
      return writeHash(out, value as HashValue);
    case "zset":
      return writeZSet(out, value as ZSetValue);
    case "stream":
      return writeStream(out, value as StreamValue);
  }
}

/** The RDB object of `value` (type byte and object), as bytes. */
export function encodeRdbObject(value: Value): Uint8Array {
  const out = new Output(typeof value === "string" ? value.length + 16 : 1024);
  writeObject(out, value);
  return out.bytes.slice(0, out.pos);
}

/** The DUMP payload of `value`, as latin1 text (one char per byte), as redis-server 7.0 makes
 * it. */
export function createDumpPayload(value: Value): string {
  const out = new Output(typeof value === "string" ? value.length + 32 : 1024);
  writeObject(out, value);
  out.reserve(10);
  out.bytes[out.pos++] = RDB_VERSION & 0xff;
  out.bytes[out.pos++] = RDB_VERSION >> 8;
  const [low, high] = crc64Halves(out.bytes, 0, out.pos);
  out.view.setUint32(out.pos, low, true);
  out.view.setUint32(out.pos + 4, high, true);
  out.pos += 8;
  return readLatin1(Buffer.from(out.bytes.buffer, 0, out.pos), 0, out.pos);
}

// Reading.

/** Reads an RDB object from `bytes[pos, end)`. */
class Input {
  readonly view: DataView;
  pos: number;

  constructor(readonly bytes: Buffer, start: number, readonly end: number) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = start;
  }

  need(count: number): void {
    if (count < 0 || this.pos + count > this.end) bad("Unexpected EOF reading RDB value");
  }

  byte(): number {
    this.need(1);
    return this.bytes[this.pos++];
  }

  /** A length, or with `allowEncoded` a string encoding as -1 - its number. */
  lengthOrEncoding(): number {
    const first = this.byte();
    const kind = first >> 6;
    if (kind === 0) return first & 0x3f;
    if (kind === 1) return ((first & 0x3f) << 8) | this.byte();
    if (kind === 3) return -1 - (first & 0x3f);
    if (first === 0x80) {
      this.need(4);
      const value = this.view.getUint32(this.pos, false);
      this.pos += 4;
      return value;
    }
    if (first === 0x81) {
      this.need(8);
      const value = this.view.getBigUint64(this.pos, false);
      this.pos += 8;
      return value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(value);
    }
    bad("Unknown length encoding in rdbLoadLen()");
  }

  length(): number {
    const value = this.lengthOrEncoding();
    if (value < 0) bad("Unexpected string encoding where a length belongs");
    return value;
  }

  /** A length as an exact unsigned 64-bit value (stream IDs and counters). */
  bigLength(): bigint {
    const first = this.bytes[this.pos];
    if (first === 0x81) {
      this.pos++;
      this.need(8);
      const value = this.view.getBigUint64(this.pos, false);
      this.pos += 8;
      return value;
    }
    return BigInt(this.length());
  }

  /** A string (raw, integer or LZF) as bytes: the buffer and the range within it. */
  stringBytes(): [Buffer, number, number] {
    const length = this.lengthOrEncoding();
    if (length >= 0) {
      this.need(length);
      const start = this.pos;
      this.pos += length;
      return [this.bytes, start, this.pos];
    }
    const encoding = -1 - length;
    if (encoding <= 2) {
      const text = String(this.encodedInteger(encoding));
      const bytes = Buffer.from(text, "latin1");
      return [bytes, 0, bytes.length];
    }
    if (encoding === 3) {
      const compressed = this.length();
      const size = this.length();
      this.need(compressed);
      if (size > 0x7fff_ffff) bad("LZF string too long");
      const start = this.pos;
      this.pos += compressed;
      const out = lzfDecompress(this.bytes, start, this.pos, size);
      if (out === null) bad("Invalid LZF compressed string");
      return [out, 0, size];
    }
    bad(`Unknown RDB string encoding type ${encoding}`);
  }

  private encodedInteger(encoding: number): number {
    if (encoding === 0) {
      this.need(1);
      return this.view.getInt8(this.pos++);
    }
    if (encoding === 1) {
      this.need(2);
      const value = this.view.getInt16(this.pos, true);
      this.pos += 2;
      return value;
    }
    this.need(4);
    const value = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return value;
  }

  /** A string as latin1 text. */
  string(): string {
    const length = this.lengthOrEncoding();
    if (length >= 0) {
      this.need(length);
      const start = this.pos;
      this.pos += length;
      return readLatin1(this.bytes, start, this.pos);
    }
    const encoding = -1 - length;
    if (encoding <= 2) return String(this.encodedInteger(encoding));
    this.pos--;
    const [bytes, start, end] = this.stringBytes();
    return readLatin1(bytes, start, end);
  }

  /** 16 raw bytes of a stream ID. */
  streamId(): StreamId {
    this.need(16);
    const ms = this.view.getBigUint64(this.pos, false);
    const seq = this.view.getBigUint64(this.pos + 8, false);
    this.pos += 16;
    return streamId(ms, seq);
  }

  milliseconds(): number {
    this.need(8);
    const value = this.view.getBigInt64(this.pos, true);
    this.pos += 8;
    return Number(value);
  }

  double(): number {
    this.need(8);
    const value = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return value;
  }

  /** A score of the old `ZSET` type: a length byte (253 nan, 254 inf, 255 -inf) and text. */
  textDouble(): number {
    const length = this.byte();
    if (length === 253) return NaN;
    if (length === 254) return Infinity;
    if (length === 255) return -Infinity;
    this.need(length);
    const text = readLatin1(this.bytes, this.pos, this.pos + length);
    this.pos += length;
    return parseScore(text);
  }
}

/** A score as C's strtod reads it (`inf`, `-inf` included); NaN for what is not one. */
function parseScore(text: string): number {
  const trimmed = text.trim().toLowerCase();
  if (trimmed === "inf" || trimmed === "+inf" || trimmed === "infinity") return Infinity;
  if (trimmed === "-inf" || trimmed === "-infinity") return -Infinity;
  if (trimmed === "" || trimmed === "nan" || !/^[-+]?[0-9.]/.test(trimmed)) return NaN;
  return Number(trimmed);
}

/** One element of a listpack or ziplist: text, or an integer. */
type Element = string | number | bigint;

function elementText(element: Element): string {
  return typeof element === "string" ? element : String(element);
}

/** The elements of the listpack `bytes[start, end)`, checked entry by entry. */
function readListpack(bytes: Buffer, start: number, end: number): Element[] {
  const size = end - start;
  if (size < 7) bad("Listpack too short");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(start, true) !== size) bad("Listpack size mismatch");
  const declared = view.getUint16(start + 4, true);
  if (bytes[end - 1] !== 0xff) bad("Listpack without terminator");
  const elements: Element[] = [];
  let p = start + 6;
  const last = end - 1;
  while (p < last) {
    const b = bytes[p];
    let length: number; // encoding and data
    let element: Element;
    if (b < 0x80) {
      element = b;
      length = 1;
    } else if (b < 0xc0) {
      const n = b & 0x3f;
      length = 1 + n;
      if (p + length > last) bad("Listpack entry out of range");
      element = readLatin1(bytes, p + 1, p + 1 + n);
    } else if (b < 0xe0) {
      if (p + 2 > last) bad("Listpack entry out of range");
      const bits = ((b & 0x1f) << 8) | bytes[p + 1];
      element = bits >= 4096 ? bits - 8192 : bits;
      length = 2;
    } else if (b < 0xf0) {
      if (p + 2 > last) bad("Listpack entry out of range");
      const n = ((b & 0x0f) << 8) | bytes[p + 1];
      length = 2 + n;
      if (p + length > last) bad("Listpack entry out of range");
      element = readLatin1(bytes, p + 2, p + 2 + n);
    } else if (b === 0xf0) {
      if (p + 5 > last) bad("Listpack entry out of range");
      const n = view.getUint32(p + 1, true);
      length = 5 + n;
      if (p + length > last) bad("Listpack entry out of range");
      element = readLatin1(bytes, p + 5, p + 5 + n);
    } else if (b <= 0xf4) {
      length = b === 0xf1 ? 3 : b === 0xf2 ? 4 : b === 0xf3 ? 5 : 9;
      if (p + length > last) bad("Listpack entry out of range");
      if (b === 0xf1) element = view.getInt16(p + 1, true);
      else if (b === 0xf2) {
        const bits = bytes[p + 1] | (bytes[p + 2] << 8) | (bytes[p + 3] << 16);
        element = bits >= 0x800000 ? bits - 0x1000000 : bits;
      } else if (b === 0xf3) element = view.getInt32(p + 1, true);
      else element = small(view.getBigInt64(p + 1, true));
    } else {
      bad("Invalid listpack entry encoding");
    }
    const back = backlenSize(length);
    if (p + length + back > last) bad("Listpack entry out of range");
    if (decodeBacklen(bytes, p + length, back) !== length) bad("Listpack back-length mismatch");
    p += length + back;
    elements.push(element);
  }
  if (declared !== 65535 && declared !== elements.length) bad("Listpack count mismatch");
  return elements;
}

function decodeBacklen(bytes: Uint8Array, at: number, count: number): number {
  let value = 0;
  for (let i = 0; i < count; i++) value = value * 128 + (bytes[at + i] & 127);
  return value;
}

/** The elements of the ziplist `bytes[start, end)` (what Redis before 7.0 wrote). */
function readZiplist(bytes: Buffer, start: number, end: number): Element[] {
  const size = end - start;
  if (size < 11) bad("Ziplist too short");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(start, true) !== size) bad("Ziplist size mismatch");
  const declared = view.getUint16(start + 8, true);
  if (bytes[end - 1] !== 0xff) bad("Ziplist without terminator");
  const elements: Element[] = [];
  let p = start + 10;
  const last = end - 1;
  while (p < last) {
    p += bytes[p] < 254 ? 1 : bytes[p] === 254 ? 5 : bad("Invalid ziplist prevlen");
    if (p >= last) bad("Ziplist entry out of range");
    const b = bytes[p];
    const kind = b >> 6;
    let element: Element;
    if (kind < 3) {
      let n: number;
      let header: number;
      if (kind === 0) [n, header] = [b & 0x3f, 1];
      else if (kind === 1) {
        if (p + 2 > last) bad("Ziplist entry out of range");
        [n, header] = [((b & 0x3f) << 8) | bytes[p + 1], 2];
      } else {
        if (p + 5 > last) bad("Ziplist entry out of range");
        [n, header] = [view.getUint32(p + 1, false), 5];
      }
      if (p + header + n > last) bad("Ziplist entry out of range");
      element = readLatin1(bytes, p + header, p + header + n);
      p += header + n;
    } else {
      let n: number;
      if (b === 0xc0) n = 2;
      else if (b === 0xd0) n = 4;
      else if (b === 0xe0) n = 8;
      else if (b === 0xf0) n = 3;
      else if (b === 0xfe) n = 1;
      else if (b >= 0xf1 && b <= 0xfd) n = 0;
      else bad("Invalid ziplist entry encoding");
      if (p + 1 + n > last) bad("Ziplist entry out of range");
      if (n === 0) element = (b & 0x0f) - 1;
      else if (n === 1) element = view.getInt8(p + 1);
      else if (n === 2) element = view.getInt16(p + 1, true);
      else if (n === 3) {
        const bits = bytes[p + 1] | (bytes[p + 2] << 8) | (bytes[p + 3] << 16);
        element = bits >= 0x800000 ? bits - 0x1000000 : bits;
      } else if (n === 4) element = view.getInt32(p + 1, true);
      else element = small(view.getBigInt64(p + 1, true));
      p += 1 + n;
    }
    elements.push(element);
  }
  if (declared !== 65535 && declared !== elements.length) bad("Ziplist count mismatch");
  return elements;
}

function readIntset(bytes: Buffer, start: number, end: number): string[] {
  const size = end - start;
  if (size < 8) bad("Intset too short");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const width = view.getUint32(start, true);
  const count = view.getUint32(start + 4, true);
  if (width !== 2 && width !== 4 && width !== 8) bad("Intset encoding is not valid");
  if (8 + count * width !== size) bad("Intset size mismatch");
  const members: string[] = new Array(count);
  for (let i = 0, p = start + 8; i < count; i++, p += width) {
    members[i] = width === 2
      ? String(view.getInt16(p, true))
      : width === 4
      ? String(view.getInt32(p, true))
      : String(view.getBigInt64(p, true));
  }
  return members;
}

/** The listpack or ziplist blob that is the next string of `input`. */
function readPacked(input: Input, ziplist: boolean): Element[] {
  const [bytes, start, end] = input.stringBytes();
  return ziplist ? readZiplist(bytes, start, end) : readListpack(bytes, start, end);
}

function emptyKey(): never {
  bad("Empty keys are not allowed in a DUMP payload");
}

function readList(input: Input, type: number): ListValue {
  const list = new ListValue();
  if (type === RDB_TYPE.LIST) {
    const count = input.length();
    for (let i = 0; i < count; i++) list.pushBack(input.string());
  } else if (type === RDB_TYPE.LIST_ZIPLIST) {
    for (const element of readPacked(input, true)) list.pushBack(elementText(element));
  } else {
    const nodes = input.length();
    for (let n = 0; n < nodes; n++) {
      const container = type === RDB_TYPE.LIST_QUICKLIST_2 ? input.length() : 2;
      if (container === 1) {
        list.pushBack(input.string());
        continue;
      }
      if (container !== 2) bad("Quicklist integrity check failed.");
      // Empty nodes are skipped, as Redis skips them; a list left empty is refused below.
      const packed = readPacked(input, type === RDB_TYPE.LIST_QUICKLIST);
      for (const element of packed) list.pushBack(elementText(element));
    }
  }
  if (list.length === 0) emptyKey();
  return list;
}

function readSet(input: Input, type: number): SetValue {
  const set = new SetValue();
  if (type === RDB_TYPE.SET) {
    const count = input.length();
    for (let i = 0; i < count; i++) {
      if (!set.add(input.string())) bad("Duplicate set members detected");
    }
  } else {
    const [bytes, start, end] = input.stringBytes();
    for (const member of readIntset(bytes, start, end)) {
      if (!set.add(member)) bad("Duplicate set members detected");
    }
  }
  if (set.length === 0) emptyKey();
  return set;
}

function readHash(input: Input, type: number): HashValue {
  const hash = new HashValue();
  if (type === RDB_TYPE.HASH) {
    const count = input.length();
    for (let i = 0; i < count; i++) {
      const field = input.string();
      if (!hash.set(field, input.string())) bad("Duplicate hash fields detected");
    }
  } else if (type === RDB_TYPE.HASH_ZIPMAP) {
    bad("Zipmap hashes are not loaded");
  } else {
    const elements = readPacked(input, type === RDB_TYPE.HASH_ZIPLIST);
    if (elements.length % 2 !== 0) bad("Hash listpack with an odd element count");
    for (let i = 0; i < elements.length; i += 2) {
      if (!hash.set(elementText(elements[i]), elementText(elements[i + 1]))) {
        bad("Duplicate hash fields detected");
      }
    }
  }
  if (hash.length === 0) emptyKey();
  return hash;
}

function readZSet(input: Input, type: number): ZSetValue {
  const zset = new ZSetValue();
  const add = (member: string, score: number) => {
    if (Number.isNaN(score)) bad("Zset with NAN score detected");
    if (!zset.set(member, score)) bad("Duplicate zset fields detected");
  };
  if (type === RDB_TYPE.ZSET || type === RDB_TYPE.ZSET_2) {
    const count = input.length();
    for (let i = 0; i < count; i++) {
      const member = input.string();
      add(member, type === RDB_TYPE.ZSET_2 ? input.double() : input.textDouble());
    }
  } else {
    const elements = readPacked(input, type === RDB_TYPE.ZSET_ZIPLIST);
    if (elements.length % 2 !== 0) bad("Zset listpack with an odd element count");
    for (let i = 0; i < elements.length; i += 2) {
      const score = elements[i + 1];
      add(
        elementText(elements[i]),
        typeof score === "string" ? parseScore(score) : Number(score),
      );
    }
  }
  if (zset.length === 0) emptyKey();
  return zset;
}

/** Builds a stream by way of `StreamValue.dump`'s format, which `restoreStream` reads. */
function readStream(input: Input, type: number): StreamValue {
  const v2 = type === RDB_TYPE.STREAM_LISTPACKS_2;
  const nodeCount = input.length();
  // `StreamValue.dump`'s format: the head (filled in below), nodes, then groups.
  const out: string[] = ["", "", "", String(nodeCount), ""];
  let previous: StreamId = -1n;
  for (let n = 0; n < nodeCount; n++) {
    const [keyBytes, keyStart, keyEnd] = input.stringBytes();
    if (keyEnd - keyStart !== 16) bad("Stream node key entry is not the size of a stream ID");
    const keyView = new DataView(keyBytes.buffer, keyBytes.byteOffset + keyStart, 16);
    const master = streamId(keyView.getBigUint64(0, false), keyView.getBigUint64(8, false));
    const [bytes, start, end] = input.stringBytes();
    const elements = readListpack(bytes, start, end);
    if (elements.length === 0) bad("Empty listpack inside stream");
    let at = 0;
    const integer = (): bigint => {
      const element = elements[at++];
      if (element === undefined || typeof element === "string") bad("Bad stream listpack");
      return BigInt(element);
    };
    const text = (): string => {
      const element = elements[at++];
      if (element === undefined) bad("Bad stream listpack");
      return elementText(element);
    };
    const live = Number(integer());
    const deleted = Number(integer());
    const fieldCount = Number(integer());
    if (fieldCount < 0 || fieldCount > elements.length) bad("Bad stream listpack");
    const masterFields = Array.from({ length: fieldCount }, text);
    if (integer() !== 0n) bad("Bad stream master entry");
    // The node's listpack bytes apart from the master entry's two counters (StreamNode.baseBytes).
    const counterBytes = listpackIntegerBytes(live) + listpackIntegerBytes(deleted);
    const entries: string[] = [];
    let seenLive = 0;
    let seenDeleted = 0;
    let last: StreamId = -1n;
    while (at < elements.length) {
      const flags = Number(integer());
      const ms = BigInt.asUintN(64, idMs(master) + integer());
      const seq = BigInt.asUintN(64, idSeq(master) + integer());
      const id = streamId(ms, seq);
      if (id < master || id <= last || id <= previous) bad("Stream IDs out of order");
      last = id;
      const same = (flags & STREAM_SAME_FIELDS) !== 0;
      const fields: string[] = [];
      if (same) {
        for (const field of masterFields) fields.push(field, text());
      } else {
        const pairs = Number(integer());
        if (pairs < 0 || pairs * 2 > elements.length - at) bad("Bad stream listpack");
        for (let i = 0; i < 2 * pairs; i++) fields.push(text());
      }
      const count = Number(integer());
      if (count !== (same ? fields.length / 2 + 3 : fields.length + 4)) {
        bad("Bad stream entry element count");
      }
      entries.push(formatId(id));
      if ((flags & STREAM_DELETED) !== 0) {
        seenDeleted++;
        entries.push("-1");
      } else {
        if (fields.length === 0) bad("Stream entry without fields");
        seenLive++;
        entries.push(String(fields.length));
        append(entries, fields);
      }
    }
    if (seenLive !== live || seenDeleted !== deleted) bad("Stream node counts mismatch");
    if (live === 0) bad("Stream node without entries");
    previous = last;
    out.push(formatId(master), String(end - start - counterBytes), String(fieldCount));
    append(out, masterFields);
    out.push(String(seenLive + seenDeleted));
    append(out, entries);
  }
  const length = input.length();
  const lastId = streamId(input.bigLength(), input.bigLength());
  let maxDeleted = 0n;
  let entriesAdded = BigInt(length);
  if (v2) {
    input.bigLength(); // the first ID: worked out from the entries here
    input.bigLength();
    maxDeleted = streamId(input.bigLength(), input.bigLength());
    entriesAdded = input.bigLength();
  }
  if (previous > lastId) bad("Stream last ID below an entry's");
  out[0] = formatId(lastId);
  out[1] = String(entriesAdded);
  out[2] = formatId(maxDeleted);
  const groupCount = input.length();
  out[4] = String(groupCount);
  const names = new Set<string>();
  for (let g = 0; g < groupCount; g++) {
    const name = input.string();
    if (names.has(name)) bad("Duplicated consumer group name");
    names.add(name);
    const groupLast = streamId(input.bigLength(), input.bigLength());
    const entriesRead = v2 ? BigInt.asIntN(64, input.bigLength()) : INVALID_ENTRIES_READ;
    const pending = new Map<StreamId, [number, bigint, string | null]>();
    const pendingCount = input.length();
    for (let i = 0; i < pendingCount; i++) {
      const id = input.streamId();
      const time = input.milliseconds();
      const deliveries = input.bigLength();
      if (pending.has(id)) bad("Duplicated global PEL entry loading stream consumer group");
      pending.set(id, [time, deliveries, null]);
    }
    const consumers: string[] = [];
    const consumerNames = new Set<string>();
    const consumerCount = input.length();
    for (let c = 0; c < consumerCount; c++) {
      const consumer = input.string();
      if (consumerNames.has(consumer)) bad("Duplicate stream consumer detected");
      consumerNames.add(consumer);
      consumers.push(consumer, String(input.milliseconds()));
      const owned = input.length();
      for (let i = 0; i < owned; i++) {
        const entry = pending.get(input.streamId());
        if (entry === undefined) bad("Consumer PEL entry not found in group global PEL");
        if (entry[2] !== null) bad("Duplicated consumer PEL entry loading a stream consumer group");
        entry[2] = consumer;
      }
    }
    out.push(name, formatId(groupLast), String(entriesRead), String(pending.size));
    for (
      const [id, [time, deliveries, consumer]] of [...pending].sort((a, b) => a[0] < b[0] ? -1 : 1)
    ) {
      if (consumer === null) bad("Stream CG PEL entry without consumer");
      out.push(formatId(id), consumer, String(time), String(deliveries));
    }
    out.push(String(consumerCount));
    append(out, consumers);
  }
  let stream: StreamValue;
  try {
    stream = restoreStream(out);
  } catch (error) {
    bad(`Bad stream: ${error instanceof Error ? error.message : error}`);
  }
  if (stream.length !== length) bad("Stream length mismatch");
  if (!v2) {
    for (const group of stream.groups.values()) {
      group.entriesRead = stream.entriesReadAt(group.lastId);
    }
  }
  return stream;
}

/** Appends `source` to `target` (a spread into `push` would overflow the stack when long). */
function append(target: string[], source: readonly string[]): void {
  for (let i = 0; i < source.length; i++) target.push(source[i]);
}

/** Bytes a listpack integer element takes, back-length included. */
function listpackIntegerBytes(value: number): number {
  const size = integerSize(value);
  return size + backlenSize(size);
}

/** Reads one RDB object (type byte, then the object) from `bytes[start, end)`. */
function readObject(input: Input): Value {
  const type = input.byte();
  switch (type) {
    case RDB_TYPE.STRING:
      return input.string();
    case RDB_TYPE.LIST:
    case RDB_TYPE.LIST_ZIPLIST:
    case RDB_TYPE.LIST_QUICKLIST:
    case RDB_TYPE.LIST_QUICKLIST_2:
      return readList(input, type);
    case RDB_TYPE.SET:
    case RDB_TYPE.SET_INTSET:
      return readSet(input, type);
    case RDB_TYPE.HASH:
    case RDB_TYPE.HASH_ZIPMAP:
    case RDB_TYPE.HASH_ZIPLIST:
    case RDB_TYPE.HASH_LISTPACK:
      return readHash(input, type);
    case RDB_TYPE.ZSET:
    case RDB_TYPE.ZSET_2:
    case RDB_TYPE.ZSET_ZIPLIST:
    case RDB_TYPE.ZSET_LISTPACK:
      return readZSet(input, type);
    case RDB_TYPE.STREAM_LISTPACKS:
    case RDB_TYPE.STREAM_LISTPACKS_2:
      return readStream(input, type);
    default:
      bad(`Unknown RDB object type ${type}`);
  }
}

/** Decodes an RDB object (type byte and object) from `bytes[start, end)`. */
export function decodeRdbObject(bytes: Uint8Array, start = 0, end: number = bytes.length): Value {
  const buffer = Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return readObject(new Input(buffer, start, end));
}

/** Whether a DUMP payload's footer holds: an RDB version up to 10 and the right CRC-64. */
export function verifyDumpPayload(bytes: Uint8Array): boolean {
  const n = bytes.length;
  if (n < 10) return false;
  const version = bytes[n - 10] | (bytes[n - 9] << 8);
  if (version > RDB_VERSION) return false;
  const [low, high] = crc64Halves(bytes, 0, n - 8);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return view.getUint32(n - 8, true) === low && view.getUint32(n - 4, true) === high;
}

/**
 * The value a DUMP payload (latin1 text) holds; throws a `DumpPayloadError` of kind `footer`
 * for a wrong version or checksum, `format` for contents that are not an RDB object.
 */
export function loadDumpPayload(payload: string): Value {
  const bytes = Buffer.from(payload, "latin1");
  if (!verifyDumpPayload(bytes)) {
    throw new DumpPayloadError("footer", "DUMP payload version or checksum are wrong");
  }
  // Redis reads the object from the whole payload: one that claims more bytes than it has
  // takes them from the footer.
  return readObject(new Input(bytes, 0, bytes.length));
}
