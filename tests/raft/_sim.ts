/**
 * Raft clusters in the one seeded simulator (`tests/sim/world.ts`): every member is the real
 * `RaftDriver` on a simulated host's runtime (its timers, its drifting clock, its randomness), with
 * a simulated disk whose writes take time and are lost in a crash, and a replicated key-value
 * store whose clients' histories feed the linearizability checker.
 *
 * The drivers talk over one of two networks:
 *
 * - "messages" (the default): each Raft message travels alone through the world's unreliable
 *   network, which drops, delays, duplicates and reorders it (what TCP never does, and what Raft
 *   must survive anyway: a reconnect resends, a follower restarts). Everything runs synchronously,
 *   so scripts can step it message by message.
 * - "tcp": the real `Transport` on the real cluster bus over simulated TCP streams, whose
 *   connections are reset by partitions and crashes and come back with the bus's backoff. It runs
 *   with the async runner (`runRandomAsync`).
 *
 * Faults: crashes (losing every write not yet durable) and restarts, partitions, one-way cuts,
 * clock drift, slow disks. Safety invariants are checked after every event; a failure throws a
 * `SimulationError` naming the seed.
 */
import { MemoryStorage } from "../../src/raft/memory_storage.ts";
import { type DriverStorage, RaftDriver, type StateMachine } from "../../src/raft/driver.ts";
import type { RaftConfig, RaftNode, ReadOnlyOption } from "../../src/raft/node.ts";
import type { StorageUpdate } from "../../src/raft/storage.ts";
import type { ConfChange, ConfState, Entry, Message, NodeId } from "../../src/raft/types.ts";
import { Bus } from "../../src/bus/bus.ts";
import { Transport } from "../../src/raft/transport.ts";
import type { Operation } from "./_linearizability.ts";
import { Completion } from "../sim/completion.ts";
import type { Random } from "../sim/random.ts";
import { type Host, type Life, type SimRuntime, World } from "../sim/world.ts";
import process from "node:process";

/** The simulator's PRNG (mulberry32), under the name the Raft tests know it by. */
export { Random as Prng } from "../sim/random.ts";

export class SimulationError extends Error {
  override name = "SimulationError";
}

/** How reads are served: through ReadIndex (safe or lease) or, deliberately broken, locally. */
export type ReadMode = "readIndex" | "brokenLocal";

export interface SimOptions {
  seed: number;
  voterCount?: number;
  /** Ids above `voterCount` up to this many that membership changes may add. */
  spareCount?: number;
  dropRate?: number;
  duplicateRate?: number;
  minDelayMs?: number;
  maxDelayMs?: number;
  tickMs?: number;
  readOnly?: ReadOnlyOption;
  readMode?: ReadMode;
  snapshotEveryEntries?: number;
  snapshotChunkBytes?: number;
  maxInflightCount?: number;
  /** Longest simulated write of a `Ready` (0: writes are instant). */
  diskDelayMs?: number;
  /** How far a node's clock rate may differ from real time: 0.1 is ±10%. */
  clockDriftRate?: number;
  /** Longest simulated write when the disk stalls (one write in ten). */
  slowDiskDelayMs?: number;
  /** Overrides for every node's Raft config. */
  raft?: Partial<RaftConfig>;
  /** Message by message ("messages") or the real transport over simulated TCP ("tcp"). */
  network?: "messages" | "tcp";
  /** Cluster secret of the bus in "tcp" mode (HMAC on every frame). */
  secret?: Uint8Array;
}

interface KvState {
  data: Map<string, string>;
  /** Applied request ids: proposals duplicated by the network apply once (section 6.3). */
  seen: Set<number>;
}

interface KvCommand {
  id: number;
  key: string;
  value: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const BUS_PORT = 7000;

function encodeKv(kv: KvState, applied: number): Uint8Array {
  return encoder.encode(JSON.stringify({ d: [...kv.data], s: [...kv.seen], a: applied }));
}

function decodeKv(data: Uint8Array): { kv: KvState; applied: number } {
  if (data.length === 0) return { kv: { data: new Map(), seen: new Set() }, applied: 0 };
  const raw = JSON.parse(decoder.decode(data)) as {
    d: [string, string][];
    s: number[];
    a: number;
  };
  return { kv: { data: new Map(raw.d), seen: new Set(raw.s) }, applied: raw.a };
}

/** Decodes one char per byte: lossless for the proposals' binary headers. */
const latin1 = new TextDecoder("latin1");

/** An entry's type and bytes as a string. */
function dataKey(entry: Entry): string {
  return entry.type + ":" + latin1.decode(entry.data);
}

/** The application: a key-value store, the one state machine of each process's life. */
class KvMachine implements StateMachine {
  kv: KvState = { data: new Map(), seen: new Set() };
  /** Index of the last entry applied (any type), or of the snapshot restored. */
  applied = 0;
  /** True while the driver is being built: its restore is a start, not a received snapshot. */
  starting = true;

  constructor(private readonly sim: Simulation) {}

  apply(data: Uint8Array): unknown {
    if (data.length === 0) return undefined;
    const command = JSON.parse(decoder.decode(data)) as KvCommand;
    if (!this.kv.seen.has(command.id)) {
      this.kv.seen.add(command.id);
      this.kv.data.set(command.key, command.value);
      this.sim.stats.writesApplied++;
    }
    return undefined;
  }

