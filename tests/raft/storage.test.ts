import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CorruptionError, DurableStorage } from "../../src/raft/storage.ts";
import { crc32 } from "../../src/_crc32.ts";
import { nodeFileSystem } from "../../src/runtime/node_fs.ts";
import type { Entry } from "../../src/raft/types.ts";
import { MemFileSystem } from "../_memfs.ts";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const DIR = "/data/raft";
const WAL = `${DIR}/raft.wal`;

function entries(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) {
    out.push({
      term,
      index: i,
      type: i % 7 === 0 ? "confChange" : "normal",
      data: new TextEncoder().encode(`e${i}`),
    });
  }
  return out;
}

function open(fs: MemFileSystem, rewriteSlackBytes?: number): Promise<DurableStorage> {
  return DurableStorage.open({ fs, dir: DIR, rewriteSlackBytes });
}

describe("crc32", () => {
  it("matches the standard check value", () => {
    assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
  });
});

describe("durable raft storage", () => {
  it("reads back entries, hard state and membership after a restart", async () => {
    const fs = new MemFileSystem();
    const storage = await open(fs);
    assert.ok(storage.isEmpty());
    await storage.bootstrap([1, 2, 3]);
    await storage.save({ entries: entries(2, 20, 2), hardState: { term: 2, vote: 1, commit: 15 } });
    const again = await open(fs);
    assert.deepEqual(again.initialState().hardState, { term: 2, vote: 1, commit: 15 });
    assert.deepEqual(again.initialState().confState.voters, [1, 2, 3]);
    assert.equal(again.firstIndex(), 2);
    assert.equal(again.lastIndex(), 20);
    assert.deepEqual(again.entries(2, 21, Infinity), entries(2, 20, 2));
    assert.equal(again.recovery.truncatedBytes, 0);
  });

  it("replaces a conflicting suffix the way the log does", async () => {
    const fs = new MemFileSystem();
    const storage = await open(fs);
    await storage.bootstrap([1]);
    await storage.save({ entries: entries(2, 10, 2) });
    await storage.save({ entries: entries(6, 8, 3) });
    const again = await open(fs);
    assert.equal(again.lastIndex(), 8);
    assert.equal(again.term(5), 2);
    assert.equal(again.term(6), 3);
  });

  it("shares one fsync among saves made while another is in progress (group commit)", async () => {
    const fs = new MemFileSystem();
    const storage = await open(fs);
    await storage.bootstrap([1]);
    const before = storage.syncCount;
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => storage.save({ entries: entries(2 + i, 2 + i, 2) })),
    );
    assert.ok(storage.syncCount - before <= 2, `took ${storage.syncCount - before} fsyncs`);
    assert.equal((await open(fs)).lastIndex(), 51);
  });

  it("loses what was not fsynced in a crash and keeps what was", async () => {
    const fs = new MemFileSystem();
    const storage = await open(fs);
    await storage.bootstrap([1]);
    await storage.save({ entries: entries(2, 5, 2) });
    // Written but never synced: a crash right after the write call.
    const handle = await fs.open(WAL, "a");
    await handle.write(new Uint8Array([1, 2, 3]));
    fs.crash();
    const again = await open(fs);
    assert.equal(again.lastIndex(), 5);
  });

  it("drops a torn last record and keeps every record before it", async () => {
    for (const torn of [1, 5, 9, 20]) {
      const fs = new MemFileSystem();
      const storage = await open(fs);
      await storage.bootstrap([1]);
      await storage.save({ entries: entries(2, 5, 2), hardState: { term: 2, vote: 1, commit: 5 } });
      const durable = fs.files.get(WAL)!.data.length;
      // A save whose write reached the disk only partly before power was lost.
      const bytes = await encodeAppend(entries(6, 6, 2));
      const handle = await fs.open(WAL, "a");
      await handle.write(bytes.subarray(0, Math.min(torn, bytes.length - 1)));
      await handle.datasync();
      const again = await open(fs);
      assert.equal(again.lastIndex(), 5, `torn ${torn}`);
      assert.equal(again.recovery.truncatedAtOffset, durable);
      assert.equal(again.recovery.truncatedBytes, Math.min(torn, bytes.length - 1));
      assert.equal(fs.files.get(WAL)!.data.length, durable, "the tail is cut off the file");
    }
  });

  it("treats damage before the last record as corruption naming file and offset", async () => {
    const fs = new MemFileSystem();
    const storage = await open(fs);
    await storage.bootstrap([1]);
    await storage.save({ entries: entries(2, 3, 2) });
    await storage.save({ entries: entries(4, 5, 2) });
    fs.corrupt(WAL, 12);
    await assert.rejects(open(fs), (error: unknown) => {
      assert.ok(error instanceof CorruptionError);
      assert.equal(error.file, WAL);
      assert.equal(error.offsetBytes, 0);
      assert.match(error.message, /raft\.wal is corrupt at offset 0: checksum mismatch/);
      return true;
    });
  });

  it("detects a damaged snapshot file", async () => {
    const fs = new MemFileSystem();
    const storage = await open(fs);
    await storage.bootstrap([1], new Uint8Array([9, 9, 9]));
    const name = [...fs.files.keys()].find((p) => p.endsWith(".snap"))!;
    fs.corrupt(name, 20);
    await assert.rejects(
      open(fs),
      /snap-0000000000000001\.snap is corrupt at offset 8: checksum mismatch/,
    );
  });

  it("snapshots, compacts and rewrites the log, then restarts from the snapshot", async () => {
    const fs = new MemFileSystem();
    const storage = await open(fs, 0);
    await storage.bootstrap([1, 2]);
    await storage.save({
      entries: entries(2, 100, 2),
      hardState: { term: 2, vote: 1, commit: 100 },
    });
    const before = fs.files.get(WAL)!.data.length;
    await storage.createSnapshot(
      90,
      { ...storage.initialState().confState },
      new Uint8Array([4, 2]),
    );
    await storage.compact(90);
    assert.ok(fs.files.get(WAL)!.data.length < before / 5, "the log was rewritten smaller");
    await storage.save({
      entries: entries(101, 105, 3),
      hardState: { term: 3, vote: 2, commit: 104 },
    });
    const again = await open(fs);
    assert.equal(again.firstIndex(), 91);
    assert.equal(again.lastIndex(), 105);
    assert.equal(again.snapshot().metadata.index, 90);
    assert.deepEqual(again.snapshot().data, new Uint8Array([4, 2]));
    assert.deepEqual(again.initialState().hardState, { term: 3, vote: 2, commit: 104 });
    assert.deepEqual(again.entries(91, 106, Infinity), [
      ...entries(91, 100, 2),
      ...entries(101, 105, 3),
    ]);
  });

  it("a snapshot received from the leader replaces the whole log, also after a restart", async () => {
    const fs = new MemFileSystem();
    const storage = await open(fs);
    await storage.bootstrap([1, 2, 3]);
    await storage.save({ entries: entries(2, 30, 2) });
    const snapshot = {
      metadata: { index: 20, term: 5, confState: storage.initialState().confState },
      data: new Uint8Array([7]),
    };
    await storage.save({ snapshot, entries: [], hardState: { term: 5, vote: 0, commit: 20 } });
    await storage.save({ entries: entries(21, 22, 5) });
    for (const s of [storage, await open(fs)]) {
      assert.equal(s.firstIndex(), 21);
      assert.equal(s.lastIndex(), 22);
      assert.equal(s.term(20), 5);
      assert.equal(s.term(21), 5);
    }
  });

  it("refuses further writes after a failed write", async () => {
    const fs = new MemFileSystem();
    const storage = await open(fs);
    await storage.bootstrap([1]);
    fs.failNextWrite = true;
    await assert.rejects(storage.save({ entries: entries(2, 2, 2) }), /EIO/);
    await assert.rejects(storage.save({ entries: entries(3, 3, 2) }), /Raft storage failed: EIO/);
  });

  it("works on the real file system", async () => {
    const dir = await mkdtemp(join(tmpdir(), "raft-storage-"));
    try {
      const storage = await DurableStorage.open({ fs: nodeFileSystem, dir });
      await storage.bootstrap([1, 2, 3]);
      await storage.save({
        entries: entries(2, 40, 2),
        hardState: { term: 2, vote: 3, commit: 39 },
      });
      await storage.createSnapshot(30, storage.initialState().confState, new Uint8Array([1]));
      await storage.compact(30);
      await storage.close();
      const again = await DurableStorage.open({ fs: nodeFileSystem, dir });
      assert.equal(again.firstIndex(), 31);
      assert.equal(again.lastIndex(), 40);
      assert.deepEqual(again.initialState().hardState, { term: 2, vote: 3, commit: 39 });
      await again.close();
    } finally {
      await rm(dir, { recursive: true });
    }
  });
});

