import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { RECORD_MAX_BYTES, RecordArena } from "../../src/keyspace/_arena.ts";
import { hashString } from "../../src/_hash.ts";
import { xorshift32 } from "../../src/_random.ts";

/** A latin1 string of `length` bytes drawn from every byte value. */
function bytes(length: number, random: () => number): string {
  let text = "";
  for (let i = 0; i < length; i++) text += String.fromCharCode(Math.floor(random() * 256));
  return text;
}

/** Checks that `handle` holds `key` and `value`, through every reader. */
function assertRecord(arena: RecordArena, handle: number, key: string, value: string): void {
  assert.equal(arena.key(handle), key);
  assert.equal(arena.keyLength(handle), key.length);
  assert.equal(arena.keyEquals(handle, key), true);
  assert.equal(arena.hashKey(handle, 9), hashString(key, 9));
  assert.equal(arena.value(handle), value);
  assert.equal(arena.valueLength(handle), value.length);
  const copy = new Uint8Array(value.length + 2);
  assert.equal(arena.copyValue(handle, copy, 1), value.length);
  assert.equal(copy[0], 0, "copies start where told");
  assert.equal(copy[value.length + 1], 0, "and write nothing past the value");
  assert.equal(String.fromCharCode(...copy.subarray(1, value.length + 1)), value);
  const keyCopy = new Uint8Array(key.length + 1);
  assert.equal(arena.copyKey(handle, keyCopy, 1), key.length);
  assert.equal(String.fromCharCode(...keyCopy.subarray(1)), key);
}

