/**
 * A cuckoo filter (Fan et al., 2014) that grows instead of failing: a chain of sub-filters, each
 * twice the size of the one before and with a fingerprint one bit longer, so that the chain's
 * false-positive rate stays within the configured one as it grows (as scalable Bloom filters
 * tighten each new filter). It answers "certainly absent" or "maybe present", supports
 * deletion, and never gives a false negative for an item that was added and not removed.
 *
 * @module
 */
import { assert } from "../_assert.ts";
import { hashString, rehash } from "../_hash.ts";
import { xorshift32 } from "../_random.ts";

/** Slots per bucket: 4 gives 95% load with short fingerprints (the paper's recommendation). */
const BUCKET_SLOTS = 4;
/** Load factor at which a sub-filter is sized to hold its capacity. */
const TARGET_LOAD = 0.95;
/** Relocations tried before an insert gives up on a sub-filter and the filter grows. */
const MAX_KICKS = 500;
/** A 16-bit fingerprint bounds the smallest rate at about 8 / 65536. */
const MAX_FINGERPRINT_BITS = 16;
/** Sub-filters a filter may chain before refusing to grow (2^24 x the first capacity). */
const MAX_SUBFILTERS = 24;

/** Options of a cuckoo filter. */
export interface CuckooFilterOptions {
  /**
   * Items the first sub-filter holds; the filter grows past it.
   * @default 1024
   */
  capacity?: number;
  /**
   * Target false-positive rate, between 0 and 1.
   * @default 0.01
   */
  errorRate?: number;
  /**
   * Seed of the string hash (`hashString`). A store gives its key table's seed, so that one
   * hash of a key serves both (the `...Hash` methods).
   * @default 0
   */
  seed?: number;
}

/** Mixes a fingerprint into a bucket offset for the alternate index (partial-key cuckoo hashing). */
function fingerprintHash(fingerprint: number): number {
  return Math.imul(fingerprint, 0x5bd1e995) >>> 0;
}

class SubFilter {
  readonly slots: Uint16Array;
  readonly bucketMask: number;
  readonly fingerprintMask: number;
  count = 0;

  constructor(readonly bucketCount: number, readonly fingerprintBits: number) {
    assert((bucketCount & (bucketCount - 1)) === 0, "bucket count must be a power of two");
    assert(fingerprintBits <= MAX_FINGERPRINT_BITS, "a fingerprint fits a 16-bit slot");
    this.slots = new Uint16Array(bucketCount * BUCKET_SLOTS);
    this.bucketMask = bucketCount - 1;
    this.fingerprintMask = 2 ** fingerprintBits - 1;
  }

  /** The item's fingerprint in this sub-filter; 0 marks an empty slot, so it becomes 1. */
  fingerprint(h2: number): number {
    return (h2 & this.fingerprintMask) || 1;
  }

  alternate(bucket: number, fingerprint: number): number {
    return (bucket ^ fingerprintHash(fingerprint)) & this.bucketMask;
  }

  has(bucket: number, fingerprint: number): boolean {
    const base = bucket * BUCKET_SLOTS;
    const s = this.slots;
    return s[base] === fingerprint || s[base + 1] === fingerprint || s[base + 2] === fingerprint ||
      s[base + 3] === fingerprint;
  }

  /** Puts the fingerprint in a free slot of `bucket`; false when the bucket is full. */
  place(bucket: number, fingerprint: number): boolean {
    const base = bucket * BUCKET_SLOTS;
    for (let i = 0; i < BUCKET_SLOTS; i++) {
      if (this.slots[base + i] === 0) {
        this.slots[base + i] = fingerprint;
        this.count++;
        return true;
      }
    }
    return false;
  }

  removeFrom(bucket: number, fingerprint: number): boolean {
    const base = bucket * BUCKET_SLOTS;
    for (let i = 0; i < BUCKET_SLOTS; i++) {
      if (this.slots[base + i] === fingerprint) {
        this.slots[base + i] = 0;
        this.count--;
        return true;
      }
    }
    return false;
  }

