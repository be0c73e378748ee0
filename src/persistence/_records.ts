/**
 * AOF records waiting to be written, encoded as RESP straight into one reused byte buffer. A
 * string of pending records (the earlier design) kept every argument of every command alive until
 * its write finished, so they survived young-generation collections and were copied; under
 * `everysec` that cost more per SET than the command itself.
 *
 * Each write the AOF writer issues is one batch, preceded by an annotation line that carries the
 * batch's length and CRC-32, so that recovery can tell a torn last write from damage before it:
 *
 * ```
 * #HC:0000000042:1c291ca3\r\n   (25 bytes: "#HC:", 10 decimal digits, ":", 8 lowercase hex, CRLF)
 * *3\r\n$3\r\nSET\r\n...          (the batch: 42 bytes of records)
 * ```
 *
 * Redis 7's AOF loader and `redis-check-aof` skip a line starting with `#` where a command may
 * start (they write `#TS:` timestamp annotations there), so the file stays replayable by Redis.
 * The annotation's room is reserved when a batch's first record is appended and filled in when
 * the batch is sealed for its write: no copy, and nothing per command but one comparison.
 *
 * @module
 */
import { crc32 } from "../_crc32.ts";
import { writeLatin1 } from "../_latin1.ts";

const STAR = 0x2a;
const DOLLAR = 0x24;
const CR = 0x0d;
const LF = 0x0a;
/** Starting size; the buffer grows to fit and shrinks back to this when it empties. */
const INITIAL_BYTES = 64 * 1024;
/** Keep a grown buffer while it is at most this large; a larger one is let go once drained. */
const RETAIN_BYTES = 4 * 1024 * 1024;
/** Room for `*`/`$`, the longest decimal length, and CRLF. */
const HEADER_BYTES = 16;

/** What starts a batch annotation. */
export const ANNOTATION_PREFIX = "#HC:";
/** Bytes of a batch annotation line. */
export const ANNOTATION_BYTES = 25;
/** Decimal digits of the length field (fixed width, so the room can be reserved up front). */
const LENGTH_DIGITS = 10;
/** Largest batch the length field can hold. */
export const MAX_BATCH_BYTES = 10 ** LENGTH_DIGITS - 1;
const HEX = "0123456789abcdef";

/** Writes the annotation of the batch `bytes[at + ANNOTATION_BYTES, end)` at `at`. */
export function writeAnnotation(bytes: Uint8Array, at: number, end: number): void {
  const start = at + ANNOTATION_BYTES;
  let length = end - start;
  if (length > MAX_BATCH_BYTES) throw new RangeError(`AOF batch of ${length} bytes is too large`);
  const crc = crc32(bytes, start, end);
  for (let i = 0; i < 4; i++) bytes[at + i] = ANNOTATION_PREFIX.charCodeAt(i);
  for (let i = at + 4 + LENGTH_DIGITS - 1; i >= at + 4; i--) {
    bytes[i] = 0x30 + length % 10;
    length = Math.floor(length / 10);
  }
  bytes[at + 14] = 0x3a; // ":"
  for (let i = 0; i < 8; i++) bytes[at + 15 + i] = HEX.charCodeAt((crc >>> (28 - 4 * i)) & 0xf);
  bytes[at + 23] = CR;
  bytes[at + 24] = LF;
}

/** Why bytes are not a batch annotation, and the first offending byte. */
export interface BadAnnotation {
  bad: number;
  reason: string;
}

/**
 * Reads the annotation at `at`: its batch length and CRC-32; `null` when the bytes up to `end`
 * are a valid beginning of one (a torn write); a {@linkcode BadAnnotation} when they are not.
 */
