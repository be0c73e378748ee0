import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { hashBytes, hashString } from "../../src/_hash.ts";
import { KeyTable } from "../../src/keyspace/_table.ts";
import { xorshift32 } from "../../src/_random.ts";

class Item {
  constructor(readonly key: string, readonly n: number) {}
  hasKey(key: string): boolean {
    return this.key === key;
  }
}

function item(key: string, n: number): Item {
  return new Item(key, n);
}

/** Checks every key of `model` is found with its item and a sample of absent keys is not. */
function assertSameAs(table: KeyTable<Item>, model: Map<string, Item>, keySpace: number): void {
  assert.equal(table.size, model.size);
  for (let k = 0; k < keySpace; k++) {
    const key = `k${k}`;
    assert.equal(table.get(key), model.get(key), key);
  }
  assert.deepEqual(new Set(table.values()), new Set(model.values()));
  assert.equal(new Set(table.items).size, table.items.length, "each item is listed once");
}

describe("KeyTable", () => {
  for (const seed of [1, 0x9e3779b9, 12345]) {
    it(`agrees with a Map through 20,000 random adds, deletes and removes (seed ${seed})`, () => {
      const random = xorshift32(seed);
      const table = new KeyTable<Item>(seed);
      const model = new Map<string, Item>();
      // A small key space makes runs long and deletes frequent: backward shifts cross the wrap
      // of the slot array, and the table grows and shrinks many times.
      const keySpace = 300;
      for (let op = 0; op < 20_000; op++) {
        const key = `k${Math.floor(random() * keySpace)}`;
        if (random() < 0.55) {
          const added = item(key, op);
          const present = table.add(added);
          assert.equal(present, model.get(key), "add returns the present item");
          if (present === undefined) model.set(key, added);
        } else if (random() < 0.5 || !model.has(key)) {
          const removed = table.delete(key);
          assert.equal(removed, model.get(key), "delete returns the removed item");
          model.delete(key);
        } else {
          // By identity, as a store removes an entry it holds.
          table.remove(model.get(key)!, table.hash(key));
          model.delete(key);
        }
        if (op % 1000 === 0) assertSameAs(table, model, keySpace);
      }
      assertSameAs(table, model, keySpace);
    });
  }

  it("tells apart keys whose hashes share a home slot, differ only in high bits, or are equal", () => {
    // The same low 20 bits for every key: one long run of slots, where hashes differ only in
    // their high bits; pairs of keys with equal hashes are told apart by their keys.
    const hashOf = (n: number) => ((n >> 1) << 20) | 5;
    const table = new KeyTable<Item>(1);
    const model = new Map<string, Item>();
    for (let n = 0; n < 400; n++) {
      const added = item(`k${n}`, n);
      assert.equal(table.add(added, hashOf(n)), undefined);
      model.set(added.key, added);
    }
    for (let n = 0; n < 400; n++) assert.equal(table.get(`k${n}`, hashOf(n))?.n, n);
    for (let n = 0; n < 400; n += 3) {
      assert.equal(table.delete(`k${n}`, hashOf(n))?.n, n);
      model.delete(`k${n}`);
    }
    for (let n = 1; n < 400; n += 3) {
      table.remove(model.get(`k${n}`)!, hashOf(n));
      model.delete(`k${n}`);
    }
    for (let n = 0; n < 400; n++) assert.equal(table.get(`k${n}`, hashOf(n)), model.get(`k${n}`));
    assert.equal(table.size, model.size);
  });

  it("grows under load and shrinks back after deletes", () => {
    const table = new KeyTable<Item>(7);
    for (let n = 0; n < 10_000; n++) assert.equal(table.add(item(`key:${n}`, n)), undefined);
    assert.ok(table.capacity >= 10_000 / 0.75, `capacity ${table.capacity}`);
    for (let n = 0; n < 10_000; n++) assert.equal(table.get(`key:${n}`)?.n, n);
    for (let n = 0; n < 9_990; n++) assert.equal(table.delete(`key:${n}`)?.n, n);
    assert.equal(table.size, 10);
    assert.ok(table.capacity <= 128, `capacity ${table.capacity} after deletes`);
    for (let n = 9_990; n < 10_000; n++) assert.equal(table.get(`key:${n}`)?.n, n);
    assert.equal(table.get("key:0"), undefined);
  });

  it("keeps binary keys apart, including ones that differ only in high bytes or length", () => {
    const table = new KeyTable<Item>(3);
    const keys = ["", "\x00", "\x00\x00", "\xff", "\xff\x00", "a\x80b", "a\x81b"];
    keys.forEach((key, n) => table.add(item(key, n)));
    keys.forEach((key, n) => assert.equal(table.get(key)?.n, n));
    assert.equal(table.get("\x01"), undefined);
  });

  it("refuses to remove an item that is not in the table", () => {
    const table = new KeyTable<Item>(3);
    table.add(item("a", 1));
    assert.throws(() => table.remove(item("a", 1), table.hash("a")), /not in the table/);
    assert.equal(table.get("a")?.n, 1);
  });

  it("peek gives the item a key's bytes hash to, and undefined for an absent hash", () => {
    const table = new KeyTable<Item>(11);
    for (let n = 0; n < 1000; n++) table.add(item(`key:${n}`, n));
    for (let n = 0; n < 1000; n++) {
      const bytes = new TextEncoder().encode(`key:${n}`);
      assert.equal(
        table.peek(hashBytes(bytes, 0, bytes.length, table.seed)),
        table.get(`key:${n}`),
      );
    }
    let absent = 0;
    for (let n = 1000; n < 2000; n++) {
      if (table.peek(table.hash(`key:${n}`)) === undefined) absent++;
    }
    assert.ok(absent > 990, `${absent} of 1000 absent hashes peeked as absent`);
  });

  it("clear empties the table", () => {
    const table = new KeyTable<Item>(3);
    for (let n = 0; n < 100; n++) table.add(item(`${n}`, n));
    table.clear();
    assert.equal(table.size, 0);
    assert.equal(table.get("5"), undefined);
    assert.deepEqual([...table.keys()], []);
  });
});

describe("hashString", () => {
  it("gives what hashBytes gives for the same bytes, at every length and byte value", () => {
    const random = xorshift32(5);
    const bytes = new Uint8Array(80);
    for (let length = 0; length <= 64; length++) {
      for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
      const text = String.fromCharCode(...bytes.subarray(3, 3 + length));
      assert.equal(hashBytes(bytes, 3, 3 + length, 77), hashString(text, 77), `length ${length}`);
    }
  });

  it("spreads sequential keys evenly over the low bits (the slot index)", () => {
    const buckets = new Array(256).fill(0);
    const count = 256 * 400;
    for (let n = 0; n < count; n++) {
      buckets[hashString(`key:${String(n).padStart(12, "0")}`, 99) & 255]++;
    }
    // 400 expected per bucket; a Poisson spread stays well inside 300-500.
    assert.ok(
      Math.min(...buckets) > 300 && Math.max(...buckets) < 500,
      `${Math.min(...buckets)}-${Math.max(...buckets)}`,
    );
  });

  it("depends on the seed", () => {
    assert.notEqual(hashString("same key", 1), hashString("same key", 2));
  });
});
