/**
 * Persistence of a node: recovery at start (snapshot, then the AOF that follows it), the AOF
 * while running, and rewrites (a new snapshot plus a new empty AOF, switched by one atomic
 * manifest write).
 *
 * Files in the data directory: `manifest.json` names the current generation's snapshot
 * (`dump-N.hcs`, absent before the first rewrite), the earlier AOFs still to replay after it
 * (`replay`, only while a rewrite is under way or after one failed) and the AOF being appended
 * (`appendonly-N.aof`).
 *
 * A rewrite is two manifest writes, so that a crash between any two steps loses nothing:
 *
 * 1. open `appendonly-N.aof`; at one instant take the snapshot in memory and write the old AOF's
 *    last records; write the manifest `{snapshot: old, replay: [...old AOFs], aof: new}`; only
 *    then do records go to the new AOF;
 * 2. write `dump-N.hcs` (temporary name, fsync, rename, fsync the directory);
 * 3. write the manifest `{snapshot: dump-N.hcs, replay: [], aof: new}`, then remove the old files.
 *
 * Start-up never deletes what it cannot account for: it refuses a directory with data files but
 * no manifest, a manifest that names a missing file or breaks the chain rules, a corrupt AOF
 * (unless `aof_load_truncated`) and a record that fails on replay, each with a message naming
 * the file and what to do. Of the files the manifest does not name (left by a crash mid-rewrite)
 * it removes only those the manifest provably supersedes (`manifest.ts`). Files are otherwise
 * removed only once a rewrite has made them obsolete.
 *
 * @module
 */
import type { Dispatcher } from "../commands/dispatch.ts";
import { internalClient } from "../commands/types.ts";
import type { AppendFsync } from "../config/config.ts";
import type { Keyspace } from "../keyspace/keyspace.ts";
import { ReplyWriter } from "../resp/writer.ts";
import type { FileHandle, Runtime } from "../runtime/types.ts";
import { AofWriter } from "./aof.ts";
import { describeRecord, scanAof } from "./aof_reader.ts";
import {
  chainProblem,
  generationOf,
  isDataFile,
  isFreshDirectory,
  join,
  type Manifest,
  MANIFEST_NAME,
  manifestAofs,
  manifestBytes,
  readManifest,
  RecoveryError,
  sortUnnamed,
} from "./manifest.ts";
import { encodeSnapshot, loadSnapshot } from "./snapshot.ts";

export { join, type Manifest, manifestAofs, readManifest, RecoveryError };

/** How often the time trigger looks whether a snapshot is due. */
const INTERVAL_CHECK_MS = 1000;

/**
 * The replies of replayed records: only whether one was an error matters. Every error reply of
 * the dispatcher goes through `error`, a handler's unexpected exception included.
 */
class ReplaySink extends ReplyWriter {
  failure: string | null = null;

  override error(text: string): void {
    this.failure ??= text;
    super.error(text);
  }
}

export interface PersistenceOptions {
  dataDir: string;
  /**
   * While true, a snapshot waits: a script suspended past busy-reply-threshold has written part
   * of its effects, which the AOF gets whole when it ends (a snapshot between would hold them
   * twice after replay).
   */
  snapshotHeld?: () => boolean;
  appendfsync: AppendFsync;
  /** Snapshot after this many writes (0 = never by count), no sooner than `snapshotIntervalMs`. */
  snapshotEveryWrites: number;
  /**
   * Least time between automatic snapshots (Redis's `save 60 10000`), and the period of a
   * snapshot whenever there were writes since the last one. 0: no minimum and no periodic one.
   */
  snapshotIntervalMs: number;
  /** Rewrite when the AOF grew by this percentage over its size after the last rewrite... */
  autoRewritePercentage: number;
  /** ... and is at least this large. */
  autoRewriteMinBytes: number;
  /** Start anyway when the AOF is corrupt before its end, dropping the rest (and saying so). */
  truncateCorrupt: boolean;
}

/** Figures for INFO persistence. */
export interface RecoveryReport {
  keysLoaded: number;
  commandsReplayed: number;
  droppedBytes: number;
  timeMs: number;
  warnings: string[];
}

