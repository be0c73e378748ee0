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
 * **Hash slots.** The table also indexes its items by Redis Cluster hash slot (`keySlot`, 0 to
 * 16383): each slot's items form a doubly linked list through per-position records, with a count
 * and a digest per slot (`digest.ts` says what the digest covers). So a slot's items are counted
 * in O(1), and listed or deleted in time proportional to their number. A position's record is 6
 * integers, 24 bytes: the slot list's links, the slot with the version's high bits, the version's
 * low 32 bits and the key's 64-bit digest weight. Records are kept apart from the hashes, so that
 * a probe (every GET) reads the compact array of 4-byte hashes as before; a write reads its
 * record, and creating or deleting a key also writes its slot-list neighbours'. Links are
 * positions, so when the last item moves into a hole its neighbours are repointed (O(1)).
 *
 * Records live in chunks of 16,384 positions (384 KiB), added as the table grows and dropped as
 * it shrinks, so growth copies nothing and leaves no freed copy behind: a doubling array of 24
 * bytes a key left its last copy resident (14 MB for 1M keys on Deno). Only the first chunk
 * starts small and doubles up to its full size. The per-slot arrays (heads and counts, 128 KiB;
 * digest lanes, 128 KiB) are made with the first item. Nothing is allocated per key.
 *
 * A write that bumps a version (SET over a key) adds the key's weight to its slot's digest: a
 * random slot, so a likely cache miss on a busy store, which a write would otherwise wait for.
 * Those additions wait in a small batch (`PENDING_BUMPS`) and are made together, their misses in
 * parallel; reading a digest makes them first. In process, a SET over one of 100k keys cost 6.6%
 * more with the addition made at once, and level (0.2%) with the batch.
 *
 * @module
 */
import { hashString } from "../_hash.ts";
import { SLOT_COUNT } from "../ring/constants.ts";
import { slotAndWeight, TAG_HIGH, TAG_LOW, weightHigh, weightLow } from "./digest.ts";

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

/**
 * A position's record: what a write reads and changes, 4 integers (16 bytes, four to a cache
 * line: `1 << STRIDE_BITS`), and the slot list's links, 2 integers, apart, since only creating and deleting keys
 * use them. Links are positions plus one (0: none).
 */
const STRIDE_BITS = 2;
/** `slot | versionHigh << SLOT_BITS`. */
const META = 0;
const VERSION_LOW = 1;
/** The key's digest weight (`digest.ts`), low and high lane. */
const WEIGHT_LOW = 2;
const WEIGHT_HIGH = 3;
const LINK_STRIDE = 2;
const NEXT = 0;
const PREV = 1;

/** Bits of a hash slot in `META`; the version's bits above 32 take the rest. */
const SLOT_BITS = 14;
const SLOT_MASK = (1 << SLOT_BITS) - 1;

/** Positions per record chunk. */
const CHUNK_BITS = 14;
const CHUNK_MASK = (1 << CHUNK_BITS) - 1;
/** Positions the first chunk starts with. */
const FIRST_CHUNK_POSITIONS = 16;

/** Integers per hash slot in `slotInfo`, and their offsets; `digests` has the two lanes. */
const SLOT_STRIDE = 2;
const HEAD = 0;
const COUNT = 1;

/**
 * Version bumps whose digest changes wait in `pending` until this many have gathered (or a digest
 * is read): each goes to a random slot's digest, a cache miss on a busy store, and a batch of
 * them misses in parallel where one at a time each waits in turn.
 */
const PENDING_BUMPS = 64;

const TWO_32 = 4294967296;

/** A random 32-bit seed, so that which keys collide differs from process to process. */
export function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

