/**
 * Raft messages on the cluster bus: the frame (magic, version, type, length, CBOR payload, and an
 * HMAC-SHA-256 tag when a cluster secret is set), message encoding, and strict validation of
 * everything received.
 *
 * Frame layout: `"HCBS"` (4 bytes), version 1 (1), type (1), body length (4, big-endian), then
 * the body: the CBOR payload, followed by a 32-byte HMAC-SHA-256 of header and payload under the
 * cluster secret when one is configured.
 *
 * @module
 */
import { decode, encode } from "cborg";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import type { Entry, Message, MessageType, Snapshot } from "./types.ts";

/** The four bytes every frame starts with ("HCBS": HyperCache bus). */
export const FRAME_MAGIC: readonly number[] = [0x48, 0x43, 0x42, 0x53];
export const FRAME_VERSION = 1;
export const FRAME_HEADER_BYTES = 10;
export const MAC_BYTES = 32;

/** Frame types of the cluster bus used by Raft. */
export const FrameType = {
  heartbeat: 0x05,
  election: 0x06,
  append: 0x07,
  snapshot: 0x08,
  /** Forwarded proposals, reads and transfer requests. */
  request: 0x09,
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

function tag(secret: Uint8Array, header: Uint8Array, payload: Uint8Array): Uint8Array {
  const input = new Uint8Array(header.length + payload.length);
  input.set(header);
  input.set(payload, header.length);
  return hmac(sha256, secret, input);
}

/**
 * Builds one frame around `payload`, authenticated when `secret` is given.
 *
 * @example
 * ```ts
 * import { encodeFrame, FrameType } from "./codec.ts";
 * const frame = encodeFrame(FrameType.heartbeat, new Uint8Array([0xa0]));
 * frame.length; // 11: a 10-byte header and the payload
 * ```
 */
export function encodeFrame(type: number, payload: Uint8Array, secret?: Uint8Array): Uint8Array {
  const macBytes = secret ? MAC_BYTES : 0;
  const frame = new Uint8Array(FRAME_HEADER_BYTES + payload.length + macBytes);
  frame.set(FRAME_MAGIC, 0);
  frame[4] = FRAME_VERSION;
  frame[5] = type;
  new DataView(frame.buffer).setUint32(6, payload.length + macBytes);
  frame.set(payload, FRAME_HEADER_BYTES);
  if (secret) {
    frame.set(
      tag(secret, frame.subarray(0, FRAME_HEADER_BYTES), payload),
      FRAME_HEADER_BYTES + payload.length,
    );
  }
  return frame;
}

/** One frame read off a connection. `authentic` is false when its tag did not verify. */
export interface Frame {
  /** Frame type byte. */
  type: number;
  /** The CBOR payload (without the tag). */
  payload: Uint8Array;
  /** Whether the tag verified (always true without a secret). */
  authentic: boolean;
}

/** Thrown for bytes that are not a frame of ours: the connection must be closed. */
export class FrameError extends Error {
  /** Always "FrameError". */
  override name = "FrameError";
}

/**
 * Splits a byte stream into frames, bounding what it buffers by `maxFrameBytes`.
 *
 * @example
 * ```ts
 * import { encodeFrame, FrameDecoder } from "./codec.ts";
 * const decoder = new FrameDecoder({ maxFrameBytes: 1024 });
 * decoder.push(encodeFrame(7, new Uint8Array([1, 2])))[0].payload; // Uint8Array [1, 2]
 * ```
 */
export class FrameDecoder {
  private buffer = new Uint8Array(0);
  private readonly maxFrameBytes: number;
  private readonly secret?: Uint8Array;

  /** `maxFrameBytes` bounds a frame's body; `secret` enables HMAC verification. */
  constructor(options: { maxFrameBytes: number; secret?: Uint8Array }) {
    this.maxFrameBytes = options.maxFrameBytes;
    this.secret = options.secret;
  }

  /** Adds received bytes and returns the frames they complete; throws `FrameError` on garbage. */
  push(bytes: Uint8Array): Frame[] {
    const joined = new Uint8Array(this.buffer.length + bytes.length);
    joined.set(this.buffer);
    joined.set(bytes, this.buffer.length);
    const frames: Frame[] = [];
    let at = 0;
    const view = new DataView(joined.buffer);
    while (joined.length - at >= FRAME_HEADER_BYTES) {
      for (let i = 0; i < 4; i++) {
        if (joined[at + i] !== FRAME_MAGIC[i]) {
          throw new FrameError("bad magic: not a cluster bus frame");
        }
      }
      if (joined[at + 4] !== FRAME_VERSION) {
        throw new FrameError(`unsupported frame version ${joined[at + 4]}`);
      }
      const length = view.getUint32(at + 6);
      if (length > this.maxFrameBytes) {
        throw new FrameError(`frame of ${length} bytes exceeds the limit of ${this.maxFrameBytes}`);
      }
      const end = at + FRAME_HEADER_BYTES + length;
      if (end > joined.length) break;
      frames.push(this.open(joined, at, end));
      at = end;
    }
    this.buffer = joined.slice(at);
    return frames;
  }

  private open(bytes: Uint8Array, start: number, end: number): Frame {
    const type = bytes[start + 5];
    const bodyStart = start + FRAME_HEADER_BYTES;
    if (!this.secret) return { type, payload: bytes.slice(bodyStart, end), authentic: true };
    if (end - bodyStart < MAC_BYTES) return { type, payload: new Uint8Array(), authentic: false };
    const payload = bytes.slice(bodyStart, end - MAC_BYTES);
    const expected = tag(this.secret, bytes.subarray(start, bodyStart), payload);
    return {
      type,
      payload,
      authentic: constantTimeEqual(expected, bytes.subarray(end - MAC_BYTES, end)),
    };
  }
}

function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}
