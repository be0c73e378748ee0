import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ARENA_MAX_BYTES, ARENA_MIN_BYTES, ValueArena } from "../../src/keyspace/_arena.ts";
import { xorshift32 } from "../../src/_random.ts";

/** A latin1 string of `length` bytes drawn from every byte value. */
function bytes(length: number, random: () => number): string {
  let text = "";
  for (let i = 0; i < length; i++) text += String.fromCharCode(Math.floor(random() * 256));
  return text;
}

describe("ValueArena", () => {
  it("takes lengths from ARENA_MIN_BYTES to ARENA_MAX_BYTES", () => {
    assert.equal(ValueArena.takes(ARENA_MIN_BYTES - 1), false);
    assert.equal(ValueArena.takes(ARENA_MIN_BYTES), true);
    assert.equal(ValueArena.takes(ARENA_MAX_BYTES), true);
    assert.equal(ValueArena.takes(ARENA_MAX_BYTES + 1), false);
  });

  it("gives back every stored value byte for byte at every length it takes", () => {
    const arena = new ValueArena();
    const random = xorshift32(7);
    const stored = new Map<number, string>();
    for (let length = ARENA_MIN_BYTES; length <= ARENA_MAX_BYTES; length += 37) {
      const value = bytes(length, random);
      stored.set(arena.store(value), value);
    }
    const last = bytes(ARENA_MAX_BYTES, random);
    stored.set(arena.store(last), last);
    for (const [handle, value] of stored) {
      assert.equal(arena.length(handle), value.length);
      assert.equal(arena.read(handle), value);
      const copy = new Uint8Array(value.length + 2);
      assert.equal(arena.copyTo(handle, copy, 1), value.length);
      assert.equal(copy[0], 0, "copies start where told");
      assert.equal(copy[value.length + 1], 0, "and write nothing past the value");
      assert.equal(String.fromCharCode(...copy.subarray(1, value.length + 1)), value);
    }
  });

  it("agrees with a Map through 20,000 random stores and frees, reusing freed slots", () => {
    const arena = new ValueArena();
    const random = xorshift32(42);
    const model = new Map<number, string>();
    for (let op = 0; op < 20_000; op++) {
      if (model.size > 0 && random() < 0.45) {
        const handles = [...model.keys()];
        const handle = handles[Math.floor(random() * handles.length)];
        arena.free(handle);
        model.delete(handle);
      } else {
        // Mostly small values, some up to 2 KiB: several classes, several slabs each.
        const length = ARENA_MIN_BYTES +
          Math.floor(random() < 0.9 ? random() * 200 : random() * 2000);
        const value = bytes(length, random);
        const handle = arena.store(value);
        assert.equal(model.has(handle), false, "a live handle is never handed out twice");
        model.set(handle, value);
      }
      if (op % 2000 === 0) {
        for (const [handle, value] of model) assert.equal(arena.read(handle), value);
      }
    }
    for (const [handle, value] of model) assert.equal(arena.read(handle), value);
    const stats = arena.stats();
    assert.equal(stats.values, model.size);
    let needed = 0;
    for (const value of model.values()) needed += value.length + 2;
    assert.ok(stats.slotBytes >= needed, "slots hold their values");
    assert.ok(stats.slotBytes <= needed * 1.34 + model.size * 8, "size classes waste little");
  });

  it("puts a value in the smallest slot that holds it and its 2-byte length", () => {
    const arena = new ValueArena();
    let previous = 0;
    for (let length = ARENA_MIN_BYTES; length <= ARENA_MAX_BYTES; length++) {
      const slot = arena.slotBytes(arena.store("v".repeat(length)));
      assert.ok(slot >= length + 2, `length ${length}`);
      assert.ok(slot >= previous, "slots never get smaller for longer values");
      if (slot !== previous && previous !== 0) {
        // The first length of a new class is one past what the class before it holds.
        assert.equal(
          length + 1,
          previous,
          `length ${length}: class ${previous} held ${length - 1}`,
        );
      }
      previous = slot;
    }
    for (const [length, slot] of [[22, 24], [30, 32], [100, 104], [126, 128]]) {
      assert.equal(arena.slotBytes(arena.store("x".repeat(length))), slot, `length ${length}`);
    }
  });

  it("hands out small integers, which engines store without boxing", () => {
    const arena = new ValueArena();
    const handle = arena.store("x".repeat(5000));
    assert.ok(Number.isInteger(handle) && handle >= 0 && handle < 2 ** 30);
  });
});

describe("ValueArena.trim", () => {
  it("gives back the slabs of emptied size classes and keeps those still holding values", () => {
    const arena = new ValueArena();
    const small = Array.from(
      { length: 5000 },
      (_, i) => arena.store(`small value ${i}`.padEnd(20)),
    );
    const kept = arena.store("y".repeat(1000));
    const before = arena.stats().slabBytes;
    for (const handle of small) arena.free(handle);
    arena.trim();
    const after = arena.stats();
    assert.ok(after.slabBytes < before, "the 24-byte class's slabs went");
    assert.ok(after.slabBytes > 0, "the 1000-byte value's class kept its slab");
    assert.equal(arena.read(kept), "y".repeat(1000));
    const again = arena.store("z".repeat(20));
    assert.equal(arena.read(again), "z".repeat(20), "an emptied class fills again");
  });
});
