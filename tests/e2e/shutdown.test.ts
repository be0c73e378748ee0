/**
 * SHUTDOWN on a real node process (Deno and Bun): the client gets no reply and its connection
 * closes, the process exits with status 0, and a restart on the same data directory with
 * `--appendonly yes` has every write, after SHUTDOWN, SHUTDOWN SAVE and SHUTDOWN NOSAVE alike
 * (NOSAVE skips only the snapshot: the AOF is made durable). Refusals answer and keep the node
 * running.
 */
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { timeLimited } from "../_time_limit.ts";
import { cleanup, type NodeProcess, RUNTIMES, startNode } from "./_harness.ts";
import { RawClient } from "./_raw_client.ts";
import type { RespError } from "../../src/resp/decoder.ts";

const { after, describe, it } = timeLimited(import.meta.url, 180_000);

/** Writes a few keys of several types, one with a TTL. */
async function write(client: RawClient, tag: string): Promise<void> {
  client.send("SET", `s:${tag}`, `value \x00\xff ${tag}`);
  client.send("RPUSH", `l:${tag}`, "a", "b", "c");
  client.send("HSET", `h:${tag}`, "f", "v");
  client.send("SET", `t:${tag}`, "x", "EX", "1000");
  assert.deepEqual(await client.take(4), ["OK", 3, 1, "OK"]);
}

/** Reads back what `write` wrote. */
async function check(client: RawClient, tag: string): Promise<void> {
  client.send("GET", `s:${tag}`);
  client.send("LRANGE", `l:${tag}`, "0", "-1");
  client.send("HGET", `h:${tag}`, "f");
  client.send("TTL", `t:${tag}`);
  const [value, list, field, ttl] = await client.take(4);
  assert.deepEqual([value, list, field], [`value \x00\xff ${tag}`, ["a", "b", "c"], "v"], tag);
  assert.ok(typeof ttl === "number" && ttl > 900 && ttl <= 1000, `${tag}: TTL ${ttl}`);
}

for (const runtime of RUNTIMES) {
  describe(`SHUTDOWN on ${runtime}`, () => {
    let node: NodeProcess | undefined;
    let dataDir = "";
    after(async () => {
      await cleanup(node);
      if (dataDir !== "") await rm(dataDir, { recursive: true, force: true });
    });

    const start = async () => {
      node = await startNode(runtime, { dataDir, args: ["--appendonly", "yes"] });
      return node;
    };

    /** Sends `argv` (SHUTDOWN ...) and expects no reply, a closed connection and exit 0. */
    const shutDown = async (running: NodeProcess, ...argv: string[]) => {
      const client = await RawClient.open(running.port);
      client.send(...argv);
      // A command behind it in the same connection is never run.
      client.send("SET", "after-shutdown", "1");
      assert.ok(await client.closedByServer(), `${argv.join(" ")}: the connection stayed open`);
      assert.deepEqual(client.replies, [], argv.join(" "));
      assert.equal(await running.exited, 0, `${argv.join(" ")}: exit status`);
      assert.match(running.output(), /shutting down/);
    };

    it("exits 0 after SHUTDOWN, SHUTDOWN SAVE and SHUTDOWN NOSAVE, and a restart has every write", async () => {
      dataDir = await mkdtemp(join(tmpdir(), "hc-shutdown-"));
      const tags: string[] = [];
      for (const argv of [["SHUTDOWN"], ["SHUTDOWN", "SAVE"], ["shutdown", "nosave", "now"]]) {
        const running = await start();
        const client = await RawClient.open(running.port);
        for (const tag of tags) await check(client, tag);
        const tag = argv.join("-").toLowerCase();
        await write(client, tag);
        tags.push(tag);
        client.close();
        await shutDown(running, ...argv);
        if (argv[1] === "SAVE") {
          // The snapshot SAVE wrote names the generation a restart loads first.
          assert.ok((await readdir(dataDir)).some((name) => name.endsWith(".hcs")));
        }
      }
      const running = await start();
      const client = await RawClient.open(running.port);
      for (const tag of tags) await check(client, tag);
      client.send("EXISTS", "after-shutdown");
      assert.deepEqual(await client.take(1), [0]);
      client.close();
      assert.equal(await running.stop(), 0);
    });

    it("answers bad arguments, ABORT and MULTI with Redis's errors and keeps running", async () => {
      const running = await startNode(runtime);
      try {
        const client = await RawClient.open(running.port);
        const refusals: [string[], string][] = [
          [["SHUTDOWN", "FOO"], "ERR syntax error"],
          [["SHUTDOWN", "SAVE", "NOSAVE"], "ERR syntax error"],
          [["SHUTDOWN", "ABORT", "NOW"], "ERR syntax error"],
          [["SHUTDOWN", "ABORT"], "ERR No shutdown in progress."],
          // Persistence is off: there is nothing SAVE could write.
          [["SHUTDOWN", "SAVE"], "ERR Errors trying to SHUTDOWN. Check logs."],
        ];
        for (const [argv, error] of refusals) {
          client.send(...argv);
          const [reply] = await client.take(1);
          assert.equal((reply as RespError).message, error, argv.join(" "));
        }
        client.send("MULTI");
        client.send("SHUTDOWN");
        client.send("EXEC");
        const [, queued, exec] = await client.take(3);
        assert.equal((queued as RespError).message, "ERR Command not allowed inside a transaction");
        assert.match((exec as RespError).message, /^EXECABORT/);
        client.send("PING");
        assert.deepEqual(await client.take(1), ["PONG"]);
        // FORCE goes on where SAVE cannot.
        client.send("SHUTDOWN", "SAVE", "FORCE");
        assert.ok(await client.closedByServer());
        assert.equal(await running.exited, 0);
      } finally {
        await cleanup(running);
      }
    });
  });
}
