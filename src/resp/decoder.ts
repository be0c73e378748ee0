/**
 * An incremental RESP2/RESP3 reply decoder: feed it bytes (or latin1 text, one char per byte) as
 * they arrive and it hands back every complete reply as a JS value. The HTTP API uses it to turn
 * the dispatcher's RESP replies into JSON; a client can use it to read a server's replies.
 *
 * | RESP type              | JS value                                                 |
 * | ---------------------- | -------------------------------------------------------- |
 * | `+` simple string      | `string`                                                 |
 * | `-` and `!` errors     | `RespError` (a value, not thrown)                        |
 * | `:` integer            | `number`, or `bigint` beyond `Number.MAX_SAFE_INTEGER`   |
 * | `$` bulk string        | `string` (latin1: one char per byte), `null` for `$-1`   |
 * | `*` array              | `RespValue[]`, `null` for `*-1`                          |
 * | `_` null               | `null`                                                   |
 * | `,` double             | `number` (`inf`, `-inf`, `nan` included)                 |
 * | `#` boolean            | `boolean`                                                |
 * | `(` big number         | `bigint`                                                 |
 * | `=` verbatim string    | `string` without its three-letter format and colon       |
 * | `%` map                | `Map<RespValue, RespValue>`                              |
 * | `~` set                | `Set<RespValue>`                                         |
 * | `>` push               | `RespPush`                                               |
 * | `\|` attribute         | skipped; the value after it is returned                  |
 *
 * @example
 * ```ts
 * import { RespDecoder } from "./decoder.ts";
 * const decoder = new RespDecoder();
 * decoder.feed("*2\r\n$5\r\nhel");          // [] (the reply is not complete yet)
 * decoder.feed("lo\r\n:42\r\n+OK\r\n");     // [["hello", 42], "OK"]
 * ```
 *
 * @module
 */
import { Buffer } from "node:buffer";

/** An error reply (`-ERR ...` or RESP3 `!`): a value the server sent, not a decoding failure. */
export class RespError {
  /** An error reply with its text (`ERR ...`). */
  constructor(readonly message: string) {}

  /** The error code: the first word (`ERR`, `WRONGTYPE`, `NOPERM`). */
  get code(): string {
    const space = this.message.indexOf(" ");
    return space === -1 ? this.message : this.message.slice(0, space);
  }
}

/** An out-of-band RESP3 push (pub/sub message, invalidation). */
export class RespPush {
  /** A RESP3 push with its items. */
  constructor(readonly items: RespValue[]) {}
}

/** A decoded reply. */
export type RespValue =
  | string
  | number
  | bigint
  | boolean
  | null
  | RespError
  | RespPush
  | RespValue[]
  | Map<RespValue, RespValue>
  | Set<RespValue>;

/** The input is not RESP, or crosses a limit; the message says where and why. */
export class RespDecodeError extends Error {
  /** Error name. */
  override name = "RespDecodeError";
}

/** Limits of a decoder. */
export interface RespDecoderOptions {
  /** Largest bulk or verbatim string accepted. @default 536870912 (512 MiB, Redis's limit) */
  maxBulkBytes?: number;
  /** Most elements in one array, map, set or push. @default 16777216 */
  maxElementCount?: number;
  /** Deepest nesting of aggregates. @default 512 */
  maxDepth?: number;
  /** Undecoded input held before `feed` fails. @default 1073741824 (1 GiB) */
  maxBufferBytes?: number;
}

const INCOMPLETE = Symbol("incomplete");
type Step = RespValue | typeof INCOMPLETE;

/**
 * Decodes a stream of RESP replies. An incomplete reply stays buffered until the rest arrives;
 * decoding then restarts at that reply's first byte, so a reply split into k chunks costs up to
 * k partial passes (fine for replies, which come in few chunks).
 *
 * @example
 * ```ts
 * import { RespDecoder, RespError } from "./decoder.ts";
 * const [reply] = new RespDecoder().feed(new TextEncoder().encode("-ERR unknown command\r\n"));
 * reply instanceof RespError; // true
 * ```
 */
