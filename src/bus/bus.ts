/**
 * The cluster bus: one TCP port per node that Raft, forwarding, replication and migration share.
 * Each peer gets one outgoing link (bounded queue, backpressure, reconnection with backoff); each
 * inbound connection is checked frame by frame (size, shape, HMAC) before a message reaches the
 * handler of its frame type.
 *
 * @module
 */
import { encode } from "cborg";
import type { TcpConnection, TcpListener, TimerHandle } from "../runtime/types.ts";
import { type LinkHost, PeerLink } from "./_link.ts";
import {
  decodePayload,
  encodeFrame,
  type Frame,
  frameBytes,
  FrameDecoder,
  FrameError,
  MAC_BYTES,
} from "./frame.ts";
import { FRAME_TYPES, frameTypeName } from "./frame_types.ts";
import type {
  BusLimits,
  BusOptions,
  BusStats,
  BusTimers,
  FrameHandler,
  FrameTypeStats,
  InboundPeer,
  PeerAddress,
  PeerId,
  PeerLinkStatus,
  SendResult,
} from "./types.ts";

const MiB = 1024 * 1024;

/**
 * The default bounds. A Raft snapshot travels in chunks of 1 MiB and an append batches entries,
 * so 16 MiB leaves room for large values without letting one frame hold a node's memory; the
 * queue holds about a second of appends to a slow follower; 4 MiB of unsent socket bytes is a few
 * milliseconds of loopback and enough to fill a WAN link's window.
 */
export const DEFAULT_BUS_LIMITS: Readonly<BusLimits> = Object.freeze({
  maxFrameBytes: 16 * MiB,
  maxQueueBytes: 64 * MiB,
  maxQueueCount: 10_000,
  maxPendingBytes: 4 * MiB,
  reconnectMinMs: 20,
  reconnectMaxMs: 1000,
  connectTimeoutMs: 2000,
  maxInboundConnections: 256,
});

/** Distinct (host, reason) pairs logged; past this the bus only counts. */
const MAX_LOGGED_COUNT = 1024;

const DEFAULT_TIMERS: BusTimers = {
  now: () => performance.now(),
  setTimeout: (callback, delayMs) => setTimeout(callback, delayMs),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** The runtime's timers on its monotonic clock, when it has both (a simulator's, the adapters'). */
function runtimeTimers(runtime: BusOptions["runtime"]): BusTimers | undefined {
  const { timers, clock } = runtime;
  if (timers === undefined || clock === undefined) return undefined;
  return {
    now: () => clock.monotonicMs(),
    setTimeout: (callback, delayMs) => timers.setTimeout(callback, delayMs),
    clearTimeout: (handle) => timers.clearTimeout(handle as TimerHandle),
  };
}

/** Resolves and checks the bounds of `options`. */
function resolveLimits(options: Partial<BusLimits>): BusLimits {
  const limits = { ...DEFAULT_BUS_LIMITS };
  for (const key of Object.keys(DEFAULT_BUS_LIMITS) as (keyof BusLimits)[]) {
    const value = options[key];
    if (value === undefined) continue;
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new RangeError(
        `Cannot start the bus: '${key}' must be a positive integer: got ${String(value)}`,
      );
    }
    limits[key] = value;
  }
  if (limits.reconnectMinMs > limits.reconnectMaxMs) {
    throw new RangeError(
      `Cannot start the bus: 'reconnectMinMs' (${limits.reconnectMinMs}) must not exceed 'reconnectMaxMs' (${limits.reconnectMaxMs})`,
    );
  }
  return limits;
}

interface InboundState {
  decoder: FrameDecoder;
  peer: InboundPeer;
  rejected: boolean;
}

type Rejection = { reason: "auth" | "malformed"; detail: string };

function hostOf(remoteAddress: string): string {
  const colon = remoteAddress.lastIndexOf(":");
  return colon > 0 ? remoteAddress.slice(0, colon) : remoteAddress;
}

