/**
 * The append-only file: every write command as RESP (the bytes a client sends), so Redis tools
 * can read it. Each write of the file is one batch behind an annotation line with its length
 * and CRC-32 (`_records.ts`), which Redis's tools skip and recovery checks. Durability follows
 * `appendfsync`:
 *
 * - `always`: a write is acknowledged only once its record is on disk. Group commit without a
 *   timer: while one write+fdatasync is in flight, records gather; the next batch starts the
 *   moment the previous one finishes, so concurrent clients share fsyncs.
 * - `everysec`: records are written at the end of each event-loop turn and fdatasync runs once a
 *   second, off the command path.
 * - `no`: records are written; the kernel decides when they reach the disk.
 *
 * A failed write or fsync puts the log into an error state: write commands are refused (MISCONF)
 * while the same bytes are retried from the last durable offset, and replies waiting on them are
 * released only once they are durable. Nothing acknowledged is lost.
 *
 * @module
 */
import type { AppendFsync } from "../config/config.ts";
import type { FileHandle } from "../runtime/types.ts";
import { setImmediate } from "node:timers";
import { RecordBuffer } from "./_records.ts";

/** Pause between retries of a failed write, so a full disk is not hammered. */
const RETRY_DELAY_MS = 100;
/** `everysec`'s fsync interval. */
const EVERYSEC_INTERVAL_MS = 1000;

/** Upper bounds of the fsync latency histogram buckets (ms): 0.1 ms SSD to 2.5 s stalled disks. */
export const FSYNC_BUCKETS_MS: readonly number[] = [
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  25,
  50,
  100,
  250,
  500,
  1000,
  2500,
];

/** Counters for INFO persistence and /metrics. */
export interface AofStats {
  /** Bytes in the current AOF file (durable or written). */
  sizeBytes: number;
  /** Size when the current file was started or rewritten, for the auto-rewrite trigger. */
  baseSizeBytes: number;
  writes: number;
  fsyncs: number;
  /** Durations of fsyncs, for the latency histogram. */
  fsyncLatencyMs: number[];
  /** fsyncs per bucket of `FSYNC_BUCKETS_MS` (not cumulative); the last slot is above them all. */
  fsyncBucketCounts: number[];
  /** Sum of every fsync's duration, for the histogram's `_sum`. */
  fsyncTotalMs: number;
  lastError: string | null;
  failedWrites: number;
}

export class AofWriter {
  /** Encoded records not yet written (or being written). */
  private readonly pending = new RecordBuffer();
  /** Records are numbered; `durableSeq` is the last one known to be on disk (or written, for `no`). */
  private appendedSeq = 0;
  private durableSeq = 0;
  private inFlight = false;
  private waiters: { seq: number; resolve: () => void }[] = [];
  private selectedDb = -1;
  private everysecTimer: ReturnType<typeof setInterval> | null = null;
  private flushScheduled = false;
  private durableSize: number;
  private closed = false;
  private writtenUnsynced = false;
  /** Bumped by `switchTo`, so a write still in flight on the old file leaves the new one alone. */
  private generation = 0;
  readonly stats: AofStats;

  constructor(
    private file: FileHandle,
    initialSizeBytes: number,
    readonly fsync: AppendFsync,
  ) {
    this.durableSize = initialSizeBytes;
    this.stats = {
      sizeBytes: initialSizeBytes,
      baseSizeBytes: initialSizeBytes,
      writes: 0,
      fsyncs: 0,
      fsyncLatencyMs: [],
      fsyncBucketCounts: new Array(FSYNC_BUCKETS_MS.length + 1).fill(0),
      fsyncTotalMs: 0,
      lastError: null,
      failedWrites: 0,
    };
    if (fsync === "everysec") {
      this.everysecTimer = setInterval(() => void this.syncNow(), EVERYSEC_INTERVAL_MS);
    }
  }

  /** The error that makes writes refused, or null when the log is healthy. */
  get error(): string | null {
    return this.stats.lastError;
  }

  /** Whether records appended so far are not yet durable. */
  get hasUndurable(): boolean {
    return this.appendedSeq !== this.durableSeq;
  }

  /** Sequence number of the last appended record. */
  get sequence(): number {
    return this.appendedSeq;
  }

  /** Appends a command run on store `db`. */
  append(db: number, argv: readonly string[]): void {
    if (db !== this.selectedDb) {
      this.pending.appendCommand(["SELECT", String(db)]);
      this.selectedDb = db;
    }
    this.pending.appendCommand(argv);
    this.appendedSeq++;
    this.schedule();
  }

