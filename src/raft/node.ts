/**
 * The Raft consensus core: a state machine without I/O, modelled on etcd's raft. The driver feeds
 * it ticks and messages and carries out the {@linkcode Ready} batches it hands back.
 *
 * @module
 */
import { assert } from "../_assert.ts";
import { applyConfChangeTo, decodeConfChange, encodeConfChange } from "./confchange.ts";
import { RaftLog } from "./log.ts";
import { Progress } from "./progress.ts";
import { JointConfig, type VoteResult } from "./quorum.ts";
import { ReadOnly } from "./read_only.ts";
import type {
  ConfChange,
  ConfState,
  Entry,
  HardState,
  Message,
  MessageType,
  NodeId,
  ReadState,
  Ready,
  Role,
  Snapshot,
  SoftState,
  Storage,
} from "./types.ts";
import { emptyMessage, entrySizeBytes, NONE, ProposalDroppedError } from "./types.ts";

/** How a leader serves `readIndex`. */
export type ReadOnlyOption = "safe" | "lease";

/**
 * Settings of a {@linkcode RaftNode}. Times are in ticks: the driver calls `tick()` every
 * `tickMs` (10 ms by default), so the defaults give a 50 ms heartbeat and a 150-300 ms election.
 */
export interface RaftConfig {
  /** This node's id: a positive integer, unique in the cluster. */
  id: NodeId;
  /** Where the log, hard state and snapshot are read from. */
  storage: Storage;
  /** @default 5 */
  /** Ticks between heartbeats. @default 5 */
  heartbeatTicks?: number;
  /** Smallest election timeout; followers wait at least this long for a leader. @default 15 */
  electionTicks?: number;
  /** Largest randomized election timeout (inclusive). @default 2 * electionTicks */
  electionTicksMax?: number;
  /** Ask for pre-votes first so that a partitioned node does not disrupt the cluster. @default true */
  preVote?: boolean;
  /** A leader that has not heard from a quorum in an election timeout steps down. @default true */
  checkQuorum?: boolean;
  /**
   * "safe": every read waits for a heartbeat round. "lease": the leader answers at once while a
   * quorum acknowledged it within `electionTicks - leaseClockDriftTicks` (needs `checkQuorum`).
   * @default "safe"
   */
  readOnly?: ReadOnlyOption;
  /**
   * How many ticks the clocks of two nodes may drift apart over one election timeout; the lease
   * is shortened by this much. Set it to cover the worst clock-rate difference expected.
   * @default 2
   */
  leaseClockDriftTicks?: number;
  /** Largest batch of entries in one append message. @default 1 MiB */
  maxMsgSizeBytes?: number;
  /** Appends in flight per follower. @default 256 */
  maxInflightCount?: number;
  /** Bytes of entries in flight per follower. @default 32 MiB */
  maxInflightBytes?: number;
  /** Proposals are dropped while the leader holds this many uncommitted bytes. @default 64 MiB */
  maxUncommittedBytes?: number;
  /** Bytes of committed entries handed out in one `Ready`. @default 64 MiB */
  maxApplyingBytes?: number;
  /** Size of one snapshot chunk sent to a follower. @default 1 MiB */
  snapshotChunkBytes?: number;
  /** Largest snapshot a follower accepts. @default 1 GiB */
  maxSnapshotBytes?: number;
  /** Reads waiting for a heartbeat round (or for the first commit) at once. @default 4096 */
  maxPendingReadCount?: number;
  /**
   * Index the state machine has already applied when the node starts.
   * @default the index of `storage.snapshot()`
   */
  appliedIndex?: number;
  /** Source of randomness for election timeouts, in [0, 1). @default Math.random */
  random?: () => number;
}

const MiB = 1024 * 1024;

/** A {@linkcode RaftConfig} with every default filled in. */
export type ResolvedRaftConfig = Required<Omit<RaftConfig, "appliedIndex">> & {
  appliedIndex: number;
};

function positiveInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new RangeError(
      `Invalid Raft config: '${name}' must be a positive integer: current value is ${value}`,
    );
  }
}

/**
 * Fills in defaults and rejects settings that cannot work, with a sentence saying why.
 *
 * @example
 * ```ts
 * import { validateConfig } from "./node.ts";
 * import { MemoryStorage } from "./memory_storage.ts";
 * validateConfig({ id: 1, storage: new MemoryStorage() }).electionTicks; // 15
 * ```
 */
export function validateConfig(config: RaftConfig): ResolvedRaftConfig {
  const electionTicks = config.electionTicks ?? 15;
  const full: ResolvedRaftConfig = {
    id: config.id,
    storage: config.storage,
    heartbeatTicks: config.heartbeatTicks ?? 5,
    electionTicks,
    electionTicksMax: config.electionTicksMax ?? 2 * electionTicks,
    preVote: config.preVote ?? true,
    checkQuorum: config.checkQuorum ?? true,
    readOnly: config.readOnly ?? "safe",
    leaseClockDriftTicks: config.leaseClockDriftTicks ?? 2,
    maxMsgSizeBytes: config.maxMsgSizeBytes ?? MiB,
    maxInflightCount: config.maxInflightCount ?? 256,
    maxInflightBytes: config.maxInflightBytes ?? 32 * MiB,
    maxUncommittedBytes: config.maxUncommittedBytes ?? 64 * MiB,
    maxApplyingBytes: config.maxApplyingBytes ?? 64 * MiB,
    snapshotChunkBytes: config.snapshotChunkBytes ?? MiB,
    maxSnapshotBytes: config.maxSnapshotBytes ?? 1024 * MiB,
    maxPendingReadCount: config.maxPendingReadCount ?? 4096,
    appliedIndex: config.appliedIndex ?? 0,
    random: config.random ?? Math.random,
  };
  positiveInteger("id", full.id);
  if (!full.storage) throw new TypeError("Invalid Raft config: 'storage' is required");
  for (
    const name of [
      "heartbeatTicks",
      "electionTicks",
      "electionTicksMax",
      "maxMsgSizeBytes",
      "maxInflightCount",
      "maxInflightBytes",
      "maxUncommittedBytes",
      "maxApplyingBytes",
      "snapshotChunkBytes",
      "maxSnapshotBytes",
      "maxPendingReadCount",
    ] as const
  ) positiveInteger(name, full[name]);
  if (full.electionTicks <= full.heartbeatTicks) {
    throw new RangeError(
      `Invalid Raft config: 'electionTicks' must be greater than 'heartbeatTicks' (${full.heartbeatTicks}): current value is ${full.electionTicks}`,
    );
  }
  if (full.electionTicksMax < full.electionTicks) {
    throw new RangeError(
      `Invalid Raft config: 'electionTicksMax' must be at least 'electionTicks' (${full.electionTicks}): current value is ${full.electionTicksMax}`,
    );
  }
  if (full.readOnly !== "safe" && full.readOnly !== "lease") {
    throw new RangeError(
      `Invalid Raft config: 'readOnly' must be "safe" or "lease": current value is ${full.readOnly}`,
    );
  }
  if (full.readOnly === "lease" && !full.checkQuorum) {
    throw new RangeError(
      "Invalid Raft config: 'readOnly' \"lease\" needs 'checkQuorum' to be true",
    );
  }
  const drift = full.leaseClockDriftTicks;
  if (!Number.isSafeInteger(drift) || drift < 0 || drift >= full.electionTicks) {
    throw new RangeError(
      `Invalid Raft config: 'leaseClockDriftTicks' must be an integer in [0, electionTicks): current value is ${drift}`,
    );
  }
  if (!Number.isSafeInteger(full.appliedIndex) || full.appliedIndex < 0) {
    throw new RangeError(
      `Invalid Raft config: 'appliedIndex' must be a non-negative integer: current value is ${full.appliedIndex}`,
    );
  }
  return full;
}

