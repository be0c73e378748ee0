/**
 * Raft messages on the cluster bus: which frame type each message travels in, message encoding
 * (CBOR), and strict validation of everything received. The frame itself (magic, version, type,
 * length, and the HMAC-SHA-256 tag when a cluster secret is set) is the bus's: `src/bus/frame.ts`,
 * re-exported here.
 *
 * @module
 */
import { decode, encode } from "cborg";
import { BusFrameType } from "../bus/frame_types.ts";
import type { Entry, Message, MessageType, Snapshot } from "./types.ts";

export {
  encodeFrame,
  type Frame,
  FRAME_HEADER_BYTES,
  FRAME_MAGIC,
  FRAME_VERSION,
  FrameDecoder,
  FrameError,
  MAC_BYTES,
} from "../bus/frame.ts";

/** Frame types of the cluster bus used by Raft (declared in the bus's `BusFrameType`). */
export const FrameType = {
  heartbeat: BusFrameType.raftHeartbeat,
  election: BusFrameType.raftElection,
  append: BusFrameType.raftAppend,
  snapshot: BusFrameType.raftSnapshot,
  /** Forwarded proposals, reads and transfer requests. */
  request: BusFrameType.raftRequest,
} as const;

const FRAME_OF: Record<string, number> = {
  MsgHeartbeat: FrameType.heartbeat,
  MsgHeartbeatResp: FrameType.heartbeat,
  MsgVote: FrameType.election,
  MsgVoteResp: FrameType.election,
  MsgPreVote: FrameType.election,
  MsgPreVoteResp: FrameType.election,
  MsgTimeoutNow: FrameType.election,
  MsgApp: FrameType.append,
  MsgAppResp: FrameType.append,
  MsgSnap: FrameType.snapshot,
  MsgSnapResp: FrameType.snapshot,
  MsgProp: FrameType.request,
  MsgReadIndex: FrameType.request,
  MsgReadIndexResp: FrameType.request,
  MsgTransferLeader: FrameType.request,
};

/** Message types that may cross the network; local ones (MsgHup, MsgBeat...) never do. */
const NETWORK_TYPES = new Set(Object.keys(FRAME_OF));

/** The frame type a message travels in. */
export function frameTypeOf(type: MessageType): number {
  const frame = FRAME_OF[type];
  if (frame === undefined) throw new TypeError(`Cannot send a ${type}: it is a local message`);
  return frame;
}

type WireEntry = [number, number, number, Uint8Array];

function entryToWire(e: Entry): WireEntry {
  return [e.term, e.index, e.type === "confChange" ? 1 : 0, e.data];
}

/** Encodes a message as CBOR, leaving out zero values. */
export function encodeMessage(m: Message): Uint8Array {
  const wire: Record<string, unknown> = { y: m.type, t: m.to, f: m.from };
  if (m.term) wire.m = m.term;
  if (m.logTerm) wire.l = m.logTerm;
  if (m.index) wire.i = m.index;
  if (m.entries.length > 0) wire.e = m.entries.map(entryToWire);
  if (m.commit) wire.c = m.commit;
  if (m.reject) wire.r = true;
  if (m.rejectHint) wire.h = m.rejectHint;
  if (m.context) wire.x = m.context;
  if (m.force) wire.o = true;
  if (m.snapshot) {
    const meta = m.snapshot.metadata;
    wire.s = [meta.index, meta.term, meta.confState, m.snapshot.data];
  }
  if (m.snapshotOffsetBytes !== undefined) wire.so = m.snapshotOffsetBytes;
  if (m.snapshotTotalBytes !== undefined) wire.st = m.snapshotTotalBytes;
  if (m.sentTick !== undefined) wire.k = m.sentTick;
  return encode(wire);
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function count(wire: Record<string, unknown>, key: string): number {
  const value = wire[key] ?? 0;
  if (!isCount(value)) {
    throw new TypeError(`field '${key}' must be a non-negative integer: got ${String(value)}`);
  }
  return value;
}

function ids(value: unknown, name: string): number[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every(isCount)) {
    throw new TypeError(`'${name}' must be a list of ids`);
  }
  return value;
}

/** Decodes and validates a message; throws a `TypeError` saying what is wrong. */
export function decodeMessage(payload: Uint8Array): Message {
  const wire = decode(payload) as Record<string, unknown>;
  if (typeof wire !== "object" || wire === null || Array.isArray(wire)) {
    throw new TypeError("a message must be a map");
  }
  const type = wire.y;
  if (typeof type !== "string" || !NETWORK_TYPES.has(type)) {
    throw new TypeError(`unknown message type ${String(type)}`);
  }
  const m: Message = {
    type: type as MessageType,
    to: count(wire, "t"),
    from: count(wire, "f"),
    term: count(wire, "m"),
    logTerm: count(wire, "l"),
    index: count(wire, "i"),
    entries: [],
    commit: count(wire, "c"),
    reject: wire.r === true,
    rejectHint: count(wire, "h"),
  };
  if (wire.e !== undefined) {
    if (!Array.isArray(wire.e)) throw new TypeError("'entries' must be a list");
    m.entries = wire.e.map((raw: unknown) => {
      const e = raw as WireEntry;
      if (!Array.isArray(e) || !isCount(e[0]) || !isCount(e[1]) || !(e[3] instanceof Uint8Array)) {
        throw new TypeError("an entry must be [term, index, type, data]");
      }
      return { term: e[0], index: e[1], type: e[2] === 1 ? "confChange" : "normal", data: e[3] };
    });
  }
  if (wire.x !== undefined) {
    if (!(wire.x instanceof Uint8Array)) throw new TypeError("'context' must be bytes");
    m.context = wire.x;
  }
  if (wire.o === true) m.force = true;
  if (wire.s !== undefined) m.snapshot = decodeSnapshotPiece(wire.s);
  if (wire.so !== undefined) m.snapshotOffsetBytes = count(wire, "so");
  if (wire.st !== undefined) m.snapshotTotalBytes = count(wire, "st");
  if (wire.k !== undefined) m.sentTick = count(wire, "k");
  return m;
}

function decodeSnapshotPiece(raw: unknown): Snapshot {
  const s = raw as [number, number, Record<string, unknown>, Uint8Array];
  if (!Array.isArray(s) || !isCount(s[0]) || !isCount(s[1]) || !(s[3] instanceof Uint8Array)) {
    throw new TypeError("a snapshot must be [index, term, confState, data]");
  }
  const c = s[2] ?? {};
  return {
    metadata: {
      index: s[0],
      term: s[1],
      confState: {
        voters: ids(c.voters, "voters"),
        learners: ids(c.learners, "learners"),
        votersOutgoing: ids(c.votersOutgoing, "votersOutgoing"),
        learnersNext: ids(c.learnersNext, "learnersNext"),
        autoLeave: c.autoLeave === true,
      },
    },
    data: s[3],
  };
}
