/**
 * Which runtime this is, for the few hot paths whose fastest form differs between Deno and Bun
 * (slicing and copying bytes). Reads `navigator.userAgent` only, so pure code may import it.
 *
 * @module
 */

/** Whether this is Deno, whose `Buffer` is a JavaScript layer over V8's arrays (Bun's is
 * native): the fastest ways to slice and copy bytes differ between the two. */
export const ON_DENO: boolean = typeof navigator === "object" &&
  navigator.userAgent?.startsWith("Deno/") === true;
