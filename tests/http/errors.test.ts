/**
 * Every error the HTTP app produces is JSON with a precise message: limits on the request target
 * and the header fields, unknown methods, malformed percent-encodings and JSON nested too deep.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  jsonDeeperThan,
  MAX_HEADER_BYTES,
  MAX_HEADER_COUNT,
  MAX_JSON_DEPTH,
  MAX_URL_BYTES,
} from "../../src/http/limits.ts";
import { testApp } from "./_app.ts";

const TOKENS = {
  http: {
    tokens: [{ token: "rw-token", role: "readwrite" }, { token: "ro-token", role: "readonly" }],
  },
  stores: [{ name: "default" }, { name: "sessions" }],
};
const RW = "rw-token";

/** The JSON error of a response, after checking its status and content type. */
async function jsonErrorOf(res: Response, status: number): Promise<string> {
  const text = await res.text();
  assert.equal(res.status, status, text);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  const body = JSON.parse(text);
  assert.equal(typeof body.error, "string", text);
  return body.error;
}

const nested = (depth: number, inner = "") => "[".repeat(depth) + inner + "]".repeat(depth);

describe("HTTP API: limits on the request target and the header fields", () => {
  it("answers a request target over MAX_URL_BYTES with a 414 JSON error, and takes one at it", async () => {
    const t = testApp(TOKENS);
    const at = `/get/${"k".repeat(MAX_URL_BYTES - "/get/".length)}`;
    assert.equal((await t.call("GET", at, { token: RW })).status, 200);
    const error = await jsonErrorOf(await t.call("GET", `${at}k`, { token: RW }), 414);
    assert.equal(
      error,
      `URI Too Long: the request target is ${
        MAX_URL_BYTES + 1
      } bytes, over the limit of ${MAX_URL_BYTES}`,
    );
    const query = await t.call("GET", `/api/cache/k?x=${"q".repeat(MAX_URL_BYTES)}`, { token: RW });
    assert.match(await jsonErrorOf(query, 414), /^URI Too Long/);
  });

  it("answers header fields over MAX_HEADER_BYTES, or more than MAX_HEADER_COUNT of them, with a 431 JSON error", async () => {
    const t = testApp(TOKENS);
    const big = await t.call("GET", "/health", {
      headers: { "x-big": "b".repeat(MAX_HEADER_BYTES) },
    });
    assert.match(
      await jsonErrorOf(big, 431),
      new RegExp(
        `^Request Header Fields Too Large: the header fields are \\d+ bytes, over the limit of ${MAX_HEADER_BYTES}$`,
      ),
    );
    const headers: Record<string, string> = {};
    for (let i = 0; i <= MAX_HEADER_COUNT; i++) headers[`x-h${i}`] = "v";
    assert.equal(
      await jsonErrorOf(await t.call("GET", "/health", { headers }), 431),
      `Request Header Fields Too Large: ${
        MAX_HEADER_COUNT + 1
      } header fields, over the limit of ${MAX_HEADER_COUNT}`,
    );
    const fits = await t.call("GET", "/health", {
      headers: { "x-big": "b".repeat(MAX_HEADER_BYTES - 100) },
    });
    assert.equal(fits.status, 200);
  });
});

describe("HTTP API: methods", () => {
  it("answers a method HTTP does not define with a 501 JSON error, and a known one a path does not take with 405", async () => {
    const t = testApp(TOKENS);
    // Bun's Request turns a method outside Bun's own list (FOO) into GET: such a method is
    // tested over real HTTP only (e2e_errors.test.ts).
    const methods = ["FOO", "PROPFIND", "MKCOL", "PURGE"].filter((method) =>
      new Request("http://localhost/", { method }).method === method
    );
    assert.ok(methods.length >= 3);
    for (const method of methods) {
      for (const path of ["/api/cache/k", "/health", "/", "/nothing/here"]) {
        const error = await jsonErrorOf(await t.call(method, path, { token: RW }), 501);
        assert.equal(error, `Not Implemented: the method ${method} is unknown to this server`);
      }
    }
    const patch = await t.call("PATCH", "/api/cache/k", { token: RW });
    assert.match(await jsonErrorOf(patch, 405), /PATCH/);
    assert.match(patch.headers.get("allow")!, /GET/);
    const options = await t.call("OPTIONS", "/pipeline", { token: RW });
    assert.match(await jsonErrorOf(options, 405), /OPTIONS/);
  });
});