/**
 * A hash table from keys to the items that carry them, with the items in a dense array and
 * indexed by hash slot.
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
 * table.slotCount(15495); // 1: "a" is in slot 15495
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
  /**
   * Position `i`'s record: `chunks[i >>> CHUNK_BITS]` at `(i & CHUNK_MASK) << STRIDE_BITS`: slot
   * and version, weight; its slot-list links in `linkChunks`, at `(i & CHUNK_MASK) * 2`.
   */
  private chunks: Int32Array[] = [];
  private linkChunks: Int32Array[] = [];
  /** Per hash slot: first position + 1, and count; null while empty. */
  private slotInfo: Int32Array | null = null;
  /** Per hash slot: the digest's low and high lane (`digest.ts`); made with `slotInfo`. */
  private digests: Int32Array = EMPTY_DIGESTS;
  /** Bumps not yet in `digests`: slot, weight low, weight high, for each. */
  private readonly pending: Int32Array = new Int32Array(PENDING_BUMPS * 3);
  private pendingCount = 0;
  /**
   * The position of the item the last `get` found or `add` added, so that a caller that changes
   * the item next finds its record without another probe. Only a hint: deletes move items, so
   * check that `items[lastPosition]` is the item.
   */
  lastPosition: number = -1;

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
        if (item.hasKey(key)) {
          this.lastPosition = slot - 1;
          return item;
        }
      }
    }
  }

  /**
   * The position of the item with `key` in `items`, or -1: `get` for a caller that writes the
   * item next. Its record is read as soon as its hash matches, before the key is compared, so
   * that the record's cache miss overlaps the item's and its key's instead of following them.
   */
  find(key: string, hash: number): number {
    const { slots, hashes, items, chunks, mask } = this;
    for (let i = hash & mask;; i = (i + 1) & mask) {
      const slot = slots[i];
      if (slot === EMPTY) return -1;
      if (hashes[slot - 1] === hash) {
        const position = slot - 1;
        this.readAhead = chunks[position >>> CHUNK_BITS][(position & CHUNK_MASK) << STRIDE_BITS];
        if (items[position].hasKey(key)) return position;
      }
    }
  }
  /** Where `find` puts the record it reads ahead, so that the read is not optimised away. */
  private readAhead = 0;

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

  /** `peek`'s item's position, or -1: the item is not read. */
  peekPosition(hash: number): number {
    const { slots, hashes, mask } = this;
    for (let i = hash & mask;; i = (i + 1) & mask) {
      const slot = slots[i];
      if (slot === EMPTY) return -1;
      if (hashes[slot - 1] === hash) return slot - 1;
    }
  }

  /** Reads the record at `position` (a read that brings its cache line in; `Store.prefetch`). */
  touchRecord(position: number): number {
    return this.chunks[position >>> CHUNK_BITS][(position & CHUNK_MASK) << STRIDE_BITS];
  }

  /** Whether an item has `key`. */
  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  /**
   * Adds `item` unless an item with its key is already present, which is then returned and
   * stays. One probe sequence either way. A caller that has the key as a string passes it (and
   * its hash), so an item that keeps its key as bytes is not asked for it. The new item gets
   * write version 1 and type tag `tag` (`digest.ts`). A key that is not a byte string throws
   * (`keySlot`), and changes nothing.
   */
  add(item: T, hash: number = this.hash(item.key), key: string = item.key, tag = 0): T | undefined {
    const slot = slotAndWeight(key, tag);
    return this.insert(item, hash, key, slot, weightLow(), weightHigh());
  }

  /**
   * `add` for a caller that has computed `slotAndWeight(key, tag)` already (before making an item
   * it would otherwise have to take back): the slot, and the weight's lanes.
   */
  insert(
    item: T,
    hash: number,
    key: string,
    slot: number,
    weightLow: number,
    weightHigh: number,
  ): T | undefined {
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
    const chunks = this.chunks;
    if (count >>> CHUNK_BITS === chunks.length || count === chunks[0].length >>> STRIDE_BITS) {
      this.growChunks(count);
    }
    const records = this.chunks[count >>> CHUNK_BITS];
    const at = (count & CHUNK_MASK) << STRIDE_BITS;
    records[at + META] = slot;
    records[at + VERSION_LOW] = 1;
    records[at + WEIGHT_LOW] = weightLow;
    records[at + WEIGHT_HIGH] = weightHigh;
    if (this.slotInfo === null) {
      this.slotInfo = new Int32Array(SLOT_COUNT * SLOT_STRIDE);
      this.digests = new Int32Array(SLOT_COUNT * 2);
    }
    const info = this.slotInfo;
    const base = slot * SLOT_STRIDE;
    // Pushed at the head of the slot's list; version 1 contributes the weight itself.
    const head = info[base + HEAD];
    const links = this.linkChunks[count >>> CHUNK_BITS];
    const link = (count & CHUNK_MASK) * LINK_STRIDE;
    links[link + PREV] = 0;
    links[link + NEXT] = head;
    if (head !== 0) this.setLink(head - 1, PREV, count + 1);
    info[base + HEAD] = count + 1;
    info[base + COUNT]++;
    const digests = this.digests;
    digests[slot * 2] = (digests[slot * 2] + weightLow) | 0;
    digests[slot * 2 + 1] = (digests[slot * 2 + 1] + weightHigh) | 0;
    items.push(item);
    slots[i] = count + 1;
    this.lastPosition = count;
    return undefined;
  }

  /**
   * Makes room for a record at `position`, the next one: a new chunk at a chunk's start (unless a
   * spare one is there), or the first chunk, which starts small, twice as large.
   */
  private growChunks(position: number): void {
    const index = position >>> CHUNK_BITS;
    if (index === 0 && this.chunks.length !== 0) {
      this.chunks[0] = growInt32(this.chunks[0]);
      this.linkChunks[0] = growInt32(this.linkChunks[0]);
    } else if (index === this.chunks.length) {
      const positions = index === 0 ? FIRST_CHUNK_POSITIONS : 1 << CHUNK_BITS;
      this.chunks.push(new Int32Array(positions << STRIDE_BITS));
      this.linkChunks.push(new Int32Array(positions * LINK_STRIDE));
    }
  }

  /** Sets a link (`NEXT` or `PREV`) of the record at `position`. */
  private setLink(position: number, link: number, value: number): void {
    this.linkChunks[position >>> CHUNK_BITS][(position & CHUNK_MASK) * LINK_STRIDE + link] = value;
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

  /** Removes and returns the item at `position`, without hashing or comparing keys. */
  removeAt(position: number): T {
    const { slots, mask } = this;
    for (let i = this.hashes[position] & mask;; i = (i + 1) & mask) {
      if (slots[i] === position + 1) return this.removeSlot(i);
    }
  }

  /**
   * The position of `item` in `items`, which is in the table under `hash`; -1 when it is not.
   * (A caller that just looked the item up has it in `lastPosition` already.)
   */
  positionOf(item: T, hash: number): number {
    const { slots, items, mask } = this;
    for (let i = hash & mask;; i = (i + 1) & mask) {
      const slot = slots[i];
      if (slot === EMPTY) return -1;
      if (items[slot - 1] === item) return (this.lastPosition = slot - 1);
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
    this.unlink(position);
    const removed = items[position];
    const last = items.pop()!;
    const lastPosition = items.length;
    if (position < lastPosition) {
      // The last item fills the hole; repoint its index slot and its slot-list neighbours.
      const lastHash = hashes[lastPosition];
      let i = lastHash & mask;
      while (slots[i] !== lastPosition + 1) i = (i + 1) & mask;
      slots[i] = position + 1;
      items[position] = last;
      hashes[position] = lastHash;
      this.moveRecord(lastPosition, position);
    }
    if (slots.length > MIN_SLOTS && items.length < slots.length * MIN_LOAD) {
      this.reindex(slots.length / 2);
      this.hashes = this.hashes.slice(0, Math.max(MIN_SLOTS, items.length * 2));
    }
    // Keep one spare chunk past the one in use, so that a table at a chunk's edge does not drop
    // and remake one on every add and delete.
    const chunks = this.chunks;
    if (chunks.length > 1 && chunks.length - 2 > lastPosition >>> CHUNK_BITS) {
      chunks.pop();
      this.linkChunks.pop();
    }
    return removed;
  }

  /** Moves the record at `from` to `to` (an emptied position) and repoints its neighbours. */
  private moveRecord(from: number, to: number): void {
    const source = this.chunks[from >>> CHUNK_BITS];
    const target = this.chunks[to >>> CHUNK_BITS];
    const s = (from & CHUNK_MASK) << STRIDE_BITS;
    const t = (to & CHUNK_MASK) << STRIDE_BITS;
    const meta = source[s + META];
    target[t + META] = meta;
    target[t + VERSION_LOW] = source[s + VERSION_LOW];
    target[t + WEIGHT_LOW] = source[s + WEIGHT_LOW];
    target[t + WEIGHT_HIGH] = source[s + WEIGHT_HIGH];
    const sourceLinks = this.linkChunks[from >>> CHUNK_BITS];
    const targetLinks = this.linkChunks[to >>> CHUNK_BITS];
    const sl = (from & CHUNK_MASK) * LINK_STRIDE;
    const tl = (to & CHUNK_MASK) * LINK_STRIDE;
    const next = sourceLinks[sl + NEXT];
    const previous = sourceLinks[sl + PREV];
    targetLinks[tl + NEXT] = next;
    targetLinks[tl + PREV] = previous;
    if (next !== 0) this.setLink(next - 1, PREV, to + 1);
    if (previous !== 0) this.setLink(previous - 1, NEXT, to + 1);
    else this.slotInfo![(meta & SLOT_MASK) * SLOT_STRIDE + HEAD] = to + 1;
  }

  /** Takes the record at `position` out of its slot's list, count and digest. */
  private unlink(position: number): void {
    const records = this.chunks[position >>> CHUNK_BITS];
    const at = (position & CHUNK_MASK) << STRIDE_BITS;
    const info = this.slotInfo!;
    const slot = records[at + META] & SLOT_MASK;
    const base = slot * SLOT_STRIDE;
    const links = this.linkChunks[position >>> CHUNK_BITS];
    const link = (position & CHUNK_MASK) * LINK_STRIDE;
    const next = links[link + NEXT];
    const previous = links[link + PREV];
    if (previous !== 0) this.setLink(previous - 1, NEXT, next);
    else info[base + HEAD] = next;
    if (next !== 0) this.setLink(next - 1, PREV, previous);
    info[base + COUNT]--;
    addContribution(records, at, this.digests, slot, -1);
  }

  /**
   * Records a write to the item at `position`: its version goes up by one, and its type tag
   * goes from `tag` to `newTag`; its slot's digest follows. O(1): with the type unchanged, two
   * additions.
   */
  bumpVersion(position: number, tag: number, newTag: number): void {
    const records = this.chunks[position >>> CHUNK_BITS];
    const at = (position & CHUNK_MASK) << STRIDE_BITS;
    const versionLow = (records[at + VERSION_LOW] + 1) | 0;
    if (versionLow !== 0 && tag === newTag) {
      // (version + 1) * weight - version * weight: the weight, added to the digest in a batch.
      records[at + VERSION_LOW] = versionLow;
      const pending = this.pending;
      const next = this.pendingCount * 3;
      pending[next] = records[at + META] & SLOT_MASK;
      pending[next + 1] = records[at + WEIGHT_LOW];
      pending[next + 2] = records[at + WEIGHT_HIGH];
      if (++this.pendingCount === PENDING_BUMPS) this.applyPending();
      return;
    }
    const slot = records[at + META] & SLOT_MASK;
    addContribution(records, at, this.digests, slot, -1);
    records[at + VERSION_LOW] = versionLow;
    // The low half wrapped: one more in the high bits, which wrap in turn past `MAX_VERSION`.
    if (versionLow === 0) records[at + META] += 1 << SLOT_BITS;
    records[at + WEIGHT_LOW] ^= TAG_LOW[tag] ^ TAG_LOW[newTag];
    records[at + WEIGHT_HIGH] ^= TAG_HIGH[tag] ^ TAG_HIGH[newTag];
    addContribution(records, at, this.digests, slot, 1);
  }

  /** Adds the pending bumps to their slots' digests. */
  private applyPending(): void {
    const { pending, digests } = this;
    const end = this.pendingCount * 3;
    for (let i = 0; i < end; i += 3) {
      const at = pending[i] * 2;
      digests[at] = (digests[at] + pending[i + 1]) | 0;
      digests[at + 1] = (digests[at + 1] + pending[i + 2]) | 0;
    }
    this.pendingCount = 0;
  }

  /** Sets the write version of the item at `position` (1 to `MAX_VERSION`). O(1). */
  setVersion(position: number, version: number): void {
    const records = this.chunks[position >>> CHUNK_BITS];
    const at = (position & CHUNK_MASK) << STRIDE_BITS;
    const meta = records[at + META];
    const slot = meta & SLOT_MASK;
    addContribution(records, at, this.digests, slot, -1);
    records[at + VERSION_LOW] = version | 0;
    records[at + META] = slot | (Math.floor(version / TWO_32) << SLOT_BITS);
    addContribution(records, at, this.digests, slot, 1);
  }

  /** The write version of the item at `position`. */
  versionAt(position: number): number {
    const records = this.chunks[position >>> CHUNK_BITS];
    const at = (position & CHUNK_MASK) << STRIDE_BITS;
    return (records[at + META] >>> SLOT_BITS) * TWO_32 + (records[at + VERSION_LOW] >>> 0);
  }

  /** The hash the item at `position` is filed under. */
  hashAt(position: number): number {
    return this.hashes[position];
  }

  /** The hash slot of the item at `position`. */
  slotAt(position: number): number {
    const records = this.chunks[position >>> CHUNK_BITS];
    return records[((position & CHUNK_MASK) << STRIDE_BITS) + META] & SLOT_MASK;
  }

  /** Items in hash slot `slot`. O(1). */
  slotCount(slot: number): number {
    return this.slotInfo === null ? 0 : this.slotInfo[slot * SLOT_STRIDE + COUNT];
  }

  /** The position of an item in hash slot `slot`, or -1 when it has none. O(1). */
  slotFirst(slot: number): number {
    return this.slotInfo === null ? -1 : this.slotInfo[slot * SLOT_STRIDE + HEAD] - 1;
  }

  /** The position of the next item in the same slot as the one at `position`, or -1. O(1). */
  slotNext(position: number): number {
    return this.linkChunks[position >>> CHUNK_BITS][(position & CHUNK_MASK) * LINK_STRIDE + NEXT] -
      1;
  }

  /** Slot `slot`'s digest, an unsigned 64-bit number: high lane, low lane (`digest.ts`). */
  slotDigest(slot: number): bigint {
    if (this.slotInfo === null) return 0n;
    if (this.pendingCount !== 0) this.applyPending();
    return (BigInt(this.digests[slot * 2 + 1] >>> 0) << 32n) | BigInt(this.digests[slot * 2] >>> 0);
  }

  /** Removes every item and returns to the smallest size. */
  clear(): void {
    this.items.length = 0;
    this.hashes = new Int32Array(MIN_SLOTS);
    this.slots = new Int32Array(MIN_SLOTS);
    this.mask = MIN_SLOTS - 1;
    this.chunks = [];
    this.linkChunks = [];
    this.slotInfo = null;
    this.digests = EMPTY_DIGESTS;
    this.pendingCount = 0;
    this.lastPosition = -1;
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

  /** Bytes of the slot index's records and per-slot array (for memory figures and tests). */
  get slotIndexBytes(): number {
    let bytes = (this.slotInfo?.byteLength ?? 0) + this.digests.byteLength;
    for (const chunk of this.chunks) bytes += chunk.byteLength;
    for (const chunk of this.linkChunks) bytes += chunk.byteLength;
    return bytes;
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

/** `digests` of a table without items. */
const EMPTY_DIGESTS = new Int32Array(0);

/**
 * Adds `sign` (1 or -1) times the digest contribution of the record at `at` of `records` to
 * `slot`'s digest in `digests`: the version times the weight, lane by lane, with the version's
 * high bits crossing the lanes (`digest.ts`).
 */
function addContribution(
  records: Int32Array,
  at: number,
  digests: Int32Array,
  slot: number,
  sign: number,
): void {
  const versionLow = records[at + VERSION_LOW];
  const versionHigh = records[at + META] >>> SLOT_BITS;
  const weightLow = records[at + WEIGHT_LOW];
  const weightHigh = records[at + WEIGHT_HIGH];
  const low = (Math.imul(versionLow, weightLow) + Math.imul(versionHigh, weightHigh)) | 0;
  const high = (Math.imul(versionLow, weightHigh) + Math.imul(versionHigh, weightLow)) | 0;
  digests[slot * 2] = (digests[slot * 2] + Math.imul(sign, low)) | 0;
  digests[slot * 2 + 1] = (digests[slot * 2 + 1] + Math.imul(sign, high)) | 0;
}

/** `array` copied into one twice its length. */
function growInt32(array: Int32Array): Int32Array {
  const grown = new Int32Array(array.length * 2);
  grown.set(array);
  return grown;
}