  snapshot(): Uint8Array {
    return encodeKv(this.kv, this.applied);
  }

  restore(data: Uint8Array): void {
    const { kv, applied } = decodeKv(data);
    this.kv = kv;
    this.applied = applied;
    if (!this.starting) this.sim.stats.snapshotsRestored++;
  }
}

/** The simulated disk: durable state in a `MemoryStorage`, written when a write completes. */
class SimDisk implements DriverStorage {
  /** What is durable: it survives a crash, and the next life reads it. */
  private readonly memory: MemoryStorage;

  constructor(
    private readonly sim: Simulation,
    private readonly node: SimNode,
    private readonly life: Life,
  ) {
    this.memory = node.storage;
  }

  initialState() {
    return this.memory.initialState();
  }
  entries(lo: number, hi: number, maxSizeBytes: number): Entry[] {
    return this.memory.entries(lo, hi, maxSizeBytes);
  }
  term(index: number): number | undefined {
    return this.memory.term(index);
  }
  firstIndex(): number {
    return this.memory.firstIndex();
  }
  lastIndex(): number {
    return this.memory.lastIndex();
  }
  snapshot() {
    return this.memory.snapshot();
  }

  /**
   * Most writes are quick; some stall (a slow fsync) for longer than a network round trip. A
   * crash while a write is under way loses it: the completion is the crashed life's event.
   */
  save(update: StorageUpdate): Completion | void {
    const delayMs = this.sim.diskDelayMs();
    if (delayMs === 0) return this.persist(update);
    const done = new Completion();
    const world = this.sim.world;
    world.schedule("io", world.nowMs + delayMs, this.life, () => {
      this.persist(update);
      done.resolve();
    }, "disk");
    return done;
  }

  private persist(update: StorageUpdate): void {
    if (update.snapshot) this.memory.applySnapshot(update.snapshot);
    this.memory.append(update.entries);
    if (update.hardState) this.memory.setHardState(update.hardState);
    this.sim.checkPersistedEntries(this.node, update.entries);
  }

  createSnapshot(index: number, confState: ConfState, data: Uint8Array) {
    return this.memory.createSnapshot(index, confState, data);
  }

  compact(index: number): void {
    this.memory.compact(index);
  }
}

/** One member: a host, its durable storage, and the driver of its current life (if up). */
export class SimNode {
  driver: RaftDriver | null = null;
  machine: KvMachine;
  transport: Transport | null = null;
  /** Ticks owed when the simulation ticks by hand (scripts): the drift accumulates here. */
  clock = 0;
  /** What the last leader check saw: unchanged, there is nothing new to check. */
  readonly lastChecked: { raft: RaftNode | null; term: number; commit: number } = {
    raft: null,
    term: 0,
    commit: 0,
  };

  constructor(
    readonly id: NodeId,
    readonly host: Host,
    public storage: MemoryStorage,
    sim: Simulation,
  ) {
    this.machine = new KvMachine(sim);
  }

  /** The real core inside the real driver, or null while the node is down. */
  get raft(): RaftNode | null {
    return this.driver?.node ?? null;
  }

  get kv(): KvState {
    return this.machine.kv;
  }

  /** Rate of this node's clock against true time (1 = a perfect clock). */
  get clockRate(): number {
    return this.host.rate;
  }

  set clockRate(rate: number) {
    this.host.rate = rate;
  }
}

/** A simulated cluster. Drive it with `runRandom` or step by step from a scenario script. */
export class Simulation {
  readonly world: World;
  /** The harness's own draws (faults, clients), apart from the network's and the nodes'. */
  readonly rng: Random;
  readonly opts: Required<Omit<SimOptions, "secret">> & { secret?: Uint8Array };
  readonly nodes = new Map<NodeId, SimNode>();
  /** Scripted filters: messages matching one are dropped on delivery. */
  private blocked: { type: string; from: string; to: string }[] = [];
  /** True once the drivers tick on their own timers (`runUntil`); scripts tick by hand. */
  private ticking = false;
  /** The first invariant that failed: thrown again after the event that found it. */
  private failure: SimulationError | undefined;
  /** What happened, to show that a run exercised what it claims to. */
  readonly stats = {
    crashes: 0,
    restarts: 0,
    partitions: 0,
    leaderTerms: 0,
    snapshotsRestored: 0,
    confChangesApplied: 0,
    readsServed: 0,
    writesApplied: 0,
    messages: 0,
    pauses: 0,
  };

  // Invariant bookkeeping.
  private leaderOfTerm = new Map<number, NodeId>();
  private entryAt = new Map<string, { data: string; prevTerm: number | undefined }>();
  private appliedAt = new Map<number, string>();
  private commitTerm = new Map<number, { commitTerm: number; entryTerm: number }>();
  private leaderSeenCommit = new Map<string, number>();

  // Clients.
  readonly history: Operation[] = [];
  private nextOpId = 1;

