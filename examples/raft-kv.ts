/**
 * A replicated key-value store on HyperCache's Raft library: three local processes, each with its
 * own data directory (fsynced), talking over the cluster bus and serving HTTP.
 *
 * Start a local three-node cluster (one command; Ctrl-C stops it):
 *
 *     deno run -A examples/raft-kv.ts cluster
 *
 * or each node by hand, in three terminals:
 *
 *     deno run -A examples/raft-kv.ts node --id 1 --http 8101
 *     deno run -A examples/raft-kv.ts node --id 2 --http 8102
 *     deno run -A examples/raft-kv.ts node --id 3 --http 8103
 *
 * Then, against any node (followers forward writes and reads to the leader):
 *
 *     curl -X PUT localhost:8101/kv/greeting -d hello
 *     curl localhost:8102/kv/greeting            # linearizable read (ReadIndex)
 *     curl localhost:8103/status                 # role, leader, term, commit
 *
 * Watch a failover: find the leader in `/status`, kill it (`kill -9 <pid>`, the pid is in
 * `/status`), and a new leader answers within a few hundred milliseconds; restart the old one and
 * it catches up from its files and the new leader.
 *
 * Options: `--cluster 1=127.0.0.1:7101,2=...` (bus addresses), `--dir .data/raft-kv/<id>`,
 * `--secret S` (HMAC-SHA-256 on every frame), `--tick-ms 10`.
 *
 * @module
 */
import { currentRuntime } from "../src/runtime/mod.ts";
import {
  DurableStorage,
  type NodeId,
  type PeerAddress,
  ProposalDroppedError,
  RaftDriver,
  type StateMachine,
  Transport,
} from "../src/raft/mod.ts";

const DEFAULT_CLUSTER = "1=127.0.0.1:7101,2=127.0.0.1:7102,3=127.0.0.1:7103";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Commands are CBOR-free on purpose: `key\0value` bytes, easy to read in a hex dump. */
class KvStateMachine implements StateMachine {
  data = new Map<string, string>();

  apply(command: Uint8Array): unknown {
    const text = decoder.decode(command);
    const split = text.indexOf("\0");
    const key = text.slice(0, split);
    const value = text.slice(split + 1);
    if (value === "") this.data.delete(key);
    else this.data.set(key, value);
    return undefined;
  }

  snapshot(): Uint8Array {
    return encoder.encode(JSON.stringify([...this.data]));
  }

  restore(bytes: Uint8Array): void {
    this.data = new Map(bytes.length > 0 ? JSON.parse(decoder.decode(bytes)) : []);
  }
}

function flag(args: string[], name: string, fallback: string): string {
  const at = args.indexOf(`--${name}`);
  return at >= 0 && at + 1 < args.length ? args[at + 1] : fallback;
}

function parseCluster(text: string): Map<NodeId, PeerAddress> {
  const peers = new Map<NodeId, PeerAddress>();
  for (const part of text.split(",")) {
    const [id, address] = part.split("=");
    const [hostname, port] = address.split(":");
    peers.set(Number(id), { hostname, port: Number(port) });
  }
  return peers;
}

