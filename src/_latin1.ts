/**
 * Latin1 text (one char per byte) to and from bytes, the form every binary-safe string takes.
 * Writing: Deno's `Buffer.write(text, "latin1")` copies char by char in JavaScript (a profile
 * of a snapshot write showed it as the top cost), while `TextEncoder.encodeInto` is native and
 * gives the same bytes for ASCII. Reading: `latin1Slice` is Buffer's fastest path.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { ON_DENO } from "./runtime/detect.ts";

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
    return copyBytes(sourceBytes, sourceStart, length, buffer, offset);
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

/** Up to this many bytes a plain loop copies fastest on both runtimes. */
const COPY_LOOP_MAX_BYTES = 24;

/**
 * Copies `length` bytes of `source` from `start` to `target` at `at`; returns `length`. Above a
 * few bytes: `set` from a plain view on Deno (22-24 ns at any size to 100 bytes; its
 * `Buffer.copy` 57, a loop 60 at 100 bytes), Bun's native `Buffer.copy` there (11-13 ns; a view
 * 36-41).
 */
export function copyBytes(
  source: Buffer,
  start: number,
  length: number,
  target: Uint8Array,
  at: number,
): number {
  if (length <= COPY_LOOP_MAX_BYTES) {
    for (let i = 0; i < length; i++) target[at + i] = source[start + i];
  } else if (ON_DENO) {
    target.set(new Uint8Array(source.buffer, source.byteOffset + start, length), at);
  } else source.copy(target, at, start, start + length);
  return length;
}