  constructor(options: SimOptions) {
    this.opts = {
      voterCount: 3,
      spareCount: 2,
      dropRate: 0.05,
      duplicateRate: 0.02,
      minDelayMs: 1,
      maxDelayMs: 20,
      tickMs: 10,
      readOnly: "safe",
      readMode: "readIndex",
      snapshotEveryEntries: 25,
      snapshotChunkBytes: 64,
      maxInflightCount: 8,
      diskDelayMs: 4,
      slowDiskDelayMs: 60,
      clockDriftRate: 0.05,
      raft: {},
      network: "messages",
      ...options,
    };
    this.world = new World({
      seed: options.seed,
      network: {
        lossRate: this.opts.dropRate,
        duplicateRate: this.opts.duplicateRate,
        minDelayMs: this.opts.minDelayMs,
        maxDelayMs: this.opts.maxDelayMs,
      },
    });
    this.world.afterEvent = () => this.afterStep();
    this.rng = this.world.random.fork();
    const voters = Array.from({ length: this.opts.voterCount }, (_, i) => i + 1);
    for (const id of voters) {
      this.addNode(id, MemoryStorage.bootstrap(voters, encodeKv(emptyKv(), 1)));
    }
  }

  /** Faults on: drops, duplicates, random delays and slow disks apply only while true. */
  get faulty(): boolean {
    return this.world.faulty;
  }

  set faulty(on: boolean) {
    this.world.faulty = on;
  }

  get nowMs(): number {
    return this.world.nowMs;
  }

  get eventCount(): number {
    return this.world.eventCount;
  }

  fail(message: string): never {
    const error = new SimulationError(`seed=${this.opts.seed} t=${this.nowMs}ms: ${message}`);
    this.failure ??= error;
    throw error;
  }

  private addNode(id: NodeId, storage: MemoryStorage): void {
    const host = this.world.addHost(`n${id}`, {
      ip: `10.0.0.${id}`,
      rate: 1 + (this.rng.next() * 2 - 1) * this.opts.clockDriftRate,
    });
    const node = new SimNode(id, host, storage, this);
    this.nodes.set(id, node);
    this.start(node);
  }

  /** Starts a life on the node's host: a new state machine and the real driver on its storage. */
  private start(node: SimNode): void {
    const runtime = node.host.start();
    const machine = new KvMachine(this);
    node.machine = machine;
    const driver = new RaftDriver({
      raft: {
        id: node.id,
        readOnly: this.opts.readOnly,
        snapshotChunkBytes: this.opts.snapshotChunkBytes,
        maxInflightCount: this.opts.maxInflightCount,
        maxMsgSizeBytes: 512,
        ...this.opts.raft,
      },
      storage: new SimDisk(this, node, runtime.life),
      stateMachine: machine,
      send: (messages) => this.send(node, messages),
      tickMs: this.opts.tickMs,
      snapshotEveryEntries: this.opts.snapshotEveryEntries,
      // Keep a few entries so that slightly lagging followers still get appends.
      compactionLagEntries: 5,
      onApply: (entry) => this.onApply(node, machine, entry),
      runtime,
    });
    machine.starting = false;
    node.driver = driver;
    node.transport = null;
    node.clock = 0;
    if (this.opts.network === "tcp") this.startTransport(node, driver, runtime);
    if (this.ticking) driver.start();
  }

  /** "tcp": the real transport on the real bus; messages sent before it listens are lost. */
  private startTransport(node: SimNode, driver: RaftDriver, runtime: SimRuntime): void {
    const peers = new Map<NodeId, { hostname: string; port: number }>();
    const maxId = this.opts.voterCount + this.opts.spareCount;
    for (let id = 1; id <= maxId; id++) {
      if (id !== node.id) peers.set(id, { hostname: `10.0.0.${id}`, port: BUS_PORT });
    }
    const life = runtime.life;
    Bus.start({
      runtime,
      listen: { hostname: node.host.ip, port: BUS_PORT },
      peers,
      secret: this.opts.secret,
      timers: {
        now: () => runtime.clock.monotonicMs(),
        setTimeout: (callback, delayMs) => runtime.timers.setTimeout(callback, delayMs),
        clearTimeout: (handle) => runtime.timers.clearTimeout(handle as never),
      },
      random: () => runtime.random(),
      log: () => {},
    }).then((bus) => {
      if (life.dead) return;
      node.transport = Transport.attach(bus, {
        id: node.id,
        onMessage: (m) => {
          if (this.blocked.some((b) => matches(b, m))) return;
          this.traceMessage(m);
          driver.receive(m);
        },
        onUnreachable: (peer) => driver.node.reportUnreachable(peer),
      });
    }, (error: Error) => this.fail(`node ${node.id} could not start its bus: ${error.message}`));
  }

  /** Ids of every node ever created. */
  ids(): NodeId[] {
    return [...this.nodes.keys()];
  }

  node(id: NodeId): SimNode {
    const node = this.nodes.get(id);
    if (!node) this.fail(`no node ${id}`);
    return node;
  }

  raft(id: NodeId): RaftNode {
    const raft = this.node(id).raft;
    if (!raft) this.fail(`node ${id} is down`);
    return raft;
  }

  liveIds(): NodeId[] {
    return this.ids().filter((id) => this.nodes.get(id)!.driver !== null);
  }

  /** The live leader with the highest term, if any. */
  leader(): NodeId | undefined {
    let best: NodeId | undefined;
    let bestTerm = -1;
    for (const id of this.liveIds()) {
      const raft = this.nodes.get(id)!.raft!;
      if (raft.role === "leader" && raft.currentTerm > bestTerm) {
        best = id;
        bestTerm = raft.currentTerm;
      }
    }
    return best;
  }