async function runNode(args: string[]): Promise<void> {
  const runtime = await currentRuntime();
  const id = Number(flag(args, "id", "1"));
  const peers = parseCluster(flag(args, "cluster", DEFAULT_CLUSTER));
  const httpPort = Number(flag(args, "http", String(8100 + id)));
  const dir = flag(args, "dir", `.data/raft-kv/${id}`);
  const secretText = flag(args, "secret", "");
  const secret = secretText ? encoder.encode(secretText) : undefined;
  const self = peers.get(id);
  if (!self) {
    throw new RangeError(`Cannot start node ${id}: it is not in --cluster ${[...peers.keys()]}`);
  }

  const storage = await DurableStorage.open({ fs: runtime.fs, dir });
  if (storage.recovery.truncatedBytes > 0) {
    console.log(`node ${id}: dropped a torn log tail of ${storage.recovery.truncatedBytes} bytes`);
  }
  if (storage.isEmpty()) await storage.bootstrap([...peers.keys()]);
  const machine = new KvStateMachine();
  const ref: { driver?: RaftDriver } = {};
  const transport = await Transport.start({
    runtime,
    id,
    listen: self,
    peers,
    secret,
    onMessage: (m) => ref.driver?.receive(m),
    onUnreachable: (peer) => ref.driver?.node.reportUnreachable(peer),
  });
  const driver = new RaftDriver({
    raft: { id },
    storage,
    stateMachine: machine,
    send: (messages) => transport.send(messages),
    tickMs: Number(flag(args, "tick-ms", "10")),
    onLeaderChange: (leader, role) =>
      console.log(`node ${id}: leader is ${leader} (this node: ${role})`),
  });
  ref.driver = driver;
  driver.start();

  await runtime.serveHttp({
    hostname: "127.0.0.1",
    port: httpPort,
    fetch: (request) => handle(request, driver, machine, runtime.pid()),
  });
  console.log(
    `node ${id}: bus ${self.hostname}:${self.port}, http 127.0.0.1:${httpPort}, data ${dir}`,
  );
  const stop = () => {
    driver.stop();
    void transport.close().then(() => storage.close()).finally(() => runtime.exit(0));
  };
  runtime.onSignal("SIGINT", stop);
  runtime.onSignal("SIGTERM", stop);
}

async function handle(
  request: Request,
  driver: RaftDriver,
  machine: KvStateMachine,
  pid: number,
): Promise<Response> {
  const url = new URL(request.url);
  try {
    if (url.pathname === "/status") {
      const s = driver.node.status();
      return Response.json({
        id: s.id,
        pid,
        role: s.role,
        leader: s.leaderId,
        term: s.term,
        commit: s.commit,
        applied: s.applied,
        voters: s.confState.voters,
      });
    }
    const key = decodeURIComponent(url.pathname.slice("/kv/".length));
    if (!url.pathname.startsWith("/kv/") || key === "") {
      return new Response("not found\n", { status: 404 });
    }
    if (request.method === "PUT" || request.method === "POST") {
      const value = await request.text();
      await driver.propose(encoder.encode(`${key}\0${value}`));
      return new Response("OK\n");
    }
    if (request.method === "DELETE") {
      await driver.propose(encoder.encode(`${key}\0`));
      return new Response("OK\n");
    }
    if (url.searchParams.get("stale") !== "1") await driver.read();
    const value = machine.data.get(key);
    return value === undefined ? new Response("not found\n", { status: 404 }) : new Response(value);
  } catch (error) {
    const leader = error instanceof ProposalDroppedError ? error.leaderId : driver.leader;
    return Response.json({ error: (error as Error).message, leader }, { status: 503 });
  }
}

/** Starts three nodes as child processes and relays their output. */
async function runCluster(args: string[]): Promise<void> {
  const cluster = flag(args, "cluster", DEFAULT_CLUSTER);
  const base = flag(args, "dir", ".data/raft-kv");
  const children = [...parseCluster(cluster).keys()].map((id) => {
    const command = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL(import.meta.url).pathname,
        "node",
        "--id",
        String(id),
        "--cluster",
        cluster,
        "--dir",
        `${base}/${id}`,
        "--http",
        String(8100 + id),
        ...(args.includes("--secret") ? ["--secret", flag(args, "secret", "")] : []),
      ],
      stdout: "inherit",
      stderr: "inherit",
    });
    return command.spawn();
  });
  console.log("cluster: http on 127.0.0.1:8101, 8102, 8103; Ctrl-C stops all three");
  const stopAll = () => {
    for (const child of children) child.kill("SIGTERM");
  };
  Deno.addSignalListener("SIGINT", stopAll);
  Deno.addSignalListener("SIGTERM", stopAll);
  await Promise.all(children.map((child) => child.status));
}

if (import.meta.main) {
  const [mode, ...rest] = Deno.args;
  if (mode === "node") await runNode(rest);
  else if (mode === "cluster") await runCluster(rest);
  else {
    console.log("usage: deno run -A examples/raft-kv.ts cluster | node --id N [--http PORT]");
  }
}
