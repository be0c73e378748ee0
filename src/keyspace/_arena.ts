/**
 * The value arena: string values kept as bytes in slabs, outside the garbage-collected heap.
 *
 * A string value held as a JavaScript string costs its header on top of its bytes (16 bytes on V8,
 * 40 or more on JavaScriptCore, whose strings are a cell plus a separately allocated buffer), and
 * it is young when written: the collector copies it once more when it survives. In the arena a
 * value is its bytes plus a 2-byte length, in a slot of a size class (as jemalloc's, which Redis
 * relies on): 8-byte steps up to 128 bytes, then steps of about an eighth. An entry holds a small
 * integer handle to its slot.
 *
 * One arena serves the process, as one allocator serves a Redis process: stores free their slots
 * when keys go, and a freed slot is reused by the next value of its class.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { assert } from "../_assert.ts";
import { readLatin1, writeLatin1 } from "../resp/_latin1.ts";

/** Shorter values stay JavaScript strings: counters and flags, read and rewritten whole. */
export const ARENA_MIN_BYTES = 16;
/** Longer values stay JavaScript strings: their header is small beside them. */
export const ARENA_MAX_BYTES = 16 * 1024;

/** Up to this length a loop copies faster than making a view for `set` (both engines). */
const COPY_LOOP_MAX_BYTES = 256;
/** Each slot starts with the value's length, little-endian. */
const HEADER_BYTES = 2;
const SLAB_BYTES = 64 * 1024;
/** handle = slot * CLASS_COUNT_MAX + class: 6 bits of class, the rest slot. */
const CLASS_BITS = 6;
const CLASS_COUNT_MAX = 1 << CLASS_BITS;
/** Slots per class, so that handles stay below 2^30: a small integer on every engine. */
const SLOTS_MAX = 1 << (30 - CLASS_BITS);

/** The slot sizes: 8-byte steps up to 128, then growing by about 1/8 (16-byte multiples). */
function classSizes(): number[] {
  const sizes: number[] = [];
  for (let size = ARENA_MIN_BYTES + HEADER_BYTES + 6; size <= 128; size += 8) sizes.push(size);
  let size = 128;
  while (size < ARENA_MAX_BYTES + HEADER_BYTES) {
    size = Math.min(Math.ceil((size * 9) / 8 / 16) * 16, ARENA_MAX_BYTES + HEADER_BYTES);
    sizes.push(size);
  }
  return sizes;
}

class SizeClass {
  readonly slabs: Buffer[] = [];
  readonly slotsPerSlab: number;
  /** Freed slots, reused first (a stack). */
  private free = new Int32Array(64);
  private freeCount = 0;
  /** Slots ever handed out; the next fresh one. */
  private fresh = 0;

  constructor(readonly size: number) {
    this.slotsPerSlab = Math.floor(SLAB_BYTES / size);
  }

  /** A slot, or -1 when the class has no more handles. */
  take(): number {
    if (this.freeCount > 0) return this.free[--this.freeCount];
    if (this.fresh === SLOTS_MAX) return -1;
    const slot = this.fresh++;
    if (slot % this.slotsPerSlab === 0) this.slabs.push(Buffer.allocUnsafeSlow(SLAB_BYTES));
    return slot;
  }

  give(slot: number): void {
    if (this.freeCount === this.free.length) {
      const grown = new Int32Array(this.free.length * 2);
      grown.set(this.free);
      this.free = grown;
    }
    this.free[this.freeCount++] = slot;
  }

  /** Slots in use. */
  get used(): number {
    return this.fresh - this.freeCount;
  }

  /** Drops every slab when no slot is in use; true when it did. */
  trim(): boolean {
    if (this.used !== 0 || this.slabs.length === 0) return false;
    this.slabs.length = 0;
    this.free = new Int32Array(64);
    this.freeCount = 0;
    this.fresh = 0;
    return true;
  }
}

/**
 * Byte strings in size-class slabs, addressed by integer handles.
 *
 * @example
 * ```ts
 * import { ValueArena } from "./_arena.ts";
 * const arena = new ValueArena();
 * const handle = arena.store("x".repeat(100));
 * arena.length(handle); // 100
 * arena.read(handle) === "x".repeat(100); // true
 * arena.free(handle);
 * ```
 */
export class ValueArena {
  private readonly classes: SizeClass[];
  /** The smallest class that holds a slot of `length + HEADER_BYTES` bytes, by that sum. */
  private readonly classBySlotBytes: Uint8Array;

