import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mulberry32 } from "../_mulberry32.ts";
import { FakeClock } from "../_clock.ts";
import { recordArena } from "../../src/keyspace/_arena.ts";
import { addDigests, entryDigest, slotAndWeight, TYPE_TAGS } from "../../src/keyspace/digest.ts";
import { HashValue } from "../../src/keyspace/hash.ts";
import { ListValue } from "../../src/keyspace/list.ts";
import { SetValue } from "../../src/keyspace/set.ts";
import { ZSetValue } from "../../src/keyspace/zset.ts";
import { Entry, type EvictionPolicy, Store, type StoreOptions } from "../../src/keyspace/store.ts";
import { type Container, typeName, type Value } from "../../src/keyspace/values.ts";
import { keySlot } from "../../src/ring/key_slot.ts";
import { SLOT_COUNT } from "../../src/ring/constants.ts";

type TypeName = keyof typeof TYPE_TAGS;

function makeStore(options: Partial<StoreOptions> = {}, clock = new FakeClock()): Store {
  return new Store(0, {
    name: "test",
    maxMemoryBytes: 0,
    evictionPolicy: "noeviction",
    defaultTtlMs: 0,
    ...options,
  }, clock);
}

/** What the model knows of a key the store holds (collected or not). */
interface ModelEntry {
  type: TypeName;
  version: number;
  expiresAtMs: number;
}

/** A store's keys by slot, and their expected digests, recomputed from scratch. */
function modelSlots(
  model: Map<string, ModelEntry>,
): Map<number, { keys: Set<string>; digest: bigint }> {
  const slots = new Map<number, { keys: Set<string>; digest: bigint }>();
  for (const [key, { type, version }] of model) {
    const slot = keySlot(key);
    let bucket = slots.get(slot);
    if (bucket === undefined) slots.set(slot, bucket = { keys: new Set(), digest: 0n });
    bucket.keys.add(key);
    bucket.digest = addDigests(bucket.digest, entryDigest(key, type, version));
  }
  return slots;
}

/** Asserts the store's slot index agrees with the model for `slots` (all slots when omitted). */
function assertSlots(
  store: Store,
  model: Map<string, ModelEntry>,
  where: string,
  slots?: Iterable<number>,
): void {
  const expected = modelSlots(model);
  const check = (slot: number) => {
    const bucket = expected.get(slot);
    const count = bucket?.keys.size ?? 0;
    assert.equal(store.countKeysInSlot(slot), count, `${where}: count of slot ${slot}`);
    const listed = store.getKeysInSlot(slot, count + 3);
    assert.equal(listed.length, count, `${where}: keys listed for slot ${slot}`);
    assert.deepEqual(new Set(listed), bucket?.keys ?? new Set(), `${where}: keys of slot ${slot}`);
    assert.equal(store.slotDigest(slot), bucket?.digest ?? 0n, `${where}: digest of slot ${slot}`);
  };
  if (slots !== undefined) {
    for (const slot of slots) check(slot);
    return;
  }
  let total = 0;
  for (let slot = 0; slot < SLOT_COUNT; slot++) {
    const count = store.countKeysInSlot(slot);
    total += count;
    if (count !== 0 || expected.has(slot)) check(slot);
    else assert.equal(store.slotDigest(slot), 0n, `${where}: digest of empty slot ${slot}`);
  }
  assert.equal(total, store.size, `${where}: slot counts add up to the store's size`);
  assert.equal(store.size, model.size, `${where}: the store holds the model's keys`);
  for (const entry of store.entries) {
    const known = model.get(entry.key)!;
    assert.equal(store.entryVersion(entry), known.version, `${where}: version of ${entry.key}`);
    assert.equal(typeName(entry.value), known.type, `${where}: type of ${entry.key}`);
  }
}

/** Keys that crowd a few slots (hash tags), plain ones, binary ones, and a few very long ones. */
function keyMaker(random: () => number): () => string {
  const binary = Array.from({ length: 12 }, () => {
    const length = 1 + Math.floor(random() * 9);
    return String.fromCharCode(...Array.from({ length }, () => Math.floor(random() * 256)));
  });
  const long = ["L".repeat(20_000) + "1", "{tag0}" + "L".repeat(17_000)];
  return () => {
    const roll = random();
    if (roll < 0.45) return `{tag${Math.floor(random() * 4)}}:${Math.floor(random() * 12)}`;
    if (roll < 0.8) return `key:${Math.floor(random() * 40)}`;
    if (roll < 0.98) return binary[Math.floor(random() * binary.length)];
    return long[Math.floor(random() * long.length)];
  };
}

