import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { scanAof } from "../../src/persistence/aof_reader.ts";
import { checkDataDir } from "../../src/persistence/check_aof.ts";
import { RecoveryError } from "../../src/persistence/persistence.ts";
import { nodeFileSystem } from "../../src/runtime/node_fs.ts";
import { encodeBatch, encodeCommand } from "./_resp.ts";
import { openNode, type OpenOptions, tempDir } from "./_node.ts";

async function withDir(test: (dir: string) => Promise<void>): Promise<void> {
  const dir = await tempDir();
  try {
    await test(dir.path);
  } finally {
    await dir.remove();
  }
}

/** Every file of `dir` with its bytes (as latin1 text), to show that nothing changed. */
async function listing(dir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort()) {
    files[name] = (await readFile(join(dir, name))).toString("latin1");
  }
  return files;
}

/**
 * A data directory at generation 2 as the outside testers had it: 200 keys in `dump-2.hcs`,
 * 200 more in `appendonly-2.aof` (acknowledged in 10 batches).
 */
async function generationTwo(dir: string): Promise<void> {
  const node = await openNode(dir);
  for (let i = 0; i < 200; i++) node.run("SET", `s${i}`, `v${i}`);
  assert.equal(node.run("SAVE"), "+OK\r\n");
  for (let batch = 0; batch < 10; batch++) {
    for (let i = 0; i < 20; i++) node.run("SET", `a${batch * 20 + i}`, `w${i}`);
    await node.persistence.aof.waitDurable();
  }
  await node.close();
}

/** Expects start-up to refuse with a RecoveryError matching every pattern, changing nothing. */
async function refuses(
  dir: string,
  patterns: RegExp[],
  options: OpenOptions = {},
): Promise<string> {
  const before = await listing(dir);
  let message = "";
  await assert.rejects(openNode(dir, options), (error: Error) => {
    assert.ok(error instanceof RecoveryError, `${error.name}: ${error.message}`);
    for (const pattern of patterns) assert.match(error.message, pattern);
    message = error.message;
    return true;
  });
  assert.deepEqual(await listing(dir), before, "a refused start changes no file");
  return message;
}

function manifestOf(generation: number, snapshot: string | null, aof: string): string {
  return JSON.stringify({ version: 1, generation, snapshot, aof });
}