/** The progress of one peer as reported by {@linkcode RaftNode.status}. */
export interface PeerStatus {
  /** Highest index known to match the leader's log. */
  match: number;
  /** Next index the leader will send. */
  next: number;
  /** How the leader replicates to this peer. */
  state: "probe" | "replicate" | "snapshot";
  /** Whether the peer is a learner. */
  isLearner: boolean;
  /** Whether the peer answered within the last election timeout. */
  recentActive: boolean;
}

/** A node's state for monitoring and tests. */
export interface RaftStatus {
  /** This node. */
  id: NodeId;
  /** Current term. */
  term: number;
  /** Vote cast in the current term, or NONE. */
  vote: NodeId;
  /** Commit index. */
  commit: number;
  /** Index the state machine has applied. */
  applied: number;
  /** Index of the last log entry. */
  lastIndex: number;
  /** The leader this node knows of, or NONE. */
  leaderId: NodeId;
  /** This node's role. */
  role: Role;
  /** On the leader: the peer leadership is being handed to, or NONE. */
  leadTransferee: NodeId;
  /** Current membership. */
  confState: ConfState;
  /** Only on the leader. */
  progress: Map<NodeId, PeerStatus>;
}

interface SnapshotInbox {
  /** The leader sending it: chunks of two senders' encodings must never mix. */
  from: NodeId;
  snapshot: Snapshot;
  chunks: Uint8Array[];
  receivedBytes: number;
  totalBytes: number;
}

const RESPONSE_TYPE: Partial<Record<MessageType, MessageType>> = {
  MsgVote: "MsgVoteResp",
  MsgPreVote: "MsgPreVoteResp",
};

/**
 * One Raft peer, without I/O. Drive it with `tick()` every `tickMs` and `step(message)` for each
 * message received; after either, when `hasReady()`, carry out `ready()` and call `advance()`.
 *
 * @example
 * ```ts
 * import { MemoryStorage, RaftNode } from "./mod.ts";
 * const storage = MemoryStorage.bootstrap([1]);
 * const node = new RaftNode({ id: 1, storage });
 * node.campaign(); // a single voter wins at once
 * while (node.hasReady()) {
 *   const ready = node.ready();
 *   storage.append(ready.entries);
 *   if (ready.hardState) storage.setHardState(ready.hardState);
 *   node.advance();
 * }
 * node.propose(new TextEncoder().encode("set x 1"));
 * ```
 */
export class RaftNode {
  /** This node's id. */
  readonly id: NodeId;
  private term = 0;
  private vote: NodeId = NONE;
  private lead: NodeId = NONE;
  private state: Role = "follower";
  /** The log (storage plus unstable entries), for inspection. */
  readonly log: RaftLog;
  private readonly cfg: ResolvedRaftConfig;

  private progress = new Map<NodeId, Progress>();
  private voters = new JointConfig([]);
  private learners = new Set<NodeId>();
  private learnersNext = new Set<NodeId>();
  private autoLeave = false;
  private votes = new Map<NodeId, boolean>();

  private msgs: Message[] = [];
  private readStates: ReadState[] = [];

  private electionElapsedTicks = 0;
  private heartbeatElapsedTicks = 0;
  private randomizedElectionTicks = 0;
  /** Ticks since this node started: the leader's clock for lease reads. */
  private tickCount = 0;
  /** With lease reads, a restarted node does not vote until a full election timeout has passed. */
  private readonly voteQuietUntilTick: number;

  private leadTransferee: NodeId = NONE;
  private pendingConfIndex = 0;
  private uncommittedBytes = 0;
  private readOnly: ReadOnly;
  private pendingReadIndexMessages: Message[] = [];
  /** False once this leader sent TimeoutNow: forced elections ignore leases. */
  private leaseUsable = true;
  private snapshotInbox: SnapshotInbox | undefined = undefined;
  /** The commit index moved: tell followers once per `Ready`, not once per acknowledgement. */
  private commitBroadcastPending = false;

  private prevSoftState: SoftState;
  private prevHardState: HardState;
  private pendingReady:
    | { lastEntry?: Entry; snapshotIndex?: number; lastCommitted?: Entry; committedBytes: number }
    | undefined;

  /** Validates `config` (see {@linkcode validateConfig}) and restores state from its storage. */
  constructor(config: RaftConfig) {
    this.cfg = validateConfig(config);
    this.id = this.cfg.id;
    const { hardState, confState } = this.cfg.storage.initialState();
    this.log = new RaftLog(this.cfg.storage, this.cfg.maxApplyingBytes);
    this.readOnly = new ReadOnly(this.cfg.maxPendingReadCount);
    this.switchToConfig(confState);
    if (hardState.term > 0 || hardState.commit > 0) this.loadState(hardState);
    // By default the state machine restarts from the storage's snapshot.
    const applied = this.cfg.appliedIndex || this.cfg.storage.snapshot().metadata.index;
    if (applied > this.log.applied) this.log.appliedTo(applied);
    this.becomeFollower(this.term, NONE);
    this.voteQuietUntilTick = this.cfg.readOnly === "lease" ? this.cfg.electionTicks : 0;
    this.prevSoftState = this.softState();
    this.prevHardState = this.hardState();
  }

  private loadState(hardState: HardState): void {
    const last = this.log.lastIndex();
    if (hardState.commit < this.log.committed || hardState.commit > last) {
      throw new RangeError(
        `Cannot restore Raft state: commit ${hardState.commit} is outside [${this.log.committed}, ${last}]`,
      );
    }
    this.log.committed = hardState.commit;
    this.term = hardState.term;
    this.vote = hardState.vote;
  }

