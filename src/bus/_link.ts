/**
 * One outgoing connection to one peer: a bounded queue of frames, backpressure from the socket,
 * and reconnection with exponential backoff and jitter.
 *
 * @module
 */
import type { TcpConnection } from "../runtime/types.ts";
import type {
  BusLimits,
  BusOptions,
  BusTimers,
  DropReason,
  PeerAddress,
  PeerId,
  PeerLinkStatus,
} from "./types.ts";

/** What a link needs from its bus. */
export interface LinkHost {
  readonly runtime: BusOptions["runtime"];
  readonly limits: Readonly<BusLimits>;
  readonly timers: BusTimers;
  readonly random: () => number;
  /** A frame of `type` went out: `bytes` were written to the socket. */
  sent(type: number, bytes: number): void;
  /** Queued frames (their types) were dropped. */
  dropped(peer: PeerId, types: number[], reason: Extract<DropReason, "linkDown" | "closed">): void;
  /** The established connection to `peer` closed. */
  lost(peer: PeerId): void;
  connected(): void;
  connectFailed(): void;
  reconnecting(): void;
  stalled(): void;
}

/** The exponent of the backoff stops growing here (2^30 times the first delay is plenty). */
const MAX_BACKOFF_EXPONENT = 30;
/** Sent frames leave holes at the head of the queue's arrays; they are cut off past this many. */
const COMPACT_AFTER_COUNT = 1024;

export class PeerLink {
  private conn: TcpConnection | undefined;
  /** The connection attempt in progress: its token, compared when it settles. */
  private attempt: object | undefined;
  private timer: unknown = undefined;
  /** The connect timeout of the attempt in progress. */
  private connectTimer: unknown = undefined;
  private queue: Uint8Array[] = [];
  private types: number[] = [];
  private head = 0;
  private queuedBytes = 0;
  private stalled = false;
  private failedAttempts = 0;
  private connectedAtMs = 0;
  private closed = false;

  constructor(
    private readonly host: LinkHost,
    readonly id: PeerId,
    private address: PeerAddress,
  ) {}

  /** Points the link at a new address; an open connection to the old one is dropped. */
  setAddress(address: PeerAddress): void {
    if (address.hostname === this.address.hostname && address.port === this.address.port) return;
    this.address = { ...address };
    if (this.conn) {
      const conn = this.conn;
      this.lost();
      conn.close();
    } else if (this.attempt) {
      // The attempt in progress dials the old address: abandoned, and the new one is dialled.
      this.attempt = undefined;
      this.clearConnectTimer();
      this.connect();
    }
  }

  private clearConnectTimer(): void {
    if (this.connectTimer !== undefined) this.host.timers.clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
  }

  private get queuedCount(): number {
    return this.queue.length - this.head;
  }

  /** Whether a frame of `bytes` would be refused because the queue is at one of its bounds. */
  refuses(bytes: number): boolean {
    if (this.canWriteNow()) return false;
    const { maxQueueCount, maxQueueBytes } = this.host.limits;
    return this.queuedCount >= maxQueueCount || this.queuedBytes + bytes > maxQueueBytes;
  }

  /** Writes or queues a frame; the caller has checked `refuses` first. */
  enqueue(type: number, frame: Uint8Array): void {
    if (this.canWriteNow()) {
      this.write(this.conn!, type, frame);
      return;
    }
    this.queue.push(frame);
    this.types.push(type);
    this.queuedBytes += frame.length;
    if (this.conn) this.flush();
    else this.connect();
  }

  /** Nothing waits before this frame and the socket is below its bound: no need to queue it. */
  private canWriteNow(): boolean {
    return this.conn !== undefined && !this.stalled && this.queuedCount === 0 &&
      this.conn.pendingBytes() <= this.host.limits.maxPendingBytes;
  }

  private write(conn: TcpConnection, type: number, frame: Uint8Array): void {
    conn.write(frame);
    this.host.sent(type, frame.length);
  }

  /** Writes queued frames until the queue is empty or the socket is over its bound. */
  private flush(): void {
    const conn = this.conn;
    if (!conn) return;
    const maxPendingBytes = this.host.limits.maxPendingBytes;
    while (this.head < this.queue.length) {
      if (conn.pendingBytes() > maxPendingBytes) {
        if (!this.stalled) this.host.stalled();
        this.stalled = true;
        this.compact();
        return;
      }
      const frame = this.queue[this.head];
      const type = this.types[this.head];
      this.queue[this.head] = undefined as unknown as Uint8Array;
      this.head++;
      this.queuedBytes -= frame.length;
      this.write(conn, type, frame);
    }
    this.stalled = false;
    this.resetQueue();
  }

