/**
 * Per-slot digests, for anti-entropy between replicas: two stores can tell whether they hold the
 * same keys of a hash slot by comparing one 64-bit number per slot instead of the keys.
 *
 * **What the digest covers.** A slot's digest sums, over the keys of the slot in the store, a
 * 64-bit contribution of each key made of:
 *
 * - the key: a 64-bit hash of its bytes (fixed seed, so it is the same on every node; the key
 *   table's own hash is seeded per process);
 * - the value's type: string, hash, list, set, zset or stream ({@linkcode TYPE_TAGS});
 * - the entry's **write version**: 1 when the key is created, plus one for every write to it
 *   after that (a store call that changes the value or the TTL: SET over it, INCR, a container
 *   changed in place, EXPIRE, PERSIST). Replication and repair may set it instead
 *   (`Store.setEntryVersion`); a later replication change puts hybrid-logical-clock versions
 *   there, from 1 to 2^50 - 1.
 *
 * Not covered: the value's bytes and the TTL itself. Hashing the value would cost a pass over it
 * on every write (a 100-byte SET is about 150 ns in process; the hash alone would add 30-50), and
 * a container changes element by element, where a list's order makes an O(1) update per element
 * impossible. The version stands for the value instead: two replicas that applied the same writes
 * to a key agree on its version, and once versions are the coordinator's (last writer wins), the
 * same version means the same value. A value that differs under the same version is therefore not
 * seen; a differing key, type or version changes the digest with probability about 1 - 2^-62.
 *
 * **How.** A key's contribution is `version * weight`, in two 32-bit lanes: the weight is the
 * key's 64-bit hash XOR a constant of its type, made odd in each lane, and a version of more than
 * 32 bits crosses the lanes (`low = vLow * wLow + vHigh * wHigh`, `high = vLow * wHigh + vHigh *
 * wLow`, each mod 2^32). A slot's digest is the lane-wise sum (mod 2^32 each) of its keys'
 * contributions, which makes it independent of the order of writes and cheap to keep: creating a
 * key adds its contribution, deleting it subtracts it, and a write that bumps the version by one
 * adds the weight, two additions and no hashing on the hottest path (SET over a key). An odd
 * weight never makes a version change of one key vanish from its lane. The weight is computed
 * with the slot's CRC16 in one pass over the key when the key is created ({@linkcode
 * slotAndWeight}) and kept with it in the key table; a change of type swaps the type constants
 * in it. `Store.slotDigest` gives a slot's digest as one unsigned 64-bit number, high lane first;
 * {@linkcode addDigests} combines digests the same way.
 *
 * Keys that have expired but are not yet collected still count, as they do in `DBSIZE` and
 * Redis's `CLUSTER COUNTKEYSINSLOT` (`Store.expireSlot` collects them first).
 *
 * @module
 */
import { keySlot } from "../ring/key_slot.ts";
import type { Value } from "./values.ts";

/** The type tags a digest mixes in, by Redis type name. */
export const TYPE_TAGS = { string: 0, hash: 1, list: 2, set: 3, zset: 4, stream: 5 } as const;

/** The type tag of a value. */
export function typeTag(value: Value): number {
  return typeof value === "string" ? 0 : TYPE_TAGS[value.type];
}

/**
 * The constant XORed into a key's weight for each type tag, low and high lane; 0 for strings.
 * Even, so that a weight stays odd when its type changes.
 */
export const TAG_LOW: Int32Array = Int32Array.of(
  0,
  0x5bd1e994,
  0x27d4eb2e,
  0x165667b0,
  0x61c88646,
  0x2f3a6c5e,
);
export const TAG_HIGH: Int32Array = Int32Array.of(
  0,
  0x4cf5ad42,
  0x7feb352c,
  0x0bf58476,
  0x1b873592,
  0x3c6ef372,
);

/**
 * The smallest write version. Versions have 50 bits: the key table keeps the 18 above the low 32
 * beside the slot.
 */
export const MIN_VERSION = 1;
/** The largest write version ({@linkcode MIN_VERSION}); counting past it wraps to 0. */
export const MAX_VERSION = 2 ** 50 - 1;

/** CRC16-CCITT (XMODEM), Redis Cluster's key checksum: one byte a step (`ring/key_slot.ts`'s). */
const CRC_ONE: Uint16Array = (() => {
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
    table[byte] = crc & 0xffff;
  }
  return table;
})();

const OPEN_BRACE = 0x7b;

/** The CRC step over a zero byte: what a table entry becomes one byte further from the end. */
function zeroByte(crc: number): number {
  return ((crc & 0xff) << 8) ^ CRC_ONE[crc >>> 8];
}

/**
 * The same CRC four bytes a step ("slicing by 4"). The CRC is linear, so the step over bytes
 * `b0 b1 b2 b3` from `crc` is the XOR of four lookups, `CRC_FOUR[(crc >>> 8) ^ b0]`,
 * `CRC_THREE[(crc & 0xff) ^ b1]`, `CRC_TWO[b2]` and `CRC_ONE[b3]`, where `CRC_N[i]` is the CRC of
 * byte `i` followed by N - 1 zero bytes. The lookups are independent, where a byte at a time
 * makes each wait for the one before.
 */