  // ---- public API ----------------------------------------------------------------------------

  /** This node's role. */
  get role(): Role {
    return this.state;
  }

  /** The leader this node knows of, or NONE. */
  get leaderId(): NodeId {
    return this.lead;
  }

  /** This node's current term. */
  get currentTerm(): number {
    return this.term;
  }

  /** Advances logical time by one tick: elections and heartbeats are measured in ticks. */
  tick(): void {
    this.tickCount++;
    if (this.state === "leader") this.tickHeartbeat();
    else this.tickElection();
  }

  /** Feeds a message received from a peer. Local message types are not accepted here. */
  step(message: Message): void {
    if (
      message.type === "MsgHup" || message.type === "MsgBeat" || message.type === "MsgCheckQuorum"
    ) {
      throw new TypeError(`Cannot step a local message from the network: ${message.type}`);
    }
    if (message.type === "MsgProp" || message.type === "MsgTransferLeader") {
      // Forwarded requests are best effort: a drop is silent, the client retries.
      this.stepOrDrop(message);
      return;
    }
    this.stepInternal(message);
  }

  /** Starts an election now (pre-vote first when enabled). */
  campaign(): void {
    this.stepInternal(emptyMessage({ type: "MsgHup", from: this.id }));
  }

  /**
   * Proposes `data` for the log. Throws {@linkcode ProposalDroppedError} when it cannot be taken;
   * a follower forwards it to the leader, and nothing tells whether it commits: the application
   * recognises its own entries when they are applied.
   */
  propose(data: Uint8Array): void {
    this.proposeBatch([data]);
  }

  /** Proposes several commands at once: one append message carries them all. */
  proposeBatch(data: readonly Uint8Array[]): void {
    if (data.length === 0) return;
    const entries = data.map((d) => ({ term: 0, index: 0, type: "normal" as const, data: d }));
    const error = this.stepOrDrop(emptyMessage({ type: "MsgProp", from: this.id, entries }));
    if (error) throw new ProposalDroppedError(error, this.lead);
  }

  /** Proposes a membership change; apply it with `applyConfChange` when its entry is committed. */
  proposeConfChange(change: ConfChange): void {
    const data = encodeConfChange(change);
    const error = this.stepOrDrop(
      emptyMessage({
        type: "MsgProp",
        from: this.id,
        entries: [{ term: 0, index: 0, type: "confChange", data }],
      }),
    );
    if (error) throw new ProposalDroppedError(error, this.lead);
  }

  /**
   * Applies a committed membership change and returns the new membership (to store with
   * snapshots). An invalid change is skipped on every node alike.
   */
  applyConfChange(change: ConfChange): ConfState {
    let next: ConfState;
    try {
      next = applyConfChangeTo(this.confState(), change);
    } catch (error) {
      if (error instanceof RangeError) return this.confState();
      throw error;
    }
    this.switchToConfig(next);
    this.afterConfigChange();
    return this.confState();
  }

  /**
   * Asks for a linearizable read. When granted, a {@linkcode ReadState} with the same `context`
   * appears in a later `Ready`: serve the read once the state machine has applied its index.
   */
  readIndex(context: Uint8Array): void {
    const error = this.stepOrDrop(
      emptyMessage({ type: "MsgReadIndex", from: this.id, context, entries: [] }),
    );
    if (error) throw new ProposalDroppedError(error, this.lead);
  }

  /** Asks the leader to hand leadership to `to` once `to` has caught up (TimeoutNow). */
  transferLeadership(to: NodeId): void {
    const error = this.stepOrDrop(
      emptyMessage({ type: "MsgTransferLeader", from: to, to: this.id }),
    );
    if (error) throw new ProposalDroppedError(error, this.lead);
  }

  /** Tells the leader that messages to `id` are not getting through: fall back to probing. */
  reportUnreachable(id: NodeId): void {
    this.stepInternal(emptyMessage({ type: "MsgUnreachable", from: id }));
  }

  /** The current membership. */
  confState(): ConfState {
    return {
      voters: [...this.voters.incoming],
      learners: [...this.learners],
      votersOutgoing: [...this.voters.outgoing],
      learnersNext: [...this.learnersNext],
      autoLeave: this.autoLeave,
    };
  }

  /** A snapshot of this node's state, with per-peer progress on the leader. */
  status(): RaftStatus {
    const progress = new Map<NodeId, PeerStatus>();
    if (this.state === "leader") {
      for (const [id, pr] of this.progress) {
        progress.set(id, {
          match: pr.match,
          next: pr.next,
          state: pr.state,
          isLearner: pr.isLearner,
          recentActive: pr.recentActive,
        });
      }
    }
    return {
      id: this.id,
      term: this.term,
      vote: this.vote,
      commit: this.log.committed,
      applied: this.log.applied,
      lastIndex: this.log.lastIndex(),
      leaderId: this.lead,
      role: this.state,
      leadTransferee: this.leadTransferee,
      confState: this.confState(),
      progress,
    };
  }

  /** Whether `ready()` has anything to do. */
  hasReady(): boolean {
    if (this.pendingReady) return false;
    if (this.commitBroadcastPending && this.state === "leader") return true;
    if (this.msgs.length > 0 || this.readStates.length > 0) return true;
    if (this.log.unstableEntries().length > 0 || this.log.unstableSnapshot()) return true;
    if (this.log.hasNextCommittedEntries()) return true;
    if (!sameSoftState(this.softState(), this.prevSoftState)) return true;
    return !sameHardState(this.hardState(), this.prevHardState);
  }

  /**
   * What the driver must do now, in the order documented on {@linkcode Ready}. Call `advance()`
   * when done, before the next `ready()`.
   */
  ready(): Ready {
    assert(this.pendingReady === undefined, "ready() called twice without advance()");
    if (this.commitBroadcastPending && this.state === "leader") this.bcastAppend();
    this.commitBroadcastPending = false;
    const snapshot = this.log.unstableSnapshot();
    const entries = this.log.unstableEntries().slice();
    const committedEntries = snapshot ? [] : this.log.nextCommittedEntries();
    const hardState = this.hardState();
    const softState = this.softState();
    const rd: Ready = {
      entries,
      committedEntries,
      messages: coalesceAppendResponses(this.msgs),
      readStates: this.readStates,
      mustSync: entries.length > 0 || hardState.term !== this.prevHardState.term ||
        hardState.vote !== this.prevHardState.vote || snapshot !== undefined,
    };
    if (snapshot) rd.snapshot = snapshot;
    if (!sameHardState(hardState, this.prevHardState)) rd.hardState = hardState;
    if (!sameSoftState(softState, this.prevSoftState)) rd.softState = softState;
    this.msgs = [];
    this.readStates = [];
    this.prevHardState = hardState;
    this.prevSoftState = softState;
    this.pendingReady = {
      lastEntry: entries.at(-1),
      snapshotIndex: snapshot?.metadata.index,
      lastCommitted: committedEntries.at(-1),
      committedBytes: sumPayloadBytes(committedEntries),
    };
    return rd;
  }