function stringValue(random: () => number): string {
  const roll = random();
  if (roll < 0.05) return "x".repeat(17_000); // kept on the heap, not in the arena
  return "v".repeat(Math.floor(random() * 200));
}

function container(random: () => number): Container {
  switch (Math.floor(random() * 4)) {
    case 0: {
      const hash = new HashValue();
      hash.set("f", "1");
      return hash;
    }
    case 1: {
      const list = new ListValue();
      list.pushBack("a");
      return list;
    }
    case 2: {
      const set = new SetValue();
      set.add("m");
      return set;
    }
    default: {
      const zset = new ZSetValue();
      zset.set("m", 1);
      return zset;
    }
  }
}

/** Changes a container in place (one element more, or one fewer when it has several). */
function mutate(value: Container, random: () => number): void {
  const grow = value.length < 2 || random() < 0.6;
  const element = `e${Math.floor(random() * 1000)}`;
  if (value instanceof HashValue) {
    grow ? value.set(element, "v") : value.delete(value.fields.keys[0]);
  } else if (value instanceof ListValue) grow ? value.pushBack(element) : value.popFront();
  else if (value instanceof SetValue) grow ? value.add(element) : value.delete(value.values()[0]);
  else if (value instanceof ZSetValue) {
    grow ? value.set(element, random()) : value.delete(value.dump()[0]);
  }
}

/** Empties a container in place (the command then deletes its key, as Redis does). */
function empty(value: Container): void {
  if (value instanceof HashValue) {
    for (const field of [...value.fields.keys]) {
      value.delete(field);
    }
  } else if (value instanceof ListValue) { while (value.length > 0) value.popFront(); }
  else if (value instanceof SetValue) { for (const member of value.values()) value.delete(member); }
  else if (value instanceof ZSetValue) {
    const dump = value.dump();
    for (let i = 0; i < dump.length; i += 2) value.delete(dump[i]);
  }
}

interface Run {
  store: Store;
  clock: FakeClock;
  model: Map<string, ModelEntry>;
  random: () => number;
  nextKey: () => string;
}

/** Whether the model's `key` is live at the store's time (present and not past its TTL). */
function live(run: Run, key: string): boolean {
  const known = run.model.get(key);
  return known !== undefined && (known.expiresAtMs === 0 || known.expiresAtMs > run.store.now());
}

/** The model's side of a write of `value` to `key` with the store's `set` TTL argument. */
function modelWrite(run: Run, key: string, value: Value, expiresAtMs: number | undefined): void {
  const known = run.model.get(key);
  const type = typeName(value) as TypeName;
  if (known !== undefined) {
    known.version++;
    known.type = type;
    if (expiresAtMs !== undefined) known.expiresAtMs = expiresAtMs;
  } else {
    run.model.set(key, { type, version: 1, expiresAtMs: expiresAtMs ?? 0 });
  }
}

/** A TTL argument for `set`: none, keep, a time ahead, or (rarely) one already past. */
function ttlArgument(run: Run): number | undefined {
  const roll = run.random();
  if (roll < 0.5) return 0;
  if (roll < 0.7) return undefined;
  if (roll < 0.97) return run.store.now() + 1 + Math.floor(run.random() * 500);
  return run.store.now() - 1;
}

/**
 * One random operation on both the store and the model; returns the slots it touched. Removals
 * the store makes by itself (lazy and active expiry, eviction) reach the model via `onRemoved`.
 */
