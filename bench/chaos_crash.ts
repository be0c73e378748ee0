/**
 * Chaos: `kill -9` a node under write load, again and again, and count what survives.
 *
 * Per cycle and runtime: start a node (`appendonly yes`, `appendfsync always`) on one data
 * directory, run 8 writers that SET distinct keys until the connection dies, `kill -9` the node
 * at a random moment (0.2-1 s), restart it, and check every acknowledged write so far (from
 * this and earlier cycles) for its exact value.
 *
 * Usage: deno run -A bench/chaos_crash.ts [cycles=100] [runtimes=deno,bun]
 *
 * @module
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { type RuntimeName, startNode } from "../tests/e2e/_harness.ts";
import { RespClient } from "../tests/e2e/_resp_client.ts";

const CYCLES = Number(process.argv[2] ?? 100);
const RUNTIMES = (process.argv[3] ?? "deno,bun").split(",") as RuntimeName[];
const WRITERS = 8;
const ARGS = ["--appendonly", "yes", "--appendfsync", "always", "--http", "false"];

interface Totals {
  cycles: number;
  acknowledged: number;
  checked: number;
  recovered: number;
  lost: number;
  recoveryMs: number[];
}

function valueFor(key: string): string {
  let value = `${key}:`;
  for (let i = 0; i < 48; i++) value += String.fromCharCode((key.length * 31 + i * 7) & 0xff);
  return value;
}

/** Bounds on each writer, far beyond what a kill within a second lets through. */
const WRITER_MAX_SETS = 500_000;
const WRITER_MAX_MS = 30_000;

async function writeUntilKilled(port: number, cycle: number, acked: Map<string, string>) {
  const until = Date.now() + WRITER_MAX_MS;
  await Promise.all(Array.from({ length: WRITERS }, async (_, writer) => {
    const client = await RespClient.open(port);
    for (let n = 0; n < WRITER_MAX_SETS && Date.now() < until; n++) {
      const key = `c${cycle}:w${writer}:${n}`;
      const value = valueFor(key);
      if (await client.send("SET", key, value) !== "OK") break;
      acked.set(key, value);
    }
    client.close();
  }));
}

async function chaos(runtime: RuntimeName): Promise<Totals> {
  const dataDir = await mkdtemp(join(tmpdir(), `hc-chaos-${runtime}-`));
  const totals: Totals = {
    cycles: 0,
    acknowledged: 0,
    checked: 0,
    recovered: 0,
    lost: 0,
    recoveryMs: [],
  };
  const acked = new Map<string, string>();
  try {
    let node = await startNode(runtime, { dataDir, args: ARGS });
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const writing = writeUntilKilled(node.port, cycle, acked);
      await new Promise((resolve) => setTimeout(resolve, 200 + Math.random() * 800));
      await node.kill();
      await writing;
      const started = performance.now();
      node = await startNode(runtime, { dataDir, args: ARGS });
      totals.recoveryMs.push(performance.now() - started);
      const reader = await RespClient.open(node.port);
      let lost = 0;
      const keys = [...acked.keys()];
      for (let i = 0; i < keys.length; i += 1000) {
        const batch = keys.slice(i, i + 1000);
        const values = await reader.send("MGET", ...batch) as (string | null)[];
        batch.forEach((key, j) => {
          if (values[j] !== acked.get(key)) lost++;
        });
      }
      reader.close();
      totals.cycles++;
      totals.checked += keys.length;
      totals.recovered += keys.length - lost;
      totals.lost += lost;
      console.log(
        `${runtime} cycle ${cycle + 1}/${CYCLES}: ${acked.size} acknowledged so far, ` +
          `${keys.length - lost} recovered, ${lost} lost`,
      );
      if (lost > 0) break;
    }
    await node.stop();
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
  totals.acknowledged = acked.size;
  return totals;
}

const rows: string[] = [];
let anyLost = false;
for (const runtime of RUNTIMES) {
  const t = await chaos(runtime);
  anyLost ||= t.lost > 0;
  const sorted = [...t.recoveryMs].sort((a, b) => a - b);
  const median = Math.round(sorted[Math.floor(sorted.length / 2)] ?? 0);
  rows.push(
    `| ${runtime} | ${t.cycles} | ${t.acknowledged} | ${t.checked} | ${t.recovered} | ${t.lost} | ${median} |`,
  );
}
console.log(
  `\nkill -9 chaos, appendfsync always, ${WRITERS} writers. acknowledged: distinct keys whose`,
);
console.log("SET got +OK; checks: every acknowledged key re-read after every restart.");
console.log("| runtime | cycles | acknowledged | checks | recovered | lost | median restart ms |");
console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const row of rows) console.log(row);
process.exit(anyLost ? 1 : 0);