const CRC_TWO: Uint16Array = CRC_ONE.map(zeroByte);
const CRC_THREE: Uint16Array = CRC_TWO.map(zeroByte);
const CRC_FOUR: Uint16Array = CRC_THREE.map(zeroByte);

/** The high lane of the last weight {@linkcode slotAndWeight} computed. */
let weightHighHalf = 0;
/** The low lane of it. */
let weightLowHalf = 0;

/**
 * The hash slot of a latin1 key, as `keySlot` computes it (CRC16 mod 16384 with hash tags), and
 * its digest weight under type tag `tag`, which {@linkcode weightLow} and {@linkcode weightHigh}
 * give until the next call. One pass over the key computes the CRC and the key's 64-bit hash
 * together: two lanes over four bytes a step (FNV-1a, and a rotate-multiply lane), crossed and
 * finished with murmur3's avalanche, with a fixed seed, so the same on every node. A key with a
 * `{` gets its slot from `keySlot` itself, which also throws for a key that is not a byte string.
 */
export function slotAndWeight(key: string, tag: number): number {
  let a = 0x811c9dc5 | 0;
  let b = 0x243f6a88 | 0;
  let crc = 0;
  let bits = 0;
  let brace = false;
  const length = key.length;
  let i = 0;
  for (; i + 3 < length; i += 4) {
    const c0 = key.charCodeAt(i);
    const c1 = key.charCodeAt(i + 1);
    const c2 = key.charCodeAt(i + 2);
    const c3 = key.charCodeAt(i + 3);
    bits |= c0 | c1 | c2 | c3;
    if (c0 === OPEN_BRACE || c1 === OPEN_BRACE || c2 === OPEN_BRACE || c3 === OPEN_BRACE) {
      brace = true;
    }
    crc = CRC_FOUR[((crc >>> 8) ^ c0) & 0xff] ^ CRC_THREE[(crc ^ c1) & 0xff] ^ CRC_TWO[c2 & 0xff] ^
      CRC_ONE[c3 & 0xff];
    const word = c0 | (c1 << 8) | (c2 << 16) | (c3 << 24);
    a = Math.imul(a ^ word, 0x01000193);
    b = Math.imul(((b << 13) | (b >>> 19)) ^ word, 0x9e3779b1);
  }
  for (; i < length; i++) {
    const c = key.charCodeAt(i);
    bits |= c;
    if (c === OPEN_BRACE) brace = true;
    crc = ((crc << 8) & 0xffff) ^ CRC_ONE[((crc >>> 8) ^ c) & 0xff];
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(((b << 13) | (b >>> 19)) ^ c, 0x9e3779b1);
  }
  a = avalanche(a ^ length);
  b = avalanche(b ^ Math.imul(a, 0xcc9e2d51));
  weightHighHalf = (b ^ TAG_HIGH[tag]) | 1;
  weightLowHalf = (avalanche(a ^ b) ^ TAG_LOW[tag]) | 1;
  return bits > 0xff || brace ? keySlot(key) : crc & 0x3fff;
}

/** The low lane of the weight of the last {@linkcode slotAndWeight} call. */
export function weightLow(): number {
  return weightLowHalf;
}

/** The high lane of the weight of the last {@linkcode slotAndWeight} call. */
export function weightHigh(): number {
  return weightHighHalf;
}

/** 2^32, to split a version into halves. */
const TWO_32 = 4294967296;

/**
 * The digest contribution of one key, computed from scratch, as an unsigned 64-bit number (high
 * lane, low lane). A slot's digest is {@linkcode addDigests} of this over the slot's keys. For
 * tests, and for a replica that checks a list of (key, type, version) against a digest.
 *
 * @example
 * ```ts
 * import { addDigests, entryDigest } from "@hypercache/hypercache/keyspace";
 * const a = addDigests(entryDigest("user:1", "string", 1), entryDigest("user:2", "hash", 3));
 * const b = addDigests(entryDigest("user:2", "hash", 3), entryDigest("user:1", "string", 1));
 * a === b; // true: the order of the keys does not matter
 * ```
 */
export function entryDigest(key: string, type: keyof typeof TYPE_TAGS, version: number): bigint {
  if (!Number.isInteger(version) || version < MIN_VERSION || version > MAX_VERSION) {
    throw new RangeError(
      `Cannot digest entry: version must be an integer from 1 to 2^50 - 1: ${version}`,
    );
  }
  slotAndWeight(key, TYPE_TAGS[type]);
  const low32 = weightLowHalf;
  const high32 = weightHighHalf;
  const versionLow = version | 0;
  const versionHigh = Math.floor(version / TWO_32);
  const low = (Math.imul(versionLow, low32) + Math.imul(versionHigh, high32)) >>> 0;
  const high = (Math.imul(versionLow, high32) + Math.imul(versionHigh, low32)) >>> 0;
  return (BigInt(high) << 32n) | BigInt(low);
}

/** Digests combined as a slot's digest combines its keys': lane-wise sums mod 2^32. */
export function addDigests(a: bigint, b: bigint): bigint {
  const low = (a + b) & 0xffffffffn;
  const high = ((a >> 32n) + (b >> 32n)) & 0xffffffffn;
  return (high << 32n) | low;
}

/** murmur3's fmix32. */
function avalanche(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}
