/**
 * What both TCP adapters share for writing: replies are sent once every connection with input in
 * this turn of the event loop has been served, as Redis writes its replies before it waits for
 * events again. A peer woken by the first write is still busy reading when the next ones arrive;
 * writing each connection's replies at once woke an idle peer every time (on loopback the wakeup
 * is paid inside our send: 12% of a node's CPU in perf under `redis-benchmark -P 16`).
 *
 * @module
 */
import { setImmediate } from "node:timers";

/**
 * A queue whose items are handed to `flush` together, once, at the end of the current turn
 * (`setImmediate`: after the I/O callbacks and microtasks of this turn).
 */
export function endOfTurn<T>(flush: (item: T) => void): (item: T) => void {
  let queued: T[] = [];
  const run = () => {
    const items = queued;
    queued = [];
    for (const item of items) flush(item);
  };
  return (item: T) => {
    if (queued.length === 0) setImmediate(run);
    queued.push(item);
  };
}

/** Buffers up to this size are kept for the next replies once empty; larger ones are dropped, so
 * a connection that once sent a large reply does not hold its memory while idle. */
const KEEP_MAX_BYTES = 64 * 1024;
const FIRST_BYTES = 4096;
const NO_BYTES = new Uint8Array(0);

/**
 * The bytes a connection has yet to send, copied into a buffer it owns and reuses: writes are
 * sent at the end of the turn, after the caller has reused its reply buffer. A new array per
 * write (what `slice` gives) is an ArrayBuffer allocated outside the heap each time, which cost
 * more than the copy.
 *
 * Bun sends synchronously: `peek`, write, `consume` what went out. Deno sends asynchronously:
 * `detach` hands the bytes over (writes meanwhile go to a second buffer), `recycle` gives the
 * buffer back once sent.
 */
export class Outbox {
  private bytes: Uint8Array = NO_BYTES;
  private length = 0;
  private spare: Uint8Array = NO_BYTES;

  /** Bytes queued. */
  get size(): number {
    return this.length;
  }

  /** Copies `data` to the end of the queue. */
  push(data: Uint8Array): void {
    const needed = this.length + data.length;
    if (needed > this.bytes.length) {
      const grown = new Uint8Array(Math.max(needed, this.bytes.length * 2, FIRST_BYTES));
      grown.set(this.bytes.subarray(0, this.length));
      this.bytes = grown;
    }
    this.bytes.set(data, this.length);
    this.length = needed;
  }

  /** The queued bytes, valid until the next `push` or `consume`. */
  peek(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }

  /** Drops the first `count` queued bytes (they were sent). */
  consume(count: number): void {
    if (count >= this.length) {
      this.length = 0;
      if (this.bytes.length > KEEP_MAX_BYTES) this.bytes = NO_BYTES;
      return;
    }
    this.bytes.copyWithin(0, count, this.length);
    this.length -= count;
  }

  /** Hands the queued bytes over (the caller owns them until `recycle`) and empties the queue. */
  detach(): Uint8Array {
    const queued = this.bytes.subarray(0, this.length);
    this.bytes = this.spare;
    this.spare = NO_BYTES;
    this.length = 0;
    return queued;
  }

  /** Takes back the buffer of bytes `detach` handed over, once they are sent. */
  recycle(sent: Uint8Array): void {
    const size = sent.buffer.byteLength;
    if (size > 0 && size <= KEEP_MAX_BYTES && this.spare === NO_BYTES) {
      this.spare = new Uint8Array(sent.buffer, 0, size);
    }
  }

  /** Drops everything queued. */
  clear(): void {
    this.length = 0;
    this.bytes = NO_BYTES;
    this.spare = NO_BYTES;
  }
}
