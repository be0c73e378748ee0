/**
 * The leader's view of each follower: how far its log matches, what to send next, and the flow
 * control that bounds messages and bytes in flight.
 *
 * @module
 */
import { assert } from "../_assert.ts";
import type { Snapshot } from "./types.ts";

/**
 * How the leader replicates to one follower: `probe` sends one append per heartbeat until it finds
 * where the logs match; `replicate` streams appends optimistically within the in-flight limits;
 * `snapshot` sends a snapshot in chunks and waits.
 */
export type ProgressState = "probe" | "replicate" | "snapshot";

/**
 * A bounded window of appends sent but not yet acknowledged, each remembered by its last index
 * and size, so that both a message count and a byte budget cap what is in flight.
 *
 * @example
 * ```ts
 * import { Inflights } from "./progress.ts";
 * const inflights = new Inflights(2, 1024);
 * inflights.add(5, 100);
 * inflights.add(9, 100);
 * inflights.full(); // true
 * inflights.freeLE(5);
 * inflights.full(); // false
 * ```
 */
export class Inflights {
  private indexes: number[] = [];
  private sizes: number[] = [];
  private totalBytes = 0;

  constructor(readonly maxCount: number, readonly maxBytes: number) {}

  add(lastIndex: number, sizeBytes: number): void {
    assert(!this.full(), "cannot add an inflight message: the window is full");
    const previous = this.indexes.at(-1);
    assert(previous === undefined || lastIndex > previous, "inflight indexes must increase");
    this.indexes.push(lastIndex);
    this.sizes.push(sizeBytes);
    this.totalBytes += sizeBytes;
  }

  /** Forgets every message whose last index is at most `index`: the follower has them. */
  freeLE(index: number): void {
    let n = 0;
    while (n < this.indexes.length && this.indexes[n] <= index) {
      this.totalBytes -= this.sizes[n];
      n++;
    }
    if (n === 0) return;
    this.indexes.splice(0, n);
    this.sizes.splice(0, n);
  }

  /** Forgets the oldest message, so that one more may go out after a probable loss. */
  freeFirstOne(): void {
    if (this.indexes.length > 0) this.freeLE(this.indexes[0]);
  }

  full(): boolean {
    return this.indexes.length >= this.maxCount || this.totalBytes >= this.maxBytes;
  }

  count(): number {
    return this.indexes.length;
  }

  bytes(): number {
    return this.totalBytes;
  }

  reset(): void {
    this.indexes = [];
    this.sizes = [];
    this.totalBytes = 0;
  }
}

/**
 * One follower's replication state as the leader tracks it.
 *
 * @example
 * ```ts
 * import { Progress } from "./progress.ts";
 * const progress = new Progress({ next: 11, maxInflightCount: 256, maxInflightBytes: 1 << 20 });
 * progress.maybeUpdate(10); // true: the follower holds everything up to 10
 * progress.becomeReplicate();
 * ```
 */
export class Progress {
  /** Highest index known to match the leader's log. */
  match = 0;
  /** Next index to send. */
  next: number;
  state: ProgressState = "probe";
  /** In probe state: an append is out, wait for its answer or the next heartbeat. */
  probeSent = false;
  /** Heard from within the last election timeout (check-quorum). */
  recentActive = false;
  isLearner = false;
  /** The leader tick of the newest message this follower acknowledged (leader lease). */
  ackedSentTick = -Infinity;
  /** In snapshot state: the snapshot being sent and how many bytes the follower holds. */
  pendingSnapshot: Snapshot | undefined = undefined;
  snapshotAckedBytes = 0;
  readonly inflights: Inflights;

  constructor(options: { next: number; maxInflightCount: number; maxInflightBytes: number }) {
    this.next = options.next;
    this.inflights = new Inflights(options.maxInflightCount, options.maxInflightBytes);
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = undefined;
    this.snapshotAckedBytes = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === "snapshot" && this.pendingSnapshot) {
      // Resume right after the snapshot: the follower will either have it or reject.
      const snapshotIndex = this.pendingSnapshot.metadata.index;
      this.resetState("probe");
      this.next = Math.max(this.match + 1, snapshotIndex + 1);
    } else {
      this.resetState("probe");
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState("replicate");
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshot: Snapshot): void {
    this.resetState("snapshot");
    this.pendingSnapshot = snapshot;
  }

  /** Records an acknowledgement up to `index`; false when it tells nothing new. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /**
   * Handles a rejected append of the entries after `rejected`, with the follower's hint of where
   * to retry. Returns false when the rejection is stale.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === "replicate") {
      // In replicate state anything at or below match is an old message arriving late.
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    // In probe state only the answer to the last probe (next - 1) counts.
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1, 1);
    this.probeSent = false;
    return true;
  }

  /** Whether sending an append to this follower must wait. */
  isPaused(): boolean {
    switch (this.state) {
      case "probe":
        return this.probeSent;
      case "replicate":
        return this.inflights.full();
      case "snapshot":
        return true;
    }
  }

  /** Notes that an append ending at `lastIndex` with `sizeBytes` of entries went out. */
  sentEntries(entryCount: number, lastIndex: number, sizeBytes: number): void {
    if (this.state === "replicate") {
      if (entryCount > 0) {
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex, sizeBytes);
      }
    } else if (this.state === "probe") {
      this.probeSent = true;
    }
  }
}
