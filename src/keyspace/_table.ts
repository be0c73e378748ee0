/**
 * The key table of a store, in the compact layout of CPython's dict and V8's own `Map`: items sit
 * in a dense array (which eviction and SCAN sample by position) with their hashes beside them in
 * an `Int32Array`, and an open-addressing index of `Int32Array` slots (linear probing) points into
 * it. It replaces a `Map` because, with a million keys on V8, a `Map` insert cost 3-4x as much
 * (its growth rehashes every entry in the runtime) and a miss 3x as much, and recovery time is
 * mostly inserts. Here growth rebuilds only the index, from the dense hashes.
 *
 * Deletion shifts later slots of the run back instead of leaving tombstones, so probes stay short
 * under churn, and moves the last item into the hole so the dense array stays dense.
 *
 * The hash is `hashString` with a per-table random seed. Callers that hash a key anyway (a store
 * also probes its cuckoo filter) pass the hash in.
 *
 * @module
 */
import { hashString } from "../_hash.ts";

/** What the table holds: an item that knows its key. */
export interface Keyed {
  /** The item's key. */
  readonly key: string;
  /** Whether the item's key is `key` (an item may hold its key as bytes, and compare in place). */
  hasKey(key: string): boolean;
}

/** Smallest index size; a power of two. */
const MIN_SLOTS = 16;
/** Grow the index past this share of slots in use: a few probes per lookup. */
const MAX_LOAD = 0.75;
/** Shrink it below this share (after deletes), keeping memory in proportion to the keys. */
const MIN_LOAD = 0.125;
/** Slot value for "empty"; others are item positions plus one. */
const EMPTY = 0;

/** A random 32-bit seed, so that which keys collide differs from process to process. */
export function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

/**
 * A hash table from keys to the items that carry them, with the items in a dense array.
 *
 * @example
 * ```ts
 * import { KeyTable } from "@hypercache/hypercache/keyspace";
 * class Item {
 *   constructor(readonly key: string, readonly n: number) {}
 *   hasKey(key: string): boolean {
 *     return this.key === key;
 *   }
 * }
 * const table = new KeyTable<Item>(42);
 * table.add(new Item("a", 1));
 * table.get("a")?.n; // 1
 * table.items.length; // 1
 * ```
 */
export class KeyTable<T extends Keyed> {
  /** Every item, densely; order changes only by deletes (the last item fills the hole). */
  readonly items: T[] = [];
  /** `hashes[i]` is the hash of `items[i]`'s key. */
  private hashes: Int32Array = new Int32Array(MIN_SLOTS);
  /** The index: item position + 1, or `EMPTY`. */
  private slots: Int32Array = new Int32Array(MIN_SLOTS);
  private mask = MIN_SLOTS - 1;

  /** An empty table; `seed` picks the hash function (see {@linkcode randomSeed}). */
  constructor(readonly seed: number) {}

  /** Items in the table. */
  get size(): number {
    return this.items.length;
  }

  /** The hash this table files `key` under. */
  hash(key: string): number {
    return hashString(key, this.seed);
  }

  /** The item with `key`, or undefined. */
  get(key: string, hash: number = this.hash(key)): T | undefined {
    const { slots, hashes, items, mask } = this;
    for (let i = hash & mask;; i = (i + 1) & mask) {
      const slot = slots[i];
      if (slot === EMPTY) return undefined;
      if (hashes[slot - 1] === hash) {
        const item = items[slot - 1];
        if (item.hasKey(key)) return item;
      }
    }
  }

  /**
   * The first item filed under `hash`, without comparing keys, or undefined: reading it brings the
   * index slot, the hash and the item into the cache (see `Store.prefetch`).
   */
  peek(hash: number): T | undefined {
    const { slots, hashes, items, mask } = this;
    for (let i = hash & mask;; i = (i + 1) & mask) {
      const slot = slots[i];
      if (slot === EMPTY) return undefined;
      if (hashes[slot - 1] === hash) return items[slot - 1];
    }
  }

