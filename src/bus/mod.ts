/**
 * The cluster bus: one TCP port per node, shared by Raft, forwarding, replication and migration.
 *
 * - The frame: `"HCBS"` magic (4 bytes), version 1 (1), type (1), body length (4, big-endian),
 *   then a CBOR payload and, when a cluster secret is configured, an HMAC-SHA-256 tag of header
 *   and payload. {@linkcode encodeFrame}, {@linkcode FrameDecoder} (incremental, bounded by
 *   `maxFrameBytes`), {@linkcode decodePayload}.
 * - The frame types: {@linkcode BusFrameType}, one range per user (Raft 0x05-0x0f, forwarding
 *   0x10-0x1f, replication 0x20-0x2f, migration 0x30-0x3f), listed in {@linkcode FRAME_TYPES}.
 * - The {@linkcode Bus}: one outgoing link per peer with a bounded queue (frames and bytes; past
 *   the bound a send is refused and counted, nothing queued is dropped), backpressure (frames wait
 *   in the queue while the socket holds more than `maxPendingBytes`), reconnection with
 *   exponential backoff and jitter (timers and randomness injectable), and inbound connections
 *   checked frame by frame: a connection that sends a malformed frame or one whose tag does not
 *   verify is closed, counted and logged once per host. A handler per frame type receives what
 *   passes; {@linkcode Bus.stats} counts frames and bytes per type, drops, authentication
 *   failures and reconnects.
 *
 * @example
 * ```ts
 * import { BusFrameType, decodePayload, encodeFrame, FrameDecoder } from "@hypercache/hypercache/bus";
 * import { encode } from "cborg";
 * const secret = new TextEncoder().encode("cluster secret");
 * const frame = encodeFrame(BusFrameType.forwardRequest, encode(["GET", "k"]), secret);
 * const decoder = new FrameDecoder({ maxFrameBytes: 1024, secret });
 * const [received] = decoder.push(frame);
 * received.authentic; // true
 * decodePayload(received.payload); // ["GET", "k"]
 * ```
 *
 * @module
 */
export { Bus, DEFAULT_BUS_LIMITS } from "./bus.ts";
export {
  decodePayload,
  encodeFrame,
  type Frame,
  FRAME_HEADER_BYTES,
  FRAME_MAGIC,
  FRAME_VERSION,
  frameBytes,
  FrameDecoder,
  type FrameDecoderOptions,
  FrameError,
  type FrameErrorReason,
  MAC_BYTES,
} from "./frame.ts";
export {
  BusFrameType,
  type BusFrameTypeName,
  FRAME_TYPES,
  type FrameTypeInfo,
  frameTypeInfo,
  frameTypeName,
  type FrameTypeUser,
} from "./frame_types.ts";
export type {
  BusLimits,
  BusOptions,
  BusStats,
  BusTimers,
  DropReason,
  FrameHandler,
  FrameTypeStats,
  InboundPeer,
  PeerAddress,
  PeerId,
  PeerLinkStatus,
  SendResult,
} from "./types.ts";
export type { Runtime } from "../runtime/types.ts";
