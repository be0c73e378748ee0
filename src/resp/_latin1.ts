/**
 * Latin1 text (one char per byte) to and from bytes, the form every binary-safe string takes.
 * Writing: Deno's `Buffer.write(text, "latin1")` copies char by char in JavaScript (a profile
 * of a snapshot write showed it as the top cost), while `TextEncoder.encodeInto` is native and
 * gives the same bytes for ASCII. Reading: `latin1Slice` is Buffer's fastest path.
 *
 * @module
 */
import { Buffer } from "node:buffer";

/** Whether this is Deno, whose `Buffer` is a JavaScript layer over V8's arrays (Bun's is
 * native): the fastest ways to slice and copy bytes differ between the two. */
export const ON_DENO: boolean = typeof navigator === "object" &&
  navigator.userAgent?.startsWith("Deno/") === true;

const encoder = new TextEncoder();
/** Below this length a plain loop beats making a view for `encodeInto`. */
const LOOP_MAX_CHARS = 32;

/**
 * The text the parser made last from bytes that are still in its input: while it runs that
 * command, writing this text copies the bytes rather than encoding the string again. A SET's
 * value goes bytes -> string -> arena; the second step was `encodeInto` with a view made for it,
 * 110 ns of a 480 ns SET on Deno for 100 bytes, where a copy takes about 30.
 */
const EMPTY = Buffer.alloc(0);
let sourceText = "";
let sourceBytes: Buffer = EMPTY;
let sourceStart = 0;

/**
 * Notes that `text` is `bytes[start, start + text.length)`, until `forgetSource`. The caller
 * must not change those bytes before it forgets them.
 */
export function noteSource(text: string, bytes: Buffer, start: number): void {
  sourceText = text;
  sourceBytes = bytes;
  sourceStart = start;
}

/** Drops the note of `noteSource` (the bytes may be reused from now on). */
export function forgetSource(): void {
  sourceText = "";
  sourceBytes = EMPTY;
}

/** Writes `text` at `offset` (the caller made room for `text.length` bytes); returns its length. */
export function writeLatin1(buffer: Uint8Array, text: string, offset: number): number {
  const length = text.length;
  if (length <= LOOP_MAX_CHARS) {
    for (let i = 0; i < length; i++) buffer[offset + i] = text.charCodeAt(i);
    return length;
  }
  // Equal strings have equal bytes, so a string equal to the noted one (it is mostly the same
  // object) is copied from where the noted one came from.
  if (text === sourceText) {
    const start = sourceStart;
    // 100 bytes: 24 ns through a plain view on Deno (its Buffer.copy 57); 15 through Bun's
    // native Buffer.copy (a view 40).
    if (ON_DENO) {
      buffer.set(
        new Uint8Array(sourceBytes.buffer, sourceBytes.byteOffset + start, length),
        offset,
      );
    } else sourceBytes.copy(buffer, offset, start, start + length);
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