  private compact(): void {
    if (this.head < COMPACT_AFTER_COUNT || this.head < this.queuedCount) return;
    this.queue = this.queue.slice(this.head);
    this.types = this.types.slice(this.head);
    this.head = 0;
  }

  private resetQueue(): void {
    this.queue = [];
    this.types = [];
    this.head = 0;
    this.queuedBytes = 0;
  }

  /** Drops what is queued, telling the bus. */
  private drop(reason: "linkDown" | "closed"): void {
    if (this.queuedCount === 0) return;
    const types = this.types.slice(this.head);
    this.resetQueue();
    this.host.dropped(this.id, types, reason);
  }

  private connect(): void {
    if (this.closed || this.conn || this.attempt || this.timer !== undefined) return;
    const attempt = {};
    this.attempt = attempt;
    let closedEarly = false;
    const { timers } = this.host;
    const timeout = timers.setTimeout(() => {
      this.connectTimer = undefined;
      if (this.attempt !== attempt) return;
      this.attempt = undefined;
      this.failed();
    }, this.host.limits.connectTimeoutMs);
    this.connectTimer = timeout;
    const settled = () => {
      if (this.connectTimer !== timeout) return;
      timers.clearTimeout(timeout);
      this.connectTimer = undefined;
    };
    const handlers = {
      onData: () => {
        // A peer does not write on a connection we opened: anything it sends is ignored.
      },
      onDrain: (conn: TcpConnection) => {
        if (conn !== this.conn || !this.stalled) return;
        this.stalled = false;
        this.flush();
      },
      onClose: (conn: TcpConnection) => {
        if (conn === this.conn) this.lost();
        else if (this.attempt === attempt) closedEarly = true;
      },
    };
    this.host.runtime.connectTcp(this.address, handlers).then(
      (conn) => {
        settled();
        if (this.attempt !== attempt) {
          conn.close();
          return;
        }
        this.attempt = undefined;
        if (closedEarly) {
          conn.close();
          this.failed();
          return;
        }
        this.conn = conn;
        this.connectedAtMs = timers.now();
        this.host.connected();
        this.flush();
      },
      () => {
        settled();
        if (this.attempt !== attempt) return;
        this.attempt = undefined;
        this.failed();
      },
    );
  }

  private failed(): void {
    this.host.connectFailed();
    // What was queued waited for this connection: it is stale now, and its senders are told.
    this.drop("linkDown");
    this.scheduleReconnect();
  }

  private lost(): void {
    this.conn = undefined;
    this.stalled = false;
    // A connection that lasted counts as a success; one closed at once (a peer refusing our
    // secret, say) does not, so its reconnects slow down instead of spinning.
    if (this.host.timers.now() - this.connectedAtMs >= this.host.limits.reconnectMaxMs) {
      this.failedAttempts = 0;
    }
    this.host.lost(this.id);
    this.drop("linkDown");
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.timer !== undefined) return;
    const { reconnectMinMs, reconnectMaxMs } = this.host.limits;
    const exponent = Math.min(this.failedAttempts++, MAX_BACKOFF_EXPONENT);
    const delayMs = Math.min(reconnectMaxMs, reconnectMinMs * 2 ** exponent);
    // "Equal jitter": between half the delay and all of it, so that peers do not reconnect in step.
    this.timer = this.host.timers.setTimeout(() => {
      this.timer = undefined;
      this.host.reconnecting();
      this.connect();
    }, delayMs * (0.5 + this.host.random() / 2));
  }

  status(): PeerLinkStatus {
    let state: PeerLinkStatus["state"] = "idle";
    if (this.closed) state = "closed";
    else if (this.conn) state = "connected";
    else if (this.attempt) state = "connecting";
    else if (this.timer !== undefined) state = "backoff";
    return {
      state,
      queuedFrames: this.queuedCount,
      queuedBytes: this.queuedBytes,
      pendingBytes: this.conn?.pendingBytes() ?? 0,
      stalled: this.stalled,
      failedAttempts: this.failedAttempts,
    };
  }

  close(): void {
    this.closed = true;
    if (this.timer !== undefined) this.host.timers.clearTimeout(this.timer);
    this.timer = undefined;
    this.clearConnectTimer();
    this.attempt = undefined;
    const conn = this.conn;
    this.conn = undefined;
    conn?.close();
    this.drop("closed");
  }
}