  /**
   * Inserts by relocating fingerprints along a cuckoo path. On failure every relocation is undone,
   * so no fingerprint already stored is ever lost (a lost one would be a false negative).
   */
  insert(index: number, fingerprint: number, random: () => number): boolean {
    const other = this.alternate(index, fingerprint);
    if (this.place(index, fingerprint) || this.place(other, fingerprint)) return true;
    const undo: number[] = [];
    let bucket = random() < 0.5 ? index : other;
    let carried = fingerprint;
    for (let kick = 0; kick < MAX_KICKS; kick++) {
      const slot = bucket * BUCKET_SLOTS + Math.floor(random() * BUCKET_SLOTS);
      const evicted = this.slots[slot];
      this.slots[slot] = carried;
      undo.push(slot, evicted);
      carried = evicted;
      bucket = this.alternate(bucket, carried);
      if (this.place(bucket, carried)) return true;
    }
    for (let i = undo.length - 2; i >= 0; i -= 2) this.slots[undo[i]] = undo[i + 1];
    return false;
  }
}

/**
 * A growing cuckoo filter over byte strings (latin1 strings, one char per byte).
 *
 * @example
 * ```ts
 * import { CuckooFilter } from "@hypercache/hypercache/filter";
 * const filter = new CuckooFilter({ capacity: 1000, errorRate: 0.01 });
 * filter.add("user:1");
 * filter.mayContain("user:1"); // true
 * filter.mayContain("user:2"); // false (with probability 0.99)
 * filter.remove("user:1");
 * ```
 */
export class CuckooFilter {
  private readonly filters: SubFilter[] = [];
  /** Fingerprint length of the first sub-filter; each later one has one bit more, up to 16. */
  readonly fingerprintBits: number;
  private readonly initialBucketCount: number;
  private readonly seed: number;

