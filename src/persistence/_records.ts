/**
 * AOF records waiting to be written, encoded as RESP straight into one reused byte buffer. A
 * string of pending records (the earlier design) kept every argument of every command alive until
 * its write finished, so they survived young-generation collections and were copied; under
 * `everysec` that cost more per SET than the command itself.
 *
 * @module
 */
import { writeLatin1 } from "../resp/_latin1.ts";

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

/** A growable buffer of encoded records. */
export class RecordBuffer {
  private bytes = new Uint8Array(INITIAL_BYTES);
  /** Bytes in use. */
  length = 0;

  /** Appends `argv` as a RESP multibulk of bulk strings (latin1 text, one char per byte). */
  appendCommand(argv: readonly string[]): void {
    let size = HEADER_BYTES;
    for (const arg of argv) size += HEADER_BYTES + arg.length;
    this.reserve(size);
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
   * The bytes in use, as a view for a write in flight. Appends never change them: they go after
   * them, or into a new buffer when this one is full.
   */
  view(): Uint8Array {
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
  }

  /** Puts `records` before what is in the buffer (records to retry after a failed switch). */
  prepend(records: Uint8Array): void {
    const bytes = new Uint8Array(Math.max(INITIAL_BYTES, records.length + this.length));
    bytes.set(records);
    bytes.set(this.bytes.subarray(0, this.length), records.length);
    this.bytes = bytes;
    this.length += records.length;
  }

  /** Empties the buffer. A new one, since a write still in flight may hold a view of this one. */
  clear(): void {
    this.length = 0;
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
