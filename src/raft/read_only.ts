/**
 * Pending linearizable reads on the leader (ReadIndex, section 6.4 of the Raft thesis): each read
 * waits until a quorum has answered a heartbeat sent after it arrived.
 *
 * @module
 */
import type { NodeId } from "./types.ts";

/** A read waiting for a quorum of heartbeat acknowledgements. */
export interface PendingRead {
  /** The commit index when the read arrived: the state machine must reach it before serving. */
  index: number;
  /** Who asked: this node, or a follower that forwarded the request. */
  from: NodeId;
  context: Uint8Array;
  acks: Map<NodeId, boolean>;
}

/** A lossless string key for a byte context (one char per byte). */
export function contextKey(context: Uint8Array): string {
  let key = "";
  for (let i = 0; i < context.length; i++) key += String.fromCharCode(context[i]);
  return key;
}

/**
 * Reads in arrival order, keyed by their context. An acknowledgement for a later read also
 * confirms every earlier one, so a quorum on the newest releases the whole prefix.
 *
 * @example
 * ```ts
 * import { ReadOnly } from "./read_only.ts";
 * const reads = new ReadOnly(1024);
 * const context = new Uint8Array([1]);
 * reads.add({ index: 7, from: 1, context, acks: new Map() });
 * reads.ack(1, context);
 * reads.ack(2, context)?.size; // 2
 * reads.release(context).length; // 1
 * ```
 */
export class ReadOnly {
  private pending = new Map<string, PendingRead>();
  private queue: string[] = [];

  constructor(readonly maxPendingCount: number) {}

  /** Adds a read; false when one with the same context is pending or the queue is full. */
  add(read: PendingRead): boolean {
    const key = contextKey(read.context);
    if (this.pending.has(key) || this.queue.length >= this.maxPendingCount) return false;
    this.pending.set(key, read);
    this.queue.push(key);
    return true;
  }

  /** Records `from`'s acknowledgement; returns the acks so far, or undefined for unknown reads. */
  ack(from: NodeId, context: Uint8Array): Map<NodeId, boolean> | undefined {
    const read = this.pending.get(contextKey(context));
    if (!read) return undefined;
    read.acks.set(from, true);
    return read.acks;
  }

  /** Removes and returns every read up to and including `context`'s. */
  release(context: Uint8Array): PendingRead[] {
    const key = contextKey(context);
    const at = this.queue.indexOf(key);
    if (at < 0) return [];
    const keys = this.queue.splice(0, at + 1);
    const released = keys.map((k) => this.pending.get(k)!);
    for (const k of keys) this.pending.delete(k);
    return released;
  }

  /** The newest read's context, sent with heartbeats so their answers acknowledge it. */
  lastContext(): Uint8Array | undefined {
    const key = this.queue.at(-1);
    return key === undefined ? undefined : this.pending.get(key)!.context;
  }

  count(): number {
    return this.queue.length;
  }
}
