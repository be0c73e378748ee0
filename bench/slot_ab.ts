/**
 * Before/after the per-slot index, side by side in one run: the keyspace's hot operations and
 * its memory per key, for this tree and for an earlier commit, in fresh processes that alternate
 * (before, after, before, ...), on Deno and on Bun. On a shared machine one process can be 30%
 * slower than the next, so each figure is the median over processes of each process's best
 * round; the ratio of medians is what to read.
 *
 * Usage: deno run -A bench/slot_ab.ts [--base <rev>] [--processes 8] [--keys 100000]
 *          [--runtimes deno,bun] [--patterns sequential,random] [--memory-keys 1000000]
 *
 * `--base` defaults to the commit before the slot index (`fc0a032^`). A worker (`--worker`) runs
 * one tree's operations and prints them as JSON.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import process from "node:process";

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const at = args.indexOf(`--${name}`);
  return at === -1 ? fallback : args[at + 1];
};

/** Operations per measured round, and rounds per process (the first is warm-up). */
const OPS = 200_000;
const ROUNDS = 6;

if (args[0] === "--worker") {
  await worker(args[1], Number(args[2]), args[3] === "random");
} else {
  driver();
}

/**
 * One tree's operations in this process: the best round of each, in ns per operation. Keys are
 * taken in order (as keyspace_bench.ts takes them: neighbours in memory, which the hardware
 * prefetches), or all over the keyspace (as `redis-benchmark -r` sends them: a cache miss at
 * every step of a lookup).
 */
async function worker(tree: string, keyCount: number, random: boolean): Promise<void> {
  const { Keyspace } = await import(`${tree}/src/keyspace/keyspace.ts`);
  const clock = { monotonicMs: () => performance.now(), realtimeMs: () => Date.now() };
  const keyspace = new Keyspace([{
    name: "default",
    maxMemoryBytes: 0,
    evictionPolicy: "noeviction",
    defaultTtlMs: 0,
  }], clock);
  const store = keyspace.store(0);
  // As keyspace_bench.ts: 16-byte keys, 100-byte values, keys looked up with strings made from
  // bytes as the parser makes them.
  const keys = Array.from({ length: keyCount }, (_, i) => `key:${String(i).padStart(12, "0")}`);
  const value = "v".repeat(100);
  const asParsed = (key: string) => Buffer.from(key, "latin1").toString("latin1");
  const requested = keys.map(asParsed);
  const fresh = keys.map((_, i) => asParsed(`nokey:${String(i).padStart(10, "0")}`));
  const counters = keys.map((_, i) => asParsed(`ctr:${String(i).padStart(12, "0")}`));
  for (const key of keys) store.set(key, value);
  for (const key of counters) store.set(key, "1");
  const reply = new Uint8Array(4096);
  let cursor = 0;
  let sink = 0;
  const next = random
    ? () => (cursor = (cursor + 7919) % keyCount)
    : () => (cursor = cursor + 1 === keyCount ? 0 : cursor + 1);
  type Op = () => void;
  const ops: Record<string, Op> = {
    "GET hit": () => {
      for (let i = 0; i < 1000; i++) if (store.read(requested[next()]) !== undefined) sink++;
    },
    "GET hit, value copied out": () => {
      for (let i = 0; i < 1000; i++) sink += store.read(requested[next()])!.copyString(reply, 0);
    },
    "GET miss": () => {
      for (let i = 0; i < 1000; i++) if (store.read(fresh[next()]) !== undefined) sink++;
    },
    "SET existing key": () => {
      for (let i = 0; i < 1000; i++) store.set(requested[next()], value);
    },
    "SET new key + DEL": () => {
      for (let i = 0; i < 1000; i++) {
        const key = fresh[next()];
        store.set(key, value);
        store.delete(key);
      }
    },
    "INCR (lookup, replace)": () => {
      for (let i = 0; i < 1000; i++) {
        const entry = store.lookup(counters[next()])!;
        store.replace(entry, String(Number(entry.value) + 1));
      }
    },
  };
  const clockCpu = () => {
    const usage = process.cpuUsage();
    return (usage.user + usage.system) * 1000;
  };
  const best: Record<string, number> = {};
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, op] of Object.entries(ops)) {
      keyspace.pinTime();
      const start = clockCpu();
      for (let batch = 0; batch < OPS / 1000; batch++) op();
      const ns = (clockCpu() - start) / OPS;
      keyspace.unpinTime();
      if (round > 0) best[name] = Math.min(best[name] ?? Infinity, ns);
    }
  }
  if (sink === -1) console.error(sink);
  console.log(JSON.stringify(best));
}

