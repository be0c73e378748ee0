/**
 * A look ahead over a read, before it is parsed: where the first argument (the key, for most
 * commands) of each complete multibulk command lies. The server uses it to fetch a pipelined
 * batch's keys into the cache together (see `Store.prefetch`); it is a hint only, so it stops at
 * anything it does not expect and leaves errors to the parser.
 */

const STAR = 0x2a; // '*'
const DOLLAR = 0x24; // '$'
const CR = 0x0d;
const LF = 0x0a;
const ZERO = 0x30;

/** Longest count or length the scan reads (9 digits stay exact in an int). */
const MAX_DIGITS = 9;

/**
 * Records in `starts`/`ends` the byte range of argument 1 of each complete multibulk command at
 * the start of `bytes` that has one, up to `starts.length` keys; returns how many it recorded.
 * Stops at the first inline, incomplete or malformed command, and after `4 * starts.length`
 * commands in all. Never throws.
 *
 * @example
 * ```ts
 * import { scanKeys } from "./scan.ts";
 * const starts = new Int32Array(8), ends = new Int32Array(8);
 * const bytes = new TextEncoder().encode("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
 * scanKeys(bytes, starts, ends); // 1, with bytes[starts[0], ends[0]) being "k"
 * ```
 */
export function scanKeys(bytes: Uint8Array, starts: Int32Array, ends: Int32Array): number {
  const length = bytes.length;
  const maxKeys = starts.length;
  let pos = 0;
  let found = 0;
  for (let commands = 0; commands < 4 * maxKeys && found < maxKeys && pos < length; commands++) {
    if (bytes[pos] !== STAR) break;
    let i = readLine(bytes, pos + 1);
    if (i < 0) break;
    const count = lineNumber;
    let keyStart = -1;
    let keyEnd = -1;
    for (let arg = 0; arg < count; arg++) {
      if (i >= length || bytes[i] !== DOLLAR) return found;
      const valueStart = readLine(bytes, i + 1);
      if (valueStart < 0) return found;
      const valueEnd = valueStart + lineNumber;
      if (valueEnd + 2 > length || bytes[valueEnd] !== CR || bytes[valueEnd + 1] !== LF) {
        return found;
      }
      if (arg === 1) {
        keyStart = valueStart;
        keyEnd = valueEnd;
      }
      i = valueEnd + 2;
    }
    if (keyStart >= 0) {
      starts[found] = keyStart;
      ends[found] = keyEnd;
      found++;
    }
    pos = i;
  }
  return found;
}

/** The number `readLine` read last. */
let lineNumber = 0;

/**
 * Reads the decimal number at `at` up to its CR LF into `lineNumber`; returns where the next line
 * starts, or -1 when the line is empty, not digits, too long or not all there.
 */
function readLine(bytes: Uint8Array, at: number): number {
  const end = Math.min(bytes.length, at + MAX_DIGITS);
  let value = 0;
  let i = at;
  for (; i < end && bytes[i] !== CR; i++) {
    const digit = bytes[i] - ZERO;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  if (i === at || i + 1 >= bytes.length || bytes[i] !== CR || bytes[i + 1] !== LF) return -1;
  lineNumber = value;
  return i + 2;
}
