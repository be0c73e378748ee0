import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { testApp } from "./_app.ts";
import { Buffer } from "node:buffer";

const TOKENS = {
  http: {
    tokens: [{ token: "rw-token", role: "readwrite" }, { token: "ro-token", role: "readonly" }],
    max_body_bytes: 1024,
  },
  // Only the two named stores: no numbered databases after them.
  databases: 2,
  stores: [{ name: "default" }, { name: "sessions", filter: { enabled: true } }],
};

describe("HTTP API: REST cache routes", () => {
  it("stores a value with a TTL and reads it back with its placement", async () => {
    const t = testApp(TOKENS);
    const put = await t.call("PUT", "/api/cache/greeting", {
      json: { value: "hello", ttl: 10 },
      token: "rw-token",
    });
    assert.equal(put.status, 200);
    t.clock.nowMs += 2500;
    const get = await t.call("GET", "/api/cache/greeting", { token: "rw-token" });
    assert.deepEqual(await get.json(), {
      key: "greeting",
      value: "hello",
      encoding: "utf8",
      ttl: 7.5,
      store: "default",
      node: "node-a",
      primary: "node-a",
      local: true,
      forwarded: false,
    });
  });

  it("decodes keys with '/', '%' and non-ASCII text and stores them as UTF-8 bytes", async () => {
    const t = testApp(TOKENS);
    const key = "a/b %41 é€😀";
    const path = `/api/cache/${encodeURIComponent(key)}`;
    await t.call("PUT", path, { json: { value: "ü" }, token: "rw-token" });
    const stored = t.keyspace.store(0).read(Buffer.from(key, "utf8").toString("latin1"));
    assert.equal(stored?.value, "\xc3\xbc");
    const body = await (await t.call("GET", path, { token: "rw-token" })).json();
    assert.equal(body.key, key);
    assert.equal(body.value, "ü");
    assert.equal(body.ttl, null);
  });

  it("stores non-string JSON values as their JSON text and parses them back on request", async () => {
    const t = testApp(TOKENS);
    await t.call("PUT", "/api/cache/obj", { json: { value: { a: [1, true] } }, token: "rw-token" });
    assert.equal(t.keyspace.store(0).read("obj")?.value, '{"a":[1,true]}');
    const text = await (await t.call("GET", "/api/cache/obj", { token: "rw-token" })).json();
    assert.equal(text.value, '{"a":[1,true]}');
    const parsed = await (await t.call("GET", "/api/cache/obj?encoding=json", {
      token: "rw-token",
    })).json();
    assert.deepEqual([parsed.value, parsed.encoding], [{ a: [1, true] }, "json"]);
  });

  it("keeps binary values whole: base64 in, base64 out when they are not UTF-8", async () => {
    const t = testApp(TOKENS);
    await t.call("PUT", "/api/cache/bin", {
      json: { value: "AP+A", encoding: "base64" },
      token: "rw-token",
    });
    assert.equal(t.keyspace.store(0).read("bin")?.value, "\x00\xff\x80");
    const body = await (await t.call("GET", "/api/cache/bin", { token: "rw-token" })).json();
    assert.deepEqual([body.value, body.encoding], ["AP+A", "base64"]);
    await t.call("PUT", "/api/cache/raw?ttl=5", {
      body: new Uint8Array([1, 2, 0xfe]),
      headers: { "content-type": "application/octet-stream" },
      token: "rw-token",
    });
    assert.equal(t.keyspace.store(0).read("raw")?.value, "\x01\x02\xfe");
  });

  it("deletes, then answers 404 for the missing key", async () => {
    const t = testApp(TOKENS);
    await t.call("PUT", "/api/cache/k", { json: { value: "v" }, token: "rw-token" });
    const del = await (await t.call("DELETE", "/api/cache/k", { token: "rw-token" })).json();
    assert.equal(del.deleted, true);
    const again = await (await t.call("DELETE", "/api/cache/k", { token: "rw-token" })).json();
    assert.equal(again.deleted, false);
    const get = await t.call("GET", "/api/cache/k", { token: "rw-token" });
    assert.equal(get.status, 404);
    assert.equal((await get.json()).error, "ERR no such key");
  });

  it("addresses named stores, lists them and reports their stats", async () => {
    const t = testApp(TOKENS);
    await t.call("PUT", "/api/stores/sessions/cache/s1", {
      json: { value: "x" },
      token: "rw-token",
    });
    assert.equal(t.keyspace.store(1).read("s1")?.value, "x");
    assert.equal(t.keyspace.store(0).size, 0);
    const list = await (await t.call("GET", "/api/stores", { token: "ro-token" })).json();
    assert.deepEqual(list.stores.map((s: { name: string }) => s.name), ["default", "sessions"]);
    const stats = await (await t.call("GET", "/api/stores/sessions/stats", { token: "ro-token" }))
      .json();
    assert.equal(stats.keys, 1);
    assert.equal(stats.filter.items, 1);
    const unknown = await t.call("GET", "/api/stores/nope/cache/k", { token: "rw-token" });
    assert.equal(unknown.status, 404);
    assert.equal((await unknown.json()).error, "ERR no such store 'nope'");
    assert.equal(
      (await t.call("GET", "/api/stores/nope/stats", { token: "rw-token" })).status,
      404,
    );
  });

  it("rejects bad JSON, a body without value and a negative TTL with 400 JSON errors", async () => {
    const t = testApp(TOKENS);
    for (const body of ["{nope", '{"ttl": 3}', '{"value": "v", "ttl": -1}', '"just text"']) {
      const res = await t.call("PUT", "/api/cache/k", { body, token: "rw-token" });
      assert.equal(res.status, 400, body);
      assert.match((await res.json()).error, /^ERR /);
    }
  });

  it("refuses a write with a read-only token (403 NOPERM) but lets it read", async () => {
    const t = testApp(TOKENS);
    const res = await t.call("PUT", "/api/cache/k", { json: { value: "v" }, token: "ro-token" });
    assert.equal(res.status, 403);
    assert.match((await res.json()).error, /^NOPERM .*'set' command/);
    assert.equal((await t.call("GET", "/api/cache/k", { token: "ro-token" })).status, 404);
  });
});

