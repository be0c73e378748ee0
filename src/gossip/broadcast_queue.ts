/**
 * The queue of updates waiting to be piggybacked, after memberlist's `TransmitLimitedQueue`: each
 * broadcast goes out a limited number of times, the least-sent first (the newest among equals); a
 * broadcast about a member replaces any older one about the same member; and the queue is bounded.
 *
 * @module
 */
import { assert } from "../_assert.ts";

interface Item {
  key: string;
  bytes: Uint8Array;
  transmits: number;
  order: number;
}

/**
 * A bounded, keyed, transmit-limited broadcast queue.
 *
 * @example
 * ```ts
 * import { BroadcastQueue } from "./broadcast_queue.ts";
 * const queue = new BroadcastQueue(100);
 * queue.push("m:a", new Uint8Array(10));
 * queue.push("m:a", new Uint8Array(12)); // replaces the first
 * queue.take({ budgetBytes: 1400, transmitLimit: 3 }).length; // 1
 * ```
 */
export class BroadcastQueue {
  readonly maxEntries: number;
  #items = new Map<string, Item>();
  #order = 0;
  /** Broadcasts dropped because the queue was full. */
  dropped = 0;

  constructor(maxEntries: number) {
    assert(maxEntries >= 1, "a broadcast queue holds at least one entry");
    this.maxEntries = maxEntries;
  }

  get size(): number {
    return this.#items.size;
  }

  /** Transmits so far of the broadcast under `key`, or -1 when it is no longer queued. */
  transmits(key: string): number {
    return this.#items.get(key)?.transmits ?? -1;
  }

  /** Queues `bytes` under `key`, replacing what was queued under it. */
  push(key: string, bytes: Uint8Array): void {
    this.#items.delete(key);
    this.#items.set(key, { key, bytes, transmits: 0, order: this.#order++ });
    if (this.#items.size > this.maxEntries) this.#dropMostSent();
  }

  /**
   * Takes broadcasts that fit in `budgetBytes` (counting each one's bytes), counting a transmit
   * for each; those sent `transmitLimit` times leave the queue.
   */
  take(options: { budgetBytes: number; transmitLimit: number }): Uint8Array[] {
    if (this.#items.size === 0) return [];
    const items = [...this.#items.values()].sort((a, b) =>
      a.transmits - b.transmits || b.order - a.order
    );
    let remaining = options.budgetBytes;
    const out: Uint8Array[] = [];
    for (const item of items) {
      if (remaining <= 0) break;
      if (item.bytes.length > remaining) continue;
      remaining -= item.bytes.length;
      out.push(item.bytes);
      item.transmits++;
      if (item.transmits >= options.transmitLimit) this.#items.delete(item.key);
    }
    return out;
  }

  #dropMostSent(): void {
    let worst: Item | undefined;
    for (const item of this.#items.values()) {
      if (
        worst === undefined || item.transmits > worst.transmits ||
        (item.transmits === worst.transmits && item.order < worst.order)
      ) worst = item;
    }
    assert(worst !== undefined, "a full queue has an entry to drop");
    this.#items.delete(worst.key);
    this.dropped++;
  }
}