function driver(): void {
  const base = option("base", "fc0a032^");
  const processes = Number(option("processes", "8"));
  const keyCount = Number(option("keys", "100000"));
  const memoryKeys = option("memory-keys", "1000000");
  const runtimes = option("runtimes", "deno,bun").split(",");
  const patterns = option("patterns", "sequential,random").split(",");
  const repo = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
  const sha = execFileSync("git", ["-C", repo, "rev-parse", "--short", base]).toString().trim();
  const before = `/tmp/hypercache-slot-ab/${sha}`;
  if (!existsSync(`${before}/src`)) {
    mkdirSync(before, { recursive: true });
    const archive = `git -C '${repo}' archive ${sha} src bench deno.json | tar -x -C '${before}'`;
    execFileSync("sh", ["-c", archive]);
  }
  const trees: [string, string][] = [[`before (${sha})`, before], ["after", repo]];
  const self = new URL(import.meta.url).pathname;
  console.log(`${keyCount} keys, ${processes} processes per tree and runtime, alternating\n`);
  console.log("| operation | keys | runtime | before ns/op | after ns/op | after/before |");
  console.log("| --- | --- | --- | ---: | ---: | ---: |");
  for (const pattern of patterns) {
    for (const runtime of runtimes) {
      const results = trees.map(() => [] as Record<string, number>[]);
      for (let n = 0; n < processes; n++) {
        trees.forEach(([, tree], t) => {
          const work = ["--worker", tree, String(keyCount), pattern];
          const command = runtime === "deno"
            ? ["deno", ["run", "-A", "--no-check", self, ...work]]
            : ["bun", [self, ...work]];
          const run = spawnSync(command[0] as string, command[1] as string[], { encoding: "utf8" });
          if (run.status !== 0) throw new Error(`${runtime} worker failed: ${run.stderr}`);
          results[t].push(JSON.parse(run.stdout.trim().split("\n").at(-1)!));
        });
      }
      for (const name of Object.keys(results[0][0])) {
        const [a, b] = results.map((rows) => median(rows.map((row) => row[name])));
        const ratio = (b / a).toFixed(3);
        console.log(
          `| ${name} | ${pattern} | ${runtime} | ${a.toFixed(1)} | ${b.toFixed(1)} | ${ratio} |`,
        );
      }
    }
  }
  console.log(
    `\nMemory per key, ${memoryKeys} keys (bench/keyspace_memory.ts), RSS after full GCs:\n`,
  );
  console.log("| runtime | before RSS bytes/key | after RSS bytes/key |");
  console.log("| --- | ---: | ---: |");
  for (const runtime of runtimes) {
    const rss = trees.map(([, tree]) => {
      const script = `${tree}/bench/keyspace_memory.ts`;
      const command = runtime === "deno"
        ? ["deno", [
          "run",
          "-A",
          "--v8-flags=--expose-gc,--max-semi-space-size=4",
          script,
          memoryKeys,
        ]]
        : ["bun", [script, memoryKeys]];
      const run = spawnSync(command[0] as string, command[1] as string[], { encoding: "utf8" });
      return /rss\s+([\d.]+)/.exec(run.stdout)?.[1] ?? "?";
    });
    console.log(`| ${runtime} | ${rss[0]} | ${rss[1]} |`);
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1];
}
