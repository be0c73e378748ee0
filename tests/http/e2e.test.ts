/**
 * The HTTP API through real HTTP against node processes on Deno and Bun: curl for every route,
 * the real `@upstash/redis` client, and byte-exact round trips between HTTP and RESP.
 */
import { timeLimited } from "../_time_limit.ts";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { Redis } from "@upstash/redis";
import { cleanup, type NodeProcess, redisCli, run, RUNTIMES, startNode } from "../e2e/_harness.ts";

const { after, before, describe, it } = timeLimited(import.meta.url, 120_000);

const CONFIG = `
http:
  max_body_bytes: 4096
  tokens:
    - token: rw-token
      role: readwrite
    - token: ro-token
      role: readonly
databases: 2
stores:
  - name: default
  - name: sessions
`;

interface CurlReply {
  status: number;
  body: string;
  json: () => Record<string, unknown>;
}

/** curl with a status line appended; `args` come before the URL. */
async function curl(port: number, path: string, args: string[] = []): Promise<CurlReply> {
  const result = await run("curl", [
    "-sS",
    "-g",
    "-w",
    "\n%{http_code}",
    ...args,
    `http://127.0.0.1:${port}${path}`,
  ]);
  assert.equal(result.code, 0, result.stderr);
  const cut = result.stdout.lastIndexOf("\n");
  // run() reads output as latin1; curl's bytes are UTF-8 text.
  const body = Buffer.from(result.stdout.slice(0, cut), "latin1").toString("utf8");
  return { status: Number(result.stdout.slice(cut + 1)), body, json: () => JSON.parse(body) };
}

const RW = ["-H", "Authorization: Bearer rw-token"];
const RO = ["-H", "Authorization: Bearer ro-token"];
const JSON_BODY = (
  value: unknown,
) => ["-H", "Content-Type: application/json", "-d", JSON.stringify(value)];