  /** Acknowledges that the last `Ready` was carried out. */
  advance(): void {
    const done = this.pendingReady;
    assert(done !== undefined, "advance() called without a ready()");
    this.pendingReady = undefined;
    if (done.snapshotIndex !== undefined) {
      this.log.stableSnapTo(done.snapshotIndex);
      if (done.snapshotIndex > this.log.applied) this.log.applied = done.snapshotIndex;
    }
    if (done.lastEntry) {
      this.log.stableTo(done.lastEntry.index, done.lastEntry.term);
      if (this.state === "leader") this.selfAcknowledge();
    }
    if (done.lastCommitted) {
      this.log.appliedTo(done.lastCommitted.index);
      if (this.state === "leader") {
        // Uncommitted bytes were counted on append; they are released as entries apply.
        this.uncommittedBytes = Math.max(0, this.uncommittedBytes - done.committedBytes);
        this.maybeAutoLeave();
      }
    }
  }

  // ---- state transitions ---------------------------------------------------------------------

  private softState(): SoftState {
    return { leaderId: this.lead, role: this.state };
  }

  private hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsedTicks = 0;
    this.heartbeatElapsedTicks = 0;
    this.randomizedElectionTicks = this.cfg.electionTicks +
      Math.floor(this.cfg.random() * (this.cfg.electionTicksMax - this.cfg.electionTicks + 1));
    this.leadTransferee = NONE;
    this.votes.clear();
    for (const [id, old] of this.progress) {
      const pr = this.newProgress();
      pr.isLearner = old.isLearner;
      if (id === this.id) pr.match = this.log.stableLastIndex();
      this.progress.set(id, pr);
    }
    this.pendingConfIndex = 0;
    this.uncommittedBytes = 0;
    this.readOnly = new ReadOnly(this.cfg.maxPendingReadCount);
    this.pendingReadIndexMessages = [];
    this.leaseUsable = true;
    this.commitBroadcastPending = false;
  }

  private newProgress(): Progress {
    return new Progress({
      next: this.log.lastIndex() + 1,
      maxInflightCount: this.cfg.maxInflightCount,
      maxInflightBytes: this.cfg.maxInflightBytes,
    });
  }

  private becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.lead = lead;
    this.state = "follower";
  }

  private becomePreCandidate(): void {
    assert(this.state !== "leader", "invalid transition: leader -> preCandidate");
    // A pre-election changes neither term nor vote: losing it leaves no trace.
    this.votes.clear();
    this.lead = NONE;
    this.state = "preCandidate";
  }

  private becomeCandidate(): void {
    assert(this.state !== "leader", "invalid transition: leader -> candidate");
    this.reset(this.term + 1);
    this.vote = this.id;
    this.state = "candidate";
  }

  private becomeLeader(): void {
    assert(this.state !== "follower", "invalid transition: follower -> leader");
    this.reset(this.term);
    this.lead = this.id;
    this.state = "leader";
    this.progress.get(this.id)?.becomeReplicate();
    // Any unapplied membership change in the log may be pending: wait for it before another.
    this.pendingConfIndex = this.log.lastIndex();
    // An entry of the new term lets earlier entries commit (section 5.4.2) and reads start.
    const appended = this.appendEntries([{
      term: 0,
      index: 0,
      type: "normal",
      data: new Uint8Array(),
    }]);
    assert(appended, "the leader's first empty entry cannot be dropped");
  }

  private promotable(): boolean {
    const pr = this.progress.get(this.id);
    return pr !== undefined && !pr.isLearner && this.voters.isVoter(this.id) &&
      this.log.unstableSnapshot() === undefined;
  }

  private switchToConfig(conf: ConfState): void {
    this.voters = new JointConfig([...conf.voters], [...conf.votersOutgoing]);
    this.learners = new Set(conf.learners);
    this.learnersNext = new Set(conf.learnersNext);
    this.autoLeave = conf.autoLeave;
    const members = new Set([...this.voters.ids(), ...this.learners, ...this.learnersNext]);
    for (const id of [...this.progress.keys()]) {
      if (!members.has(id)) this.progress.delete(id);
    }
    for (const id of members) {
      let pr = this.progress.get(id);
      if (!pr) {
        pr = this.newProgress();
        // Give a new member an election timeout before check-quorum counts it as silent.
        pr.recentActive = true;
        if (id === this.id) pr.match = this.log.stableLastIndex();
        this.progress.set(id, pr);
      }
      pr.isLearner = this.learners.has(id);
    }
  }

  private afterConfigChange(): void {
    if (this.state !== "leader") return;
    if (!this.voters.isVoter(this.id)) {
      this.stepDownAfterRemoval();
      return;
    }
    if (this.leadTransferee !== NONE && !this.voters.isVoter(this.leadTransferee)) {
      this.leadTransferee = NONE;
    }
    if (this.maybeCommit()) this.bcastAppend();
    else {
      for (const id of this.progress.keys()) {
        if (id !== this.id) this.maybeSendAppend(id, false);
      }
    }
  }

  /** A leader removed from (or demoted in) the membership hands over and steps down. */
  private stepDownAfterRemoval(): void {
    this.bcastAppend();
    const last = this.log.lastIndex();
    const successor = [...this.voters.ids()].find((id) => this.progress.get(id)?.match === last);
    if (successor !== undefined) this.sendTimeoutNow(successor);
    this.becomeFollower(this.term, NONE);
  }

  // ---- ticks ---------------------------------------------------------------------------------

  private tickElection(): void {
    this.electionElapsedTicks++;
    if (this.promotable() && this.electionElapsedTicks >= this.randomizedElectionTicks) {
      this.electionElapsedTicks = 0;
      this.stepInternal(emptyMessage({ type: "MsgHup", from: this.id }));
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsedTicks++;
    this.electionElapsedTicks++;
    if (this.electionElapsedTicks >= this.cfg.electionTicks) {
      this.electionElapsedTicks = 0;
      if (this.cfg.checkQuorum) {
        this.stepInternal(emptyMessage({ type: "MsgCheckQuorum", from: this.id }));
      }
      // A transfer that did not finish within an election timeout is abandoned.
      if (this.state === "leader") this.leadTransferee = NONE;
    }
    if (this.state !== "leader") return;
    if (this.heartbeatElapsedTicks >= this.cfg.heartbeatTicks) {
      this.heartbeatElapsedTicks = 0;
      this.stepInternal(emptyMessage({ type: "MsgBeat", from: this.id }));
    }
    this.maybeAutoLeave();
  }

  // ---- step ----------------------------------------------------------------------------------

  /** Steps a request and returns why it was dropped, if it was. */
  private stepOrDrop(m: Message): string | undefined {
    switch (this.state) {
      case "leader":
        return this.stepLeaderRequest(m);
      case "follower":
        return this.forwardToLeader(m);
      default:
        return `${m.type} dropped: no leader during an election in term ${this.term}`;
    }
  }

  private stepInternal(m: Message): void {
    if (m.term === 0) {
      // Local messages and forwarded requests carry no term.
    } else if (m.term > this.term) {
      if (!this.acceptHigherTerm(m)) return;
    } else if (m.term < this.term) {
      this.answerLowerTerm(m);
      return;
    }
    switch (m.type) {
      case "MsgHup":
        this.hup(false);
        return;
      case "MsgVote":
      case "MsgPreVote":
        this.handleVoteRequest(m);
        return;
    }
    switch (this.state) {
      case "leader":
        this.stepLeader(m);
        break;
      case "candidate":
      case "preCandidate":
        this.stepCandidate(m);
        break;
      case "follower":
        this.stepFollower(m);
        break;
    }
  }

  /** Handles a message from a higher term; false when it must be ignored. */
  private acceptHigherTerm(m: Message): boolean {
    if (m.type === "MsgVote" || m.type === "MsgPreVote") {
      const inLease = this.cfg.checkQuorum && this.lead !== NONE &&
        this.electionElapsedTicks < this.cfg.electionTicks;
      const quiet = this.tickCount < this.voteQuietUntilTick;
      // A node that hears from a live leader ignores elections (section 4.2.3 of the thesis).
      if (!m.force && (inLease || quiet)) return false;
    }
    if (m.type === "MsgPreVote") return true;
    if (m.type === "MsgPreVoteResp" && !m.reject) return true;
    const isFromLeader = m.type === "MsgApp" || m.type === "MsgHeartbeat" || m.type === "MsgSnap";
    this.becomeFollower(m.term, isFromLeader ? m.from : NONE);
    return true;
  }

  private answerLowerTerm(m: Message): void {
    if (
      (this.cfg.checkQuorum || this.cfg.preVote) &&
      (m.type === "MsgHeartbeat" || m.type === "MsgApp")
    ) {
      // Tells a stale leader about the new term so it steps down.
      this.send(emptyMessage({ type: "MsgAppResp", to: m.from }));
    } else if (m.type === "MsgPreVote") {
      this.send(
        emptyMessage({ type: "MsgPreVoteResp", to: m.from, term: this.term, reject: true }),
      );
    }
  }

  private handleVoteRequest(m: Message): void {
    const canVote = this.vote === m.from || (this.vote === NONE && this.lead === NONE) ||
      (m.type === "MsgPreVote" && m.term > this.term);
    const responseType = RESPONSE_TYPE[m.type]!;
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      // The response carries the request's term so a pre-candidate recognises it.
      this.send(emptyMessage({ type: responseType, to: m.from, term: m.term }));
      if (m.type === "MsgVote") {
        this.electionElapsedTicks = 0;
        this.vote = m.from;
      }
    } else {
      this.send(emptyMessage({ type: responseType, to: m.from, term: this.term, reject: true }));
    }
  }

  private hup(force: boolean): void {
    if (this.state === "leader" || !this.promotable() || this.hasUnappliedConfChanges()) return;
    if (force || !this.cfg.preVote) this.campaignFor("election", force);
    else this.campaignFor("preElection", false);
  }

  private hasUnappliedConfChanges(): boolean {
    if (this.log.applied >= this.log.committed) return false;
    const entries = this.log.slice(this.log.applied + 1, this.log.committed + 1, Infinity) ?? [];
    return entries.some((e) => e.type === "confChange");
  }

  private campaignFor(kind: "preElection" | "election", force: boolean): void {
    let voteType: MessageType;
    let term: number;
    if (kind === "preElection") {
      this.becomePreCandidate();
      voteType = "MsgPreVote";
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      voteType = "MsgVote";
      term = this.term;
    }
    if (this.poll(this.id, true) === "won") {
      // A single voter: the self-vote decides (it is persisted before anything is sent).
      if (kind === "preElection") this.campaignFor("election", force);
      else {
        this.becomeLeader();
        this.bcastAppend();
      }
      return;
    }
    const index = this.log.lastIndex();
    const logTerm = this.log.lastTerm();
    for (const id of this.voters.ids()) {
      if (id === this.id) continue;
      const m = emptyMessage({ type: voteType, to: id, term, index, logTerm });
      if (force) m.force = true;
      this.send(m);
    }
  }

  private poll(id: NodeId, granted: boolean): VoteResult {
    if (!this.votes.has(id)) this.votes.set(id, granted);
    return this.voters.vote(this.votes);
  }

  private send(m: Message): void {
    if (m.from === NONE) m.from = this.id;
    const isVote = m.type === "MsgVote" || m.type === "MsgPreVote" || m.type === "MsgVoteResp" ||
      m.type === "MsgPreVoteResp";
    if (isVote) {
      assert(m.term !== 0, `a ${m.type} must carry a term`);
    } else if (m.type !== "MsgProp" && m.type !== "MsgReadIndex") {
      // Forwarded proposals and reads behave like local messages at the leader: no term.
      m.term = this.term;
    }
    this.msgs.push(m);
  }

  // ---- leader ----------------------------------------------------------------------------------

  /** Requests (proposals, reads, transfers), local or forwarded; returns why one was dropped. */
  private stepLeaderRequest(m: Message): string | undefined {
    switch (m.type) {
      case "MsgProp":
        return this.leaderPropose(m);
      case "MsgReadIndex":
        return this.leaderReadIndex(m);
      case "MsgTransferLeader":
        return this.leaderTransfer(m.from);
      default:
        this.stepInternal(m);
        return undefined;
    }
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case "MsgBeat":
        this.bcastHeartbeat(this.readOnly.lastContext());
        return;
      case "MsgCheckQuorum":
        if (!this.quorumActive()) this.becomeFollower(this.term, NONE);
        return;
      case "MsgProp":
      case "MsgReadIndex":
      case "MsgTransferLeader":
        this.stepLeaderRequest(m);
        return;
    }
    const pr = this.progress.get(m.from);
    if (!pr) return;
    switch (m.type) {
      case "MsgAppResp":
        pr.recentActive = true;
        this.noteLeaseAck(pr, m);
        if (m.reject) this.handleAppendRejected(m, pr);
        else this.handleAppendAccepted(m, pr);
        break;
      case "MsgHeartbeatResp":
        this.handleHeartbeatResponse(m, pr);
        break;
      case "MsgSnapResp":
        this.handleSnapshotResponse(m, pr);
        break;
      case "MsgUnreachable":
        if (pr.state === "replicate") pr.becomeProbe();
        break;
    }
  }

  private leaderPropose(m: Message): string | undefined {
    assert(m.entries.length > 0, "a proposal must carry entries");
    if (!this.progress.has(this.id)) return "proposal dropped: this leader is being removed";
    if (this.leadTransferee !== NONE) {
      return `proposal dropped: leadership is being transferred to ${this.leadTransferee}`;
    }
    let confIndex = 0;
    for (let i = 0; i < m.entries.length; i++) {
      const entry = m.entries[i];
      if (entry.type !== "confChange") continue;
      const error = confIndex > 0
        ? "membership change dropped: one per proposal"
        : this.checkConfChange(entry.data);
      if (error) return error;
      confIndex = this.log.lastIndex() + i + 1;
    }
    if (!this.appendEntries(m.entries)) {
      return `proposal dropped: more than ${this.cfg.maxUncommittedBytes} uncommitted bytes are pending`;
    }
    if (confIndex > 0) this.pendingConfIndex = confIndex;
    this.bcastAppend();
    return undefined;
  }

  private checkConfChange(data: Uint8Array): string | undefined {
    if (this.pendingConfIndex > this.log.applied) {
      return `membership change dropped: change at index ${this.pendingConfIndex} is not applied yet`;
    }
    try {
      applyConfChangeTo(this.confState(), decodeConfChange(data));
    } catch (error) {
      return `membership change dropped: ${(error as Error).message}`;
    }
    return undefined;
  }

  private appendEntries(entries: Entry[]): boolean {
    const sizeBytes = sumPayloadBytes(entries);
    if (
      this.uncommittedBytes > 0 && this.uncommittedBytes + sizeBytes > this.cfg.maxUncommittedBytes
    ) {
      return false;
    }
    this.uncommittedBytes += sizeBytes;
    let index = this.log.lastIndex();
    const stamped = entries.map((entry) => ({ ...entry, term: this.term, index: ++index }));
    this.log.append(stamped);
    return true;
  }

  /** The leader's own entries count towards a quorum only once persisted. */
  private selfAcknowledge(): void {
    const pr = this.progress.get(this.id);
    if (!pr) return;
    if (pr.maybeUpdate(this.log.stableLastIndex()) && this.maybeCommit()) {
      this.commitBroadcastPending = true;
    }
  }

  private maybeAutoLeave(): void {
    if (!this.voters.isJoint() || !this.autoLeave || this.pendingConfIndex > this.log.applied) {
      return;
    }
    if (this.leadTransferee !== NONE) return;
    const data = encodeConfChange({ changes: [] });
    const error = this.leaderPropose(
      emptyMessage({
        type: "MsgProp",
        from: this.id,
        entries: [{ term: 0, index: 0, type: "confChange", data }],
      }),
    );
    assert(error === undefined || !error.startsWith("membership"), `cannot leave joint: ${error}`);
  }

  private maybeCommit(): boolean {
    const index = this.voters.committedIndex((id) => this.progress.get(id)?.match);
    if (!this.log.maybeCommit(index, this.term)) return false;
    this.releasePendingReads();
    return true;
  }

  private committedEntryInCurrentTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  private quorumActive(): boolean {
    const votes = new Map<NodeId, boolean>();
    for (const [id, pr] of this.progress) {
      if (id === this.id || pr.recentActive) votes.set(id, true);
      if (id !== this.id) pr.recentActive = false;
    }
    return this.voters.vote(votes) === "won";
  }

  private bcastAppend(): void {
    for (const id of this.progress.keys()) {
      if (id !== this.id) this.maybeSendAppend(id, true);
    }
  }

  private bcastHeartbeat(context: Uint8Array | undefined): void {
    for (const [id, pr] of this.progress) {
      if (id === this.id) continue;
      const m = emptyMessage({
        type: "MsgHeartbeat",
        to: id,
        commit: Math.min(pr.match, this.log.committed),
        sentTick: this.tickCount,
      });
      if (context) m.context = context;
      this.send(m);
    }
  }

  /** Sends the entries `to` needs next, or a snapshot when they are compacted. */
  private maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.progress.get(to)!;
    if (pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    // A probe carries at most one entry: it is likely to be rejected.
    const maxBytes = pr.state === "replicate" ? this.cfg.maxMsgSizeBytes : 0;
    const entries = prevTerm === undefined ? undefined : this.log.entriesFrom(pr.next, maxBytes);
    if (prevTerm === undefined || entries === undefined) return this.maybeSendSnapshot(to, pr);
    if (entries.length === 0 && !sendIfEmpty) return false;
    this.send(emptyMessage({
      type: "MsgApp",
      to,
      index: prevIndex,
      logTerm: prevTerm,
      entries,
      commit: this.log.committed,
      sentTick: this.tickCount,
    }));
    let sizeBytes = 0;
    for (const entry of entries) sizeBytes += entrySizeBytes(entry);
    pr.sentEntries(entries.length, prevIndex + entries.length, sizeBytes);
    return true;
  }

  private maybeSendSnapshot(to: NodeId, pr: Progress): boolean {
    // Snapshots are large: only for a follower that answered recently.
    if (!pr.recentActive) return false;
    const snapshot = this.log.snapshot();
    assert(
      snapshot.metadata.index > 0,
      `no snapshot to send to ${to} although its entries are compacted`,
    );
    pr.becomeSnapshot(snapshot);
    this.sendSnapshotChunk(to, pr);
    return true;
  }

  private sendSnapshotChunk(to: NodeId, pr: Progress): void {
    const snapshot = pr.pendingSnapshot!;
    const offset = pr.snapshotAckedBytes;
    const chunk = snapshot.data.subarray(offset, offset + this.cfg.snapshotChunkBytes);
    this.send(emptyMessage({
      type: "MsgSnap",
      to,
      snapshot: { metadata: snapshot.metadata, data: chunk },
      snapshotOffsetBytes: offset,
      snapshotTotalBytes: snapshot.data.length,
      sentTick: this.tickCount,
    }));
  }

  private sendTimeoutNow(to: NodeId): void {
    this.leaseUsable = false;
    this.send(emptyMessage({ type: "MsgTimeoutNow", to }));
  }

  private noteLeaseAck(pr: Progress, m: Message): void {
    if (m.sentTick !== undefined && m.sentTick > pr.ackedSentTick) pr.ackedSentTick = m.sentTick;
  }

  private handleAppendRejected(m: Message, pr: Progress): void {
    let nextProbeIndex = m.rejectHint;
    if (m.logTerm > 0) {
      // Skip every entry of a term the follower does not have (fast backtracking).
      nextProbeIndex = this.log.findConflictByTerm(m.rejectHint, m.logTerm);
    }
    if (pr.maybeDecrTo(m.index, nextProbeIndex)) {
      if (pr.state === "replicate") pr.becomeProbe();
      this.maybeSendAppend(m.from, true);
    }
  }

  private handleAppendAccepted(m: Message, pr: Progress): void {
    const wasPaused = pr.isPaused();
    if (!(pr.maybeUpdate(m.index) || (pr.match === m.index && pr.state === "probe"))) return;
    if (pr.state === "probe") pr.becomeReplicate();
    else if (pr.state === "snapshot") {
      const snapshotIndex = pr.pendingSnapshot?.metadata.index ?? 0;
      if (pr.match >= snapshotIndex || pr.match + 1 >= this.log.firstIndex()) {
        pr.becomeProbe();
        pr.becomeReplicate();
      }
    } else pr.inflights.freeLE(m.index);
    if (this.maybeCommit()) this.commitBroadcastPending = true;
    else if (wasPaused) this.maybeSendAppend(m.from, true);
    // Pipelining: fill the in-flight window with whatever is left.
    while (this.maybeSendAppend(m.from, false)) {
      // Each call sends one more batch until the window is full or nothing is left.
    }
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) {
      this.sendTimeoutNow(m.from);
    }
  }

  private handleHeartbeatResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    this.noteLeaseAck(pr, m);
    pr.probeSent = false;
    // A full window after a heartbeat round trip means appends were lost: let one more out.
    if (pr.state === "replicate" && pr.inflights.full()) pr.inflights.freeFirstOne();
    if (pr.state === "snapshot") this.sendSnapshotChunk(m.from, pr);
    else if (pr.match < this.log.lastIndex()) this.maybeSendAppend(m.from, true);
    if (!m.context) return;
    const acks = this.readOnly.ack(m.from, m.context);
    if (!acks || this.voters.vote(acks) !== "won") return;
    for (const read of this.readOnly.release(m.context)) {
      this.answerRead(read.from, read.context, read.index);
    }
  }

  private handleSnapshotResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    const snapshot = pr.pendingSnapshot;
    if (pr.state !== "snapshot" || !snapshot || snapshot.metadata.index !== m.index) return;
    pr.snapshotAckedBytes = Math.min(m.snapshotOffsetBytes ?? 0, snapshot.data.length);
    if (pr.snapshotAckedBytes < snapshot.data.length) this.sendSnapshotChunk(m.from, pr);
  }

  private leaderReadIndex(m: Message): string | undefined {
    const context = m.context ?? new Uint8Array();
    if (this.voters.ids().length === 1 && this.voters.isVoter(this.id)) {
      this.answerRead(m.from, context, this.log.committed);
      return undefined;
    }
    if (!this.committedEntryInCurrentTerm()) {
      // The commit index of a new leader may be stale until its first entry commits.
      if (this.pendingReadIndexMessages.length >= this.cfg.maxPendingReadCount) {
        return `read dropped: ${this.cfg.maxPendingReadCount} reads are already waiting`;
      }
      this.pendingReadIndexMessages.push(m);
      return undefined;
    }
    return this.serveRead(m.from, context);
  }

  private serveRead(from: NodeId, context: Uint8Array): string | undefined {
    if (this.leaseValid()) {
      this.answerRead(from, context, this.log.committed);
      return undefined;
    }
    const read = { index: this.log.committed, from, context, acks: new Map([[this.id, true]]) };
    if (!this.readOnly.add(read)) {
      return `read dropped: duplicate context or ${this.cfg.maxPendingReadCount} reads waiting`;
    }
    this.bcastHeartbeat(context);
    return undefined;
  }

  private releasePendingReads(): void {
    if (this.pendingReadIndexMessages.length === 0 || !this.committedEntryInCurrentTerm()) return;
    const pending = this.pendingReadIndexMessages;
    this.pendingReadIndexMessages = [];
    for (const m of pending) this.serveRead(m.from, m.context ?? new Uint8Array());
  }

  /**
   * The leader lease: followers that acknowledged a message sent at tick `t` ignore elections
   * until their `t + electionTicks`, so the leader may read locally until then, less the drift.
   */
  private leaseValid(): boolean {
    if (this.cfg.readOnly !== "lease" || !this.leaseUsable || this.leadTransferee !== NONE) {
      return false;
    }
    const ackTick = this.voters.committedIndex((id) =>
      id === this.id ? this.tickCount : this.progress.get(id)?.ackedSentTick ?? -Infinity
    );
    return ackTick + this.cfg.electionTicks - this.cfg.leaseClockDriftTicks > this.tickCount;
  }

  private answerRead(from: NodeId, context: Uint8Array, index: number): void {
    if (from === this.id || from === NONE) this.readStates.push({ index, context });
    else this.send(emptyMessage({ type: "MsgReadIndexResp", to: from, index, context }));
  }

  private leaderTransfer(transferee: NodeId): string | undefined {
    const pr = this.progress.get(transferee);
    if (!pr || pr.isLearner || !this.voters.isVoter(transferee)) {
      return `transfer dropped: ${transferee} is not a voter`;
    }
    if (this.leadTransferee === transferee) return undefined;
    if (transferee === this.id) return undefined;
    this.leadTransferee = transferee;
    // The transfer must finish within an election timeout or it is abandoned.
    this.electionElapsedTicks = 0;
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(transferee);
    else this.maybeSendAppend(transferee, true);
    return undefined;
  }

  // ---- candidate and follower ------------------------------------------------------------------

  private stepCandidate(m: Message): void {
    const myResponse = this.state === "preCandidate" ? "MsgPreVoteResp" : "MsgVoteResp";
    switch (m.type) {
      case "MsgApp":
      case "MsgHeartbeat":
      case "MsgSnap":
        this.becomeFollower(m.term, m.from);
        this.stepFollower(m);
        return;
      case myResponse: {
        const result = this.poll(m.from, !m.reject);
        if (result === "won") {
          if (this.state === "preCandidate") this.campaignFor("election", false);
          else {
            this.becomeLeader();
            this.bcastAppend();
          }
        } else if (result === "lost") {
          this.becomeFollower(this.term, NONE);
        }
        return;
      }
    }
  }

  private forwardToLeader(m: Message): string | undefined {
    if (this.lead === NONE) return `${m.type} dropped: no leader known in term ${this.term}`;
    this.send({ ...m, to: this.lead });
    return undefined;
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case "MsgProp":
      case "MsgTransferLeader":
      case "MsgReadIndex":
        this.forwardToLeader(m);
        return;
      case "MsgApp":
        this.electionElapsedTicks = 0;
        this.lead = m.from;
        this.handleAppendEntries(m);
        return;
      case "MsgHeartbeat":
        this.electionElapsedTicks = 0;
        this.lead = m.from;
        this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
        this.send(
          emptyMessage({
            type: "MsgHeartbeatResp",
            to: m.from,
            context: m.context,
            sentTick: m.sentTick,
          }),
        );
        return;
      case "MsgSnap":
        this.electionElapsedTicks = 0;
        this.lead = m.from;
        this.handleSnapshotChunk(m);
        return;
      case "MsgTimeoutNow":
        // Leadership transfer: campaign at once, skipping pre-vote and leases.
        this.hup(true);
        return;
      case "MsgReadIndexResp":
        if (m.context) this.readStates.push({ index: m.index, context: m.context });
        return;
    }
  }

  private handleAppendEntries(m: Message): void {
    const base = { type: "MsgAppResp" as const, to: m.from, sentTick: m.sentTick };
    if (m.index < this.log.committed) {
      this.send(emptyMessage({ ...base, index: this.log.committed }));
      return;
    }
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== undefined) {
      this.send(emptyMessage({ ...base, index: lastNew }));
      return;
    }
    // Point the leader at the last entry that could match, a whole term at a time.
    const hintIndex = this.log.findConflictByTerm(
      Math.min(m.index, this.log.lastIndex()),
      m.logTerm,
    );
    const hintTerm = this.log.term(hintIndex) ?? 0;
    this.send(
      emptyMessage({
        ...base,
        index: m.index,
        reject: true,
        rejectHint: hintIndex,
        logTerm: hintTerm,
      }),
    );
  }

  private handleSnapshotChunk(m: Message): void {
    const piece = m.snapshot;
    if (!piece) return;
    const meta = piece.metadata;
    const offset = m.snapshotOffsetBytes ?? 0;
    const total = m.snapshotTotalBytes ?? piece.data.length;
    if (meta.index <= this.log.committed) {
      this.snapshotInbox = undefined;
      this.send(
        emptyMessage({
          type: "MsgAppResp",
          to: m.from,
          index: this.log.committed,
          sentTick: m.sentTick,
        }),
      );
      return;
    }
    if (total > this.cfg.maxSnapshotBytes) return;
    const current = this.snapshotInbox;
    const isCurrent = current !== undefined && current.from === m.from &&
      current.snapshot.metadata.index === meta.index &&
      current.snapshot.metadata.term === meta.term &&
      current.totalBytes === total;
    // A first chunk starts over, unless it is a duplicate of the transfer under way.
    if (offset === 0 && !(isCurrent && current.receivedBytes > 0)) {
      this.snapshotInbox = {
        from: m.from,
        snapshot: piece,
        chunks: [],
        receivedBytes: 0,
        totalBytes: total,
      };
    }
    const inbox = this.snapshotInbox;
    const sameSnapshot = inbox !== undefined && inbox.from === m.from &&
      inbox.snapshot.metadata.index === meta.index && inbox.snapshot.metadata.term === meta.term &&
      inbox.totalBytes === total;
    if (!sameSnapshot || offset !== inbox.receivedBytes) {
      this.send(emptyMessage({
        type: "MsgSnapResp",
        to: m.from,
        index: meta.index,
        snapshotOffsetBytes: sameSnapshot ? inbox.receivedBytes : 0,
      }));
      return;
    }
    inbox.chunks.push(piece.data.slice());
    inbox.receivedBytes += piece.data.length;
    if (inbox.receivedBytes < total) {
      this.send(emptyMessage({
        type: "MsgSnapResp",
        to: m.from,
        index: meta.index,
        snapshotOffsetBytes: inbox.receivedBytes,
      }));
      return;
    }
    this.snapshotInbox = undefined;
    const data = new Uint8Array(total);
    let at = 0;
    for (const chunk of inbox.chunks) {
      data.set(chunk, at);
      at += chunk.length;
    }
    const index = this.restore({ metadata: meta, data })
      ? this.log.lastIndex()
      : this.log.committed;
    this.send(emptyMessage({ type: "MsgAppResp", to: m.from, index, sentTick: m.sentTick }));
  }

  private restore(snapshot: Snapshot): boolean {
    const meta = snapshot.metadata;
    if (meta.index <= this.log.committed) return false;
    // A node that is not (yet) a member still restores: a joining node gets the membership that
    // precedes its own addition from the snapshot, and the addition from the log after it.
    const conf = meta.confState;
    if (this.log.matchTerm(meta.index, meta.term)) {
      // Our log already has the snapshot's last entry: just fast-forward the commit.
      this.log.commitTo(meta.index);
      return false;
    }
    this.log.restore(snapshot);
    this.progress.clear();
    this.switchToConfig(conf);
    return true;
  }
}

