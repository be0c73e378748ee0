/**
 * Memory per key of a store in process: 1M string keys (16 bytes) with 100-byte values, set from
 * strings sliced out of a request buffer as the RESP parser makes them, measured after full
 * collections. Prints RSS, collected-heap and record-arena bytes per key.
 *
 * Usage: deno run -A --v8-flags=--expose-gc,--max-semi-space-size=4 bench/keyspace_memory.ts [keys]
 *        bun bench/keyspace_memory.ts [keys]
 *
 * @module
 */
import { Buffer } from "node:buffer";
import process from "node:process";
import { Keyspace } from "../src/keyspace/keyspace.ts";
import { recordArena } from "../src/keyspace/_arena.ts";

type Gc = (full?: boolean) => void;
const runtime = globalThis as { gc?: Gc; Bun?: { gc: Gc } };
const gc: Gc | undefined = runtime.gc ?? runtime.Bun?.gc;
if (gc === undefined) {
  console.error("no gc(): run Deno with --v8-flags=--expose-gc");
  process.exit(2);
}
const collect = () => {
  for (let i = 0; i < 3; i++) gc(true);
};

const KEYS = Number(process.argv[2] ?? 1_000_000);
const clock = { monotonicMs: () => performance.now(), realtimeMs: () => Date.now() };
const keyspace = new Keyspace([{
  name: "default",
  maxMemoryBytes: 0,
  evictionPolicy: "noeviction",
  defaultTtlMs: 0,
}], clock);
const store = keyspace.store(0);

collect();
const before = process.memoryUsage();
const request = Buffer.alloc(116, "x") as Buffer & { latin1Slice(s: number, e: number): string };
for (let i = 0; i < KEYS; i++) {
  request.write(`key:${String(i).padStart(12, "0")}`, 0, "latin1");
  store.set(request.latin1Slice(0, 16), request.latin1Slice(16, 116));
}
collect();
const after = process.memoryUsage();
const arena = recordArena.stats();
const perKey = (bytes: number) => (bytes / KEYS).toFixed(1);
console.log(`${KEYS} keys, bytes per key:`);
console.log(`  rss        ${perKey(after.rss - before.rss)}`);
console.log(`  heap used  ${perKey(after.heapUsed - before.heapUsed)}`);
console.log(`  arena slab ${perKey(arena.slabBytes)} (slots ${perKey(arena.slotBytes)})`);
