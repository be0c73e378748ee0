/**
 * Incremental RESP request parser: multibulk (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`) and inline
 * (`GET k\r\n`) commands, fed with input split at any byte. Arguments come out as latin1 strings,
 * one char per byte, so any byte string round-trips unchanged.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { MAX_INLINE_BYTES } from "../constants.ts";
import { forgetSource, noteSource, readLatin1 } from "../_latin1.ts";
import { ON_DENO } from "../runtime/detect.ts";

/** Limits applied while parsing, from the config. */
export interface ParserLimits {
  /** Largest bulk argument in bytes (`proto-max-bulk-len`). */
  maxBulkBytes: number;
  /** Most arguments in one command. */
  maxMultibulkLength: number;
  /** Most unparsed bytes held for one client (`client-query-buffer-limit`). */
  maxQueryBufferBytes: number;
  /** These are the limits of a client that has not authenticated: errors say so, as Redis's. */
  unauthenticated?: boolean;
}

/** A request the client sent that cannot be parsed; the connection must be closed after it. */
export class ProtocolError extends Error {
  /** Error name. */
  override name = "ProtocolError";
}

/** Arguments up to this size are built with one fixed-arity `String.fromCharCode` call where
 * that beats the native slice: on Deno the slice is a call into Rust, 40 ns for a 16-byte key
 * against 14; on Bun the slice takes 20 ns at any length and wins above 4 bytes. */
const SHORT_ARG_BYTES = ON_DENO ? 16 : 4;

function shortLatin1(b: Uint8Array, s: number, size: number): string {
  const f = String.fromCharCode;
  // deno-fmt-ignore
  switch (size) {
    case 0: return "";
    case 1: return f(b[s]);
    case 2: return f(b[s], b[s + 1]);
    case 3: return f(b[s], b[s + 1], b[s + 2]);
    case 4: return f(b[s], b[s + 1], b[s + 2], b[s + 3]);
    case 5: return f(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4]);
    case 6: return f(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5]);
    case 7: return f(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6]);
    case 8: return f(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6], b[s + 7]);
    case 9: return f(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6], b[s + 7], b[s + 8]);
    case 10: return f(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6], b[s + 7], b[s + 8], b[s + 9]);
    case 11: return f(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6], b[s + 7], b[s + 8], b[s + 9], b[s + 10]);
    case 12: return f(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6], b[s + 7], b[s + 8], b[s + 9], b[s + 10], b[s + 11]);
    case 13: return f(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6], b[s + 7], b[s + 8], b[s + 9], b[s + 10], b[s + 11], b[s + 12]);
    case 14: return f(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6], b[s + 7], b[s + 8], b[s + 9], b[s + 10], b[s + 11], b[s + 12], b[s + 13]);
    case 15: return f(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6], b[s + 7], b[s + 8], b[s + 9], b[s + 10], b[s + 11], b[s + 12], b[s + 13], b[s + 14]);
    case 16: return f(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6], b[s + 7], b[s + 8], b[s + 9], b[s + 10], b[s + 11], b[s + 12], b[s + 13], b[s + 14], b[s + 15]);
    default: throw new RangeError(`shortLatin1: ${size} bytes`);
  }
}

/** Command names seen lately, by a hash of their bytes. A name found here is the same string
 * object as last time, whose hash the command table's `Map` has cached: 5 ns a lookup against
 * 30 for a new string. Any first argument may land here; the table stays this size. */
const NAME_SLOTS = 256;
/** Longer first arguments are not looked for (no command name is this long). */
const NAME_MAX_BYTES = 20;
const names: string[] = new Array(NAME_SLOTS).fill("");

/** `buffer[start, start + size)` as a string, from `names` when it was seen before. */
function commandName(buffer: Buffer, start: number, size: number): string {
  if (size > NAME_MAX_BYTES) return readLatin1(buffer, start, start + size);
  let hash = size;
  for (let i = 0; i < size; i++) hash = Math.imul(hash ^ buffer[start + i], 0x01000193);
  const slot = (hash ^ (hash >>> 15)) & (NAME_SLOTS - 1);
  const cached = names[slot];
  if (cached.length === size) {
    let i = 0;
    while (i < size && cached.charCodeAt(i) === buffer[start + i]) i++;
    if (i === size) return cached;
  }
  return names[slot] = size <= SHORT_ARG_BYTES
    ? shortLatin1(buffer, start, size)
    : readLatin1(buffer, start, start + size);
}