  /** Resolves when every record up to `seq` is durable (per the fsync policy). */
  waitDurable(seq = this.appendedSeq): Promise<void> {
    if (seq <= this.durableSeq) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ seq, resolve }));
  }

  private schedule(): void {
    if (this.inFlight || this.flushScheduled) return;
    this.flushScheduled = true;
    const run = () => {
      this.flushScheduled = false;
      void this.flush();
    };
    if (this.fsync === "always") {
      // After the current batch of commands: the replies wait for this write and its fsync.
      queueMicrotask(run);
    } else {
      // After every connection that had input in this turn of the event loop, as Redis writes
      // its AOF buffer before it next waits for events: one write per turn, not per connection.
      setImmediate(run);
    }
  }

  /** Writes what is pending (and fsyncs under `always`); loops while more arrives. */
  private async flush(): Promise<void> {
    if (this.inFlight) return;
    this.inFlight = true;
    try {
      while (this.pending.length > 0 && !this.closed) {
        const records = this.pending.view();
        const seq = this.appendedSeq;
        const generation = this.generation;
        try {
          await this.file.write(records);
          if (this.fsync === "always") await this.timedSync();
          else this.writtenUnsynced = true;
        } catch (error) {
          // After `switchTo`, the failure was the old file's: its records are in the snapshot.
          if (generation === this.generation) await this.recover(error);
          continue;
        }
        if (generation !== this.generation) continue;
        this.pending.consume(records.length);
        this.durableSize += records.length;
        this.stats.sizeBytes = this.durableSize;
        this.stats.writes++;
        this.stats.lastError = null;
        this.release(seq);
      }
    } finally {
      this.inFlight = false;
    }
  }

  /** After a failed write: note the error, cut the file back to its durable size, wait, retry. */
  private async recover(error: unknown): Promise<void> {
    this.stats.failedWrites++;
    this.stats.lastError = (error as Error).message ?? String(error);
    const file = this.file;
    await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS));
    if (file !== this.file) return;
    try {
      await file.truncate(this.durableSize);
    } catch {
      // The next write attempt reports the problem again.
    }
  }

  private async timedSync(): Promise<void> {
    const started = performance.now();
    await this.file.datasync();
    this.stats.fsyncs++;
    const latencies = this.stats.fsyncLatencyMs;
    const elapsedMs = performance.now() - started;
    latencies.push(elapsedMs);
    let bucket = 0;
    while (bucket < FSYNC_BUCKETS_MS.length && elapsedMs > FSYNC_BUCKETS_MS[bucket]) bucket++;
    this.stats.fsyncBucketCounts[bucket]++;
    this.stats.fsyncTotalMs += elapsedMs;
    if (latencies.length > 1024) latencies.splice(0, latencies.length - 1024);
  }

  private release(seq: number): void {
    if (seq <= this.durableSeq) return;
    this.durableSeq = seq;
    if (this.waiters.length === 0) return;
    const ready = this.waiters.filter((w) => w.seq <= seq);
    this.waiters = this.waiters.filter((w) => w.seq > seq);
    for (const waiter of ready) waiter.resolve();
  }

  /** fsyncs what has been written (the `everysec` tick, and before close). */
  async syncNow(): Promise<void> {
    if (!this.writtenUnsynced || this.closed) return;
    this.writtenUnsynced = false;
    try {
      await this.timedSync();
    } catch (error) {
      this.stats.lastError = (error as Error).message;
      this.writtenUnsynced = true;
    }
  }

  /** Writes and fsyncs everything pending, then closes the file. */
  async close(): Promise<void> {
    if (this.everysecTimer !== null) clearInterval(this.everysecTimer);
    while (this.inFlight || this.pending.length > 0) {
      if (!this.inFlight) await this.flush();
      else await new Promise((resolve) => setTimeout(resolve, 1));
    }
    this.writtenUnsynced = true;
    await this.syncNow();
    this.closed = true;
    await this.file.close();
  }

  /**
   * Starts a new file at a point in time: `snapshot` runs synchronously at that point; records
   * appended before it go to the old file (written and fsynced), then `beforeSwitch` runs (the
   * caller makes the new file known, so records in it can never be orphaned), and only then do
   * records go to `file`. If the old file's write or `beforeSwitch` fails, nothing switches and
   * the log goes on in the old file. Returns the old file and what `snapshot` returned.
   */
  async rotate<T>(
    file: FileHandle,
    snapshot: () => T,
    beforeSwitch: () => Promise<void>,
    /** While true the snapshot must not be taken yet (a script is suspended mid-way). */
    hold: () => boolean = () => false,
  ): Promise<{ old: FileHandle; result: T }> {
    while (this.inFlight || hold()) await new Promise((resolve) => setTimeout(resolve, 1));
    // Holding `inFlight` keeps `flush` away while the old file gets its last records.
    this.inFlight = true;
    const old = this.file;
    const before = this.pending.view().slice();
    const seq = this.appendedSeq;
    let result: T;
    try {
      result = snapshot();
      // Records from here on start with a SELECT, whichever file they land in.
      this.pending.clear();
      this.selectedDb = -1;
      if (before.length > 0) await old.write(before);
      await old.datasync();
    } catch (error) {
      this.pending.prepend(before);
      this.stats.lastError = (error as Error).message;
      await old.truncate(this.durableSize).catch(() => {});
      this.inFlight = false;
      if (this.pending.length > 0) void this.flush();
      throw error;
    }
    this.durableSize += before.length;
    this.stats.sizeBytes = this.durableSize;
    this.release(seq);
    try {
      await beforeSwitch();
      this.generation++;
      this.file = file;
      this.durableSize = 0;
      this.stats.sizeBytes = 0;
      this.stats.baseSizeBytes = 0;
    } finally {
      this.inFlight = false;
      if (this.pending.length > 0) void this.flush();
    }
    return { old, result };
  }

  /**
   * Continues in `file` at once, without waiting (SAVE): the caller has just made a snapshot
   * durable that holds every record up to `seq`, so records not yet written are dropped and
   * their waiters released. A write still in flight on the old file finishes there harmlessly.
   * Returns the old file, for the caller to close.
   */
  switchTo(file: FileHandle, seq: number): FileHandle {
    if (seq !== this.appendedSeq) {
      throw new RangeError(
        `Cannot switch the AOF: the snapshot holds records up to ${seq} but ${this.appendedSeq} were appended`,
      );
    }
    const old = this.file;
    this.generation++;
    this.file = file;
    this.pending.clear();
    this.selectedDb = -1;
    this.writtenUnsynced = false;
    this.durableSize = 0;
    this.stats.sizeBytes = 0;
    this.stats.baseSizeBytes = 0;
    this.stats.lastError = null;
    this.release(seq);
    return old;
  }
}