function step(run: Run): number[] {
  const { store, model, random } = run;
  const key = run.nextKey();
  const slot = keySlot(key);
  const roll = random();
  if (roll < 0.3) {
    // SET (a string), SET over a container, or a container created at the key.
    const value: Value = random() < 0.8 ? stringValue(random) : container(random);
    const expiresAtMs = ttlArgument(run);
    // A key whose TTL passed is collected by the write and written anew; onRemoved tells the
    // model first.
    if (random() < 0.5) store.set(key, value, expiresAtMs);
    else store.write(key, value, expiresAtMs);
    modelWrite(run, key, value, expiresAtMs);
    return [slot];
  }
  if (roll < 0.4) {
    // INCR-style: look up, then replace the value.
    const entry = store.lookup(key, false);
    if (entry === undefined) return [slot];
    store.replace(entry, String(Math.floor(random() * 1000)));
    const known = model.get(key)!;
    known.version++;
    known.type = "string";
    return [slot];
  }
  if (roll < 0.5) {
    // A container changed in place (and deleted once empty, as the commands do).
    const entry = store.lookup(key);
    if (entry === undefined || typeof entry.value === "string") return [slot];
    const value = entry.value;
    if (random() < 0.15) {
      empty(value);
      store.removeEntry(entry);
      model.delete(key);
    } else {
      mutate(value, random);
      store.resize(entry);
      model.get(key)!.version++;
    }
    return [slot];
  }
  if (roll < 0.58) {
    // EXPIRE / PERSIST.
    const entry = store.lookup(key, false);
    if (entry === undefined) return [slot];
    const at = random() < 0.3 ? 0 : store.now() + Math.floor(random() * 300);
    store.setExpiry(entry, at);
    const known = model.get(key)!;
    known.version++;
    known.expiresAtMs = at;
    return [slot];
  }
  if (roll < 0.68) {
    // DEL.
    const existed = live(run, key);
    assert.equal(store.delete(key), existed, `DEL ${JSON.stringify(key)}`);
    model.delete(key);
    return [slot];
  }
  if (roll < 0.73) {
    // RENAME as the command does it: source out, destination (replaced) in with its value and TTL.
    const destination = run.nextKey();
    const entry = store.lookup(key, false);
    if (entry === undefined || destination === key) return [slot];
    if (store.lookup(destination, false) !== undefined) {
      store.delete(destination);
      model.delete(destination);
    }
    const { value, expiresAtMs } = entry;
    store.removeEntry(entry);
    model.delete(key);
    const placed = store.set(destination, value, expiresAtMs);
    modelWrite(run, destination, value, expiresAtMs);
    if (expiresAtMs === 0 && placed.expiresAtMs !== 0) {
      store.setExpiry(placed, 0);
      model.get(destination)!.version++;
    }
    return [slot, keySlot(destination)];
  }
  if (roll < 0.8) {
    // Time passes; a read may collect an expired key; an active-expiry round collects more.
    run.clock.advance(Math.floor(random() * 120));
    store.read(key);
    if (random() < 0.5) store.activeExpireRound();
    return [slot];
  }
  if (roll < 0.84) {
    // Eviction to the memory limit (the store evicts through onRemoved).
    store.ensureMemory();
    return [slot];
  }
  if (roll < 0.87) {
    // A replicated write carries its own version.
    const entry = store.lookup(key, false);
    if (entry === undefined) return [slot];
    // Up to 2^40, beyond the low half, and far enough below 2^50 for the writes that follow.
    const version = random() < 0.5
      ? 1 + Math.floor(random() * 1000)
      : 2 ** 32 - 2 + Math.floor(random() * 2 ** 40);
    store.setEntryVersion(entry, version);
    model.get(key)!.version = version;
    return [slot];
  }
  if (roll < 0.9) {
    // A key loaded from a snapshot.
    if (store.map.has(key)) return [slot];
    const value = stringValue(random);
    store.restore(key, value, 0);
    model.set(key, { type: "string", version: 1, expiresAtMs: 0 });
    return [slot];
  }
  if (roll < 0.93) {
    // The slot's expired keys collected.
    const expired = [...model].filter(([k, m]) =>
      keySlot(k) === slot && m.expiresAtMs !== 0 && m.expiresAtMs <= store.now()
    ).length;
    assert.equal(store.expireSlot(slot), expired, `expireSlot ${slot}`);
    return [slot];
  }
  if (roll < 0.96) {
    // The slot migrated away: its keys deleted, each one reported.
    const expected = [...model.keys()].filter((k) => keySlot(k) === slot);
    const deleted: string[] = [];
    assert.equal(store.deleteSlot(slot, (k) => deleted.push(k)), expected.length, "deleteSlot");
    assert.deepEqual(new Set(deleted), new Set(expected), `keys deleted from slot ${slot}`);
    for (const k of expected) model.delete(k);
    return [slot];
  }
  if (roll < 0.965) {
    // FLUSHDB.
    store.flush();
    model.clear();
    return [slot];
  }
  // A read of some other key, which may collect it.
  store.read(run.nextKey());
  return [slot];
}

