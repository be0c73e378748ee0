/**
 * The driver: runs a {@linkcode RaftNode} with time, durable storage, a transport and the
 * application's state machine, following the `Ready` ordering (persist, then send, then apply).
 * Proposals, reads and membership changes return promises that settle when they take effect (or
 * take a callback, for callers on a synchronous event loop).
 *
 * Its timers and randomness come from the runtime interface, and it goes on synchronously for as
 * long as storage completes synchronously, so a simulated runtime and storage run this very driver
 * deterministically, one event at a time.
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
import type { Runtime, TimerHandle } from "../runtime/types.ts";
import { systemScheduling } from "../runtime/system.ts";

/** The replicated application. */
export interface StateMachine {
  /** Applies one committed command; the result goes back to the proposer on this node. */
  apply(data: Uint8Array, index: number): unknown;
  /** The whole state, for a snapshot. */
  snapshot(): Uint8Array;
  /** Replaces the state with a snapshot's. */
  restore(data: Uint8Array): void;
}

/**
 * What the driver needs from storage: reads for the core, durable writes for it. A write may
 * complete at once (returning nothing) or later (returning a promise, or any then-able).
 */
export interface DriverStorage extends Storage {
  /** Persists a `Ready`'s snapshot, entries and hard state; completes once durable. */
  save(update: StorageUpdate): PromiseLike<void> | void;
  /** Records the application's snapshot at `index`. */
  createSnapshot(
    index: number,
    confState: ConfState,
    data: Uint8Array,
  ): PromiseLike<Snapshot> | Snapshot;
  /** Drops entries up to `index`, which a snapshot covers. */
  compact(index: number): PromiseLike<void> | void;
}

/** Called once when a request settles: with an error, or with its result. */
export type RequestCallback = (error: Error | undefined, result?: unknown) => void;

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
  /**
   * Told of each committed entry as it is applied, in log order, before the state machine sees
   * it: membership changes and empty entries included. For tracing, metrics and checks.
   */
  onApply?(entry: Entry): void;
  /**
   * Timers (ticks, request timeouts, batching) and randomness (the incarnation, the election
   * timeouts unless `raft.random` is given). @default the system's
   */
  runtime?: Pick<Runtime, "timers" | "random">;
}

interface Waiter {
  done: RequestCallback;
  timer: TimerHandle;
}

