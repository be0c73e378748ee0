import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ENTRY_OVERHEAD_BYTES } from "../../src/constants.ts";
import {
  type EvictionPolicy,
  Keyspace,
  type RemovalCause,
  Store,
  type StoreOptions,
} from "../../src/keyspace/mod.ts";
import { FakeClock } from "../_clock.ts";

/** Every key is `k000`..`k999` with a 32-byte value, so every entry is accounted the same. */
const VALUE = "v".repeat(32);
/** The bytes each such entry is accounted for: key, value (its arena slot) and overhead. */
const ENTRY_BYTES = (() => {
  const probe = new Store(0, {
    name: "probe",
    maxMemoryBytes: 0,
    evictionPolicy: "noeviction",
    defaultTtlMs: 0,
  }, new FakeClock());
  probe.set("k000", VALUE);
  assert.ok(probe.usedMemoryBytes >= 4 + 32 + ENTRY_OVERHEAD_BYTES);
  return probe.usedMemoryBytes;
})();
const key = (i: number) => `k${String(i).padStart(3, "0")}`;

function makeStore(
  policy: EvictionPolicy,
  keyCount: number,
  options: Partial<StoreOptions> = {},
  clock = new FakeClock(),
): { store: Store; clock: FakeClock; evicted: string[] } {
  const store = new Store(0, {
    name: "test",
    maxMemoryBytes: keyCount * ENTRY_BYTES,
    evictionPolicy: policy,
    defaultTtlMs: 0,
    evictionSamples: keyCount,
    ...options,
  }, clock);
  const evicted: string[] = [];
  store.onRemoved = (_store, removedKey, cause: RemovalCause) => {
    if (cause === "evicted") evicted.push(removedKey);
  };
  return { store, clock, evicted };
}

/** Sets keys 0..count-1, one millisecond apart; `ttl(i)` gives a relative TTL or 0 for none. */
function fill(store: Store, clock: FakeClock, count: number, ttl: (i: number) => number = () => 0) {
  for (let i = 0; i < count; i++) {
    const ttlMs = ttl(i);
    store.set(key(i), VALUE, ttlMs === 0 ? 0 : clock.realtimeMs() + ttlMs);
    clock.advance(1);
  }
}

/** One write past the limit, as the dispatcher does it: write, then make room before the next. */
function overflow(store: Store, clock: FakeClock, count = 1): boolean {
  for (let i = 0; i < count; i++) store.set(`n${String(i).padStart(3, "0")}`, VALUE);
  clock.advance(1);
  return store.ensureMemory();
}

describe("eviction: noeviction", () => {
  it("refuses writes over the limit and evicts nothing", () => {
    const { store, clock, evicted } = makeStore("noeviction", 10);
    fill(store, clock, 10);
    assert.equal(store.ensureMemory(), true, "exactly at the limit is allowed");
    assert.equal(overflow(store, clock), false);
    assert.equal(store.size, 11);
    assert.deepEqual(evicted, []);
  });

  it("never refuses without a limit", () => {
    const { store, clock } = makeStore("noeviction", 10, { maxMemoryBytes: 0 });
    fill(store, clock, 100);
    assert.equal(store.ensureMemory(), true);
  });
});

