/**
 * The driver: runs a {@linkcode RaftNode} with real time, durable storage, a transport and the
 * application's state machine, following the `Ready` ordering (persist, then send, then apply).
 * Proposals, reads and membership changes return promises that settle when they take effect.
 *
 * @module
 */
import { decodeConfChange } from "./confchange.ts";
import { type RaftConfig, RaftNode } from "./node.ts";
import type {
  ConfChange,
  ConfState,
  Entry,
  Message,
  NodeId,
  Ready,
  Snapshot,
  Storage,
} from "./types.ts";
import { isLeaderStreamMessage, NONE, ProposalDroppedError } from "./types.ts";
import type { StorageUpdate } from "./storage.ts";

/** The replicated application. */
export interface StateMachine {
  /** Applies one committed command; the result goes back to the proposer on this node. */
  apply(data: Uint8Array, index: number): unknown;
  /** The whole state, for a snapshot. */
  snapshot(): Uint8Array;
  /** Replaces the state with a snapshot's. */
  restore(data: Uint8Array): void;
}

/** What the driver needs from storage: reads for the core, durable writes for it. */
export interface DriverStorage extends Storage {
  /** Persists a `Ready`'s snapshot, entries and hard state; resolves once durable. */
  save(update: StorageUpdate): Promise<void>;
  /** Records the application's snapshot at `index`. */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Promise<Snapshot>;
  /** Drops entries up to `index`, which a snapshot covers. */
  compact(index: number): Promise<void>;
}

/** Options of {@linkcode RaftDriver}. */
export interface DriverOptions {
  /** The core's settings (storage and applied index come from `storage`). */
  raft: Omit<RaftConfig, "storage" | "appliedIndex">;
  /** Durable storage, such as `DurableStorage`. */
  storage: DriverStorage;
  /** The application. */
  stateMachine: StateMachine;
  /** Sends the messages of a `Ready` (after they are durable). */
  send(messages: Message[]): void;
  /** Interval between `tick()` calls. @default 10 */
  tickMs?: number;
  /** Applied entries between two snapshots. @default 10000 */
  snapshotEveryEntries?: number;
  /** Entries kept behind a snapshot so that slow followers need no snapshot. @default 1000 */
  compactionLagEntries?: number;
  /** How long a proposal or read may wait before it fails. @default 5000 */
  requestTimeoutMs?: number;
  /** Proposals waiting at once on this node. @default 100000 */
  maxPendingCount?: number;
  /** Told of leader and role changes. */
  onLeaderChange?(leaderId: NodeId, role: string): void;
}

interface Waiter {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

const HEADER_BYTES = 12;

/**
 * Runs one Raft member.
 *
 * @example
 * ```ts ignore
 * const driver = new RaftDriver({ raft: { id: 1 }, storage, stateMachine, send: (m) => transport.send(m) });
 * driver.start();
 * await driver.propose(new TextEncoder().encode("set x 1"));
 * await driver.read(); // linearizable: the state machine is now up to date
 * ```
 */
export class RaftDriver {
  /** The core, for status and direct calls. */
  readonly node: RaftNode;
  private readonly options: DriverOptions;
  private readonly tickMs: number;
  private timer: ReturnType<typeof setInterval> | undefined;
  private processing = false;
  private again = false;
  private stopped = false;
  private nextSeq = 1;
  private readonly proposals = new Map<number, Waiter>();
  private readonly reads = new Map<string, Waiter & { index?: number }>();
  private confState: ConfState;
  private applied: number;
  private snapshotIndex: number;
  private leaderId: NodeId = NONE;
  /** Distinguishes this process's proposals from an earlier incarnation's. */
  private readonly incarnation = Math.floor(Math.random() * 0xffffffff);
  /** Set when storage failed: the node stopped and must be restarted. */
  failure: Error | undefined;

  /** Restores the state machine from the storage's snapshot and creates the core. */
  constructor(options: DriverOptions) {
    this.options = options;
    this.tickMs = options.tickMs ?? 10;
    const snapshot = options.storage.snapshot();
    if (snapshot.data.length > 0 || snapshot.metadata.index > 0) {
      options.stateMachine.restore(snapshot.data);
    }
    this.applied = snapshot.metadata.index;
    this.snapshotIndex = snapshot.metadata.index;
    this.confState = snapshot.metadata.confState;
    this.node = new RaftNode({
      ...options.raft,
      storage: options.storage,
      appliedIndex: this.applied,
    });
  }

