// Starts real clusters of node processes on loopback for the end-to-end tests: each node gets
// free ports for RESP, HTTP, the bus and gossip, the others' gossip ports as seeds, and its own
// data directory, so it can be killed and restarted from its own files.
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { type NodeProcess, redisCli, type RuntimeName, startNode } from "./_harness.ts";

/** The keys the cluster tests write: `key:i` holds `valueOf(i)` (values of several lengths). */
export const keyOf = (i: number): string => `key:${i}`;
export const valueOf = (i: number): string => `value:${i}:${"x".repeat(i % 17)}`;
const BATCH = 1000;

/**
 * A plain client of the node on `port` that neither retries nor reconnects, so a test sees
 * every error a dead or refusing node gives.
 */
export function plainClient(port: number): Redis {
  const client = new Redis({
    host: "127.0.0.1",
    port,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on("error", () => {});
  return client;
}

/** Writes keys 0..count-1 in pipelines of 1000, each through a random one of `clients`. */
export async function writeKeys(clients: Redis[], count: number): Promise<void> {
  for (let start = 0; start < count; start += BATCH) {
    const pipeline = clients[Math.floor(Math.random() * clients.length)].pipeline();
    for (let i = start; i < Math.min(count, start + BATCH); i++) {
      pipeline.set(keyOf(i), valueOf(i));
    }
    const replies = await pipeline.exec();
    const bad = replies!.find(([error, reply]) => error !== null || reply !== "OK");
    assert.equal(bad, undefined, `a SET answered ${bad}`);
  }
}

/** Reads every key of `keys` through `client`; returns how many came back wrong. */
export async function misreads(client: Redis, keys: number[]): Promise<number> {
  let wrong = 0;
  for (let start = 0; start < keys.length; start += BATCH) {
    const batch = keys.slice(start, start + BATCH);
    const pipeline = client.pipeline();
    for (const i of batch) pipeline.get(keyOf(i));
    const replies = await pipeline.exec();
    replies!.forEach(([error, value], j) => {
      if (error !== null || value !== valueOf(batch[j])) wrong++;
    });
  }
  return wrong;
}

/** Whether `port` can be listened on at 127.0.0.1 now. */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** Ports this process has handed out: a plan never gets one twice. */
const handedOut = new Set<number>();

/**
 * A port free on 127.0.0.1 now, below Linux's ephemeral range (32768 and up): a port the kernel
 * picked for `listen(0)` could be taken by an outgoing connection before the node binds it.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 10_000 + Math.floor(Math.random() * 22_000);
    if (handedOut.has(port) || !(await canListen(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error("no free port below 32768 in 200 tries");
}

export interface ClusterNodeSpec {
  name: string;
  port: number;
  httpPort: number;
  busPort: number;
  gossipPort: number;
  dataDir: string;
}

export class TestCluster {
  readonly nodes: (NodeProcess | undefined)[];

  private constructor(
    readonly runtime: RuntimeName,
    readonly specs: ClusterNodeSpec[],
    readonly extraConfig: string,
    /** Nodes that form the cluster first; the others join it later. */
    readonly bootstrapExpect: number,
    readonly failureTimeout: string,
  ) {
    this.nodes = specs.map(() => undefined);
  }

  /** Plans `size` nodes (ports and directories) without starting them. */
  static async plan(
    runtime: RuntimeName,
    size: number,
    options: { extraConfig?: string; bootstrapExpect?: number; failureTimeout?: string } = {},
  ): Promise<TestCluster> {
    const specs: ClusterNodeSpec[] = [];
    for (let i = 1; i <= size; i++) {
      specs.push({
        name: `node${i}`,
        port: await freePort(),
        httpPort: await freePort(),
        busPort: await freePort(),
        gossipPort: await freePort(),
        dataDir: await mkdtemp(join(tmpdir(), `hc-cluster-${i}-`)),
      });
    }
    return new TestCluster(
      runtime,
      specs,
      options.extraConfig ?? "",
      options.bootstrapExpect ?? size,
      options.failureTimeout ?? "30s",
    );
  }

  config(index: number, extraConfig = this.extraConfig): string {
    const spec = this.specs[index];
    const seeds = this.specs.filter((s) => s !== spec).map((s) => `"127.0.0.1:${s.gossipPort}"`);
    return [
      `node_id: ${spec.name}`,
      "persistence:",
      "  appendonly: yes",
      "cluster:",
      "  enabled: yes",
      `  bus_port: ${spec.busPort}`,
      `  gossip_port: ${spec.gossipPort}`,
      `  seeds: [${seeds.join(", ")}]`,
      `  bootstrap_expect: ${this.bootstrapExpect}`,
      `  failure_timeout: ${this.failureTimeout}`,
      extraConfig,
    ].join("\n");
  }

  /** Starts node `index` (again, after a kill, from its own data directory). */
  async start(
    index: number,
    extraConfig = this.extraConfig,
    args: string[] = [],
  ): Promise<NodeProcess> {
    const spec = this.specs[index];
    const node = await startNode(this.runtime, {
      config: this.config(index, extraConfig),
      dataDir: spec.dataDir,
      args: ["--port", String(spec.port), "--http-port", String(spec.httpPort), ...args],
    });
    this.nodes[index] = node;
    return node;
  }

  /**
   * Freezes node `index` (SIGSTOP) for `ms`, then lets it go on (SIGCONT). Signals go by pid:
   * Deno's `ChildProcess.kill` delivers only the first signal it is asked for.
   */
  async pause(index: number, ms: number): Promise<void> {
    const pid = this.nodes[index]!.process.pid!;
    process.kill(pid, "SIGSTOP");
    try {
      await new Promise((r) => setTimeout(r, ms));
    } finally {
      process.kill(pid, "SIGCONT");
    }
  }

  /** Starts the first `bootstrapExpect` nodes. */
  async startAll(): Promise<void> {
    await Promise.all(this.specs.slice(0, this.bootstrapExpect).map((_, i) => this.start(i)));
  }

  /** INFO cluster of node `index`, as a record. */
  async infoCluster(index: number): Promise<Record<string, string>> {
    const { stdout } = await redisCli(this.specs[index].port, ["info", "cluster"]);
    return Object.fromEntries(
      stdout.split(/\r?\n/).filter((l) => l.includes(":")).map((l) => l.split(":", 2)),
    );
  }

  /** Waits until no running node has a slot left to hand over, and every slot is owned. */
  async waitSettled(size: number, timeoutMs = 60_000): Promise<number> {
    const start = Date.now();
    while (Date.now() - start < timeoutMs) {
      const running = this.specs.map((_, i) => i).filter((i) => this.nodes[i] !== undefined);
      const infos = await Promise.all(running.map((i) => this.info(i)));
      const counters = await Promise.all(running.map((i) => this.infoCluster(i)));
      const settled = infos.every((i) =>
        i.cluster_state === "ok" && i.cluster_size === String(size) &&
        i.cluster_current_epoch === infos[0].cluster_current_epoch
      ) && counters.every((c) =>
        c.cluster_migrating_slots === "0"
      );
      if (settled) return Date.now() - start;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`cluster not settled at ${size} owners in ${timeoutMs} ms`);
  }

  /** SIGTERM: the node hands its slots over and leaves; resolves with its exit code. */
  async stop(index: number): Promise<number | null> {
    const code = await this.nodes[index]!.stop();
    this.nodes[index] = undefined;
    return code;
  }

  /** CLUSTER INFO of node `index`, as a record. */
  async info(index: number): Promise<Record<string, string>> {
    const { stdout } = await redisCli(this.specs[index].port, ["cluster", "info"]);
    return Object.fromEntries(
      stdout.split(/\r?\n/).filter((l) => l.includes(":")).map((l) => l.split(":", 2)),
    );
  }

  /** Waits until every running node reports `cluster_state:ok` at the same epoch. */
  async waitOk(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: Record<string, string>[] = [];
    while (Date.now() < deadline) {
      const running = this.specs.map((_, i) => i).filter((i) => this.nodes[i] !== undefined);
      last = await Promise.all(running.map((i) => this.info(i)));
      const epochs = new Set(last.map((i) => i.cluster_current_epoch));
      if (last.every((i) => i.cluster_state === "ok") && epochs.size === 1) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`cluster not ok in ${timeoutMs} ms: ${JSON.stringify(last)}`);
  }

  async kill(index: number): Promise<void> {
    await this.nodes[index]?.kill();
    this.nodes[index] = undefined;
  }

  async close(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n?.kill()));
    await Promise.all(this.specs.map((s) => rm(s.dataDir, { recursive: true, force: true })));
  }

  /** Output of every node, for a failure message. */
  output(): string {
    return this.nodes.map((n, i) => `--- ${this.specs[i].name}\n${n?.output() ?? "(down)"}`)
      .join("\n");
  }
}
