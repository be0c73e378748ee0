/**
 * Hash ring and slot map micro benchmarks: key to node look-ups (goal: at least 10M/s) and ring
 * and slot map build times for 100 nodes x 256 tokens.
 *
 * Run: deno bench bench/ring_bench.ts
 * Look-ups per second = KEYS_PER_ITERATION / (time per iteration).
 */

import { HashRing, keySlot, type RingNode, SlotMap } from "../src/ring/mod.ts";

/** Each look-up benchmark iteration looks up this many keys, so loop overhead is amortised. */
const KEYS_PER_ITERATION = 1000;
const NODE_COUNT = 100;

const nodes: RingNode[] = Array.from({ length: NODE_COUNT }, (_, i) => ({ id: `node-${i}` }));
const map = SlotMap.build(nodes);
const ring = map.ring;

// Typical cache keys, 8-20 bytes; every 8th has a hash tag.
const stringKeys = Array.from(
  { length: KEYS_PER_ITERATION },
  (_, i) => (i % 8 === 0 ? `{user:${i}}.cart` : `user:${i * 7919}:profile`),
);
const byteKeys = stringKeys.map((key) => Uint8Array.from(key, (c) => c.charCodeAt(0)));
let sink = 0;

Deno.bench({
  name: `keySlot, latin1 string keys (x${KEYS_PER_ITERATION})`,
  group: "lookup",
  fn() {
    for (let i = 0; i < KEYS_PER_ITERATION; i++) sink += keySlot(stringKeys[i]);
  },
});

Deno.bench({
  name: `keySlot, Uint8Array keys (x${KEYS_PER_ITERATION})`,
  group: "lookup",
  fn() {
    for (let i = 0; i < KEYS_PER_ITERATION; i++) sink += keySlot(byteKeys[i]);
  },
});

Deno.bench({
  name: `SlotMap.ownerOfKey, latin1 string keys (x${KEYS_PER_ITERATION})`,
  group: "lookup",
  baseline: true,
  fn() {
    for (let i = 0; i < KEYS_PER_ITERATION; i++) sink += map.ownerOfKey(stringKeys[i]).length;
  },
});

Deno.bench({
  name: `SlotMap.ownerOfKey, Uint8Array keys (x${KEYS_PER_ITERATION})`,
  group: "lookup",
  fn() {
    for (let i = 0; i < KEYS_PER_ITERATION; i++) sink += map.ownerOfKey(byteKeys[i]).length;
  },
});

Deno.bench({
  name: `HashRing.ownerOf, latin1 string keys (x${KEYS_PER_ITERATION})`,
  group: "lookup",
  fn() {
    for (let i = 0; i < KEYS_PER_ITERATION; i++) sink += ring.ownerOf(stringKeys[i]).length;
  },
});

Deno.bench({
  name: `HashRing.ownerOfPoint, binary search over 25600 tokens (x${KEYS_PER_ITERATION})`,
  group: "lookup",
  fn() {
    for (let i = 0; i < KEYS_PER_ITERATION; i++) {
      sink += ring.ownerOfPoint((i * 2654435761) >>> 0).length;
    }
  },
});

Deno.bench({
  name: `HashRing.preferenceList, 3 of ${NODE_COUNT} nodes`,
  group: "lookup",
  fn() {
    sink += ring.preferenceList(sink & 16383, 3).length;
  },
});

Deno.bench({
  name: `new HashRing: ${NODE_COUNT} nodes x 256 tokens`,
  group: "build",
  baseline: true,
  fn() {
    sink += new HashRing(nodes).tokenCount;
  },
});

Deno.bench({
  name: `SlotMap.build: ${NODE_COUNT} nodes x 256 tokens, balanced from scratch`,
  group: "build",
  fn() {
    sink += SlotMap.build(nodes).epoch;
  },
});

const joined = [...nodes, { id: `node-${NODE_COUNT}` }];
Deno.bench({
  name: `SlotMap.build: join ${NODE_COUNT} -> ${NODE_COUNT + 1} nodes from the previous map`,
  group: "build",
  fn() {
    sink += SlotMap.build(joined, { previous: map }).epoch;
  },
});

Deno.bench({
  name:
    `SlotMap.build without balancing, then replicasOf: table for 16384 slots x 3 (${NODE_COUNT} nodes)`,
  group: "build",
  fn() {
    const fresh = SlotMap.build(nodes, { balance: false });
    sink += fresh.replicasOf(0).length;
  },
});

const encoded = map.encode();
Deno.bench({
  name: `SlotMap.encode: ${NODE_COUNT} nodes (${encoded.length} bytes)`,
  group: "codec",
  fn() {
    sink += map.encode().length;
  },
});

Deno.bench({
  name: `SlotMap.decode: ${NODE_COUNT} nodes (${encoded.length} bytes)`,
  group: "codec",
  fn() {
    sink += SlotMap.decode(encoded).epoch;
  },
});

globalThis.addEventListener("unload", () => {
  if (sink === -1) console.log(sink);
});
