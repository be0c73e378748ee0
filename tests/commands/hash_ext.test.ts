import { timeLimited } from "../_time_limit.ts";
import assert from "node:assert/strict";
import {
  arity,
  bulk,
  bulks,
  err,
  harness,
  int,
  NOT_INTEGER,
  OK,
  WRONGTYPE,
} from "./_ext_harness.ts";

const { describe, it } = timeLimited(import.meta.url, 120_000);

describe("hash commands", () => {
  it("sets and reads fields, as a map in RESP3", () => {
    const h = harness();
    assert.equal(h.run("HSET", "h", "a", "1", "b", "2"), int(2));
    assert.equal(h.run("HMSET", "h", "c", "3"), OK);
    assert.equal(h.run("HGETALL", "h"), bulks("a", "1", "b", "2", "c", "3"));
    assert.equal(h.run("HMGET", "h", "a", "x"), bulks("1", null));
    h.client.protocol = 3;
    assert.equal(
      h.run("HGETALL", "h"),
      `%3\r\n${bulk("a")}${bulk("1")}${bulk("b")}${bulk("2")}${bulk("c")}${bulk("3")}`,
    );
    assert.equal(h.run("HGETALL", "none"), "%0\r\n");
    assert.equal(h.run("HGET", "h", "x"), "_\r\n");
  });

  it("deletes the key with its last field and gives its memory back", () => {
    const h = harness();
    h.run("HSET", "h", "a", "1", "b", "2");
    assert.ok(h.store().usedMemoryBytes > 0);
    assert.equal(h.run("HDEL", "h", "a", "b", "c"), int(2));
    assert.equal(h.run("EXISTS", "h"), int(0));
    assert.equal(h.store().usedMemoryBytes, 0);
  });

  it("increments fields with integer and float rules", () => {
    const h = harness();
    assert.equal(h.run("HINCRBY", "h", "n", "9223372036854775807"), int("9223372036854775807"));
    assert.equal(h.run("HINCRBY", "h", "n", "1"), err("ERR increment or decrement would overflow"));
    assert.equal(h.run("HINCRBY", "h", "n", "x"), NOT_INTEGER);
    h.run("HSET", "h", "s", "abc");
    assert.equal(h.run("HINCRBY", "h", "s", "1"), err("ERR hash value is not an integer"));
    assert.equal(h.run("HINCRBYFLOAT", "h", "s", "1"), err("ERR hash value is not a float"));
    assert.equal(h.run("HINCRBYFLOAT", "h", "f", "0.1"), bulk("0.1"));
    assert.equal(h.run("HINCRBYFLOAT", "h", "f", "0.2"), bulk("0.3"));
    assert.deepEqual(h.propagated.at(-1), ["0", "HSET", "h", "f", "0.3"]);
    assert.equal(h.run("HINCRBYFLOAT", "h", "f", "inf"), err("ERR value is NaN or Infinity"));
  });

  it("HSCAN walks a large hash with a cursor and returns every field", () => {
    const h = harness();
    // Past hash-max-listpack-entries (512): a smaller hash is one listpack, scanned whole.
    for (let i = 0; i < 600; i++) h.run("HSET", "big", `f${i}`, String(i));
    const seen = new Set<string>();
    let cursor = "0";
    let calls = 0;
    do {
      const lines = h.run("HSCAN", "big", cursor, "COUNT", "25").split("\r\n");
      cursor = lines[2];
      for (let i = 5; i + 1 < lines.length; i += 4) seen.add(lines[i]);
      calls++;
    } while (cursor !== "0");
    assert.equal(seen.size, 600);
    assert.ok(calls >= 24);
  });

  it("HRANDFIELD gives distinct fields for a positive count, repeats for a negative one", () => {
    const h = harness();
    h.run("HSET", "h", "a", "1", "b", "2", "c", "3");
    assert.equal(h.run("HRANDFIELD", "h", "5").split("\r\n")[0], "*3");
    const repeated = h.run("HRANDFIELD", "h", "-7", "WITHVALUES");
    assert.equal(repeated.split("\r\n")[0], "*14");
    h.client.protocol = 3;
    const pairs = h.run("HRANDFIELD", "h", "2", "WITHVALUES");
    assert.match(pairs, /^\*2\r\n\*2\r\n/);
    assert.equal(h.run("HRANDFIELD", "none"), "_\r\n");
  });

  it("checks types and arity", () => {
    const h = harness();
    h.run("SET", "s", "v");
    for (
      const argv of [["HSET", "s", "a", "1"], ["HGET", "s", "a"], ["HLEN", "s"], [
        "HSCAN",
        "s",
        "0",
      ]]
    ) {
      assert.equal(h.run(...argv), WRONGTYPE);
    }
    assert.equal(h.run("HSET", "h", "a", "1", "b"), arity("hset"));
    assert.equal(h.run("HGET", "h"), arity("hget"));
    assert.equal(h.run("HSETNX", "h", "a", "1"), int(1));
    assert.equal(h.run("HSETNX", "h", "a", "2"), int(0));
    assert.equal(h.run("HSTRLEN", "h", "a"), int(1));
    assert.equal(h.run("HEXISTS", "h", "a"), int(1));
    assert.equal(h.run("HKEYS", "h"), bulks("a"));
    assert.equal(h.run("HVALS", "h"), bulks("1"));
  });
});
