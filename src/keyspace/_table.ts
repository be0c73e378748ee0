/**
 * The key table of a store: open addressing with linear probing over latin1 string keys, each
 * slot's hash kept beside it in an `Int32Array`. It replaces a `Map` because, with a million keys
 * on V8, a `Map` insert cost 3-4x as much (its growth rehashes every entry in the runtime) and a
 * miss 3x as much; recovery time is mostly inserts. Deletion shifts later entries back instead of
 * leaving tombstones, so probe sequences stay short under churn.
 *
 * The hash is FNV-1a over the key's chars with a per-table random seed, finished with murmur3's
 * avalanche so the low bits (the slot index) depend on every byte.
 *
 * @module
 */

/** What the table holds: anything that knows its own key. */
export interface Keyed {
  /** The item's key. */
  readonly key: string;
}

/** Smallest capacity; a power of two. */
const MIN_CAPACITY = 16;
/** Grow past this share of slots in use: linear probing stays at a few probes per lookup. */
const MAX_LOAD = 0.75;
/** Shrink below this share (after deletes), keeping memory in proportion to the keys. */
const MIN_LOAD = 0.125;

/** A random 32-bit seed, so that which keys collide differs from process to process. */
export function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

/** Seeded 32-bit hash of a latin1 string. */
export function hashKey(key: string, seed: number): number {
  let h = (seed ^ 0x811c9dc5) | 0;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** A hash table from keys to the items that carry them. */
export class KeyTable<T extends Keyed> {
  /** Items by slot; `undefined` marks an empty slot. */
  private slots: (T | undefined)[];
  /** Each occupied slot's hash, compared before the key. */
  private hashes: Int32Array;
  private mask: number;
  /** Items in the table. */
  size = 0;

  /** An empty table; `seed` picks the hash function (see {@linkcode randomSeed}). */
  constructor(private readonly seed: number) {
    this.slots = new Array<T | undefined>(MIN_CAPACITY).fill(undefined);
    this.hashes = new Int32Array(MIN_CAPACITY);
    this.mask = MIN_CAPACITY - 1;
  }

  /** The item with `key`, or undefined. */
  get(key: string): T | undefined {
    const hash = hashKey(key, this.seed);
    const { slots, hashes, mask } = this;
    for (let i = hash & mask;; i = (i + 1) & mask) {
      const item = slots[i];
      if (item === undefined) return undefined;
      if (hashes[i] === hash && item.key === key) return item;
    }
  }

  /** Whether an item has `key`. */
  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  /**
   * Adds `item` unless an item with its key is already present, which is then returned and
   * stays. One probe sequence either way.
   */
  add(item: T): T | undefined {
    if (this.size + 1 > this.slots.length * MAX_LOAD) this.resize(this.slots.length * 2);
    const key = item.key;
    const hash = hashKey(key, this.seed);
    const { slots, hashes, mask } = this;
    let i = hash & mask;
    for (;; i = (i + 1) & mask) {
      const present = slots[i];
      if (present === undefined) break;
      if (hashes[i] === hash && present.key === key) return present;
    }
    slots[i] = item;
    hashes[i] = hash;
    this.size++;
    return undefined;
  }

  /** Removes and returns the item with `key`, or undefined when there is none. */
  delete(key: string): T | undefined {
    const hash = hashKey(key, this.seed);
    const { slots, hashes, mask } = this;
    let hole = hash & mask;
    for (;; hole = (hole + 1) & mask) {
      const item = slots[hole];
      if (item === undefined) return undefined;
      if (hashes[hole] === hash && item.key === key) break;
    }
    const removed = slots[hole];
    // Backward shift: move each later item of the run into the hole if its home slot allows.
    for (let i = (hole + 1) & mask; slots[i] !== undefined; i = (i + 1) & mask) {
      const home = hashes[i] & mask;
      if (((i - home) & mask) >= ((i - hole) & mask)) {
        slots[hole] = slots[i];
        hashes[hole] = hashes[i];
        hole = i;
      }
    }
    slots[hole] = undefined;
    this.size--;
    if (this.slots.length > MIN_CAPACITY && this.size < this.slots.length * MIN_LOAD) {
      this.resize(this.slots.length / 2);
    }
    return removed;
  }

  /** Removes every item and returns to the smallest capacity. */
  clear(): void {
    this.slots = new Array<T | undefined>(MIN_CAPACITY).fill(undefined);
    this.hashes = new Int32Array(MIN_CAPACITY);
    this.mask = MIN_CAPACITY - 1;
    this.size = 0;
  }

  /** Every item, in slot order. */
  *values(): IterableIterator<T> {
    for (const item of this.slots) if (item !== undefined) yield item;
  }

  /** Every key, in slot order. */
  *keys(): IterableIterator<string> {
    for (const item of this.slots) if (item !== undefined) yield item.key;
  }

  /** Slots allocated (for memory figures). */
  get capacity(): number {
    return this.slots.length;
  }

  private place(item: T, hash: number): void {
    const { slots, mask } = this;
    let i = hash & mask;
    while (slots[i] !== undefined) i = (i + 1) & mask;
    slots[i] = item;
    this.hashes[i] = hash;
  }

  private resize(capacity: number): void {
    const { slots, hashes } = this;
    this.slots = new Array<T | undefined>(capacity).fill(undefined);
    this.hashes = new Int32Array(capacity);
    this.mask = capacity - 1;
    for (let i = 0; i < slots.length; i++) {
      const item = slots[i];
      if (item !== undefined) this.place(item, hashes[i]);
    }
  }
}
