/**
 * The data the Raft core exchanges with its driver: entries, messages, hard state, snapshots,
 * membership changes and the `Ready` batch.
 *
 * @module
 */

/** A node's identity in the cluster. `0` ({@linkcode NONE}) means "nobody". */
export type NodeId = number;

/** The id that stands for "no node": no leader known, no vote cast. */
export const NONE: NodeId = 0;

/** Why an entry is in the log: an application command, or a membership change. */
export type EntryType = "normal" | "confChange";

/**
 * One slot of the replicated log.
 *
 * @example
 * ```ts
 * import type { Entry } from "./types.ts";
 * const entry: Entry = { term: 2, index: 7, type: "normal", data: new Uint8Array([1]) };
 * ```
 */
export interface Entry {
  /** Term of the leader that created the entry. */
  term: number;
  /** Position in the log, from 1. */
  index: number;
  /** A command for the state machine, or a membership change. */
  type: EntryType;
  /** Application bytes, or an encoded {@linkcode ConfChange} when `type` is "confChange". */
  data: Uint8Array;
}

/**
 * What must be on stable storage before a vote or an acknowledgement leaves the node.
 *
 * @example
 * ```ts
 * import type { HardState } from "./types.ts";
 * const hardState: HardState = { term: 3, vote: 1, commit: 10 };
 * ```
 */
export interface HardState {
  /** The latest term this node has seen. */
  term: number;
  /** Who this node voted for in `term`, or {@linkcode NONE}. */
  vote: NodeId;
  /** Highest index known committed. */
  commit: number;
}

/**
 * The membership: voters, learners and, during joint consensus, the outgoing voters.
 *
 * @example
 * ```ts
 * import type { ConfState } from "./types.ts";
 * const conf: ConfState = { voters: [1, 2, 3], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
 * ```
 */
export interface ConfState {
  /** Voters (of the incoming configuration while joint). */
  voters: NodeId[];
  /** Members that receive the log but do not vote. */
  learners: NodeId[];
  /** Voters of the old configuration while in a joint configuration; empty otherwise. */
  votersOutgoing: NodeId[];
  /** Voters being demoted to learners once the joint configuration is left. */
  learnersNext: NodeId[];
  /** Whether the leader leaves the joint configuration by itself once it is applied. */
  autoLeave: boolean;
}

/** Where a snapshot sits in the log, and the membership at that point. */
export interface SnapshotMetadata {
  /** Index of the last entry the snapshot replaces. */
  index: number;
  /** Term of that entry. */
  term: number;
  /** Membership as of that entry. */
  confState: ConfState;
}

/**
 * The application's state machine at `metadata.index`, which replaces every entry up to it.
 *
 * @example
 * ```ts
 * import type { Snapshot } from "./types.ts";
 * const snapshot: Snapshot = {
 *   metadata: { index: 5, term: 1, confState: { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false } },
 *   data: new Uint8Array(),
 * };
 * ```
 */
export interface Snapshot {
  /** Where the snapshot sits in the log. */
  metadata: SnapshotMetadata;
  /** The application's state, opaque to Raft. */
  data: Uint8Array;
}

/** One membership step. */
export interface ConfChangeSingle {
  /** Add (or promote) a voter, add (or demote to) a learner, or remove a member. */
  type: "addVoter" | "addLearner" | "removeNode";
  /** The member concerned. */
  nodeId: NodeId;
}

/**
 * A membership change. One voter added or removed is applied directly; anything more goes through
 * joint consensus. An empty `changes` list leaves a joint configuration.
 *
 * @example
 * ```ts
 * import type { ConfChange } from "./types.ts";
 * const addFour: ConfChange = { changes: [{ type: "addVoter", nodeId: 4 }] };
 * const swap: ConfChange = {
 *   changes: [{ type: "addVoter", nodeId: 5 }, { type: "removeNode", nodeId: 1 }],
 *   transition: "auto",
 * };
 * ```
 */