export class RespDecoder {
  private buffer = "";
  private pos = 0;
  private readonly maxBulkBytes: number;
  private readonly maxElementCount: number;
  private readonly maxDepth: number;
  private readonly maxBufferBytes: number;

  /** A decoder with the given limits. */
  constructor(options: RespDecoderOptions = {}) {
    this.maxBulkBytes = options.maxBulkBytes ?? 512 * 1024 * 1024;
    this.maxElementCount = options.maxElementCount ?? 16 * 1024 * 1024;
    this.maxDepth = options.maxDepth ?? 512;
    this.maxBufferBytes = options.maxBufferBytes ?? 1024 * 1024 * 1024;
  }

  /** Bytes received but not yet part of a complete reply. */
  get pendingBytes(): number {
    return this.buffer.length;
  }

  /**
   * Adds input and returns every reply it completes, in order. `chunk` is bytes, or text in
   * which each char is one byte (latin1), as `ReplyWriter.cut` produces.
   */
  feed(chunk: Uint8Array | string): RespValue[] {
    const text = typeof chunk === "string" ? chunk : latin1(chunk);
    this.buffer = this.buffer.length === 0 ? text : this.buffer + text;
    if (this.buffer.length > this.maxBufferBytes) {
      throw new RespDecodeError(
        `Cannot decode RESP: ${this.buffer.length} buffered bytes exceed the limit of ${this.maxBufferBytes}`,
      );
    }
    const values: RespValue[] = [];
    for (;;) {
      const start = this.pos;
      const value = this.value(0);
      if (value === INCOMPLETE) {
        this.pos = start;
        break;
      }
      values.push(value);
      if (this.pos === this.buffer.length) break;
    }
    this.buffer = this.pos === this.buffer.length ? "" : this.buffer.slice(this.pos);
    this.pos = 0;
    return values;
  }

  /** The next CRLF-terminated line, or INCOMPLETE. */
  private line(): string | typeof INCOMPLETE {
    const end = this.buffer.indexOf("\r\n", this.pos);
    if (end === -1) return INCOMPLETE;
    const text = this.buffer.slice(this.pos, end);
    this.pos = end + 2;
    return text;
  }

  /** Decodes one value at nesting `depth`. */
  private value(depth: number): Step {
    if (this.pos >= this.buffer.length) return INCOMPLETE;
    const type = this.buffer[this.pos++];
    const line = this.line();
    if (line === INCOMPLETE) return INCOMPLETE;
    switch (type) {
      case "+":
        return line;
      case "-":
        return new RespError(line);
      case ":":
        return integer(line);
      case "$":
        return this.bulk(line, (text) => text);
      case "!":
        return this.bulk(line, (text) => new RespError(text));
      case "=":
        return this.bulk(line, (text) => text.slice(4));
      case "_":
        return null;
      case ",":
        return double(line);
      case "#":
        return boolean(line);
      case "(":
        return bigInteger(line);
      case "*":
        return this.aggregate(line, depth, 1, (items) => items);
      case "~":
        return this.aggregate(line, depth, 1, (items) => new Set(items));
      case ">":
        return this.aggregate(line, depth, 1, (items) => new RespPush(items));
      case "%":
        return this.aggregate(line, depth, 2, pairsToMap);
      case "|": {
        const attributes = this.aggregate(line, depth, 2, pairsToMap);
        return attributes === INCOMPLETE ? INCOMPLETE : this.value(depth);
      }
      default:
        throw new RespDecodeError(
          `Cannot decode RESP: unknown type byte ${JSON.stringify(type)} at offset ${
            this.pos - line.length - 3
          }`,
        );
    }
  }

