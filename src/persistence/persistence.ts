/**
 * Persistence of a node: recovery at start (snapshot, then the AOF that follows it), the AOF
 * while running, and rewrites (a new snapshot plus a new empty AOF, switched by one atomic
 * manifest write).
 *
 * Files in the data directory: `manifest.json` names the current generation's snapshot
 * (`dump-N.hcs`, absent before the first rewrite) and AOF (`appendonly-N.aof`).
 *
 * @module
 */
import type { Dispatcher } from "../commands/dispatch.ts";
import type { ClientState } from "../commands/types.ts";
import type { AppendFsync } from "../config/config.ts";
import type { Keyspace } from "../keyspace/keyspace.ts";
import { ProtocolError, RespParser } from "../resp/parser.ts";
import { ReplyWriter } from "../resp/writer.ts";
import type { FileSystem, Runtime } from "../runtime/types.ts";
import { AofWriter } from "./aof.ts";
import { encodeSnapshot, loadSnapshot } from "./snapshot.ts";

/** What the data directory holds now. */
interface Manifest {
  version: 1;
  generation: number;
  snapshot: string | null;
  aof: string;
}

/** Start-up cannot go on: the message names the file and the offset. */
export class RecoveryError extends Error {
  override name = "RecoveryError";
}

export interface PersistenceOptions {
  dataDir: string;
  appendfsync: AppendFsync;
  /** Snapshot after this many writes (0 = never). */
  snapshotEveryWrites: number;
  /** Rewrite when the AOF grew by this percentage over its size after the last rewrite. */
  autoRewritePercentage: number;
  /** Snapshot no sooner than this after the previous one (Redis's `save 60 10000`). */
  snapshotMinIntervalMs: number;
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

function join(dir: string, name: string): string {
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

async function readManifest(fs: FileSystem, dataDir: string): Promise<Manifest | null> {
  const bytes = await fs.readFile(join(dataDir, "manifest.json"));
  if (bytes === null) return null;
  try {
    const manifest = JSON.parse(new TextDecoder().decode(bytes)) as Manifest;
    if (manifest.version !== 1 || typeof manifest.aof !== "string") {
      throw new Error("unknown format");
    }
    return manifest;
  } catch (error) {
    throw new RecoveryError(
      `${join(dataDir, "manifest.json")} is unreadable: ${(error as Error).message}`,
    );
  }
}

/** A client with every right, for replay. */
function replayClient(): ClientState {
  return {
    id: 0,
    db: 0,
    protocol: 2,
    name: "aof-replay",
    authenticated: true,
    user: "default",
    role: "admin",
    closeAfterReply: false,
    createdMs: 0,
    lastCommand: "",
    remoteAddress: "aof",
  };
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
    return persistence;
  }

  private async recover(dispatcher: Dispatcher): Promise<void> {
    const { fs } = this.runtime;
    const started = this.runtime.clock.monotonicMs();
    await fs.mkdirp(this.options.dataDir);
    this.manifest = await readManifest(fs, this.options.dataDir) ??
      { version: 1, generation: 1, snapshot: null, aof: "appendonly-1.aof" };
    const report: RecoveryReport = {
      keysLoaded: 0,
      commandsReplayed: 0,
      droppedBytes: 0,
      timeMs: 0,
      warnings: [],
    };
    if (this.manifest.snapshot !== null) {
      const path = join(this.options.dataDir, this.manifest.snapshot);
      const bytes = await fs.readFile(path);
      if (bytes === null) {
        throw new RecoveryError(`${path}: the manifest names it but it is missing`);
      }
      try {
        report.keysLoaded = loadSnapshot(bytes, this.keyspace, path);
      } catch (error) {
        throw new RecoveryError((error as Error).message);
      }
    }
    const aofPath = join(this.options.dataDir, this.manifest.aof);
    const aofBytes = await fs.readFile(aofPath);
    let validBytes = 0;
    if (aofBytes !== null && aofBytes.length > 0) {
      const replayed = this.replay(aofBytes, aofPath, dispatcher, report);
      validBytes = replayed;
    }
    const file = await fs.open(aofPath, "a");
    if (aofBytes !== null && validBytes < aofBytes.length) {
      report.droppedBytes = aofBytes.length - validBytes;
      await file.truncate(validBytes);
      await file.datasync();
    }
    if (this.manifest.snapshot === null && aofBytes === null) {
      // A fresh directory: make the manifest durable before the first write is acknowledged.
      await fs.writeFileAtomic(
        join(this.options.dataDir, "manifest.json"),
        this.manifestBytes(this.manifest),
      );
    }
    this.aof = new AofWriter(file, validBytes, this.options.appendfsync);
    report.keysLoaded = this.keyspace.keyCount;
    report.timeMs = Math.round(this.runtime.clock.monotonicMs() - started);
    this.report = report;
  }

  /** Replays AOF bytes; returns how many bytes were valid. */
  private replay(
    bytes: Uint8Array,
    path: string,
    dispatcher: Dispatcher,
    report: RecoveryReport,
  ): number {
    const parser = new RespParser({
      maxBulkBytes: 2 ** 31,
      maxMultibulkLength: 2 ** 31,
      maxQueryBufferBytes: 2 ** 53,
    });
    const client = replayClient();
    const sink = new ReplyWriter();
    const hook = dispatcher.onPropagate;
    dispatcher.onPropagate = null;
    try {
      parser.feed(bytes, (argv) => {
        dispatcher.execute(client, sink, argv);
        report.commandsReplayed++;
        // Replies are not needed; drop them so memory stays flat.
        if (sink.size > 65536) sink.take();
      });
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      const offset = parser.consumedBytes;
      const message = `${path} is corrupt at offset ${offset} of ${bytes.length}: ${error.message}`;
      if (!this.options.truncateCorrupt) {
        throw new RecoveryError(
          `${message} (run 'deno task check-aof ${this.options.dataDir} --fix' to truncate it there)`,
        );
      }
      report.warnings.push(`${message}; dropped ${bytes.length - offset} bytes`);
      return offset;
    } finally {
      dispatcher.onPropagate = hook;
    }
    const valid = parser.consumedBytes;
    if (valid < bytes.length) {
      report.warnings.push(
        `${path}: dropped a torn last record at offset ${valid} (${bytes.length - valid} bytes)`,
      );
    }
    return valid;
  }

  private manifestBytes(manifest: Manifest): Uint8Array {
    return new TextEncoder().encode(JSON.stringify(manifest, null, 2) + "\n");
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
      this.runtime.clock.realtimeMs() - this.lastSaveMs >= this.options.snapshotMinIntervalMs;
    if (due || grown) {
      this.rewrite().catch((error) =>
        console.error(`hypercache: rewrite failed: ${error.message}`)
      );
    }
  }

  /**
   * Writes a snapshot of this instant and starts a new empty AOF; one manifest write switches
   * to them. Writes arriving meanwhile go to the new AOF, so none is lost. Resolves false when a
   * rewrite is already running.
   */
  async rewrite(): Promise<boolean> {
    if (this.rewriting) return false;
    this.rewriting = true;
    const { fs } = this.runtime;
    const dir = this.options.dataDir;
    const generation = this.manifest.generation + 1;
    const next: Manifest = {
      version: 1,
      generation,
      snapshot: `dump-${generation}.hcs`,
      aof: `appendonly-${generation}.aof`,
    };
    try {
      const file = await fs.open(join(dir, next.aof), "w");
      const { old, result: snapshot } = await this.aof.rotate(file, () => {
        this.writesSinceSave = 0;
        return encodeSnapshot(this.keyspace);
      });
      await fs.writeFileAtomic(join(dir, next.snapshot!), snapshot);
      await fs.syncDir(dir);
      await fs.writeFileAtomic(join(dir, "manifest.json"), this.manifestBytes(next));
      const previous = this.manifest;
      this.manifest = next;
      await old.close();
      await fs.remove(join(dir, previous.aof));
      if (previous.snapshot !== null) await fs.remove(join(dir, previous.snapshot));
      this.lastSaveMs = this.runtime.clock.realtimeMs();
      this.rewrites++;
      this.lastRewriteError = null;
      return true;
    } catch (error) {
      this.lastRewriteError = (error as Error).message;
      throw error;
    } finally {
      this.rewriting = false;
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
    await this.aof.close();
  }
}
