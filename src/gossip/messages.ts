/**
 * The gossip wire format. A message is a CBOR array whose first item is its type; a datagram
 * (a compound packet) is one version byte followed by a CBOR array of messages, so a packet is
 * built by concatenating messages encoded once, and piggybacked broadcasts cost no re-encoding.
 * A push-pull stream carries one CBOR message with the sender's full state.
 *
 * @module
 */
import { decode, encode } from "cborg";
import { assert } from "../_assert.ts";
import type { MemberState } from "./types.ts";

/** First byte of every datagram and stream message; a peer speaking another version is ignored. */
export const WIRE_VERSION = 1;

/** Message type tags (first item of each message array). */
export const MessageType = {
  ping: 0,
  indirectPing: 1,
  ack: 2,
  nack: 3,
  suspect: 4,
  alive: 5,
  dead: 6,
  user: 7,
  pushPull: 8,
} as const;

/** A direct probe of `targetId`; the ack goes back to the datagram's source. */
export interface PingMessage {
  type: "ping";
  seq: number;
  targetId: string;
  fromId: string;
}
/** A request to probe `targetId` at `host:port` on the sender's behalf. */
export interface IndirectPingMessage {
  type: "indirectPing";
  seq: number;
  targetId: string;
  host: string;
  port: number;
  nack: boolean;
  fromId: string;
}
export interface AckMessage {
  type: "ack";
  seq: number;
}
export interface NackMessage {
  type: "nack";
  seq: number;
}
export interface SuspectMessage {
  type: "suspect";
  incarnation: number;
  id: string;
  fromId: string;
}
export interface AliveMessage {
  type: "alive";
  incarnation: number;
  id: string;
  host: string;
  port: number;
  meta: Uint8Array;
}
/** `fromId === id` means the member left gracefully. */
export interface DeadMessage {
  type: "dead";
  incarnation: number;
  id: string;
  fromId: string;
}
export interface UserMessage {
  type: "user";
  ltime: number;
  name: string;
  payload: Uint8Array;
  originId: string;
}
/** One member in a push-pull state transfer. */
export interface PushPullEntry {
  id: string;
  host: string;
  port: number;
  incarnation: number;
  state: MemberState;
  meta: Uint8Array;
}
export interface PushPullMessage {
  type: "pushPull";
  join: boolean;
  members: PushPullEntry[];
  eventLtime: number;
  /** Recent user events (absent from peers that send none). */
  events: UserMessage[];
}

/** Every message that travels in datagrams. */
export type PacketMessage =
  | PingMessage
  | IndirectPingMessage
  | AckMessage
  | NackMessage
  | SuspectMessage
  | AliveMessage
  | DeadMessage
  | UserMessage;

const STATE_CODES: Record<MemberState, number> = { alive: 0, suspect: 1, dead: 2, left: 3 };
const STATES: MemberState[] = ["alive", "suspect", "dead", "left"];

/** Encodes one datagram message as a CBOR array (without the packet framing). */
export function encodeMessage(message: PacketMessage): Uint8Array {
  switch (message.type) {
    case "ping":
      return encode([MessageType.ping, message.seq, message.targetId, message.fromId]);
    case "indirectPing":
      return encode([
        MessageType.indirectPing,
        message.seq,
        message.targetId,
        message.host,
        message.port,
        message.nack,
        message.fromId,
      ]);
    case "ack":
      return encode([MessageType.ack, message.seq]);
    case "nack":
      return encode([MessageType.nack, message.seq]);
    case "suspect":
      return encode([MessageType.suspect, message.incarnation, message.id, message.fromId]);
    case "alive":
      return encode([
        MessageType.alive,
        message.incarnation,
        message.id,
        message.host,
        message.port,
        message.meta,
      ]);
    case "dead":
      return encode([MessageType.dead, message.incarnation, message.id, message.fromId]);
    case "user":
      return encode([
        MessageType.user,
        message.ltime,
        message.name,
        message.payload,
        message.originId,
      ]);
  }
}

/** Bytes of framing around the messages of a packet: the version byte and the array header. */
export const PACKET_OVERHEAD_BYTES = 4;

/**
 * Builds a compound packet from encoded messages.
 *
 * @example
 * ```ts
 * import { decodePacket, encodeMessage, encodePacket } from "./messages.ts";
 * const bytes = encodePacket([encodeMessage({ type: "ack", seq: 7 })]);
 * decodePacket(bytes); // [{ type: "ack", seq: 7 }]
 * ```
 */
export function encodePacket(messages: Uint8Array[]): Uint8Array {
  assert(messages.length < 65536, "a packet holds fewer than 65536 messages");
  let size = 0;
  for (const m of messages) size += m.length;
  const header = messages.length < 24 ? 1 : messages.length < 256 ? 2 : 3;
  const out = new Uint8Array(1 + header + size);
  out[0] = WIRE_VERSION;
  if (header === 1) {
    out[1] = 0x80 | messages.length;
  } else if (header === 2) {
    out[1] = 0x98;
    out[2] = messages.length;
  } else {
    out[1] = 0x99;
    out[2] = messages.length >> 8;
    out[3] = messages.length & 0xff;
  }
  let offset = 1 + header;
  for (const m of messages) {
    out.set(m, offset);
    offset += m.length;
  }
  return out;
}

