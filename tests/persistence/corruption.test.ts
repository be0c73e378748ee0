/**
 * Damage at random: a data directory written by the real persistence code (a snapshot, then an
 * AOF of several batches of acknowledged writes) gets one byte flipped or is cut short at a
 * random offset of its AOF, its snapshot or its manifest. Every start must either load exactly
 * the data of a prefix of the batches (and then only for a torn tail, or a cut allowed by
 * `aof_load_truncated`) or refuse with a RecoveryError naming the damaged file, changing no file.
 * Never wrong data, never a file lost.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { RecoveryError } from "../../src/persistence/persistence.ts";
import { mulberry32 } from "../_mulberry32.ts";
import { dumpData, FakeClock, openNode, tempDir } from "./_node.ts";

const SEEDS = Number(process.env.HYPERCACHE_CORRUPTION_SEEDS ?? 400);
const BATCHES = 8;
const CONFIG = { stores: [{ name: "default" }, { name: "second" }] };
const START_MS = 1_700_000_000_000;

interface Template {
  files: Record<string, Uint8Array>;
  snapshot: string;
  aof: string;
  /** AOF size after 0, 1, ... BATCHES batches. */
  boundaries: number[];
  /** The data after 0, 1, ... BATCHES batches. */
  states: Record<string, unknown>[];
}

/** Writes the directory every case starts from, through the real persistence code. */
async function writeTemplate(dir: string): Promise<Template> {
  const random = mulberry32(7);
  const node = await openNode(dir, { clock: new FakeClock(START_MS), config: CONFIG });
  const value = (n: number) =>
    Array.from({ length: n }, () => String.fromCharCode(Math.floor(random() * 256))).join("");
  for (let i = 0; i < 40; i++) node.run("SET", `s${i}`, value(1 + (i * 7) % 90));
  node.run("HSET", "h", "f1", "a", "f2", value(30));
  node.run("RPUSH", "l", "a", "b", "c");
  node.run("ZADD", "z", "1", "a", "2.5", "b");
  node.run("SET", "ttl", "v", "EX", "1000");
  assert.equal(node.run("SAVE"), "+OK\r\n");
  const states = [dumpData(node.keyspace)];
  const boundaries = [node.persistence.aof.stats.sizeBytes];
  for (let batch = 0; batch < BATCHES; batch++) {
    const commands = 1 + Math.floor(random() * 12);
    for (let c = 0; c < commands; c++) {
      const key = `k${Math.floor(random() * 30)}`;
      switch (Math.floor(random() * 8)) {
        case 0:
          node.run("SET", key, value(1 + Math.floor(random() * 200)));
          break;
        case 1:
          node.run("DEL", `s${Math.floor(random() * 40)}`, key);
          break;
        case 2:
          node.run("INCRBY", `n${Math.floor(random() * 3)}`, String(Math.floor(random() * 100)));
          break;
        case 3:
          node.run("HSET", "h", `f${Math.floor(random() * 5)}`, value(20));
          break;
        case 4:
          node.run("RPUSH", "l", value(10), value(3));
          break;
        case 5:
          node.run("SELECT", "1");
          node.run("SET", key, value(40));
          node.run("SELECT", "0");
          break;
        case 6:
          node.run("PEXPIREAT", `s${Math.floor(random() * 40)}`, String(START_MS + 500_000));
          break;
        default:
          node.run("APPEND", `s${Math.floor(random() * 40)}`, value(5));
      }
    }
    await node.persistence.aof.waitDurable();
    states.push(dumpData(node.keyspace));
    boundaries.push(node.persistence.aof.stats.sizeBytes);
  }
  await node.close();
  const manifest = JSON.parse(await readFile(join(dir, "manifest.json"), "utf8"));
  const files: Record<string, Uint8Array> = {};
  // Copies, not Buffers: a Buffer's slice() is a view, and the damage must not reach them.
  for (const name of await readdir(dir)) {
    files[name] = new Uint8Array(await readFile(join(dir, name)));
  }
  assert.equal(boundaries[0], 0, "the snapshot starts an empty AOF");
  assert.equal(files[manifest.aof].length, boundaries[BATCHES]);
  return { files, snapshot: manifest.snapshot, aof: manifest.aof, boundaries, states };
}

async function listing(dir: string): Promise<Record<string, Uint8Array>> {
  const files: Record<string, Uint8Array> = {};
  for (const name of (await readdir(dir)).sort()) {
    files[name] = new Uint8Array(await readFile(join(dir, name)));
  }
  return files;
}

