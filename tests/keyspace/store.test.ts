import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ENTRY_OVERHEAD_BYTES } from "../../src/constants.ts";
import { HashValue } from "../../src/keyspace/hash.ts";
import { RECORD_MAX_BYTES, recordArena } from "../../src/keyspace/_arena.ts";
import { Keyspace, type RemovalCause, Store, type StoreOptions } from "../../src/keyspace/mod.ts";
import { FakeClock } from "../_clock.ts";

function makeStore(options: Partial<StoreOptions> = {}, clock = new FakeClock()): Store {
  return new Store(0, {
    name: "test",
    maxMemoryBytes: 0,
    evictionPolicy: "noeviction",
    defaultTtlMs: 0,
    ...options,
  }, clock);
}

const ALL_BYTES = String.fromCharCode(...Array.from({ length: 256 }, (_, i) => i));

describe("Store: keys and values", () => {
  it("stores binary keys and values with every byte value 0-255", () => {
    const store = makeStore();
    store.set(ALL_BYTES, ALL_BYTES + "\x00");
    assert.equal(store.read(ALL_BYTES)?.value, ALL_BYTES + "\x00");
    assert.equal(store.read(ALL_BYTES.slice(1)), undefined);
  });

  it("round-trips a 1 MiB value byte-exact", () => {
    const store = makeStore();
    const value = Array.from({ length: 1 << 20 }, (_, i) => String.fromCharCode(i & 255)).join("");
    store.set("big", value);
    assert.ok(store.read("big")?.value === value);
  });

  it("overwrites a value in place and deletes keys", () => {
    const store = makeStore();
    store.set("k", "a");
    store.set("k", "b");
    assert.equal(store.size, 1);
    assert.equal(store.read("k")?.value, "b");
    assert.equal(store.delete("k"), true);
    assert.equal(store.delete("k"), false);
    assert.equal(store.size, 0);
  });

  it("counts hits and misses for reads only", () => {
    const store = makeStore();
    store.set("k", "v");
    store.read("k");
    store.read("nope");
    store.lookup("k");
    assert.equal(store.stats.hits, 1);
    assert.equal(store.stats.misses, 1);
  });

  it("bumps the dirty counter on every change", () => {
    const store = makeStore();
    const before = store.dirty;
    store.set("k", "v");
    store.delete("k");
    store.flush();
    assert.equal(store.dirty, before + 3);
  });

  it("returns a random live entry, and none from an empty store", () => {
    const store = makeStore();
    assert.equal(store.randomEntry(), undefined);
    store.set("a", "1");
    store.set("b", "2");
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) seen.add(store.randomEntry()!.key);
    assert.deepEqual([...seen].sort(), ["a", "b"]);
  });
});