/** Decodes a compound packet; throws a `TypeError` on anything malformed. */
export function decodePacket(bytes: Uint8Array): PacketMessage[] {
  if (bytes.length < 2 || bytes[0] !== WIRE_VERSION) {
    throw new TypeError(
      `Cannot decode gossip packet: unknown version: current value is ${bytes[0]}`,
    );
  }
  const items = decode(bytes.subarray(1));
  if (!Array.isArray(items)) throw new TypeError("Cannot decode gossip packet: not an array");
  return items.map(decodeMessage);
}

function isCount(x: unknown): x is number {
  return typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
}
function isPort(x: unknown): x is number {
  return isCount(x) && x <= 65535;
}
function isText(x: unknown, maxLength = 255): x is string {
  return typeof x === "string" && x.length <= maxLength;
}
function isBytes(x: unknown, maxLength = 4096): x is Uint8Array {
  return x instanceof Uint8Array && x.length <= maxLength;
}

function bad(what: string): never {
  throw new TypeError(`Cannot decode gossip message: malformed ${what}`);
}

function decodeMessage(item: unknown): PacketMessage {
  if (!Array.isArray(item)) bad("message");
  const [tag, a, b, c, d, e, f] = item;
  switch (tag) {
    case MessageType.ping:
      if (!isCount(a) || !isText(b) || !isText(c)) bad("ping");
      return { type: "ping", seq: a, targetId: b, fromId: c };
    case MessageType.indirectPing:
      if (!isCount(a) || !isText(b) || !isText(c) || !isPort(d)) bad("indirect ping");
      if (typeof e !== "boolean" || !isText(f)) bad("indirect ping");
      return { type: "indirectPing", seq: a, targetId: b, host: c, port: d, nack: e, fromId: f };
    case MessageType.ack:
      if (!isCount(a)) bad("ack");
      return { type: "ack", seq: a };
    case MessageType.nack:
      if (!isCount(a)) bad("nack");
      return { type: "nack", seq: a };
    case MessageType.suspect:
      if (!isCount(a) || !isText(b) || !isText(c)) bad("suspect");
      return { type: "suspect", incarnation: a, id: b, fromId: c };
    case MessageType.alive:
      if (!isCount(a) || !isText(b) || !isText(c) || !isPort(d) || !isBytes(e)) bad("alive");
      return { type: "alive", incarnation: a, id: b, host: c, port: d, meta: e };
    case MessageType.dead:
      if (!isCount(a) || !isText(b) || !isText(c)) bad("dead");
      return { type: "dead", incarnation: a, id: b, fromId: c };
    case MessageType.user:
      if (!isCount(a) || !isText(b) || !isBytes(c) || !isText(d)) bad("user event");
      return { type: "user", ltime: a, name: b, payload: c, originId: d };
    default:
      bad(`type ${String(tag)}`);
  }
}

/** Encodes a push-pull state transfer (one stream message). */
export function encodePushPull(message: PushPullMessage): Uint8Array {
  const members = message.members.map((m) => [
    m.id,
    m.host,
    m.port,
    m.incarnation,
    STATE_CODES[m.state],
    m.meta,
  ]);
  const events = message.events.map((e) => [e.ltime, e.name, e.payload, e.originId]);
  const body = encode([MessageType.pushPull, message.join, members, message.eventLtime, events]);
  const out = new Uint8Array(body.length + 1);
  out[0] = WIRE_VERSION;
  out.set(body, 1);
  return out;
}

/** Decodes a push-pull state transfer; throws a `TypeError` on anything malformed. */
export function decodePushPull(bytes: Uint8Array): PushPullMessage {
  if (bytes.length < 2 || bytes[0] !== WIRE_VERSION) {
    throw new TypeError(`Cannot decode push-pull: unknown version: current value is ${bytes[0]}`);
  }
  const item = decode(bytes.subarray(1));
  if (!Array.isArray(item) || item[0] !== MessageType.pushPull) bad("push-pull");
  const [, join, list, eventLtime, eventList = []] = item;
  if (
    typeof join !== "boolean" || !Array.isArray(list) || !isCount(eventLtime) ||
    !Array.isArray(eventList)
  ) {
    bad("push-pull");
  }
  const members = list.map((entry: unknown): PushPullEntry => {
    if (!Array.isArray(entry)) bad("push-pull member");
    const [id, host, port, incarnation, state, meta] = entry;
    if (!isText(id) || !isText(host) || !isPort(port) || !isCount(incarnation)) {
      bad("push-pull member");
    }
    if (!isCount(state) || state > 3 || !isBytes(meta)) bad("push-pull member");
    return { id, host, port, incarnation, state: STATES[state], meta };
  });
  const events = eventList.map((entry: unknown): UserMessage => {
    if (!Array.isArray(entry)) bad("push-pull event");
    const [ltime, name, payload, originId] = entry;
    if (!isCount(ltime) || !isText(name) || !isBytes(payload) || !isText(originId)) {
      bad("push-pull event");
    }
    return { type: "user", ltime, name, payload, originId };
  });
  return { type: "pushPull", join, members, eventLtime, events };
}
