/**
 * One connection's replies, in command order. A command's reply is complete when the command
 * ran, or pending: a blocked command, a write waiting to be durable (`appendfsync always`), and
 * later a forwarded command or a quorum wait. Replies after a pending one wait for it, so a
 * pipeline's replies always leave in the order its commands came.
 *
 * While nothing is pending, a complete reply goes straight out (no copy, no queue: the common
 * case). Waiting replies are bounded in number and bytes; past either bound the queue takes no
 * more and reports the overflow once, for the server to end the connection.
 *
 * Sans-I/O: it writes through the function it was given.
 *
 * @module
 */

/** Bounds on what one connection may have waiting. */
export interface ReplyQueueLimits {
  /** Pending replies plus complete ones queued behind them. */
  maxWaitingReplies: number;
  /** Bytes of complete replies queued behind a pending one. */
  maxWaitingBytes: number;
}

/** A place in a connection's reply order, for a reply that completes later. */
export class PendingReply {
  /** The reply once complete; null while pending. */
  bytes: Uint8Array | null = null;
  /** Bytes counted against the queue's bound (a copy that waits). */
  counted = 0;
  /** Called if the connection closes while the reply is pending (a forwarded command cancels). */
  onAbandon: (() => void) | null = null;
  /** The client turned its replies off (CLIENT REPLY OFF or SKIP): it completes with nothing. */
  muted = false;

  constructor(private readonly queue: ReplyQueue | null) {}

  /** Whether the reply has completed. */
  get done(): boolean {
    return this.bytes !== null;
  }

  /** Completes the reply: it leaves once every reply ahead of it has. */
  complete(bytes: Uint8Array): void {
    if (this.bytes !== null) throw new Error("a reply completes once");
    this.queue?.settle(this, this.muted ? EMPTY : bytes);
  }
}

export class ReplyQueue {
  /** Replies waiting, oldest first. */
  private waiting: PendingReply[] = [];
  private head = 0;
  private waitingBytes = 0;
  private overflowed = false;
  private drainedWaiters: (() => void)[] = [];

  constructor(
    private readonly write: (bytes: Uint8Array) => void,
    private readonly limits: ReplyQueueLimits,
    /** Called once when a bound is crossed: the connection must end. */
    private readonly onOverflow: () => void,
  ) {}

  /** Whether nothing waits: a complete reply would go straight out. */
  get idle(): boolean {
    return this.head === this.waiting.length;
  }

  /** Replies waiting (pending ones and those behind them). */
  get size(): number {
    return this.waiting.length - this.head;
  }

  /** Bytes of complete replies waiting behind a pending one. */
  get bytes(): number {
    return this.waitingBytes;
  }

  /** Whether a bound was crossed (nothing more is taken). */
  get overflow(): boolean {
    return this.overflowed;
  }

  /**
   * A complete reply: out at once when nothing waits ahead of it, else queued. `bytes` may be a
   * view of a reused buffer: it is copied when it must wait.
   */
  push(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    if (this.idle) {
      this.write(bytes);
      return;
    }
    const reply = this.defer();
    if (reply !== null) this.settle(reply, bytes);
  }

  /** A place in the order for a reply that completes later; null once a bound was crossed
   * (the connection is ending: nothing it sends will be answered). */
  defer(): PendingReply | null {
    if (this.overflowed) return null;
    if (this.size >= this.limits.maxWaitingReplies) {
      this.cross();
      return null;
    }
    const reply = new PendingReply(this);
    this.waiting.push(reply);
    return reply;
  }

  /** `reply` completed with `bytes`: written now if it is at the head, else kept (copied). */
  settle(reply: PendingReply, bytes: Uint8Array): void {
    if (this.waiting[this.head] === reply) {
      reply.bytes = bytes; // goes out below, before the caller may reuse `bytes`
    } else {
      if (this.waitingBytes + bytes.length > this.limits.maxWaitingBytes) {
        reply.bytes = EMPTY;
        this.cross();
        return;
      }
      reply.bytes = Uint8Array.prototype.slice.call(bytes);
      reply.counted = bytes.length;
      this.waitingBytes += bytes.length;
    }
    this.flush();
  }

  /** Resolves once every reply queued so far has gone out. */
  drained(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.drainedWaiters.push(resolve));
  }

  /** Drops everything waiting (the connection closed); pending replies are abandoned. */
  clear(): void {
    const abandoned = this.waiting.slice(this.head).filter((r) => !r.done && r.onAbandon);
    this.waiting = [];
    this.head = 0;
    this.waitingBytes = 0;
    this.wakeDrained();
    for (const reply of abandoned) reply.onAbandon!();
  }

  /** Writes out, in order, every complete reply at the head. */
  private flush(): void {
    while (this.head < this.waiting.length) {
      const reply = this.waiting[this.head];
      const bytes = reply.bytes;
      if (bytes === null) return;
      this.head++;
      this.waitingBytes -= reply.counted;
      if (bytes.length > 0) this.write(bytes);
    }
    this.waiting = [];
    this.head = 0;
    this.wakeDrained();
  }

  private cross(): void {
    if (this.overflowed) return;
    this.overflowed = true;
    this.onOverflow();
  }

  private wakeDrained(): void {
    if (this.drainedWaiters.length === 0) return;
    for (const wake of this.drainedWaiters.splice(0)) wake();
  }
}

const EMPTY = new Uint8Array(0);