describe("Store: TTL with a simulated clock", () => {
  it("keeps a key until the millisecond of its expiry, then it is gone", () => {
    const clock = new FakeClock();
    const store = makeStore({}, clock);
    store.set("k", "v", clock.realtimeMs() + 100);
    clock.advance(99);
    assert.equal(store.read("k")?.value, "v");
    clock.advance(1);
    assert.equal(store.read("k"), undefined);
  });

  it("expires lazily: the entry stays in memory until it is accessed", () => {
    const clock = new FakeClock();
    const store = makeStore({}, clock);
    const removed: [string, RemovalCause][] = [];
    store.onRemoved = (_store, key, cause) => removed.push([key, cause]);
    store.set("k", "v", clock.realtimeMs() + 10);
    clock.advance(10);
    assert.equal(store.map.size, 1, "nothing removed before an access");
    assert.equal(store.lookup("k", false), undefined);
    assert.equal(store.map.size, 0);
    assert.equal(store.volatileCount, 0);
    assert.equal(store.usedMemoryBytes, 0);
    assert.equal(store.stats.expirations, 1);
    assert.deepEqual(removed, [["k", "expired"]]);
  });

  it("treats an expired key as absent for delete", () => {
    const clock = new FakeClock();
    const store = makeStore({}, clock);
    store.set("k", "v", clock.realtimeMs() + 10);
    clock.advance(10);
    assert.equal(store.delete("k"), false);
  });

  it("clears a TTL when a key is set again without one, and keeps it when asked", () => {
    const clock = new FakeClock();
    const store = makeStore({}, clock);
    const at = clock.realtimeMs() + 1000;
    store.set("a", "1", at);
    store.set("a", "2", undefined);
    assert.equal(store.lookup("a")?.expiresAtMs, at, "undefined keeps the TTL (KEEPTTL)");
    store.set("a", "3", 0);
    assert.equal(store.lookup("a")?.expiresAtMs, 0);
    assert.equal(store.volatileCount, 0);
    clock.advance(2000);
    assert.equal(store.read("a")?.value, "3");
  });

  it("setExpiry adds and removes keys from the volatile set", () => {
    const clock = new FakeClock();
    const store = makeStore({}, clock);
    const a = store.set("a", "1");
    const b = store.set("b", "2");
    store.setExpiry(a, clock.realtimeMs() + 5);
    store.setExpiry(b, clock.realtimeMs() + 50);
    assert.equal(store.volatileCount, 2);
    store.setExpiry(a, 0);
    assert.equal(store.volatileCount, 1);
    clock.advance(10);
    assert.equal(store.read("a")?.value, "1");
    clock.advance(40);
    assert.equal(store.read("b"), undefined);
  });

  it("gives keys written without a TTL the store's default TTL", () => {
    const clock = new FakeClock();
    const store = makeStore({ defaultTtlMs: 500 }, clock);
    store.set("k", "v");
    assert.equal(store.lookup("k")?.expiresAtMs, clock.realtimeMs() + 500);
    store.set("own", "v", clock.realtimeMs() + 50);
    assert.equal(store.lookup("own")?.expiresAtMs, clock.realtimeMs() + 50);
    clock.advance(500);
    assert.equal(store.read("k"), undefined);
  });

  it("expires a key whose TTL passed before a set writes it anew, telling onRemoved", () => {
    const clock = new FakeClock();
    const store = makeStore({}, clock);
    const removed: string[] = [];
    store.onRemoved = (_store, key, cause) => removed.push(`${key}:${cause}`);
    store.set("k", "old", clock.realtimeMs() + 10);
    clock.advance(10);
    store.set("k", "new", undefined); // KEEPTTL: there is no TTL left to keep
    assert.deepEqual(removed, ["k:expired"]);
    assert.equal(store.stats.expirations, 1);
    assert.equal(store.lookup("k")?.value, "new");
    assert.equal(store.lookup("k")?.expiresAtMs, 0);
  });

  it("does not count TYPE-like lookups (touch false) as an access", () => {
    const clock = new FakeClock();
    const store = makeStore({}, clock);
    const entry = store.set("k", "v");
    const setAt = entry.access;
    clock.advance(100);
    store.lookup("k", false);
    assert.equal(entry.access, setAt);
    store.lookup("k");
    assert.equal(entry.access, setAt + 100);
  });
});