/** The bytes one save of `list` appends to the log. */
async function encodeAppend(list: Entry[]): Promise<Uint8Array> {
  const fs = new MemFileSystem();
  const storage = await DurableStorage.open({ fs, dir: "/x" });
  await storage.bootstrap([1]);
  await storage.save({ entries: entries(2, list[0].index - 1, 2) });
  const before = fs.files.get("/x/raft.wal")!.data.length;
  await storage.save({ entries: list });
  return fs.files.get("/x/raft.wal")!.data.slice(before);
}

describe("durable raft storage, fsync policy", () => {
  it("does not fsync a commit-only change, and writes it with the next fsync", async () => {
    const fs = new MemFileSystem();
    const storage = await open(fs);
    await storage.bootstrap([1]);
    await storage.save({ entries: entries(2, 3, 2), hardState: { term: 2, vote: 1, commit: 1 } });
    const syncs = fs.syncCount;
    await storage.save({
      entries: [],
      hardState: { term: 2, vote: 1, commit: 3 },
      mustSync: false,
    });
    assert.equal(fs.syncCount, syncs);
    await storage.save({ entries: entries(4, 4, 2) });
    assert.equal(fs.syncCount, syncs + 1);
    assert.equal((await open(fs)).initialState().hardState.commit, 3);
  });
});
