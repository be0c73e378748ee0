/**
 * The registry of cluster bus frame types: which byte means what, and which part of HyperCache
 * sends it. Each user owns a range, so that a new message never needs a number another one took:
 *
 * | range       | user        | frame types                                                |
 * | ----------- | ----------- | ---------------------------------------------------------- |
 * | 0x00        | (none)      | never valid: a zeroed buffer is not a frame                |
 * | 0x01 - 0x04 | the bus     | reserved for the bus's own control frames (hello, ping)    |
 * | 0x05 - 0x0f | Raft        | heartbeat, election, append, snapshot, request (0x0a-0x0f) |
 * | 0x10 - 0x1f | forwarding  | a client command forwarded to its slot's owner, its reply  |
 * | 0x20 - 0x2f | replication | replica writes and acks, quorum reads, digests, repairs    |
 * | 0x30 - 0x3f | migration   | a slot's keys moving between nodes, and their acks         |
 * | 0x40 - 0xff | (free)      | unassigned                                                 |
 *
 * A frame whose type is not in {@linkcode FRAME_TYPES} is malformed: the connection that sent it
 * is closed. A declared type that no handler serves on this node is dropped and counted, so that
 * nodes of different versions can share a cluster while a feature rolls out.
 *
 * @module
 */

/** The frame types of the cluster bus, by name. */
export const BusFrameType = {
  /** Raft MsgHeartbeat and MsgHeartbeatResp. */
  raftHeartbeat: 0x05,
  /** Raft votes and pre-votes, their responses, and MsgTimeoutNow. */
  raftElection: 0x06,
  /** Raft MsgApp and MsgAppResp. */
  raftAppend: 0x07,
  /** Raft MsgSnap (one chunk of a snapshot) and MsgSnapResp. */
  raftSnapshot: 0x08,
  /** Raft proposals, ReadIndex requests and responses, leadership transfers forwarded. */
  raftRequest: 0x09,
  /** A client command forwarded to the node that owns its slot, with the sender's epoch. */
  forwardRequest: 0x10,
  /** The reply to a forwarded command (or a redirect when the epochs differ). */
  forwardReply: 0x11,
  /** A PUBLISH relayed to every other node, for their subscribers. */
  publish: 0x12,
  /** A forwarded command whose client went away: the owner stops waiting for it (a blocking pop). */
  forwardCancel: 0x13,
  /** A versioned write sent by a slot's coordinator to another replica. */
  replicaWrite: 0x20,
  /** A replica's acknowledgement of a write, counted towards `write_quorum`. */
  replicaAck: 0x21,
  /** A read sent to a replica for `read_quorum`. */
  replicaRead: 0x22,
  /** A replica's answer to a read, with versions for read repair. */
  replicaReadReply: 0x23,
  /** Writes held for a replica that was down (hinted handoff). */
  replicaHint: 0x24,
  /** Slot digests exchanged by the anti-entropy pass. */
  replicaDigest: 0x25,
  /** Keys sent to repair a replica that anti-entropy found stale. */
  replicaRepair: 0x26,
  /** A batch of a migrating slot's keys. */
  migrateBatch: 0x30,
  /** The receiver's acknowledgement of a batch (flow control and resume point). */
  migrateAck: 0x31,
  /** The end of a slot's migration: the sender has no more keys of it. */
  migrateDone: 0x32,
} as const;

/** The name of a frame type. */
export type BusFrameTypeName = keyof typeof BusFrameType;

/** Which part of HyperCache a frame type belongs to. */
export type FrameTypeUser = "raft" | "forwarding" | "replication" | "migration";

/** What the registry says about one frame type. */
export interface FrameTypeInfo {
  /** The type byte. */
  type: number;
  /** Its name in {@linkcode BusFrameType}. */
  name: BusFrameTypeName;
  /** The part of HyperCache that sends and receives it. */
  user: FrameTypeUser;
}

function userOf(type: number): FrameTypeUser {
  if (type < 0x10) return "raft";
  if (type < 0x20) return "forwarding";
  if (type < 0x30) return "replication";
  return "migration";
}

/** Every declared frame type, by its byte. */
export const FRAME_TYPES: ReadonlyMap<number, FrameTypeInfo> = new Map(
  (Object.entries(BusFrameType) as [BusFrameTypeName, number][]).map((
    [name, type],
  ) => [type, { type, name, user: userOf(type) }]),
);

/**
 * The registry's entry for a type byte, or undefined when none is declared.
 *
 * @example
 * ```ts
 * import { BusFrameType, frameTypeInfo } from "./frame_types.ts";
 * frameTypeInfo(BusFrameType.raftAppend)?.name; // "raftAppend"
 * frameTypeInfo(0x99); // undefined
 * ```
 */
export function frameTypeInfo(type: number): FrameTypeInfo | undefined {
  return FRAME_TYPES.get(type);
}

/** The name of a type byte, or its hex value when none is declared (for logs and metrics). */
export function frameTypeName(type: number): string {
  return FRAME_TYPES.get(type)?.name ?? `0x${type.toString(16).padStart(2, "0")}`;
}