describe("Store: active expiry", () => {
  function fill(store: Store, clock: FakeClock, expired: number, live: number, persistent = 0) {
    for (let i = 0; i < expired; i++) store.set(`e${i}`, "v", clock.realtimeMs() + 1);
    for (let i = 0; i < live; i++) store.set(`l${i}`, "v", clock.realtimeMs() + 1_000_000);
    for (let i = 0; i < persistent; i++) store.set(`p${i}`, "v");
    clock.advance(1);
  }

  it("reports that a round should repeat when more than a quarter of its sample was expired", () => {
    const clock = new FakeClock();
    const store = makeStore({}, clock);
    fill(store, clock, 1000, 0);
    assert.equal(store.activeExpireRound(), true);
    assert.equal(store.size, 980, "one round samples 20 keys");
  });

  it("stops repeating when few sampled keys were expired", () => {
    const clock = new FakeClock();
    const store = makeStore({}, clock);
    fill(store, clock, 0, 1000);
    assert.equal(store.activeExpireRound(), false);
    assert.equal(store.size, 1000);
  });

  it("removes every expired key in one cycle while rounds keep finding them", () => {
    const clock = new FakeClock();
    const keyspace = new Keyspace([{
      name: "default",
      maxMemoryBytes: 0,
      evictionPolicy: "noeviction",
      defaultTtlMs: 0,
    }], clock);
    const store = keyspace.store(0);
    fill(store, clock, 5000, 0, 100);
    keyspace.activeExpireCycle(1_000);
    assert.equal(store.size, 100, "only the keys without a TTL remain");
    assert.equal(store.volatileCount, 0);
    assert.equal(store.stats.expirations, 5000);
    let expected = 0;
    for (let i = 0; i < 100; i++) {
      expected += recordArena.slotBytesFor(`p${i}`.length, 1) + ENTRY_OVERHEAD_BYTES;
    }
    assert.equal(store.usedMemoryBytes, expected);
  });

  it("leaves live keys and keys without a TTL alone", () => {
    const clock = new FakeClock();
    const store = makeStore({}, clock);
    fill(store, clock, 0, 50, 50);
    for (let i = 0; i < 100; i++) store.activeExpireRound();
    assert.equal(store.size, 100);
  });

  it("stops a cycle when its time budget is spent, and later cycles go on", () => {
    const clock = new FakeClock();
    const keyspace = new Keyspace([{
      name: "default",
      maxMemoryBytes: 0,
      evictionPolicy: "noeviction",
      defaultTtlMs: 0,
    }], clock);
    const store = keyspace.store(0);
    fill(store, clock, 10_000, 0);
    clock.tickPerReadMs = 1; // every round "takes" 1 ms
    keyspace.activeExpireCycle(5);
    const removed = 10_000 - store.size;
    assert.ok(removed > 0 && removed <= 6 * 20, `one bounded cycle removed ${removed} keys`);
    for (let i = 0; i < 1000 && store.size > 0; i++) keyspace.activeExpireCycle(5);
    assert.equal(store.size, 0);
  });

  it("does not let one store with many expired keys starve the next one", () => {
    const clock = new FakeClock();
    const options = { maxMemoryBytes: 0, evictionPolicy: "noeviction", defaultTtlMs: 0 } as const;
    const keyspace = new Keyspace([{ name: "a", ...options }, { name: "b", ...options }], clock);
    const [a, b] = keyspace.stores;
    for (let i = 0; i < 10_000; i++) a.set(`e${i}`, "v", clock.realtimeMs() + 1);
    for (let i = 0; i < 100; i++) b.set(`e${i}`, "v", clock.realtimeMs() + 1);
    clock.advance(1);
    clock.tickPerReadMs = 1;
    for (let i = 0; i < 10; i++) keyspace.activeExpireCycle(3);
    assert.ok(a.size > 5000, "store a still has most of its expired keys");
    assert.ok(b.size < 100, `store b got cycles too (has ${b.size} keys)`);
  });
});

describe("Store: options", () => {
  it("rejects a hash seed that is not a 32-bit unsigned integer, naming the store and the value", () => {
    assert.throws(
      () => makeStore({ hashSeed: 1.5 }),
      /store 'test': 'hashSeed' .* current value is 1.5/,
    );
    assert.throws(() => makeStore({ hashSeed: -3 }), /current value is -3/);
    assert.equal(makeStore({ hashSeed: 7 }).lookup("k"), undefined);
  });
});

describe("Store: keys and values kept in the record arena", () => {
  it("agrees with a Map through random sets, overwrites and deletes of strings and containers", () => {
    const store = makeStore();
    const model = new Map<string, string | HashValue>();
    let seed = 99;
    const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (let op = 0; op < 20_000; op++) {
      const key = `k${Math.floor(random() * 500)}`;
      const dice = random();
      if (dice < 0.3) {
        store.delete(key);
        model.delete(key);
      } else if (dice < 0.4) {
        // A container leaves the arena; a string after it comes back.
        const hash = new HashValue();
        hash.set("f", String(op));
        store.set(key, hash);
        model.set(key, hash);
      } else {
        // Mostly 0-300 bytes, some past the arena's record size: records move in and out.
        const length = random() < 0.05
          ? RECORD_MAX_BYTES - 3 + Math.floor(random() * 6)
          : Math.floor(random() * 300);
        let value = "";
        for (let i = 0; i < length; i++) value += String.fromCharCode((op * 31 + i * 7) & 0xff);
        store.set(key, value);
        model.set(key, value);
      }
    }
    assert.equal(store.size, model.size);
    let accounted = 0;
    for (const [key, value] of model) {
      const entry = store.lookup(key, false)!;
      assert.equal(entry.key, key);
      assert.equal(entry.value, value, key);
      assert.equal(entry.stringLength(), typeof value === "string" ? value.length : -1);
      accounted += store.sizeOf(entry);
    }
    assert.deepEqual(new Set(store.map.keys()), new Set(model.keys()));
    assert.equal(store.usedMemoryBytes, accounted);
  });

  it("reads a value out before its key is removed, so a command can still use it", () => {
    const store = makeStore();
    store.set("a", "a".repeat(100));
    const value = store.lookup("a")!.value;
    store.delete("a");
    store.set("b", "b".repeat(100)); // takes the freed slot
    assert.equal(value, "a".repeat(100));
    assert.equal(store.lookup("b")!.value, "b".repeat(100));
  });
});