describe("eviction: allkeys-lru", () => {
  it("evicts the least recently used key (exact with samples = keys)", () => {
    const { store, clock, evicted } = makeStore("allkeys-lru", 10, { evictionSamples: 11 });
    fill(store, clock, 10);
    // Touch every key but k003, so k003 is the least recently used.
    for (let i = 0; i < 10; i++) {
      if (i !== 3) store.read(key(i));
      clock.advance(1);
    }
    assert.equal(overflow(store, clock), true);
    assert.deepEqual(evicted, ["k003"]);
    assert.ok(store.usedMemoryBytes <= 10 * ENTRY_BYTES);
  });

  it("evicts in least-recently-used order until memory fits", () => {
    const { store, clock, evicted } = makeStore("allkeys-lru", 10, { evictionSamples: 13 });
    fill(store, clock, 10);
    for (const i of [9, 0, 5, 1, 8, 2, 7, 3, 6, 4]) {
      store.read(key(i));
      clock.advance(1);
    }
    assert.equal(overflow(store, clock, 3), true);
    assert.deepEqual(evicted, ["k009", "k000", "k005"]);
  });

  it("keeps recently used keys with the default 5 samples (approximated LRU)", () => {
    const clock = new FakeClock();
    const store = new Store(0, {
      name: "test",
      maxMemoryBytes: 0,
      evictionPolicy: "allkeys-lru",
      defaultTtlMs: 0,
    }, clock);
    fill(store, clock, 1000);
    const recent = new Set<string>();
    for (let i = 0; i < 1000; i += 5) {
      store.read(key(i));
      recent.add(key(i));
      clock.advance(1);
    }
    store.options.maxMemoryBytes = 500 * ENTRY_BYTES;
    assert.equal(store.ensureMemory(), true);
    assert.equal(store.size, 500);
    let recentSurvivors = 0;
    for (const k of recent) if (store.map.has(k)) recentSurvivors++;
    assert.ok(recentSurvivors >= 180, `${recentSurvivors} of 200 recently used keys survived`);
  });
});

describe("eviction: allkeys-lfu", () => {
  it("evicts the least frequently used key (exact with samples = keys)", () => {
    const { store, clock, evicted } = makeStore("allkeys-lfu", 10, { evictionSamples: 11 });
    fill(store, clock, 10);
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 10; i++) if (i !== 6) store.read(key(i));
    }
    // The new key written by `overflow` was never read either; read it so k006 is the coldest.
    store.set("n000", VALUE);
    for (let round = 0; round < 50; round++) store.read("n000");
    clock.advance(1);
    assert.equal(store.ensureMemory(), true);
    assert.deepEqual(evicted, ["k006"]);
  });

  it("lets an old hot key's counter decay so it is evicted before a fresh key", () => {
    const { store, clock, evicted } = makeStore("allkeys-lfu", 2, { evictionSamples: 3 });
    store.set("old", VALUE.slice(0, 30) + "xx");
    for (let i = 0; i < 200; i++) store.read("old");
    assert.ok(store.frequency(store.lookup("old", false)!) > 5);
    clock.advance(30 * 60_000); // 30 minutes: one point of decay per minute
    store.set("new", VALUE.slice(0, 30) + "xx");
    store.set("nxt", VALUE.slice(0, 30) + "xx");
    assert.equal(store.ensureMemory(), true);
    assert.deepEqual(evicted, ["old"]);
  });

  it("keeps the counter of an overwritten key, as Redis does", () => {
    const { store } = makeStore("allkeys-lfu", 10);
    store.set("k", VALUE);
    for (let i = 0; i < 200; i++) store.read("k");
    const before = store.frequency(store.lookup("k", false)!);
    assert.ok(before > 5);
    store.set("k", VALUE);
    assert.equal(store.frequency(store.lookup("k", false)!), before);
  });

  it("never decays with lfuDecayMinutes 0 (lfu-decay-time 0)", () => {
    const { store, clock } = makeStore("allkeys-lfu", 10, { lfuDecayMinutes: 0 });
    store.set("k", VALUE);
    for (let i = 0; i < 200; i++) store.read("k");
    const before = store.frequency(store.lookup("k", false)!);
    clock.advance(24 * 60 * 60_000);
    assert.equal(store.frequency(store.lookup("k", false)!), before);
  });
});

describe("eviction: switching between LRU and LFU policies", () => {
  it("carries every key's access record over, both ways", () => {
    const { store, clock } = makeStore("allkeys-lru", 10);
    store.set("idle", VALUE);
    clock.advance(10 * 60_000);
    store.set("fresh", VALUE);
    store.setEvictionPolicy("allkeys-lfu");
    // The initial counter as of the last access, decayed since: one point a minute.
    assert.equal(store.frequency(store.lookup("fresh", false)!), 5);
    assert.equal(store.frequency(store.lookup("idle", false)!), 0);
    clock.advance(3 * 60_000);
    store.setEvictionPolicy("volatile-lru");
    // Idle times come back at the minute granularity LFU keeps.
    assert.equal(store.idleMs(store.lookup("idle", false)!), 13 * 60_000);
    assert.equal(store.idleMs(store.lookup("fresh", false)!), 3 * 60_000);
  });
});