for (const runtime of RUNTIMES) {
  describe(`HTTP API on ${runtime}`, () => {
    let node: NodeProcess;
    before(async () => {
      node = await startNode(runtime, { config: CONFIG });
    });
    after(async () => {
      await cleanup(node);
    });

    it("curl: PUT, GET and DELETE a key with '/', '%' and non-ASCII characters", async () => {
      const key = "dir/file 100% é😀";
      const path = `/api/cache/${encodeURIComponent(key)}`;
      const put = await curl(node.httpPort, path, [
        "-X",
        "PUT",
        ...RW,
        ...JSON_BODY({ value: "naïve", ttl: 60 }),
      ]);
      assert.equal(put.status, 200, put.body);
      const get = await curl(node.httpPort, path, RW);
      assert.equal(get.status, 200);
      const body = get.json();
      assert.equal(body.key, key);
      assert.equal(body.value, "naïve");
      assert.ok((body.ttl as number) > 59 && (body.ttl as number) <= 60);
      assert.deepEqual([body.local, body.forwarded, body.store], [true, false, "default"]);
      const del = await curl(node.httpPort, path, ["-X", "DELETE", ...RW]);
      assert.equal(del.json().deleted, true);
      assert.equal((await curl(node.httpPort, path, RW)).status, 404);
    });

    it("curl: named stores, their stats, and an unknown store", async () => {
      const put = await curl(node.httpPort, "/api/stores/sessions/cache/s1", [
        "-X",
        "POST",
        ...RW,
        ...JSON_BODY({ value: { user: 7 } }),
      ]);
      assert.equal(put.status, 200, put.body);
      const get = await curl(node.httpPort, "/api/stores/sessions/cache/s1?encoding=json", RO);
      assert.deepEqual(get.json().value, { user: 7 });
      const stores = await curl(node.httpPort, "/api/stores", RO);
      assert.deepEqual((stores.json().stores as { name: string }[]).map((s) => s.name), [
        "default",
        "sessions",
      ]);
      const stats = await curl(node.httpPort, "/api/stores/sessions/stats", RO);
      assert.equal(stats.json().keys, 1);
      const unknown = await curl(node.httpPort, "/api/stores/nope/cache/k", RW);
      assert.deepEqual([unknown.status, unknown.json().error], [404, "ERR no such store 'nope'"]);
    });

    it("curl: bad JSON 400, body over the limit 413, missing or wrong token 401, read-only write 403", async () => {
      const bad = await curl(node.httpPort, "/api/cache/k", [
        "-X",
        "PUT",
        ...RW,
        "-d",
        "{not json",
      ]);
      assert.equal(bad.status, 400);
      assert.match(bad.json().error as string, /not valid JSON/);
      const big = await curl(node.httpPort, "/", [
        "-X",
        "POST",
        ...RW,
        ...JSON_BODY(["SET", "k", "x".repeat(5000)]),
      ]);
      assert.equal(big.status, 413);
      assert.match(big.json().error as string, /exceeds 4096 bytes/);
      const none = await curl(node.httpPort, "/api/cache/k");
      assert.deepEqual([none.status, none.json()], [401, { error: "Unauthorized" }]);
      const wrong = await curl(node.httpPort, "/get/k", ["-H", "Authorization: Bearer nope"]);
      assert.equal(wrong.status, 401);
      const readonly = await curl(node.httpPort, "/api/cache/k", [
        "-X",
        "PUT",
        ...RO,
        ...JSON_BODY({ value: "v" }),
      ]);
      assert.equal(readonly.status, 403);
      assert.match(readonly.json().error as string, /^NOPERM/);
    });

    it("curl: 404 and 405 are JSON; health, ready and metrics need no token", async () => {
      const missing = await curl(node.httpPort, "/api/none", RW);
      assert.deepEqual([missing.status, missing.json().error], [404, "Not Found"]);
      const method = await curl(node.httpPort, "/pipeline", ["-X", "DELETE", ...RW]);
      assert.equal(method.status, 405);
      assert.match(method.json().error as string, /DELETE/);
      assert.equal((await curl(node.httpPort, "/health")).json().status, "ok");
      assert.equal((await curl(node.httpPort, "/ready")).json().status, "ready");
      const metrics = await curl(node.httpPort, "/metrics");
      assert.match(metrics.body, /^redis_connected_clients \d+$/m);
      assert.match(metrics.body, /^redis_commands_processed_total \d+$/m);
      assert.match(metrics.body, /^redis_db_keys\{db="db1",store="sessions"\} 1$/m);
      assert.match(metrics.body, /^hypercache_store_memory_used_bytes\{store="default"\} \d+$/m);
    });

    it("curl: Upstash command API, pipeline, transaction, path style and ?_token", async () => {
      const set = await curl(node.httpPort, "/", [
        "-X",
        "POST",
        ...RW,
        ...JSON_BODY(["SET", "up", "v", "EX", 100]),
      ]);
      assert.deepEqual(set.json(), { result: "OK" });
      const pipe = await curl(node.httpPort, "/pipeline", [
        "-X",
        "POST",
        ...RW,
        ...JSON_BODY([["GET", "up"], ["TTL", "up"], ["BOGUS"]]),
      ]);
      const replies = JSON.parse(pipe.body);
      assert.deepEqual(replies.slice(0, 2), [{ result: "v" }, { result: 100 }]);
      assert.match(replies[2].error, /unknown command/);
      const tx = await curl(node.httpPort, "/multi-exec", [
        "-X",
        "POST",
        ...RW,
        ...JSON_BODY([["SET", "tx", "1"], ["GET", "tx"]]),
      ]);
      assert.deepEqual(JSON.parse(tx.body), [{ result: "OK" }, { result: "1" }]);
      const path = await curl(node.httpPort, "/get/up?_token=ro-token");
      assert.deepEqual(path.json(), { result: "v" });
      const b64 = await curl(node.httpPort, "/get/up", [...RW, "-H", "Upstash-Encoding: base64"]);
      assert.deepEqual(b64.json(), { result: "dg==" });
    });

    it("a value written over HTTP reads back byte-exact over RESP, and the other way round", async () => {
      const text = "héllo wörld €😀";
      await curl(node.httpPort, "/api/cache/x1", [
        "-X",
        "PUT",
        ...RW,
        ...JSON_BODY({ value: text }),
      ]);
      const viaResp = await redisCli(node.port, ["GET", "x1"]);
      assert.equal(viaResp.stdout, Buffer.from(text, "utf8").toString("latin1") + "\n");
      const raw = await redisCli(
        node.port,
        ["-x", "SET", "x2"],
        new Uint8Array([0, 0xff, 0x80, 0x0a, 0xc3, 0xa9]),
      );
      assert.equal(raw.stdout.trim(), "OK");
      const back = await curl(node.httpPort, "/api/cache/x2", RW);
      assert.deepEqual([back.json().value, back.json().encoding], [
        Buffer.from([0, 0xff, 0x80, 0x0a, 0xc3, 0xa9]).toString("base64"),
        "base64",
      ]);
      const binary = Buffer.from([1, 0xfe, 0, 0x0d, 0x0a]);
      const post = await run("curl", [
        "-sS",
        "-X",
        "POST",
        "-H",
        "Authorization: Bearer rw-token",
        "--data-binary",
        "@-",
        `http://127.0.0.1:${node.httpPort}/set/x3`,
      ], { input: binary });
      assert.equal(post.stdout, '{"result":"OK"}');
      const exact = await redisCli(node.port, ["GET", "x3"]);
      assert.equal(exact.stdout, binary.toString("latin1") + "\n");
    });

    it("the @upstash/redis client works against it", async () => {
      const redis = new Redis({ url: `http://127.0.0.1:${node.httpPort}`, token: "rw-token" });
      assert.equal(await redis.set("u:str", "héllo", { ex: 100 }), "OK");
      assert.equal(await redis.get("u:str"), "héllo");
      const ttl = await redis.ttl("u:str");
      assert.ok(ttl > 98 && ttl <= 100, `ttl ${ttl}`);
      await redis.set("u:obj", { name: "Ada", tags: ["x", "ÿ"], n: 1 });
      assert.deepEqual(await redis.get("u:obj"), { name: "Ada", tags: ["x", "ÿ"], n: 1 });
      assert.equal(await redis.exists("u:str", "u:obj", "u:none"), 2);
      assert.equal(await redis.del("u:str", "u:none"), 1);
      assert.equal(await redis.get("u:str"), null);
      const pipeline = redis.pipeline();
      pipeline.set("u:p", "1").get("u:p").ttl("u:p");
      assert.deepEqual(await pipeline.exec(), ["OK", 1, -1]);
      const tx = redis.multi();
      tx.set("u:t", "a").get("u:t").del("u:t");
      assert.deepEqual(await tx.exec(), ["OK", "a", 1]);
      assert.equal(await redis.ping(), "PONG");
      const readonly = new Redis({ url: `http://127.0.0.1:${node.httpPort}`, token: "ro-token" });
      assert.deepEqual(await readonly.get("u:obj"), { name: "Ada", tags: ["x", "ÿ"], n: 1 });
      await assert.rejects(readonly.set("u:x", "1"), /NOPERM/);
      const plain = new Redis({
        url: `http://127.0.0.1:${node.httpPort}`,
        token: "rw-token",
        responseEncoding: false,
      });
      assert.equal(await plain.set("u:plain", "ü"), "OK");
      assert.equal(await plain.get("u:plain"), "ü");
    });

    it("@upstash/redis: incr, hashes with JSON object values, lists and sorted sets", async () => {
      const redis = new Redis({ url: `http://127.0.0.1:${node.httpPort}`, token: "rw-token" });
      assert.equal(await redis.incr("u:n"), 1);
      assert.equal(await redis.incrby("u:n", 41), 42);
      assert.equal(
        await redis.hset("u:h", { name: "Ada", profile: { lang: "fr", tags: ["é"] } }),
        2,
      );
      assert.deepEqual(await redis.hgetall("u:h"), {
        name: "Ada",
        profile: { lang: "fr", tags: ["é"] },
      });
      assert.deepEqual(await redis.hget("u:h", "profile"), { lang: "fr", tags: ["é"] });
      assert.equal(await redis.lpush("u:l", "c", "b", "a"), 3);
      assert.deepEqual(await redis.lrange("u:l", 0, -1), ["a", "b", "c"]);
      assert.equal(
        await redis.zadd("u:z", { score: 2, member: "two" }, { score: 1, member: "one" }),
        2,
      );
      assert.deepEqual(await redis.zrange("u:z", 0, -1), ["one", "two"]);
      assert.deepEqual(await redis.zrange("u:z", 0, -1, { withScores: true }), [
        "one",
        1,
        "two",
        2,
      ]);
    });
  });
}
