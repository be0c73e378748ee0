// Latency of a plain client through one cluster node: sequential GETs (one in flight) of keys the
// node owns (served locally) and of keys another node owns (forwarded over the cluster bus),
// alternating local and forwarded so both see the same machine noise.
//
// The slot map comes from CLUSTER SLOTS on a connection of its own (which becomes cluster-aware);
// the timed GETs go through another connection that never asks for it, so it stays a plain client
// and the node forwards for it. Keys are picked by slot owner with the ring's keySlot.
//
//   deno run -A bench/cluster_latency.ts --port 7001 [--host 127.0.0.1] [--count 20000]
//     [--warmup 2000] [--keys 16] [--local-only] [--json]
//
// Prints p50/p99/mean in microseconds for local and forwarded GETs (one JSON line with --json).
// --local-only times local GETs alone: a baseline against a Redis Cluster node, which answers a
// plain client's GET of another node's key with -MOVED instead of forwarding it.
import process from "node:process";
import { Redis } from "ioredis";
import { keySlot } from "../src/ring/key_slot.ts";

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : process.argv[i + 1];
}

const host = flag("host", "127.0.0.1");
const port = Number(flag("port", "7001"));
const COUNT = Number(flag("count", "20000"));
const WARMUP = Number(flag("warmup", "2000"));
const KEYS = Number(flag("keys", "16"));
const JSON_OUT = process.argv.includes("--json");
const LOCAL_ONLY = process.argv.includes("--local-only");
const VALUE = "v".repeat(100);

/** Owner ("host:port") of every slot, from CLUSTER SLOTS. */
async function slotOwners(): Promise<string[]> {
  const admin = new Redis({ host, port, lazyConnect: true, maxRetriesPerRequest: 1 });
  await admin.connect();
  try {
    const owners = new Array<string>(16384).fill("");
    const ranges = await admin.call("CLUSTER", "SLOTS") as [number, number, [string, number]][];
    for (const [from, to, [h, p]] of ranges) {
      for (let s = from; s <= to; s++) owners[s] = `${h}:${p}`;
    }
    return owners;
  } finally {
    admin.disconnect();
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * p) - 1)];
}

function summary(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
  return {
    p50_us: Math.round(percentile(sorted, 0.5) * 1000 * 10) / 10,
    p99_us: Math.round(percentile(sorted, 0.99) * 1000 * 10) / 10,
    mean_us: Math.round(mean * 1000 * 10) / 10,
  };
}

const owners = await slotOwners();
const self = `${host}:${port}`;
if (!owners.includes(self)) throw new Error(`CLUSTER SLOTS of ${self} gives it no slot`);
const unowned = owners.filter((o) => o === "").length;
if (unowned > 0) throw new Error(`${unowned} slots have no owner in CLUSTER SLOTS`);

// KEYS keys the node owns and KEYS keys that others own (spread over the other nodes in turn).
const others = [...new Set(owners.filter((o) => o !== self))];
const local: string[] = [];
const forwarded: string[] = [];
const perOther = new Map<string, number>(others.map((o) => [o, 0]));
const wanted = LOCAL_ONLY ? 0 : KEYS;
for (let i = 0; i < 1_000_000 && (local.length < KEYS || forwarded.length < wanted); i++) {
  const key = `lat:${String(i).padStart(12, "0")}`; // 16 bytes
  const owner = owners[keySlot(key)];
  if (owner === self) {
    if (local.length < KEYS) local.push(key);
  } else if (forwarded.length < wanted && perOther.get(owner)! <= Math.min(...perOther.values())) {
    forwarded.push(key);
    perOther.set(owner, perOther.get(owner)! + 1);
  }
}

const client = new Redis({ host, port, lazyConnect: true, maxRetriesPerRequest: 1 });
await client.connect();
try {
  for (const key of [...local, ...forwarded]) await client.set(key, VALUE);
  const times = { local: [] as number[], forwarded: [] as number[] };
  let wrong = 0;
  for (let i = 0; i < WARMUP + COUNT; i++) {
    const pair: (readonly ["local" | "forwarded", string])[] = LOCAL_ONLY
      ? [["local", local[i % KEYS]]]
      : i % 2 === 0
      ? [["local", local[i % KEYS]], ["forwarded", forwarded[i % KEYS]]]
      : [["forwarded", forwarded[i % KEYS]], ["local", local[i % KEYS]]];
    for (const [kind, key] of pair) {
      const t0 = performance.now();
      const reply = await client.get(key);
      const dt = performance.now() - t0;
      if (reply !== VALUE) wrong++;
      if (i >= WARMUP) times[kind].push(dt);
    }
  }
  const result = {
    node: self,
    count: COUNT,
    local: summary(times.local),
    forwarded: LOCAL_ONLY ? null : summary(times.forwarded),
    wrong_replies: wrong,
    forwarded_to: Object.fromEntries(perOther),
  };
  if (JSON_OUT) {
    console.log(JSON.stringify(result));
  } else {
    console.log(
      `plain client through ${self}, ${COUNT} sequential GETs of each kind (100 B values)`,
    );
    for (const kind of ["local", "forwarded"] as const) {
      const s = result[kind];
      if (s === null) continue;
      console.log(`${kind.padEnd(9)} p50 ${s.p50_us} us  p99 ${s.p99_us} us  mean ${s.mean_us} us`);
    }
    if (wrong > 0) console.log(`${wrong} replies were not the value set`);
  }
} finally {
  client.disconnect();
}