  // ---- faults --------------------------------------------------------------------------------

  /** Kills the node's process: its timers, sockets and unfinished writes vanish with it. */
  crash(id: NodeId): void {
    const node = this.node(id);
    if (!node.driver) return;
    node.host.crash();
    node.driver = null;
    node.transport = null;
    this.stats.crashes++;
    this.trace(`crash ${id}`);
  }

  restart(id: NodeId): void {
    const node = this.node(id);
    if (node.driver) return;
    this.stats.restarts++;
    this.trace(`restart ${id}`);
    this.start(node);
  }

  /** Cuts every link between `group` and the other nodes. */
  isolate(group: NodeId[]): void {
    this.stats.partitions++;
    this.trace(`isolate ${group.join(",")}`);
    this.world.isolate(group.map((id) => this.node(id).host));
  }

  /** Stops the node's process for `durationMs`: its timers and deliveries wait, then run late. */
  pause(id: NodeId, durationMs: number): void {
    this.stats.pauses++;
    this.trace(`pause ${id} for ${durationMs} ms`);
    this.node(id).host.pause(durationMs);
  }

  cutLink(from: NodeId, to: NodeId): void {
    this.world.cutLink(this.node(from).host, this.node(to).host);
  }

  heal(): void {
    this.world.heal();
  }

  /** Drops messages of `type` from `from` to `to` ("*" matches anything) until `unblock()`. */
  block(type: string, from: string, to: string): void {
    this.blocked.push({ type, from, to });
  }

  unblock(): void {
    this.blocked = [];
  }

  /** The time of the next simulated write: 0 (at once) when the faults are off. */
  diskDelayMs(): number {
    if (!this.faulty) return 0;
    return this.rng.chance(0.1)
      ? this.rng.int(this.opts.slowDiskDelayMs + 1)
      : this.rng.int(this.opts.diskDelayMs + 1);
  }

  // ---- network and time ----------------------------------------------------------------------

  private send(node: SimNode, messages: Message[]): void {
    if (messages.length === 0) return;
    this.stats.messages += messages.length;
    if (this.opts.network === "tcp") {
      node.transport?.send(messages);
      return;
    }
    for (const message of messages) {
      const to = this.nodes.get(message.to);
      if (to === undefined) continue;
      this.world.sendUnreliable(node.host, to.host, () => this.deliver(message), "message");
    }
  }

  private deliver(message: Message): void {
    if (this.blocked.some((b) => matches(b, message))) return;
    const driver = this.nodes.get(message.to)?.driver;
    if (!driver) return;
    this.traceMessage(message);
    driver.receive(message);
  }

  /** Set `RAFT_TRACE=1` (with `RAFT_SEED=N`) to print every event of a replayed run. */
  private readonly tracing = process.env.RAFT_TRACE === "1";

  private trace(line: string): void {
    if (this.tracing) console.log(`[${this.nowMs}ms] ${line}`);
  }

  private traceMessage(m: Message): void {
    if (!this.tracing) return;
    this.trace(
      `${m.type} ${m.from}->${m.to} t${m.term} i${m.index} lt${m.logTerm} c${m.commit} n${m.entries.length}` +
        (m.reject ? " reject" : ""),
    );
  }

  /** After every event, and after every step a script or client takes outside one. */
  private afterStep(): void {
    if (this.failure) throw this.failure;
    for (const node of this.nodes.values()) {
      const driver = node.driver;
      if (driver === null) continue;
      if (driver.failure) {
        if (driver.failure instanceof SimulationError) throw driver.failure;
        this.fail(`node ${node.id} stopped: ${driver.failure.message}`);
      }
      const raft = driver.node;
      if (raft.role === "leader") this.checkLeader(node, raft);
    }
  }

  /** The "tcp" network's code awaits promises, which only the async runner lets finish. */
  private requireSync(): void {
    if (this.opts.network === "tcp") {
      this.fail("the tcp network runs with the async runner: runUntilAsync, runRandomAsync");
    }
  }

  /** The drivers tick on their own timers from now on. */
  private startTicking(): void {
    if (this.ticking) return;
    this.ticking = true;
    for (const node of this.nodes.values()) node.driver?.start();
  }

  /** Runs every event up to `untilMs`; `onTick` runs every `tickMs` (the clients and faults). */
  runUntil(untilMs: number, onTick?: () => void): void {
    this.requireSync();
    for (const at of this.tickTimes(untilMs, onTick)) this.world.runUntil(at);
  }

  /** `runUntil` with the async runner: for the "tcp" network, whose code awaits promises. */
  async runUntilAsync(untilMs: number, onTick?: () => void): Promise<void> {
    for (const at of this.tickTimes(untilMs, onTick)) await this.world.run(at);
  }

  /** Yields each tick time up to `untilMs` to run the world to; calls `onTick` once there. */
  private *tickTimes(untilMs: number, onTick?: () => void): Generator<number> {
    this.startTicking();
    const tickMs = this.opts.tickMs;
    for (let at = (Math.floor(this.nowMs / tickMs) + 1) * tickMs; at <= untilMs; at += tickMs) {
      yield at;
      onTick?.();
      this.afterStep();
    }
    yield untilMs;
  }

