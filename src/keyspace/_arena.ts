/**
 * The record arena: a key and its string value kept as bytes in slabs, outside the
 * garbage-collected heap.
 *
 * A JavaScript string costs its header on top of its bytes: 16 bytes on V8, and on
 * JavaScriptCore a cell plus a separately allocated buffer, about 100 bytes of resident memory
 * for a 16-byte key. A string is also young when written: the collector copies it once more when
 * it survives, and traces it on every full collection after. In the arena a key and its value are
 * their bytes behind a 4-byte header (two 16-bit lengths), in one slot of a size class (as
 * jemalloc's, which Redis relies on): 8-byte steps up to 128 bytes, then steps of about an eighth.
 * An entry holds a small integer handle to its slot.
 *
 * A handle is `slab << SLOT_BITS | slot`: finding a record is two array reads, a shift and a
 * multiply. One arena serves the process, as one allocator serves a Redis process: stores free
 * their slots when keys go, and a freed slot is reused by the next record of its class.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { assert } from "../_assert.ts";
import { hashBytes } from "../_hash.ts";
import { copyBytes, readLatin1, writeLatin1 } from "../_latin1.ts";

/** Most bytes of key and value together in one record; longer ones stay JavaScript strings,
 * whose header is small beside them. */
export const RECORD_MAX_BYTES = 16 * 1024;

/** Each slot starts with the key's length and the value's, 16-bit little-endian. */
const HEADER_BYTES = 4;
const SLAB_BYTES = 64 * 1024;
const SMALLEST_SLOT_BYTES = 16;
/** Bits of a handle that number the slot within its slab (a slab has at most 4096 slots). */
const SLOT_BITS = 12;
const SLOT_MASK = (1 << SLOT_BITS) - 1;
/** Slabs the arena can address, so that handles stay below 2^30: a small integer on every
 * engine. 16 GiB of records; past that, records stay on the heap. */
const SLABS_MAX = 1 << (30 - SLOT_BITS);

/** The slot sizes: 8-byte steps up to 128, then growing by about 1/8 (16-byte multiples). */
function classSizes(): number[] {
  const sizes: number[] = [];
  for (let size = SMALLEST_SLOT_BYTES; size <= 128; size += 8) sizes.push(size);
  const largest = RECORD_MAX_BYTES + HEADER_BYTES;
  let size = 128;
  while (size < largest) {
    size = Math.min(Math.ceil((size * 9) / 8 / 16) * 16, largest);
    sizes.push(size);
  }
  return sizes;
}

/** The slots of one size: freed ones (reused first) and the rest of the newest slab. */
class SizeClass {
  /** Slabs (arena indices) of this class. */
  readonly slabs: number[] = [];
  readonly slotsPerSlab: number;
  /** Handles of freed slots, a stack. */
  free = new Int32Array(64);
  freeCount = 0;
  /** The newest slab and its next never-used slot. */
  freshSlab = -1;
  freshSlot = 0;
  /** Slots holding a record. */
  used = 0;

  constructor(readonly size: number) {
    this.slotsPerSlab = Math.floor(SLAB_BYTES / size);
  }

  give(handle: number): void {
    if (this.freeCount === this.free.length) {
      const grown = new Int32Array(this.free.length * 2);
      grown.set(this.free);
      this.free = grown;
    }
    this.free[this.freeCount++] = handle;
    this.used--;
  }
}

/** Where a freed slab was: an empty buffer keeps the slab array of one element kind. */
const NO_SLAB: Buffer = Buffer.alloc(0);

/**
 * Key and value byte strings in size-class slabs, addressed by integer handles.
 *
 * @example
 * ```ts
 * import { RecordArena } from "./_arena.ts";
 * const arena = new RecordArena();
 * const handle = arena.store("user:1", "x".repeat(100));
 * arena.key(handle); // "user:1"
 * arena.valueLength(handle); // 100
 * arena.keyEquals(handle, "user:1"); // true
 * arena.free(handle);
 * ```
 */
export class RecordArena {
  private readonly classes: SizeClass[];
  /** The smallest class that holds a slot of that many bytes, by byte count. */
  private readonly classBySlotBytes: Uint8Array;
  /** Every slab by index; `NO_SLAB` where one was given back. */
  private readonly slabs: Buffer[] = [];
  /** Slot size and class of each slab, by index. */
  private readonly slabSlotBytes: number[] = [];
  private readonly slabClass: number[] = [];
  /** Indices of given-back slabs, reused before the array grows. */
  private readonly spareSlabs: number[] = [];

  constructor() {
    const sizes = classSizes();
    assert(sizes.length < 256, "class indices fit a byte");
    this.classes = sizes.map((size) => new SizeClass(size));
    this.classBySlotBytes = new Uint8Array(RECORD_MAX_BYTES + HEADER_BYTES + 1);
    let index = 0;
    for (let bytes = 0; bytes < this.classBySlotBytes.length; bytes++) {
      while (sizes[index] < bytes) index++;
      this.classBySlotBytes[bytes] = index;
    }
  }

