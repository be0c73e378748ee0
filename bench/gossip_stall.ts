/**
 * Event-loop stalls: one member of N blocks its own event loop (a busy loop, as a long synchronous
 * task would) for B ms. Reports whether peers declared it failed, whether it accused healthy peers
 * after the stall, and what it noticed about itself (stalls detected, refutations, worst loop lag).
 *
 *   deno run -A bench/gossip_stall.ts --n 5 --profile lan --blocks 1000,3000,5000,8000
 */
import { type NodeProcess, sleep, startNode, until } from "./gossip_procs.ts";

function flag(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : fallback;
}

const n = Number(flag("n", "5"));
const profile = flag("profile", "lan");
const blocks = flag("blocks", "1000,3000,5000,8000").split(",").map(Number);
const runtime = flag("runtime", "deno");
const settleMs = Number(flag("settle-ms", "15000"));

for (const blockMs of blocks) {
  const procs: NodeProcess[] = [];
  try {
    const [first, seedPort] = await startNode("s0", ["--profile", profile, "--port", "0"], runtime);
    procs.push(first);
    for (let i = 1; i < n; i++) {
      const [p] = await startNode(`s${i}`, [
        "--profile",
        profile,
        "--port",
        "0",
        "--seeds",
        `127.0.0.1:${seedPort}`,
      ], runtime);
      procs.push(p);
    }
    const joins = (p: NodeProcess) =>
      new Set(p.lines.filter((l) => l.event === "join").map((l) => l.id)).size;
    await until(() => procs.every((p) => joins(p) === n - 1), 20_000);
    await sleep(2000);
    const blocked = procs[n - 1];
    const at = Date.now();
    blocked.send(`block ${blockMs}`);
    await sleep(blockMs + settleMs);
    const peersFailedIt = procs.slice(0, -1).filter((p) =>
      p.lines.some((l) =>
        l.t >= at && l.event === "fail" && l.id === blocked.id
      )
    ).length;
    const itFailed = blocked.lines.filter((l) => l.t >= at && l.event === "fail").length;
    const since = Date.now();
    blocked.send("stats");
    await until(() => blocked.lines.some((l) => l.t >= since && l.event === "stats"), 5000);
    const stats = blocked.lines.filter((l) => l.event === "stats").at(-1)!.stats as {
      stallsDetected: number;
      refutations: number;
      maxLoopLagMs: number;
    };
    console.log(
      `| ${runtime} | ${profile} | ${n} | ${blockMs} | ${peersFailedIt}/${
        n - 1
      } | ${itFailed} | ${stats.stallsDetected} | ${stats.refutations} | ${
        Math.round(stats.maxLoopLagMs)
      } |`,
    );
  } finally {
    for (const p of procs) p.kill("SIGKILL");
    await Promise.all(procs.map((p) => p.exit()));
  }
}
