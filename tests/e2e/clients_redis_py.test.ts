import { timeLimited } from "../_time_limit.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import { run, RUNTIMES } from "./_harness.ts";
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

/** The python3 with redis-py that `deno task test` found (Debian's, where apt puts it). */
const PYTHON = process.env.HYPERCACHE_PYTHON ?? "/usr/bin/python3";
const SCRIPT = join(new URL(".", import.meta.url).pathname, "fixtures/redis_py_client.py");

/** Whether the installed redis-py speaks RESP3 (`protocol=3` came with redis-py 5). */
async function redisPySupportsResp3(): Promise<boolean> {
  const probe = await run(PYTHON, [
    "-c",
    "import inspect, redis; print('protocol' in inspect.signature(redis.Redis.__init__).parameters)",
  ]);
  return probe.stdout.trim() === "True";
}
const RESP3 = await redisPySupportsResp3();

// deno-lint-ignore no-explicit-any
type Results = Record<string, any>;

for (const runtime of RUNTIMES) {
  for (const protocol of [2, 3] as const) {
    const skip = protocol === 3 && !RESP3
      ? "the installed redis-py has no protocol=3 (RESP3 came with redis-py 5)"
      : false;
    describe(`redis-py with protocol=${protocol} against a node on ${runtime}`, { skip }, () => {
      let server: ClientNode;
      let out: Results;

      before(async () => {
        server = await startClientNode(runtime);
        const options = {
          port: server.node.port,
          tls_port: server.node.tlsPort,
          ca_file: server.certFile,
          password: ADMIN_PASSWORD,
          reader: [READER.name, READER.password],
          protocol,
        };
        const result = await run(PYTHON, [SCRIPT, JSON.stringify(options)], { timeoutMs: 30_000 });
        assert.equal(result.code, 0, `redis-py script failed:\n${result.stderr}`);
        out = JSON.parse(result.stdout);
      });
      after(async () => {
        await server?.stop();
      });

      it("sets, gets, counts and refuses an overflowing INCR", () => {
        const strings = out.strings;
        assert.equal(strings.get, "hello");
        assert.deepEqual(strings.incr, [41, 42]);
        assert.equal(strings.incrbyfloat, 2.5);
        assert.equal(strings.mset, true);
        assert.deepEqual(strings.mget, ["1", "2", null]);
        assert.ok(strings.ttl > 0 && strings.ttl <= 100, `TTL ${strings.ttl}`);
        assert.deepEqual(strings.overflow, [
          "ResponseError",
          "increment or decrement would overflow",
        ]);
      });

      it("stores a hash and reads it back as a dict", () => {
        assert.deepEqual(out.hashes, {
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

      it("ranks a sorted set and returns float scores", () => {
        assert.deepEqual(out.zsets, ZSET_RESULTS);
      });

      it("answers a pipeline in order, with a per-command error", () => {
        const [set, incr, hset, get] = out.pipeline;
        assert.equal(set, true);
        assert.equal(incr, 2);
        assert.equal(hset[0], "ResponseError");
        assert.match(hset[1], /^WRONGTYPE/);
        assert.equal(get, "2");
      });

      it("commits a watched transaction and aborts one whose key changed", () => {
        assert.deepEqual(out.transactions.committed, [1, "1"]);
        assert.equal(out.transactions.aborted?.[0], "WatchError");
        assert.equal(out.transactions.final, "changed");
      });

      it("delivers message and pmessage, and nothing after unsubscribing", () => {
        assert.deepEqual(out.pubsub.counts, [2, 1, 0]);
        assert.deepEqual(out.pubsub.received, [
          ["message", null, "py:news", "hi"],
          ["pmessage", "py:n*", "py:news", "hi"],
          ["pmessage", "py:n*", "py:nope", "p-only"],
        ]);
        assert.equal(out.pubsub.late, null);
      });

      it("serves a BLPOP from a later push, and times one out with None", () => {
        assert.deepEqual(out.blocking.served, ["py:queue", "job"]);
        assert.ok(out.blocking.served_s < 3, `served after ${out.blocking.served_s}s`);
        assert.equal(out.blocking.timed_out, null);
        assert.ok(out.blocking.timeout_s >= 0.9, `timed out after ${out.blocking.timeout_s}s`);
      });

      it("lets a read-only user read and refuses its writes with NOPERM", () => {
        assert.equal(out.readonly.get, "visible");
        assert.deepEqual(out.readonly.set, [
          "NoPermissionError",
          "User reader has no permissions to run the 'set' command",
        ]);
        assert.equal(out.readonly.after, "visible");
        // redis-py 4 maps no class to WRONGPASS, so it is a plain ResponseError, as with Redis.
        assert.match(String(out.readonly.wrongpass?.[1]), /^WRONGPASS /);
      });

      it("talks over TLS trusting the self-signed certificate", () => {
        assert.deepEqual(out.tls, { set: true, get: "secret", plain: "secret" });
      });
    });
  }
}