describe("eviction: allkeys-random", () => {
  it("evicts some keys until memory fits", () => {
    const { store, clock, evicted } = makeStore("allkeys-random", 100, { evictionSamples: 5 });
    fill(store, clock, 100);
    assert.equal(overflow(store, clock, 20), true);
    assert.equal(evicted.length, 20);
    assert.ok(store.usedMemoryBytes <= 100 * ENTRY_BYTES);
    assert.ok(new Set(evicted).size === 20);
  });
});

describe("eviction: volatile policies only evict keys with a TTL", () => {
  for (
    const policy of ["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"] as const
  ) {
    it(`${policy} evicts only keys with a TTL`, () => {
      const { store, clock, evicted } = makeStore(policy, 20);
      // Even keys have a TTL, odd keys none.
      fill(store, clock, 20, (i) => (i % 2 === 0 ? 1_000_000 + i : 0));
      assert.equal(overflow(store, clock, 5), true);
      assert.equal(evicted.length, 5);
      for (const k of evicted) assert.equal(Number(k.slice(1)) % 2, 0, `${k} had a TTL`);
    });

    it(`${policy} evicts nothing and refuses the write when no key has a TTL`, () => {
      const { store, clock, evicted } = makeStore(policy, 10);
      fill(store, clock, 10);
      assert.equal(overflow(store, clock), false);
      assert.deepEqual(evicted, []);
      assert.equal(store.size, 11);
    });
  }

  it("volatile-lru evicts the least recently used key among those with a TTL", () => {
    const { store, clock, evicted } = makeStore("volatile-lru", 10, { evictionSamples: 11 });
    fill(store, clock, 10, (i) => (i < 5 ? 0 : 1_000_000));
    // k000 (no TTL) is the oldest of all; k007 is the oldest key with a TTL after this.
    for (const i of [5, 6, 8, 9]) {
      store.read(key(i));
      clock.advance(1);
    }
    assert.equal(overflow(store, clock), true);
    assert.deepEqual(evicted, ["k007"]);
  });

  it("volatile-lfu evicts the least frequently used key among those with a TTL", () => {
    const { store, clock, evicted } = makeStore("volatile-lfu", 10, { evictionSamples: 11 });
    fill(store, clock, 10, (i) => (i < 5 ? 0 : 1_000_000));
    for (let round = 0; round < 50; round++) for (const i of [5, 6, 7, 9]) store.read(key(i));
    assert.equal(overflow(store, clock), true);
    assert.deepEqual(evicted, ["k008"]);
  });

  it("volatile-ttl evicts the key that expires soonest", () => {
    const { store, clock, evicted } = makeStore("volatile-ttl", 10, { evictionSamples: 11 });
    const ttls = [0, 9000, 7000, 0, 3000, 8000, 5000, 0, 4000, 6000];
    fill(store, clock, 10, (i) => ttls[i]);
    assert.equal(overflow(store, clock, 2), true);
    assert.deepEqual(evicted, ["k004", "k008"]);
  });
});

