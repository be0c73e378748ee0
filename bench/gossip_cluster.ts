/**
 * Gossip on loopback with real processes: N members, T trials.
 *
 *   deno run -A bench/gossip_cluster.ts --n 5 --profile lan --trials 10 [--runtime bun] [--loss 0.05]
 *
 * Per trial: kill -9 of one member until every other marks it failed; its restart (same id and
 * port) until every other sees it join; a user event until all have it; a graceful leave until all
 * see "left". Then idle datagrams/s and bytes/s per node over 10 s, and a SIGSTOP freeze of 5 s
 * (with lan it must not be declared failed). Prints a Markdown table row set.
 */
import {
  type Line,
  median,
  type NodeProcess,
  seenByAll,
  sleep,
  startNode,
  until,
} from "./gossip_procs.ts";

function flag(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : fallback;
}

const n = Number(flag("n", "5"));
const profile = flag("profile", "lan");
const trials = Number(flag("trials", "10"));
const runtime = flag("runtime", "deno");
const loss = flag("loss", "0");
const freezeMs = Number(flag("freeze-ms", "5000"));
const common = ["--profile", profile, "--loss", loss];
const detectTimeoutMs = profile === "wan" ? 120_000 : 30_000;

const progress = (what: string) => console.error(`[${new Date().toISOString()}] ${what}`);
const procs: NodeProcess[] = [];
/** Every process ever started, restarted ones included, for counting unexpected failures. */
const allProcs: NodeProcess[] = [];
const kills: { id: string; atMs: number }[] = [];
const ports: number[] = [];
const ids = Array.from({ length: n }, (_, i) => `m${i}`);
const others = (except: number) => procs.filter((_, i) => i !== except);
const alive = (p: NodeProcess, id: string) => {
  let state = false;
  for (const l of p.lines) {
    if (l.id !== id) continue;
    if (l.event === "join") state = true;
    if (l.event === "leave" || l.event === "fail") state = false;
  }
  return state;
};
const converged = () => procs.every((p, i) => ids.every((id, j) => i === j || alive(p, id)));

async function restart(i: number): Promise<number | undefined> {
  const since = Date.now();
  const [p] = await startNode(ids[i], [
    ...common,
    "--port",
    String(ports[i]),
    "--seeds",
    `127.0.0.1:${ports[i === 0 ? 1 : 0]}`,
  ], runtime);
  procs[i] = p;
  allProcs.push(p);
  const ok = await until(
    () => seenByAll(others(i), (l) => l.event === "join" && l.id === ids[i], since) !== undefined,
    20_000,
  );
  if (!ok) return undefined;
  // From the moment the process was ready, not from spawn (process start-up is not gossip).
  const ready = p.lines.find((l) => l.event === "ready")!.t;
  return seenByAll(others(i), (l) => l.event === "join" && l.id === ids[i], since)! - ready;
}