  /** Starts ticking. */
  start(): void {
    this.timer = setInterval(() => {
      this.node.tick();
      this.process();
    }, this.tickMs);
  }

  /** Stops ticking and fails whatever is waiting. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    const error = new Error("Raft node stopped");
    for (const waiter of [...this.proposals.values(), ...this.reads.values()]) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
    this.proposals.clear();
    this.reads.clear();
  }

  /** Feeds a message from the transport. */
  receive(message: Message): void {
    if (this.stopped) return;
    this.node.step(message);
    this.process();
  }

  /** The leader this node knows of, or NONE. */
  get leader(): NodeId {
    return this.leaderId;
  }

  /**
   * Replicates `data` and resolves with the state machine's result once it is applied here.
   * Rejects with {@linkcode ProposalDroppedError} (carrying the leader's id) when not taken.
   */
  propose(data: Uint8Array): Promise<unknown> {
    const seq = this.nextSeq++;
    const framed = new Uint8Array(HEADER_BYTES + data.length);
    const view = new DataView(framed.buffer);
    view.setUint32(0, this.node.id);
    view.setUint32(4, this.incarnation);
    view.setUint32(8, seq);
    framed.set(data, HEADER_BYTES);
    return this.wait(this.proposals, seq, () => this.queueProposal(seq, framed));
  }

  private proposeQueue: { seq: number; data: Uint8Array }[] = [];

  /**
   * Proposals go to the core in batches: those made in one turn, or while a write is under way
   * (group commit), become one append per follower.
   */
  private queueProposal(seq: number, data: Uint8Array): void {
    this.proposeQueue.push({ seq, data });
    if (this.processing || this.proposeQueue.length > 1) return;
    queueMicrotask(() => {
      this.flushProposals();
      this.process();
    });
  }

  private flushProposals(): void {
    if (this.proposeQueue.length === 0) return;
    const batch = this.proposeQueue;
    this.proposeQueue = [];
    try {
      this.node.proposeBatch(batch.map((p) => p.data));
    } catch (error) {
      for (const p of batch) this.fail(this.proposals, p.seq, error as Error);
    }
  }

  private fail<K>(map: Map<K, Waiter>, key: K, error: Error): void {
    const waiter = map.get(key);
    if (!waiter) return;
    map.delete(key);
    clearTimeout(waiter.timer);
    waiter.reject(error);
  }

