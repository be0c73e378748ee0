/**
 * The types of the cluster bus: options and limits, handlers, results of a send, timers, and the
 * counters it keeps for `/metrics`.
 *
 * @module
 */
import type { Runtime } from "../runtime/types.ts";

/** A peer's id: a Raft node id, or a cluster member's name. */
export type PeerId = number | string;

/** Where a peer listens. */
export interface PeerAddress {
  /** Host name or IP address. */
  hostname: string;
  /** TCP port of the cluster bus. */
  port: number;
}

/** Timers and a monotonic clock, injected so that tests decide when a reconnect happens. */
export interface BusTimers {
  /** Milliseconds from an arbitrary origin; never goes backwards. */
  now(): number;
  /** Calls `callback` once after `delayMs`; returns a handle for `clearTimeout`. */
  setTimeout(callback: () => void, delayMs: number): unknown;
  /** Cancels a timer that has not fired. */
  clearTimeout(handle: unknown): void;
}

/** The bounds of a bus, each with its default. */
export interface BusLimits {
  /**
   * Largest frame body (payload and tag), sent or received. A larger send is refused
   * ("oversized"); a received header announcing more closes the connection. @default 16 MiB
   */
  maxFrameBytes: number;
  /** Bytes waiting per peer before further sends are refused ("queueFull"). @default 64 MiB */
  maxQueueBytes: number;
  /** Frames waiting per peer before further sends are refused ("queueFull"). @default 10000 */
  maxQueueCount: number;
  /**
   * Bytes a peer's socket may hold unsent before the link stops writing to it and keeps frames
   * in its own bounded queue until the socket drains. @default 4 MiB
   */
  maxPendingBytes: number;
  /** First reconnect delay; each failed attempt doubles it. @default 20 */
  reconnectMinMs: number;
  /**
   * Longest reconnect delay. A link retries for as long as its peer is configured, so this also
   * bounds the rate of attempts to a peer that is gone (until `removePeer`). A connection must
   * last this long to reset the backoff, so a peer that accepts and closes at once (refusing our
   * secret, say) is not redialled in a tight loop. @default 1000
   */
  reconnectMaxMs: number;
  /** A connection attempt that has not completed by then counts as failed. @default 2000 */
  connectTimeoutMs: number;
  /** Inbound connections at once; more are closed as they open. @default 256 */
  maxInboundConnections: number;
}

/** Options of {@linkcode Bus.start}. */
export interface BusOptions extends Partial<BusLimits> {
  /** The runtime adapter that provides TCP; its clock, timers and randomness, when it has them,
   * are the bus's unless `timers` and `random` are given. */
  runtime:
    & Pick<Runtime, "listenTcp" | "connectTcp">
    & Partial<Pick<Runtime, "clock" | "timers" | "random">>;
  /** Where to listen for peers (port 0 picks one); without it the bus only sends. */
  listen?: PeerAddress;
  /** Peers to link to, by id. */
  peers?: ReadonlyMap<PeerId, PeerAddress>;
  /**
   * Cluster secret: when set, every frame carries an HMAC-SHA-256 tag, and a connection that
   * sends a frame without a valid one is closed. The bus keeps a copy.
   */
  secret?: Uint8Array;
  /** Reconnect jitter, in [0, 1). @default Math.random */
  random?: () => number;
  /** Timers and clock. @default the global `setTimeout` and `performance.now` */
  timers?: BusTimers;
  /**
   * Where the bus says that it closed a connection for a bad frame or a wrong secret: once per
   * remote host and reason, the rest is counted. @default console.warn
   */
  log?: (line: string) => void;
}

/** Where a received frame came from. */
export interface InboundPeer {
  /** `host:port` of the connection it arrived on. */
  readonly remoteAddress: string;
}

/** Why frames did not reach a peer. */
export type DropReason = "queueFull" | "oversized" | "linkDown" | "closed";

