/**
 * The Raft log as the core sees it: entries on stable storage followed by entries (and possibly a
 * snapshot) not yet persisted, with the commit and apply positions.
 *
 * @module
 */
import { assert } from "../_assert.ts";
import type { Entry, Snapshot, Storage } from "./types.ts";
import { entrySizeBytes } from "./types.ts";

/** Takes entries from the front of `entries` until `maxSizeBytes` would be exceeded (at least one). */
export function limitSize(entries: Entry[], maxSizeBytes: number): Entry[] {
  let size = 0;
  let n = 0;
  for (; n < entries.length; n++) {
    size += entrySizeBytes(entries[n]);
    if (n > 0 && size > maxSizeBytes) break;
  }
  return n === entries.length ? entries : entries.slice(0, n);
}

/** Entries and snapshot accepted by the core but not yet persisted by the driver. */
class Unstable {
  snapshot: Snapshot | undefined = undefined;
  entries: Entry[] = [];
  /** Index of `entries[0]`. */
  offset: number;

  constructor(offset: number) {
    this.offset = offset;
  }

  maybeFirstIndex(): number | undefined {
    return this.snapshot ? this.snapshot.metadata.index + 1 : undefined;
  }

  maybeLastIndex(): number | undefined {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    return this.snapshot?.metadata.index;
  }

  maybeTerm(index: number): number | undefined {
    if (index < this.offset) {
      if (this.snapshot && this.snapshot.metadata.index === index) {
        return this.snapshot.metadata.term;
      }
      return undefined;
    }
    const last = this.maybeLastIndex();
    if (last === undefined || index > last) return undefined;
    return this.entries[index - this.offset].term;
  }

  stableTo(index: number, term: number): void {
    const t = this.maybeTerm(index);
    // Only when the entry is still the one that was persisted (no truncation in between).
    if (t === term && index >= this.offset) {
      this.entries = this.entries.slice(index + 1 - this.offset);
      this.offset = index + 1;
    }
  }

  stableSnapTo(index: number): void {
    if (this.snapshot && this.snapshot.metadata.index === index) this.snapshot = undefined;
  }

  restore(snapshot: Snapshot): void {
    this.offset = snapshot.metadata.index + 1;
    this.entries = [];
    this.snapshot = snapshot;
  }

  truncateAndAppend(entries: Entry[]): void {
    const after = entries[0].index;
    if (after === this.offset + this.entries.length) {
      this.entries = this.entries.concat(entries);
    } else if (after <= this.offset) {
      // Replaces everything unstable; the driver overwrites storage from `after` on.
      this.offset = after;
      this.entries = entries.slice();
    } else {
      this.entries = this.entries.slice(0, after - this.offset).concat(entries);
    }
  }
}

/**
 * The log: `storage` (durable) plus unstable entries, with `committed` and `applied` positions.
 *
 * @example
 * ```ts
 * import { RaftLog } from "./log.ts";
 * import { MemoryStorage } from "./memory_storage.ts";
 * const log = new RaftLog(new MemoryStorage(), 1 << 20);
 * log.append([{ term: 1, index: 1, type: "normal", data: new Uint8Array() }]);
 * log.lastIndex(); // 1
 * ```
 */
export class RaftLog {
  readonly storage: Storage;
  readonly unstable: Unstable;
  committed: number;
  applied: number;
  readonly maxApplyingBytes: number;

