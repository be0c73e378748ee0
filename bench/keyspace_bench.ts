/**
 * In-process keyspace throughput: GET hits and misses, SET of existing keys, and SET of a new
 * key with its DEL, with and without the cuckoo filter; and the hash-slot operations (count,
 * list and delete a slot's keys, read its digest). Run: `deno task bench` (or
 * `deno bench -A bench/keyspace_bench.ts`).
 */
import { Buffer } from "node:buffer";
import { Keyspace } from "../src/keyspace/keyspace.ts";
import { keySlot } from "../src/ring/key_slot.ts";
import { SLOT_COUNT } from "../src/ring/constants.ts";

const KEY_COUNT = 100_000;
const clock = { monotonicMs: () => performance.now(), realtimeMs: () => Date.now() };
const keys = Array.from({ length: KEY_COUNT }, (_, i) => `key:${String(i).padStart(12, "0")}`);
const absent = Array.from({ length: KEY_COUNT }, (_, i) => `nokey:${String(i).padStart(10, "0")}`);
const value = "v".repeat(100);
/** The keys as a command brings them: strings the parser made from the request's bytes, equal
 * to the stored keys but not the same objects (an identical string compares in one step). */
const requested = keys.map((key) => Buffer.from(key, "latin1").toString("latin1"));
/** Keys not in the stores, as the parser makes them, for creating and deleting. */
const fresh = absent.map((key) => Buffer.from(key, "latin1").toString("latin1"));
/** Where a GET copies its value out, as the server copies it into the reply buffer. */
const reply = new Uint8Array(4096);

function filled(filter: boolean) {
  const keyspace = new Keyspace([{
    name: "default",
    maxMemoryBytes: 0,
    evictionPolicy: "noeviction",
    defaultTtlMs: 0,
    filter: filter ? { capacity: KEY_COUNT, errorRate: 0.01 } : undefined,
  }], clock);
  const store = keyspace.store(0);
  for (const key of keys) store.set(key, value);
  return { store, keyspace };
}

const plain = filled(false);
const filtered = filled(true);
/** Operations per bench iteration, so per-call overhead of the harness does not dominate. */
const BATCH = 1000;
let cursor = 0;
let sink = 0;

// The RESP server reads the clock once per batch of commands (`Keyspace.pinTime`); so does this.
for (const [name, { store, keyspace }] of [["no filter", plain], ["filter", filtered]] as const) {
  Deno.bench(
    `GET hit x${BATCH} (${name})`,
    { group: "get-hit", baseline: name === "no filter" },
    () => {
      keyspace.pinTime();
      for (let i = 0; i < BATCH; i++) {
        const entry = store.read(requested[cursor++ % KEY_COUNT]);
        if (entry !== undefined) sink++;
      }
      keyspace.unpinTime();
    },
  );
  Deno.bench(
    `GET hit, value copied out x${BATCH} (${name})`,
    { group: "get-hit-copy", baseline: name === "no filter" },
    () => {
      keyspace.pinTime();
      for (let i = 0; i < BATCH; i++) {
        const entry = store.read(requested[cursor++ % KEY_COUNT]);
        if (entry !== undefined) sink += entry.copyString(reply, 0);
      }
      keyspace.unpinTime();
    },
  );
  Deno.bench(
    `GET miss x${BATCH} (${name})`,
    { group: "get-miss", baseline: name === "no filter" },
    () => {
      keyspace.pinTime();
      for (let i = 0; i < BATCH; i++) {
        const entry = store.read(absent[cursor++ % KEY_COUNT]);
        if (entry !== undefined) sink++;
      }
      keyspace.unpinTime();
    },
  );
  Deno.bench(
    `SET existing x${BATCH} (${name})`,
    { group: "set", baseline: name === "no filter" },
    () => {
      keyspace.pinTime();
      for (let i = 0; i < BATCH; i++) store.set(requested[cursor++ % KEY_COUNT], value);
      keyspace.unpinTime();
    },
  );
  // A key created and deleted: what a new key costs the key table and its slot index.
  Deno.bench(
    `SET new key + DEL x${BATCH} (${name})`,
    { group: "set-del", baseline: name === "no filter" },
    () => {
      keyspace.pinTime();
      for (let i = 0; i < BATCH; i++) {
        const key = fresh[cursor++ % KEY_COUNT];
        store.set(key, value);
        store.delete(key);
      }
      keyspace.unpinTime();
    },
  );
}

// Hash slots, on the store of 100k keys (about 6 a slot): what CLUSTER COUNTKEYSINSLOT and
// GETKEYSINSLOT, an anti-entropy pass and a migrated slot's deletion cost.
const slots = plain.store;
const slotOf = (n: number) => keySlot(keys[n % KEY_COUNT]);
Deno.bench(`countKeysInSlot x${BATCH}`, { group: "slots" }, () => {
  for (let i = 0; i < BATCH; i++) sink += slots.countKeysInSlot(slotOf(cursor++));
});
Deno.bench(`getKeysInSlot(slot, 10) x${BATCH}`, { group: "slots" }, () => {
  for (let i = 0; i < BATCH; i++) sink += slots.getKeysInSlot(slotOf(cursor++), 10).length;
});
Deno.bench(`slotDigest x${BATCH}`, { group: "slots" }, () => {
  for (let i = 0; i < BATCH; i++) if (slots.slotDigest(slotOf(cursor++)) === 1n) sink++;
});
Deno.bench("every slot's digest (16384)", { group: "slots" }, () => {
  for (let slot = 0; slot < SLOT_COUNT; slot++) if (slots.slotDigest(slot) === 1n) sink++;
});
Deno.bench(`deleteSlot, then its keys set again x${BATCH / 10}`, { group: "slots" }, () => {
  for (let i = 0; i < BATCH / 10; i++) {
    const slot = slotOf(cursor++);
    const deleted: string[] = [];
    slots.deleteSlot(slot, (key) => deleted.push(key));
    for (const key of deleted) slots.set(key, value);
  }
});

globalThis.addEventListener("unload", () => {
  if (sink < 0) console.log(sink);
});
