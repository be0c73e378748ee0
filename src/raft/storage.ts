/**
 * Durable Raft storage through the runtime's {@linkcode FileSystem}: a write-ahead log of
 * checksummed records (entries, hard state, snapshot markers) and snapshot files. Reads are served
 * from memory; `save` makes a `Ready`'s writes durable, concurrent saves sharing one fsync.
 *
 * On disk, in `dir`:
 * - `raft.wal`: records `[length u32 BE][crc32 u32 BE][type u8][payload]`, the CRC covering type
 *   and payload. A torn last record is truncated on open; a bad record followed by more data is a
 *   {@linkcode CorruptionError} naming the file and offset.
 * - `snap-<index>.snap`: `"RSNP"`, crc32 (u32 BE), then the CBOR of the snapshot. Written to a
 *   temporary name, fsynced and renamed, so one is either whole or absent.
 *
 * @module
 */
import { decode, encode } from "cborg";
import { assert } from "../_assert.ts";
import type { FileHandle, FileSystem } from "../runtime/types.ts";
import { crc32 } from "../_crc32.ts";
import { MemoryStorage } from "./memory_storage.ts";
import type { ConfState, Entry, HardState, Snapshot, Storage } from "./types.ts";
import { emptyConfState, entrySizeBytes } from "./types.ts";

const WAL_NAME = "raft.wal";
const SNAPSHOT_MAGIC = [0x52, 0x53, 0x4e, 0x50]; // "RSNP"
const HEADER_BYTES = 8;
const RECORD_ENTRY = 1;
const RECORD_HARD_STATE = 2;
const RECORD_SNAPSHOT_MARKER = 3;

/** Thrown when a file is damaged somewhere other than its torn tail: it needs an operator. */
export class CorruptionError extends Error {
  /** Always "CorruptionError". */
  override name = "CorruptionError";
  /** `file` and `offsetBytes` say where the damage is; `reason` what it is. */
  constructor(readonly file: string, readonly offsetBytes: number, reason: string) {
    super(`Cannot open Raft storage: ${file} is corrupt at offset ${offsetBytes}: ${reason}`);
  }
}

/** Options of {@linkcode DurableStorage.open}. */
export interface DurableStorageOptions {
  /** The runtime's file system (or a fake in tests). */
  fs: FileSystem;
  /** Directory holding the log and snapshots; created if missing. */
  dir: string;
  /** Largest record accepted when reading the log back. @default 64 MiB */
  maxRecordBytes?: number;
  /** The log is rewritten after a compaction once it is this much larger than needed. @default 64 MiB */
  rewriteSlackBytes?: number;
  /** Snapshot files kept; older ones are removed. @default 2 */
  keepSnapshotCount?: number;
}

/** What opening found at the end of the log. */
export interface RecoveryReport {
  /** Bytes of a torn last record that were cut off (0 when the log ended cleanly). */
  truncatedBytes: number;
  /** Where the cut was made. */
  truncatedAtOffset: number;
  /** Entry records read from the log. */
  entryCount: number;
}

/** What one `Ready` asks to persist. */
export interface StorageUpdate {
  /** A snapshot received from the leader: it replaces the log. */
  snapshot?: Snapshot;
  /** Entries to append, replacing any from the first one's index on. */
  entries: Entry[];
  /** Term, vote and commit. */
  hardState?: HardState;
  /** False when nothing needs an fsync now (a commit index change alone). @default true */
  mustSync?: boolean;
}

class RecordWriter {
  private buffer = new Uint8Array(4096);
  private view = new DataView(this.buffer.buffer);
  length = 0;

  private reserve(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    const next = new Uint8Array(Math.max(this.buffer.length * 2, this.length + bytes));
    next.set(this.buffer.subarray(0, this.length));
    this.buffer = next;
    this.view = new DataView(next.buffer);
  }

