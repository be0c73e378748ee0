/**
 * Raft's TCP transport over the runtime adapter: one outgoing connection per peer with a bounded
 * send queue, reconnects with exponential backoff, and inbound connections whose frames are
 * checked (size, shape, HMAC) before a message reaches the core.
 *
 * @module
 */
import type { Runtime, TcpConnection, TcpListener } from "../runtime/types.ts";
import {
  decodeMessage,
  encodeFrame,
  encodeMessage,
  FrameDecoder,
  FrameError,
  frameTypeOf,
} from "./codec.ts";
import type { Message, NodeId } from "./types.ts";

/** Where a peer listens. */
export interface PeerAddress {
  /** Host name or IP address. */
  hostname: string;
  /** TCP port of the cluster bus. */
  port: number;
}

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
  /** Cluster secret: when set, every frame carries an HMAC-SHA-256 tag and unsigned ones are dropped. */
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

/** Counters for monitoring and tests. */
export interface TransportStats {
  /** Frames handed to connections. */
  framesSent: number;
  /** Frames delivered to `onMessage`. */
  framesReceived: number;
  /** Frames dropped because their tag did not verify. */
  unauthenticatedFrames: number;
  /** Connections closed for bytes that were not a valid frame or message. */
  malformedFrames: number;
  /** Messages dropped because a peer's queue was full. */
  queueDrops: number;
  /** Successful connections to peers. */
  connects: number;
}

class PeerLink {
  private conn: TcpConnection | undefined;
  private connecting = false;
  private queue: Uint8Array[] = [];
  private queuedBytes = 0;
  private flushScheduled = false;
  private attempts = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  closed = false;

  constructor(
    private readonly transport: Transport,
    readonly id: NodeId,
    public address: PeerAddress,
  ) {}