  /** One tick of every live node by hand (scripts): each as many as its clock rate owes. */
  tickAll(): void {
    if (this.ticking) this.fail("tickAll() is for scripts: the drivers already tick by themselves");
    for (const id of this.liveIds()) {
      const node = this.nodes.get(id)!;
      // A drifting clock ticks a little faster or slower than real time.
      node.clock += node.clockRate;
      while (node.clock >= 1 && node.driver) {
        node.clock -= 1;
        node.driver.tick();
        this.world.drainDeferred();
      }
    }
    this.afterStep();
  }

  /** Delivers every message in flight (and those they cause) without advancing ticks. */
  stabilize(maxEvents = 100_000): void {
    try {
      this.world.runIo(maxEvents);
    } catch (error) {
      if (error instanceof SimulationError) throw error;
      this.fail("the network did not settle");
    }
  }

  dropInFlight(): void {
    this.world.dropIo((tag) => tag === "message");
  }

  /** Delivers the messages in flight now; the ones they cause wait for the next round. */
  deliverRound(): void {
    this.world.ioRound();
  }

  /** Hands what a direct call on the node's core produced to its driver. */
  processReady(node: SimNode): void {
    node.driver?.process();
    this.world.drainDeferred();
    this.afterStep();
  }

  // ---- invariants ----------------------------------------------------------------------------

  /** State machine safety and apply order, as each entry is applied. */
  private onApply(node: SimNode, machine: KvMachine, entry: Entry): void {
    if (entry.index !== machine.applied + 1) {
      this.fail(`node ${node.id} applies ${entry.index} after ${machine.applied}`);
    }
    const key = `${entry.term}|${dataKey(entry)}`;
    const previous = this.appliedAt.get(entry.index);
    if (previous === undefined) this.appliedAt.set(entry.index, key);
    else if (previous !== key) {
      this.fail(
        `state machine safety: node ${node.id} applies ${key} at ${entry.index}, another applied ${previous}`,
      );
    }
    machine.applied = entry.index;
    if (entry.type === "confChange") this.stats.confChangesApplied++;
  }

  /** Log matching: an (index, term) pair always names the same entry after the same term. */
  checkPersistedEntries(node: SimNode, entries: Entry[]): void {
    for (const entry of entries) {
      const id = `${entry.index}:${entry.term}`;
      const prevTerm = node.storage.term(entry.index - 1);
      const data = dataKey(entry);
      const known = this.entryAt.get(id);
      if (!known) {
        this.entryAt.set(id, { data, prevTerm });
        continue;
      }
      if (known.data !== data) {
        this.fail(`log matching: ${id} holds ${data} on ${node.id}, ${known.data} elsewhere`);
      }
      if (known.prevTerm !== undefined && prevTerm !== undefined && known.prevTerm !== prevTerm) {
        this.fail(
          `log matching: before ${id} node ${node.id} has term ${prevTerm}, another ${known.prevTerm}`,
        );
      }
    }
  }

  /**
   * Election safety and leader completeness, for a leader, after every event: nothing to check
   * again while its term and commit index stay what they were at the last check.
   */
  private checkLeader(node: SimNode, raft: RaftNode): void {
    const term = raft.currentTerm;
    const committed = raft.log.committed;
    const last = node.lastChecked;
    if (last.raft === raft && last.term === term && last.commit === committed) return;
    last.raft = raft;
    last.term = term;
    last.commit = committed;
    const known = this.leaderOfTerm.get(term);
    const key = `${node.id}:${term}`;
    if (known === undefined) {
      this.leaderOfTerm.set(term, node.id);
      this.stats.leaderTerms++;
      this.trace(`leader ${node.id} of term ${term}`);
    } else if (known !== node.id) {
      this.fail(`election safety: ${known} and ${node.id} are both leaders of term ${term}`);
    }
    let seen = this.leaderSeenCommit.get(key);
    if (seen === undefined) {
      this.checkLeaderHasCommitted(raft, node.id);
      seen = raft.log.firstIndex() - 1;
    }
    for (let i = seen + 1; i <= committed; i++) {
      if (this.commitTerm.has(i)) continue;
      const entryTerm = raft.log.term(i);
      if (entryTerm === undefined) continue;
      this.commitTerm.set(i, { commitTerm: term, entryTerm });
      this.checkNewCommitInLeaders(i, term, entryTerm);
    }
    this.leaderSeenCommit.set(key, Math.max(seen, committed));
  }

  private checkLeaderHasCommitted(raft: RaftNode, id: NodeId): void {
    const first = raft.log.firstIndex();
    for (const [index, c] of this.commitTerm) {
      if (c.commitTerm >= raft.currentTerm || index < first) continue;
      const term = raft.log.term(index);
      if (term !== c.entryTerm) {
        this.fail(
          `leader completeness: leader ${id} of term ${raft.currentTerm} has term ${term} at committed ${index} (term ${c.entryTerm})`,
        );
      }
    }
  }

  private checkNewCommitInLeaders(index: number, commitTerm: number, entryTerm: number): void {
    for (const node of this.nodes.values()) {
      const raft = node.raft;
      if (!raft || raft.role !== "leader" || raft.currentTerm <= commitTerm) continue;
      if (index < raft.log.firstIndex()) continue;
      if (raft.log.term(index) !== entryTerm) {
        this.fail(
          `leader completeness: leader ${node.id} of term ${raft.currentTerm} lacks committed ${index}`,
        );
      }
    }
  }