describe("start-up never deletes data it cannot account for", () => {
  it("refuses a data directory whose manifest is missing, naming its files; check-aof --fix writes one back", async () => {
    await withDir(async (dir) => {
      await generationTwo(dir);
      await rm(join(dir, "manifest.json"));
      await refuses(dir, [
        /no manifest\.json \(appendonly-2\.aof, dump-2\.hcs\)/,
        /deletes none/,
        new RegExp(`check-aof ${dir} --fix`),
      ]);
      const lines: string[] = [];
      const log = (line: string) => lines.push(line);
      assert.equal(await checkDataDir({ fs: nodeFileSystem, dataDir: dir, log }), false);
      assert.match(lines.join("\n"), /--fix would write one naming dump-2\.hcs, appendonly-2\.aof/);
      assert.equal(await checkDataDir({ fs: nodeFileSystem, dataDir: dir, fix: true, log }), true);
      const node = await openNode(dir);
      assert.equal(node.keyspace.keyCount, 400, "every key is back");
      await node.close();
    });
  });

  it("refuses a manifest edited to name no snapshot at generation 2, and keeps the snapshot", async () => {
    await withDir(async (dir) => {
      await generationTwo(dir);
      await writeFile(join(dir, "manifest.json"), manifestOf(2, null, "appendonly-2.aof"));
      await refuses(dir, [
        /manifest\.json is inconsistent: its first AOF is appendonly-2\.aof but it names no snapshot/,
        /data before appendonly-2\.aof would be missing/,
      ]);
    });
  });

  it("refuses to start when the manifest names a missing AOF, and deletes nothing", async () => {
    await withDir(async (dir) => {
      await generationTwo(dir);
      await rm(join(dir, "appendonly-2.aof"));
      await refuses(dir, [
        new RegExp(`${dir}/appendonly-2\\.aof: .*manifest\\.json names it but it is missing`),
        /create it empty/,
      ]);
    });
  });

  it("refuses a manifest pointing past the AOF that holds the writes, and keeps that AOF", async () => {
    await withDir(async (dir) => {
      await generationTwo(dir);
      await writeFile(join(dir, "manifest.json"), manifestOf(3, "dump-2.hcs", "appendonly-3.aof"));
      await refuses(dir, [/inconsistent: its first AOF is appendonly-3\.aof/]);
    });
  });

  it("refuses a missing AOF of the replay chain that a rewrite left", async () => {
    await withDir(async (dir) => {
      await generationTwo(dir);
      const manifest = {
        version: 1,
        generation: 3,
        snapshot: "dump-2.hcs",
        replay: ["appendonly-2.aof"],
        aof: "appendonly-3.aof",
      };
      await writeFile(join(dir, "manifest.json"), JSON.stringify(manifest));
      await writeFile(join(dir, "appendonly-3.aof"), "");
      await rm(join(dir, "appendonly-2.aof"));
      await refuses(dir, [/appendonly-2\.aof: .* names it but it is missing/]);
    });
  });

  it("removes only files the manifest supersedes, and keeps the rest for good, numbered past", async () => {
    await withDir(async (dir) => {
      await generationTwo(dir);
      const stray = encodeBatch([["SET", "stray", "1"]]);
      await writeFile(join(dir, "dump-1.hcs"), "old snapshot");
      await writeFile(join(dir, "appendonly-1.aof"), stray);
      await writeFile(join(dir, "dump-2.hcs.tmp-4242"), "unfinished");
      await writeFile(join(dir, "appendonly-3.aof"), stray);
      await writeFile(join(dir, "dump-3.hcs"), "newer than the manifest");
      const leftInPlace =
        /left in place, not named by manifest\.json and not provably obsolete: appendonly-3\.aof, dump-3\.hcs; the node never removes them/;
      const node = await openNode(dir);
      assert.match(node.persistence.report.warnings.join("\n"), leftInPlace);
      assert.deepEqual((await readdir(dir)).sort(), [
        "appendonly-2.aof",
        "appendonly-3.aof",
        "dump-2.hcs",
        "dump-3.hcs",
        "manifest.json",
      ]);
      assert.equal(node.run("GET", "stray"), "$-1\r\n", "an unnamed AOF is never replayed");
      assert.equal(node.run("SAVE"), "+OK\r\n");
      const manifest = JSON.parse(await readFile(join(dir, "manifest.json"), "utf8"));
      assert.equal(manifest.generation, 4, "past the files left in place");
      assert.deepEqual(manifest.kept, ["appendonly-3.aof", "dump-3.hcs"]);
      await node.close();
      // Numbered past, they look older than the manifest; its `kept` says they are not obsolete.
      const again = await openNode(dir);
      assert.equal(again.keyspace.keyCount, 400);
      assert.match(again.persistence.report.warnings.join("\n"), leftInPlace);
      await again.close();
      assert.equal(await readFile(join(dir, "appendonly-3.aof"), "latin1"), stray);
      assert.equal(await readFile(join(dir, "dump-3.hcs"), "latin1"), "newer than the manifest");
      await rm(join(dir, "appendonly-3.aof"));
      await rm(join(dir, "dump-3.hcs"));
      const cleaned = await openNode(dir);
      assert.deepEqual(cleaned.persistence.report.warnings, []);
      assert.equal(cleaned.run("SAVE"), "+OK\r\n");
      await cleaned.close();
      const last = JSON.parse(await readFile(join(dir, "manifest.json"), "utf8"));
      assert.equal(last.kept, undefined, "files removed by hand leave the list");
      // SAVE removes the old generation in the background; a start finishes what it left.
      await (await openNode(dir)).close();
      assert.deepEqual((await readdir(dir)).sort(), [
        "appendonly-5.aof",
        "dump-5.hcs",
        "manifest.json",
      ]);
    });
  });

  it("removes a rewrite's empty new AOF that never joined the chain, but not a non-empty one", async () => {
    await withDir(async (dir) => {
      await generationTwo(dir);
      const chained = {
        version: 1,
        generation: 4,
        snapshot: "dump-2.hcs",
        replay: ["appendonly-2.aof"],
        aof: "appendonly-4.aof",
      };
      await writeFile(join(dir, "manifest.json"), JSON.stringify(chained));
      await writeFile(join(dir, "appendonly-4.aof"), "");
      await writeFile(join(dir, "appendonly-3.aof"), "");
      const node = await openNode(dir);
      assert.deepEqual(node.persistence.report.warnings, []);
      assert.ok(!(await readdir(dir)).includes("appendonly-3.aof"));
      await node.close();
      await writeFile(join(dir, "appendonly-3.aof"), encodeBatch([["SET", "x", "1"]]));
      const again = await openNode(dir);
      assert.match(again.persistence.report.warnings.join(), /left in place.*appendonly-3\.aof/);
      await again.close();
    });
  });

  it("starts a directory that a crash during its very first start left without a manifest", async () => {
    await withDir(async (dir) => {
      await writeFile(join(dir, "appendonly-1.aof"), "");
      await writeFile(join(dir, "manifest.json.tmp-77"), '{"version": 1, "gen');
      const node = await openNode(dir);
      assert.equal(node.keyspace.keyCount, 0);
      node.run("SET", "a", "1");
      await node.close();
      assert.deepEqual((await readdir(dir)).sort(), ["appendonly-1.aof", "manifest.json"]);
      const again = await openNode(dir);
      assert.equal(again.run("GET", "a"), "$1\r\n1\r\n");
      await again.close();
    });
  });
});