export interface ConfChange {
  /** The steps, applied together. */
  changes: ConfChangeSingle[];
  /**
   * "auto" (default): simple when safe, else joint and left automatically. "joint": always joint,
   * left automatically. "explicit": joint, left only by proposing an empty change.
   */
  transition?: "auto" | "joint" | "explicit";
}

/** The kinds of message the core consumes and produces. Local ones never leave a node. */
export type MessageType =
  /** Local: start an election now. */
  | "MsgHup"
  /** Local: the leader should send heartbeats. */
  | "MsgBeat"
  /** Local: the leader should check that a quorum is still active. */
  | "MsgCheckQuorum"
  /** A proposal, possibly forwarded from a follower to the leader. */
  | "MsgProp"
  | "MsgApp"
  | "MsgAppResp"
  | "MsgVote"
  | "MsgVoteResp"
  | "MsgPreVote"
  | "MsgPreVoteResp"
  /** One chunk of a snapshot. */
  | "MsgSnap"
  /** How many bytes of a snapshot the follower holds so far. */
  | "MsgSnapResp"
  | "MsgHeartbeat"
  | "MsgHeartbeatResp"
  | "MsgUnreachable"
  | "MsgTransferLeader"
  | "MsgTimeoutNow"
  | "MsgReadIndex"
  | "MsgReadIndexResp";

/**
 * A Raft message. Fields a type does not use are left at their zero value.
 *
 * @example
 * ```ts
 * import { emptyMessage } from "./types.ts";
 * const heartbeat = emptyMessage({ type: "MsgHeartbeat", from: 1, to: 2, term: 4, commit: 9 });
 * ```
 */
export interface Message {
  /** What the message is. */
  type: MessageType;
  /** Recipient. */
  to: NodeId;
  /** Sender. */
  from: NodeId;
  /** Sender's term; 0 on forwarded proposals and reads, which act as local requests. */
  term: number;
  /** Term of the entry at `index` (the entry before `entries`, or the candidate's last entry). */
  logTerm: number;
  /** Index of the entry before `entries`, an acknowledged index, or a read's index. */
  index: number;
  /** Entries to append or propose. */
  entries: Entry[];
  /** The leader's commit index. */
  commit: number;
  /** Set on a refused vote or a rejected append. */
  reject: boolean;
  /** On a rejected append: the follower's guess of where the logs diverge (fast backtracking). */
  rejectHint: number;
  /** Read request id for ReadIndex, echoed in heartbeats and their responses. */
  context?: Uint8Array;
  /** On a vote request: set by leadership transfer to bypass the leader lease. */
  force?: boolean;
  /** On `MsgSnap`: the snapshot's metadata and this chunk's bytes. */
  snapshot?: Snapshot;
  /** On `MsgSnap`: where the chunk starts; on `MsgSnapResp`: bytes the follower holds. */
  snapshotOffsetBytes?: number;
  /** On `MsgSnap`: the size of the whole snapshot's data. */
  snapshotTotalBytes?: number;
  /** The leader's tick when it sent the message, echoed by the follower for the lease. */
  sentTick?: number;
}

/**
 * Builds a message with every unused field at its zero value.
 *
 * @example
 * ```ts
 * import { emptyMessage } from "./types.ts";
 * const hup = emptyMessage({ type: "MsgHup" });
 * ```
 */
export function emptyMessage(fields: Partial<Message> & { type: MessageType }): Message {
  return {
    to: NONE,
    from: NONE,
    term: 0,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    ...fields,
  };
}

/** The role a node plays in its current term. */
export type Role = "follower" | "preCandidate" | "candidate" | "leader";

/** Volatile state that the application may want to show or act on. */
export interface SoftState {
  /** The leader this node follows, or {@linkcode NONE}. */
  leaderId: NodeId;
  /** This node's role. */
  role: Role;
}

/**
 * The answer to a `readIndex(context)` call: once the state machine has applied `index`, reading
 * it is linearizable.
 */
export interface ReadState {
  /** Commit index at the time of the read: serve it once applied. */
  index: number;
  /** The context passed to `readIndex`. */
  context: Uint8Array;
}