  // ---- clients -------------------------------------------------------------------------------

  /** Starts a write of `key` through node `target`; false when the node refused it at once. */
  write(target: NodeId, key: string, value: string): boolean {
    const driver = this.nodes.get(target)?.driver;
    if (!driver) return false;
    const id = this.nextOpId++;
    const op: Operation = {
      id,
      kind: "put",
      key,
      input: value,
      callMs: this.nowMs,
      returnMs: Infinity,
      target,
    };
    let started = false;
    let refused = false;
    driver.proposeWith(encoder.encode(JSON.stringify({ id, key, value } satisfies KvCommand)), (
      error,
    ) => {
      // Applied on the node that proposed it; an error later leaves the outcome unknown.
      if (error === undefined) op.returnMs = this.nowMs;
      else if (!started) refused = true;
    });
    // The proposal reaches the core at the end of this turn: now.
    this.world.drainDeferred();
    started = true;
    this.afterStep();
    if (refused) return false;
    this.history.push(op);
    return true;
  }

  /** Starts a read of `key` at node `target`, served as `readMode` says. */
  read(target: NodeId, key: string): boolean {
    const node = this.nodes.get(target);
    const driver = node?.driver;
    if (!node || !driver) return false;
    const id = this.nextOpId++;
    const op: Operation = { id, kind: "get", key, callMs: this.nowMs, returnMs: Infinity, target };
    if (this.opts.readMode === "brokenLocal") {
      // Deliberately wrong: a node that believes it leads answers from its own state.
      if (driver.node.role !== "leader") return false;
      op.output = node.kv.data.get(key) ?? null;
      op.returnMs = this.nowMs;
      this.history.push(op);
      return true;
    }
    const machine = node.machine;
    let started = false;
    let refused = false;
    driver.readWith((error) => {
      if (error === undefined) {
        op.output = machine.kv.data.get(key) ?? null;
        op.returnMs = this.nowMs;
        this.stats.readsServed++;
      } else if (!started) refused = true;
    });
    this.world.drainDeferred();
    started = true;
    this.afterStep();
    if (refused) return false;
    this.history.push(op);
    return true;
  }

  /** Operations that completed, plus writes whose outcome is unknown (they may have happened). */
  completedHistory(): Operation[] {
    return this.history.filter((op) => op.kind === "put" || op.returnMs !== Infinity);
  }

  // ---- membership ----------------------------------------------------------------------------

  /** Proposes `change` at the leader, starting any new node first. */
  changeMembership(change: ConfChange): boolean {
    const leader = this.leader();
    if (leader === undefined) return false;
    for (const single of change.changes) {
      if (single.type !== "removeNode" && !this.nodes.has(single.nodeId)) {
        this.addNode(single.nodeId, new MemoryStorage());
      } else if (single.type !== "removeNode") this.restart(single.nodeId);
    }
    try {
      this.raft(leader).proposeConfChange(change);
    } catch {
      return false;
    }
    this.processReady(this.node(leader));
    return true;
  }

  // ---- randomized run ------------------------------------------------------------------------

  /**
   * Runs `durationMs` of random faults and client traffic, then heals everything and requires
   * that the cluster commits a new entry on every voter within `recoveryMs`.
   */
  runRandom(options: RandomRunOptions): void {
    this.requireSync();
    for (const at of this.randomRun(options)) this.world.runUntil(at);
  }

  /** `runRandom` with the async runner: for the "tcp" network. */
  async runRandomAsync(options: RandomRunOptions): Promise<void> {
    for (const at of this.randomRun(options)) await this.world.run(at);
  }

  /** The random run as the times to run the world to; it acts at each one. */
  private *randomRun(options: RandomRunOptions): Generator<number> {
    const keys = Array.from({ length: options.keys ?? 3 }, (_, i) => `k${i}`);
    const clientCount = options.clients ?? 3;
    const busyUntil = new Map<number, number>();
    const maxId = this.opts.voterCount + this.opts.spareCount;
    yield* this.tickTimes(options.durationMs, () => {
      const live = this.liveIds();
      if (options.crashes && live.length > 0 && this.rng.chance(0.01)) {
        this.crash(this.rng.pick(live));
      }
      const down = this.ids().filter((id) => !this.nodes.get(id)!.driver);
      if (down.length > 0 && this.rng.chance(0.03)) this.restart(this.rng.pick(down));
      if (options.partitions && this.rng.chance(0.01)) {
        this.heal();
        const ids = this.ids();
        this.isolate(ids.filter(() => this.rng.chance(0.4)));
      }
      if (this.rng.chance(0.02)) this.heal();
      if (options.pauses && live.length > 0 && this.rng.chance(0.01)) {
        // A stopped process (GC, SIGSTOP): its timers and messages wait, then come late.
        this.pause(this.rng.pick(live), this.rng.between(20, 500));
      }
      if (options.clockJumps && live.length > 0 && this.rng.chance(0.01)) {
        const node = this.node(this.rng.pick(live));
        node.clockRate = 1 + (this.rng.next() * 2 - 1) * 0.2;
        this.trace(`clock of ${node.id} runs at ${node.clockRate.toFixed(3)}`);
      }
      if (options.membership && this.rng.chance(0.01)) this.randomMembershipChange(maxId);
      if (options.transfers && this.rng.chance(0.01)) this.randomTransfer();
      for (let c = 0; c < clientCount; c++) {
        if ((busyUntil.get(c) ?? 0) > this.nowMs || !this.rng.chance(0.3)) continue;
        const targets = this.liveIds();
        if (targets.length === 0) continue;
        const target = this.rng.chance(0.7)
          ? this.leader() ?? this.rng.pick(targets)
          : this.rng.pick(targets);
        const key = this.rng.pick(keys);
        const started = this.rng.chance(0.5)
          ? this.write(target, key, `v${this.nextOpId}`)
          : this.read(target, key);
        if (started) busyUntil.set(c, this.nowMs + 100);
      }
    });
    yield* this.recovery(options.recoveryMs ?? 5000);
  }

