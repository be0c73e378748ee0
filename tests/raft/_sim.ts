/**
 * A deterministic simulation of a Raft cluster in one process: seeded randomness, a simulated
 * clock, a network that drops, delays, duplicates, reorders and partitions messages, nodes that
 * crash (losing everything not persisted) and restart, and a replicated key-value store with
 * clients whose histories feed the linearizability checker. Safety invariants are checked after
 * every event; a failure throws a `SimulationError` naming the seed.
 */
import { MemoryStorage } from "../../src/raft/memory_storage.ts";
import { type RaftConfig, RaftNode, type ReadOnlyOption } from "../../src/raft/node.ts";
import { decodeConfChange } from "../../src/raft/confchange.ts";
import { isLeaderStreamMessage } from "../../src/raft/types.ts";
import type {
  ConfChange,
  ConfState,
  Entry,
  Message,
  NodeId,
  Ready,
  Snapshot,
} from "../../src/raft/types.ts";
import type { Operation } from "./_linearizability.ts";
import process from "node:process";

/** sfc32: small, fast and good enough to drive a simulation reproducibly. */
export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 15; i++) this.next();
  }
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return (t >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
}

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

interface PendingRead {
  context: string;
  key: string;
  op: Operation;
  index?: number;
}

interface SimNode {
  id: NodeId;
  storage: MemoryStorage;
  raft: RaftNode | null;
  kv: KvState;
  applied: number;
  conf: ConfState;
  reads: PendingRead[];
  /** Bumped by every crash, so that a write of the previous life never lands. */
  incarnation: number;
  writing: boolean;
  /** Ticks per real tick (1 = a perfect clock) and the fraction accumulated so far. */
  clockRate: number;
  clock: number;
}

interface InFlight {
  at: number;
  seq: number;
  /** A message to deliver, or a disk write of a node's `Ready` completing. */
  message?: Message;
  disk?: { node: SimNode; rd: Ready; incarnation: number };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function encodeKv(kv: KvState): Uint8Array {
  return encoder.encode(JSON.stringify({ d: [...kv.data], s: [...kv.seen] }));
}

function decodeKv(data: Uint8Array): KvState {
  if (data.length === 0) return { data: new Map(), seen: new Set() };
  const raw = JSON.parse(decoder.decode(data)) as { d: [string, string][]; s: number[] };
  return { data: new Map(raw.d), seen: new Set(raw.s) };
}

function dataKey(entry: Entry): string {
  return entry.type + ":" + decoder.decode(entry.data);
}

/** A binary min-heap of in-flight messages by delivery time, then send order. */
class Heap {
  private items: InFlight[] = [];
  get size(): number {
    return this.items.length;
  }
  peek(): InFlight | undefined {
    return this.items[0];
  }
  private less(i: number, j: number): boolean {
    const a = this.items[i];
    const b = this.items[j];
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }
  push(item: InFlight): void {
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) break;
      [items[i], items[parent]] = [items[parent], items[i]];
      i = parent;
    }
  }
  pop(): InFlight | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < items.length && this.less(l, m)) m = l;
        if (r < items.length && this.less(r, m)) m = r;
        if (m === i) break;
        [items[i], items[m]] = [items[m], items[i]];
        i = m;
      }
    }
    return top;
  }
  clear(): void {
    this.items = [];
  }
}