const HEADER_BYTES = 12;
/** One of each for read contexts: constructing them costs more than the read. */
const encoder = new TextEncoder();
const decoder = new TextDecoder();

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
  private readonly runtime: Pick<Runtime, "timers" | "random">;
  private timer: TimerHandle | undefined;
  private processing = false;
  private stopped = false;
  private nextSeq = 1;
  private readonly proposals = new Map<number, Waiter>();
  private readonly reads = new Map<string, Waiter & { index?: number }>();
  private confState: ConfState;
  private applied: number;
  private snapshotIndex: number;
  private leaderId: NodeId = NONE;
  /** Distinguishes this process's proposals from an earlier incarnation's. */
  private readonly incarnation: number;
  /** Set when storage failed: the node stopped and must be restarted. */
  failure: Error | undefined;

  /** Restores the state machine from the storage's snapshot and creates the core. */
  constructor(options: DriverOptions) {
    this.options = options;
    this.tickMs = options.tickMs ?? 10;
    const runtime = options.runtime ?? systemScheduling;
    this.runtime = runtime;
    this.incarnation = Math.floor(runtime.random() * 0xffffffff);
    const snapshot = options.storage.snapshot();
    if (snapshot.data.length > 0 || snapshot.metadata.index > 0) {
      options.stateMachine.restore(snapshot.data);
    }
    this.applied = snapshot.metadata.index;
    this.snapshotIndex = snapshot.metadata.index;
    this.confState = snapshot.metadata.confState;
    this.node = new RaftNode({
      random: () => runtime.random(),
      ...options.raft,
      storage: options.storage,
      appliedIndex: this.applied,
    });
  }

  /** Starts ticking every `tickMs`. */
  start(): void {
    this.timer = this.runtime.timers.setInterval(() => this.tick(), this.tickMs);
  }

  /** One tick now: what `start()` does every `tickMs`, for a caller that keeps time itself. */
  tick(): void {
    if (this.stopped) return;
    this.node.tick();
    this.process();
  }

  /** Stops ticking and fails whatever is waiting. */
  stop(): void {
    this.stopped = true;
    this.runtime.timers.clearInterval(this.timer);
    const error = new Error("Raft node stopped");
    const waiters = [...this.proposals.values(), ...this.reads.values()];
    this.proposals.clear();
    this.reads.clear();
    for (const waiter of waiters) {
      this.runtime.timers.clearTimeout(waiter.timer);
      this.call(waiter.done, error);
    }
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
    return new Promise((resolve, reject) => {
      this.proposeWith(data, (error, result) => error ? reject(error) : resolve(result));
    });
  }

  /**
   * {@linkcode RaftDriver.propose} with a callback, called in the turn the proposal settles (a
   * refusal that is known at once comes before the first timer or I/O callback).
   */
  proposeWith(data: Uint8Array, done: RequestCallback): void {
    const seq = this.nextSeq++;
    const framed = new Uint8Array(HEADER_BYTES + data.length);
    const view = new DataView(framed.buffer);
    view.setUint32(0, this.node.id);
    view.setUint32(4, this.incarnation);
    view.setUint32(8, seq);
    framed.set(data, HEADER_BYTES);
    this.wait(this.proposals, seq, () => this.queueProposal(seq, framed), done);
  }

  private proposeQueue: { seq: number; data: Uint8Array }[] = [];

  /**
   * Proposals go to the core in batches: those made in one turn, or while a write is under way
   * (group commit), become one append per follower.
   */
  private queueProposal(seq: number, data: Uint8Array): void {
    this.proposeQueue.push({ seq, data });
    if (this.processing || this.proposeQueue.length > 1) return;
    this.runtime.timers.queueMicrotask(() => {
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
    this.runtime.timers.clearTimeout(waiter.timer);
    this.call(waiter.done, error);
  }

  /** Calls a request's callback; an error it throws must not stop the node. */
  private call(done: RequestCallback, error: Error | undefined, result?: unknown): void {
    try {
      done(error, result);
    } catch (thrown) {
      this.runtime.timers.queueMicrotask(() => {
        throw thrown;
      });
    }
  }

  /**
   * Resolves once this node's state machine reflects every write committed before the call
   * (ReadIndex, or the leader lease). Reads made in the same turn share one request.
   */
  read(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.readWith((error) => error ? reject(error) : resolve());
    });
  }

  /** {@linkcode RaftDriver.read} with a callback, called in the turn the read settles. */
  readWith(done: (error: Error | undefined) => void): void {
    if (this.readBatch) {
      this.readBatch.push(done);
      return;
    }
    const batch = [done];
    this.readBatch = batch;
    this.runtime.timers.queueMicrotask(() => {
      this.readBatch = undefined;
      const context = `${this.incarnation}:${this.nextSeq++}`;
      this.wait(
        this.reads,
        context,
        () => this.node.readIndex(encoder.encode(context)),
        (error) => batch.forEach((w) => this.call(w, error)),
      );
    });
  }

  private readBatch: ((error: Error | undefined) => void)[] | undefined;

  /** Proposes a membership change; resolves with the new membership once applied here. */
  changeMembership(change: ConfChange): Promise<ConfState> {
    const key = -this.nextSeq++;
    return new Promise((resolve, reject) => {
      this.wait(this.proposals, key, () => {
        this.node.proposeConfChange(change);
        this.pendingConfChange = key;
      }, (error) => error ? reject(error) : resolve(this.confState));
    });
  }

  private pendingConfChange = 0;

  /** Asks the leader to hand leadership to `to`. */
  transferLeadership(to: NodeId): void {
    this.node.transferLeadership(to);
    this.process();
  }

  private wait<K>(map: Map<K, Waiter>, key: K, start: () => void, done: RequestCallback): void {
    if (this.failure) return this.call(done, this.failure);
    if (this.proposals.size + this.reads.size >= (this.options.maxPendingCount ?? 100_000)) {
      return this.call(
        done,
        new ProposalDroppedError("too many requests are waiting", this.leaderId),
      );
    }
    const timeoutMs = this.options.requestTimeoutMs ?? 5000;
    const timer = this.runtime.timers.setTimeout(() => {
      if (map.get(key)?.timer !== timer) return;
      map.delete(key);
      this.call(done, new Error(`Raft request timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    map.set(key, { done, timer });
    try {
      start();
    } catch (error) {
      this.runtime.timers.clearTimeout(timer);
      map.delete(key);
      this.call(done, error as Error);
      return;
    }
    this.process();
  }

  private settle<K>(map: Map<K, Waiter>, key: K, value: unknown): void {
    const waiter = map.get(key);
    if (!waiter) return;
    map.delete(key);
    this.runtime.timers.clearTimeout(waiter.timer);
    this.call(waiter.done, undefined, value);
  }

  /**
   * Handles every `Ready`, one at a time; calls made meanwhile are picked up after. The core's
   * methods called directly on {@linkcode RaftDriver.node} (`campaign`, `transferLeadership`...)
   * take effect once this runs; the driver's own methods call it.
   */
  process(): void {
    if (this.processing || this.stopped) return;
    if (!this.node.hasReady() && this.proposeQueue.length === 0) return;
    this.processing = true;
    this.run();
  }

  /**
   * Handles `Ready` after `Ready` for as long as storage completes at once; when a write must be
   * waited for, goes on once it completes. Messages stepped meanwhile are in the next `Ready`.
   */
  private run(): void {
    try {
      while (!this.stopped) {
        this.flushProposals();
        if (!this.node.hasReady()) break;
        const pending = this.handle(this.node.ready());
        if (pending !== undefined) {
          pending.then(() => this.run(), (error: Error) => this.storageFailed(error));
          return;
        }
      }
    } catch (error) {
      this.storageFailed(error as Error);
      return;
    }
    this.processing = false;
  }

  /** Storage failed: the node must not go on (its promises would be broken). */
  private storageFailed(error: Error): void {
    this.processing = false;
    this.failure = error;
    this.stop();
  }

  private handle(rd: Ready): PromiseLike<void> | undefined {
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
    const saved = rd.snapshot || rd.entries.length > 0 || rd.hardState
      ? this.options.storage.save({
        snapshot: rd.snapshot,
        entries: rd.entries,
        hardState: rd.hardState,
        mustSync: rd.mustSync,
      })
      : undefined;
    return after(saved, () => this.afterSave(rd, messages));
  }

  /** The rest of a `Ready` once it is durable: send, apply, serve reads, maybe snapshot. */
  private afterSave(rd: Ready, messages: Message[]): PromiseLike<void> | undefined {
    this.options.send(messages);
    if (rd.snapshot) {
      this.options.stateMachine.restore(rd.snapshot.data);
      this.applied = rd.snapshot.metadata.index;
      this.snapshotIndex = rd.snapshot.metadata.index;
      this.confState = rd.snapshot.metadata.confState;
    }
    for (const entry of rd.committedEntries) this.apply(entry);
    for (const rs of rd.readStates) {
      const waiter = this.reads.get(decoder.decode(rs.context));
      if (waiter) waiter.index = rs.index;
    }
    this.node.advance();
    this.serveReads();
    return this.maybeSnapshot();
  }

  private apply(entry: Entry): void {
    this.applied = entry.index;
    this.options.onApply?.(entry);
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

  private maybeSnapshot(): PromiseLike<void> | undefined {
    const every = this.options.snapshotEveryEntries ?? 10_000;
    if (this.applied - this.snapshotIndex < every) return undefined;
    const index = this.applied;
    const data = this.options.stateMachine.snapshot();
    const created = this.options.storage.createSnapshot(index, this.confState, data);
    return after(created, () => {
      this.snapshotIndex = index;
      const lag = this.options.compactionLagEntries ?? 1000;
      const compactTo = Math.min(index, this.applied - lag);
      if (compactTo > this.options.storage.firstIndex()) {
        return this.options.storage.compact(compactTo);
      }
    });
  }
}

function isThenable<T>(value: unknown): value is PromiseLike<T> {
  return typeof (value as PromiseLike<T> | undefined)?.then === "function";
}

/**
 * Runs `next` once `value` is there: at once for a plain value, after it completes for a
 * then-able. Returns what is still to wait for, or undefined when everything is done.
 */
function after<T>(
  value: T | PromiseLike<T>,
  next: () => PromiseLike<void> | void,
): PromiseLike<void> | undefined {
  if (isThenable(value)) return value.then(() => next());
  const rest = next();
  return isThenable<void>(rest) ? rest : undefined;
}