/**
 * A node's cluster bus: listens for peers, keeps one bounded link to each, and hands every
 * authentic, valid frame to the handler registered for its type.
 *
 * @example
 * ```ts ignore
 * import { Bus, BusFrameType } from "@hypercache/hypercache/bus";
 * import { currentRuntime } from "../runtime/mod.ts";
 * const bus = await Bus.start({
 *   runtime: await currentRuntime(),
 *   listen: { hostname: "127.0.0.1", port: 7001 },
 *   peers: new Map([["n2", { hostname: "127.0.0.1", port: 7002 }]]),
 *   secret: new TextEncoder().encode("cluster secret"),
 * });
 * bus.register(BusFrameType.forwardRequest, {
 *   receive: (message, _type, from) => console.log(from.remoteAddress, message),
 * });
 * bus.send("n2", BusFrameType.forwardRequest, { id: 1, argv: ["GET", "k"] }); // "queued"
 * await bus.close();
 * ```
 */
export class Bus {
  /** The bounds in force, defaults filled in. */
  readonly limits: Readonly<BusLimits>;
  /** The runtime adapter in use. */
  readonly runtime: BusOptions["runtime"];
  /** Counters for monitoring. */
  readonly stats: BusStats = {
    byType: new Map(),
    drops: { queueFull: 0, oversized: 0, linkDown: 0, closed: 0, noHandler: 0 },
    authFailures: 0,
    malformedFrames: 0,
    disconnects: { auth: 0, malformed: 0 },
    inbound: { accepted: 0, refused: 0 },
    connects: 0,
    connectFailures: 0,
    reconnects: 0,
    backpressureStalls: 0,
  };
  private readonly secret: Uint8Array | undefined;
  private readonly host: LinkHost;
  private readonly log: (line: string) => void;
  private readonly links = new Map<PeerId, PeerLink>();
  private readonly handlers = new Map<number, FrameHandler<unknown>>();
  private readonly inbound = new Set<TcpConnection>();
  private readonly logged = new Set<string>();
  private listener: TcpListener | undefined;
  private closed = false;

  private constructor(options: BusOptions) {
    this.limits = Object.freeze(resolveLimits(options));
    this.runtime = options.runtime;
    this.secret = options.secret?.slice();
    this.log = options.log ?? console.warn;
    const stats = this.stats;
    const typeStats = (type: number) => this.typeStats(type);
    this.host = {
      runtime: options.runtime,
      limits: this.limits,
      timers: options.timers ?? runtimeTimers(options.runtime) ?? DEFAULT_TIMERS,
      random: options.random ??
        (options.runtime.random ? () => options.runtime.random!() : Math.random),
      sent(type, bytes) {
        const s = typeStats(type);
        s.framesOut++;
        s.bytesOut += bytes;
      },
      dropped: (peer, types, reason) => this.dropped(peer, types, reason),
      lost: (peer) => {
        for (const handler of new Set(this.handlers.values())) handler.linkLost?.(peer);
      },
      connected: () => stats.connects++,
      connectFailed: () => stats.connectFailures++,
      reconnecting: () => stats.reconnects++,
      stalled: () => stats.backpressureStalls++,
    };
    for (const [id, address] of options.peers ?? []) this.addPeer(id, address);
  }

  /** Creates the bus and, when `listen` is given, starts listening. */
  static async start(options: BusOptions): Promise<Bus> {
    const bus = new Bus(options);
    if (options.listen) {
      bus.listener = await options.runtime.listenTcp(
        { hostname: options.listen.hostname, port: options.listen.port },
        {
          onOpen: (conn) => bus.accept(conn),
          onData: (conn, bytes) => bus.receive(conn, bytes),
          onClose: (conn) => bus.inbound.delete(conn),
        },
      );
    }
    return bus;
  }

  /** The port it listens on (useful with port 0); 0 when it does not listen. */
  get port(): number {
    return this.listener?.port ?? 0;
  }

  /** Whether frames carry and must carry an HMAC tag. */
  get authenticated(): boolean {
    return this.secret !== undefined;
  }

