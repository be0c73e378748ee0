/**
 * xorshift32: a tiny seeded generator for the cores' sampling decisions (eviction, expiry, cuckoo
 * kicks), so their behaviour is reproducible and needs no global state.
 *
 * @module
 */

/**
 * A generator of numbers in [0, 1) from a non-zero 32-bit seed.
 *
 * @example
 * ```ts
 * import { xorshift32 } from "./_random.ts";
 * const random = xorshift32(42);
 * random() < 1; // true
 * ```
 */
export function xorshift32(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}