const CR = 13;
const LF = 10;
const MINUS = 45;
const STAR = 42;
const DOLLAR = 36;
const ZERO = 48;

/** Returned by the step functions when more input is needed. */
const INCOMPLETE = -1;

/**
 * Parses requests from a byte stream. Feed each read with `feed`, which calls `onCommand` for every
 * complete command in it, in order.
 *
 * @example
 * ```ts
 * import { RespParser } from "./parser.ts";
 * const parser = new RespParser({ maxBulkBytes: 1 << 20, maxMultibulkLength: 1024, maxQueryBufferBytes: 1 << 20 });
 * const commands: string[][] = [];
 * parser.feed(new TextEncoder().encode("*1\r\n$4\r\nPI"), (argv) => commands.push(argv));
 * parser.feed(new TextEncoder().encode("NG\r\nECHO hi\r\n"), (argv) => commands.push(argv));
 * // commands is [["PING"], ["ECHO", "hi"]]
 * ```
 */
export class RespParser {
  /** Unparsed bytes carried over from earlier reads. */
  private residue: Buffer | null = null;
  private residueLength = 0;
  /** Do not try to parse again before the residue has this many bytes (a large bulk arriving). */
  private neededBytes = 0;
  /** The last command parsed; each parse makes a new array, so a callee may keep it. */
  private argv: string[] = [];
  private pos = 0;
  /** Bytes of complete commands parsed so far (AOF replay reports offsets with it). */
  consumedBytes = 0;

  /** A parser enforcing `limits`. */
  constructor(private limits: ParserLimits) {}

  /** Enforces other limits from the next header on (a client that authenticated). */
  setLimits(limits: ParserLimits): void {
    this.limits = limits;
  }

  /** Bytes held from an incomplete command. */
  get bufferedBytes(): number {
    return this.residueLength;
  }

  /**
   * Parses every complete command in `bytes` (after what was buffered before). `bytes` is not kept:
   * an incomplete tail is copied. Throws `ProtocolError` on malformed input; commands before the
   * malformed one have already been passed to `onCommand`.
   */
  feed(bytes: Uint8Array, onCommand: (argv: string[]) => void): void {
    let buffer: Buffer;
    let length: number;
    if (this.residueLength === 0) {
      buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      length = bytes.length;
    } else {
      this.append(bytes);
      if (this.residueLength < this.neededBytes) return;
      buffer = this.residue!;
      length = this.residueLength;
    }
    this.neededBytes = 0;
    let start = 0;
    try {
      while (start < length) {
        this.pos = start;
        const first = buffer[start];
        const end = first === STAR
          ? this.parseMultibulk(buffer, length)
          : this.parseInline(buffer, length);
        if (end === INCOMPLETE) break;
        this.consumedBytes += end - start;
        start = end;
        const argv = this.argv;
        // An empty inline line is skipped, as Redis does.
        if (argv.length > 0) onCommand(argv);
        forgetSource();
      }
    } finally {
      // The bytes noted for the last argument may be reused by the runtime once this returns.
      forgetSource();
    }
    this.keep(buffer, start, length);
  }

  /** Adds a read to the residue, within the query buffer limit. */
  private append(bytes: Uint8Array): void {
    const needed = this.residueLength + bytes.length;
    if (needed > this.limits.maxQueryBufferBytes) {
      throw new ProtocolError("Protocol error: client query buffer limit exceeded");
    }
    if (this.residue === null || this.residue.length < needed) {
      const grown = Buffer.allocUnsafe(Math.max(needed, (this.residue?.length ?? 0) * 2, 4096));
      if (this.residue) this.residue.copy(grown, 0, 0, this.residueLength);
      this.residue = grown;
    }
    this.residue.set(bytes, this.residueLength);
    this.residueLength = needed;
  }

