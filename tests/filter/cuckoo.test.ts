import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CuckooFilter } from "../../src/filter/mod.ts";
import { Keyspace, type StoreOptions } from "../../src/keyspace/mod.ts";
import { FakeClock } from "../_clock.ts";

const MILLION = 1_000_000;

/** Adds `present:0..count-1`; returns how many of them the filter then denies (false negatives). */
function addAndCountFalseNegatives(filter: CuckooFilter, count: number): number {
  for (let i = 0; i < count; i++) filter.add(`present:${i}`);
  let falseNegatives = 0;
  for (let i = 0; i < count; i++) if (!filter.mayContain(`present:${i}`)) falseNegatives++;
  return falseNegatives;
}

/** Share of `absent:0..count-1` (never added) that the filter reports as maybe present. */
function falsePositiveRate(filter: CuckooFilter, count: number): number {
  let positives = 0;
  for (let i = 0; i < count; i++) if (filter.mayContain(`absent:${i}`)) positives++;
  return positives / count;
}

describe("CuckooFilter: 1M keys", () => {
  for (const errorRate of [0.01, 0.001]) {
    it(`has no false negatives and a false-positive rate within 2x of ${errorRate}`, () => {
      const filter = new CuckooFilter({ capacity: MILLION, errorRate });
      assert.equal(addAndCountFalseNegatives(filter, MILLION), 0);
      assert.equal(filter.subFilterCount, 1);
      const rate = falsePositiveRate(filter, MILLION);
      assert.ok(rate <= 2 * errorRate, `measured ${rate} for a configured ${errorRate}`);
    });

    it(`keeps both after growing 10x past its capacity at ${errorRate}`, () => {
      const filter = new CuckooFilter({ capacity: MILLION / 10, errorRate });
      assert.equal(addAndCountFalseNegatives(filter, MILLION), 0);
      assert.ok(filter.subFilterCount > 1, "it grew");
      const rate = falsePositiveRate(filter, MILLION / 2);
      assert.ok(rate <= 2 * errorRate, `measured ${rate} for a configured ${errorRate}`);
    });
  }
});

describe("CuckooFilter: growth, deletes and failed placements", () => {
  it("grows instead of failing when far past its capacity", () => {
    const filter = new CuckooFilter({ capacity: 10, errorRate: 0.01 });
    assert.equal(addAndCountFalseNegatives(filter, 20_000), 0);
    assert.equal(filter.count, 20_000);
    assert.ok(filter.subFilterCount >= 10);
  });

  it("never loses an existing key when an insert cannot be placed", () => {
    // Each growth follows an insert that failed after 500 relocations; check that every key added
    // before it is still there at that moment (a relocation that was not undone would lose one).
    const filter = new CuckooFilter({ capacity: 1000, errorRate: 0.01 });
    let growths = 0;
    for (let i = 0; i < 50_000; i++) {
      const before = filter.subFilterCount;
      filter.add(`present:${i}`);
      if (filter.subFilterCount !== before) {
        growths++;
        for (let j = 0; j <= i; j++) {
          assert.ok(filter.mayContain(`present:${j}`), `key ${j} readable after insert ${i}`);
        }
      }
    }
    assert.ok(growths >= 4, `${growths} failed placements checked`);
  });

  it("deletes items: a removed item is then absent and the others stay present", () => {
    const filter = new CuckooFilter({ capacity: 20_000, errorRate: 0.001 });
    for (let i = 0; i < 20_000; i++) filter.add(`present:${i}`);
    for (let i = 0; i < 20_000; i += 2) assert.equal(filter.remove(`present:${i}`), true);
    assert.equal(filter.count, 10_000);
    let stillReported = 0;
    for (let i = 0; i < 20_000; i++) {
      if (i % 2 === 1) assert.ok(filter.mayContain(`present:${i}`), `kept key ${i}`);
      else if (filter.mayContain(`present:${i}`)) stillReported++;
    }
    assert.ok(stillReported <= 20, `${stillReported} removed keys still reported`);
  });

  it("deletes items that were placed in grown sub-filters", () => {
    const filter = new CuckooFilter({ capacity: 100, errorRate: 0.001 });
    for (let i = 0; i < 5000; i++) filter.add(`present:${i}`);
    assert.ok(filter.subFilterCount > 1);
    for (let i = 0; i < 5000; i++) {
      if (i % 3 === 0) assert.equal(filter.remove(`present:${i}`), true);
    }
    for (let i = 0; i < 5000; i++) {
      if (i % 3 !== 0) assert.ok(filter.mayContain(`present:${i}`), `kept key ${i}`);
    }
    assert.equal(filter.count, 5000 - 1667);
  });

  it("stores an item added twice twice: it stays until removed twice", () => {
    const filter = new CuckooFilter({ capacity: 100 });
    for (let i = 0; i < 20; i++) filter.add("dup");
    for (let i = 0; i < 19; i++) {
      assert.equal(filter.remove("dup"), true);
      assert.ok(filter.mayContain("dup"));
    }
    assert.equal(filter.remove("dup"), true);
    assert.equal(filter.mayContain("dup"), false);
    assert.equal(filter.remove("dup"), false);
  });

  it("clears back to one empty sub-filter", () => {
    const filter = new CuckooFilter({ capacity: 100 });
    for (let i = 0; i < 1000; i++) filter.add(`present:${i}`);
    filter.clear();
    assert.equal(filter.count, 0);
    assert.equal(filter.subFilterCount, 1);
    assert.equal(filter.mayContain("present:1"), false);
    filter.add("again");
    assert.ok(filter.mayContain("again"));
  });

  it("estimates its own false-positive rate near the measured one", () => {
    const filter = new CuckooFilter({ capacity: 100_000, errorRate: 0.01 });
    for (let i = 0; i < 100_000; i++) filter.add(`present:${i}`);
    const measured = falsePositiveRate(filter, 200_000);
    const estimated = filter.estimatedFalsePositiveRate;
    assert.ok(Math.abs(measured - estimated) < estimated * 0.25, `${measured} vs ${estimated}`);
  });

  it("rejects a capacity or error rate it cannot use, naming the value", () => {
    assert.throws(() => new CuckooFilter({ capacity: 0 }), /'capacity' .* current value is 0/);
    assert.throws(() => new CuckooFilter({ capacity: 1.5 }), /current value is 1.5/);
    assert.throws(() => new CuckooFilter({ errorRate: 1 }), /'errorRate' .* current value is 1/);
    assert.throws(() => new CuckooFilter({ errorRate: 0 }), /current value is 0/);
    assert.throws(() => new CuckooFilter({ seed: -1 }), /'seed' .* current value is -1/);
    assert.throws(
      () => new CuckooFilter({ seed: 2 ** 32 }),
      /'seed' .* current value is 4294967296/,
    );
    assert.equal(new CuckooFilter({ seed: 0xffffffff }).mayContain("x"), false);
  });
});