/** A simulated cluster. Drive it with `runRandom` or step by step from a scenario script. */
export class Simulation {
  readonly rng: Prng;
  readonly opts: Required<SimOptions>;
  readonly nodes = new Map<NodeId, SimNode>();
  nowMs = 0;
  private nextTickMs = 0;
  private network = new Heap();
  private seq = 0;
  /** Pairs "a>b" whose messages are cut. */
  private cut = new Set<string>();
  /** Scripted filters: messages matching one are dropped on delivery. */
  private blocked: { type: string; from: string; to: string }[] = [];
  eventCount = 0;
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
  };
  /** Faults on: drops, duplicates and delays apply only while true. */
  faulty = true;

  // Invariant bookkeeping.
  private leaderOfTerm = new Map<number, NodeId>();
  private entryAt = new Map<string, { data: string; prevTerm: number | undefined }>();
  private appliedAt = new Map<number, string>();
  private commitTerm = new Map<number, { commitTerm: number; entryTerm: number }>();
  private leaderSeenCommit = new Map<string, number>();

  // Clients.
  readonly history: Operation[] = [];
  private nextOpId = 1;
  private pendingWrites = new Map<number, Operation>();

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
      ...options,
    };
    this.rng = new Prng(options.seed);
    const voters = Array.from({ length: this.opts.voterCount }, (_, i) => i + 1);
    const bootstrapData = encodeKv({ data: new Map(), seen: new Set() });
    for (const id of voters) {
      this.addNode(id, MemoryStorage.bootstrap(voters, bootstrapData));
    }
  }

  fail(message: string): never {
    throw new SimulationError(`seed=${this.opts.seed} t=${this.nowMs}ms: ${message}`);
  }

  private addNode(id: NodeId, storage: MemoryStorage): void {
    const node: SimNode = {
      id,
      storage,
      raft: null,
      kv: { data: new Map(), seen: new Set() },
      applied: 0,
      conf: storage.initialState().confState,
      reads: [],
      incarnation: 0,
      writing: false,
      clockRate: 1 + (this.rng.next() * 2 - 1) * this.opts.clockDriftRate,
      clock: 0,
    };
    this.nodes.set(id, node);
    this.start(node);
  }

  private start(node: SimNode): void {
    const snapshot = node.storage.snapshot();
    node.kv = decodeKv(snapshot.data);
    node.applied = snapshot.metadata.index;
    node.conf = node.storage.initialState().confState;
    node.reads = [];
    node.raft = new RaftNode({
      id: node.id,
      storage: node.storage,
      random: () => this.rng.next(),
      readOnly: this.opts.readOnly,
      snapshotChunkBytes: this.opts.snapshotChunkBytes,
      maxInflightCount: this.opts.maxInflightCount,
      maxMsgSizeBytes: 512,
      ...this.opts.raft,
    });
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
    return this.ids().filter((id) => this.nodes.get(id)!.raft !== null);
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

  crash(id: NodeId): void {
    const node = this.node(id);
    node.raft = null;
    node.reads = [];
    node.incarnation++;
    node.writing = false;
    this.stats.crashes++;
    this.trace(`crash ${id}`);
  }

  restart(id: NodeId): void {
    const node = this.node(id);
    if (node.raft) return;
    this.stats.restarts++;
    this.trace(`restart ${id}`);
    this.start(node);
  }

  /** Cuts every link between `group` and the other nodes. */
  isolate(group: NodeId[]): void {
    this.stats.partitions++;
    this.trace(`isolate ${group.join(",")}`);
    for (const a of group) {
      for (const b of this.ids()) {
        if (group.includes(b)) continue;
        this.cut.add(`${a}>${b}`);
        this.cut.add(`${b}>${a}`);
      }
    }
  }

  cutLink(from: NodeId, to: NodeId): void {
    this.cut.add(`${from}>${to}`);
  }

  heal(): void {
    this.cut.clear();
  }

  // ---- network and time ----------------------------------------------------------------------

  private send(message: Message): void {
    this.stats.messages++;
    if (this.faulty && this.rng.chance(this.opts.dropRate)) return;
    const copies = this.faulty && this.rng.chance(this.opts.duplicateRate) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const delay = this.faulty
        ? this.opts.minDelayMs + this.rng.int(this.opts.maxDelayMs - this.opts.minDelayMs + 1)
        : this.opts.minDelayMs;
      this.network.push({ at: this.nowMs + delay, seq: this.seq++, message });
    }
  }

  private dispatch(item: InFlight): void {
    if (item.message) this.deliver(item.message);
    else if (item.disk) this.finishWrite(item.disk.node, item.disk.rd, item.disk.incarnation);
  }

  private deliver(message: Message): void {
    if (this.cut.has(`${message.from}>${message.to}`)) return;
    if (this.blocked.some((b) => matches(b, message))) return;
    const node = this.nodes.get(message.to);
    if (!node?.raft) return;
    if (this.tracing) {
      const m = message;
      this.trace(
        `${m.type} ${m.from}->${m.to} t${m.term} i${m.index} lt${m.logTerm} c${m.commit} n${m.entries.length}` +
          (m.reject ? " reject" : ""),
      );
    }
    node.raft.step(message);
    this.processReady(node);
  }

  /** Set `RAFT_TRACE=1` (with `RAFT_SEED=N`) to print every event of a replayed run. */
  private readonly tracing = process.env.RAFT_TRACE === "1";

  private trace(line: string): void {
    if (this.tracing) console.log(`[${this.nowMs}ms] ${line}`);
  }

  /** Runs every event up to `untilMs`. */
  runUntil(untilMs: number, onTick?: () => void): void {
    for (;;) {
      const next = this.network.peek();
      if (next && next.at < this.nextTickMs && next.at <= untilMs) {
        this.network.pop();
        this.nowMs = Math.max(this.nowMs, next.at);
        this.dispatch(next);
      } else if (this.nextTickMs <= untilMs) {
        this.nowMs = this.nextTickMs;
        this.nextTickMs += this.opts.tickMs;
        this.tickAll();
        onTick?.();
      } else {
        this.nowMs = untilMs;
        return;
      }
      this.eventCount++;
      this.checkLeaders();
    }
  }

  tickAll(): void {
    for (const id of this.liveIds()) {
      const node = this.nodes.get(id)!;
      // A drifting clock ticks a little faster or slower than real time.
      node.clock += node.clockRate;
      while (node.clock >= 1 && node.raft) {
        node.clock -= 1;
        node.raft.tick();
        this.processReady(node);
      }
    }
  }

  /** Delivers every message in flight (and those they cause) without advancing ticks. */
  stabilize(maxEvents = 100_000): void {
    for (let i = 0; this.network.size > 0; i++) {
      if (i > maxEvents) this.fail("the network did not settle");
      const next = this.network.pop()!;
      this.nowMs = Math.max(this.nowMs, next.at);
      this.dispatch(next);
      this.checkLeaders();
    }
  }

  dropInFlight(): void {
    this.network.clear();
  }

  /** Delivers the messages in flight now; the ones they cause wait for the next round. */
  deliverRound(): void {
    const round: InFlight[] = [];
    while (this.network.size > 0) round.push(this.network.pop()!);
    for (const item of round) {
      this.nowMs = Math.max(this.nowMs, item.at);
      this.dispatch(item);
      this.checkLeaders();
    }
  }

  /** Drops messages of `type` from `from` to `to` ("*" matches anything) until `unblock()`. */
  block(type: string, from: string, to: string): void {
    this.blocked.push({ type, from, to });
  }

  unblock(): void {
    this.blocked = [];
  }

  // ---- the driver loop of one node -----------------------------------------------------------

  /**
   * The driver loop of one node. With `diskDelayMs`, the write of a `Ready` takes simulated time
   * during which the node keeps stepping messages (as the real driver does while it awaits an
   * fsync) and a crash loses the write.
   */
  processReady(node: SimNode): void {
    const raft = node.raft;
    if (!raft || node.writing || !raft.hasReady()) return;
    const rd = raft.ready();
    if (raft.role === "leader") {
      // As the driver does: a leader streams appends before its own write completes.
      for (const m of rd.messages) if (isLeaderStreamMessage(m)) this.send(m);
      rd.messages = rd.messages.filter((m) => !isLeaderStreamMessage(m));
    }
    // Most writes are quick; some stall (a slow fsync) for longer than a network round trip.
    const delayMs = !this.faulty
      ? 0
      : this.rng.chance(0.1)
      ? this.rng.int(this.opts.slowDiskDelayMs + 1)
      : this.rng.int(this.opts.diskDelayMs + 1);
    if (delayMs === 0) {
      this.finishWrite(node, rd, node.incarnation);
      return;
    }
    node.writing = true;
    this.network.push({
      at: this.nowMs + delayMs,
      seq: this.seq++,
      disk: { node, rd, incarnation: node.incarnation },
    });
  }

  private finishWrite(node: SimNode, rd: Ready, incarnation: number): void {
    // A crash while the write was under way lost it.
    if (node.incarnation !== incarnation || !node.raft) return;
    node.writing = false;
    const raft = node.raft;
    // 1. Persist: snapshot, entries, hard state.
    if (rd.snapshot) node.storage.applySnapshot(rd.snapshot);
    node.storage.append(rd.entries);
    if (rd.hardState) node.storage.setHardState(rd.hardState);
    this.checkPersistedEntries(node, rd.entries);
    // 2. Send.
    for (const m of rd.messages) this.send(m);
    // 3. Apply.
    if (rd.snapshot) this.applySnapshot(node, rd.snapshot);
    for (const entry of rd.committedEntries) this.applyEntry(node, entry);
    for (const rs of rd.readStates) {
      const read = node.reads.find((r) => r.context === decoder.decode(rs.context));
      if (read) read.index = rs.index;
    }
    raft.advance();
    this.serveReads(node);
    this.maybeSnapshot(node);
    this.processReady(node);
  }

  private applySnapshot(node: SimNode, snapshot: Snapshot): void {
    node.kv = decodeKv(snapshot.data);
    node.applied = snapshot.metadata.index;
    node.conf = snapshot.metadata.confState;
    this.stats.snapshotsRestored++;
  }

  private applyEntry(node: SimNode, entry: Entry): void {
    if (entry.index !== node.applied + 1) {
      this.fail(`node ${node.id} applies ${entry.index} after ${node.applied}`);
    }
    const key = `${entry.term}|${dataKey(entry)}`;
    const previous = this.appliedAt.get(entry.index);
    if (previous === undefined) this.appliedAt.set(entry.index, key);
    else if (previous !== key) {
      this.fail(
        `state machine safety: node ${node.id} applies ${key} at ${entry.index}, another applied ${previous}`,
      );
    }
    node.applied = entry.index;
    if (entry.type === "confChange") {
      node.conf = node.raft!.applyConfChange(decodeConfChange(entry.data));
      this.stats.confChangesApplied++;
      return;
    }
    if (entry.data.length === 0) return;
    const command = JSON.parse(decoder.decode(entry.data)) as KvCommand;
    if (!node.kv.seen.has(command.id)) {
      node.kv.seen.add(command.id);
      node.kv.data.set(command.key, command.value);
      this.stats.writesApplied++;
    }
    const op = this.pendingWrites.get(command.id);
    if (op && op.target === node.id) {
      op.returnMs = this.nowMs;
      this.pendingWrites.delete(command.id);
    }
  }

  private maybeSnapshot(node: SimNode): void {
    const snapshotIndex = node.storage.snapshot().metadata.index;
    if (node.applied - snapshotIndex < this.opts.snapshotEveryEntries) return;
    node.storage.createSnapshot(node.applied, node.conf, encodeKv(node.kv));
    // Keep a few entries so that slightly lagging followers still get appends.
    node.storage.compact(Math.max(snapshotIndex, node.applied - 5));
  }

  private serveReads(node: SimNode): void {
    if (node.reads.length === 0) return;
    node.reads = node.reads.filter((read) => {
      if (read.index === undefined || read.index > node.applied) return true;
      read.op.output = node.kv.data.get(read.key) ?? null;
      read.op.returnMs = this.nowMs;
      this.stats.readsServed++;
      return false;
    });
  }

  // ---- invariants ----------------------------------------------------------------------------

  /** Log matching: an (index, term) pair always names the same entry after the same term. */
  private checkPersistedEntries(node: SimNode, entries: Entry[]): void {
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

  /** Election safety and leader completeness, after every event. */
  private checkLeaders(): void {
    for (const node of this.nodes.values()) {
      const raft = node.raft;
      if (!raft || raft.role !== "leader") continue;
      const term = raft.currentTerm;
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
      for (let i = seen + 1; i <= raft.log.committed; i++) {
        if (this.commitTerm.has(i)) continue;
        const entryTerm = raft.log.term(i);
        if (entryTerm === undefined) continue;
        this.commitTerm.set(i, { commitTerm: term, entryTerm });
        this.checkNewCommitInLeaders(i, term, entryTerm);
      }
      this.leaderSeenCommit.set(key, Math.max(seen, raft.log.committed));
    }
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
    const raft = this.nodes.get(target)?.raft;
    if (!raft) return false;
    const id = this.nextOpId++;
    try {
      raft.propose(encoder.encode(JSON.stringify({ id, key, value } satisfies KvCommand)));
    } catch {
      return false;
    }
    const op: Operation = {
      id,
      kind: "put",
      key,
      input: value,
      callMs: this.nowMs,
      returnMs: Infinity,
      target,
    };
    this.history.push(op);
    this.pendingWrites.set(id, op);
    this.processReady(this.nodes.get(target)!);
    return true;
  }

  /** Starts a read of `key` at node `target`, served as `readMode` says. */
  read(target: NodeId, key: string): boolean {
    const node = this.nodes.get(target);
    if (!node?.raft) return false;
    const id = this.nextOpId++;
    const op: Operation = { id, kind: "get", key, callMs: this.nowMs, returnMs: Infinity, target };
    if (this.opts.readMode === "brokenLocal") {
      // Deliberately wrong: a node that believes it leads answers from its own state.
      if (node.raft.role !== "leader") return false;
      op.output = node.kv.data.get(key) ?? null;
      op.returnMs = this.nowMs;
      this.history.push(op);
      return true;
    }
    const context = `r${id}`;
    try {
      node.raft.readIndex(encoder.encode(context));
    } catch {
      return false;
    }
    this.history.push(op);
    node.reads.push({ context, key, op });
    this.processReady(node);
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
  runRandom(options: {
    durationMs: number;
    recoveryMs?: number;
    crashes?: boolean;
    partitions?: boolean;
    membership?: boolean;
    transfers?: boolean;
    clients?: number;
    keys?: number;
  }): void {
    const keys = Array.from({ length: options.keys ?? 3 }, (_, i) => `k${i}`);
    const clientCount = options.clients ?? 3;
    const busyUntil = new Map<number, number>();
    const maxId = this.opts.voterCount + this.opts.spareCount;
    this.runUntil(options.durationMs, () => {
      const live = this.liveIds();
      if (options.crashes && live.length > 0 && this.rng.chance(0.01)) {
        this.crash(this.rng.pick(live));
      }
      const down = this.ids().filter((id) => !this.nodes.get(id)!.raft);
      if (down.length > 0 && this.rng.chance(0.03)) this.restart(this.rng.pick(down));
      if (options.partitions && this.rng.chance(0.01)) {
        this.heal();
        const ids = this.ids();
        this.isolate(ids.filter(() => this.rng.chance(0.4)));
      }
      if (this.rng.chance(0.02)) this.heal();
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
    this.recover(options.recoveryMs ?? 5000);
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
    this.heal();
    for (const id of this.ids()) this.restart(id);
    this.faulty = false;
    const deadline = this.nowMs + recoveryMs;
    let marker: string | undefined;
    while (this.nowMs < deadline) {
      this.runUntil(this.nowMs + 50);
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
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(
        `seed=${seed} failed: ${message}\nreplay: RAFT_SEED=${seed} deno test -A ${file}`,
        {
          cause: error,
        },
      );
    }
  }
  return seeds.length;
}
