/**
 * Raft's transport: Raft messages as frames of the cluster bus (`src/bus/`), which provides the
 * TCP links (one outgoing connection per peer with a bounded send queue, backpressure, reconnects
 * with exponential backoff and jitter) and checks inbound frames (size, shape, HMAC) before a
 * message reaches the core.
 *
 * @module
 */
import { Bus } from "../bus/bus.ts";
import type { BusLimits, FrameHandler, PeerAddress } from "../bus/types.ts";
import type { Runtime } from "../runtime/types.ts";
import { decodeMessage, encodeMessage, FrameType, frameTypeOf } from "./codec.ts";
import type { Message, NodeId } from "./types.ts";

export type { PeerAddress } from "../bus/types.ts";

/** Options of {@linkcode Transport.start}. */
export interface TransportOptions {
  /** The runtime adapter that provides TCP. */
  runtime: Pick<Runtime, "listenTcp" | "connectTcp">;
  /** This node's id: messages for others are ignored. */
  id: NodeId;
  /** Where to listen for peers (port 0 picks one). */
  listen: PeerAddress;
  /** Every peer's address, by id. */
  peers: ReadonlyMap<NodeId, PeerAddress>;
  /**
   * Cluster secret: when set, every frame carries an HMAC-SHA-256 tag, and a connection that
   * sends one without a valid tag is closed (its frames are dropped and counted).
   */
  secret?: Uint8Array;
  /** Receives each valid, authentic message addressed to this node. */
  onMessage(message: Message): void;
  /** Told when messages to a peer were dropped (queue full, connection down). */
  onUnreachable?(id: NodeId): void;
  /** Largest frame accepted; larger ones close the connection. @default 16 MiB */
  maxFrameBytes?: number;
  /** Bytes queued per peer before new messages are dropped. @default 64 MiB */
  maxQueueBytes?: number;
  /** Frames queued per peer before new messages are dropped. @default 10000 */
  maxQueueCount?: number;
  /** First reconnect delay. @default 20 */
  reconnectMinMs?: number;
  /** Longest reconnect delay. @default 1000 */
  reconnectMaxMs?: number;
}

/** Options of {@linkcode Transport.attach}: the Raft side only, the bus being shared. */
export type TransportAttachOptions = Pick<TransportOptions, "id" | "onMessage" | "onUnreachable">;

/** Counters for monitoring and tests. */
export interface TransportStats {
  /** Frames handed to connections. */
  framesSent: number;
  /** Frames delivered to `onMessage`. */
  framesReceived: number;
  /** Frames dropped because their tag did not verify (bus-wide). */
  unauthenticatedFrames: number;
  /** Connections closed for bytes that were not a valid frame or message (bus-wide). */
  malformedFrames: number;
  /** Messages dropped because a peer's queue was full. */
  queueDrops: number;
  /** Successful connections to peers (bus-wide). */
  connects: number;
}

/** The bus's frame types that carry Raft messages. */
const RAFT_FRAME_TYPES: readonly number[] = Object.values(FrameType);

/**
 * Sends Raft messages to peers and delivers those received to `onMessage`.
 *
 * @example
 * ```ts ignore
 * import { Transport } from "./transport.ts";
 * import { currentRuntime } from "../runtime/mod.ts";
 * const transport = await Transport.start({
 *   runtime: await currentRuntime(),
 *   id: 1,
 *   listen: { hostname: "127.0.0.1", port: 7001 },
 *   peers: new Map([[2, { hostname: "127.0.0.1", port: 7002 }]]),
 *   onMessage: (m) => node.step(m),
 * });
 * transport.send(ready.messages);
 * ```
 */
export class Transport {
  /** Counters for monitoring; those marked bus-wide count every user of the bus. */
  readonly stats: TransportStats;
  /** The limits in force, defaults filled in. */
  readonly limits: Required<
    Pick<
      TransportOptions,
      "maxFrameBytes" | "maxQueueBytes" | "maxQueueCount" | "reconnectMinMs" | "reconnectMaxMs"
    >
  >;
  /** The runtime adapter in use. */
  readonly runtime: TransportOptions["runtime"];
  /** The cluster bus the messages travel on. */
  private readonly bus: Bus;
  private readonly ownsBus: boolean;