describe("Store: replace", () => {
  it("changes a looked-up entry as set with the TTL kept does: value, memory, TTL, watchers", () => {
    const [byReplace, bySet] = [makeStore(), makeStore()];
    const watcher = { watchTouched: false };
    for (const store of [byReplace, bySet]) {
      store.set("k", "12", store.now() + 60_000);
      store.set("other", "x");
    }
    byReplace.watch("k", watcher);
    const before = byReplace.dirty;
    for (const value of ["13", "1".repeat(RECORD_MAX_BYTES + 5), "14"]) {
      byReplace.replace(byReplace.lookup("k")!, value);
      bySet.set("k", value);
      assert.equal(byReplace.lookup("k", false)!.value, value);
      assert.equal(byReplace.usedMemoryBytes, bySet.usedMemoryBytes);
      assert.equal(
        byReplace.lookup("k", false)!.expiresAtMs,
        bySet.lookup("k", false)!.expiresAtMs,
      );
    }
    assert.equal(byReplace.dirty, before + 3);
    assert.equal(watcher.watchTouched, true);
    assert.equal(byReplace.size, 2);
  });
});

describe("Store: prefetch", () => {
  it("reads ahead present, absent and container keys without changing values, stats or access", () => {
    const store = makeStore({ evictionPolicy: "allkeys-lfu" });
    store.set("a", "1".repeat(50));
    store.set("b", "2".repeat(RECORD_MAX_BYTES + 10)); // too long for the arena
    const hash = new HashValue();
    hash.set("f", "v");
    store.set("h", hash);
    const text = "abhz";
    const bytes = new TextEncoder().encode(text);
    const starts = Int32Array.from([0, 1, 2, 3]);
    const ends = Int32Array.from([1, 2, 3, 4]);
    const before = { stats: { ...store.stats }, access: store.lookup("a", false)!.access };
    assert.equal(typeof store.prefetch(bytes, starts, ends, 4), "number");
    assert.deepEqual(store.stats, before.stats);
    assert.equal(store.lookup("a", false)!.access, before.access);
    assert.equal(store.lookup("a", false)!.value, "1".repeat(50));
    assert.equal(store.lookup("b", false)!.value, "2".repeat(RECORD_MAX_BYTES + 10));
    assert.equal(store.lookup("h", false)!.value, hash);
    assert.equal(store.lookup("z", false), undefined);
  });
});