  /** Decodes a length-prefixed body. */
  private bulk(header: string, make: (text: string) => RespValue): Step {
    const length = count(header, "bulk length");
    if (length === -1) return null;
    if (length > this.maxBulkBytes) {
      throw new RespDecodeError(
        `Cannot decode RESP: bulk length ${length} exceeds the limit of ${this.maxBulkBytes}`,
      );
    }
    const end = this.pos + length;
    if (end + 2 > this.buffer.length) return INCOMPLETE;
    if (this.buffer[end] !== "\r" || this.buffer[end + 1] !== "\n") {
      throw new RespDecodeError(`Cannot decode RESP: bulk string of ${length} bytes lacks CRLF`);
    }
    const text = this.buffer.slice(this.pos, end);
    this.pos = end + 2;
    return make(text);
  }

  /** Decodes an array, set, map or push. */
  private aggregate(
    header: string,
    depth: number,
    perElement: number,
    make: (items: RespValue[]) => RespValue,
  ): Step {
    const length = count(header, "aggregate length");
    if (length === -1) return null;
    if (length > this.maxElementCount) {
      throw new RespDecodeError(
        `Cannot decode RESP: aggregate of ${length} elements exceeds the limit of ${this.maxElementCount}`,
      );
    }
    if (depth >= this.maxDepth) {
      throw new RespDecodeError(
        `Cannot decode RESP: nesting deeper than the limit of ${this.maxDepth}`,
      );
    }
    const items: RespValue[] = [];
    for (let i = 0; i < length * perElement; i++) {
      const item = this.value(depth + 1);
      if (item === INCOMPLETE) return INCOMPLETE;
      items.push(item);
    }
    return make(items);
  }
}

/**
 * Decodes exactly one complete reply.
 *
 * @example
 * ```ts
 * import { decodeReply } from "./decoder.ts";
 * decodeReply("*2\r\n$1\r\na\r\n$-1\r\n"); // ["a", null]
 * ```
 */
export function decodeReply(input: Uint8Array | string, options?: RespDecoderOptions): RespValue {
  const decoder = new RespDecoder(options);
  const values = decoder.feed(input);
  if (values.length !== 1 || decoder.pendingBytes !== 0) {
    throw new RespDecodeError(
      `Cannot decode one reply: found ${values.length} complete replies and ${decoder.pendingBytes} bytes left over`,
    );
  }
  return values[0];
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
}

const INTEGER = /^-?\d+$/;

function count(text: string, what: string): number {
  if (!INTEGER.test(text) || text.length > 12) {
    throw new RespDecodeError(`Cannot decode RESP: invalid ${what} ${JSON.stringify(text)}`);
  }
  const value = Number(text);
  if (value < -1) {
    throw new RespDecodeError(`Cannot decode RESP: invalid ${what} ${JSON.stringify(text)}`);
  }
  return value;
}

function integer(text: string): number | bigint {
  if (!INTEGER.test(text)) {
    throw new RespDecodeError(`Cannot decode RESP: invalid integer ${JSON.stringify(text)}`);
  }
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : BigInt(text);
}

function bigInteger(text: string): bigint {
  if (!/^[-+]?\d+$/.test(text)) {
    throw new RespDecodeError(`Cannot decode RESP: invalid big number ${JSON.stringify(text)}`);
  }
  return BigInt(text);
}

function double(text: string): number {
  const lower = text.toLowerCase();
  if (lower === "inf" || lower === "+inf") return Infinity;
  if (lower === "-inf") return -Infinity;
  if (lower === "nan" || lower === "-nan") return NaN;
  const value = Number(text);
  if (text.trim() === "" || Number.isNaN(value)) {
    throw new RespDecodeError(`Cannot decode RESP: invalid double ${JSON.stringify(text)}`);
  }
  return value;
}

function boolean(text: string): boolean {
  if (text === "t") return true;
  if (text === "f") return false;
  throw new RespDecodeError(`Cannot decode RESP: invalid boolean ${JSON.stringify(text)}`);
}

function pairsToMap(items: RespValue[]): Map<RespValue, RespValue> {
  const map = new Map<RespValue, RespValue>();
  for (let i = 0; i < items.length; i += 2) map.set(items[i], items[i + 1]);
  return map;
}
