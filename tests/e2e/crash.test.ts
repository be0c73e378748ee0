import { timeLimited } from "../_time_limit.ts";
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, stat, truncate } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cleanup, type NodeProcess, RUNTIMES, startNode } from "./_harness.ts";
import { RespClient } from "./_resp_client.ts";

const { after, describe, it } = timeLimited(import.meta.url, 120_000);

const CYCLES = Number(process.env.HYPERCACHE_CRASH_CYCLES ?? 3);
const WRITERS = 8;

/** A value that names its key and attempt, with bytes across the whole 0-255 range. */
function valueFor(key: string, attempt: number): string {
  let value = `${key}#${attempt}:`;
  for (let i = 0; i < 64; i++) value += String.fromCharCode((attempt * 31 + i * 7) & 0xff);
  return value;
}

/** Bounds on each writer, far beyond what a kill 0.3-1 s after the start lets through. */
const WRITER_MAX_SETS = 200_000;
const WRITER_MAX_MS = 20_000;

/**
 * Writers issue SETs one after another until the connection dies (or a bound is reached); a SET
 * counts as acknowledged only when its +OK arrived. Fills key -> last acknowledged value.
 */
async function writeUntilKilled(
  port: number,
  cycle: number,
  acked: Map<string, string>,
): Promise<void> {
  const until = Date.now() + WRITER_MAX_MS;
  const writers = Array.from({ length: WRITERS }, async (_, writer) => {
    const client = await RespClient.open(port);
    for (let attempt = 0; attempt < WRITER_MAX_SETS && Date.now() < until; attempt++) {
      const key = `c${cycle}:w${writer}:k${attempt % 50}`;
      const value = valueFor(key, attempt);
      const reply = await client.send("SET", key, value);
      if (reply !== "OK") break;
      acked.set(key, value);
    }
    client.close();
  });
  await Promise.all(writers);
}

for (const runtime of RUNTIMES) {
  describe(`crash recovery on ${runtime} (appendfsync always, kill -9)`, () => {
    let node: NodeProcess | undefined;
    let dataDir: string;
    after(async () => {
      await cleanup(node);
      await rm(dataDir, { recursive: true, force: true });
    });

    it(`keeps every acknowledged write across ${CYCLES} kill -9 cycles`, async () => {
      dataDir = await mkdtemp(join(tmpdir(), "hc-crash-"));
      const acked = new Map<string, string>();
      const args = ["--appendonly", "yes", "--appendfsync", "always"];
      for (let cycle = 0; cycle < CYCLES; cycle++) {
        node = await startNode(runtime, { dataDir, args });
        const writing = writeUntilKilled(node.port, cycle, acked);
        await new Promise((resolve) => setTimeout(resolve, 300 + Math.random() * 700));
        await node.kill();
        await writing;
        node = await startNode(runtime, { dataDir, args });
        const reader = await RespClient.open(node.port);
        let lost = 0;
        for (const [key, value] of acked) {
          const got = await reader.send("GET", key);
          // A write sent but not acknowledged may also have landed: only the acked one must be there,
          // or a later attempt for the same key.
          if (
            got !== value &&
            !(typeof got === "string" && got.startsWith(`${key}#`) && attempt(got) > attempt(value))
          ) lost++;
        }
        reader.close();
        assert.equal(lost, 0, `cycle ${cycle}: ${lost} of ${acked.size} acknowledged writes lost`);
        assert.ok(acked.size > 0, "some writes were acknowledged before the kill");
        await node.stop();
        node = undefined;
      }
    });

    it("drops a torn last record and starts", async () => {
      const dir = await mkdtemp(join(tmpdir(), "hc-torn-"));
      try {
        const args = ["--appendonly", "yes", "--appendfsync", "always"];
        node = await startNode(runtime, { dataDir: dir, args });
        const client = await RespClient.open(node.port);
        assert.equal(await client.send("SET", "kept", "yes"), "OK");
        assert.equal(await client.send("SET", "torn", "x".repeat(100)), "OK");
        client.close();
        await node.kill();
        const aof = (await readdir(dir)).find((name) => name.endsWith(".aof"))!;
        const size = (await stat(join(dir, aof))).size;
        await truncate(join(dir, aof), size - 10);
        node = await startNode(runtime, { dataDir: dir, args });
        assert.match(node.output(), /dropped a torn last record at offset \d+/);
        const reader = await RespClient.open(node.port);
        assert.equal(await reader.send("GET", "kept"), "yes");
        assert.equal(await reader.send("GET", "torn"), null);
        reader.close();
        await node.stop();
        node = undefined;
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
}

function attempt(value: string): number {
  return Number(/#(\d+):/.exec(value)?.[1] ?? -1);
}