describe("HTTP API: auth, limits and errors", () => {
  it("answers 401 JSON without a token or with a wrong one, 400 for a malformed header", async () => {
    const t = testApp(TOKENS);
    for (const headers of [{}, { authorization: "Bearer wrong" }] as Record<string, string>[]) {
      const res = await t.call("GET", "/api/cache/k", { headers });
      assert.equal(res.status, 401);
      assert.deepEqual(await res.json(), { error: "Unauthorized" });
    }
    const malformed = await t.call("GET", "/api/cache/k", {
      headers: { authorization: "Basic x" },
    });
    assert.equal(malformed.status, 400);
    assert.match((await malformed.json()).error, /Bearer/);
    assert.equal((await t.call("GET", "/get/k?_token=wrong")).status, 401);
    assert.equal((await t.call("GET", "/get/k?_token=ro-token")).status, 200);
  });

  it("serves /health, /ready and /metrics without a token", async () => {
    const t = testApp(TOKENS);
    const health = await (await t.call("GET", "/health")).json();
    assert.equal(health.status, "ok");
    assert.equal(health.node, "node-a");
    assert.equal((await (await t.call("GET", "/ready")).json()).status, "ready");
    const metrics = await t.call("GET", "/metrics");
    assert.match(metrics.headers.get("content-type")!, /^text\/plain; version=0.0.4/);
    const text = await metrics.text();
    for (
      const line of [
        "redis_connected_clients 3",
        'redis_db_keys{db="db0",store="default"} 0',
        "redis_keyspace_hits_total 0",
        'hypercache_filter_load_ratio{store="sessions"} 0',
        'hypercache_store_memory_used_bytes{store="default"} 0',
      ]
    ) assert.ok(text.includes(line), `${line} in\n${text}`);
  });

  it("answers 413 JSON for a body over the limit", async () => {
    const t = testApp(TOKENS);
    const res = await t.call("POST", "/", {
      body: JSON.stringify(["SET", "k", "x".repeat(2000)]),
      token: "rw-token",
    });
    assert.equal(res.status, 413);
    assert.match((await res.json()).error, /exceeds 1024 bytes/);
  });

  it("answers 404 and 405 as JSON, with an Allow header for 405", async () => {
    const t = testApp(TOKENS);
    const missing = await t.call("GET", "/api/nothing/here", { token: "rw-token" });
    assert.equal(missing.status, 404);
    assert.equal((await missing.json()).error, "Not Found");
    const wrong = await t.call("PATCH", "/api/cache/k", { token: "rw-token" });
    assert.equal(wrong.status, 405);
    assert.match(wrong.headers.get("allow")!, /DELETE/);
    assert.match((await wrong.json()).error, /PATCH/);
    const root = await t.call("GET", "/", { token: "rw-token" });
    assert.equal(root.status, 405, "GET / names no command; / takes one as a POST body");
    assert.equal(root.headers.get("allow"), "POST");
  });

  it("sets a request id and secure headers, and CORS headers when origins are configured", async () => {
    const t = testApp({ http: { cors_origins: ["https://app.example"] } });
    const res = await t.call("GET", "/health", { headers: { origin: "https://app.example" } });
    assert.ok(res.headers.get("x-request-id"));
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    assert.equal(res.headers.get("access-control-allow-origin"), "https://app.example");
    const plain = await testApp().call("GET", "/health", { headers: { origin: "https://x" } });
    assert.equal(plain.headers.get("access-control-allow-origin"), null);
  });

  it("runs as readwrite without tokens, or takes requirepass as the token", async () => {
    assert.equal((await testApp().call("POST", "/", { json: ["SET", "k", "v"] })).status, 200);
    const t = testApp({ requirepass: "secret" });
    assert.equal((await t.call("POST", "/", { json: ["SET", "k", "v"] })).status, 401);
    assert.equal(
      (await t.call("POST", "/", { json: ["SET", "k", "v"], token: "secret" })).status,
      200,
    );
  });
});

