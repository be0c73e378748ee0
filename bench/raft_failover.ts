/**
 * Leader failover on three `examples/raft-kv.ts` processes (heartbeat 50 ms, election 150-300 ms):
 * kill -9 the leader and time until another node is leader, over many trials.
 *
 *     deno run -A bench/raft_failover.ts [--trials 20]
 */
import { BenchCluster, percentile } from "./raft_cluster.ts";

const at = Deno.args.indexOf("--trials");
const TRIALS = at >= 0 ? Number(Deno.args[at + 1]) : 20;

const dir = await Deno.makeTempDir({ prefix: "raft-failover-" });
const cluster = new BenchCluster(dir, 18_000);
cluster.startAll();
const times: number[] = [];
try {
  for (let trial = 0; trial < TRIALS; trial++) {
    const leader = await cluster.waitForLeader(20_000);
    // Let followers hear a few heartbeats, as in steady state.
    await new Promise((r) => setTimeout(r, 300));
    const others = [1, 2, 3].filter((id) => id !== leader);
    const before = await cluster.status(leader);
    const killedAt = performance.now();
    cluster.kill(leader);
    let elected = 0;
    while (elected === 0) {
      const statuses = await Promise.all(others.map((id) => cluster.status(id)));
      if (statuses.some((s) => s?.role === "leader" && s.term > (before?.term ?? 0))) {
        elected = performance.now();
      } else await new Promise((r) => setTimeout(r, 2));
    }
    times.push(elected - killedAt);
    console.log(`trial ${trial + 1}: new leader after ${(elected - killedAt).toFixed(0)} ms`);
    cluster.start(leader);
    await cluster.waitForLeader(20_000);
  }
  times.sort((a, b) => a - b);
  console.log(
    `failover over ${TRIALS} trials: median ${percentile(times, 0.5).toFixed(0)} ms, p99 ${
      percentile(times, 0.99).toFixed(0)
    } ms, max ${times.at(-1)!.toFixed(0)} ms`,
  );
} finally {
  await cluster.stopAll();
  await Deno.remove(dir, { recursive: true });
}