function modelRun(seed: number, policy: EvictionPolicy, maxMemoryBytes: number, steps: number) {
  const random = mulberry32(seed);
  const clock = new FakeClock();
  const store = makeStore({ evictionPolicy: policy, maxMemoryBytes, hashSeed: seed }, clock);
  const model = new Map<string, ModelEntry>();
  store.onRemoved = (_store, key) => {
    assert.ok(model.delete(key), `removed key ${JSON.stringify(key)} was in the model`);
  };
  const run: Run = { store, clock, model, random, nextKey: keyMaker(random) };
  for (let n = 0; n < steps; n++) {
    const touched = step(run);
    const where = `seed ${seed}, step ${n}`;
    // Removals by eviction or expiry can be anywhere: every slot is checked now and then.
    if (n % 250 === 249) assertSlots(store, model, where);
    else assertSlots(store, model, where, touched);
  }
  assertSlots(store, model, `seed ${seed}, end`);
  store.flush();
  assertSlots(store, new Map(), `seed ${seed}, after flush`);
}

describe("Store: hash slots, against a model", () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`counts, lists, digests and deletes each slot's keys through random writes, deletes, expiries, renames and flushes (seed ${seed})`, () => {
      modelRun(seed, "noeviction", 0, 3000);
    });
  }
  for (
    const [seed, policy] of [[7, "allkeys-lru"], [8, "allkeys-random"], [
      9,
      "volatile-ttl",
    ]] as const
  ) {
    it(`stays right while ${policy} evicts under a memory limit (seed ${seed})`, () => {
      modelRun(seed, policy, 6_000, 3000);
    });
  }
});

describe("Store: hash slots at scale", () => {
  it("stays right as the table grows past several record chunks and shrinks back", () => {
    const random = mulberry32(11);
    const store = makeStore();
    const model = new Map<string, ModelEntry>();
    const keys = Array.from({ length: 40_000 }, (_, n) => n % 5 === 0 ? `{big}${n}` : `key:${n}`);
    for (const key of keys) {
      store.set(key, "v");
      model.set(key, { type: "string", version: 1, expiresAtMs: 0 });
    }
    assertSlots(store, model, "after 40,000 adds");
    // Deletes in random order move the last keys into the holes, across chunks, and drop chunks.
    const order = [...keys].sort(() => random() - 0.5);
    for (const key of order.slice(0, 39_000)) {
      store.delete(key);
      model.delete(key);
    }
    assertSlots(store, model, "after 39,000 deletes");
    for (const key of order.slice(0, 20_000)) {
      store.set(key, "w");
      store.set(key, "x");
      model.set(key, { type: "string", version: 2, expiresAtMs: 0 });
    }
    for (const key of order.slice(39_000)) {
      store.set(key, "y");
      model.get(key)!.version++;
    }
    assertSlots(store, model, "after 20,000 adds again");
  });
});