describe("HTTP API: Upstash-compatible commands", () => {
  it("runs a JSON array command and answers {result}, or {error} with 400", async () => {
    const t = testApp(TOKENS);
    const set = await t.call("POST", "/", {
      json: ["SET", "k", "v", "EX", 100],
      token: "rw-token",
    });
    assert.deepEqual([set.status, await set.json()], [200, { result: "OK" }]);
    const ttl = await (await t.call("POST", "/", { json: ["TTL", "k"], token: "rw-token" })).json();
    assert.deepEqual(ttl, { result: 100 });
    const bad = await t.call("POST", "/", { json: ["GET"], token: "rw-token" });
    assert.equal(bad.status, 400);
    assert.deepEqual(await bad.json(), {
      error: "ERR wrong number of arguments for 'get' command",
    });
    const notArray = await t.call("POST", "/", { json: { cmd: "GET" }, token: "rw-token" });
    assert.equal(notArray.status, 400);
    const badJson = await t.call("POST", "/", { body: "[oops", token: "rw-token" });
    assert.equal(badJson.status, 400);
    assert.match((await badJson.json()).error, /not valid JSON/);
  });

  it("base64-encodes string results with Upstash-Encoding, except OK", async () => {
    const t = testApp(TOKENS);
    const headers = { "upstash-encoding": "base64" };
    const ok = await t.call("POST", "/", { json: ["SET", "k", "é"], token: "rw-token", headers });
    assert.deepEqual(await ok.json(), { result: "OK" });
    const get = await t.call("POST", "/", { json: ["GET", "k"], token: "rw-token", headers });
    assert.deepEqual(await get.json(), { result: Buffer.from("é").toString("base64") });
    const ping = await t.call("POST", "/", { json: ["PING"], token: "rw-token", headers });
    assert.deepEqual(await ping.json(), { result: "UE9ORw==" });
  });

  it("answers a pipeline with one result or error per command, status 200", async () => {
    const t = testApp(TOKENS);
    const res = await t.call("POST", "/pipeline", {
      json: [["SET", "a", "1"], ["GET", "a"], ["NOSUCH"], ["EXISTS", "a", "b"]],
      token: "rw-token",
    });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.deepEqual(body[0], { result: "OK" });
    assert.deepEqual(body[1], { result: "1" });
    assert.match(body[2].error, /^ERR unknown command 'NOSUCH'/);
    assert.deepEqual(body[3], { result: 1 });
  });

  it("runs a transaction whole, or discards it whole when a command cannot be queued", async () => {
    const t = testApp(TOKENS);
    const ok = await t.call("POST", "/multi-exec", {
      json: [["SET", "a", "1"], ["GET", "a"], ["SET", "a", "2", "EX", "0"]],
      token: "rw-token",
    });
    assert.equal(ok.status, 200);
    const body = await ok.json();
    assert.deepEqual(body.slice(0, 2), [{ result: "OK" }, { result: "1" }]);
    assert.match(body[2].error, /invalid expire time/);
    const aborted = await t.call("POST", "/multi-exec", {
      json: [["SET", "b", "1"], ["GET"]],
      token: "rw-token",
    });
    assert.equal(aborted.status, 400);
    assert.match((await aborted.json()).error, /^EXECABORT .*command 1/);
    assert.equal(t.keyspace.store(0).read("b"), undefined);
    const readonly = await t.call("POST", "/multi-exec", {
      json: [["GET", "a"], ["SET", "a", "3"]],
      token: "ro-token",
    });
    assert.match((await readonly.json()).error, /^EXECABORT .*NOPERM/);
  });

  it("logs a transaction's writes inside MULTI/EXEC, as RESP's EXEC does", async () => {
    const t = testApp(TOKENS);
    const ok = await t.call("POST", "/multi-exec", {
      json: [["SET", "a", "1"], ["GET", "a"], ["INCR", "n"]],
      token: "rw-token",
    });
    assert.equal(ok.status, 200);
    assert.deepEqual(t.propagated, [["MULTI"], ["SET", "a", "1"], ["INCR", "n"], ["EXEC"]]);
    // A pipeline is not a transaction: its writes are logged one by one.
    t.propagated.length = 0;
    await t.call("POST", "/pipeline", {
      json: [["SET", "b", "1"], ["INCR", "n"]],
      token: "rw-token",
    });
    assert.deepEqual(t.propagated, [["SET", "b", "1"], ["INCR", "n"]]);
  });

  it("runs path-style commands with the POST body as the last argument and query options after it", async () => {
    const t = testApp(TOKENS);
    const set = await t.call("POST", "/set/bin%2Fkey?EX=100", {
      body: new Uint8Array([0, 0xff, 10]),
      token: "rw-token",
    });
    assert.deepEqual(await set.json(), { result: "OK" });
    assert.equal(t.keyspace.store(0).read("bin/key")?.value, "\x00\xff\n");
    const ttl = await (await t.call("GET", "/ttl/bin%2Fkey", { token: "rw-token" })).json();
    assert.deepEqual(ttl, { result: 100 });
    const get = await t.call("GET", "/get/bin%2Fkey", {
      token: "rw-token",
      headers: { "upstash-encoding": "base64" },
    });
    assert.deepEqual(await get.json(), { result: "AP8K" });
    assert.deepEqual(await (await t.call("GET", "/ping", { token: "rw-token" })).json(), {
      result: "PONG",
    });
  });

  it("refuses a write with a read-only token with NOPERM, and connection commands over HTTP", async () => {
    const t = testApp(TOKENS);
    const res = await t.call("POST", "/", { json: ["SET", "k", "v"], token: "ro-token" });
    assert.equal(res.status, 400);
    assert.match((await res.json()).error, /^NOPERM /);
    const quit = await t.call("POST", "/", { json: ["QUIT"], token: "rw-token" });
    assert.match((await quit.json()).error, /not supported over HTTP/);
  });
});