  /** Whether a key and a value of these lengths fit one record. */
  static takes(keyLength: number, valueLength: number): boolean {
    return keyLength + valueLength <= RECORD_MAX_BYTES;
  }

  /**
   * Copies `key` and `value` (latin1, `RecordArena.takes` their lengths) into a slot; returns its
   * handle, or -1 when the arena is full (the caller keeps the strings).
   */
  store(key: string, value: string): number {
    const handle = this.take(key.length + value.length);
    if (handle === -1) return -1;
    const slab = this.slabs[handle >>> SLOT_BITS];
    const offset = (handle & SLOT_MASK) * this.slabSlotBytes[handle >>> SLOT_BITS];
    slab[offset] = key.length & 0xff;
    slab[offset + 1] = key.length >>> 8;
    writeLatin1(slab, key, offset + HEADER_BYTES);
    this.writeValue(slab, offset, key.length, value);
    return handle;
  }

  /**
   * The record with its value replaced by `value`: the same handle when the new record fits the
   * slot, else a new one (the old handle is then freed), or -1 when key and value no longer fit
   * a record (the old handle stays valid).
   */
  replaceValue(handle: number, value: string): number {
    const oldSlab = this.slabs[handle >>> SLOT_BITS];
    const oldSlotBytes = this.slabSlotBytes[handle >>> SLOT_BITS];
    const oldOffset = (handle & SLOT_MASK) * oldSlotBytes;
    const keyLength = oldSlab[oldOffset] | (oldSlab[oldOffset + 1] << 8);
    const total = keyLength + value.length;
    if (total > RECORD_MAX_BYTES) return -1;
    if (this.classBySlotBytes[total + HEADER_BYTES] === this.slabClass[handle >>> SLOT_BITS]) {
      this.writeValue(oldSlab, oldOffset, keyLength, value);
      return handle;
    }
    const moved = this.take(total);
    if (moved === -1) return -1;
    const slab = this.slabs[moved >>> SLOT_BITS];
    const offset = (moved & SLOT_MASK) * this.slabSlotBytes[moved >>> SLOT_BITS];
    oldSlab.copy(slab, offset, oldOffset, oldOffset + 2);
    oldSlab.copy(
      slab,
      offset + HEADER_BYTES,
      oldOffset + HEADER_BYTES,
      oldOffset + HEADER_BYTES + keyLength,
    );
    this.writeValue(slab, offset, keyLength, value);
    this.free(handle);
    return moved;
  }

  /** Bytes of the slot a record of a key and a value of these lengths takes. */
  slotBytesFor(keyLength: number, valueLength: number): number {
    return this.classes[this.classBySlotBytes[keyLength + valueLength + HEADER_BYTES]].size;
  }

  /** Bytes the record's slot takes, from its handle alone (memory accounting). */
  slotBytes(handle: number): number {
    return this.slabSlotBytes[handle >>> SLOT_BITS];
  }

  /** The record's first byte (a read that brings its cache line in; see `Store.prefetch`). */
  firstByte(handle: number): number {
    const slab = this.slabs[handle >>> SLOT_BITS];
    return slab[(handle & SLOT_MASK) * this.slabSlotBytes[handle >>> SLOT_BITS]];
  }

  /** The key's length in bytes. */
  keyLength(handle: number): number {
    const slab = this.slabs[handle >>> SLOT_BITS];
    const offset = (handle & SLOT_MASK) * this.slabSlotBytes[handle >>> SLOT_BITS];
    return slab[offset] | (slab[offset + 1] << 8);
  }

  /** The key as a latin1 string. */
  key(handle: number): string {
    const slab = this.slabs[handle >>> SLOT_BITS];
    const offset = (handle & SLOT_MASK) * this.slabSlotBytes[handle >>> SLOT_BITS];
    const start = offset + HEADER_BYTES;
    return readLatin1(slab, start, start + (slab[offset] | (slab[offset + 1] << 8)));
  }

  /** Whether the record's key is `key`, compared in place. */
  keyEquals(handle: number, key: string): boolean {
    const slab = this.slabs[handle >>> SLOT_BITS];
    const offset = (handle & SLOT_MASK) * this.slabSlotBytes[handle >>> SLOT_BITS];
    const length = slab[offset] | (slab[offset + 1] << 8);
    if (length !== key.length) return false;
    const start = offset + HEADER_BYTES;
    for (let i = 0; i < length; i++) {
      if (slab[start + i] !== key.charCodeAt(i)) return false;
    }
    return true;
  }

  /** `hashString(key, seed)` of the record's key, computed from its bytes. */
  hashKey(handle: number, seed: number): number {
    const slab = this.slabs[handle >>> SLOT_BITS];
    const offset = (handle & SLOT_MASK) * this.slabSlotBytes[handle >>> SLOT_BITS];
    const start = offset + HEADER_BYTES;
    return hashBytes(slab, start, start + (slab[offset] | (slab[offset + 1] << 8)), seed);
  }