describe("a record that fails on replay stops the start", () => {
  const good = encodeBatch([["SELECT", "0"], ["SET", "a", "1"]]);
  for (const bad of [["SXT", "b", "2"], ["SET", "d"], ["INCR", "a", "x"]]) {
    it(`refuses ${bad.join(" ")}, naming the file, the offset, the record and the reply`, async () => {
      await withDir(async (dir) => {
        const aof = good + encodeBatch([["SET", "c", "3"], bad]) +
          encodeBatch([["SET", "e", "5"]]);
        await writeFile(join(dir, "manifest.json"), manifestOf(1, null, "appendonly-1.aof"));
        await writeFile(join(dir, "appendonly-1.aof"), aof, "latin1");
        const offset = good.length + 25 + encodeCommand(["SET", "c", "3"]).length;
        const shown = bad.map((arg) => JSON.stringify(arg)).join(" ");
        const message = await refuses(dir, [
          new RegExp(`${dir}/appendonly-1\\.aof: the record at offset ${offset} fails on replay`),
          /-> ERR /,
          new RegExp(`truncate the file to ${good.length} bytes`),
          /check-aof .* --print/,
        ]);
        assert.ok(message.includes(shown), message);
      });
    });
  }

  it("refuses a failing record in an AOF written before annotations too", async () => {
    await withDir(async (dir) => {
      const aof = encodeCommand(["SET", "a", "1"]) + encodeCommand(["SXT", "b", "2"]);
      await writeFile(join(dir, "manifest.json"), manifestOf(1, null, "appendonly-1.aof"));
      await writeFile(join(dir, "appendonly-1.aof"), aof);
      const offset = encodeCommand(["SET", "a", "1"]).length;
      await refuses(dir, [
        new RegExp(`the record at offset ${offset} fails on replay: "SXT" "b" "2" -> ERR unknown`),
      ]);
    });
  });
});

/** 20 acknowledged SETs of 105-byte values, one batch each, on a fresh directory. */
async function twentyBatches(dir: string): Promise<number[]> {
  const node = await openNode(dir);
  const ends: number[] = [];
  for (let i = 0; i < 20; i++) {
    node.run("SET", `key${i}`, String(i).padStart(105, "x"));
    await node.persistence.aof.waitDurable();
    ends.push(node.persistence.aof.stats.sizeBytes);
  }
  await node.close();
  return ends;
}