  /**
   * Makes `handler` receive the frames of `types`. Each type must be declared in
   * `BusFrameType` and have no handler yet.
   */
  register<T>(types: number | readonly number[], handler: FrameHandler<T>): void {
    const list = typeof types === "number" ? [types] : types;
    for (const type of list) {
      const info = FRAME_TYPES.get(type);
      if (!info) {
        throw new RangeError(
          `Cannot register a handler for frame type ${
            frameTypeName(type)
          }: it is not declared in BusFrameType`,
        );
      }
      if (this.handlers.has(type)) {
        throw new RangeError(
          `Cannot register a handler for frame type ${info.name}: it has one already`,
        );
      }
    }
    for (const type of list) this.handlers.set(type, handler as FrameHandler<unknown>);
  }

  /** Removes the handler of `types`: their frames are then dropped (and counted). */
  unregister(types: number | readonly number[]): void {
    for (const type of typeof types === "number" ? [types] : types) this.handlers.delete(type);
  }

  /** Adds a peer, or changes its address (a connection to the old address is closed). */
  addPeer(id: PeerId, address: PeerAddress): void {
    if (this.closed) return;
    const link = this.links.get(id);
    if (link) link.setAddress(address);
    else this.links.set(id, new PeerLink(this.host, id, { ...address }));
  }

  /** Forgets a peer: its connection is closed and what was queued for it is dropped. */
  removePeer(id: PeerId): void {
    this.links.get(id)?.close();
    this.links.delete(id);
  }

  /** Whether there is a link to `id`. */
  hasPeer(id: PeerId): boolean {
    return this.links.has(id);
  }

  /** The ids of the peers it links to. */
  peers(): PeerId[] {
    return [...this.links.keys()];
  }

  /** The state of the link to `id`, or undefined when there is none. */
  peerStatus(id: PeerId): PeerLinkStatus | undefined {
    return this.links.get(id)?.status();
  }

  /**
   * Encodes `value` as CBOR and sends it to `peer` in a frame of `type`; see
   * {@linkcode Bus.sendPayload}.
   */
  send(peer: PeerId, type: number, value: unknown): SendResult {
    return this.sendPayload(peer, type, encode(value));
  }

  /**
   * Sends an already CBOR-encoded payload to `peer` in a frame of `type`. Frames to one peer
   * leave in the order they were sent. When the peer's queue is at its frame or byte bound the
   * new frame is refused ("queueFull") and nothing queued is dropped: the caller learns at once,
   * the frames already queued keep their order, and no frame is lost silently from the middle of
   * a stream. Throws a `RangeError` for a type not declared in `BusFrameType`.
   */
  sendPayload(peer: PeerId, type: number, payload: Uint8Array): SendResult {
    if (!FRAME_TYPES.has(type)) {
      throw new RangeError(
        `Cannot send a frame of type ${frameTypeName(type)}: it is not declared in BusFrameType`,
      );
    }
    if (this.closed) return "closed";
    const link = this.links.get(peer);
    if (!link) return "unknownPeer";
    const secret = this.secret;
    if (payload.length + (secret ? MAC_BYTES : 0) > this.limits.maxFrameBytes) {
      this.stats.drops.oversized++;
      this.typeStats(type).drops++;
      return "oversized";
    }
    if (link.refuses(frameBytes(payload.length, secret !== undefined))) {
      this.stats.drops.queueFull++;
      this.typeStats(type).drops++;
      return "queueFull";
    }
    link.enqueue(type, encodeFrame(type, payload, secret));
    return "queued";
  }

  /** Stops listening, closes every connection and drops what is queued. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const link of this.links.values()) link.close();
    this.links.clear();
    for (const conn of this.inbound) conn.close();
    this.inbound.clear();
    await this.listener?.close();
  }

  /** The counters of `type`, created on first use. */
  private typeStats(type: number): FrameTypeStats {
    let s = this.stats.byType.get(type);
    if (s === undefined) {
      s = { framesOut: 0, bytesOut: 0, framesIn: 0, bytesIn: 0, drops: 0 };
      this.stats.byType.set(type, s);
    }
    return s;
  }

