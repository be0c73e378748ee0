/**
 * A short run of the command fuzzer (tests/e2e/_fuzz.ts) against real nodes on Deno and Bun: the
 * node stays up, the checking client sees no wrong answer, the reply streams stay well-formed,
 * and memory comes back near where it started. `HYPERCACHE_FUZZ_SEED` replays a seed;
 * `bench/fuzz.ts` runs it for long.
 */
import assert from "node:assert/strict";
import process from "node:process";
import { timeLimited } from "../_time_limit.ts";
import { cleanup, type NodeProcess, RUNTIMES, startNode } from "./_harness.ts";
import { fuzz, rssBytes } from "./_fuzz.ts";
import { RespClient } from "./_resp_client.ts";

const { after, describe, it } = timeLimited(import.meta.url, 120_000);

const SEED = Number(process.env.HYPERCACHE_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const MB = 1024 * 1024;

for (const runtime of RUNTIMES) {
  describe(`command fuzzer against a node on ${runtime}`, () => {
    let node: NodeProcess | undefined;
    after(async () => {
      await cleanup(node);
    });

    it("stays up, answers the checker right, and gives memory back", async () => {
      node = await startNode(runtime, { args: ["--http", "no"] });
      const pid = node.process.pid!;
      const result = await fuzz({
        port: node.port,
        pid,
        seed: SEED,
        durationMs: 8_000,
        connections: 4,
        maxCommands: 200_000,
      });
      const replay = `(replay: HYPERCACHE_FUZZ_SEED=${SEED})`;
      assert.deepEqual(result.wrongAnswers, [], `wrong answers ${replay}`);
      assert.deepEqual(result.malformedReplies, [], `malformed reply streams ${replay}`);
      assert.ok(result.commandsSent > 1000, `only ${result.commandsSent} commands sent`);
      assert.ok(result.checks > 100, `only ${result.checks} checks`);
      assert.equal(node.process.exitCode, null, `the node exited ${replay}:\n${node.output()}`);
      // What the fuzzers stored is dropped; the memory it took must come back.
      const admin = await RespClient.open(node.port);
      assert.equal(await admin.send("FLUSHALL"), "OK");
      assert.equal(await admin.send("MEMORY", "PURGE"), "OK");
      const info = await admin.send("INFO", "memory") as string;
      assert.match(info, /used_memory:0\r\n/, "nothing is accounted for once flushed");
      assert.match(info, /arena_bytes:0\r\n/, "the value arena gave its slabs back");
      admin.close();
      await new Promise((resolve) => setTimeout(resolve, 500));
      const end = rssBytes(pid);
      console.log(
        `fuzz on ${runtime}: seed ${SEED}, ${result.commandsSent} commands, ` +
          `${result.reconnects} reconnects, ${result.checks} checks (slowest ${result.slowestCheckMs} ms), RSS ${
            (result.rssStartBytes / MB).toFixed(0)
          } MB at start, ${(result.rssPeakBytes / MB).toFixed(0)} peak, ${
            (end / MB).toFixed(0)
          } at end`,
      );
      // V8 and the allocator keep some freed pages a while (Deno ends 90-180 MB above its start
      // after 8 s of fuzzing, Bun 40-50); a leak grows past any fixed bound.
      if (result.rssStartBytes > 0) {
        assert.ok(
          end < result.rssStartBytes + 320 * MB,
          `RSS ${end / MB} MB at end against ${result.rssStartBytes / MB} MB at start ${replay}`,
        );
      }
    });
  });
}