export function readAnnotation(
  bytes: Uint8Array,
  at: number,
  end: number,
): { length: number; crc: number } | null | BadAnnotation {
  const stop = Math.min(end, at + ANNOTATION_BYTES);
  let length = 0;
  let crc = 0;
  for (let i = at; i < stop; i++) {
    const c = bytes[i];
    const field = i - at;
    if (field < 4) {
      if (c !== ANNOTATION_PREFIX.charCodeAt(field)) {
        return { bad: i, reason: "not a batch annotation" };
      }
    } else if (field < 4 + LENGTH_DIGITS) {
      if (c < 0x30 || c > 0x39) return { bad: i, reason: "bad batch length in the annotation" };
      length = length * 10 + c - 0x30;
    } else if (field === 14) {
      if (c !== 0x3a) return { bad: i, reason: "bad batch annotation" };
    } else if (field < 23) {
      const digit = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : -1;
      if (digit < 0) return { bad: i, reason: "bad checksum in the annotation" };
      crc = crc * 16 + digit;
    } else if (c !== (field === 23 ? CR : LF)) {
      return { bad: i, reason: "bad end of the batch annotation" };
    }
  }
  if (stop - at < ANNOTATION_BYTES) return null;
  if (length === 0) return { bad: at + 4, reason: "an empty batch" };
  return { length, crc };
}

/** A growable buffer of encoded records, in annotated batches. */
export class RecordBuffer {
  private bytes = new Uint8Array(INITIAL_BYTES);
  /** Bytes in use. */
  length = 0;
  /** Offset of the annotation of the batch still open to appends; -1 when none is. */
  private open = -1;

  /** Appends `argv` as a RESP multibulk of bulk strings (latin1 text, one char per byte). */
  appendCommand(argv: readonly string[]): void {
    let size = HEADER_BYTES + ANNOTATION_BYTES;
    for (const arg of argv) size += HEADER_BYTES + arg.length;
    this.reserve(size);
    if (this.open === -1) {
      this.open = this.length;
      this.length += ANNOTATION_BYTES;
    }
    const bytes = this.bytes;
    let offset = this.length;
    bytes[offset++] = STAR;
    offset = writeDecimal(bytes, offset, argv.length);
    for (const arg of argv) {
      bytes[offset++] = DOLLAR;
      offset = writeDecimal(bytes, offset, arg.length);
      offset += writeLatin1(bytes, arg, offset);
      bytes[offset++] = CR;
      bytes[offset++] = LF;
    }
    this.length = offset;
  }

  /**
   * Seals the open batch (fills in its annotation) and returns the bytes in use, as a view for a
   * write in flight. Appends never change them: they start a new batch after them, or go into a
   * new buffer when this one is full.
   */
  view(): Uint8Array {
    if (this.open !== -1) {
      writeAnnotation(this.bytes, this.open, this.length);
      this.open = -1;
    }
    return this.bytes.subarray(0, this.length);
  }

  /** Drops the first `count` bytes (written); call only while no write holds a view. */
  consume(count: number): void {
    if (count === this.length && this.bytes.length > RETAIN_BYTES) {
      this.bytes = new Uint8Array(INITIAL_BYTES);
    } else if (count < this.length) {
      this.bytes.copyWithin(0, count, this.length);
    }
    this.length -= count;
    // What was written had been sealed, so the open batch (if any) lies after it.
    if (this.open !== -1) this.open -= count;
  }

  /** Puts sealed `records` before what is in the buffer (a retry after a failed switch). */
  prepend(records: Uint8Array): void {
    const bytes = new Uint8Array(Math.max(INITIAL_BYTES, records.length + this.length));
    bytes.set(records);
    bytes.set(this.bytes.subarray(0, this.length), records.length);
    this.bytes = bytes;
    this.length += records.length;
    if (this.open !== -1) this.open += records.length;
  }

  /** Empties the buffer. A new one, since a write still in flight may hold a view of this one. */
  clear(): void {
    this.length = 0;
    this.open = -1;
    this.bytes = new Uint8Array(INITIAL_BYTES);
  }

  private reserve(size: number): void {
    if (this.length + size <= this.bytes.length) return;
    // A new buffer rather than a resize in place: a write in flight may hold a view of this one.
    const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.length + size));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }
}

/** Writes `value` (a non-negative integer) in decimal, then CRLF; returns the next offset. */
function writeDecimal(bytes: Uint8Array, offset: number, value: number): number {
  if (value < 10) {
    bytes[offset++] = 0x30 + value;
  } else {
    const digits = String(value);
    for (let i = 0; i < digits.length; i++) bytes[offset++] = digits.charCodeAt(i);
  }
  bytes[offset++] = CR;
  bytes[offset++] = LF;
  return offset;
}