  /** The value's length in bytes. */
  valueLength(handle: number): number {
    const slab = this.slabs[handle >>> SLOT_BITS];
    const offset = (handle & SLOT_MASK) * this.slabSlotBytes[handle >>> SLOT_BITS];
    return slab[offset + 2] | (slab[offset + 3] << 8);
  }

  /** The value as a latin1 string. */
  value(handle: number): string {
    const slab = this.slabs[handle >>> SLOT_BITS];
    const offset = (handle & SLOT_MASK) * this.slabSlotBytes[handle >>> SLOT_BITS];
    const start = offset + HEADER_BYTES + (slab[offset] | (slab[offset + 1] << 8));
    return readLatin1(slab, start, start + (slab[offset + 2] | (slab[offset + 3] << 8)));
  }

  /** Copies the value's bytes to `target` at `at`; returns their count. */
  copyValue(handle: number, target: Uint8Array, at: number): number {
    const slab = this.slabs[handle >>> SLOT_BITS];
    const offset = (handle & SLOT_MASK) * this.slabSlotBytes[handle >>> SLOT_BITS];
    const start = offset + HEADER_BYTES + (slab[offset] | (slab[offset + 1] << 8));
    return copyBytes(slab, start, slab[offset + 2] | (slab[offset + 3] << 8), target, at);
  }

  /** Copies the key's bytes to `target` at `at`; returns their count. */
  copyKey(handle: number, target: Uint8Array, at: number): number {
    const slab = this.slabs[handle >>> SLOT_BITS];
    const offset = (handle & SLOT_MASK) * this.slabSlotBytes[handle >>> SLOT_BITS];
    return copyBytes(
      slab,
      offset + HEADER_BYTES,
      slab[offset] | (slab[offset + 1] << 8),
      target,
      at,
    );
  }

  /** Returns the record's slot to its class; the handle must not be used again. */
  free(handle: number): void {
    this.classes[this.slabClass[handle >>> SLOT_BITS]].give(handle);
  }

  /**
   * Gives back the slabs of every size class with no record left (after FLUSHALL, or MEMORY
   * PURGE). A class with records keeps its slabs: slots are addressed by position.
   */
  trim(): void {
    for (const sizeClass of this.classes) {
      if (sizeClass.used !== 0 || sizeClass.slabs.length === 0) continue;
      for (const index of sizeClass.slabs) {
        this.slabs[index] = NO_SLAB;
        this.spareSlabs.push(index);
      }
      sizeClass.slabs.length = 0;
      sizeClass.free = new Int32Array(64);
      sizeClass.freeCount = 0;
      sizeClass.freshSlab = -1;
    }
  }

  /** Slab bytes the arena holds, and the bytes of the slots in use (INFO memory). */
  stats(): { slabBytes: number; slotBytes: number; records: number } {
    let slotBytes = 0;
    let records = 0;
    for (const sizeClass of this.classes) {
      slotBytes += sizeClass.used * sizeClass.size;
      records += sizeClass.used;
    }
    const slabBytes = (this.slabs.length - this.spareSlabs.length) * SLAB_BYTES;
    return { slabBytes, slotBytes, records };
  }

  /** A slot of the smallest class holding `HEADER_BYTES + bytes`, or -1 when the arena is full. */
  private take(bytes: number): number {
    const index = this.classBySlotBytes[bytes + HEADER_BYTES];
    const sizeClass = this.classes[index];
    if (sizeClass.freeCount > 0) {
      sizeClass.used++;
      return sizeClass.free[--sizeClass.freeCount];
    }
    if (sizeClass.freshSlab === -1 || sizeClass.freshSlot === sizeClass.slotsPerSlab) {
      const slab = this.addSlab(index);
      if (slab === -1) return -1;
      sizeClass.freshSlab = slab;
      sizeClass.freshSlot = 0;
    }
    sizeClass.used++;
    return (sizeClass.freshSlab << SLOT_BITS) | sizeClass.freshSlot++;
  }

  /** A new slab for class `index`; its arena index, or -1 when the arena has as many as it can
   * address. */
  private addSlab(index: number): number {
    const buffer = Buffer.allocUnsafeSlow(SLAB_BYTES);
    let slab = this.spareSlabs.pop();
    if (slab === undefined) {
      if (this.slabs.length === SLABS_MAX) return -1;
      slab = this.slabs.length;
      this.slabs.push(buffer);
      this.slabSlotBytes.push(0);
      this.slabClass.push(0);
    } else {
      this.slabs[slab] = buffer;
    }
    this.slabSlotBytes[slab] = this.classes[index].size;
    this.slabClass[slab] = index;
    this.classes[index].slabs.push(slab);
    return slab;
  }

  /** Writes the value's length and bytes after a key of `keyLength` bytes at `offset`. */
  private writeValue(slab: Buffer, offset: number, keyLength: number, value: string): void {
    slab[offset + 2] = value.length & 0xff;
    slab[offset + 3] = value.length >>> 8;
    writeLatin1(slab, value, offset + HEADER_BYTES + keyLength);
  }
}

/** The process's arena (see the module comment). */
export const recordArena: RecordArena = new RecordArena();