  private randomTransfer(): void {
    const leader = this.leader();
    if (leader === undefined) return;
    const raft = this.raft(leader);
    const voters = raft.confState().voters.filter((id) => id !== leader);
    if (voters.length === 0) return;
    try {
      raft.transferLeadership(this.rng.pick(voters));
    } catch {
      return;
    }
    this.processReady(this.node(leader));
  }

  private randomMembershipChange(maxId: number): void {
    const leader = this.leader();
    if (leader === undefined) return;
    const conf = this.raft(leader).confState();
    if (conf.votersOutgoing.length > 0) return;
    const members = new Set([...conf.voters, ...conf.learners]);
    const outside: NodeId[] = [];
    for (let id = 1; id <= maxId; id++) if (!members.has(id)) outside.push(id);
    const roll = this.rng.next();
    let change: ConfChange;
    if (roll < 0.3 && outside.length > 0) {
      change = {
        changes: [{
          type: this.rng.chance(0.5) ? "addLearner" : "addVoter",
          nodeId: this.rng.pick(outside),
        }],
      };
    } else if (roll < 0.5 && conf.learners.length > 0) {
      change = { changes: [{ type: "addVoter", nodeId: this.rng.pick(conf.learners) }] };
    } else if (roll < 0.8 && conf.voters.length > 3) {
      change = { changes: [{ type: "removeNode", nodeId: this.rng.pick(conf.voters) }] };
    } else if (outside.length > 0 && conf.voters.length >= 3) {
      // Joint consensus: swap a voter for a new one in one change.
      change = {
        changes: [
          { type: "addVoter", nodeId: this.rng.pick(outside) },
          { type: "removeNode", nodeId: this.rng.pick(conf.voters) },
        ],
      };
    } else return;
    this.changeMembership(change);
  }

  /** Heals, restarts everyone, turns faults off and requires progress on every voter. */
  recover(recoveryMs: number): void {
    this.requireSync();
    for (const at of this.recovery(recoveryMs)) this.world.runUntil(at);
  }