/**
 * Everything the driver must do, in this order, before calling `advance()`:
 *
 * 1. persist `snapshot` (if any), then `entries`, then `hardState`, and fsync them when
 *    `mustSync` (a change of commit alone need not be fsynced: it is recomputed after a crash);
 * 2. only then send `messages`: votes and acknowledgements in them promise that state is durable.
 *    One exception: a leader may send its `MsgApp`, `MsgHeartbeat` and `MsgSnap` before its own
 *    write completes (section 10.2.1 of the Raft thesis), since its entries count towards commit
 *    only once `advance()` reports them persisted (see {@linkcode isLeaderStreamMessage});
 * 3. apply `snapshot` and then `committedEntries` to the state machine (calling
 *    `applyConfChange` for "confChange" entries);
 * 4. serve `readStates` once the state machine has applied their index;
 * 5. call `advance()`.
 *
 * @example
 * ```ts
 * import { RaftNode, MemoryStorage } from "./mod.ts";
 * const storage = MemoryStorage.bootstrap([1]);
 * const node = new RaftNode({ id: 1, storage });
 * node.campaign();
 * const ready = node.ready();
 * storage.append(ready.entries);
 * if (ready.hardState) storage.setHardState(ready.hardState);
 * node.advance();
 * ```
 */
export interface Ready {
  /** Set when the leader or role changed since the last `Ready`. */
  softState?: SoftState;
  /** Set when term, vote or commit changed: persist before sending `messages`. */
  hardState?: HardState;
  /** Entries to append to stable storage (replacing any with the same or higher index). */
  entries: Entry[];
  /** A snapshot received from the leader: persist it before `entries`, then restore from it. */
  snapshot?: Snapshot;
  /** Entries known committed, to apply in order. They are already on stable storage. */
  committedEntries: Entry[];
  /** Send only after `snapshot`, `entries` and `hardState` are durable. */
  messages: Message[];
  /** Completed read requests. */
  readStates: ReadState[];
  /** Whether the writes must be fsynced before messages leave (votes, entries, term changes). */
  mustSync: boolean;
}

/**
 * The application's log storage, read by the core. Writes happen in the driver, from `Ready`.
 * Indexes below `firstIndex()` are compacted into the snapshot.
 */
export interface Storage {
  /** The hard state and membership saved before a restart. */
  initialState(): { hardState: HardState; confState: ConfState };
  /** Entries in [lo, hi), at least one, stopping before `maxSizeBytes` is exceeded. */
  entries(lo: number, hi: number, maxSizeBytes: number): Entry[];
  /** Term of the entry at `index`; `undefined` when compacted (below firstIndex-1) or absent. */
  term(index: number): number | undefined;
  /** Index of the first entry still held (the snapshot's index + 1). */
  firstIndex(): number;
  /** Index of the last entry held. */
  lastIndex(): number;
  /** The latest snapshot, to send to a follower that is too far behind. */
  snapshot(): Snapshot;
}

/**
 * Thrown by `propose`, `proposeConfChange` and `transferLeadership` when the request cannot be
 * taken: no leader known, a transfer in progress, a pending membership change.
 */
export class ProposalDroppedError extends Error {
  /** Always "ProposalDroppedError". */
  override name = "ProposalDroppedError";
  /** The leader this node knows of, or {@linkcode NONE}; retry there. */
  readonly leaderId: NodeId;
  /** `message` says why the request was dropped. */
  constructor(message: string, leaderId: NodeId) {
    super(message);
    this.leaderId = leaderId;
  }
}

/**
 * Whether a leader may send `message` before persisting the `Ready` it came in: appends,
 * heartbeats and snapshot chunks promise nothing about the leader's own disk.
 */
export function isLeaderStreamMessage(message: Message): boolean {
  return message.type === "MsgApp" || message.type === "MsgHeartbeat" || message.type === "MsgSnap";
}

/** An empty membership. */
export function emptyConfState(): ConfState {
  return { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
}

/** Approximate bytes an entry takes in a message, for flow control and batching limits. */
export function entrySizeBytes(entry: Entry): number {
  return entry.data.length + 24;
}
