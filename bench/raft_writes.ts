/**
 * Three `examples/raft-kv.ts` processes on loopback, fsync on: sequential writes (ops/s, p50,
 * p99), 64 concurrent clients (ops/s) and ReadIndex reads (p50), all over HTTP to the leader.
 *
 *     deno run -A bench/raft_writes.ts [--writes 2000] [--clients 64]
 */
import { BenchCluster, percentile } from "./raft_cluster.ts";

function arg(name: string, fallback: number): number {
  const at = Deno.args.indexOf(`--${name}`);
  return at >= 0 ? Number(Deno.args[at + 1]) : fallback;
}

const WRITES = arg("writes", 2000);
const CLIENTS = arg("clients", 64);
const CONCURRENT_WRITES = arg("concurrent-writes", 20_000);

const dir = await Deno.makeTempDir({ prefix: "raft-bench-" });
const cluster = new BenchCluster(dir, 17_000);
cluster.startAll();
try {
  const leader = await cluster.waitForLeader();
  const put = async (i: number) => {
    const response = await fetch(cluster.url(leader, `/kv/key${i % 1000}`), {
      method: "PUT",
      body: `value-${i}`,
    });
    await response.arrayBuffer();
    if (!response.ok) throw new Error(`write failed: ${response.status}`);
  };
  for (let i = 0; i < 100; i++) await put(i);

  const latencies: number[] = [];
  let started = performance.now();
  for (let i = 0; i < WRITES; i++) {
    const t = performance.now();
    await put(i);
    latencies.push(performance.now() - t);
  }
  const seqSeconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  console.log(
    `sequential writes: ${(WRITES / seqSeconds).toFixed(0)} ops/s, p50 ${
      percentile(latencies, 0.5).toFixed(2)
    } ms, p99 ${percentile(latencies, 0.99).toFixed(2)} ms`,
  );

  let next = 0;
  started = performance.now();
  await Promise.all(Array.from({ length: CLIENTS }, async () => {
    while (next < CONCURRENT_WRITES) await put(next++);
  }));
  const concurrentSeconds = (performance.now() - started) / 1000;
  console.log(
    `${CLIENTS} concurrent clients: ${(CONCURRENT_WRITES / concurrentSeconds).toFixed(0)} writes/s`,
  );

  const reads: number[] = [];
  for (let i = 0; i < WRITES; i++) {
    const t = performance.now();
    const response = await fetch(cluster.url(leader, `/kv/key${i % 1000}`));
    await response.arrayBuffer();
    reads.push(performance.now() - t);
  }
  reads.sort((a, b) => a - b);
  console.log(
    `ReadIndex reads: p50 ${percentile(reads, 0.5).toFixed(2)} ms, p99 ${
      percentile(reads, 0.99).toFixed(2)
    } ms`,
  );

  const stale: number[] = [];
  for (let i = 0; i < WRITES; i++) {
    const t = performance.now();
    const response = await fetch(cluster.url(leader, `/kv/key${i % 1000}?stale=1`));
    await response.arrayBuffer();
    stale.push(performance.now() - t);
  }
  stale.sort((a, b) => a - b);
  console.log(
    `local (stale) reads, for the HTTP baseline: p50 ${percentile(stale, 0.5).toFixed(2)} ms`,
  );
} finally {
  await cluster.stopAll();
  await Deno.remove(dir, { recursive: true });
}
