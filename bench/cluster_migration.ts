// Join and leave times of a 3-node cluster holding N keys (default 1,000,000 keys of 16 bytes
// with 100-byte values): load through the nodes, start a fourth node and time until every slot
// has settled with it as an owner, then SIGTERM it and time until it has exited and the three
// own every slot again. Checks that the key count is the same after each move.
//
//   deno run -A bench/cluster_migration.ts [--runtime deno|bun] [--keys 1000000]
import process from "node:process";
import { Redis } from "ioredis";
import { TestCluster } from "../tests/e2e/_cluster.ts";
import type { RuntimeName } from "../tests/e2e/_harness.ts";

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : process.argv[i + 1];
}

const runtime = flag("runtime", "deno") as RuntimeName;
const KEYS = Number(flag("keys", "1000000"));
const BATCH = 5000;
const key = (i: number) => `k:${String(i).padStart(14, "0")}`; // 16 bytes
const value = "v".repeat(100);

const cluster = await TestCluster.plan(runtime, 4, { bootstrapExpect: 3 });
const clients: Redis[] = [];
try {
  await cluster.startAll();
  await cluster.waitOk();
  for (let n = 0; n < 3; n++) clients.push(new Redis({ port: cluster.specs[n].port }));
  const loadStart = performance.now();
  for (let start = 0; start < KEYS; start += BATCH * 3) {
    await Promise.all(clients.map((client, n) => {
      const pipeline = client.pipeline();
      const from = start + n * BATCH;
      for (let i = from; i < Math.min(from + BATCH, KEYS); i++) pipeline.set(key(i), value);
      return pipeline.exec();
    }));
  }
  const loadMs = performance.now() - loadStart;
  const total = async (count: number) => {
    let sum = 0;
    for (let n = 0; n < count; n++) {
      const client = new Redis({ port: cluster.specs[n].port });
      sum += await client.dbsize();
      client.disconnect();
    }
    return sum;
  };
  const before = await total(3);
  console.log(`loaded ${before} keys in ${(loadMs / 1000).toFixed(1)} s on ${runtime}`);

  const joinStart = performance.now();
  await cluster.start(3);
  const startedMs = performance.now() - joinStart;
  await cluster.waitSettled(4, 120_000);
  const joinMs = performance.now() - joinStart;
  const afterJoin = await total(4);
  console.log(
    `join: node started in ${(startedMs / 1000).toFixed(1)} s, slots settled ${
      (joinMs / 1000).toFixed(1)
    } s after the start; keys ${afterJoin} (${afterJoin === before ? "none lost" : "MISMATCH"})`,
  );

  const leaveStart = performance.now();
  const code = await cluster.stop(3);
  await cluster.waitSettled(3, 120_000);
  const leaveMs = performance.now() - leaveStart;
  const afterLeave = await total(3);
  console.log(
    `leave: SIGTERM to exit (code ${code}) and settled in ${
      (leaveMs / 1000).toFixed(1)
    } s; keys ${afterLeave} (${afterLeave === before ? "none lost" : "MISMATCH"})`,
  );
} finally {
  for (const client of clients) client.disconnect();
  await cluster.close();
}