export class Persistence {
  aof!: AofWriter;
  private manifest!: Manifest;
  report!: RecoveryReport;
  lastSaveMs: number;
  writesSinceSave = 0;
  rewriting = false;
  rewrites = 0;
  lastRewriteError: string | null = null;
  /** Highest generation of any data file found at start-up: new files are numbered past it. */
  private highestGeneration = 0;
  /** Files found at start-up that no manifest accounts for: every new manifest lists them. */
  private kept: string[] = [];
  private intervalTimer: ReturnType<typeof setInterval> | null = null;

  private constructor(
    private readonly runtime: Runtime,
    private readonly keyspace: Keyspace,
    readonly options: PersistenceOptions,
  ) {
    this.lastSaveMs = runtime.clock.realtimeMs();
  }

  /** Loads the data directory into the keyspace and opens the AOF for appending. */
  static async open(
    runtime: Runtime,
    keyspace: Keyspace,
    dispatcher: Dispatcher,
    options: PersistenceOptions,
  ): Promise<Persistence> {
    const persistence = new Persistence(runtime, keyspace, options);
    await persistence.recover(dispatcher);
    persistence.startIntervalTimer();
    return persistence;
  }

  /** The time trigger: a snapshot every `snapshotIntervalMs` when there were writes. */
  private startIntervalTimer(): void {
    const periodMs = this.options.snapshotIntervalMs;
    if (periodMs === 0) return;
    this.intervalTimer = setInterval(() => {
      if (this.rewriting || this.writesSinceSave === 0) return;
      if (this.runtime.clock.realtimeMs() - this.lastSaveMs < periodMs) return;
      this.rewriteInBackground();
    }, Math.min(periodMs, INTERVAL_CHECK_MS));
    // A timer of ours must not keep a process (or a test) alive.
    (this.intervalTimer as { unref?: () => void }).unref?.();
  }

  private rewriteInBackground(): void {
    this.rewrite().catch((error) =>
      console.error(`hypercache: rewrite failed: ${(error as Error).message}`)
    );
  }

  private async recover(dispatcher: Dispatcher): Promise<void> {
    const { fs } = this.runtime;
    const dir = this.options.dataDir;
    const started = this.runtime.clock.monotonicMs();
    await fs.mkdirp(dir);
    const names = await fs.readDir(dir);
    const isEmpty = (name: string) => this.isEmpty(join(dir, name));
    const found = await readManifest(fs, dir);
    const fresh = found === null;
    if (found === null && !await isFreshDirectory(names, isEmpty)) {
      throw new RecoveryError(
        `${dir} holds data files but no ${MANIFEST_NAME} (${
          names.filter(isDataFile).sort().join(", ")
        }): the node does not guess which of them are current, and deletes none. Restore ` +
          `${MANIFEST_NAME} from a backup, or run 'deno task check-aof ${dir} --fix' to write ` +
          `one from the files present (the newest snapshot and the AOFs after it)`,
      );
    }
    this.manifest = found ?? { version: 1, generation: 1, snapshot: null, aof: "appendonly-1.aof" };
    const problem = chainProblem(this.manifest);
    if (problem !== null) {
      throw new RecoveryError(
        `${join(dir, MANIFEST_NAME)} is inconsistent: ${problem}. The node does not start from ` +
          `part of the data: restore ${MANIFEST_NAME} from a backup, or move it away and run ` +
          `'deno task check-aof ${dir} --fix' to write one from the files present`,
      );
    }
    const report: RecoveryReport = {
      keysLoaded: 0,
      commandsReplayed: 0,
      droppedBytes: 0,
      timeMs: 0,
      warnings: [],
    };
    if (this.manifest.snapshot !== null) {
      const path = join(dir, this.manifest.snapshot);
      const bytes = await fs.readFile(path);
      if (bytes === null) {
        throw new RecoveryError(
          `${path}: ${join(dir, MANIFEST_NAME)} names it but it is missing; the node does not ` +
            `start without it (the AOFs after it do not hold the data before it): restore it ` +
            `from a backup`,
        );
      }
      // One clock read for the whole load, not one per key.
      this.keyspace.pinTime();
      try {
        report.keysLoaded = loadSnapshot(bytes, this.keyspace, path);
      } catch (error) {
        throw new RecoveryError(
          `${(error as Error).message}; the node does not start from part of the data: ` +
            `restore it from a backup ('deno task check-aof ${dir}' checks the directory)`,
        );
      } finally {
        this.keyspace.unpinTime();
      }
    }
    const aofs = manifestAofs(this.manifest);
    let aofBytes: Uint8Array | null = null;
    let validBytes = 0;
    for (const [index, name] of aofs.entries()) {
      const path = join(dir, name);
      const last = index === aofs.length - 1;
      aofBytes = await fs.readFile(path);
      // Every AOF is created before a manifest names it: a missing one is lost data.
      if (aofBytes === null && !fresh) {
        throw new RecoveryError(
          `${path}: ${join(dir, MANIFEST_NAME)} names it but it is missing, and the writes ` +
            `it held would be lost; the node does not start without it. Restore it from a ` +
            `backup; to start without its records, create it empty (touch ${path})`,
        );
      }
      validBytes = aofBytes === null || aofBytes.length === 0
        ? 0
        : this.replay(aofBytes, path, dispatcher, report, last);
    }
    const aofPath = join(dir, this.manifest.aof);
    const file = await fs.open(aofPath, "a");
    if (aofBytes !== null && validBytes < aofBytes.length) {
      report.droppedBytes = aofBytes.length - validBytes;
      await file.truncate(validBytes);
      await file.datasync();
    }
    if (fresh) {
      // A fresh directory: make the manifest durable before the first write is acknowledged.
      await fs.writeFileAtomic(join(dir, MANIFEST_NAME), manifestBytes(this.manifest));
    }
    await this.removeSuperseded(names, report);
    this.aof = new AofWriter(file, validBytes, this.options.appendfsync);
    report.keysLoaded = this.keyspace.keyCount;
    report.timeMs = Math.round(this.runtime.clock.monotonicMs() - started);
    this.report = report;
  }