  /** Whether an item has `key`. */
  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  /**
   * Adds `item` unless an item with its key is already present, which is then returned and
   * stays. One probe sequence either way. A caller that has the key as a string passes it (and
   * its hash), so an item that keeps its key as bytes is not asked for it.
   */
  add(item: T, hash: number = this.hash(item.key), key: string = item.key): T | undefined {
    const count = this.items.length;
    if (count + 1 > this.slots.length * MAX_LOAD) this.reindex(this.slots.length * 2);
    const { slots, hashes, items, mask } = this;
    let i = hash & mask;
    for (;; i = (i + 1) & mask) {
      const slot = slots[i];
      if (slot === EMPTY) break;
      if (hashes[slot - 1] === hash && items[slot - 1].hasKey(key)) return items[slot - 1];
    }
    if (count === hashes.length) this.hashes = growInt32(hashes);
    this.hashes[count] = hash;
    items.push(item);
    slots[i] = count + 1;
    return undefined;
  }

  /** Removes and returns the item with `key`, or undefined when there is none. */
  delete(key: string, hash: number = this.hash(key)): T | undefined {
    const { slots, hashes, items, mask } = this;
    for (let i = hash & mask;; i = (i + 1) & mask) {
      const slot = slots[i];
      if (slot === EMPTY) return undefined;
      if (hashes[slot - 1] === hash && items[slot - 1].hasKey(key)) return this.removeSlot(i);
    }
  }

  /** Removes `item`, which is in the table under `hash`, without comparing keys. */
  remove(item: T, hash: number): void {
    const { slots, items, mask } = this;
    for (let i = hash & mask;; i = (i + 1) & mask) {
      const slot = slots[i];
      if (slot === EMPTY) throw new Error("KeyTable.remove: the item is not in the table");
      if (items[slot - 1] === item) {
        this.removeSlot(i);
        return;
      }
    }
  }

  /** Empties slot `hole` and removes its item; returns the item. */
  private removeSlot(hole: number): T {
    const { slots, hashes, items, mask } = this;
    const position = slots[hole] - 1;
    // Backward shift: move each later slot of the run into the hole if its home allows.
    for (let i = (hole + 1) & mask; slots[i] !== EMPTY; i = (i + 1) & mask) {
      const home = hashes[slots[i] - 1] & mask;
      if (((i - home) & mask) >= ((i - hole) & mask)) {
        slots[hole] = slots[i];
        hole = i;
      }
    }
    slots[hole] = EMPTY;
    const removed = items[position];
    const last = items.pop()!;
    const lastPosition = items.length;
    if (position < lastPosition) {
      // The last item fills the hole; repoint its slot.
      const lastHash = hashes[lastPosition];
      let i = lastHash & mask;
      while (slots[i] !== lastPosition + 1) i = (i + 1) & mask;
      slots[i] = position + 1;
      items[position] = last;
      hashes[position] = lastHash;
    }
    if (slots.length > MIN_SLOTS && items.length < slots.length * MIN_LOAD) {
      this.reindex(slots.length / 2);
      this.hashes = this.hashes.slice(0, Math.max(MIN_SLOTS, items.length * 2));
    }
    return removed;
  }

  /** Removes every item and returns to the smallest size. */
  clear(): void {
    this.items.length = 0;
    this.hashes = new Int32Array(MIN_SLOTS);
    this.slots = new Int32Array(MIN_SLOTS);
    this.mask = MIN_SLOTS - 1;
  }

  /** Every item, in position order. */
  values(): IterableIterator<T> {
    return this.items.values();
  }

  /** Every key, in position order. */
  *keys(): IterableIterator<string> {
    for (const item of this.items) yield item.key;
  }

  /** Slots of the index (for memory figures and tests). */
  get capacity(): number {
    return this.slots.length;
  }

  /** Rebuilds the index at `size` slots from the dense hashes. */
  private reindex(size: number): void {
    const slots = new Int32Array(size);
    const mask = size - 1;
    const { hashes } = this;
    for (let position = 0; position < this.items.length; position++) {
      let i = hashes[position] & mask;
      while (slots[i] !== EMPTY) i = (i + 1) & mask;
      slots[i] = position + 1;
    }
    this.slots = slots;
    this.mask = mask;
  }
}

/** `array` copied into one twice its length. */
function growInt32(array: Int32Array): Int32Array {
  const grown = new Int32Array(array.length * 2);
  grown.set(array);
  return grown;
}