  /** Keeps `buffer[start, length)` for the next read. */
  private keep(buffer: Buffer, start: number, length: number): void {
    const rest = length - start;
    if (rest === 0) {
      this.residueLength = 0;
      this.neededBytes = 0;
      // Drop a large residue once it is consumed, so an idle client holds little memory.
      if (this.residue !== null && this.residue.length > 64 * 1024) this.residue = null;
      return;
    }
    if (rest > this.limits.maxQueryBufferBytes) {
      throw new ProtocolError("Protocol error: client query buffer limit exceeded");
    }
    if (buffer === this.residue) {
      if (start > 0) buffer.copy(buffer, 0, start, length);
    } else {
      this.residue = Buffer.allocUnsafe(Math.max(rest, 4096));
      buffer.copy(this.residue, 0, start, length);
    }
    this.residueLength = rest;
    this.neededBytes = Math.max(this.neededBytes - start, 0);
  }

  /**
   * Index of the CR of the next CRLF at or after `from`, or INCOMPLETE. `what` names the line in
   * the error for a line too long to be a header (`mbulk` or `bulk`, as Redis says).
   */
  private lineEnd(buffer: Buffer, from: number, length: number, what: string): number {
    // Header lines are a few bytes long: a plain loop beats the native indexOf call here.
    let index = from;
    while (index < length && buffer[index] !== CR) index++;
    if (index >= length - 1) {
      if (length - from > MAX_INLINE_BYTES) {
        throw new ProtocolError(`Protocol error: too big ${what} count string`);
      }
      return INCOMPLETE;
    }
    return index;
  }

  /**
   * Reads a decimal integer in `buffer[from, to)`; NaN when it is not one. Strict as Redis's
   * `string2ll`: no `+`, no leading zeros, no `-0`.
   */
  private integer(buffer: Buffer, from: number, to: number): number {
    if (from === to || to - from > 18) return NaN;
    let negative = false;
    let i = from;
    if (buffer[i] === MINUS) {
      negative = true;
      i++;
      if (i === to) return NaN;
    }
    if (buffer[i] === ZERO && (negative || to - i > 1)) return NaN;
    let value = 0;
    for (; i < to; i++) {
      const digit = buffer[i] - 48;
      if (digit < 0 || digit > 9) return NaN;
      value = value * 10 + digit;
    }
    return negative ? -value : value;
  }

  /** Parses `*N` then N bulk strings; returns the end offset or INCOMPLETE. */
  private parseMultibulk(buffer: Buffer, length: number): number {
    const headerEnd = this.lineEnd(buffer, this.pos, length, "mbulk");
    if (headerEnd === INCOMPLETE) return INCOMPLETE;
    const count = this.integer(buffer, this.pos + 1, headerEnd);
    if (Number.isNaN(count) || count > this.limits.maxMultibulkLength) {
      throw new ProtocolError(
        this.limits.unauthenticated && !Number.isNaN(count)
          ? "Protocol error: unauthenticated multibulk length"
          : "Protocol error: invalid multibulk length",
      );
    }
    let pos = headerEnd + 2;
    // A new array per command, filled by index and published once complete. (Resetting a
    // shared one with `length = 0` and pushing cost V8 50 ns a command.)
    const argv: string[] = [];
    for (let i = 0; i < count; i++) {
      if (pos >= length) return this.incomplete(pos + 1);
      if (buffer[pos] !== DOLLAR) {
        throw new ProtocolError(
          `Protocol error: expected '$', got '${String.fromCharCode(buffer[pos])}'`,
        );
      }
      const lineEnd = this.lineEnd(buffer, pos, length, "bulk");
      if (lineEnd === INCOMPLETE) return INCOMPLETE;
      const size = this.integer(buffer, pos + 1, lineEnd);
      if (Number.isNaN(size) || size < 0 || size > this.limits.maxBulkBytes) {
        throw new ProtocolError(
          this.limits.unauthenticated && size > this.limits.maxBulkBytes
            ? "Protocol error: unauthenticated bulk length"
            : "Protocol error: invalid bulk length",
        );
      }
      const dataStart = lineEnd + 2;
      const dataEnd = dataStart + size;
      if (dataEnd + 2 > length) return this.incomplete(dataEnd + 2);
      if (i === 0) argv[i] = commandName(buffer, dataStart, size);
      else if (size <= SHORT_ARG_BYTES) argv[i] = shortLatin1(buffer, dataStart, size);
      else {
        const text = readLatin1(buffer, dataStart, dataEnd);
        // A store that keeps this argument (SET's value) copies these bytes instead of
        // encoding the string back; they stay put while the command runs.
        noteSource(text, buffer, dataStart);
        argv[i] = text;
      }
      pos = dataEnd + 2;
    }
    this.argv = argv;
    return pos;
  }