  /** Counts frames a link dropped and tells their handlers, once each. */
  private dropped(peer: PeerId, types: number[], reason: "linkDown" | "closed"): void {
    this.stats.drops[reason] += types.length;
    const byHandler = new Map<FrameHandler<unknown>, number>();
    for (const type of types) {
      this.typeStats(type).drops++;
      const handler = this.handlers.get(type);
      if (handler) byHandler.set(handler, (byHandler.get(handler) ?? 0) + 1);
    }
    if (reason === "closed") return;
    for (const [handler, count] of byHandler) handler.undelivered?.(peer, count);
  }

  /** Takes an inbound connection, or closes it when there are too many. */
  private accept(conn: TcpConnection): void {
    if (this.closed || this.inbound.size >= this.limits.maxInboundConnections) {
      this.stats.inbound.refused++;
      conn.close();
      return;
    }
    this.stats.inbound.accepted++;
    this.inbound.add(conn);
    const state: InboundState = {
      decoder: new FrameDecoder({ maxFrameBytes: this.limits.maxFrameBytes, secret: this.secret }),
      peer: { remoteAddress: conn.remoteAddress },
      rejected: false,
    };
    conn.data = state;
  }

  /** Checks each frame of the bytes received and delivers the good ones, in order. */
  private receive(conn: TcpConnection, bytes: Uint8Array): void {
    const state = conn.data as InboundState | undefined;
    if (!state || state.rejected) return;
    state.decoder.feed(bytes);
    let rejection: Rejection | undefined;
    for (;;) {
      let frame: Frame | undefined;
      try {
        frame = state.decoder.next();
      } catch (error) {
        if (!(error instanceof FrameError)) throw error;
        this.stats.malformedFrames++;
        rejection ??= { reason: "malformed", detail: error.message };
        break;
      }
      if (!frame) break;
      if (!frame.authentic) {
        // Every frame of this read that fails is counted; none of the rest is delivered.
        this.stats.authFailures++;
        rejection ??= {
          reason: "auth",
          detail: "a frame's HMAC tag did not verify (a wrong or missing cluster secret?)",
        };
        continue;
      }
      if (rejection) continue;
      const problem = this.deliver(frame, state.peer);
      if (problem !== undefined) {
        this.stats.malformedFrames++;
        rejection = { reason: "malformed", detail: problem };
      }
    }
    if (rejection) this.reject(conn, state, rejection);
  }

  /** Hands one authentic frame to its handler; returns what is wrong with it, if anything. */
  private deliver(frame: Frame, from: InboundPeer): string | undefined {
    const info = FRAME_TYPES.get(frame.type);
    if (!info) return `frame type ${frameTypeName(frame.type)} is not declared`;
    const handler = this.handlers.get(frame.type);
    if (!handler) {
      this.stats.drops.noHandler++;
      this.typeStats(frame.type).drops++;
      return undefined;
    }
    let message: unknown;
    try {
      message = handler.decode
        ? handler.decode(frame.payload, frame.type)
        : decodePayload(frame.payload);
    } catch (error) {
      return `invalid ${info.name} frame: ${(error as Error).message}`;
    }
    const s = this.typeStats(frame.type);
    s.framesIn++;
    s.bytesIn += frameBytes(frame.payload.length, this.secret !== undefined);
    handler.receive(message, frame.type, from);
    return undefined;
  }

  /** Closes a connection that sent a bad frame: counted, and logged once per host and reason. */
  private reject(conn: TcpConnection, state: InboundState, rejection: Rejection): void {
    state.rejected = true;
    this.stats.disconnects[rejection.reason]++;
    const host = hostOf(conn.remoteAddress);
    const key = `${rejection.reason} ${host}`;
    if (!this.logged.has(key) && this.logged.size < MAX_LOGGED_COUNT) {
      this.logged.add(key);
      this.log(
        `hypercache bus: closed the connection from ${conn.remoteAddress}: ${rejection.detail}; ` +
          `further ${
            rejection.reason === "auth" ? "authentication failures" : "malformed frames"
          } from ${host} are counted in the bus stats, not logged`,
      );
    }
    conn.close();
  }
}
