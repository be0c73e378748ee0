/**
 * Latin1 text (one char per byte) to and from bytes, the form every binary-safe string takes.
 * Writing: Deno's `Buffer.write(text, "latin1")` copies char by char in JavaScript (a profile
 * of a snapshot write showed it as the top cost), while `TextEncoder.encodeInto` is native and
 * gives the same bytes for ASCII. Reading: `latin1Slice` is Buffer's fastest path.
 *
 * @module
 */
import type { Buffer } from "node:buffer";

const encoder = new TextEncoder();
/** Below this length a plain loop beats making a view for `encodeInto`. */
const LOOP_MAX_CHARS = 32;

/** Writes `text` at `offset` (the caller made room for `text.length` bytes); returns its length. */
export function writeLatin1(buffer: Uint8Array, text: string, offset: number): number {
  const length = text.length;
  if (length <= LOOP_MAX_CHARS) {
    for (let i = 0; i < length; i++) buffer[offset + i] = text.charCodeAt(i);
    return length;
  }
  const { read, written } = encoder.encodeInto(text, buffer.subarray(offset, offset + length));
  if (read === length && written === length) return length;
  // Not ASCII: encodeInto wrote UTF-8; write the latin1 bytes over it.
  for (let i = 0; i < length; i++) buffer[offset + i] = text.charCodeAt(i);
  return length;
}

/** `latin1Slice` is Buffer's fastest bytes-to-latin1 path on Deno and Bun (what `toString`
 * calls underneath, after normalizing the encoding name on every call). */
type Latin1Buffer = Buffer & { latin1Slice(start: number, end: number): string };

/** The bytes `start` to `end` of `buffer` as latin1 text. */
export function readLatin1(buffer: Buffer, start: number, end: number): string {
  return (buffer as Latin1Buffer).latin1Slice(start, end);
}
