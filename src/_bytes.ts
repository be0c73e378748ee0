/**
 * Byte array helpers shared by the runtime adapters and the cluster transports.
 *
 * @module
 */

/**
 * The chunks joined into one new array.
 *
 * @example
 * ```ts
 * import { concat } from "./_bytes.ts";
 * concat([new Uint8Array([1]), new Uint8Array([2, 3])]); // Uint8Array [1, 2, 3]
 * ```
 */
export function concat(chunks: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const chunk of chunks) total += chunk.length;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}