  /** Whether the file at `path` holds no bytes (without reading it). */
  private async isEmpty(path: string): Promise<boolean> {
    const file = await this.runtime.fs.open(path, "r+");
    try {
      return await file.size() === 0;
    } finally {
      await file.close();
    }
  }

  /**
   * Removes what a crash mid-rewrite left that the manifest provably supersedes; says what it
   * leaves in place, and numbers later generations past it.
   */
  private async removeSuperseded(names: string[], report: RecoveryReport): Promise<void> {
    const { fs } = this.runtime;
    const dir = this.options.dataDir;
    for (const name of names) {
      this.highestGeneration = Math.max(this.highestGeneration, generationOf(name) ?? 0);
    }
    const { superseded, kept } = await sortUnnamed(
      this.manifest,
      names,
      (name) => this.isEmpty(join(dir, name)),
    );
    for (const name of superseded) await fs.remove(join(dir, name));
    // An empty AOF holds nothing: it needs no listing, and is removed once numbered past.
    const holding: string[] = [];
    for (const name of kept.sort()) {
      if (!name.endsWith(".aof") || !await this.isEmpty(join(dir, name))) holding.push(name);
    }
    this.kept = holding;
    if (holding.length > 0) {
      report.warnings.push(
        `${dir}: left in place, not named by ${MANIFEST_NAME} and not provably obsolete: ` +
          `${holding.join(", ")}; the node never removes them: check them, and remove them by ` +
          `hand once they are not needed`,
      );
    }
  }