describe("HTTP API: malformed percent-encoding", () => {
  it("answers a malformed escape in a REST key, a store, a channel or a query with a 400 JSON error, never a literal key", async () => {
    const t = testApp(TOKENS);
    const malformed = "ERR the path or query has a malformed percent-encoding";
    for (
      const [method, path] of [
        ["GET", "/api/cache/%ZZ"],
        ["PUT", "/api/cache/%ZZ"],
        ["DELETE", "/api/cache/a%ZZb"],
        ["PUT", "/api/cache/%"],
        ["PUT", "/api/cache/%E0%A4"], // the start of a UTF-8 sequence, cut short
        ["PUT", "/api/stores/sessions/cache/%ZZ"],
        ["GET", "/api/stores/%ZZ/cache/k"],
        ["GET", "/api/stores/%ZZ/stats"],
        ["PUT", "/api/cache/k?ttl=%ZZ"],
        ["GET", "/subscribe/%ZZ"],
        ["GET", "/get/%ZZ"],
      ]
    ) {
      const json = method === "PUT" ? { value: "v" } : undefined;
      const res = await t.call(method, path, { json, token: RW });
      assert.equal(await jsonErrorOf(res, 400), malformed, `${method} ${path}`);
    }
    assert.equal(t.keyspace.store(0).size + t.keyspace.store(1).size, 0, "nothing was stored");
    // "%25ZZ" is the key "%ZZ", well encoded.
    const put = await t.call("PUT", "/api/cache/%25ZZ", { json: { value: "v" }, token: RW });
    assert.equal(put.status, 200);
    assert.equal(t.keyspace.store(0).read("%ZZ")?.value, "v");
  });
});

describe("HTTP API: JSON nesting depth", () => {
  it("refuses a body nested deeper than MAX_JSON_DEPTH with a 400 JSON error on every JSON route", async () => {
    const t = testApp(TOKENS);
    const deep = nested(100_000);
    const expected =
      `ERR the body nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep`;
    for (
      const [method, path, body] of [
        ["POST", "/", deep],
        ["POST", "/pipeline", deep],
        ["POST", "/multi-exec", deep],
        ["PUT", "/api/cache/k", `{"value":${deep}}`],
        ["PUT", "/api/cache/k", `{"value":${'{"a":'.repeat(100_000)}1${"}".repeat(100_000)}}`],
        ["POST", "/api/cache/k", `{"value":${nested(MAX_JSON_DEPTH)}}`],
      ]
    ) {
      const res = await t.call(method, path, { body, token: RW });
      assert.equal(await jsonErrorOf(res, 400), expected, `${method} ${path}`);
    }
    assert.equal(t.keyspace.store(0).size, 0);
    // At the limit: the body object plus MAX_JSON_DEPTH - 1 arrays.
    const at = await t.call("PUT", "/api/cache/k", {
      body: `{"value":${nested(MAX_JSON_DEPTH - 1)}}`,
      token: RW,
    });
    assert.equal(at.status, 200, await at.text());
    assert.equal(t.keyspace.store(0).read("k")?.value, nested(MAX_JSON_DEPTH - 1));
    const ping = await t.call("POST", "/", { json: ["PING"], token: RW });
    assert.deepEqual(await ping.json(), { result: "PONG" });
  });

  it("reads a stored value nested deeper than MAX_JSON_DEPTH back as text with ?encoding=json", async () => {
    const t = testApp(TOKENS);
    const deep = nested(100_000, "1");
    await t.call("POST", "/set/deep", { body: deep, token: RW });
    const res = await t.call("GET", "/api/cache/deep?encoding=json", { token: RW });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.deepEqual([body.encoding, body.value], ["utf8", deep]);
    await t.call("POST", "/set/shallow", { body: nested(3, "1"), token: RW });
    const shallow = await (await t.call("GET", "/api/cache/shallow?encoding=json", { token: RW }))
      .json();
    assert.deepEqual([shallow.encoding, shallow.value], ["json", [[[1]]]]);
  });

  it("measures depth outside strings only, escaped quotes included", () => {
    assert.equal(jsonDeeperThan(nested(3), 3), false);
    assert.equal(jsonDeeperThan(nested(4), 3), true);
    assert.equal(jsonDeeperThan(`["${"[".repeat(50)}"]`, 3), false);
    assert.equal(jsonDeeperThan(`["\\"${"[".repeat(50)}"]`, 3), false);
    assert.equal(jsonDeeperThan(`["\\\\", ${nested(4)}]`, 3), true);
    assert.equal(jsonDeeperThan(`[{"a": [{"b": "c"}]}, ${nested(2)}] `, 4), false);
    assert.equal(jsonDeeperThan(`["unterminated ${nested(50)}`, 3), false);
  });
});
