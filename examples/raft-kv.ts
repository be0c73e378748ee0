/**
 * A replicated key-value store on HyperCache's Raft library: three local processes, each with its
 * own data directory (fsynced), talking over the cluster bus and serving HTTP.
 *
 * Start a local three-node cluster (one command; Ctrl-C stops it):
 *
 *     deno run -A examples/raft-kv.ts cluster
 *
 * or each node by hand, in three terminals (`bun examples/raft-kv.ts node ...` works too):
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
 * Each node also speaks a little RESP (PING, SET, GET, DEL) on port 8200 + id, so `redis-cli` and
 * `redis-benchmark` work against it: `redis-cli -p 8201 set greeting hello`.
 *
 * Options: `--cluster 1=127.0.0.1:7101,2=...` (bus addresses), `--dir .data/raft-kv/<id>`,
 * `--http PORT`, `--resp PORT`, `--secret S` (HMAC-SHA-256 on every frame), `--tick-ms 10`.
 *
 * @module
 */
import { currentRuntime } from "../src/runtime/mod.ts";
import type { TcpConnection } from "../src/runtime/types.ts";
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

  const respPort = Number(flag(args, "resp", String(8200 + id)));
  await runtime.listenTcp({ hostname: "127.0.0.1", port: respPort }, {
    onOpen: (conn) => {
      conn.data = { reader: new RespReader(), tail: Promise.resolve() };
    },
    onData: (conn, bytes) => serveResp(conn, bytes, driver, machine),
  });
  await runtime.serveHttp({
    hostname: "127.0.0.1",
    port: httpPort,
    fetch: (request) => handle(request, driver, machine, runtime.pid()),
  });
  console.log(
    `node ${id}: bus ${self.hostname}:${self.port}, http 127.0.0.1:${httpPort}, resp 127.0.0.1:${respPort}, data ${dir}`,
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

/** Limits of the RESP reader: enough for a demo, small enough that nobody can exhaust memory. */
const MAX_RESP_ARGS = 64;
const MAX_RESP_BULK_BYTES = 1024 * 1024;

/** Splits RESP arrays of bulk strings (what redis-cli and redis-benchmark send) into commands. */
class RespReader {
  private buffer = new Uint8Array(0);

  push(bytes: Uint8Array): string[][] {
    const joined = new Uint8Array(this.buffer.length + bytes.length);
    joined.set(this.buffer);
    joined.set(bytes, this.buffer.length);
    const commands: string[][] = [];
    let at = 0;
    for (;;) {
      const parsed = this.parse(joined, at);
      if (!parsed) break;
      commands.push(parsed.args);
      at = parsed.end;
    }
    this.buffer = joined.slice(at);
    if (this.buffer.length > MAX_RESP_BULK_BYTES + 1024) throw new RangeError("request too large");
    return commands;
  }

  private line(bytes: Uint8Array, at: number): { text: string; end: number } | undefined {
    for (let i = at; i + 1 < bytes.length; i++) {
      if (bytes[i] === 13 && bytes[i + 1] === 10) return { text: latin1(bytes, at, i), end: i + 2 };
    }
    return undefined;
  }

  private parse(bytes: Uint8Array, at: number): { args: string[]; end: number } | undefined {
    const header = this.line(bytes, at);
    if (!header) return undefined;
    if (header.text[0] !== "*") {
      return { args: header.text.split(" ").filter(Boolean), end: header.end };
    }
    const count = Number(header.text.slice(1));
    if (!Number.isInteger(count) || count < 0 || count > MAX_RESP_ARGS) {
      throw new RangeError("bad array length");
    }
    const args: string[] = [];
    let p = header.end;
    for (let i = 0; i < count; i++) {
      const bulk = this.line(bytes, p);
      if (!bulk) return undefined;
      const length = Number(bulk.text.slice(1));
      if (
        bulk.text[0] !== "$" || !Number.isInteger(length) || length < 0 ||
        length > MAX_RESP_BULK_BYTES
      ) {
        throw new RangeError("bad bulk length");
      }
      if (bulk.end + length + 2 > bytes.length) return undefined;
      args.push(latin1(bytes, bulk.end, bulk.end + length));
      p = bulk.end + length + 2;
    }
    return { args, end: p };
  }
}

function latin1(bytes: Uint8Array, start: number, end: number): string {
  let text = "";
  for (let i = start; i < end; i++) text += String.fromCharCode(bytes[i]);
  return text;
}

function bulk(value: string | undefined): string {
  return value === undefined ? "$-1\r\n" : `$${value.length}\r\n${value}\r\n`;
}

function fromLatin1(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

async function execute(
  args: string[],
  driver: RaftDriver,
  machine: KvStateMachine,
): Promise<string> {
  const name = (args[0] ?? "").toUpperCase();
  try {
    switch (name) {
      case "PING":
        return "+PONG\r\n";
      case "SET":
        if (args.length !== 3) return "-ERR wrong number of arguments for 'set' command\r\n";
        await driver.propose(fromLatin1(`${args[1]}\0${args[2]}`));
        return "+OK\r\n";
      case "DEL":
        if (args.length !== 2) return "-ERR wrong number of arguments for 'del' command\r\n";
        await driver.propose(fromLatin1(`${args[1]}\0`));
        return ":1\r\n";
      case "GET":
        if (args.length !== 2) return "-ERR wrong number of arguments for 'get' command\r\n";
        await driver.read();
        return bulk(machine.data.get(args[1]));
      case "CONFIG":
      case "COMMAND":
        return "*0\r\n";
      default:
        return `-ERR unknown command '${args[0]}'\r\n`;
    }
  } catch (error) {
    return `-ERR ${(error as Error).message.replaceAll(/[\r\n]/g, " ")}\r\n`;
  }
}

function serveResp(
  conn: TcpConnection,
  bytes: Uint8Array,
  driver: RaftDriver,
  machine: KvStateMachine,
): void {
  const state = conn.data as { reader: RespReader; tail: Promise<void> };
  let commands: string[][];
  try {
    commands = state.reader.push(bytes);
  } catch (error) {
    conn.write(fromLatin1(`-ERR Protocol error: ${(error as Error).message}\r\n`));
    conn.close();
    return;
  }
  for (const args of commands) {
    // Replies go out in request order, while the commands themselves overlap (pipelining).
    const reply = execute(args, driver, machine);
    state.tail = state.tail.then(async () => conn.write(fromLatin1(await reply)));
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
  // `node` mode runs on Deno and Bun alike; `cluster` spawns children with Deno.
  const [mode, ...rest] = (await currentRuntime()).args();
  if (mode === "node") await runNode(rest);
  else if (mode === "cluster") await runCluster(rest);
  else {
    console.log("usage: deno run -A examples/raft-kv.ts cluster | node --id N [--http PORT]");
  }
}
