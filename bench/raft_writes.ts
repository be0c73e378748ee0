/**
 * Three `examples/raft-kv.ts` processes on loopback, fsync on, driven by `redis-benchmark` over
 * the example's RESP port on the leader: sequential writes (ops/s, p50, p99), 64 concurrent
 * clients, and linearizable ReadIndex reads.
 *
 *     deno run -A bench/raft_writes.ts [--writes 5000] [--concurrent-writes 100000]
 */
import { BenchCluster } from "./raft_cluster.ts";

function arg(name: string, fallback: number): number {
  const at = Deno.args.indexOf(`--${name}`);
  return at >= 0 ? Number(Deno.args[at + 1]) : fallback;
}

const WRITES = arg("writes", 5000);
const CONCURRENT = arg("concurrent-writes", 100_000);

interface Result {
  rps: number;
  p50: number;
  p99: number;
}

async function redisBenchmark(
  port: number,
  test: string,
  clients: number,
  requests: number,
): Promise<Result> {
  const output = await new Deno.Command("redis-benchmark", {
    args: [
      "-p",
      String(port),
      "-t",
      test,
      "-c",
      String(clients),
      "-n",
      String(requests),
      "-r",
      "100000",
      "--csv",
    ],
    stdout: "piped",
    stderr: "null",
  }).output();
  const line = new TextDecoder().decode(output.stdout).trim().split("\n").at(-1)!;
  const cells = line.split(",").map((c) => Number(c.replaceAll('"', "")));
  return { rps: cells[1], p50: cells[4], p99: cells[6] };
}

function show(label: string, r: Result): void {
  console.log(
    `${label}: ${r.rps.toFixed(0)} ops/s, p50 ${r.p50.toFixed(3)} ms, p99 ${r.p99.toFixed(3)} ms`,
  );
}

const dir = await Deno.makeTempDir({ prefix: "raft-bench-" });
const cluster = new BenchCluster(dir, 17_000);
cluster.startAll();
try {
  const leader = await cluster.waitForLeader();
  const port = cluster.nodes[leader - 1].respPort;
  await redisBenchmark(port, "set", 8, 2000);
  show("sequential writes (1 client)", await redisBenchmark(port, "set", 1, WRITES));
  show("64 concurrent clients, writes", await redisBenchmark(port, "set", 64, CONCURRENT));
  show("sequential ReadIndex reads (1 client)", await redisBenchmark(port, "get", 1, WRITES));
  show("64 concurrent clients, ReadIndex reads", await redisBenchmark(port, "get", 64, CONCURRENT));
} finally {
  await cluster.stopAll();
  await Deno.remove(dir, { recursive: true });
}