describe("Keyspace with a cuckoo filter", () => {
  function makeKeyspace(options: Partial<StoreOptions> = {}) {
    const clock = new FakeClock();
    const keyspace = new Keyspace([{
      name: "filtered",
      maxMemoryBytes: 0,
      evictionPolicy: "noeviction",
      defaultTtlMs: 0,
      filter: { capacity: 1000, errorRate: 0.01 },
      ...options,
    }], clock);
    return { keyspace, store: keyspace.store(0), clock };
  }

  it("answers hits and misses correctly, misses mostly from the filter", () => {
    const { store } = makeKeyspace();
    for (let i = 0; i < 1000; i++) store.set(`key:${i}`, `value:${i}`);
    for (let i = 0; i < 1000; i++) assert.equal(store.read(`key:${i}`)?.value, `value:${i}`);
    for (let i = 0; i < 10_000; i++) assert.equal(store.read(`missing:${i}`), undefined);
    assert.equal(store.stats.hits, 1000);
    assert.equal(store.stats.misses, 10_000);
    assert.ok(store.stats.filterNegatives > 9_900, `${store.stats.filterNegatives} filter answers`);
  });

  it("keeps every key readable after the filter grows past its capacity", () => {
    const { store } = makeKeyspace();
    for (let i = 0; i < 50_000; i++) store.set(`key:${i}`, "v");
    assert.ok(store.filter!.subFilterCount > 1);
    for (let i = 0; i < 50_000; i++) assert.ok(store.read(`key:${i}`), `key ${i}`);
  });

  it("misses deleted keys and still finds the others", () => {
    const { store } = makeKeyspace();
    for (let i = 0; i < 2000; i++) store.set(`key:${i}`, "v");
    for (let i = 0; i < 2000; i += 2) assert.equal(store.delete(`key:${i}`), true);
    for (let i = 0; i < 2000; i++) {
      assert.equal(store.read(`key:${i}`) !== undefined, i % 2 === 1, `key ${i}`);
    }
    store.set("key:0", "back");
    assert.equal(store.read("key:0")?.value, "back");
  });

  it("misses every key after a flush and finds keys written after it", () => {
    const { store } = makeKeyspace();
    for (let i = 0; i < 5000; i++) store.set(`key:${i}`, "v");
    store.flush();
    for (let i = 0; i < 5000; i++) assert.equal(store.read(`key:${i}`), undefined);
    assert.equal(store.filter!.count, 0);
    store.set("key:1", "again");
    assert.equal(store.read("key:1")?.value, "again");
  });

  it("keeps the filter in step with expiry and eviction", () => {
    const { store, keyspace, clock } = makeKeyspace({
      evictionPolicy: "allkeys-lru",
      maxMemoryBytes: 100 * 80,
    });
    for (let i = 0; i < 100; i++) store.set(`t:${i}`, "v", clock.realtimeMs() + 10);
    clock.advance(10);
    keyspace.activeExpireCycle(1000);
    assert.equal(store.size, 0);
    assert.equal(store.filter!.count, 0);
    for (let i = 0; i < 300; i++) {
      store.ensureMemory();
      store.set(`e:${i}`, "v");
      clock.advance(1);
    }
    assert.equal(store.filter!.count, store.size);
    for (const key of store.map.keys()) assert.ok(store.read(key), key);
    assert.equal(store.read("e:0"), undefined, "evicted");
  });

  it("overwriting a key does not add it to the filter twice", () => {
    const { store } = makeKeyspace();
    for (let i = 0; i < 10; i++) store.set("same", `v${i}`);
    assert.equal(store.filter!.count, 1);
    store.delete("same");
    assert.equal(store.read("same"), undefined);
    assert.equal(store.filter!.count, 0);
  });
});