try {
  const [first, seedPort] = await startNode(ids[0], [...common, "--port", "0"], runtime);
  procs.push(first);
  allProcs.push(first);
  ports.push(seedPort);
  for (let i = 1; i < n; i++) {
    const [p, port] = await startNode(ids[i], [
      ...common,
      "--port",
      "0",
      "--seeds",
      `127.0.0.1:${seedPort}`,
    ], runtime);
    procs.push(p);
    allProcs.push(p);
    ports.push(port);
  }
  progress("started");
  if (!await until(converged, 30_000)) throw new Error("cluster did not converge");
  progress("converged");
  await sleep(2000);

  const failMs: number[] = [],
    joinMs: number[] = [],
    eventMs: number[] = [],
    leaveMs: number[] = [];
  // A failure is expected when its subject was killed shortly before; any other is a false one.
  const falseFails = (untilMs: number) =>
    allProcs.flatMap((p) => p.lines).filter((l) =>
      l.event === "fail" && l.t <= untilMs &&
      !kills.some((k) => k.id === l.id && k.atMs <= l.t && l.t - k.atMs < detectTimeoutMs)
    ).length;
  for (let trial = 0; trial < trials; trial++) {
    const victim = 1 + (trial % (n - 1));
    progress(`trial ${trial}`);
    // kill -9 until every other member marks it failed
    const killedAt = Date.now();
    kills.push({ id: ids[victim], atMs: killedAt });
    procs[victim].kill("SIGKILL");
    await procs[victim].exit();
    const match = (l: Line) => l.event === "fail" && l.id === ids[victim];
    if (
      await until(() => seenByAll(others(victim), match, killedAt) !== undefined, detectTimeoutMs)
    ) {
      failMs.push(seenByAll(others(victim), match, killedAt)! - killedAt);
    }
    // restart with the same id and port: join seen by all
    progress(`failed seen ${failMs.at(-1)}`);
    const j = await restart(victim);
    progress(`restarted ${j}`);
    if (j !== undefined) joinMs.push(j);
    await until(converged, 20_000);
    // a user event
    const sender = procs[(victim + 1) % n];
    const sentAt = Date.now();
    sender.send(`event bench t${trial}`);
    const ev = (l: Line) => l.event === "user" && l.payload === `t${trial}`;
    if (await until(() => seenByAll(procs, ev, sentAt) !== undefined, 10_000)) {
      eventMs.push(seenByAll(procs, ev, sentAt)! - sentAt);
    }
    // a graceful leave, then back
    const leaver = 1 + ((trial + 1) % (n - 1));
    const leftAt = Date.now();
    procs[leaver].kill("SIGTERM");
    const lv = (l: Line) => l.event === "leave" && l.id === ids[leaver];
    if (await until(() => seenByAll(others(leaver), lv, leftAt) !== undefined, 10_000)) {
      leaveMs.push(seenByAll(others(leaver), lv, leftAt)! - leftAt);
    }
    await procs[leaver].exit();
    await restart(leaver);
    await until(converged, 20_000);
    await sleep(500);
  }
  const unexpected = falseFails(Date.now());

  progress("idle");
  // idle traffic
  const statsOf = async () => {
    const since = Date.now();
    for (const p of procs) p.send("stats");
    await until(
      () => procs.every((p) => p.first((l) => l.event === "stats", since) !== undefined),
      5000,
    );
    return procs.map((p) =>
      p.lines.filter((l) => l.event === "stats" && l.t >= since).at(-1)!.stats as {
        datagramsSent: number;
        datagramBytesSent: number;
        maxLoopLagMs: number;
      }
    );
  };
  await sleep(3000);
  const s0 = await statsOf();
  const idleStart = Date.now();
  await sleep(10_000);
  const s1 = await statsOf();
  const idleS = (Date.now() - idleStart) / 1000;
  let dgrams = 0, bytes = 0;
  for (let i = 0; i < n; i++) {
    dgrams += s1[i].datagramsSent - s0[i].datagramsSent;
    bytes += s1[i].datagramBytesSent - s0[i].datagramBytesSent;
  }

  progress("freeze");
  // SIGSTOP freeze
  const frozen = n - 1;
  const frozeAt = Date.now();
  procs[frozen].kill("SIGSTOP");
  await sleep(freezeMs);
  procs[frozen].kill("SIGCONT");
  await sleep(profile === "wan" ? 60_000 : 10_000);
  const frozenFailed = others(frozen).some((p) =>
    p.lines.some((l) => l.t >= frozeAt && l.event === "fail" && l.id === ids[frozen])
  );

  const fmt = (xs: number[]) => xs.length === 0 ? "-" : `${median(xs)} / ${Math.max(...xs)}`;
  console.log(
    `| ${runtime} | ${profile} | ${n} | ${loss} | ${fmt(failMs)} (${failMs.length}/${trials}) | ${
      fmt(joinMs)
    } | ${fmt(eventMs)} | ${fmt(leaveMs)} | ${(dgrams / n / idleS).toFixed(2)} | ${
      (bytes / n / idleS).toFixed(0)
    } | ${frozenFailed ? "declared failed" : "not failed"} | ${unexpected} |`,
  );
} finally {
  for (const p of procs) {
    p.kill("SIGCONT");
    p.kill("SIGKILL");
  }
  await Promise.all(procs.map((p) => p.exit()));
}
