/**
 * RESP2/RESP3 reply encoder writing into one reused buffer, so a pipeline of replies costs one
 * allocation-free pass and one socket write.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { readLatin1, writeLatin1 } from "../_latin1.ts";

/** What a writer shrinks back to after a huge reply. */
const INITIAL_BYTES = 64 * 1024;
/**
 * Its first buffer, taken only once bytes are written: a writer made for one deferred reply
 * (forwarded, blocked) often only carries text, and a 64 KiB buffer per reply was zero-filled on
 * Deno at the cost of the rest of the forwarding.
 */
const FIRST_BYTES = 4096;
const EMPTY = Buffer.alloc(0);
/** A buffer grown past this for one huge reply is dropped after use, to give the memory back. */
const KEEP_MAX_BYTES = 4 * 1024 * 1024;

const encoder = new TextEncoder();

/** A byte string the writer copies without making a JS string of it (a stored value). */
export interface ByteSource {
  /** Its length in bytes. */
  stringLength(): number;
  /** Copies its bytes to `target` at `at` (room is made); returns their count. */
  copyString(target: Uint8Array, at: number): number;
}

/** Protocol version of a connection: 2 (default) or 3 after `HELLO 3`. */
export type RespVersion = 2 | 3;

/**
 * Encodes replies. Strings are latin1 (one char per byte), so binary values pass unchanged.
 *
 * Replies accumulate in a JS string (concatenation is cheap in V8 and JSC) and become bytes once
 * per batch: `encodeInto` is the fastest bulk conversion on both runtimes and is exact for ASCII;
 * a batch with bytes >= 0x80 is converted again as latin1. A value that is bytes already (a
 * stored value, {@linkcode ByteSource}) is copied into the buffer after the text before it.
 *
 * @example
 * ```ts
 * import { ReplyWriter } from "./writer.ts";
 * const out = new ReplyWriter();
 * out.arrayHeader(2);
 * out.bulk("a");
 * out.integer(1);
 * new TextDecoder().decode(out.take()); // "*2\r\n$1\r\na\r\n:1\r\n"
 * ```
 */
export class ReplyWriter {
  private buffer: Buffer = EMPTY;
  /** Bytes at the start of `buffer` already holding replies (from `bulkFrom`); `out` follows. */
  private committed = 0;
  private out = "";
  /** The protocol of the connection being answered; set before each command. */
  protocol: RespVersion = 2;

  /** Bytes of the reused buffer (memory figures and tests). */
  get bufferBytes(): number {
    return this.buffer.length;
  }

  /** Bytes written since the last `take`. */
  get size(): number {
    return this.committed + this.out.length;
  }

  /** The encoded bytes, valid until the next `take`; resets the writer. */
  take(): Uint8Array {
    const text = this.out;
    this.out = "";
    if (this.committed === 0) return this.encode(text);
    this.reserve(text.length);
    const length = this.committed + writeLatin1(this.buffer, text, this.committed);
    this.committed = 0;
    return this.buffer.subarray(0, length);
  }

  /** The latin1 text written since `mark`, removed from the writer (for queued replies). */
  cut(mark: number): string {
    if (this.committed === 0) {
      const text = this.out.slice(mark);
      this.out = this.out.slice(0, mark);
      return text;
    }
    this.commit(0);
    const text = readLatin1(this.buffer, mark, this.committed);
    this.committed = mark;
    return text;
  }

  /** A bulk string copied from `source`'s bytes. */
  bulkFrom(source: ByteSource): void {
    const length = source.stringLength();
    this.out += "$" + length + "\r\n";
    this.commit(length + 2);
    this.committed += source.copyString(this.buffer, this.committed);
    this.out = "\r\n";
  }

  /** Moves the pending text into the buffer, with room for `extra` bytes after it. */
  private commit(extra: number): void {
    const text = this.out;
    this.reserve(text.length + extra);
    this.committed += writeLatin1(this.buffer, text, this.committed);
    this.out = "";
  }

  /** Grows the buffer, keeping the committed bytes, to hold `bytes` more after them. */
  private reserve(bytes: number): void {
    const needed = this.committed + bytes;
    if (this.committed === 0 && this.buffer.length > KEEP_MAX_BYTES && needed < INITIAL_BYTES) {
      // A new batch, small after a huge one: give the memory back, as `encode` does.
      this.buffer = Buffer.allocUnsafe(INITIAL_BYTES);
      return;
    }
    if (this.buffer.length >= needed) return;
    const grown = Buffer.allocUnsafe(Math.max(needed, this.buffer.length * 2, FIRST_BYTES));
    grown.set(this.buffer.subarray(0, this.committed));
    this.buffer = grown;
  }

  /** Appends already-encoded reply text (from `cut`). */
  rawText(text: string): void {
    this.out += text;
  }