describe("Store and Keyspace: memory accounting", () => {
  it("accounts a record's arena slot (or a long one's bytes) and the entry overhead", () => {
    const store = makeStore();
    // Key, value and the 4-byte header, rounded up to the size class: 12 -> 16, 19 -> 24, 6 -> 16.
    store.set("key", "value");
    assert.equal(store.usedMemoryBytes, 16 + ENTRY_OVERHEAD_BYTES);
    store.set("key", "longer value");
    assert.equal(store.usedMemoryBytes, 24 + ENTRY_OVERHEAD_BYTES);
    store.set("k2", "");
    assert.equal(store.usedMemoryBytes, 24 + 16 + 2 * ENTRY_OVERHEAD_BYTES);
    store.delete("key");
    assert.equal(store.usedMemoryBytes, 16 + ENTRY_OVERHEAD_BYTES);
    // Past the arena's record size, key and value are JavaScript strings, counted by length.
    store.set("big", "b".repeat(RECORD_MAX_BYTES));
    assert.equal(store.usedMemoryBytes, 16 + 3 + RECORD_MAX_BYTES + 2 * ENTRY_OVERHEAD_BYTES);
    store.flush();
    assert.equal(store.usedMemoryBytes, 0);
  });

  it("follows a container that changes in place, through resize, replacement and removal", () => {
    const store = makeStore();
    const hash = new HashValue();
    hash.set("f", "v");
    const entry = store.set("h", hash);
    const counted = () => 1 + hash.sizeBytes + ENTRY_OVERHEAD_BYTES;
    assert.equal(store.usedMemoryBytes, counted());
    hash.set("field", "a longer value");
    assert.notEqual(store.usedMemoryBytes, counted(), "not counted before the store hears of it");
    store.resize(entry);
    assert.equal(store.usedMemoryBytes, counted());
    assert.equal(store.sizeOf(entry), counted());
    hash.set("third", "x");
    store.set("h", hash); // written back whole, as a command that rebuilt it would
    assert.equal(store.usedMemoryBytes, counted());
    store.set("h", "str");
    assert.equal(store.usedMemoryBytes, recordArena.slotBytesFor(1, 3) + ENTRY_OVERHEAD_BYTES);
    const other = new HashValue();
    other.set("a", "b");
    store.set("h", other);
    other.set("c", "d"); // removed before being counted again: what was counted goes
    store.delete("h");
    assert.equal(store.usedMemoryBytes, 0);
  });

  it("gives back an expired key's memory", () => {
    const clock = new FakeClock();
    const store = makeStore({}, clock);
    store.set("k", "v".repeat(1000), clock.realtimeMs() + 1);
    assert.ok(store.usedMemoryBytes > 1000);
    clock.advance(1);
    store.read("k");
    assert.equal(store.usedMemoryBytes, 0);
  });

  it("totals memory and keys over all stores", () => {
    const clock = new FakeClock();
    const options = { maxMemoryBytes: 0, evictionPolicy: "noeviction", defaultTtlMs: 0 } as const;
    const keyspace = new Keyspace([{ name: "a", ...options }, { name: "b", ...options }], clock);
    keyspace.store(0).set("x", "1234");
    keyspace.find("b")!.set("yy", "12345678");
    // 9 and 14 bytes with the record header: the 16-byte class both.
    assert.equal(keyspace.store(0).usedMemoryBytes, 16 + ENTRY_OVERHEAD_BYTES);
    assert.equal(keyspace.store(1).usedMemoryBytes, 16 + ENTRY_OVERHEAD_BYTES);
    assert.equal(keyspace.usedMemoryBytes, 32 + 2 * ENTRY_OVERHEAD_BYTES);
    assert.equal(keyspace.keyCount, 2);
    keyspace.store(1).flush();
    assert.equal(keyspace.usedMemoryBytes, 16 + ENTRY_OVERHEAD_BYTES);
  });

  it("keeps the total equal to the sum of its entries through random operations", () => {
    const clock = new FakeClock();
    const store = makeStore({}, clock);
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    for (let i = 0; i < 20_000; i++) {
      const key = `k${Math.floor(random() * 500)}`;
      const op = random();
      if (op < 0.5) store.set(key, "x".repeat(Math.floor(random() * 100)));
      else if (op < 0.7) store.set(key, "t", clock.realtimeMs() + Math.floor(random() * 50));
      else if (op < 0.9) store.delete(key);
      else store.read(key);
      clock.advance(1);
    }
    let sum = 0;
    for (const entry of store.map.values()) {
      // The incremental total must equal a recount; each entry at least its bytes (a value in
      // the arena counts its whole slot).
      const size = store.sizeOf(entry);
      assert.ok(size >= entry.key.length + (entry.value as string).length + ENTRY_OVERHEAD_BYTES);
      sum += size;
    }
    assert.equal(store.usedMemoryBytes, sum);
    assert.equal(store.entries.length, store.map.size);
    for (const entry of store.entries) assert.equal(store.map.get(entry.key), entry);
    store.volatile.forEach((entry, index) => assert.equal(entry.volatileIndex, index));
  });
});

describe("Keyspace: stores", () => {
  it("finds stores by index and by name", () => {
    const options = { maxMemoryBytes: 0, evictionPolicy: "noeviction", defaultTtlMs: 0 } as const;
    const keyspace = new Keyspace(
      [{ name: "default", ...options }, { name: "sessions", ...options }],
      new FakeClock(),
    );
    assert.equal(keyspace.find("0")?.name, "default");
    assert.equal(keyspace.find("1")?.name, "sessions");
    assert.equal(keyspace.find("sessions")?.index, 1);
    assert.equal(keyspace.find("2"), undefined);
    assert.equal(keyspace.find("nope"), undefined);
  });

  it("rejects an empty store list and duplicate names", () => {
    const options = { maxMemoryBytes: 0, evictionPolicy: "noeviction", defaultTtlMs: 0 } as const;
    assert.throws(() => new Keyspace([], new FakeClock()), /at least one store/);
    assert.throws(
      () => new Keyspace([{ name: "a", ...options }, { name: "a", ...options }], new FakeClock()),
      /store name 'a' is used twice/,
    );
  });
});
