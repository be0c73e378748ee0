/**
 * Persistence demo (`deno task demo:persistence`): starts a node with `appendonly yes` and
 * `appendfsync always`, writes keys with TTLs, kills the node with SIGKILL, restarts it on the
 * same data directory and prints every key back with its TTL, which kept counting down.
 *
 * Runs the node on the same runtime as this script (Deno or Bun).
 *
 * @module
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { RespClient } from "../tests/e2e/_resp_client.ts";

const MAIN = new URL("../src/main.ts", import.meta.url).pathname;
const READY = /RESP on [^:]+:(\d+)/;

interface Node {
  port: number;
  kill(): Promise<void>;
}

function start(dataDir: string): Promise<Node> {
  const onBun = "Bun" in globalThis;
  const args = onBun ? ["run", MAIN] : ["run", "--allow-all", MAIN];
  const child = spawn(process.execPath, [
    ...args,
    "--port",
    "0",
    "--http",
    "false",
    "--data-dir",
    dataDir,
    "--appendonly",
    "yes",
    "--appendfsync",
    "always",
  ], { stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  return new Promise((resolve, reject) => {
    let ready = false;
    const onData = (chunk: Uint8Array) => {
      const text = new TextDecoder().decode(chunk);
      for (const line of text.trimEnd().split("\n")) console.log(`   [node] ${line}`);
      const match = READY.exec(text);
      if (match === null || ready) return;
      ready = true;
      resolve({
        port: Number(match[1]),
        kill: async () => {
          child.kill("SIGKILL");
          await exited;
        },
      });
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    exited.then(() => reject(new Error("the node exited before it was ready")));
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const dataDir = await mkdtemp(join(tmpdir(), "hypercache-demo-"));
const keys: [string, string, number | null][] = [
  ["user:1", "ada", 120],
  ["user:2", "grace", 60],
  ["session:abc", "token-123", 30],
  ["flash", "gone soon", 2],
  ["config", "forever", null],
];
try {
  console.log(`1. start a node (data in ${dataDir})`);
  let node = await start(dataDir);
  const client = await RespClient.open(node.port);
  for (const [key, value, ttl] of keys) {
    const args = ttl === null ? ["SET", key, value] : ["SET", key, value, "EX", String(ttl)];
    console.log(`   ${args.join(" ")} -> ${await client.send(...args)}`);
  }
  console.log(`   RPUSH queue a b c -> ${await client.send("RPUSH", "queue", "a", "b", "c")}`);
  console.log(`   EXPIRE queue 90 -> ${await client.send("EXPIRE", "queue", "90")}`);
  client.close();

  console.log("2. kill -9 the node, wait 3 seconds");
  await node.kill();
  await sleep(3000);

  console.log("3. restart it on the same data directory");
  node = await start(dataDir);
  const reader = await RespClient.open(node.port);
  for (const key of [...keys.map(([key]) => key), "queue"]) {
    const type = await reader.send("TYPE", key);
    const value = type === "list"
      ? JSON.stringify(await reader.send("LRANGE", key, "0", "-1"))
      : JSON.stringify(await reader.send("GET", key));
    const ttl = await reader.send("PTTL", key);
    const shown = ttl === -2 ? "expired while down" : ttl === -1 ? "no TTL" : `${ttl} ms left`;
    console.log(`   ${key.padEnd(12)} ${value.padEnd(18)} ${shown}`);
  }
  await sleep(1000);
  console.log(`   one second later: PTTL user:1 -> ${await reader.send("PTTL", "user:1")} ms`);
  reader.close();
  await node.kill();
} finally {
  await rm(dataDir, { recursive: true, force: true });
}