  /**
   * Replays AOF bytes; returns how many bytes were valid. Only the last AOF may end in a torn
   * record: the earlier ones were fsynced whole before the manifest moved past them. A record
   * whose replay replies an error stops the start: the data without it would be wrong.
   */
  private replay(
    bytes: Uint8Array,
    path: string,
    dispatcher: Dispatcher,
    report: RecoveryReport,
    last: boolean,
  ): number {
    const client = internalClient({ name: "aof-replay", remoteAddress: "aof" });
    const sink = new ReplaySink();
    let scan;
    // Expiries in the AOF are absolute, so one clock reading per 10,000 commands is exact enough
    // and saves a clock read per command.
    let sinceClock = 0;
    this.keyspace.pinTime();
    try {
      scan = scanAof(bytes, (argv, offset, batchOffset) => {
        if (++sinceClock === 10_000) {
          sinceClock = 0;
          this.keyspace.pinTime();
        }
        try {
          // A loading call rebuilds the keyspace and nothing else: it logs nothing, notifies
          // nobody, and ignores memory limits (what was acknowledged comes back).
          dispatcher.execute(client, sink, argv, "loading");
        } catch (error) {
          sink.failure ??= `${(error as Error).name}: ${(error as Error).message}`;
        }
        if (sink.failure !== null) {
          throw new RecoveryError(
            `${path}: the record at offset ${offset} fails on replay: ${describeRecord(argv)} -> ${
              sink.failure.replace(/\.+$/, "")
            }. The node does not start without it: check that the stores configured (and ` +
              `their memory limits) are those it was written with; 'deno task check-aof ` +
              `${this.options.dataDir} --print' lists the records. To give up this record and ` +
              `the rest of the file, truncate the file to ${batchOffset} bytes`,
          );
        }
        // Replies are not needed; drop them so memory stays flat.
        if (sink.size > 65536) sink.take();
      });
    } finally {
      this.keyspace.unpinTime();
    }
    report.commandsReplayed += scan.recordCount;
    const { problem, validBytes: valid } = scan;
    if (problem === null) return valid;
    const dropped = bytes.length - valid;
    const fix = `run 'deno task check-aof ${this.options.dataDir} --fix' to truncate it there`;
    if (problem.kind === "corrupt" || !last) {
      const message = `${path} is corrupt at offset ${problem.badByteOffset} of ${bytes.length} ` +
        `(${problem.reason}${last ? "" : ", in an AOF that is not the last"}); ` +
        `the records before offset ${valid} are valid`;
      if (!this.options.truncateCorrupt || !last) {
        throw new RecoveryError(`${message} (${fix}, or set aof_load_truncated: yes)`);
      }
      report.warnings.push(`${message}; truncated at offset ${valid}, dropping ${dropped} bytes`);
      return valid;
    }
    report.warnings.push(
      `${path}: dropped a torn last record at offset ${valid} (${dropped} bytes: ${problem.reason})`,
    );
    return valid;
  }

  /** Records a write; triggers automatic snapshots and rewrites. */
  append(db: number, argv: readonly string[]): void {
    this.aof.append(db, argv);
    this.writesSinceSave++;
    if (this.rewriting) return;
    const every = this.options.snapshotEveryWrites;
    const stats = this.aof.stats;
    const grown = stats.sizeBytes >= this.options.autoRewriteMinBytes &&
      stats.sizeBytes > stats.baseSizeBytes * (1 + this.options.autoRewritePercentage / 100);
    const due = every > 0 && this.writesSinceSave >= every &&
      this.runtime.clock.realtimeMs() - this.lastSaveMs >= this.options.snapshotIntervalMs;
    if (due || grown) this.rewriteInBackground();
  }

  /**
   * Writes a snapshot of this instant and starts a new empty AOF, in the steps described in the
   * module doc. Writes arriving meanwhile go to the new AOF, which the manifest names before the
   * first of them is written, so none is lost, whatever step fails or crashes. Resolves false
   * when a rewrite is already running.
   */
  async rewrite(): Promise<boolean> {
    if (this.rewriting) return false;
    this.rewriting = true;
    const { fs } = this.runtime;
    const dir = this.options.dataDir;
    const next = this.nextManifest();
    const previous = this.manifest;
    let file: FileHandle | null = null;
    let old: FileHandle | null = null;
    try {
      file = await fs.open(join(dir, next.aof), "w");
      const rotated = await this.aof.rotate(file, () => {
        this.writesSinceSave = 0;
        return encodeSnapshot(this.keyspace);
      }, async () => {
        // Step 1: the new AOF joins the chain before a record lands in it.
        const chained: Manifest = {
          ...next,
          snapshot: previous.snapshot,
          replay: manifestAofs(previous),
        };
        await fs.writeFileAtomic(join(dir, MANIFEST_NAME), manifestBytes(chained));
        this.manifest = chained;
      }, this.options.snapshotHeld);
      file = null;
      old = rotated.old;
      // Step 2 and 3: the snapshot, then the manifest that makes the old files unneeded.
      await fs.writeFileAtomic(join(dir, next.snapshot!), rotated.result);
      await fs.writeFileAtomic(join(dir, MANIFEST_NAME), manifestBytes(next));
      this.manifest = next;
      this.saved();
      const retiring = old;
      old = null;
      await this.retire(retiring, previous);
      return true;
    } catch (error) {
      this.lastRewriteError = (error as Error).message;
      // A new AOF that never joined the chain is closed; start-up removes it if it stays. An old
      // one that did is complete and fsynced: the manifest still names it, its handle can go.
      await file?.close().catch(() => {});
      await old?.close().catch(() => {});
      throw error;
    } finally {
      this.rewriting = false;
    }
  }

