/**
 * Errors of the ring library that callers may want to catch.
 *
 * @module
 */

/**
 * Thrown when bytes are not a valid encoded slot map: truncated, corrupted, or of an unknown
 * format version.
 *
 * @example
 * ```ts
 * import { SlotMap, SlotMapDecodeError } from "@hypercache/hypercache/ring";
 * try {
 *   SlotMap.decode(new Uint8Array([1, 2, 3]));
 * } catch (error) {
 *   console.log(error instanceof SlotMapDecodeError); // true
 * }
 * ```
 */
export class SlotMapDecodeError extends Error {
  /** Error name. */
  override name = "SlotMapDecodeError";
}