  /** Writes one record: header, type, `numbers` as float64 (exact below 2^53), then `bytes`. */
  record(type: number, numbers: number[], bytes?: Uint8Array, flag = 0): void {
    const payloadBytes = 1 + numbers.length * 8 + (bytes ? 1 + bytes.length : 0);
    this.reserve(HEADER_BYTES + payloadBytes);
    const start = this.length;
    let at = start + HEADER_BYTES;
    this.buffer[at++] = type;
    for (const n of numbers) {
      this.view.setFloat64(at, n);
      at += 8;
    }
    if (bytes) {
      this.buffer[at++] = flag;
      this.buffer.set(bytes, at);
      at += bytes.length;
    }
    this.view.setUint32(start, payloadBytes);
    this.view.setUint32(start + 4, crc32(this.buffer, start + HEADER_BYTES, at));
    this.length = at;
  }

  entry(entry: Entry): void {
    this.record(
      RECORD_ENTRY,
      [entry.term, entry.index],
      entry.data,
      entry.type === "confChange" ? 1 : 0,
    );
  }

  hardState(hs: HardState): void {
    this.record(RECORD_HARD_STATE, [hs.term, hs.vote, hs.commit]);
  }

  bytes(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }
}

interface ParsedLog {
  records: { type: number; numbers: number[]; bytes?: Uint8Array; flag: number }[];
  /** Offset where the valid records end. */
  validBytes: number;
}

const NUMBER_COUNT: Record<number, number> = {
  [RECORD_ENTRY]: 2,
  [RECORD_HARD_STATE]: 3,
  [RECORD_SNAPSHOT_MARKER]: 2,
};

/** Parses the log; a bad record reaching the end of the file is a torn tail, elsewhere corruption. */
export function parseLog(file: string, data: Uint8Array, maxRecordBytes: number): ParsedLog {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const records: ParsedLog["records"] = [];
  let at = 0;
  while (at < data.length) {
    const torn = (): ParsedLog => ({ records, validBytes: at });
    if (at + HEADER_BYTES > data.length) return torn();
    const length = view.getUint32(at);
    const end = at + HEADER_BYTES + length;
    if (end > data.length) return torn();
    const tail = end === data.length;
    const fail = (reason: string) => {
      if (tail) return torn();
      throw new CorruptionError(file, at, reason);
    };
    if (length > maxRecordBytes || length === 0) {
      const result = fail(`record length ${length} is out of range`);
      if (result) return result;
    }
    if (crc32(data, at + HEADER_BYTES, end) !== view.getUint32(at + 4)) {
      const result = fail("checksum mismatch");
      if (result) return result;
    }
    const type = data[at + HEADER_BYTES];
    const count = NUMBER_COUNT[type];
    if (count === undefined || length < 1 + count * 8) {
      const result = fail(`unknown record type ${type}`);
      if (result) return result;
    }
    let p = at + HEADER_BYTES + 1;
    const numbers: number[] = [];
    for (let i = 0; i < count; i++, p += 8) numbers.push(view.getFloat64(p));
    const record: ParsedLog["records"][number] = { type, numbers, flag: 0 };
    if (p < end) {
      record.flag = data[p];
      record.bytes = data.slice(p + 1, end);
    }
    records.push(record);
    at = end;
  }
  return { records, validBytes: at };
}

function snapshotName(index: number): string {
  return `snap-${String(index).padStart(16, "0")}.snap`;
}

/** Encodes a snapshot file: magic, CRC-32, CBOR body. */
export function encodeSnapshotFile(snapshot: Snapshot): Uint8Array {
  const body = encode({
    i: snapshot.metadata.index,
    t: snapshot.metadata.term,
    c: snapshot.metadata.confState,
    d: snapshot.data,
  });
  const out = new Uint8Array(8 + body.length);
  out.set(SNAPSHOT_MAGIC, 0);
  new DataView(out.buffer).setUint32(4, crc32(body));
  out.set(body, 8);
  return out;
}

/** Decodes a snapshot file, throwing a {@linkcode CorruptionError} naming `file` when damaged. */
export function decodeSnapshotFile(file: string, data: Uint8Array): Snapshot {
  if (data.length < 8 || SNAPSHOT_MAGIC.some((b, i) => data[i] !== b)) {
    throw new CorruptionError(file, 0, "not a snapshot file");
  }
  const expected = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(4);
  if (crc32(data, 8) !== expected) throw new CorruptionError(file, 8, "checksum mismatch");
  const raw = decode(data.subarray(8)) as { i: number; t: number; c: ConfState; d: Uint8Array };
  return {
    metadata: { index: raw.i, term: raw.t, confState: { ...emptyConfState(), ...raw.c } },
    data: raw.d,
  };
}