  constructor() {
    const sizes = classSizes();
    assert(sizes.length <= CLASS_COUNT_MAX, "size classes fit the handle's class bits");
    this.classes = sizes.map((size) => new SizeClass(size));
    this.classBySlotBytes = new Uint8Array(ARENA_MAX_BYTES + HEADER_BYTES + 1);
    let index = 0;
    for (let bytes = 0; bytes < this.classBySlotBytes.length; bytes++) {
      while (sizes[index] < bytes) index++;
      this.classBySlotBytes[bytes] = index;
    }
  }

  /** Whether a string of `length` bytes belongs in the arena. */
  static takes(length: number): boolean {
    return length >= ARENA_MIN_BYTES && length <= ARENA_MAX_BYTES;
  }

  /**
   * Copies `text` (latin1, `ValueArena.takes` its length) into a slot; returns its handle, or -1
   * when its class has run out of handles (the caller keeps the string).
   */
  store(text: string): number {
    const length = text.length;
    const index = this.classBySlotBytes[length + HEADER_BYTES];
    const sizeClass = this.classes[index];
    assert(sizeClass.size >= length + HEADER_BYTES, "a value fits its class");
    const slot = sizeClass.take();
    if (slot === -1) return -1;
    const slab = sizeClass.slabs[(slot / sizeClass.slotsPerSlab) | 0];
    const offset = (slot % sizeClass.slotsPerSlab) * sizeClass.size;
    slab[offset] = length & 0xff;
    slab[offset + 1] = length >>> 8;
    writeLatin1(slab, text, offset + HEADER_BYTES);
    return slot * CLASS_COUNT_MAX + index;
  }

  /** Bytes the value's slot takes, from its handle alone (memory accounting). */
  slotBytes(handle: number): number {
    return this.classes[handle & (CLASS_COUNT_MAX - 1)].size;
  }

  /** The value's length in bytes. */
  length(handle: number): number {
    const sizeClass = this.classes[handle & (CLASS_COUNT_MAX - 1)];
    const slot = Math.floor(handle / CLASS_COUNT_MAX);
    const slab = sizeClass.slabs[(slot / sizeClass.slotsPerSlab) | 0];
    const offset = (slot % sizeClass.slotsPerSlab) * sizeClass.size;
    return slab[offset] | (slab[offset + 1] << 8);
  }

  /** The value as a latin1 string. */
  read(handle: number): string {
    const sizeClass = this.classes[handle & (CLASS_COUNT_MAX - 1)];
    const slot = Math.floor(handle / CLASS_COUNT_MAX);
    const slab = sizeClass.slabs[(slot / sizeClass.slotsPerSlab) | 0];
    const offset = (slot % sizeClass.slotsPerSlab) * sizeClass.size;
    const start = offset + HEADER_BYTES;
    return readLatin1(slab, start, start + (slab[offset] | (slab[offset + 1] << 8)));
  }

  /** Copies the value's bytes to `target` at `at`; returns their count. */
  copyTo(handle: number, target: Uint8Array, at: number): number {
    const sizeClass = this.classes[handle & (CLASS_COUNT_MAX - 1)];
    const slot = Math.floor(handle / CLASS_COUNT_MAX);
    const slab = sizeClass.slabs[(slot / sizeClass.slotsPerSlab) | 0];
    const offset = (slot % sizeClass.slotsPerSlab) * sizeClass.size;
    const length = slab[offset] | (slab[offset + 1] << 8);
    const start = offset + HEADER_BYTES;
    if (length <= COPY_LOOP_MAX_BYTES) {
      for (let i = 0; i < length; i++) target[at + i] = slab[start + i];
    } else {
      target.set(slab.subarray(start, start + length), at);
    }
    return length;
  }

  /** Returns the value's slot to its class; the handle must not be used again. */
  free(handle: number): void {
    this.classes[handle & (CLASS_COUNT_MAX - 1)].give(Math.floor(handle / CLASS_COUNT_MAX));
  }

  /**
   * Gives back the slabs of every size class with no value left (after FLUSHALL, or MEMORY
   * PURGE). A class with values keeps its slabs: slots are addressed by position.
   */
  trim(): void {
    for (const sizeClass of this.classes) sizeClass.trim();
  }

  /** Slab bytes the arena holds, and the bytes of the slots in use (INFO memory). */
  stats(): { slabBytes: number; slotBytes: number; values: number } {
    let slabBytes = 0;
    let slotBytes = 0;
    let values = 0;
    for (const sizeClass of this.classes) {
      slabBytes += sizeClass.slabs.length * SLAB_BYTES;
      slotBytes += sizeClass.used * sizeClass.size;
      values += sizeClass.used;
    }
    return { slabBytes, slotBytes, values };
  }
}

/** The process's arena (see the module comment). */
export const valueArena: ValueArena = new ValueArena();
