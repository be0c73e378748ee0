import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { encodeCommand } from "./_resp.ts";
import { scanAof } from "../../src/persistence/aof_reader.ts";
import { checkDataDir } from "../../src/persistence/check_aof.ts";
import { RecoveryError } from "../../src/persistence/persistence.ts";
import { nodeFileSystem } from "../../src/runtime/node_fs.ts";
import type { FileSystem } from "../../src/runtime/types.ts";
import { dumpData, FakeClock, openNode, tempDir } from "./_node.ts";

async function withDir(test: (dir: string) => Promise<void>): Promise<void> {
  const dir = await tempDir();
  try {
    await test(dir.path);
  } finally {
    await dir.remove();
  }
}

async function aofPath(dir: string): Promise<string> {
  const manifest = JSON.parse(await readFile(join(dir, "manifest.json"), "utf8"));
  return join(dir, manifest.aof);
}

/**
 * Writes `count` keys, each acknowledged before the next (one batch each), and closes the node;
 * returns the AOF's size before the last batch.
 */
async function writeKeys(dir: string, count: number): Promise<number> {
  const node = await openNode(dir);
  for (let i = 0; i < count - 1; i++) {
    node.run("SET", `k${i}`, `v${i}`);
    await node.persistence.aof.waitDurable();
  }
  const before = (await stat(await aofPath(dir))).size;
  node.run("SET", `k${count - 1}`, "last-value");
  await node.close();
  return before;
}

describe("AOF records", () => {
  it("reads back every byte of binary arguments, with each record's offset", () => {
    const records = [["SET", "k\r\n", "\x00\xff*$"], ["DEL", ""], ["PING"]];
    const text = records.map(encodeCommand).join("");
    const bytes = Uint8Array.from(text, (c) => c.charCodeAt(0));
    const seen: [string[], number][] = [];
    const scan = scanAof(bytes, (argv, offset) => seen.push([argv, offset]));
    assert.equal(scan.problem, null);
    assert.deepEqual(seen.map(([argv]) => argv), records);
    assert.deepEqual(seen.map(([, offset]) => offset), [
      0,
      encodeCommand(records[0]).length,
      encodeCommand(records[0]).length + encodeCommand(records[1]).length,
    ]);
  });

  it("refuses an inline command in the middle: an AOF holds only multibulks", () => {
    const text = encodeCommand(["SET", "a", "1"]) + "DEL a\r\n" + encodeCommand(["SET", "b", "2"]);
    const scan = scanAof(Uint8Array.from(text, (c) => c.charCodeAt(0)), () => {});
    assert.equal(scan.recordCount, 1);
    assert.equal(scan.problem?.kind, "corrupt");
    assert.equal(scan.problem?.badByteOffset, encodeCommand(["SET", "a", "1"]).length);
  });
});