describe("eviction: session (sliding idle timeout)", () => {
  it("pushes a key's expiry forward by default_ttl on every read", () => {
    const { store, clock } = makeStore("session", 10, { defaultTtlMs: 1000, maxMemoryBytes: 0 });
    store.set("s", "alice");
    for (let i = 0; i < 10; i++) {
      clock.advance(900);
      assert.equal(store.read("s")?.value, "alice", `read ${i} keeps the session alive`);
    }
    assert.equal(store.lookup("s", false)?.expiresAtMs, clock.realtimeMs() + 1000);
  });

  it("expires a key left idle for default_ttl", () => {
    const { store, clock } = makeStore("session", 10, { defaultTtlMs: 1000, maxMemoryBytes: 0 });
    store.set("busy", "1");
    store.set("idle", "2");
    for (let i = 0; i < 5; i++) {
      clock.advance(500);
      store.read("busy");
    }
    assert.equal(store.read("idle"), undefined);
    assert.equal(store.read("busy")?.value, "1");
  });

  it("does not extend on lookups that are not accesses (TTL, TYPE)", () => {
    const { store, clock } = makeStore("session", 10, { defaultTtlMs: 1000, maxMemoryBytes: 0 });
    store.set("s", "1");
    clock.advance(600);
    store.lookup("s", false);
    clock.advance(400);
    assert.equal(store.read("s"), undefined);
  });

  it("evicts the least recently used session when memory is full", () => {
    const { store, clock, evicted } = makeStore("session", 10, {
      defaultTtlMs: 60_000,
      evictionSamples: 11,
    });
    fill(store, clock, 10);
    for (let i = 9; i >= 0; i--) {
      store.read(key(i));
      clock.advance(1);
    }
    assert.equal(overflow(store, clock), true);
    assert.deepEqual(evicted, ["k009"]);
  });
});

describe("eviction: bookkeeping", () => {
  it("counts evictions and gives the memory back", () => {
    const { store, clock } = makeStore("allkeys-lru", 10);
    fill(store, clock, 10);
    overflow(store, clock, 4);
    assert.equal(store.stats.evictions, 4);
    assert.equal(store.size, 10);
    assert.equal(store.usedMemoryBytes, 10 * ENTRY_BYTES);
  });
});

describe("numbered databases sharing one memory limit", () => {
  const shared = (policy: EvictionPolicy, keyCount: number) => {
    const clock = new FakeClock();
    const base = { maxMemoryBytes: 0, evictionPolicy: policy, defaultTtlMs: 0 };
    const keyspace = new Keyspace([
      { ...base, name: "default", maxMemoryBytes: keyCount * ENTRY_BYTES, evictionSamples: 64 },
      { ...base, name: "1", memoryOf: 0, evictionSamples: 64 },
      { ...base, name: "2", memoryOf: 0, evictionSamples: 64 },
    ], clock);
    const evicted: string[] = [];
    for (const store of keyspace.stores) {
      store.onRemoved = (s, removed, cause) => {
        if (cause === "evicted") evicted.push(`${s.name}:${removed}`);
      };
    }
    return { keyspace, clock, evicted };
  };

  it("evicts the least recently used key of any database when their total passes the limit", () => {
    const { keyspace, clock, evicted } = shared("allkeys-lru", 4);
    const [db0, db1, db2] = keyspace.stores;
    db1.set(key(0), VALUE); // the oldest key, in database 1
    clock.advance(1);
    for (let i = 1; i < 4; i++) {
      db0.set(key(i), VALUE);
      clock.advance(1);
    }
    // Database 2 alone is far under the limit; the four databases' total is at it.
    db2.set(key(9), VALUE);
    assert.equal(db2.ensureMemory(), true);
    assert.deepEqual(evicted, ["1:k000"]);
    assert.equal(keyspace.stores.reduce((n, s) => n + s.size, 0), 4);
  });

  it("refuses writes under noeviction once all databases together are full", () => {
    const { keyspace } = shared("noeviction", 2);
    const [db0, db1, db2] = keyspace.stores;
    db0.set(key(0), VALUE);
    db1.set(key(1), VALUE);
    assert.equal(db2.ensureMemory(), true, "at the limit, not over it");
    db2.set(key(2), VALUE);
    assert.equal(db2.ensureMemory(), false);
    assert.equal(db0.ensureMemory(), false, "every database sees the shared total");
  });

  it("refuses a store that shares the memory of a later store", () => {
    const base = { maxMemoryBytes: 0, evictionPolicy: "noeviction" as const, defaultTtlMs: 0 };
    assert.throws(
      () =>
        new Keyspace(
          [{ ...base, name: "a", memoryOf: 1 }, { ...base, name: "b" }],
          new FakeClock(),
        ),
      /store 'a' shares the memory of store 1, which is not an earlier store/,
    );
  });
});