  private constructor(
    bus: Bus,
    ownsBus: boolean,
    runtime: TransportOptions["runtime"],
    private readonly options: TransportAttachOptions,
  ) {
    this.bus = bus;
    this.ownsBus = ownsBus;
    this.runtime = runtime;
    const { maxFrameBytes, maxQueueBytes, maxQueueCount, reconnectMinMs, reconnectMaxMs } =
      bus.limits;
    this.limits = { maxFrameBytes, maxQueueBytes, maxQueueCount, reconnectMinMs, reconnectMaxMs };
    const busStats = bus.stats;
    let framesReceived = 0;
    let queueDrops = 0;
    this.stats = {
      get framesSent() {
        let count = 0;
        for (const type of RAFT_FRAME_TYPES) count += busStats.byType.get(type)?.framesOut ?? 0;
        return count;
      },
      get framesReceived() {
        return framesReceived;
      },
      set framesReceived(value) {
        framesReceived = value;
      },
      get unauthenticatedFrames() {
        return busStats.authFailures;
      },
      get malformedFrames() {
        return busStats.malformedFrames;
      },
      get queueDrops() {
        return queueDrops;
      },
      set queueDrops(value) {
        queueDrops = value;
      },
      get connects() {
        return busStats.connects;
      },
    };
    const handler: FrameHandler<Message> = {
      decode(payload, type) {
        const message = decodeMessage(payload);
        if (frameTypeOf(message.type) !== type) {
          throw new TypeError(`a ${message.type} cannot travel in this frame type`);
        }
        return message;
      },
      receive: (message) => {
        if (message.to !== this.options.id) return;
        this.stats.framesReceived++;
        this.options.onMessage(message);
      },
      undelivered: (peer) => this.unreachable(peer as NodeId),
    };
    bus.register(RAFT_FRAME_TYPES, handler);
  }

  /** Starts a bus of its own, listening, and returns the running transport. */
  static async start(options: TransportOptions): Promise<Transport> {
    const limits: Partial<BusLimits> = {
      maxFrameBytes: options.maxFrameBytes,
      maxQueueBytes: options.maxQueueBytes,
      maxQueueCount: options.maxQueueCount,
      reconnectMinMs: options.reconnectMinMs,
      reconnectMaxMs: options.reconnectMaxMs,
    };
    const peers = new Map([...options.peers].filter(([id]) => id !== options.id));
    const bus = await Bus.start({
      ...limits,
      runtime: options.runtime,
      listen: options.listen,
      peers,
      secret: options.secret,
    });
    return new Transport(bus, true, options.runtime, options);
  }

  /**
   * Runs Raft on a bus that other users share (forwarding, replication...): the bus's peers and
   * limits apply, and {@linkcode Transport.close} leaves the bus open.
   */
  static attach(bus: Bus, options: TransportAttachOptions): Transport {
    return new Transport(bus, false, bus.runtime, options);
  }

  /** The port it listens on (useful with port 0). */
  get port(): number {
    return this.bus.port;
  }

  /** Queues messages for their peers; a message to an unknown peer or a full queue is dropped. */
  send(messages: readonly Message[]): void {
    for (const m of messages) {
      if (!this.bus.hasPeer(m.to)) continue;
      const result = this.bus.sendPayload(m.to, frameTypeOf(m.type), encodeMessage(m));
      if (result === "queued") continue;
      if (result === "queueFull") this.stats.queueDrops++;
      this.unreachable(m.to);
    }
  }

  /** Adds a peer, or changes its address. */
  addPeer(id: NodeId, address: PeerAddress): void {
    if (id === this.options.id) return;
    this.bus.addPeer(id, address);
  }

  /** Forgets a peer and closes its connection. */
  removePeer(id: NodeId): void {
    this.bus.removePeer(id);
  }

  /** @internal */
  unreachable(id: NodeId): void {
    this.options.onUnreachable?.(id);
  }

  /** Stops listening and closes every connection (of its own bus; an attached one stays open). */
  async close(): Promise<void> {
    if (this.ownsBus) await this.bus.close();
    else this.bus.unregister(RAFT_FRAME_TYPES);
  }
}