describe("RecordArena", () => {
  it("takes a key and a value of RECORD_MAX_BYTES together, and no more", () => {
    assert.equal(RecordArena.takes(0, 0), true);
    assert.equal(RecordArena.takes(16, RECORD_MAX_BYTES - 16), true);
    assert.equal(RecordArena.takes(16, RECORD_MAX_BYTES - 15), false);
    assert.equal(RecordArena.takes(RECORD_MAX_BYTES + 1, 0), false);
  });

  it("gives back every key and value byte for byte at every length it takes", () => {
    const arena = new RecordArena();
    const random = xorshift32(7);
    const stored = new Map<number, [string, string]>();
    for (let length = 0; length <= RECORD_MAX_BYTES; length += 37) {
      const keyLength = Math.floor(random() * Math.min(length, 300));
      const record: [string, string] = [
        bytes(keyLength, random),
        bytes(length - keyLength, random),
      ];
      stored.set(arena.store(...record), record);
    }
    const last: [string, string] = [bytes(20, random), bytes(RECORD_MAX_BYTES - 20, random)];
    stored.set(arena.store(...last), last);
    stored.set(arena.store("", ""), ["", ""]);
    for (const [handle, [key, value]] of stored) assertRecord(arena, handle, key, value);
  });

  it("compares keys in place: same length and bytes, nothing less", () => {
    const arena = new RecordArena();
    const handle = arena.store("key\xff\x00", "v");
    assert.equal(arena.keyEquals(handle, "key\xff\x00"), true);
    assert.equal(arena.keyEquals(handle, "key\xff"), false);
    assert.equal(arena.keyEquals(handle, "key\xff\x00\x00"), false);
    assert.equal(arena.keyEquals(handle, "key\xfe\x00"), false);
    assert.equal(arena.keyEquals(handle, "v"), false);
  });

  it("agrees with a Map through 20,000 random stores, value replacements and frees", () => {
    const arena = new RecordArena();
    const random = xorshift32(42);
    const model = new Map<number, [string, string]>();
    // Mostly small values, some up to 2 KiB: several classes, several slabs each.
    const someValue = () =>
      bytes(Math.floor(random() < 0.9 ? random() * 200 : random() * 2000), random);
    for (let op = 0; op < 20_000; op++) {
      const handles = [...model.keys()];
      const chosen = handles[Math.floor(random() * handles.length)];
      const dice = random();
      if (model.size > 0 && dice < 0.3) {
        arena.free(chosen);
        model.delete(chosen);
      } else if (model.size > 0 && dice < 0.55) {
        const [key, old] = model.get(chosen)!;
        const value = someValue();
        const handle = arena.replaceValue(chosen, value);
        const sameClass = arena.slotBytesFor(key.length, value.length) ===
          arena.slotBytesFor(key.length, old.length);
        assert.equal(handle === chosen, sameClass, "a record moves only when its class changes");
        model.delete(chosen);
        assert.equal(model.has(handle), false, "a live handle is never handed out twice");
        model.set(handle, [key, value]);
      } else {
        const record: [string, string] = [
          bytes(1 + Math.floor(random() * 40), random),
          someValue(),
        ];
        const handle = arena.store(...record);
        assert.equal(model.has(handle), false, "a live handle is never handed out twice");
        model.set(handle, record);
      }
      if (op % 2000 === 0) {
        for (const [handle, [key, value]] of model) assertRecord(arena, handle, key, value);
      }
    }
    for (const [handle, [key, value]] of model) assertRecord(arena, handle, key, value);
    const stats = arena.stats();
    assert.equal(stats.records, model.size);
    let needed = 0;
    for (const [key, value] of model.values()) needed += key.length + value.length + 4;
    assert.ok(stats.slotBytes >= needed, "slots hold their records");
    assert.ok(stats.slotBytes <= needed * 1.34 + model.size * 8, "size classes waste little");
  });

  it("keeps a record where it is when a replacement value no longer fits a record", () => {
    const arena = new RecordArena();
    const handle = arena.store("k", "small");
    assert.equal(arena.replaceValue(handle, "x".repeat(RECORD_MAX_BYTES)), -1);
    assertRecord(arena, handle, "k", "small");
  });

  it("puts a record in the smallest slot that holds it and its 4-byte header", () => {
    const arena = new RecordArena();
    let previous = 0;
    for (let length = 0; length <= RECORD_MAX_BYTES; length++) {
      const slot = arena.slotBytes(arena.store("", "v".repeat(length)));
      assert.equal(slot, arena.slotBytesFor(0, length));
      assert.ok(slot >= length + 4, `length ${length}`);
      assert.ok(slot >= previous, "slots never get smaller for longer records");
      if (slot !== previous && previous !== 0) {
        // The first length of a new class is one past what the class before it holds.
        assert.equal(
          length + 3,
          previous,
          `length ${length}: class ${previous} held ${length - 1}`,
        );
      }
      previous = slot;
    }
    // A 16-byte key with a 100-byte value: 120 bytes, where Redis's jemalloc uses 128.
    for (const [key, value, slot] of [[1, 0, 16], [4, 8, 16], [16, 1, 24], [16, 100, 120]]) {
      assert.equal(arena.slotBytes(arena.store("k".repeat(key), "x".repeat(value))), slot);
    }
  });

  it("hands out small integers, which engines store without boxing", () => {
    const arena = new RecordArena();
    const handle = arena.store("key", "x".repeat(5000));
    assert.ok(Number.isInteger(handle) && handle >= 0 && handle < 2 ** 30);
  });
});

describe("RecordArena.trim", () => {
  it("gives back the slabs of emptied size classes and keeps those still holding records", () => {
    const arena = new RecordArena();
    const small = Array.from({ length: 5000 }, (_, i) => arena.store(`k${i}`, "small value"));
    const kept = arena.store("kept", "y".repeat(1000));
    const before = arena.stats().slabBytes;
    for (const handle of small) arena.free(handle);
    arena.trim();
    const after = arena.stats();
    assert.ok(after.slabBytes < before, "the small records' slabs went");
    assert.ok(after.slabBytes > 0, "the 1000-byte value's class kept its slab");
    assertRecord(arena, kept, "kept", "y".repeat(1000));
    const again = arena.store("again", "z".repeat(20));
    assertRecord(arena, again, "again", "z".repeat(20));
    assertRecord(arena, kept, "kept", "y".repeat(1000));
  });
});