describe("recovery", () => {
  it("drops a torn last record at every byte offset and keeps every record before it", async () => {
    await withDir(async (dir) => {
      const lastStart = await writeKeys(dir, 20);
      const path = await aofPath(dir);
      const full = await readFile(path);
      for (let cut = lastStart; cut < full.length; cut++) {
        await writeFile(path, full.subarray(0, cut));
        const node = await openNode(dir);
        for (let i = 0; i < 19; i++) {
          assert.equal(node.run("GET", `k${i}`), `$${`v${i}`.length}\r\nv${i}\r\n`);
        }
        assert.equal(node.run("GET", "k19"), "$-1\r\n", `cut at ${cut}`);
        if (cut > lastStart) {
          assert.match(
            node.persistence.report.warnings.join(),
            /dropped a torn last record at offset \d+/,
          );
        }
        assert.equal((await stat(path)).size, lastStart, "the torn bytes are cut off the file");
        await node.close();
      }
    });
  });

  it("stops at corruption before the tail, naming the file and the offset", async () => {
    await withDir(async (dir) => {
      await writeKeys(dir, 10);
      const path = await aofPath(dir);
      const bytes = await readFile(path);
      const offset = 100;
      bytes[offset] = "#".charCodeAt(0);
      await writeFile(path, bytes);
      await assert.rejects(openNode(dir), (error: Error) => {
        assert.ok(error instanceof RecoveryError);
        assert.ok(error.message.includes(path), error.message);
        assert.match(error.message, /corrupt at offset 100 /);
        assert.match(error.message, /check-aof/);
        return true;
      });
    });
  });

  it("with aof_load_truncated, starts from a corrupt AOF cut before the damaged record", async () => {
    await withDir(async (dir) => {
      await writeKeys(dir, 10);
      const path = await aofPath(dir);
      const bytes = await readFile(path);
      const valid = scanAof(bytes, () => {});
      bytes[100] = "#".charCodeAt(0);
      await writeFile(path, bytes);
      const node = await openNode(dir, { persistence: { truncateCorrupt: true } });
      assert.match(
        node.persistence.report.warnings.join(),
        /corrupt at offset 100 .*truncated at offset \d+/,
      );
      assert.equal(node.run("GET", "k0"), "$2\r\nv0\r\n");
      assert.equal(node.run("GET", "k9"), "$-1\r\n");
      assert.ok((await stat(path)).size < valid.validBytes);
      node.run("SET", "after", "1");
      await node.close();
      const again = await openNode(dir);
      assert.equal(again.run("GET", "after"), "$1\r\n1\r\n");
      await again.close();
    });
  });

  it("check-aof --fix truncates a corrupt AOF so that the node starts", async () => {
    await withDir(async (dir) => {
      await writeKeys(dir, 10);
      const path = await aofPath(dir);
      const bytes = await readFile(path);
      bytes[100] = "#".charCodeAt(0);
      await writeFile(path, bytes);
      const lines: string[] = [];
      const log = (line: string) => lines.push(line);
      assert.equal(await checkDataDir({ fs: nodeFileSystem, dataDir: dir, log }), false);
      assert.match(
        lines.join("\n"),
        /BAD .*appendonly-1\.aof: \d+ valid records; corrupt at offset 100/,
      );
      assert.equal(await checkDataDir({ fs: nodeFileSystem, dataDir: dir, fix: true, log }), true);
      assert.equal(await checkDataDir({ fs: nodeFileSystem, dataDir: dir, log }), true);
      const node = await openNode(dir);
      assert.equal(node.run("GET", "k0"), "$2\r\nv0\r\n");
      await node.close();
    });
  });

  it("reports a snapshot with a bad checksum and loads nothing from it", async () => {
    await withDir(async (dir) => {
      const node = await openNode(dir);
      for (let i = 0; i < 50; i++) node.run("SET", `k${i}`, `v${i}`);
      assert.equal(node.run("SAVE"), "+OK\r\n");
      await node.close();
      const manifest = JSON.parse(await readFile(join(dir, "manifest.json"), "utf8"));
      const path = join(dir, manifest.snapshot);
      const bytes = await readFile(path);
      bytes[bytes.length >> 1] ^= 0x01;
      await writeFile(path, bytes);
      await assert.rejects(openNode(dir), (error: Error) => {
        assert.ok(error instanceof RecoveryError);
        assert.match(error.message, /snapshot .*dump-2\.hcs is corrupt: checksum/);
        return true;
      });
      const lines: string[] = [];
      const whole = await checkDataDir({
        fs: nodeFileSystem,
        dataDir: dir,
        log: (l) => lines.push(l),
      });
      assert.equal(whole, false);
      assert.match(lines.join("\n"), /BAD .*checksum/);
    });
  });

  it("restores TTLs still counting down and drops keys that expired while it was down", async () => {
    await withDir(async (dir) => {
      const clock = new FakeClock();
      const node = await openNode(dir, { clock });
      node.run("SET", "long", "v", "EX", "100");
      node.run("SET", "short", "v", "PX", "1500");
      node.run("SET", "snap-short", "v", "EX", "1");
      node.run("SET", "forever", "v");
      node.run("HSET", "h", "f", "v");
      node.run("EXPIRE", "h", "50");
      assert.equal(node.run("SAVE"), "+OK\r\n");
      node.run("SET", "aof-long", "v", "EX", "200");
      await node.close();
      clock.nowMs += 30_000;
      const restarted = await openNode(dir, { clock });
      assert.equal(restarted.run("TTL", "long"), ":70\r\n");
      assert.equal(restarted.run("TTL", "h"), ":20\r\n");
      assert.equal(restarted.run("TTL", "aof-long"), ":170\r\n");
      assert.equal(restarted.run("TTL", "forever"), ":-1\r\n");
      assert.equal(restarted.run("EXISTS", "short", "snap-short"), ":0\r\n");
      assert.equal(restarted.keyspace.keyCount, 4, "expired keys are not loaded at all");
      clock.nowMs += 15_000;
      assert.equal(restarted.run("TTL", "long"), ":55\r\n");
      await restarted.close();
    });
  });

  it("keeps the default TTL of keys any command created counting from their write, across a restart", async () => {
    await withDir(async (dir) => {
      const clock = new FakeClock();
      const config = { stores: [{ name: "sessions", default_ttl: "100s" }] };
      const node = await openNode(dir, { clock, config });
      node.run("SET", "s", "v");
      node.run("INCR", "n");
      node.run("INCRBYFLOAT", "f", "1.5");
      node.run("APPEND", "a", "x");
      node.run("SETRANGE", "r", "2", "x");
      node.run("LPUSH", "l", "x");
      node.run("SADD", "set", "x");
      node.run("HSET", "h", "f", "v");
      node.run("ZADD", "z", "1", "x");
      const keys = ["s", "n", "f", "a", "r", "l", "set", "h", "z"];
      for (const key of keys) assert.equal(node.run("TTL", key), ":100\r\n", key);
      clock.nowMs += 10_000;
      node.run("INCR", "n"); // an update keeps the TTL: nothing new to log
      await node.close();
      const aof = (await readFile(await aofPath(dir))).toString("latin1");
      // One absolute expiry per created key: SET carries its own (PXAT), the others get PEXPIREAT.
      assert.equal(aof.match(/PEXPIREAT/g)?.length, keys.length - 1);
      assert.equal(aof.match(/PXAT/g)?.length, 1);
      clock.nowMs += 30_000;
      const restarted = await openNode(dir, { clock, config });
      for (const key of keys) assert.equal(restarted.run("TTL", key), ":60\r\n", key);
      assert.equal(restarted.run("GET", "n"), "$1\r\n2\r\n");
      clock.nowMs += 61_000;
      assert.equal(restarted.run("EXISTS", ...keys), ":0\r\n");
      await restarted.close();
    });
  });

  it("does not log a store with persist: false while the others persist", async () => {
    await withDir(async (dir) => {
      const config = { stores: [{ name: "durable" }, { name: "cache", persist: false }] };
      const node = await openNode(dir, { config });
      node.run("SET", "kept", "1");
      node.run("SELECT", "1");
      node.run("SET", "volatile", "1");
      node.run("HSET", "h", "f", "v");
      node.run("SELECT", "0");
      node.run("SET", "kept2", "2");
      await node.close();
      const aof = (await readFile(await aofPath(dir))).toString("latin1");
      assert.doesNotMatch(aof, /volatile|SELECT\r\n\$1\r\n1/);
      const restarted = await openNode(dir, { config });
      assert.equal(restarted.run("DBSIZE"), ":2\r\n");
      restarted.run("SELECT", "1");
      assert.equal(restarted.run("DBSIZE"), ":0\r\n");
      restarted.run("SET", "again", "1");
      assert.equal(restarted.run("SAVE"), "+OK\r\n", "a snapshot skips it too");
      await restarted.close();
      const fromSnapshot = await openNode(dir, { config });
      assert.deepEqual(Object.keys(dumpData(fromSnapshot.keyspace)), ["0/kept", "0/kept2"]);
      await fromSnapshot.close();
    });
  });
});

