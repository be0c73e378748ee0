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
  START_MS,
  WRONGTYPE,
} from "./_ext_harness.ts";

const { describe, it } = timeLimited(import.meta.url, 120_000);

describe("string commands", () => {
  it("appends, measures and slices strings as bytes", () => {
    const h = harness();
    assert.equal(h.run("APPEND", "k", "hello"), int(5));
    assert.equal(h.run("APPEND", "k", "\xff\x00"), int(7));
    assert.equal(h.run("STRLEN", "k"), int(7));
    assert.equal(h.run("GETRANGE", "k", "-2", "-1"), bulk("\xff\x00"));
    assert.equal(h.run("GETRANGE", "k", "3", "1"), bulk(""));
    assert.equal(h.run("SETRANGE", "pad", "3", "x"), int(4));
    assert.equal(h.run("GET", "pad"), bulk("\0\0\0x"));
    assert.equal(h.run("SETRANGE", "k", "-1", "x"), err("ERR offset is out of range"));
    assert.equal(
      h.run("SETRANGE", "k", String(512 * 1024 * 1024), "x"),
      err("ERR string exceeds maximum allowed size (proto-max-bulk-len)"),
    );
  });

  it("keeps 64-bit integers exact and refuses to overflow", () => {
    const h = harness();
    assert.equal(h.run("SET", "n", "9223372036854775806"), OK);
    assert.equal(h.run("INCR", "n"), int("9223372036854775807"));
    assert.equal(h.run("INCR", "n"), err("ERR increment or decrement would overflow"));
    assert.equal(h.run("GET", "n"), bulk("9223372036854775807"));
    assert.equal(h.run("INCRBY", "m", "-9223372036854775808"), int("-9223372036854775808"));
    assert.equal(h.run("DECR", "m"), err("ERR increment or decrement would overflow"));
    assert.equal(h.run("DECRBY", "m", "-9223372036854775808"), err("ERR decrement would overflow"));
    assert.equal(h.run("INCRBY", "m", "9223372036854775808"), NOT_INTEGER);
    assert.equal(h.run("SET", "s", "01"), OK);
    assert.equal(h.run("INCR", "s"), NOT_INTEGER);
    assert.equal(h.run("LPUSH", "l", "a"), int(1));
    assert.equal(h.run("INCR", "l"), WRONGTYPE);
  });

  it("counts exactly across the change from small counters to 64-bit arithmetic", () => {
    const h = harness();
    assert.equal(h.run("SET", "n", "999999999999999"), OK); // 15 digits: the number path
    assert.equal(h.run("INCR", "n"), int("1000000000000000"));
    assert.equal(h.run("INCR", "n"), int("1000000000000001")); // 16 digits: BigInt
    assert.equal(h.run("INCRBY", "n", "-1000000000000001"), int(0));
    assert.equal(h.run("INCRBY", "n", "-999999999999999"), int("-999999999999999"));
    assert.equal(h.run("INCRBY", "n", "-999999999999999"), int("-1999999999999998"));
    assert.equal(h.run("DECRBY", "n", "-1999999999999998"), int(0));
    assert.equal(h.run("GET", "n"), bulk("0"));
    assert.equal(h.run("DECR", "fresh"), int(-1));
    assert.equal(h.run("INCRBY", "big", "9007199254740993"), int("9007199254740993"));
    assert.equal(h.run("INCR", "big"), int("9007199254740994"));
    assert.equal(h.run("INCR", "x"), int(1));
    assert.equal(h.run("INCR", "x"), int(2));
    assert.equal(h.run("GET", "x"), bulk("2"));
  });

  it("adds floats as Redis's long double does and logs the result with KEEPTTL", () => {
    const h = harness();
    assert.equal(h.run("SET", "f", "0.1", "EX", "100"), OK);
    assert.equal(h.run("INCRBYFLOAT", "f", "0.2"), bulk("0.3"));
    assert.equal(h.run("INCRBYFLOAT", "f", "1e30"), bulk("1000000000000000000024696061952"));
    assert.equal(h.run("SET", "g", "12345.6789"), OK);
    assert.equal(h.run("INCRBYFLOAT", "g", "0.1"), bulk("12345.77889999999999926"));
    assert.equal(h.run("TTL", "f"), int(100));
    assert.deepEqual(h.propagated.at(-3), [
      "0",
      "SET",
      "f",
      "1000000000000000000024696061952",
      "KEEPTTL",
    ]);
    assert.equal(
      h.run("INCRBYFLOAT", "f", "inf"),
      err("ERR increment would produce NaN or Infinity"),
    );
    assert.equal(h.run("INCRBYFLOAT", "f", "x"), err("ERR value is not a valid float"));
  });

  it("sets many keys at once, or none with MSETNX", () => {
    const h = harness();
    assert.equal(h.run("MSET", "a", "1", "b", "2"), OK);
    assert.equal(h.run("MGET", "a", "none", "b"), bulks("1", null, "2"));
    assert.equal(h.run("MSET", "a", "1", "b"), arity("mset"));
    assert.equal(h.run("MSETNX", "a", "9", "c", "3"), int(0));
    assert.equal(h.run("EXISTS", "c"), int(0));
    assert.equal(h.run("MSETNX", "c", "3", "d", "4"), int(1));
    assert.equal(h.run("SETNX", "c", "x"), int(0));
    assert.equal(h.run("GETSET", "c", "x"), bulk("3"));
    assert.equal(h.run("GETDEL", "c"), bulk("x"));
    assert.equal(h.run("GETDEL", "c"), bulk(null));
  });

  it("logs SETEX and PSETEX with an absolute PXAT time", () => {
    const h = harness();
    assert.equal(h.run("SETEX", "k", "10", "v"), OK);
    assert.equal(h.run("PSETEX", "p", "1500", "v"), OK);
    assert.deepEqual(h.propagated, [
      ["0", "SET", "k", "v", "PXAT", String(START_MS + 10_000)],
      ["0", "SET", "p", "v", "PXAT", String(START_MS + 1_500)],
    ]);
    assert.equal(h.run("SETEX", "k", "0", "v"), err("ERR invalid expire time in 'setex' command"));
    assert.equal(h.run("SETEX", "k", "10"), arity("setex"));
  });

  it("GETEX sets, clears or keeps the TTL and logs absolute times", () => {
    const h = harness();
    h.run("SET", "k", "v");
    assert.equal(h.run("GETEX", "k", "PX", "2000"), bulk("v"));
    assert.deepEqual(h.propagated.at(-1), ["0", "PEXPIREAT", "k", String(START_MS + 2000)]);
    assert.equal(h.run("PTTL", "k"), int(2000));
    assert.equal(h.run("GETEX", "k", "PERSIST"), bulk("v"));
    assert.equal(h.run("TTL", "k"), int(-1));
    assert.deepEqual(h.propagated.at(-1), ["0", "PERSIST", "k"]);
    assert.equal(h.run("GETEX", "k", "EX", "1", "PERSIST"), err("ERR syntax error"));
    assert.equal(h.run("GETEX", "k", "EXAT", "1"), bulk("v"));
    assert.equal(h.run("EXISTS", "k"), int(0));
    assert.deepEqual(h.propagated.at(-1), ["0", "DEL", "k"]);
  });

  it("answers RESP3 nulls for missing keys", () => {
    const h = harness();
    h.client.protocol = 3;
    assert.equal(h.run("GETDEL", "none"), "_\r\n");
    assert.equal(h.run("MGET", "none"), "*1\r\n_\r\n");
  });
});
