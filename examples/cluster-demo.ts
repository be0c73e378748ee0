/**
 * Cluster demo (`deno task cluster:demo`): starts the three nodes of `config/cluster/` (RESP
 * 7001-7003, HTTP 8001-8003, data in a temporary directory), writes keys through node 1, reads
 * them through the others over RESP and HTTP, shows how the keys spread, kills node 3 with
 * SIGKILL and shows the cluster carrying on (node 3's keys answer CLUSTERDOWN, the rest are
 * served), then restarts node 3 from its own files and reads every key again.
 *
 * Runs the nodes on the same runtime as this script (Deno or Bun).
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { Redis } from "ioredis";

const MAIN = new URL("../src/main.ts", import.meta.url).pathname;
const CONFIG = (n: number) => new URL(`../config/cluster/node${n}.yaml`, import.meta.url).pathname;
const KEYS = 1000;

function start(n: number, dataDir: string): Promise<ChildProcess> {
  const onBun = "Bun" in globalThis;
  const args = onBun ? ["run", MAIN] : ["run", "--allow-all", MAIN];
  const child = spawn(process.execPath, [...args, "--config", CONFIG(n), "--data-dir", dataDir], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  return new Promise((resolve, reject) => {
    let output = "";
    const onData = (chunk: Uint8Array) => {
      output += new TextDecoder().decode(chunk);
      if (output.includes("ready, RESP on")) resolve(child);
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.on("exit", (code) => reject(new Error(`node${n} exited with ${code}:\n${output}`)));
  });
}

async function clusterOk(client: Redis): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const info = await client.call("CLUSTER", "INFO") as string;
    if (info.includes("cluster_state:ok")) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("the cluster did not become ok in 30 s");
}

const dir = await mkdtemp(join(tmpdir(), "hypercache-cluster-demo-"));
const nodes: (ChildProcess | undefined)[] = [];
const clients: Redis[] = [];
try {
  console.log("1. Starting node1, node2, node3 (config/cluster/node{1,2,3}.yaml)...");
  nodes.push(...await Promise.all([1, 2, 3].map((n) => start(n, join(dir, `node${n}`)))));
  for (const port of [7001, 7002, 7003]) {
    const client = new Redis({ port, maxRetriesPerRequest: 0, retryStrategy: () => 200 });
    client.on("error", () => {});
    clients.push(client);
  }
  await clusterOk(clients[0]);
  console.log("   cluster_state:ok: Raft agreed on the slot map, gossip sees all three.\n");

  console.log(`2. Writing ${KEYS} keys through node1 (a plain client: node1 forwards)...`);
  const pipeline = clients[0].pipeline();
  for (let i = 0; i < KEYS; i++) pipeline.set(`demo:${i}`, `value ${i}`);
  await pipeline.exec();
  for (const [n, client] of [[2, clients[1]], [3, clients[2]]] as const) {
    const values = await client.mget(...Array.from({ length: KEYS }, (_, i) => `demo:${i}`));
    const right = values.filter((v, i) => v === `value ${i}`).length;
    console.log(`   read back through node${n} over RESP: ${right}/${KEYS} right`);
  }
  for (const key of ["demo:1", "demo:2", "demo:3"]) {
    const body = await (await fetch(`http://127.0.0.1:8003/get/${key}`)).json();
    console.log(`   GET ${key} over HTTP on node3: ${JSON.stringify(body)}`);
  }

  console.log("\n3. How the keys spread (DBSIZE is per node):");
  for (let n = 0; n < 3; n++) {
    const slots = ((await clients[n].call("CLUSTER", "INFO")) as string)
      .match(/cluster_slots_assigned:(\d+)/)![1];
    console.log(
      `   node${n + 1}: ${await clients[n].dbsize()} keys (${slots} slots assigned in all)`,
    );
  }

  console.log("\n4. kill -9 node3...");
  nodes[2]!.kill("SIGKILL");
  nodes[2] = undefined;
  await new Promise((r) => setTimeout(r, 1500));
  const values = await Promise.all(
    Array.from({ length: 20 }, (_, i) => clients[0].get(`demo:${i}`).catch((e) => e.message)),
  );
  const served = values.filter((v) => v.startsWith("value")).length;
  console.log(
    `   through node1: ${served}/20 served, the others: ${
      [...new Set(values.filter((v) => !v.startsWith("value")))].join("; ")
    }`,
  );

  console.log("\n5. Restarting node3 from its own AOF...");
  nodes[2] = await start(3, join(dir, "node3"));
  await clusterOk(clients[0]);
  await new Promise((r) => setTimeout(r, 500));
  const again = await clients[1].mget(...Array.from({ length: KEYS }, (_, i) => `demo:${i}`));
  const right = again.filter((v, i) => v === `value ${i}`).length;
  console.log(`   every key through node2 again: ${right}/${KEYS} right`);
} finally {
  for (const client of clients) client.disconnect();
  for (const node of nodes) node?.kill("SIGKILL");
  await rm(dir, { recursive: true, force: true });
}