describe("SAVE", () => {
  it("replies only once the snapshot and the manifest naming it are on disk", async () => {
    await withDir(async (dir) => {
      const node = await openNode(dir);
      node.run("SET", "a", "1");
      assert.equal(node.run("SAVE"), "+OK\r\n");
      // Checked before any await: the files exist the moment the reply is written.
      const manifest = JSON.parse(await readFile(join(dir, "manifest.json"), "utf8"));
      assert.equal(manifest.snapshot, "dump-2.hcs");
      assert.ok((await stat(join(dir, "dump-2.hcs"))).size > 0);
      await node.close();
    });
  });

  it("answers an error naming the cause when the snapshot cannot be written", async () => {
    await withDir(async (dir) => {
      const fs: FileSystem = {
        ...nodeFileSystem,
        sync: {
          ...nodeFileSystem.sync!,
          writeFileAtomic() {
            throw new Error("ENOSPC: no space left on device");
          },
        },
      };
      const node = await openNode(dir, { fs });
      node.run("SET", "a", "1");
      assert.equal(node.run("SAVE"), "-ERR ENOSPC: no space left on device\r\n");
      node.run("SET", "b", "2");
      await node.close();
      const restarted = await openNode(dir);
      assert.equal(restarted.run("MGET", "a", "b"), "*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
      await restarted.close();
    });
  });
});

/** The file system operations a rewrite makes, counted; the `failAt`-th throws as a crash would. */
function crashingFs(failAt: number): { fs: FileSystem; count: () => number; arm: () => void } {
  let calls = 0;
  let armed = false;
  const step = (name: string) => {
    if (!armed) return;
    calls++;
    if (calls === failAt) throw new Error(`simulated crash at step ${failAt} (${name})`);
  };
  const base = nodeFileSystem;
  const fs: FileSystem = {
    ...base,
    async open(path, mode) {
      step(`open ${path}`);
      const file = await base.open(path, mode);
      return {
        ...file,
        write: (data) => (step("write"), file.write(data)),
        datasync: () => (step("datasync"), file.datasync()),
        size: () => file.size(),
        truncate: (size) => file.truncate(size),
        close: () => file.close(),
      };
    },
    async writeFileAtomic(path, data) {
      step(`writeFileAtomic ${path}`);
      await base.writeFileAtomic(path, data);
    },
    async remove(path) {
      step(`remove ${path}`);
      await base.remove(path);
    },
    sync: {
      open(path, mode) {
        step(`open ${path}`);
        return base.sync!.open(path, mode);
      },
      writeFileAtomic(path, data) {
        step(`writeFileAtomic ${path}`);
        base.sync!.writeFileAtomic(path, data);
      },
    },
  };
  return { fs, count: () => calls, arm: () => (armed = true) };
}

describe("manifest swap interrupted", () => {
  for (const kind of ["BGREWRITEAOF", "SAVE"] as const) {
    it(`${kind}: a crash at any step of the switch loses no acknowledged write`, async () => {
      // A dry run counts the steps; then one run per step, crashing there.
      let steps = 0;
      for (let failAt = 0; failAt === 0 || failAt <= steps; failAt++) {
        await withDir(async (dir) => {
          const faulty = crashingFs(failAt === 0 ? Infinity : failAt);
          const node = await openNode(dir, { fs: faulty.fs });
          const acknowledged = new Map<string, string>();
          const write = async (key: string, value: string) => {
            node.run("SET", key, value);
            await node.persistence.aof.waitDurable();
            acknowledged.set(key, value);
          };
          for (let i = 0; i < 20; i++) await write(`before${i}`, `v${i}`);
          await write("before0", "overwritten");
          faulty.arm();
          if (kind === "SAVE") {
            const reply = node.run("SAVE");
            if (failAt === 0) assert.equal(reply, "+OK\r\n");
          } else {
            const rewriting = node.persistence.rewrite().catch(() => false);
            // Writes that arrive during the rewrite must survive it as well.
            const during = Promise.all(
              Array.from({ length: 10 }, (_, i) => write(`during${i}`, `d${i}`)),
            ).catch(() => {});
            await Promise.race([rewriting, new Promise((r) => setTimeout(r, 500))]);
            await Promise.race([during, new Promise((r) => setTimeout(r, 200))]);
          }
          if (failAt === 0) steps = faulty.count();
          // The process "dies" here: the node is abandoned without closing, then recovered.
          const recovered = await openNode(dir);
          for (const [key, value] of acknowledged) {
            assert.equal(
              recovered.run("GET", key),
              `$${value.length}\r\n${value}\r\n`,
              `${kind}, crash at step ${failAt} of ${steps}: ${key} lost`,
            );
          }
          const names = await readdir(dir);
          assert.ok(
            names.filter((n) => n.includes(".tmp-")).length === 0,
            "no temporary file left",
          );
          await recovered.close();
          // The abandoned node's files are closed too (Bun fails on a FileHandle left to GC).
          await node.close();
        });
      }
      assert.ok(steps >= 3, `the switch has several steps (counted ${steps})`);
    });
  }

  it("a rewrite that failed half-way keeps every later write through the next restart", async () => {
    await withDir(async (dir) => {
      const faulty = crashingFs(4);
      const node = await openNode(dir, { fs: faulty.fs });
      for (let i = 0; i < 10; i++) node.run("SET", `k${i}`, "1");
      faulty.arm();
      await assert.rejects(node.persistence.rewrite(), /simulated crash/);
      for (let i = 10; i < 20; i++) node.run("SET", `k${i}`, "2");
      await node.persistence.aof.waitDurable();
      const before = dumpData(node.keyspace);
      await node.close();
      const restarted = await openNode(dir);
      assert.deepEqual(dumpData(restarted.keyspace), before);
      assert.equal(await restarted.persistence.rewrite(), true);
      restarted.run("SET", "k20", "3");
      const after = dumpData(restarted.keyspace);
      await restarted.close();
      const again = await openNode(dir);
      assert.deepEqual(dumpData(again.keyspace), after);
      const names = (await readdir(dir)).sort();
      assert.equal(names.length, 3, `one snapshot, one AOF and the manifest: ${names}`);
      assert.match(names.join(" "), /^appendonly-\d+\.aof dump-\d+\.hcs manifest\.json$/);
      await again.close();
    });
  });
});