  /** Turns latin1 reply text into bytes in the reused buffer. */
  private encode(text: string): Uint8Array {
    if (this.buffer.length < text.length) {
      this.buffer = Buffer.allocUnsafe(
        Math.max(text.length, this.buffer.length * 2, FIRST_BYTES),
      );
    } else if (this.buffer.length > KEEP_MAX_BYTES && text.length < INITIAL_BYTES) {
      this.buffer = Buffer.allocUnsafe(INITIAL_BYTES);
    }
    const { read, written } = encoder.encodeInto(text, this.buffer);
    if (read === text.length && written === text.length) return this.buffer.subarray(0, written);
    const length = this.buffer.write(text, 0, "latin1");
    return this.buffer.subarray(0, length);
  }

  /** Appends protocol text. */
  private ascii(text: string): void {
    this.out += text;
  }

  /** `+OK` */
  simple(text: string): void {
    this.ascii(`+${text}\r\n`);
  }

  /** `+OK` */
  ok(): void {
    this.ascii("+OK\r\n");
  }

  /** An error reply; `text` starts with its code (`ERR ...`, `WRONGTYPE ...`). */
  error(text: string): void {
    this.ascii(`-${text.replace(/[\r\n]+/g, " ")}\r\n`);
  }

  /** An integer reply (`:n`). */
  integer(value: number | bigint): void {
    this.ascii(`:${value}\r\n`);
  }

  /** A bulk string, or the null reply for `null`. */
  bulk(value: string | null): void {
    if (value === null) return this.nullReply();
    this.out += "$" + value.length + "\r\n" + value + "\r\n";
  }

  /** `$-1` in RESP2, `_` in RESP3. */
  nullReply(): void {
    this.ascii(this.protocol === 3 ? "_\r\n" : "$-1\r\n");
  }

  /** `*-1` in RESP2 (a null array, as for an aborted EXEC or a timed-out BLPOP), `_` in RESP3. */
  nullArray(): void {
    this.ascii(this.protocol === 3 ? "_\r\n" : "*-1\r\n");
  }

  /** The header of an array of `count` items; the items follow. */
  arrayHeader(count: number): void {
    this.ascii(`*${count}\r\n`);
  }

  /** A map of `count` pairs: `%` in RESP3, a flat array in RESP2. */
  mapHeader(count: number): void {
    this.ascii(this.protocol === 3 ? `%${count}\r\n` : `*${count * 2}\r\n`);
  }

  /** A set: `~` in RESP3, an array in RESP2. */
  setHeader(count: number): void {
    this.ascii(this.protocol === 3 ? `~${count}\r\n` : `*${count}\r\n`);
  }

  /** An out-of-band push (pub/sub): `>` in RESP3, an array in RESP2. */
  pushHeader(count: number): void {
    this.ascii(this.protocol === 3 ? `>${count}\r\n` : `*${count}\r\n`);
  }

  /** A double: `,` in RESP3, a bulk string in RESP2. */
  double(value: number): void {
    const text = formatDouble(value);
    if (this.protocol === 3) this.ascii(`,${text}\r\n`);
    else this.bulk(text);
  }

  /** A boolean: `#t`/`#f` in RESP3, `:1`/`:0` in RESP2. */
  boolean(value: boolean): void {
    if (this.protocol === 3) this.ascii(value ? "#t\r\n" : "#f\r\n");
    else this.ascii(value ? ":1\r\n" : ":0\r\n");
  }

  /** Verbatim text (INFO in RESP3); a bulk string in RESP2. */
  verbatim(text: string): void {
    if (this.protocol === 3) {
      this.out += `=${text.length + 4}\r\ntxt:${text}\r\n`;
    } else {
      this.bulk(text);
    }
  }

  /** An array of bulk strings (`null` items as null replies). */
  bulkArray(values: readonly (string | null)[]): void {
    this.arrayHeader(values.length);
    for (const value of values) this.bulk(value);
  }
}

/**
 * Formats a double the way Redis 7.0 replies with one (its `d2string`, and RESP3's `%.17g`):
 * `inf`, `-inf`, `nan`, `-0`, else C's `%.17g`: 17 significant digits without trailing zeros,
 * in exponent form (`1e+21`, `1.0000000000000001e-05`) below 1e-4 or from 1e17 (so 0.1 is
 * `0.10000000000000001`, as Redis answers it).
 */
export function formatDouble(value: number): string {
  if (value === Infinity) return "inf";
  if (value === -Infinity) return "-inf";
  if (Number.isNaN(value)) return "nan";
  if (value === 0) return Object.is(value, -0) ? "-0" : "0";
  if (Number.isInteger(value) && Math.abs(value) < 1e15) return String(value);
  const exponential = value.toExponential(16);
  const at = exponential.indexOf("e");
  const exponent = Number(exponential.slice(at + 1));
  if (exponent < -4 || exponent >= 17) {
    const mantissa = exponential.slice(0, at).replace(/\.?0+$/, "");
    const digits = String(Math.abs(exponent)).padStart(2, "0");
    return `${mantissa}e${exponent < 0 ? "-" : "+"}${digits}`;
  }
  const fixed = value.toFixed(16 - exponent);
  return fixed.includes(".") ? fixed.replace(/\.?0+$/, "") : fixed;
}
