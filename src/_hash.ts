/**
 * The 32-bit string hash every per-key structure of a store shares: the key table and the cuckoo
 * filter. A store hashes each key once per command and hands the number to both.
 *
 * @module
 */

/**
 * Seeded 32-bit hash of a latin1 string: FNV-1a over two chars (bytes) a step, half the
 * multiplies of byte-wise FNV-1a, finished with murmur3's avalanche so that the low bits (a
 * table's slot, a filter's bucket) depend on every byte.
 *
 * @example
 * ```ts
 * import { hashString } from "./_hash.ts";
 * hashString("user:1", 42) === hashString("user:1", 42); // true
 * ```
 */
export function hashString(text: string, seed: number): number {
  let h = (seed ^ 0x811c9dc5) | 0;
  const length = text.length;
  let i = 0;
  for (; i + 1 < length; i += 2) {
    h = Math.imul(h ^ (text.charCodeAt(i) | (text.charCodeAt(i + 1) << 8)), 0x01000193);
  }
  if (i < length) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  h ^= length;
  return avalanche(h);
}

/**
 * A second 32-bit value from a hash, for a use that must not correlate with the hash's low bits
 * (a filter's fingerprint next to its bucket index): a bijective remix, so no bits are lost.
 */
export function rehash(hash: number): number {
  return avalanche(hash ^ 0x9e3779b9);
}

/** murmur3's fmix32. */
function avalanche(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** {@linkcode hashString} of the latin1 text whose bytes are `bytes[start, end)`. */
export function hashBytes(bytes: Uint8Array, start: number, end: number, seed: number): number {
  let h = (seed ^ 0x811c9dc5) | 0;
  let i = start;
  for (; i + 1 < end; i += 2) h = Math.imul(h ^ (bytes[i] | (bytes[i + 1] << 8)), 0x01000193);
  if (i < end) h = Math.imul(h ^ bytes[i], 0x01000193);
  h ^= end - start;
  return avalanche(h);
}
