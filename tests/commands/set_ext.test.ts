import { timeLimited } from "../_time_limit.ts";
import assert from "node:assert/strict";
import { arity, bulk, bulks, err, harness, int, WRONGTYPE } from "./_ext_harness.ts";

const { describe, it } = timeLimited(import.meta.url, 120_000);

describe("set commands", () => {
  it("adds, tests and removes members; SMEMBERS is a set in RESP3", () => {
    const h = harness();
    assert.equal(h.run("SADD", "s", "a", "b", "a"), int(2));
    assert.equal(h.run("SMISMEMBER", "s", "a", "x"), "*2\r\n:1\r\n:0\r\n");
    h.client.protocol = 3;
    assert.equal(h.run("SMEMBERS", "s"), `~2\r\n${bulk("a")}${bulk("b")}`);
    assert.equal(h.run("SREM", "s", "a", "b"), int(2));
    assert.equal(h.run("EXISTS", "s"), int(0));
  });

  it("logs SPOP as the SREM of the members it popped", () => {
    const h = harness();
    h.run("SADD", "s", "a", "b", "c", "d");
    const popped = h.run("SPOP", "s");
    const member = popped.split("\r\n")[1];
    assert.deepEqual(h.propagated.at(-1), ["0", "SREM", "s", member]);
    const many = h.run("SPOP", "s", "10").split("\r\n");
    assert.equal(many[0], "*3");
    assert.deepEqual(h.propagated.at(-1)!.slice(0, 3), ["0", "SREM", "s"]);
    assert.equal(h.propagated.at(-1)!.length, 6);
    assert.equal(h.run("EXISTS", "s"), int(0));
    assert.equal(h.run("SPOP", "s", "-1"), err("ERR value is out of range, must be positive"));
  });

  it("SRANDMEMBER gives distinct members for a positive count and repeats for a negative one", () => {
    const h = harness();
    h.run("SADD", "s", "a", "b", "c");
    assert.equal(h.run("SRANDMEMBER", "s", "10").split("\r\n")[0], "*3");
    assert.equal(h.run("SRANDMEMBER", "s", "-10").split("\r\n")[0], "*10");
    assert.equal(h.run("SRANDMEMBER", "none", "3"), "*0\r\n");
    assert.deepEqual(h.propagated.length, 1);
  });

  it("combines sets and stores the result, deleting an empty destination", () => {
    const h = harness();
    h.run("SADD", "a", "1", "2", "3");
    h.run("SADD", "b", "2", "3", "4");
    assert.equal(h.run("SINTER", "a", "b"), bulks("2", "3"));
    assert.equal(h.run("SDIFF", "a", "b"), bulks("1"));
    assert.equal(h.run("SUNIONSTORE", "u", "a", "b"), int(4));
    assert.equal(h.run("SMEMBERS", "u"), bulks("1", "2", "3", "4"));
    assert.equal(h.run("SINTERCARD", "2", "a", "b", "LIMIT", "1"), int(1));
    assert.equal(h.run("SINTERSTORE", "u", "a", "none"), int(0));
    assert.equal(h.run("EXISTS", "u"), int(0));
    assert.equal(h.run("SMOVE", "a", "b", "1"), int(1));
    assert.equal(h.run("SCARD", "b"), int(4));
  });

  it("SSCAN walks a large set and returns every member", () => {
    const h = harness();
    for (let i = 0; i < 200; i++) h.run("SADD", "s", `m${i}`);
    const seen = new Set<string>();
    let cursor = "0";
    do {
      const lines = h.run("SSCAN", "s", cursor, "COUNT", "30").split("\r\n");
      cursor = lines[2];
      for (let i = 5; i < lines.length; i += 2) if (lines[i]) seen.add(lines[i]);
    } while (cursor !== "0");
    assert.equal(seen.size, 200);
  });

  it("checks types and arity", () => {
    const h = harness();
    h.run("SET", "str", "v");
    assert.equal(h.run("SADD", "str", "a"), WRONGTYPE);
    assert.equal(h.run("SINTER", "str"), WRONGTYPE);
    assert.equal(h.run("SADD", "s"), arity("sadd"));
    assert.equal(h.run("SINTERCARD", "0", "s"), err("ERR numkeys should be greater than 0"));
  });
});
