import { timeLimited } from "../_time_limit.ts";
import assert from "node:assert/strict";
import { globMatch } from "../../src/commands/glob.ts";
import { arity, bulk, bulks, err, harness, int, OK } from "./_ext_harness.ts";

const { describe, it } = timeLimited(import.meta.url, 120_000);

/** Parses a RESP2 SCAN reply: the cursor and the keys. */
function parseScan(reply: string): { cursor: string; keys: string[] } {
  const lines = reply.split("\r\n");
  const cursor = lines[2];
  const keys: string[] = [];
  for (let i = 5; i + 1 < lines.length; i += 2) keys.push(lines[i]);
  return { cursor, keys };
}

describe("key commands", () => {
  it("matches globs with Redis's rules", () => {
    assert.ok(globMatch("h?llo", "hello"));
    assert.ok(globMatch("h*llo", "hllo"));
    assert.ok(globMatch("h[ae]llo", "hallo"));
    assert.ok(!globMatch("h[^e]llo", "hello"));
    assert.ok(globMatch("h[a-b]llo", "hbllo"));
    assert.ok(globMatch("h[b-a]llo", "hallo"));
    assert.ok(globMatch("a\\*b", "a*b"));
    assert.ok(!globMatch("a\\*b", "axb"));
    assert.ok(globMatch("[\\]]", "]"));
    assert.ok(!globMatch("*a*a*a*a*a*a*a*a*b", "a".repeat(60)));
  });

  it("KEYS lists the live keys that match", () => {
    const h = harness();
    h.run("MSET", "one", "1", "two", "2", "three", "3");
    h.run("PEXPIRE", "three", "10");
    h.advance(20);
    assert.equal(h.run("KEYS", "t*"), bulks("two"));
    assert.equal(h.run("KEYS"), arity("keys"));
  });

  it("SCAN returns every key present for the whole scan while others come and go", () => {
    const h = harness();
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let i = 0; i < 500; i++) h.run("SET", `stable:${i}`, "v");
    for (let i = 0; i < 500; i++) h.run("SET", `churn:${i}`, "v");
    const seen = new Set<string>();
    let cursor = "0";
    let added = 0;
    let rounds = 0;
    do {
      const reply = parseScan(h.run("SCAN", cursor, "COUNT", String(1 + random(20))));
      for (const key of reply.keys) seen.add(key);
      cursor = reply.cursor;
      // Between calls, delete some churn keys and add new ones: entries move around.
      for (let i = 0; i < 5; i++) h.run("DEL", `churn:${random(500)}`);
      for (let i = 0; i < 5; i++) h.run("SET", `new:${added++}`, "v");
      rounds++;
    } while (cursor !== "0" && rounds < 10_000);
    assert.equal(cursor, "0");
    for (let i = 0; i < 500; i++) assert.ok(seen.has(`stable:${i}`), `stable:${i} missed`);
  });

  it("SCAN filters by MATCH and TYPE and rejects bad arguments", () => {
    const h = harness();
    h.run("SET", "s1", "v");
    h.run("RPUSH", "l1", "v");
    h.run("SADD", "s2", "v");
    assert.equal(h.run("SCAN", "0", "TYPE", "list"), `*2\r\n${bulk("0")}${bulks("l1")}`);
    assert.deepEqual(parseScan(h.run("SCAN", "0", "MATCH", "s*")).keys.sort(), ["s1", "s2"]);
    assert.equal(h.run("SCAN", "x"), err("ERR invalid cursor"));
    assert.equal(h.run("SCAN", "0", "COUNT", "0"), err("ERR syntax error"));
    assert.equal(h.run("SCAN", "99999999999999999999"), err("ERR invalid cursor"));
  });

  it("RENAME moves the value with its TTL; RENAMENX only to a free name", () => {
    const h = harness();
    assert.equal(h.run("RENAME", "none", "x"), err("ERR no such key"));
    h.run("SET", "a", "1", "EX", "100");
    h.run("SET", "b", "2");
    assert.equal(h.run("RENAMENX", "a", "b"), int(0));
    assert.equal(h.run("RENAME", "a", "c"), OK);
    assert.equal(h.run("TTL", "c"), int(100));
    assert.equal(h.run("RENAME", "c", "b"), OK);
    assert.equal(h.run("GET", "b"), bulk("1"));
    assert.equal(h.run("EXISTS", "a", "c"), int(0));
    h.run("RPUSH", "list", "x");
    h.run("RENAME", "list", "other");
    assert.deepEqual(h.ready, ["list", "other"]);
  });

  it("COPY makes an independent deep copy, to another store with DB", () => {
    const h = harness();
    h.run("HSET", "h", "f", "1");
    assert.equal(h.run("COPY", "h", "h2"), int(1));
    h.run("HSET", "h2", "f", "2");
    assert.equal(h.run("HGET", "h", "f"), bulk("1"));
    assert.equal(h.run("COPY", "h", "h2"), int(0));
    assert.equal(h.run("COPY", "h", "h2", "REPLACE"), int(1));
    assert.equal(h.run("HGET", "h2", "f"), bulk("1"));
    assert.equal(h.run("COPY", "h", "h", "DB", "1"), int(1));
    assert.equal(h.run("COPY", "h", "h"), err("ERR source and destination objects are the same"));
    assert.equal(h.run("COPY", "h", "x", "DB", "5"), err("ERR DB index is out of range"));
    assert.equal(h.store(1).size, 1);
  });

  it("OBJECT reports encoding, idle time and (under LFU) frequency", () => {
    const h = harness();
    h.run("SET", "n", "12345");
    h.run("SET", "s", "x".repeat(45));
    assert.equal(h.run("OBJECT", "ENCODING", "n"), bulk("int"));
    assert.equal(h.run("OBJECT", "ENCODING", "s"), bulk("raw"));
    h.advance(5_000);
    assert.equal(h.run("OBJECT", "IDLETIME", "n"), int(5));
    assert.match(h.run("OBJECT", "FREQ", "n"), /^-ERR An LFU maxmemory policy is not selected/);
    assert.equal(h.run("OBJECT", "ENCODING"), arity("object|encoding"));
    assert.equal(
      h.run("OBJECT", "NOPE", "n"),
      err("ERR unknown subcommand 'NOPE'. Try OBJECT HELP."),
    );
    const lfu = harness({ policy: "allkeys-lfu" });
    lfu.run("SET", "k", "v");
    assert.equal(lfu.run("OBJECT", "FREQ", "k"), int(5));
  });

  it("counts every SET of a key as one access under LFU, with options or without", () => {
    const lfu = harness({ policy: "allkeys-lfu" });
    for (let i = 0; i < 200; i++) {
      lfu.run("SET", "plain", "v");
      lfu.run("SET", "xx", "v", ...(i === 0 ? [] : ["XX"]));
    }
    const plain = lfu.run("OBJECT", "FREQ", "plain");
    assert.equal(plain, lfu.run("OBJECT", "FREQ", "xx"));
    assert.ok(Number(/:(\d+)/.exec(plain)![1]) > 5, `the counter grew: ${plain}`);
  });

  it("UNLINK deletes, TOUCH counts, RANDOMKEY picks a live key", () => {
    const h = harness();
    assert.equal(h.run("RANDOMKEY"), bulk(null));
    h.run("MSET", "a", "1", "b", "2");
    assert.equal(h.run("TOUCH", "a", "b", "c"), int(2));
    assert.equal(h.run("UNLINK", "a", "c"), int(1));
    assert.equal(h.run("RANDOMKEY"), bulk("b"));
  });
});
