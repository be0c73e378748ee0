/**
 * Our reply bytes against a real `redis-server` (skipped when it is not installed): each case is
 * a short script run on an empty keyspace on both sides, and every reply must be identical.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { harness } from "./_ext_harness.ts";
import { HAVE_REDIS, ReferenceRedis } from "./_redis_reference.ts";

type Script = string[][];

const c = (line: string): string[] => line.split(" ").map((arg) => arg === "''" ? "" : arg);

/** Replies whose element order is unspecified (KEYS, SMEMBERS...) compare as sorted lines. */
const UNORDERED = new Set(["KEYS", "SMEMBERS", "SUNION", "SINTER", "SDIFF", "HKEYS", "HVALS"]);
const normalize = (argv: string[], reply: string): string =>
  UNORDERED.has(argv[0].toUpperCase()) ? reply.split("\r\n").sort().join("\n") : reply;

export const CASES: Record<string, Script> = {
  "strings": [
    "SET s hello",
    "APPEND s _world",
    "APPEND new abc",
    "STRLEN s",
    "STRLEN none",
    "GETRANGE s 0 4",
    "GETRANGE s -5 -1",
    "GETRANGE s 5 2",
    "GETRANGE s -1 -5",
    "GETRANGE s 0 100",
    "GETRANGE none 0 -1",
    "GETRANGE s x 1",
    "SETRANGE s 6 W",
    "GET s",
    "SETRANGE pad 3 x",
    "GET pad",
    "SETRANGE s -1 x",
    "SETRANGE empty 5 ''",
    "EXISTS empty",
    "SETRANGE s 1 ''",
    "INCR n",
    "INCRBY n 41",
    "DECR n",
    "DECRBY n 10",
    "INCRBY n x",
    "DECRBY n -9223372036854775808",
    "SET big 9223372036854775806",
    "INCR big",
    "INCR big",
    "SET small -9223372036854775807",
    "DECR small",
    "DECR small",
    "INCRBY small 9223372036854775807",
    "SET f 0.1",
    "INCRBYFLOAT f 0.2",
    "INCRBYFLOAT f abc",
    "INCRBYFLOAT s 1",
    "INCR s",
    "INCRBYFLOAT f inf",
    "SET e 1e3",
    "INCRBYFLOAT e 1.5e2",
    "INCR e",
    "SET sp _1",
    "INCR sp",
    "SET plus +1",
    "INCR plus",
    "MSET a 1 b 2 c 3",
    "MGET a b none c",
    "MSET a 1 b",
    "MSETNX a 9 z 9",
    "MSETNX y 1 z 2",
    "MGET y z",
    "SETNX a 5",
    "SETNX q 5",
    "GETSET q 6",
    "GETSET q2 1",
    "GETDEL q",
    "GETDEL q",
    "SETEX k 0 v",
    "SETEX k -1 v",
    "SETEX k x v",
    "PSETEX k 0 v",
    "SETEX k 100 v",
    "GETEX k",
    "GETEX k PERSIST",
    "TTL k",
    "GETEX k EX 10 PX 5",
    "GETEX k KEEPTTL",
    "GETEX k EX 0",
    "GETEX none EX 10",
    "LPUSH l x",
    "GETEX l",
    "GETDEL l",
    "GETSET l v",
    "APPEND l v",
    "STRLEN l",
    "MGET l a",
    "MSET",
    "GETEX",
    "INCR",
    "SETRANGE s x y",
  ].map(c),
  "keys": [
    "MSET hello 1 hallo 2 hxllo 3 hllo 4 heeeello 5 a*b 6 'ab' 7",
    "KEYS h?llo",
    "KEYS h*llo",
    "KEYS h[ae]llo",
    "KEYS h[^e]llo",
    "KEYS h[a-b]llo",
    "KEYS a\\*b",
    "KEYS nomatch",
    "RENAME none x",
    "RENAME hello hello",
    "RENAMENX hello hello",
    "RENAME hello world",
    "EXISTS hello",
    "GET world",
    "RENAMENX world hallo",
    "RENAMENX world fresh",
    "GET fresh",
    "SET t v",
    "EXPIRE t 100",
    "RENAME t t2",
    "TTL t2",
    "TOUCH t2 none hallo",
    "UNLINK t2 none",
    "COPY hallo c1",
    "COPY hallo c1",
    "COPY hallo c1 REPLACE",
    "COPY hallo hallo",
    "COPY none x",
    "COPY hallo x DB",
    "COPY hallo x DB 99",
    "COPY hallo x DB x",
    "COPY hallo x FOO",
    "COPY hallo x DB 1",
    "SELECT 1",
    "GET x",
    "SELECT 0",
    "RPUSH list a b",
    "COPY list l2",
    "LRANGE l2 0 -1",
    "SCAN x",
    "SCAN 0 COUNT 0",
    "SCAN 0 COUNT x",
    "SCAN 0 MATCH",
    "SCAN 0 FOO bar",
    "OBJECT ENCODING hallo",
    "OBJECT ENCODING none",
    "SET raw aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "OBJECT ENCODING raw",
    "SET emb abc",
    "OBJECT ENCODING emb",
    "OBJECT ENCODING list",
    "OBJECT FREQ hallo",
    "OBJECT HELP",
    "OBJECT",
    "OBJECT FOO",
    "OBJECT ENCODING",
    "OBJECT REFCOUNT none",
    "RANDOMKEY x",
    "KEYS",
    "SCAN",
  ].map(c),
};

describe("replies equal redis-server's", { skip: !HAVE_REDIS }, () => {
  let redis: ReferenceRedis;
  before(async () => {
    redis = await ReferenceRedis.start();
  });
  after(async () => {
    await redis?.stop();
  });

  for (const [family, script] of Object.entries(CASES)) {
    it(`${family}: ${script.length} commands`, async () => {
      await redis.run("FLUSHALL");
      await redis.run("SELECT", "0");
      const ours = harness({ stores: 16 });
      for (const argv of script) {
        const expected = await redis.run(...argv);
        const actual = ours.run(...argv);
        assert.equal(
          JSON.stringify(normalize(argv, actual)),
          JSON.stringify(normalize(argv, expected)),
          argv.join(" "),
        );
      }
    });
  }
});