  private *recovery(recoveryMs: number): Generator<number> {
    this.heal();
    for (const id of this.ids()) this.restart(id);
    this.faulty = false;
    const deadline = this.nowMs + recoveryMs;
    let marker: string | undefined;
    while (this.nowMs < deadline) {
      yield* this.tickTimes(this.nowMs + 50);
      const leader = this.leader();
      if (leader === undefined) continue;
      const raft = this.raft(leader);
      const conf = raft.confState();
      if (conf.votersOutgoing.length > 0) continue;
      if (marker === undefined) {
        marker = `m${this.nextOpId}`;
        if (!this.write(leader, "__progress", marker)) marker = undefined;
        continue;
      }
      const done = conf.voters.every((id) => this.node(id).kv.data.get("__progress") === marker);
      if (done) return;
      if (this.nowMs > deadline - 1000) marker = undefined;
    }
    const states = this.liveIds().map((id) => {
      const s = this.raft(id).status();
      return `${id}:${s.role}/t${s.term}/c${s.commit}/a${s.applied}/l${s.lastIndex}/v[${s.confState.voters}]`;
    });
    this.fail(`no progress after healing: ${states.join(" ")}`);
  }
}

/** Options of `Simulation.runRandom`. */
export interface RandomRunOptions {
  durationMs: number;
  recoveryMs?: number;
  crashes?: boolean;
  partitions?: boolean;
  membership?: boolean;
  transfers?: boolean;
  /** Stops random processes for 20-500 ms (only ReadIndex reads are safe under pauses). */
  pauses?: boolean;
  /** Changes random clocks' rates to within ±20% (only ReadIndex reads are safe then). */
  clockJumps?: boolean;
  clients?: number;
  keys?: number;
}

function emptyKv(): KvState {
  return { data: new Map(), seen: new Set() };
}

function matches(filter: { type: string; from: string; to: string }, m: Message): boolean {
  return (filter.type === "*" || filter.type === m.type) &&
    (filter.from === "*" || Number(filter.from) === m.from) &&
    (filter.to === "*" || Number(filter.to) === m.to);
}

/**
 * Runs a scenario written as a transcript, one step per line (`#` starts a comment):
 *
 *     campaign 1          propose 1 VALUE     crash 2      restart 2
 *     isolate 1 2         heal                block MsgApp 1 *   unblock
 *     stabilize           deliver             drop         tick 5 (delivering)  tick-only 5
 *     expect leader 1     expect role 2 follower     expect term 1 2
 *     expect commit 1 4   expect log-term 3 IDX TERM expect last-index 3 IDX
 *     expect value 2 KEY VALUE   transfer 1 2   add-voter 4   add-learner 4   remove 1
 */
export function runScript(sim: Simulation, script: string): void {
  const lines = script.split("\n").map((line) => line.replace(/#.*/, "").trim()).filter(Boolean);
  for (const line of lines) {
    const [command, ...args] = line.split(/\s+/);
    const n = args.map(Number);
    try {
      runLine(sim, command, args, n);
    } catch (error) {
      throw new SimulationError(`script line '${line}': ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
}

function runLine(sim: Simulation, command: string, args: string[], n: number[]): void {
  switch (command) {
    case "campaign":
      sim.raft(n[0]).campaign();
      sim.processReady(sim.node(n[0]));
      return;
    case "propose":
      if (!sim.write(n[0], "x", args[1])) throw new Error(`node ${n[0]} refused the proposal`);
      return;
    case "crash":
      return sim.crash(n[0]);
    case "restart":
      return sim.restart(n[0]);
    case "isolate":
      return sim.isolate(n);
    case "heal":
      return sim.heal();
    case "block":
      return sim.block(args[0], args[1], args[2]);
    case "unblock":
      return sim.unblock();
    case "stabilize":
      return sim.stabilize();
    case "deliver":
      return sim.deliverRound();
    case "drop":
      return sim.dropInFlight();
    case "tick":
      for (let i = 0; i < n[0]; i++) {
        sim.tickAll();
        sim.stabilize();
      }
      return;
    case "tick-only":
      for (let i = 0; i < n[0]; i++) sim.tickAll();
      return;
    case "transfer":
      sim.raft(n[0]).transferLeadership(n[1]);
      sim.processReady(sim.node(n[0]));
      return;
    case "add-voter":
    case "add-learner":
    case "remove": {
      const type = command === "remove"
        ? "removeNode"
        : command === "add-voter"
        ? "addVoter"
        : "addLearner";
      if (!sim.changeMembership({ changes: n.map((nodeId) => ({ type, nodeId })) })) {
        throw new Error("the leader refused the membership change");
      }
      return;
    }
    case "expect":
      return expectLine(sim, args[0], args.slice(1));
  }
  throw new Error(`unknown step '${command}'`);
}

function expectLine(sim: Simulation, what: string, args: string[]): void {
  const n = args.map(Number);
  let actual: unknown;
  let expected: unknown;
  switch (what) {
    case "leader":
      [actual, expected] = [sim.leader(), n[0]];
      break;
    case "role":
      [actual, expected] = [sim.raft(n[0]).role, args[1]];
      break;
    case "term":
      [actual, expected] = [sim.raft(n[0]).currentTerm, n[1]];
      break;
    case "commit":
      [actual, expected] = [sim.raft(n[0]).log.committed, n[1]];
      break;
    case "log-term":
      [actual, expected] = [sim.raft(n[0]).log.term(n[1]), n[2]];
      break;
    case "last-index":
      [actual, expected] = [sim.raft(n[0]).log.lastIndex(), n[1]];
      break;
    case "value":
      [actual, expected] = [sim.node(n[0]).kv.data.get(args[1]), args[2]];
      break;
    case "voters":
      [actual, expected] = [sim.raft(n[0]).confState().voters.sort().join(","), args[1]];
      break;
    case "snapshot-index":
      [actual, expected] = [sim.node(n[0]).storage.snapshot().metadata.index >= n[1], true];
      break;
    default:
      throw new Error(`unknown expectation '${what}'`);
  }
  if (actual !== expected) throw new Error(`expected ${what} ${args.join(" ")}: got ${actual}`);
}

/** The seed to replay (`RAFT_SEED=N`), or undefined. */
export function replaySeed(): number | undefined {
  const value = process.env.RAFT_SEED;
  return value === undefined ? undefined : Number(value);
}

/** Runs `body` for each seed; the first failure names the seed and how to replay it. */
export function forSeeds(
  count: number,
  first: number,
  body: (seed: number) => void,
  file: string,
): number {
  const only = replaySeed();
  const seeds = only !== undefined ? [only] : Array.from({ length: count }, (_, i) => first + i);
  for (const seed of seeds) {
    try {
      body(seed);
    } catch (error) {
      throw replayError(seed, error, file);
    }
  }
  return seeds.length;
}

/** `forSeeds` for a body that awaits (the "tcp" network). */
export async function forSeedsAsync(
  count: number,
  first: number,
  body: (seed: number) => Promise<void>,
  file: string,
): Promise<number> {
  const only = replaySeed();
  const seeds = only !== undefined ? [only] : Array.from({ length: count }, (_, i) => first + i);
  for (const seed of seeds) {
    try {
      await body(seed);
    } catch (error) {
      throw replayError(seed, error, file);
    }
  }
  return seeds.length;
}

function replayError(seed: number, error: unknown, file: string): Error {
  const message = error instanceof Error ? error.message : String(error);
  return new Error(
    `seed=${seed} failed: ${message}\nreplay: RAFT_SEED=${seed} deno test -A ${file}`,
    { cause: error },
  );
}