  constructor(storage: Storage, maxApplyingBytes: number) {
    this.storage = storage;
    this.maxApplyingBytes = maxApplyingBytes;
    const first = storage.firstIndex();
    this.unstable = new Unstable(storage.lastIndex() + 1);
    // Everything up to the snapshot is committed and applied by definition.
    this.committed = first - 1;
    this.applied = first - 1;
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  lastTerm(): number {
    const term = this.term(this.lastIndex());
    assert(term !== undefined, "the last entry's term must be known");
    return term;
  }

  /** The term at `index`, or `undefined` when it is compacted or beyond the last entry. */
  term(index: number): number | undefined {
    const dummy = this.firstIndex() - 1;
    if (index < dummy || index > this.lastIndex()) return undefined;
    return this.unstable.maybeTerm(index) ?? this.storage.term(index);
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** Whether a log ending at (`lastIndex`, `lastTerm`) is at least as up to date (section 5.4.1). */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /**
   * Appends `entries` sent after (`index`, `logTerm`) when the logs match there, truncating any
   * conflicting suffix. Returns the last new index, or `undefined` when the logs do not match.
   */
  maybeAppend(
    index: number,
    logTerm: number,
    commit: number,
    entries: Entry[],
  ): number | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNew = index + entries.length;
    const conflict = this.findConflict(entries);
    if (conflict !== 0) {
      assert(
        conflict > this.committed,
        `entry ${conflict} conflicts with committed entry ${this.committed}`,
      );
      this.append(entries.slice(conflict - index - 1));
    }
    this.commitTo(Math.min(commit, lastNew));
    return lastNew;
  }

  /** Index of the first entry whose term differs from ours, or is new; 0 when all match. */
  private findConflict(entries: Entry[]): number {
    for (const entry of entries) {
      if (!this.matchTerm(entry.index, entry.term)) return entry.index;
    }
    return 0;
  }

  /**
   * The largest index at or below `index` whose term is at most `term`: where the logs may match
   * (fast backtracking, skipping a whole term per round trip).
   */
  findConflictByTerm(index: number, term: number): number {
    let i = Math.min(index, this.lastIndex());
    for (; i > 0; i--) {
      const t = this.term(i);
      if (t === undefined || t <= term) break;
    }
    return i;
  }

  append(entries: Entry[]): number {
    if (entries.length === 0) return this.lastIndex();
    assert(
      entries[0].index - 1 >= this.committed,
      `cannot truncate committed entry ${this.committed}`,
    );
    this.unstable.truncateAndAppend(entries);
    return this.lastIndex();
  }

  unstableEntries(): Entry[] {
    return this.unstable.entries;
  }

  /** Entries in [lo, lastIndex] within `maxSizeBytes`, or `undefined` when lo is compacted. */
  entriesFrom(lo: number, maxSizeBytes: number): Entry[] | undefined {
    if (lo > this.lastIndex()) return [];
    return this.slice(lo, this.lastIndex() + 1, maxSizeBytes);
  }

  /** Entries in [lo, hi) within `maxSizeBytes` (at least one), `undefined` when lo is compacted. */
  slice(lo: number, hi: number, maxSizeBytes: number): Entry[] | undefined {
    if (lo < this.firstIndex()) return undefined;
    assert(hi <= this.lastIndex() + 1, `slice [${lo}, ${hi}) is beyond the last index`);
    if (lo >= hi) return [];
    let result: Entry[] = [];
    const offset = this.unstable.offset;
    if (lo < offset) {
      result = this.storage.entries(lo, Math.min(hi, offset), maxSizeBytes);
      if (result.length < Math.min(hi, offset) - lo) return result;
    }
    if (hi > offset) {
      const from = this.unstable.entries.slice(Math.max(lo, offset) - offset, hi - offset);
      result = result.length > 0 ? result.concat(from) : from;
    }
    return limitSize(result, maxSizeBytes);
  }

  /** Committed entries not yet handed to the application, within the apply byte budget. */
  nextCommittedEntries(): Entry[] {
    const lo = Math.max(this.applied + 1, this.firstIndex());
    if (this.committed + 1 <= lo) return [];
    return this.slice(lo, this.committed + 1, this.maxApplyingBytes) ?? [];
  }

  hasNextCommittedEntries(): boolean {
    return this.committed > Math.max(this.applied, this.firstIndex() - 1);
  }

  commitTo(index: number): void {
    if (index <= this.committed) return;
    assert(
      index <= this.lastIndex(),
      `commit ${index} is beyond the last index ${this.lastIndex()}`,
    );
    this.committed = index;
  }

  /** Commits `index` if it holds an entry of `term`: only current-term entries count replicas. */
  maybeCommit(index: number, term: number): boolean {
    if (index > this.committed && this.term(index) === term) {
      this.commitTo(index);
      return true;
    }
    return false;
  }

  appliedTo(index: number): void {
    if (index === 0) return;
    assert(index <= this.committed, `applied ${index} is beyond committed ${this.committed}`);
    assert(index >= this.applied, `applied ${index} goes back from ${this.applied}`);
    this.applied = index;
  }

  stableTo(index: number, term: number): void {
    this.unstable.stableTo(index, term);
  }

  stableSnapTo(index: number): void {
    this.unstable.stableSnapTo(index);
  }

  /** The highest index known durable (what the leader may count as its own acknowledgement). */
  stableLastIndex(): number {
    if (this.unstable.snapshot) return this.storage.lastIndex();
    return this.unstable.offset - 1;
  }

  restore(snapshot: Snapshot): void {
    this.committed = snapshot.metadata.index;
    this.unstable.restore(snapshot);
  }

  /** The snapshot a follower restoring from the leader must persist, if any. */
  unstableSnapshot(): Snapshot | undefined {
    return this.unstable.snapshot;
  }

  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }
}
