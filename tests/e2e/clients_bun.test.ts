import { timeLimited } from "../_time_limit.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import { run, runtimeCommand, RUNTIMES } from "./_harness.ts";
import {
  ADMIN_PASSWORD,
  type ClientNode,
  LIST_RESULTS,
  READER,
  SET_RESULTS,
  startClientNode,
  ZSET_RESULTS,
} from "./fixtures/_client_node.ts";

const { after, before, describe, it } = timeLimited(import.meta.url, 120_000);

const SCRIPT = join(new URL(".", import.meta.url).pathname, "fixtures/bun_redis_client.ts");

/** Runs the fixture on Bun: the harness's Bun command with the fixture in place of main.ts. */
async function runBunClient(options: Record<string, unknown>) {
  const [command, base] = runtimeCommand("bun");
  const args = [...base.slice(0, -1), SCRIPT, JSON.stringify(options)];
  const result = await run(command, args, { timeoutMs: 30_000 });
  assert.equal(result.code, 0, `bun client script failed:\n${result.stderr}`);
  return JSON.parse(result.stdout);
}

for (const runtime of RUNTIMES) {
  describe(`Bun's RedisClient against a node on ${runtime}`, () => {
    let server: ClientNode;
    // deno-lint-ignore no-explicit-any
    let out: Record<string, any>;

    before(async () => {
      server = await startClientNode(runtime);
      out = await runBunClient({
        port: server.node.port,
        tlsPort: server.node.tlsPort,
        caFile: server.certFile,
        password: ADMIN_PASSWORD,
        reader: [READER.name, READER.password],
      });
    });
    after(async () => {
      await server?.stop();
    });

    it("opens with HELLO 3 and reads the server map", () => {
      assert.equal(out.hello.proto, 3);
      assert.equal(out.hello.server, "redis");
      assert.equal(out.hello.mode, "standalone");
    });

    it("sets, gets, counts and reads several strings at once", () => {
      const { ttl, ...rest } = out.strings;
      assert.ok(ttl > 0 && ttl <= 100, `TTL ${ttl}`);
      assert.deepEqual(rest, {
        set: "OK",
        get: "hello",
        incr: [41, 42],
        mset: "OK",
        mget: ["1", "2", null],
        missing: null,
        incrbyfloat: "2.5",
      });
    });

    it("stores a hash and reads it back as an object", () => {
      assert.deepEqual(out.hashes, {
        hset: 3,
        hincrby: 10,
        hgetall: { f1: "a", f2: "b", n: "10" },
        hmget: ["b", null],
        hdel: 1,
        hlen: 2,
      });
    });

    it("pushes, ranges and pops a list", () => {
      assert.deepEqual(out.lists, LIST_RESULTS);
    });

    it("reads sets back and intersects them", () => {
      assert.deepEqual(out.sets, SET_RESULTS);
    });

    it("ranks a sorted set and decodes RESP3 doubles", () => {
      assert.deepEqual(out.zsets, ZSET_RESULTS);
    });

    it("answers pipelined commands in order, with a per-command error", () => {
      assert.deepEqual(out.pipeline, [
        "OK",
        2,
        { error: "WRONGTYPE Operation against a key holding the wrong kind of value" },
        "2",
      ]);
    });

    it("commits a watched transaction and aborts one whose key changed", () => {
      assert.deepEqual(out.transactions, {
        queued: ["OK", "QUEUED", "QUEUED"],
        committed: [1, "1"],
        aborted: null,
        final: "changed",
      });
    });

    it("delivers messages, counts a pattern subscriber, and nothing after unsubscribing", () => {
      assert.equal(out.pubsub.subscribed, 1);
      // Bun returns the RESP3 confirmation push of PSUBSCRIBE as it is, as with redis-server.
      assert.deepEqual(out.pubsub.patterns, { type: "psubscribe", data: ["bun:n*", 2] });
      assert.deepEqual(out.pubsub.counts, [2, 1, 0]);
      assert.deepEqual(out.pubsub.received, ["message bun:news hi"]);
      assert.equal(out.pubsub.pong, "PONG");
    });

    it("serves a BLPOP from a later push, and times one out with null", () => {
      const { served, servedMs, timedOut, timeoutMs } = out.blocking;
      assert.deepEqual(served, ["bun:queue", "job"]);
      assert.ok(servedMs < 3000, `served after ${servedMs} ms`);
      assert.equal(timedOut, null);
      assert.ok(timeoutMs >= 250, `timed out after ${timeoutMs} ms`);
    });

    it("lets a read-only user read and refuses its writes with NOPERM", () => {
      assert.deepEqual(out.readonly, {
        get: "visible",
        set: "NOPERM User reader has no permissions to run the 'set' command",
        after: "visible",
        wrongpass: "WRONGPASS invalid username-password pair or user is disabled.",
      });
    });

    it("talks over TLS (rediss://) trusting the self-signed certificate", () => {
      assert.deepEqual(out.tls, { set: "OK", get: "secret", plain: "secret" });
    });
  });
}
