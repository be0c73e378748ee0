/**
 * An in-memory {@linkcode Storage}: for tests, for simulations, and as the cache that the durable
 * storage keeps in front of its files.
 *
 * @module
 */
import { assert } from "../_assert.ts";
import { limitSize } from "./log.ts";
import type { ConfState, Entry, HardState, Snapshot, Storage } from "./types.ts";
import { emptyConfState, NONE } from "./types.ts";

function copyConfState(conf: ConfState): ConfState {
  return {
    voters: [...conf.voters],
    learners: [...conf.learners],
    votersOutgoing: [...conf.votersOutgoing],
    learnersNext: [...conf.learnersNext],
    autoLeave: conf.autoLeave,
  };
}

/**
 * Log entries, hard state and the latest snapshot, held in memory.
 *
 * @example
 * ```ts
 * import { MemoryStorage } from "./memory_storage.ts";
 * const storage = MemoryStorage.bootstrap([1, 2, 3]);
 * storage.firstIndex(); // 2: the bootstrap snapshot holds index 1
 * ```
 */
export class MemoryStorage implements Storage {
  /** Term, vote and commit, as last set. */
  hardState: HardState = { term: 0, vote: NONE, commit: 0 };
  private snap: Snapshot = {
    metadata: { index: 0, term: 0, confState: emptyConfState() },
    data: new Uint8Array(),
  };
  /** `ents[0]` is a dummy at the snapshot's index carrying its term. */
  private ents: Entry[] = [{ term: 0, index: 0, type: "normal", data: new Uint8Array() }];

  /**
   * A storage for a brand-new cluster member of the initial configuration: a snapshot at index 1,
   * term 1 holding the membership and the application's initial state. Nodes added later start
   * from an empty `new MemoryStorage()` and receive the leader's snapshot.
   */
  static bootstrap(
    voters: number[],
    data: Uint8Array = new Uint8Array(),
    learners: number[] = [],
  ): MemoryStorage {
    const storage = new MemoryStorage();
    storage.applySnapshot({
      metadata: {
        index: 1,
        term: 1,
        confState: { ...emptyConfState(), voters: [...voters], learners: [...learners] },
      },
      data,
    });
    storage.hardState = { term: 1, vote: NONE, commit: 1 };
    return storage;
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    return {
      hardState: { ...this.hardState },
      confState: copyConfState(this.snap.metadata.confState),
    };
  }

  /** Records the hard state of a `Ready`. */
  setHardState(hardState: HardState): void {
    this.hardState = { ...hardState };
  }

  firstIndex(): number {
    return this.ents[0].index + 1;
  }

  lastIndex(): number {
    return this.ents[0].index + this.ents.length - 1;
  }

  entries(lo: number, hi: number, maxSizeBytes: number): Entry[] {
    const offset = this.ents[0].index;
    assert(lo > offset, `entries from ${lo} are compacted (first index ${offset + 1})`);
    assert(
      hi <= this.lastIndex() + 1,
      `entries up to ${hi} are beyond the last index ${this.lastIndex()}`,
    );
    return limitSize(this.ents.slice(lo - offset, hi - offset), maxSizeBytes);
  }

  term(index: number): number | undefined {
    const offset = this.ents[0].index;
    if (index < offset || index > this.lastIndex()) return undefined;
    return this.ents[index - offset].term;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Replaces the log with `snapshot` (received from the leader). Older snapshots are ignored. */
  applySnapshot(snapshot: Snapshot): void {
    if (snapshot.metadata.index <= this.snap.metadata.index && this.snap.metadata.index > 0) return;
    this.snap = {
      metadata: { ...snapshot.metadata, confState: copyConfState(snapshot.metadata.confState) },
      data: snapshot.data,
    };
    this.ents = [{
      term: snapshot.metadata.term,
      index: snapshot.metadata.index,
      type: "normal",
      data: new Uint8Array(),
    }];
    if (this.hardState.commit < snapshot.metadata.index) {
      this.hardState = { ...this.hardState, commit: snapshot.metadata.index };
    }
  }

  /** Replaces the log with `snapshot` unconditionally (recovery replays a snapshot marker). */
  resetTo(snapshot: Snapshot): void {
    this.snap = {
      metadata: { ...snapshot.metadata, confState: copyConfState(snapshot.metadata.confState) },
      data: snapshot.data,
    };
    this.ents = [{
      term: snapshot.metadata.term,
      index: snapshot.metadata.index,
      type: "normal",
      data: new Uint8Array(),
    }];
  }

  /**
   * Records the application's snapshot at `index` (which it has applied). Call `compact` after to
   * drop the entries it covers.
   */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.snap.metadata.index) return this.snap;
    assert(
      index <= this.lastIndex(),
      `snapshot index ${index} is beyond the last index ${this.lastIndex()}`,
    );
    const term = this.term(index);
    assert(term !== undefined, `snapshot index ${index} is compacted`);
    this.snap = { metadata: { index, term, confState: copyConfState(confState) }, data };
    return this.snap;
  }

  /** Drops entries up to and including `compactIndex`, which the snapshot must cover. */
  compact(compactIndex: number): void {
    const offset = this.ents[0].index;
    if (compactIndex <= offset) return;
    assert(
      compactIndex <= this.snap.metadata.index,
      `compact ${compactIndex} is beyond the snapshot ${this.snap.metadata.index}`,
    );
    assert(
      compactIndex <= this.lastIndex(),
      `compact ${compactIndex} is beyond the last index ${this.lastIndex()}`,
    );
    const i = compactIndex - offset;
    const dummy: Entry = {
      term: this.ents[i].term,
      index: this.ents[i].index,
      type: "normal",
      data: new Uint8Array(),
    };
    this.ents = [dummy, ...this.ents.slice(i + 1)];
  }

  /** Appends `entries`, replacing any stored entries from the first new index on. */
  append(entries: Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[0].index + entries.length - 1;
    if (last < first) return;
    // Entries already compacted into the snapshot are skipped.
    const fresh = first > entries[0].index ? entries.slice(first - entries[0].index) : entries;
    const offset = fresh[0].index - this.ents[0].index;
    assert(offset <= this.ents.length, `missing log entry before ${fresh[0].index}`);
    if (offset === this.ents.length) {
      // The common case, appending at the end, must not copy the whole log.
      for (const entry of fresh) this.ents.push(entry);
    } else {
      this.ents = this.ents.slice(0, offset).concat(fresh);
    }
  }
}