  /**
   * SAVE: the same switch as `rewrite`, but done before returning, with blocking file calls, so
   * the reply means the snapshot is on disk (Redis's SAVE blocks the server too). Throws when a
   * rewrite is running, when the file system has no blocking calls, or when a write fails; the
   * manifest then still names the previous generation, which holds everything.
   */
  save(): void {
    const sync = this.runtime.fs.sync;
    if (sync === undefined) {
      throw new Error("this file system cannot write synchronously (use BGSAVE)");
    }
    if (this.rewriting) throw new Error("Background save already in progress");
    const dir = this.options.dataDir;
    const next = this.nextManifest();
    const previous = this.manifest;
    this.writesSinceSave = 0;
    const file = sync.open(join(dir, next.aof), "w");
    let old;
    try {
      const seq = this.aof.sequence;
      sync.writeFileAtomic(join(dir, next.snapshot!), encodeSnapshot(this.keyspace));
      sync.writeFileAtomic(join(dir, MANIFEST_NAME), manifestBytes(next));
      old = this.aof.switchTo(file, seq);
    } catch (error) {
      this.lastRewriteError = (error as Error).message;
      void file.close().catch(() => {});
      throw error;
    }
    this.manifest = next;
    this.saved();
    void this.retire(old, previous);
  }

  /** The next generation's manifest, numbered past every file found at start-up. */
  private nextManifest(): Manifest {
    const generation = Math.max(this.manifest.generation, this.highestGeneration) + 1;
    return {
      version: 1,
      generation,
      snapshot: `dump-${generation}.hcs`,
      aof: `appendonly-${generation}.aof`,
      ...(this.kept.length > 0 ? { kept: this.kept } : {}),
    };
  }

  private saved(): void {
    this.lastSaveMs = this.runtime.clock.realtimeMs();
    this.rewrites++;
    this.lastRewriteError = null;
  }

  /** Closes and removes the files of a generation the manifest no longer names. */
  private async retire(old: FileHandle, previous: Manifest): Promise<void> {
    const { fs } = this.runtime;
    const dir = this.options.dataDir;
    try {
      await old.close();
      for (const name of manifestAofs(previous)) await fs.remove(join(dir, name));
      if (previous.snapshot !== null) await fs.remove(join(dir, previous.snapshot));
    } catch (error) {
      console.warn(`hypercache: cannot remove old generation: ${(error as Error).message}`);
    }
  }

  /** Lines for INFO persistence. */
  info(): [string, string | number][] {
    const stats = this.aof.stats;
    return [
      ["loading", 0],
      ["aof_enabled", 1],
      ["aof_fsync", this.options.appendfsync],
      ["aof_current_size", stats.sizeBytes],
      ["aof_base_size", stats.baseSizeBytes],
      ["aof_rewrite_in_progress", this.rewriting ? 1 : 0],
      ["aof_rewrites", this.rewrites],
      ["aof_last_write_status", stats.lastError === null ? "ok" : "err"],
      ["aof_last_write_error", stats.lastError ?? ""],
      ["aof_writes", stats.writes],
      ["aof_fsyncs", stats.fsyncs],
      ["rdb_changes_since_last_save", this.writesSinceSave],
      ["rdb_last_save_time", Math.floor(this.lastSaveMs / 1000)],
      ["rdb_last_bgsave_status", this.lastRewriteError === null ? "ok" : "err"],
      ["loading_loaded_keys", this.report.keysLoaded],
      ["loading_replayed_commands", this.report.commandsReplayed],
      ["loading_time_ms", this.report.timeMs],
      ["loading_dropped_bytes", this.report.droppedBytes],
    ];
  }

  async close(): Promise<void> {
    if (this.intervalTimer !== null) clearInterval(this.intervalTimer);
    await this.aof.close();
  }
}