describe("Store: slot enumeration", () => {
  it("lists at most `count` keys of the slot, every one of them in it", () => {
    const store = makeStore();
    const slot = keySlot("{same}");
    for (let n = 0; n < 50; n++) store.set(`{same}:${n}`, "v");
    for (let n = 0; n < 50; n++) store.set(`other:${n}`, "v");
    assert.deepEqual(store.getKeysInSlot(slot, 0), []);
    const some = store.getKeysInSlot(slot, 7);
    assert.equal(some.length, 7);
    assert.equal(new Set(some).size, 7, "no key twice");
    for (const key of some) assert.equal(keySlot(key), slot);
    assert.equal(store.getKeysInSlot(slot, 1000).length, 50);
    assert.equal(store.countKeysInSlot(slot), 50);
  });

  it("gives a migration loop progress: delete the listed keys, list again, until none are left", () => {
    const store = makeStore();
    const slot = keySlot("{m}");
    for (let n = 0; n < 95; n++) store.set(`{m}${n}`, "v", n % 3 === 0 ? 0 : undefined);
    let rounds = 0;
    for (
      let keys = store.getKeysInSlot(slot, 10);
      keys.length > 0;
      keys = store.getKeysInSlot(slot, 10)
    ) {
      for (const key of keys) assert.equal(store.delete(key), true);
      rounds++;
    }
    assert.equal(rounds, 10);
    assert.equal(store.countKeysInSlot(slot), 0);
    assert.equal(store.slotDigest(slot), 0n);
  });

  it("deletes exactly one slot's keys, and the other slots keep theirs with their digests", () => {
    const store = makeStore();
    for (let n = 0; n < 2000; n++) store.set(`k${n}`, "v");
    const slot = keySlot("k7");
    const before = Array.from({ length: SLOT_COUNT }, (_, s) => store.slotDigest(s));
    const inSlot = [...store.entries].filter((entry) => keySlot(entry.key) === slot).length;
    assert.equal(store.deleteSlot(slot), inSlot);
    assert.equal(store.size, 2000 - inSlot);
    for (let s = 0; s < SLOT_COUNT; s++) {
      assert.equal(store.slotDigest(s), s === slot ? 0n : before[s], `slot ${s}`);
    }
    assert.equal(store.read("k7"), undefined);
  });

  it("collects a slot's expired keys through onRemoved, as lazy expiry does", () => {
    const clock = new FakeClock();
    const store = makeStore({}, clock);
    const removed: string[] = [];
    store.onRemoved = (_store, key, cause) => removed.push(`${cause}:${key}`);
    for (let n = 0; n < 20; n++) {
      store.set(`{e}${n}`, "v", n % 2 === 0 ? clock.realtimeMs() + 10 : 0);
    }
    clock.advance(11);
    const slot = keySlot("{e}");
    assert.equal(store.countKeysInSlot(slot), 20, "expired keys count until collected, as DBSIZE");
    assert.equal(store.expireSlot(slot), 10);
    assert.equal(store.countKeysInSlot(slot), 10);
    assert.equal(removed.length, 10);
    assert.ok(removed.every((text) => text.startsWith("expired:")));
    assert.equal(store.stats.expirations, 10);
  });

  it("keeps walking a slot when collecting a key moves the slot's next key into its place", () => {
    const clock = new FakeClock();
    const store = makeStore({}, clock);
    // Positions: w 0, y 1, x 2; the slot lists x before y. Deleting w moves x to 0, so y is last:
    // collecting x then moves y into x's place, where the walk must look for it next.
    store.set("w", "v");
    store.set("{s}y", "v", clock.realtimeMs() + 10);
    store.set("{s}x", "v", clock.realtimeMs() + 10);
    store.delete("w");
    clock.advance(11);
    assert.equal(store.expireSlot(keySlot("{s}")), 2);
    assert.equal(store.size, 0);
  });

  it("refuses a slot outside 0-16383 and a negative count", () => {
    const store = makeStore();
    for (const slot of [-1, SLOT_COUNT, 1.5, NaN]) {
      assert.throws(() => store.countKeysInSlot(slot), RangeError);
      assert.throws(() => store.getKeysInSlot(slot, 1), RangeError);
      assert.throws(() => store.deleteSlot(slot), RangeError);
      assert.throws(() => store.slotDigest(slot), RangeError);
    }
    assert.throws(() => store.getKeysInSlot(0, -1), RangeError);
  });
});