/**
 * What happened to a frame given to `send`. Only "queued" means it may arrive; the bus never
 * retries. "queueFull": the peer's queue is at its bound and the new frame is refused (the
 * frames already queued are older and keep their order; the caller, who knows whether to retry,
 * hand off or fail its client, is told at once). "oversized": the frame exceeds `maxFrameBytes`.
 * "unknownPeer": no link to that id. "closed": the bus is closed.
 */
export type SendResult = "queued" | "queueFull" | "oversized" | "unknownPeer" | "closed";

/** Receives the frames of one or more types. */
export interface FrameHandler<T = unknown> {
  /**
   * Checks a payload's shape and turns it into a message; throws for one that is not valid,
   * which closes the connection it came on. @default CBOR decoding (`decodePayload`)
   */
  decode?(payload: Uint8Array, type: number): T;
  /** Receives each authentic, valid frame. */
  receive(message: T, type: number, from: InboundPeer): void;
  /**
   * Told when frames of its types that `send` had queued for a peer were dropped because the
   * connection to it failed or was lost; once per handler and event, with how many.
   */
  undelivered?(peer: PeerId, frameCount: number): void;
  /**
   * Told when the connection to `peer` that frames were written on closed (the peer died or
   * reset it): frames written on it may or may not have arrived. Called before `undelivered`
   * for what was still queued.
   */
  linkLost?(peer: PeerId): void;
}

/** Counters of one frame type. */
export interface FrameTypeStats {
  /** Frames written to peers' sockets. */
  framesOut: number;
  /** Their bytes, headers and tags included. */
  bytesOut: number;
  /** Authentic, valid frames handed to the handler. */
  framesIn: number;
  /** Their bytes, headers and tags included. */
  bytesIn: number;
  /** Frames of this type not sent or not delivered, for any reason. */
  drops: number;
}

/** The counters of a bus, for monitoring and tests. */
export interface BusStats {
  /** Per frame type, created on first use. */
  readonly byType: Map<number, FrameTypeStats>;
  /** Frames not sent or not delivered, by reason. */
  readonly drops: {
    /** Refused by `send`: the peer's queue was at its frame or byte bound. */
    queueFull: number;
    /** Refused by `send`: larger than `maxFrameBytes`. */
    oversized: number;
    /** Queued, then dropped when the connection to the peer failed or was lost. */
    linkDown: number;
    /** Queued, then dropped because the bus or the link was closed. */
    closed: number;
    /** Received, authentic and valid, of a declared type that no handler serves here. */
    noHandler: number;
  };
  /** Received frames whose HMAC tag did not verify (wrong or missing secret), each dropped. */
  authFailures: number;
  /** Received bytes that were not a valid frame (magic, version, size, type, CBOR, shape). */
  malformedFrames: number;
  /** Inbound connections closed by the bus: for a tag that failed, or for a malformed frame. */
  disconnects: { auth: number; malformed: number };
  /** Inbound connections accepted, and refused for `maxInboundConnections`. */
  inbound: { accepted: number; refused: number };
  /** Outgoing connections established. */
  connects: number;
  /** Connection attempts that failed or timed out. */
  connectFailures: number;
  /** Reconnection attempts, each after a backoff delay following a failure or a lost link. */
  reconnects: number;
  /** Times a link stopped writing because its socket held more than `maxPendingBytes`. */
  backpressureStalls: number;
}

/** The state of one peer link, for monitoring and tests. */
export interface PeerLinkStatus {
  /** "idle" before the first send, "backoff" while waiting to reconnect. */
  state: "idle" | "connecting" | "connected" | "backoff" | "closed";
  /** Frames waiting in the link's queue. */
  queuedFrames: number;
  /** Their bytes. */
  queuedBytes: number;
  /** Bytes the socket holds unsent (0 without a connection). */
  pendingBytes: number;
  /** Whether the link is waiting for the socket to drain. */
  stalled: boolean;
  /** Failed attempts since the last stable connection (drives the backoff). */
  failedAttempts: number;
}