describe("corruption before the tail is detected, not served", () => {
  it("refuses a length changed from $105 to $905 ten records before the end, naming file and offset", async () => {
    await withDir(async (dir) => {
      const ends = await twentyBatches(dir);
      const path = join(dir, "appendonly-1.aof");
      const text = await readFile(path, "latin1");
      const at = text.indexOf("$105", ends[9]);
      assert.ok(at > ends[9] && at < ends[10]);
      await writeFile(path, text.slice(0, at) + "$905" + text.slice(at + 4), "latin1");
      await refuses(dir, [
        new RegExp(`${path} is corrupt at offset \\d+ `),
        new RegExp(`checksum mismatch in the batch at offset ${ends[9]}`),
        new RegExp(`a valid batch follows at offset ${ends[10]}`),
        /aof_load_truncated/,
      ]);
      const node = await openNode(dir, { persistence: { truncateCorrupt: true } });
      assert.match(
        node.persistence.report.warnings.join(),
        new RegExp(`truncated at offset ${ends[9]}, dropping ${ends[19] - ends[9]} bytes`),
      );
      assert.equal(node.keyspace.keyCount, 10, "exactly the batches before the damage");
      await node.close();
    });
  });

  it("refuses a changed byte inside a value, which no record structure shows", async () => {
    await withDir(async (dir) => {
      const ends = await twentyBatches(dir);
      const path = join(dir, "appendonly-1.aof");
      const bytes = await readFile(path);
      bytes[ends[4] + 60] ^= 0x01; // inside the value of key5: still a well-formed record
      await writeFile(path, bytes);
      await refuses(dir, [new RegExp(`${path} is corrupt at offset ${ends[4]} `)]);
      const lines: string[] = [];
      const log = (line: string) => lines.push(line);
      assert.equal(await checkDataDir({ fs: nodeFileSystem, dataDir: dir, log }), false);
      assert.match(lines.join("\n"), /checksum mismatch in the batch at offset/);
      assert.equal(await checkDataDir({ fs: nodeFileSystem, dataDir: dir, fix: true, log }), true);
      const node = await openNode(dir);
      assert.equal(node.keyspace.keyCount, 5);
      await node.close();
    });
  });

  it("drops a last batch that fails its checksum as a torn write, saying so", async () => {
    await withDir(async (dir) => {
      const ends = await twentyBatches(dir);
      const path = join(dir, "appendonly-1.aof");
      const bytes = await readFile(path);
      bytes[ends[18] + 70] ^= 0x20;
      await writeFile(path, bytes);
      const node = await openNode(dir);
      assert.match(
        node.persistence.report.warnings.join(),
        new RegExp(`${path}: dropped a torn last record at offset ${ends[18]}`),
      );
      assert.equal(node.keyspace.keyCount, 19);
      await node.close();
    });
  });

  it("loads an AOF written before annotations, and goes on with checksummed batches after it", async () => {
    await withDir(async (dir) => {
      const legacy = encodeCommand(["SELECT", "0"]) + encodeCommand(["SET", "old", "1"]) +
        encodeCommand(["RPUSH", "list", "a", "b"]);
      await writeFile(join(dir, "manifest.json"), manifestOf(1, null, "appendonly-1.aof"));
      await writeFile(join(dir, "appendonly-1.aof"), legacy + "*3\r\n$3\r\nSET\r\n$1\r\nt");
      const node = await openNode(dir);
      assert.match(node.persistence.report.warnings.join(), /dropped a torn last record/);
      assert.equal(node.run("GET", "old"), "$1\r\n1\r\n");
      node.run("SET", "new", "2");
      await node.close();
      const bytes = await readFile(join(dir, "appendonly-1.aof"));
      const scan = scanAof(bytes, () => {});
      assert.equal(scan.problem, null);
      assert.equal(scan.checksummed, true);
      assert.equal(bytes.toString("latin1").slice(0, legacy.length), legacy);
      const again = await openNode(dir);
      assert.equal(again.run("MGET", "old", "new"), "*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
      assert.equal(again.run("LLEN", "list"), ":2\r\n");
      await again.close();
    });
  });

  it("refuses a torn-looking legacy record that checksummed batches follow", async () => {
    await withDir(async (dir) => {
      const legacy = encodeCommand(["SELECT", "0"]) + encodeCommand(["SET", "old", "1"]);
      const damaged = legacy.replace("$1\r\n1", "$999\r\n1");
      const aof = damaged + encodeBatch([["SET", "new", "2"]]);
      await writeFile(join(dir, "manifest.json"), manifestOf(1, null, "appendonly-1.aof"));
      await writeFile(join(dir, "appendonly-1.aof"), aof);
      await refuses(dir, [/is corrupt at offset/, /a valid batch follows at offset/]);
    });
  });
});