  /** Notes how many bytes (counted from the command's start) must arrive before parsing again. */
  private incomplete(neededEnd: number): number {
    this.neededBytes = neededEnd;
    return INCOMPLETE;
  }

  /** Parses an inline command line; returns the end offset or INCOMPLETE. */
  private parseInline(buffer: Buffer, length: number): number {
    const newline = buffer.indexOf(LF, this.pos);
    if (newline === -1 || newline >= length) {
      if (length - this.pos > MAX_INLINE_BYTES) {
        throw new ProtocolError("Protocol error: too big inline request");
      }
      return INCOMPLETE;
    }
    let lineEnd = newline;
    if (lineEnd > this.pos && buffer[lineEnd - 1] === CR) lineEnd--;
    const line = readLatin1(buffer, this.pos, lineEnd);
    const argv = splitInlineArgs(line);
    if (argv === null) throw new ProtocolError("Protocol error: unbalanced quotes in request");
    this.argv = argv;
    return newline + 1;
  }
}

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 97 && code <= 102) return code - 87;
  if (code >= 65 && code <= 70) return code - 55;
  return -1;
}

const ESCAPES: Record<string, string> = { n: "\n", r: "\r", t: "\t", b: "\b", a: "\x07" };

/**
 * Splits an inline command line into arguments the way Redis's `sdssplitargs` does: whitespace
 * separates, "double quotes" take escapes (`\n`, `\xff`), 'single quotes' take `\'` only.
 * Returns `null` for unbalanced quotes.
 */
export function splitInlineArgs(line: string): string[] | null {
  const args: string[] = [];
  let i = 0;
  // Redis splits a C string: a NUL byte ends the line (and leaves a quote open).
  const nul = line.indexOf("\0");
  const n = nul === -1 ? line.length : nul;
  // `isspace` skips blanks between words and checks after a closing quote...
  const isSpace = (c: string) =>
    c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\v" || c === "\f";
  // ...but only these end an unquoted word.
  const endsWord = (c: string) => c === " " || c === "\t" || c === "\n" || c === "\r";
  while (true) {
    while (i < n && isSpace(line[i])) i++;
    if (i >= n) return args;
    let current = "";
    let inDouble = false;
    let inSingle = false;
    let done = false;
    while (!done) {
      const c = line[i];
      if (inDouble) {
        if (i >= n) return null;
        if (
          c === "\\" && line[i + 1] === "x" && hexValue(line.charCodeAt(i + 2)) >= 0 &&
          hexValue(line.charCodeAt(i + 3)) >= 0
        ) {
          current += String.fromCharCode(
            hexValue(line.charCodeAt(i + 2)) * 16 + hexValue(line.charCodeAt(i + 3)),
          );
          i += 3;
        } else if (c === "\\" && i + 1 < n) {
          i++;
          current += ESCAPES[line[i]] ?? line[i];
        } else if (c === '"') {
          // A closing quote must be followed by a space or the end.
          if (i + 1 < n && !isSpace(line[i + 1])) return null;
          done = true;
        } else {
          current += c;
        }
      } else if (inSingle) {
        if (i >= n) return null;
        if (c === "\\" && line[i + 1] === "'") {
          i++;
          current += "'";
        } else if (c === "'") {
          if (i + 1 < n && !isSpace(line[i + 1])) return null;
          done = true;
        } else {
          current += c;
        }
      } else if (i >= n || endsWord(c)) {
        done = true;
      } else if (c === '"') {
        inDouble = true;
      } else if (c === "'") {
        inSingle = true;
      } else {
        current += c;
      }
      if (i < n) i++;
    }
    args.push(current);
  }
}