/**
 * Raft storage on files. Reads come from memory (a {@linkcode MemoryStorage} rebuilt on open);
 * writes go to the log and resolve once fsynced.
 *
 * @example
 * ```ts ignore
 * import { DurableStorage } from "./storage.ts";
 * import { currentRuntime } from "../runtime/mod.ts";
 * const runtime = await currentRuntime();
 * const storage = await DurableStorage.open({ fs: runtime.fs, dir: "data/raft" });
 * if (storage.isEmpty()) await storage.bootstrap([1, 2, 3]);
 * // for each Ready: await storage.save(ready), then send ready.messages
 * ```
 */
export class DurableStorage implements Storage {
  private readonly memory: MemoryStorage;
  private readonly fs: FileSystem;
  private readonly dir: string;
  private readonly rewriteSlackBytes: number;
  private readonly keepSnapshotCount: number;
  private wal: FileHandle;
  private walBytes: number;
  private pending: Uint8Array[] = [];
  private tail: Promise<unknown> = Promise.resolve();
  private failure: Error | undefined;
  /** Index of the newest snapshot whose file is known to be durable. */
  private durableSnapshotIndex: number;
  /** Number of fsyncs of the log, for tests and metrics. */
  syncCount = 0;
  /** What opening found at the end of the log. */
  readonly recovery: RecoveryReport;

  private constructor(
    options: DurableStorageOptions,
    memory: MemoryStorage,
    wal: FileHandle,
    walBytes: number,
    recovery: RecoveryReport,
  ) {
    this.fs = options.fs;
    this.dir = options.dir;
    this.rewriteSlackBytes = options.rewriteSlackBytes ?? 64 * 1024 * 1024;
    this.keepSnapshotCount = options.keepSnapshotCount ?? 2;
    this.memory = memory;
    this.wal = wal;
    this.walBytes = walBytes;
    this.recovery = recovery;
    this.durableSnapshotIndex = memory.snapshot().metadata.index;
  }

  /** Opens (or creates) the storage in `options.dir`, truncating a torn log tail. */
  static async open(options: DurableStorageOptions): Promise<DurableStorage> {
    const { fs, dir } = options;
    await fs.mkdirp(dir);
    const memory = new MemoryStorage();
    const snapshot = await loadNewestSnapshot(fs, dir);
    if (snapshot) memory.applySnapshot(snapshot);
    const walPath = `${dir}/${WAL_NAME}`;
    const data = (await fs.readFile(walPath)) ?? new Uint8Array();
    const parsed = parseLog(walPath, data, options.maxRecordBytes ?? 64 * 1024 * 1024);
    const entryCount = replay(walPath, parsed, memory, snapshot);
    if (parsed.validBytes < data.length) {
      const handle = await fs.open(walPath, "r+");
      await handle.truncate(parsed.validBytes);
      await handle.datasync();
      await handle.close();
    }
    const wal = await fs.open(walPath, "a");
    const recovery = {
      truncatedBytes: data.length - parsed.validBytes,
      truncatedAtOffset: parsed.validBytes,
      entryCount,
    };
    return new DurableStorage(options, memory, wal, parsed.validBytes, recovery);
  }

  /** Whether nothing was ever stored: a new node, to bootstrap or to join. */
  isEmpty(): boolean {
    const { hardState } = this.memory.initialState();
    return hardState.term === 0 && this.memory.lastIndex() === 0 &&
      this.memory.snapshot().metadata.index === 0;
  }

  /** Starts a member of a new cluster: a snapshot at index 1 with the initial voters. */
  async bootstrap(voters: number[], data: Uint8Array = new Uint8Array()): Promise<void> {
    assert(this.isEmpty(), "cannot bootstrap a storage that already holds state");
    const boot = MemoryStorage.bootstrap(voters, data);
    await this.save({
      snapshot: boot.snapshot(),
      entries: [],
      hardState: boot.initialState().hardState,
    });
  }