describe("Store: slot digests", () => {
  /** Writes `key` so that it ends at `version` with a value of `type`. */
  function writeTo(store: Store, key: string, type: TypeName, version: number): void {
    const value = (): Value =>
      type === "string"
        ? "s"
        : type === "hash"
        ? new HashValue()
        : type === "list"
        ? new ListValue()
        : type === "set"
        ? new SetValue()
        : new ZSetValue();
    const entry = store.set(key, value());
    for (let v = 1; v < version; v++) store.set(key, value());
    assert.equal(store.entryVersion(entry), version);
  }

  it("are equal on two stores with the same keys, types and versions, whatever the order of writes and the churn", () => {
    const random = mulberry32(42);
    const types = Object.keys(TYPE_TAGS) as TypeName[];
    const wanted = Array.from({ length: 3000 }, (_, n) => ({
      key: n % 3 === 0 ? `{hot}${n}` : `key:${n}`,
      type: types[Math.floor(random() * types.length)],
      version: 1 + Math.floor(random() * 4),
    }));
    const a = makeStore({ hashSeed: 1 });
    const b = makeStore({ hashSeed: 2 });
    for (const { key, type, version } of wanted) writeTo(a, key, type, version);
    // The other store: reverse order, with keys that come and go in between (moving positions).
    for (const { key, type, version } of [...wanted].reverse()) {
      b.set(`churn:${key}`, "x");
      writeTo(b, key, type, version);
      if (random() < 0.7) b.delete(`churn:${key}`);
    }
    for (const entry of [...b.entries]) if (entry.key.startsWith("churn:")) b.removeEntry(entry);
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      assert.equal(a.countKeysInSlot(slot), b.countKeysInSlot(slot), `count of slot ${slot}`);
      assert.equal(a.slotDigest(slot), b.slotDigest(slot), `digest of slot ${slot}`);
    }
  });

  it("change when one key differs, or one key's type or version does, and only in its slot", () => {
    const base = () => {
      const store = makeStore();
      for (let n = 0; n < 500; n++) store.set(`k${n}`, "v");
      return store;
    };
    const reference = base();
    const digests = (store: Store) =>
      Array.from({ length: SLOT_COUNT }, (_, s) => store.slotDigest(s));
    const expected = digests(reference);
    const variants: [string, (store: Store) => void][] = [
      ["another key", (store) => {
        store.delete("k5");
        store.set("k5'", "v");
      }],
      ["a newer version", (store) => store.set("k5", "v")],
      ["another type", (store) => {
        store.delete("k5");
        store.set("k5", new SetValue());
      }],
      ["a missing key", (store) => store.delete("k5")],
    ];
    for (const [what, change] of variants) {
      const store = base();
      change(store);
      const actual = digests(store);
      const changed = actual.flatMap((digest, slot) => digest === expected[slot] ? [] : [slot]);
      const slots = new Set([keySlot("k5"), keySlot("k5'")]);
      assert.ok(
        changed.length >= 1 && changed.every((slot) => slots.has(slot)),
        `${what}: ${changed}`,
      );
    }
  });

  it("gives distinct contributions to 200,000 (key, version) pairs of one slot", () => {
    const seen = new Set<bigint>();
    for (let n = 0; n < 50_000; n++) {
      for (let version = 1; version <= 4; version++) {
        seen.add(entryDigest(`{s}${n}`, "string", version));
      }
    }
    assert.equal(seen.size, 200_000);
  });

  it("follows a version set beyond 32 bits, and back", () => {
    const store = makeStore();
    const entry = store.set("k", "v");
    for (const version of [2 ** 32, 2 ** 32 + 1, 2 ** 50 - 1, 3]) {
      store.setEntryVersion(entry, version);
      assert.equal(store.entryVersion(entry), version);
      assert.equal(store.slotDigest(keySlot("k")), entryDigest("k", "string", version));
    }
    store.setEntryVersion(entry, 2 ** 32 - 1);
    store.set("k", "w"); // the low half wraps into the high one
    assert.equal(store.entryVersion(entry), 2 ** 32);
    assert.equal(store.slotDigest(keySlot("k")), entryDigest("k", "string", 2 ** 32));
    assert.throws(() => store.setEntryVersion(entry, 0), RangeError);
    assert.throws(() => store.setEntryVersion(entry, 2 ** 50), RangeError);
  });
});

describe("slotAndWeight", () => {
  it("gives keySlot's slot for random keys of every byte value, with and without hash tags", () => {
    const random = mulberry32(9);
    for (let n = 0; n < 50_000; n++) {
      const length = Math.floor(random() * 40);
      const codes = Array.from({ length }, () => {
        const roll = random();
        return roll < 0.05 ? 0x7b : roll < 0.1 ? 0x7d : Math.floor(random() * 256);
      });
      const key = String.fromCharCode(...codes);
      assert.equal(slotAndWeight(key, 0), keySlot(key), JSON.stringify(key));
    }
    assert.equal(slotAndWeight("123456789", 0), 12739);
  });

  it("refuses a key that is not a byte string, and the store is left as it was", () => {
    const store = makeStore();
    store.set("a", "v");
    const records = recordArena.stats().records;
    assert.throws(() => store.set("k\u0100", "v"), TypeError);
    assert.throws(() => store.restore("k\u0100", "v", 0), TypeError);
    assert.equal(store.size, 1);
    assert.equal(recordArena.stats().records, records, "no arena record left behind");
    assert.ok(store.read("a") instanceof Entry);
  });
});
