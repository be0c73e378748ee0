import { timeLimited } from "../_time_limit.ts";
import assert from "node:assert/strict";
import { ZSetValue } from "../../src/keyspace/zset.ts";
import { arity, bulk, bulks, err, harness, int, WRONGTYPE } from "./_ext_harness.ts";

const { describe, it } = timeLimited(import.meta.url, 120_000);

describe("sorted set commands", () => {
  it("adds with NX XX GT LT CH INCR as Redis does", () => {
    const h = harness();
    assert.equal(h.run("ZADD", "z", "1", "a", "2", "b"), int(2));
    assert.equal(h.run("ZADD", "z", "CH", "GT", "0", "a", "3", "b", "1", "c"), int(2));
    assert.equal(h.run("ZADD", "z", "XX", "INCR", "1", "none"), bulk(null));
    assert.equal(h.run("ZADD", "z", "INCR", "1.5", "a"), bulk("2.5"));
    assert.equal(
      h.run("ZADD", "z", "NX", "XX", "1", "a"),
      err("ERR XX and NX options at the same time are not compatible"),
    );
    assert.equal(h.run("ZADD", "z", "x", "a"), err("ERR value is not a valid float"));
    h.run("ZADD", "inf", "+inf", "a");
    assert.equal(
      h.run("ZINCRBY", "inf", "-inf", "a"),
      err("ERR resulting score is not a number (NaN)"),
    );
  });

  it("replies with doubles and score pairs in RESP3", () => {
    const h = harness();
    h.run("ZADD", "z", "1.5", "a", "2", "b");
    assert.equal(h.run("ZSCORE", "z", "a"), bulk("1.5"));
    assert.equal(h.run("ZRANGE", "z", "0", "-1", "WITHSCORES"), bulks("a", "1.5", "b", "2"));
    h.client.protocol = 3;
    assert.equal(h.run("ZSCORE", "z", "a"), ",1.5\r\n");
    assert.equal(
      h.run("ZRANGE", "z", "0", "-1", "WITHSCORES"),
      `*2\r\n*2\r\n${bulk("a")},1.5\r\n*2\r\n${bulk("b")},2\r\n`,
    );
    assert.equal(h.run("ZPOPMIN", "z", "1"), `*1\r\n*2\r\n${bulk("a")},1.5\r\n`);
    assert.equal(h.run("ZPOPMAX", "z"), `*2\r\n${bulk("b")},2\r\n`);
    assert.equal(h.run("EXISTS", "z"), int(0));
  });

  it("ranges by rank, score and lex, forwards and backwards", () => {
    const h = harness();
    h.run("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d");
    assert.equal(h.run("ZRANGE", "z", "(1", "3", "BYSCORE"), bulks("b", "c"));
    assert.equal(
      h.run("ZRANGE", "z", "+inf", "-inf", "BYSCORE", "REV", "LIMIT", "1", "2"),
      bulks("c", "b"),
    );
    assert.equal(h.run("ZRANGE", "z", "[b", "(d", "BYLEX"), bulks("b", "c"));
    assert.equal(h.run("ZREVRANGE", "z", "0", "1"), bulks("d", "c"));
    assert.equal(h.run("ZCOUNT", "z", "2", "+inf"), int(3));
    assert.equal(h.run("ZRANK", "z", "c"), int(2));
    assert.equal(h.run("ZREVRANK", "z", "c"), int(1));
    assert.equal(h.run("ZCOUNT", "z", "x", "1"), err("ERR min or max is not a float"));
    assert.equal(h.run("ZREMRANGEBYRANK", "z", "0", "1"), int(2));
    assert.equal(h.run("ZREMRANGEBYSCORE", "z", "-inf", "+inf"), int(2));
    assert.equal(h.run("EXISTS", "z"), int(0));
  });

  it("keeps ranks right through many random updates (skip list against a sorted model)", () => {
    const zset = new ZSetValue();
    const model = new Map<string, number>();
    let seed = 11;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let step = 0; step < 4000; step++) {
      const member = `m${random(600)}`;
      if (random(4) === 0) {
        assert.equal(zset.delete(member), model.delete(member));
      } else {
        const score = random(50);
        zset.set(member, score);
        model.set(member, score);
      }
    }
    const sorted = [...model].sort((x, y) => x[1] - y[1] || (x[0] < y[0] ? -1 : 1));
    assert.equal(zset.length, sorted.length);
    sorted.forEach(([member, score], rank) => {
      assert.equal(zset.rank(member), rank);
      assert.equal(zset.list.memberAt(rank), member);
      assert.equal(zset.list.scoreAt(rank), score);
    });
  });

  it("checks types and arity", () => {
    const h = harness();
    h.run("SET", "s", "v");
    assert.equal(h.run("ZADD", "s", "1", "a"), WRONGTYPE);
    assert.equal(h.run("ZRANGE", "s", "0", "1"), WRONGTYPE);
    assert.equal(h.run("ZADD", "z", "1", "a", "2"), err("ERR syntax error"));
    assert.equal(h.run("ZADD", "z", "1"), arity("zadd"));
    assert.equal(h.run("ZSCORE", "z"), arity("zscore"));
    assert.equal(
      h.run("ZRANGE", "z", "0", "1", "LIMIT", "0", "1"),
      err("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"),
    );
  });
});