interface Damage {
  file: string;
  kind: "flip" | "cut";
  offset: number;
  truncateCorrupt: boolean;
}

/** The template's files with one of them damaged as `seed` says. */
function damage(template: Template, seed: number): { damage: Damage; bytes: Uint8Array } {
  const random = mulberry32(seed);
  const pick = random();
  const file = pick < 0.55 ? template.aof : pick < 0.85 ? template.snapshot : "manifest.json";
  const original = template.files[file];
  const kind = random() < 0.65 ? "flip" : "cut";
  const offset = Math.floor(random() * original.length);
  const truncateCorrupt = random() < 0.3;
  let bytes: Uint8Array;
  if (kind === "flip") {
    bytes = original.slice();
    bytes[offset] ^= 1 + Math.floor(random() * 255);
  } else {
    bytes = original.slice(0, offset);
  }
  return { damage: { file, kind, offset, truncateCorrupt }, bytes };
}

/** How many whole batches lie before `offset` of the AOF. */
function batchesBefore(template: Template, offset: number): number {
  let count = 0;
  while (count < BATCHES && template.boundaries[count + 1] <= offset) count++;
  return count;
}

describe("random damage to a data directory", () => {
  it(`either loads a prefix of the acknowledged batches or refuses naming the file, over ${SEEDS} seeds`, async () => {
    const dir = await tempDir();
    try {
      const template = await writeTemplate(dir.path);
      const outcomes = { loaded: 0, refused: 0 };
      for (let seed = 1; seed <= SEEDS; seed++) {
        const { damage: hurt, bytes } = damage(template, seed);
        const what = `seed ${seed}: ${hurt.kind} at offset ${hurt.offset} of ${hurt.file}` +
          (hurt.truncateCorrupt ? " (aof_load_truncated)" : "");
        for (const name of await readdir(dir.path)) await rm(join(dir.path, name));
        for (const [name, original] of Object.entries(template.files)) {
          await writeFile(join(dir.path, name), name === hurt.file ? bytes : original);
        }
        const before = await listing(dir.path);
        let node;
        try {
          node = await openNode(dir.path, {
            clock: new FakeClock(START_MS),
            config: CONFIG,
            persistence: { truncateCorrupt: hurt.truncateCorrupt },
          });
        } catch (error) {
          assert.ok(error instanceof RecoveryError, `${what}: ${(error as Error).stack}`);
          assert.ok(
            error.message.includes(join(dir.path, hurt.file)),
            `${what}: the message names the file: ${error.message}`,
          );
          assert.deepEqual(
            await listing(dir.path),
            before,
            `${what}: a refused start changed files`,
          );
          outcomes.refused++;
          continue;
        }
        outcomes.loaded++;
        const data = dumpData(node.keyspace);
        const warnings = node.persistence.report.warnings.join("\n");
        await node.close();
        const loaded = template.states.findIndex((state) => isDeepStrictEqual(state, data));
        assert.ok(loaded >= 0, `${what}: started with data of no prefix of the batches`);
        const after = await listing(dir.path);
        if (hurt.file !== template.aof) {
          // Damage the load cannot see (JSON whitespace) must leave the data whole.
          assert.equal(loaded, BATCHES, `${what}: loaded ${loaded} of ${BATCHES} batches`);
          assert.deepEqual(after, before, `${what}: files changed`);
          continue;
        }
        const damaged = batchesBefore(template, hurt.offset);
        if (hurt.kind === "flip" && !hurt.truncateCorrupt) {
          assert.equal(damaged, BATCHES - 1, `${what}: started although batch ${damaged} is bad`);
        }
        assert.equal(
          loaded,
          damaged,
          `${what}: loaded ${loaded} batches, not the ${damaged} before`,
        );
        if (hurt.kind === "flip" || hurt.offset > template.boundaries[loaded]) {
          assert.ok(warnings.includes(join(dir.path, template.aof)), `${what}: no warning`);
        }
        const cut = template.boundaries[loaded];
        assert.deepEqual(
          after,
          { ...before, [template.aof]: bytes.subarray(0, cut) },
          `${what}: only the AOF changed, cut at the end of its last valid batch`,
        );
      }
      assert.ok(outcomes.loaded > 0 && outcomes.refused > 0, JSON.stringify(outcomes));
    } finally {
      await dir.remove();
    }
  });
});