  /**
   * Resolves once this node's state machine reflects every write committed before the call
   * (ReadIndex, or the leader lease). Reads made in the same turn share one request.
   */
  read(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.readBatch) {
        this.readBatch.push({ resolve, reject });
        return;
      }
      const batch = [{ resolve, reject }];
      this.readBatch = batch;
      queueMicrotask(() => {
        this.readBatch = undefined;
        const context = `${this.incarnation}:${this.nextSeq++}`;
        this.wait(this.reads, context, () => this.node.readIndex(new TextEncoder().encode(context)))
          .then(
            () => batch.forEach((w) => w.resolve()),
            (error: Error) => batch.forEach((w) => w.reject(error)),
          );
      });
    });
  }

  private readBatch: { resolve(): void; reject(error: Error): void }[] | undefined;

  /** Proposes a membership change; resolves with the new membership once applied here. */
  changeMembership(change: ConfChange): Promise<ConfState> {
    const key = -this.nextSeq++;
    return this.wait(this.proposals, key, () => {
      this.node.proposeConfChange(change);
      this.pendingConfChange = key;
    }).then(() => this.confState);
  }

  private pendingConfChange = 0;

  /** Asks the leader to hand leadership to `to`. */
  transferLeadership(to: NodeId): void {
    this.node.transferLeadership(to);
    this.process();
  }

  private wait<K>(map: Map<K, Waiter>, key: K, start: () => void): Promise<unknown> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.proposals.size + this.reads.size >= (this.options.maxPendingCount ?? 100_000)) {
      return Promise.reject(
        new ProposalDroppedError("too many requests are waiting", this.leaderId),
      );
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        map.delete(key);
        reject(
          new Error(`Raft request timed out after ${this.options.requestTimeoutMs ?? 5000} ms`),
        );
      }, this.options.requestTimeoutMs ?? 5000);
      map.set(key, { resolve, reject, timer });
      try {
        start();
      } catch (error) {
        clearTimeout(timer);
        map.delete(key);
        reject(error);
        return;
      }
      this.process();
    });
  }

  private settle<K>(map: Map<K, Waiter>, key: K, value: unknown): void {
    const waiter = map.get(key);
    if (!waiter) return;
    map.delete(key);
    clearTimeout(waiter.timer);
    waiter.resolve(value);
  }

  /** Handles every `Ready`, one at a time; calls made meanwhile are picked up after. */
  private process(): void {
    if (this.processing) {
      this.again = true;
      return;
    }
    if (!this.node.hasReady() || this.stopped) return;
    this.processing = true;
    this.loop().catch((error: Error) => {
      // Storage failed: the node must not go on (its promises would be broken).
      this.failure = error;
      this.stop();
    });
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.again = false;
        this.flushProposals();
        while (this.node.hasReady() && !this.stopped) {
          await this.handle(this.node.ready());
          this.flushProposals();
        }
      } while (this.again && !this.stopped);
    } finally {
      this.processing = false;
    }
    // Proposals queued during the last write, if the loop ended before picking them up.
    if (this.proposeQueue.length > 0 && !this.stopped) {
      this.flushProposals();
      this.process();
    }
  }

  private async handle(rd: Ready): Promise<void> {
    if (rd.softState && rd.softState.leaderId !== this.leaderId) {
      this.leaderId = rd.softState.leaderId;
      this.options.onLeaderChange?.(this.leaderId, rd.softState.role);
    }
    let messages = rd.messages;
    if (this.node.role === "leader") {
      // The leader streams appends while its own write is under way (thesis section 10.2.1).
      this.options.send(messages.filter(isLeaderStreamMessage));
      messages = messages.filter((m) => !isLeaderStreamMessage(m));
    }
    if (rd.snapshot || rd.entries.length > 0 || rd.hardState) {
      await this.options.storage.save({
        snapshot: rd.snapshot,
        entries: rd.entries,
        hardState: rd.hardState,
        mustSync: rd.mustSync,
      });
    }
    this.options.send(messages);
    if (rd.snapshot) {
      this.options.stateMachine.restore(rd.snapshot.data);
      this.applied = rd.snapshot.metadata.index;
      this.snapshotIndex = rd.snapshot.metadata.index;
      this.confState = rd.snapshot.metadata.confState;
    }
    for (const entry of rd.committedEntries) this.apply(entry);
    for (const rs of rd.readStates) {
      const waiter = this.reads.get(new TextDecoder().decode(rs.context));
      if (waiter) waiter.index = rs.index;
    }
    this.node.advance();
    this.serveReads();
    await this.maybeSnapshot();
  }

  private apply(entry: Entry): void {
    this.applied = entry.index;
    if (entry.type === "confChange") {
      this.confState = this.node.applyConfChange(decodeConfChange(entry.data));
      if (this.pendingConfChange !== 0) {
        this.settle(this.proposals, this.pendingConfChange, this.confState);
        this.pendingConfChange = 0;
      }
      return;
    }
    if (entry.data.length < HEADER_BYTES) return;
    const view = new DataView(entry.data.buffer, entry.data.byteOffset, entry.data.byteLength);
    const result = this.options.stateMachine.apply(entry.data.subarray(HEADER_BYTES), entry.index);
    if (view.getUint32(0) === this.node.id && view.getUint32(4) === this.incarnation) {
      this.settle(this.proposals, view.getUint32(8), result);
    }
  }

  private serveReads(): void {
    for (const [key, waiter] of this.reads) {
      if (waiter.index !== undefined && waiter.index <= this.applied) {
        this.settle(this.reads, key, undefined);
      }
    }
  }

  private async maybeSnapshot(): Promise<void> {
    const every = this.options.snapshotEveryEntries ?? 10_000;
    if (this.applied - this.snapshotIndex < every) return;
    const index = this.applied;
    const data = this.options.stateMachine.snapshot();
    await this.options.storage.createSnapshot(index, this.confState, data);
    this.snapshotIndex = index;
    const lag = this.options.compactionLagEntries ?? 1000;
    const compactTo = Math.min(index, this.applied - lag);
    if (compactTo > this.options.storage.firstIndex()) {
      await this.options.storage.compact(compactTo);
    }
  }
}