/**
 * Keeps one accepted append response per leader and term, with the highest index: within a term
 * the leader's log only grows, so the newest acknowledgement implies the earlier ones.
 */
function coalesceAppendResponses(msgs: Message[]): Message[] {
  const best = new Map<string, Message>();
  let duplicates = false;
  for (const m of msgs) {
    if (m.type !== "MsgAppResp" || m.reject) continue;
    const key = `${m.to}:${m.term}`;
    const seen = best.get(key);
    if (!seen) {
      best.set(key, m);
      continue;
    }
    duplicates = true;
    const sentTick = Math.max(seen.sentTick ?? -Infinity, m.sentTick ?? -Infinity);
    const merged = { ...m, index: Math.max(seen.index, m.index) };
    if (sentTick !== -Infinity) merged.sentTick = sentTick;
    best.set(key, merged);
  }
  if (!duplicates) return msgs;
  const out: Message[] = [];
  const lastAt = new Map<string, number>();
  msgs.forEach((m, i) => {
    if (m.type === "MsgAppResp" && !m.reject) lastAt.set(`${m.to}:${m.term}`, i);
  });
  msgs.forEach((m, i) => {
    if (m.type !== "MsgAppResp" || m.reject) out.push(m);
    else if (lastAt.get(`${m.to}:${m.term}`) === i) out.push(best.get(`${m.to}:${m.term}`)!);
  });
  return out;
}

/** Bytes of entries that carry data (empty entries never count against the uncommitted limit). */
function sumPayloadBytes(entries: Entry[]): number {
  let bytes = 0;
  for (const entry of entries) if (entry.data.length > 0) bytes += entrySizeBytes(entry);
  return bytes;
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

function sameSoftState(a: SoftState, b: SoftState): boolean {
  return a.leaderId === b.leaderId && a.role === b.role;
}