  // ---- Storage (reads from memory) ------------------------------------------------------------

  initialState(): { hardState: HardState; confState: ConfState } {
    return this.memory.initialState();
  }
  entries(lo: number, hi: number, maxSizeBytes: number): Entry[] {
    return this.memory.entries(lo, hi, maxSizeBytes);
  }
  term(index: number): number | undefined {
    return this.memory.term(index);
  }
  firstIndex(): number {
    return this.memory.firstIndex();
  }
  lastIndex(): number {
    return this.memory.lastIndex();
  }
  snapshot(): Snapshot {
    return this.memory.snapshot();
  }

  // ---- writes ---------------------------------------------------------------------------------

  /**
   * Persists a `Ready`'s snapshot, entries and hard state, in that order, and resolves once they
   * are durable. Calls made while an fsync is running share the next one (group commit).
   */
  save(update: StorageUpdate): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    const writer = new RecordWriter();
    let snapshotWrite: Promise<unknown> | undefined;
    if (update.snapshot) {
      const snapshot = update.snapshot;
      this.memory.applySnapshot(snapshot);
      // The snapshot file must be durable before the marker that makes the log depend on it.
      snapshotWrite = this.serial(() => this.writeSnapshotFile(snapshot));
      writer.record(RECORD_SNAPSHOT_MARKER, [snapshot.metadata.index, snapshot.metadata.term]);
    }
    if (update.entries.length > 0) {
      this.memory.append(update.entries);
      for (const entry of update.entries) writer.entry(entry);
    }
    if (update.hardState) {
      this.memory.setHardState(update.hardState);
      writer.hardState(update.hardState);
    }
    if (writer.length > 0) this.pending.push(writer.bytes());
    // Unsynced records ride along with the next fsync (or close).
    if (update.mustSync === false && !update.snapshot) return Promise.resolve();
    const flushed = this.serial(() => this.flush());
    return snapshotWrite ? Promise.all([snapshotWrite, flushed]).then(() => {}) : flushed;
  }

  /**
   * Records the application's snapshot at `index` (already applied), durably. Follow with
   * `compact` to drop the entries it covers.
   */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Promise<Snapshot> {
    const snapshot = this.memory.createSnapshot(index, confState, data);
    return this.serial(async () => {
      await this.writeSnapshotFile(snapshot);
      return snapshot;
    });
  }

  /** Drops entries up to `index` (covered by a snapshot); rewrites the log when it got too big. */
  compact(index: number): Promise<void> {
    this.memory.compact(index);
    return this.serial(async () => {
      const liveBytes = this.liveBytes();
      if (this.walBytes <= liveBytes + this.rewriteSlackBytes) return;
      await this.rewrite();
    });
  }

  /** Finishes pending writes and closes the log. */
  async close(): Promise<void> {
    await this.serial(() => this.flush());
    await this.wal.close();
  }

  private serial<T>(op: () => Promise<T>): Promise<T> {
    const run = this.tail.then(() => {
      if (this.failure) throw this.failure;
      return op();
    });
    this.tail = run.catch((error: Error) => {
      // After a failed write the file's state is unknown: refuse everything from now on.
      this.failure ??= new Error(`Raft storage failed: ${error.message}`, { cause: error });
    });
    return run;
  }

  private async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const chunks = this.pending;
    this.pending = [];
    const total = chunks.reduce((n, c) => n + c.length, 0);
    const buffer = chunks.length === 1 ? chunks[0] : new Uint8Array(total);
    if (chunks.length > 1) {
      let at = 0;
      for (const chunk of chunks) {
        buffer.set(chunk, at);
        at += chunk.length;
      }
    }
    await this.wal.write(buffer);
    await this.wal.datasync();
    this.syncCount++;
    this.walBytes += total;
  }

  private liveBytes(): number {
    let bytes = 64;
    const first = this.memory.firstIndex();
    const last = this.memory.lastIndex();
    if (last >= first) {
      for (const e of this.memory.entries(first, last + 1, Infinity)) {
        bytes += entrySizeBytes(e) + 16;
      }
    }
    return bytes;
  }

  /** Replaces the log with one holding only what is live: a marker, entries and hard state. */
  private async rewrite(): Promise<void> {
    const snap = this.memory.snapshot().metadata;
    // The new log starts with a marker for this snapshot: its file must already be on disk.
    if (snap.index !== this.durableSnapshotIndex) return;
    await this.flush();
    const writer = new RecordWriter();
    writer.record(RECORD_SNAPSHOT_MARKER, [snap.index, snap.term]);
    const first = this.memory.firstIndex();
    const last = this.memory.lastIndex();
    if (last >= first) {
      // Entries compacted but newer than the snapshot cannot exist: compaction stops at it.
      for (const e of this.memory.entries(first, last + 1, Infinity)) writer.entry(e);
    }
    writer.hardState(this.memory.initialState().hardState);
    const bytes = writer.bytes();
    const path = `${this.dir}/${WAL_NAME}`;
    await this.wal.close();
    await this.fs.writeFileAtomic(path, bytes);
    this.wal = await this.fs.open(path, "a");
    this.walBytes = bytes.length;
  }

  private async writeSnapshotFile(snapshot: Snapshot): Promise<void> {
    await this.fs.writeFileAtomic(
      `${this.dir}/${snapshotName(snapshot.metadata.index)}`,
      encodeSnapshotFile(snapshot),
    );
    this.durableSnapshotIndex = Math.max(this.durableSnapshotIndex, snapshot.metadata.index);
    const names = (await this.fs.readDir(this.dir)).filter((n) => /^snap-\d{16}\.snap$/.test(n))
      .sort();
    for (const old of names.slice(0, Math.max(0, names.length - this.keepSnapshotCount))) {
      await this.fs.remove(`${this.dir}/${old}`);
    }
  }
}