  enqueue(frame: Uint8Array): boolean {
    const opts = this.transport.limits;
    if (
      this.queue.length >= opts.maxQueueCount ||
      this.queuedBytes + frame.length > opts.maxQueueBytes
    ) return false;
    this.queue.push(frame);
    this.queuedBytes += frame.length;
    if (this.conn) this.scheduleFlush();
    else this.connect();
    return true;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // Every frame queued in this turn leaves in one write.
    queueMicrotask(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    const conn = this.conn;
    if (!conn || this.queue.length === 0) return;
    const frames = this.queue;
    this.queue = [];
    const total = this.queuedBytes;
    this.queuedBytes = 0;
    const buffer = frames.length === 1 ? frames[0] : new Uint8Array(total);
    if (frames.length > 1) {
      let at = 0;
      for (const frame of frames) {
        buffer.set(frame, at);
        at += frame.length;
      }
    }
    conn.write(buffer);
    this.transport.stats.framesSent += frames.length;
  }

  private connect(): void {
    if (this.connecting || this.conn || this.closed || this.timer) return;
    this.connecting = true;
    const handlers = {
      onData: () => {},
      onClose: () => this.lost(),
    };
    this.transport.runtime.connectTcp(this.address, handlers).then(
      (conn) => {
        this.connecting = false;
        if (this.closed) {
          conn.close();
          return;
        }
        this.conn = conn;
        this.attempts = 0;
        this.transport.stats.connects++;
        this.flush();
      },
      () => {
        this.connecting = false;
        this.lost();
      },
    );
  }

  private lost(): void {
    this.conn = undefined;
    if (this.queue.length > 0) {
      // Whatever was queued is stale by the time a reconnect succeeds: Raft resends.
      this.queue = [];
      this.queuedBytes = 0;
      this.transport.unreachable(this.id);
    }
    if (this.closed) return;
    const { reconnectMinMs, reconnectMaxMs } = this.transport.limits;
    const delayMs = Math.min(reconnectMaxMs, reconnectMinMs * 2 ** Math.min(this.attempts++, 16));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.connect();
    }, delayMs * (0.5 + Math.random() / 2));
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.conn?.close();
    this.conn = undefined;
  }
}

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
  /** Counters for monitoring. */
  readonly stats: TransportStats = {
    framesSent: 0,
    framesReceived: 0,
    unauthenticatedFrames: 0,
    malformedFrames: 0,
    queueDrops: 0,
    connects: 0,
  };
  /** The limits in force, defaults filled in. */
  readonly limits: Required<
    Pick<
      TransportOptions,
      "maxFrameBytes" | "maxQueueBytes" | "maxQueueCount" | "reconnectMinMs" | "reconnectMaxMs"
    >
  >;
  /** The runtime adapter in use. */
  readonly runtime: TransportOptions["runtime"];
  private readonly links = new Map<NodeId, PeerLink>();
  private readonly inbound = new Set<TcpConnection>();
  private listener: TcpListener | undefined;

  private constructor(private readonly options: TransportOptions) {
    this.runtime = options.runtime;
    this.limits = {
      maxFrameBytes: options.maxFrameBytes ?? 16 * 1024 * 1024,
      maxQueueBytes: options.maxQueueBytes ?? 64 * 1024 * 1024,
      maxQueueCount: options.maxQueueCount ?? 10_000,
      reconnectMinMs: options.reconnectMinMs ?? 20,
      reconnectMaxMs: options.reconnectMaxMs ?? 1000,
    };
    for (const [id, address] of options.peers) {
      if (id !== options.id) this.links.set(id, new PeerLink(this, id, address));
    }
  }

  /** Starts listening and returns the running transport. */
  static async start(options: TransportOptions): Promise<Transport> {
    const transport = new Transport(options);
    transport.listener = await options.runtime.listenTcp(
      { hostname: options.listen.hostname, port: options.listen.port },
      {
        onOpen: (conn) => {
          transport.inbound.add(conn);
          conn.data = new FrameDecoder({
            maxFrameBytes: transport.limits.maxFrameBytes,
            secret: options.secret,
          });
        },
        onData: (conn, bytes) => transport.receive(conn, bytes),
        onClose: (conn) => transport.inbound.delete(conn),
      },
    );
    return transport;
  }

  /** The port it listens on (useful with port 0). */
  get port(): number {
    return this.listener?.port ?? 0;
  }

  /** Queues messages for their peers; a message to an unknown peer or a full queue is dropped. */
  send(messages: readonly Message[]): void {
    for (const m of messages) {
      const link = this.links.get(m.to);
      if (!link) continue;
      const frame = encodeFrame(frameTypeOf(m.type), encodeMessage(m), this.options.secret);
      if (!link.enqueue(frame)) {
        this.stats.queueDrops++;
        this.unreachable(m.to);
      }
    }
  }

  /** Adds a peer, or changes its address. */
  addPeer(id: NodeId, address: PeerAddress): void {
    if (id === this.options.id) return;
    const link = this.links.get(id);
    if (link) link.address = address;
    else this.links.set(id, new PeerLink(this, id, address));
  }

  /** Forgets a peer and closes its connection. */
  removePeer(id: NodeId): void {
    this.links.get(id)?.close();
    this.links.delete(id);
  }

  /** @internal */
  unreachable(id: NodeId): void {
    this.options.onUnreachable?.(id);
  }

  private receive(conn: TcpConnection, bytes: Uint8Array): void {
    const decoder = conn.data as FrameDecoder;
    let frames;
    try {
      frames = decoder.push(bytes);
    } catch (error) {
      if (!(error instanceof FrameError)) throw error;
      this.stats.malformedFrames++;
      conn.close();
      return;
    }
    for (const frame of frames) {
      if (!frame.authentic) {
        this.stats.unauthenticatedFrames++;
        continue;
      }
      let message: Message;
      try {
        message = decodeMessage(frame.payload);
        if (frameTypeOf(message.type) !== frame.type) {
          throw new TypeError("frame type does not match the message");
        }
      } catch {
        this.stats.malformedFrames++;
        conn.close();
        return;
      }
      if (message.to !== this.options.id) continue;
      this.stats.framesReceived++;
      this.options.onMessage(message);
    }
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    for (const link of this.links.values()) link.close();
    for (const conn of this.inbound) conn.close();
    this.inbound.clear();
    await this.listener?.close();
  }
}