  /** Creates an empty filter sized for `capacity` items at `errorRate`. */
  constructor(options: CuckooFilterOptions = {}) {
    const capacity = options.capacity ?? 1024;
    const errorRate = options.errorRate ?? 0.01;
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(
        `Cannot create filter: 'capacity' must be a positive integer: current value is ${capacity}`,
      );
    }
    if (!(errorRate > 0 && errorRate < 1)) {
      throw new RangeError(
        `Cannot create filter: 'errorRate' must be between 0 and 1: current value is ${errorRate}`,
      );
    }
    const seed = options.seed ?? 0;
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new RangeError(
        `Cannot create filter: 'seed' must be a 32-bit unsigned integer: current value is ${seed}`,
      );
    }
    // A lookup compares against 2 buckets x 4 slots, so a full sub-filter's rate is about
    // 8 / 2^bits. The first gets half the configured rate and each later one half the rate of the
    // one before, so the whole chain stays below the configured rate: 1/2 + 1/4 + ... < 1.
    this.fingerprintBits = Math.min(
      MAX_FINGERPRINT_BITS,
      Math.max(4, Math.ceil(Math.log2((2 * 2 * BUCKET_SLOTS) / errorRate))),
    );
    const buckets = Math.ceil(capacity / BUCKET_SLOTS / TARGET_LOAD);
    this.initialBucketCount = 2 ** Math.max(1, Math.ceil(Math.log2(buckets)));
    this.filters.push(new SubFilter(this.initialBucketCount, this.fingerprintBits));
    this.seed = seed;
  }

  /** The hash the `...Hash` methods take for `item`. */
  hash(item: string): number {
    return hashString(item, this.seed);
  }

  /** Deterministic kick choices, so behaviour is reproducible. */
  private random: () => number = xorshift32(0x9e3779b9);

  /** Adds an item. Adding the same item twice stores it twice (remove it twice to clear it). */
  add(item: string): void {
    this.addHash(this.hash(item));
  }

  /** False when the item was certainly never added (or was removed). */
  mayContain(item: string): boolean {
    return this.mayContainHash(this.hash(item));
  }

  /** Removes one copy of an item that was added. Removing an item never added may remove
   * another item's fingerprint, so callers remove only what they added. */
  remove(item: string): boolean {
    return this.removeHash(this.hash(item));
  }

  /**
   * `add` for an item whose {@linkcode CuckooFilter.hash} the caller has. The bucket comes from
   * the hash's low bits and the fingerprint from its `rehash`; two items with the same 32-bit
   * hash always collide, which adds n / 2^32 to the false-positive rate (2e-4 at 1M items).
   */
  addHash(h1: number): void {
    const h2 = rehash(h1);
    const last = this.filters[this.filters.length - 1];
    if (last.insert(h1 & last.bucketMask, last.fingerprint(h2), this.random)) return;
    if (this.filters.length >= MAX_SUBFILTERS) {
      throw new RangeError(`Cannot add to filter: it has grown to ${MAX_SUBFILTERS} sub-filters`);
    }
    const grown = new SubFilter(
      last.bucketCount * 2,
      Math.min(MAX_FINGERPRINT_BITS, last.fingerprintBits + 1),
    );
    this.filters.push(grown);
    const placed = grown.insert(h1 & grown.bucketMask, grown.fingerprint(h2), this.random);
    assert(placed, "an empty sub-filter accepts its first insert");
  }

  /** `mayContain` for an item whose hash the caller has. */
  mayContainHash(h1: number): boolean {
    const h2 = rehash(h1);
    for (let i = 0; i < this.filters.length; i++) {
      const filter = this.filters[i];
      const bucket = h1 & filter.bucketMask;
      const fingerprint = filter.fingerprint(h2);
      if (filter.has(bucket, fingerprint)) return true;
      if (filter.has(filter.alternate(bucket, fingerprint), fingerprint)) return true;
    }
    return false;
  }

  /** `remove` for an item whose hash the caller has. */
  removeHash(h1: number): boolean {
    const h2 = rehash(h1);
    // Latest first: later sub-filters have finer buckets and fingerprints, so a copy matching
    // there is the item's own or one of an item that also matches wherever the item's copy is.
    for (let i = this.filters.length - 1; i >= 0; i--) {
      const filter = this.filters[i];
      const bucket = h1 & filter.bucketMask;
      const fingerprint = filter.fingerprint(h2);
      if (filter.removeFrom(bucket, fingerprint)) return true;
      if (filter.removeFrom(filter.alternate(bucket, fingerprint), fingerprint)) return true;
    }
    return false;
  }

  /** Removes everything and shrinks back to the first sub-filter. */
  clear(): void {
    this.filters.length = 0;
    this.filters.push(new SubFilter(this.initialBucketCount, this.fingerprintBits));
  }

  /** Items stored. */
  get count(): number {
    let total = 0;
    for (const filter of this.filters) total += filter.count;
    return total;
  }

  /** Slots available across all sub-filters. */
  get slotCount(): number {
    let total = 0;
    for (const filter of this.filters) total += filter.slots.length;
    return total;
  }

  /** Share of slots in use, between 0 and 1. */
  get load(): number {
    return this.count / this.slotCount;
  }

  /** Sub-filters chained so far (1 until the first growth). */
  get subFilterCount(): number {
    return this.filters.length;
  }

  /** Memory used by the slot arrays. */
  get sizeBytes(): number {
    return this.slotCount * 2;
  }

  /** Estimated false-positive rate at the current load: each sub-filter adds its own chance. */
  get estimatedFalsePositiveRate(): number {
    let miss = 1;
    for (const filter of this.filters) {
      const load = filter.count / filter.slots.length;
      miss *= 1 - Math.min(1, (2 * BUCKET_SLOTS * load) / filter.fingerprintMask);
    }
    return 1 - miss;
  }
}