async function loadNewestSnapshot(fs: FileSystem, dir: string): Promise<Snapshot | undefined> {
  const names = (await fs.readDir(dir)).filter((n) => /^snap-\d{16}\.snap$/.test(n)).sort();
  const newest = names.at(-1);
  if (!newest) return undefined;
  const path = `${dir}/${newest}`;
  const data = await fs.readFile(path);
  if (!data) return undefined;
  return decodeSnapshotFile(path, data);
}

/** Rebuilds the in-memory log from the records; returns how many entries it read. */
function replay(
  file: string,
  parsed: ParsedLog,
  memory: MemoryStorage,
  snapshot: Snapshot | undefined,
): number {
  let entryCount = 0;
  const snapshotIndex = snapshot?.metadata.index ?? 0;
  for (const record of parsed.records) {
    switch (record.type) {
      case RECORD_ENTRY: {
        const [term, index] = record.numbers;
        entryCount++;
        if (index <= memory.snapshot().metadata.index) break;
        if (index > memory.lastIndex() + 1) {
          throw new CorruptionError(
            file,
            0,
            `entry ${index} follows ${memory.lastIndex()}: the log has a gap`,
          );
        }
        memory.append([{
          term,
          index,
          type: record.flag === 1 ? "confChange" : "normal",
          data: record.bytes!,
        }]);
        break;
      }
      case RECORD_HARD_STATE: {
        const [term, vote, commit] = record.numbers;
        memory.setHardState({ term, vote, commit });
        break;
      }
      case RECORD_SNAPSHOT_MARKER: {
        const [index] = record.numbers;
        if (!snapshot || snapshotIndex < index) {
          throw new CorruptionError(
            file,
            0,
            `the log refers to snapshot ${index}, which is missing`,
          );
        }
        // The log was replaced by a snapshot here: entries before this record are gone.
        memory.resetTo(snapshot);
        break;
      }
    }
  }
  const { hardState } = memory.initialState();
  if (hardState.commit < memory.snapshot().metadata.index) {
    memory.setHardState({ ...hardState, commit: memory.snapshot().metadata.index });
  }
  return entryCount;
}
