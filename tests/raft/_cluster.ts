/** A real cluster in one process: drivers, durable storage and TCP transports on loopback. */
import { currentRuntime } from "../../src/runtime/mod.ts";

/** The adapter of the runtime running the tests (Deno or Bun). */
const runtime = await currentRuntime();
import { RaftDriver, type StateMachine } from "../../src/raft/driver.ts";
import { DurableStorage } from "../../src/raft/storage.ts";
import { type PeerAddress, Transport } from "../../src/raft/transport.ts";
import type { FileSystem } from "../../src/runtime/types.ts";
import type { NodeId } from "../../src/raft/types.ts";

/** A key-value state machine: commands are "key=value". */
export class KvMachine implements StateMachine {
  data = new Map<string, string>();
  apply(data: Uint8Array): unknown {
    const [key, value] = new TextDecoder().decode(data).split("=");
    this.data.set(key, value);
    return this.data.size;
  }
  snapshot(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify([...this.data]));
  }
  restore(data: Uint8Array): void {
    this.data = new Map(data.length > 0 ? JSON.parse(new TextDecoder().decode(data)) : []);
  }
}

export interface Member {
  id: NodeId;
  driver: RaftDriver;
  transport: Transport;
  storage: DurableStorage;
  machine: KvMachine;
}

export class LocalCluster {
  readonly members = new Map<NodeId, Member>();
  readonly ports = new Map<NodeId, number>();

  constructor(
    readonly fs: FileSystem,
    readonly ids: NodeId[],
    readonly secret?: Uint8Array,
    readonly snapshotEveryEntries = 50,
  ) {}

  async startAll(): Promise<void> {
    // Bind every port first so that each member knows all addresses.
    for (const id of this.ids) await this.start(id);
  }

  async start(id: NodeId): Promise<Member> {
    const storage = await DurableStorage.open({ fs: this.fs, dir: `/raft/${id}` });
    if (storage.isEmpty()) await storage.bootstrap(this.ids);
    const machine = new KvMachine();
    const ref: { driver?: RaftDriver } = {};
    const peers = new Map<NodeId, PeerAddress>();
    for (const [peer, port] of this.ports) peers.set(peer, { hostname: "127.0.0.1", port });
    const transport = await Transport.start({
      runtime,
      id,
      listen: { hostname: "127.0.0.1", port: this.ports.get(id) ?? 0 },
      peers,
      secret: this.secret,
      onMessage: (m) => ref.driver?.receive(m),
      onUnreachable: (peer) => ref.driver?.node.reportUnreachable(peer),
    });
    this.ports.set(id, transport.port);
    for (const other of this.members.values()) {
      other.transport.addPeer(id, { hostname: "127.0.0.1", port: transport.port });
    }
    const driver = new RaftDriver({
      raft: { id },
      storage,
      stateMachine: machine,
      send: (messages) => transport.send(messages),
      snapshotEveryEntries: this.snapshotEveryEntries,
      compactionLagEntries: Math.ceil(this.snapshotEveryEntries / 5),
    });
    ref.driver = driver;
    driver.start();
    const member = { id, driver, transport, storage, machine };
    this.members.set(id, member);
    return member;
  }

  async stop(id: NodeId): Promise<void> {
    const member = this.members.get(id);
    if (!member) return;
    this.members.delete(id);
    member.driver.stop();
    await member.transport.close();
  }

  async stopAll(): Promise<void> {
    for (const id of [...this.members.keys()]) await this.stop(id);
  }

  leader(): Member | undefined {
    return [...this.members.values()].find((m) => m.driver.node.role === "leader");
  }

  async waitForLeader(timeoutMs = 5000): Promise<Member> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const leader = this.leader();
      if (leader) return leader;
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error("no leader elected");
  }
}
