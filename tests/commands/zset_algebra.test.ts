/**
 * The sorted set commands of Redis 6.2 and 7.0 against a real redis-server, byte for byte, in
 * RESP2 and RESP3: ZUNION, ZINTER, ZDIFF and their STORE forms, ZINTERCARD, ZRANGESTORE,
 * ZLEXCOUNT, ZREVRANGEBYLEX, and the pops ZMPOP and LMPOP (and BZPOPMIN, BZMPOP and BLMPOP where
 * they find data or time out at once); each script runs on an empty keyspace on both sides. Their
 * key positions, AOF records and keyspace events are checked here too.
 */
import { timeLimited } from "../_time_limit.ts";
import assert from "node:assert/strict";
import { harness } from "./_ext_harness.ts";
import { referenceRedis } from "./_redis_reference.ts";

const { after, before, describe, it } = timeLimited(import.meta.url, 120_000);

const c = (line: string): string[] => line.split(" ").map((arg) => arg === "''" ? "" : arg);

const SETUP = [
  "ZADD z1 1 a 2 b 3 c",
  "ZADD z2 inf a -inf b 3 c 4 d",
  "ZADD z3 0 a 0 b 0 c 0 d 0 e",
  "ZADD neg -0 a 5 b",
  "SADD s a c x",
  "SADD ints 1 2 3",
  "ZADD zints 1.5 1 2.5 2",
  "SET str v",
  "RPUSH list a",
];

const SCRIPTS: Record<string, string[]> = {
  "ZUNION, ZINTER and ZDIFF with weights, aggregates and plain sets": [
    ...SETUP,
    "ZUNION 2 z1 z2",
    "ZUNION 2 z1 z2 WITHSCORES",
    "ZUNION 2 z1 z2 WITHSCORES WITHSCORES",
    "ZUNION 3 z1 z2 s WITHSCORES",
    "ZUNION 3 z1 z2 s WITHSCORES AGGREGATE MIN",
    "ZUNION 3 z1 z2 s WITHSCORES AGGREGATE max",
    "ZUNION 2 z2 z2 WITHSCORES",
    "ZUNION 2 z2 z1 WEIGHTS 0 1 WITHSCORES",
    "ZUNION 2 z1 z2 WEIGHTS 2 -1 WITHSCORES",
    "ZUNION 1 z1 WEIGHTS inf WITHSCORES",
    "ZUNION 1 z1 WEIGHTS -inf WITHSCORES",
    "ZUNION 1 neg WEIGHTS -1 WITHSCORES",
    "ZUNION 1 z1 WEIGHTS 0x10 WITHSCORES",
    "ZUNION 1 z1 WEIGHTS 1e-310 WITHSCORES",
    "ZUNION 2 z1 z1 WEIGHTS 0.1 0.2 WITHSCORES",
    "ZUNION 2 ints zints WITHSCORES",
    "ZUNION 2 z1 nokey WITHSCORES",
    "ZUNION 1 nokey",
    "ZUNION 1 nokey WITHSCORES",
    "ZUNION 2 z1 z2 WEIGHTS 1 2 WEIGHTS 3 4 WITHSCORES",
    "ZUNION 2 z1 z2 AGGREGATE MIN AGGREGATE SUM WITHSCORES",
    "ZINTER 2 z1 z2",
    "ZINTER 2 z1 z2 WITHSCORES",
    "ZINTER 3 z1 z2 s WITHSCORES",
    "ZINTER 2 z2 z1 WEIGHTS 0 1 WITHSCORES",
    "ZINTER 2 z2 z1 WEIGHTS 1 0 WITHSCORES AGGREGATE MIN",
    "ZINTER 2 z2 z1 WEIGHTS 1 0 WITHSCORES AGGREGATE MAX",
    "ZINTER 2 z2 z2 AGGREGATE MIN WITHSCORES",
    "ZINTER 2 z2 z2 WITHSCORES",
    "ZINTER 2 z2 z2 WEIGHTS 1 -1 WITHSCORES",
    "ZINTER 2 z1 nokey WITHSCORES",
    "ZINTER 2 s s WITHSCORES",
    "ZINTER 1 s WEIGHTS 3 WITHSCORES",
    "ZINTER 3 z3 z2 z1 WITHSCORES",
    "ZDIFF 2 z1 z2",
    "ZDIFF 2 z2 z1 WITHSCORES",
    "ZDIFF 2 z3 s WITHSCORES",
    "ZDIFF 3 z3 s z1 WITHSCORES",
    "ZDIFF 1 z2 WITHSCORES",
    "ZDIFF 2 nokey z1",
    "ZDIFF 2 z1 z1",
    "ZDIFF 2 s z1 WITHSCORES",
  ],
  "ZUNION, ZINTER, ZDIFF and ZINTERCARD refuse bad arguments as Redis does": [
    ...SETUP,
    "ZUNION 0 z1",
    "ZUNION -1 z1",
    "ZUNION x z1",
    "ZUNION 1x z1",
    "ZUNION 3 z1 z2",
    "ZUNION 9223372036854775807 z1",
    "ZUNION 9223372036854775808 z1",
    "ZUNION 2 z1 z2 WEIGHTS 1",
    "ZUNION 2 z1 z2 WEIGHTS 1 x",
    "ZUNION 2 z1 z2 WEIGHTS 1 nan",
    "ZUNION 2 z1 z2 WEIGHTS 1 1e400",
    "ZUNION 2 z1 z2 WEIGHTS 1 1e-400",
    "ZUNION 2 z1 z2 WEIGHTS 1 ''",
    "ZUNION 2 z1 z2 WEIGHTS 1 1 2",
    "ZUNION 2 z1 z2 AGGREGATE",
    "ZUNION 2 z1 z2 AGGREGATE AVG",
    "ZUNION 2 z1 z2 FOO",
    "ZUNION 2 z1 z2 LIMIT 1",
    "ZUNION 2 z1 str",
    "ZUNION 2 list z1",
    "ZUNION 2 str z1 WEIGHTS x",
    "ZINTER 0 z1",
    "ZINTER 2 z1 str",
    "ZINTER 2 nokey str",
    "ZDIFF 0 z1",
    "ZDIFF 2 z1 z2 WEIGHTS 1 1",
    "ZDIFF 2 z1 z2 AGGREGATE MIN",
    "ZDIFF 2 str z1",
    "ZDIFF 2 nokey str",
    "ZINTERCARD 2 z1 z2",
    "ZINTERCARD 3 z1 z2 s",
    "ZINTERCARD 2 z3 z3 LIMIT 2",
    "ZINTERCARD 2 z3 z3 LIMIT 0",
    "ZINTERCARD 2 z3 z3 LIMIT 100",
    "ZINTERCARD 2 z1 nokey",
    "ZINTERCARD 1 nokey",
    "ZINTERCARD 0 z1",
    "ZINTERCARD -1 z1",
    "ZINTERCARD x z1",
    "ZINTERCARD 3 z1 z2",
    "ZINTERCARD 2 z1 z2 LIMIT -1",
    "ZINTERCARD 2 z1 z2 LIMIT x",
    "ZINTERCARD 2 z1 z2 LIMIT",
    "ZINTERCARD 2 z1 z2 WITHSCORES",
    "ZINTERCARD 2 z1 z2 WEIGHTS 1 1",
    "ZINTERCARD 2 z1 str",
    "ZINTER",
    "ZINTER 1",
    "ZINTERCARD 1",
  ],
  "ZUNIONSTORE, ZINTERSTORE and ZDIFFSTORE replace, or delete, the destination": [
    ...SETUP,
    "ZUNIONSTORE d 2 z1 z2",
    "ZRANGE d 0 -1 WITHSCORES",
    "OBJECT ENCODING d",
    "EXPIRE d 100",
    "ZINTERSTORE d 2 z1 z2 WEIGHTS 2 3",
    "TTL d",
    "ZRANGE d 0 -1 WITHSCORES",
    "ZINTERSTORE d 2 z1 z2 AGGREGATE MAX",
    "ZRANGE d 0 -1 WITHSCORES",
    "ZDIFFSTORE d 2 z3 z1",
    "ZRANGE d 0 -1 WITHSCORES",
    "ZDIFFSTORE d 2 z1 z1",
    "EXISTS d",
    "ZUNIONSTORE d 1 nokey",
    "EXISTS d",
    "ZUNIONSTORE str 1 z1",
    "TYPE str",
    "ZUNIONSTORE z1 2 z1 s",
    "ZRANGE z1 0 -1 WITHSCORES",
    "ZINTERSTORE s 1 s",
    "TYPE s",
    "ZUNIONSTORE d 2 z2 ints WITHSCORES",
    "ZUNIONSTORE d 0 z1",
    "ZUNIONSTORE d -1 z1",
    "ZUNIONSTORE d x z1",
    "ZUNIONSTORE d 3 z1 z2",
    "ZUNIONSTORE d 2 z1 list",
    "ZDIFFSTORE d 2 z1 z2 WEIGHTS 1 1",
    "ZDIFFSTORE d 0 z1",
    "ZUNIONSTORE d 1",
    "ZINTERSTORE d 2 z1 z2 WEIGHTS 1",
  ],
  "ZRANGESTORE, ZLEXCOUNT and ZREVRANGEBYLEX": [
    ...SETUP,
    "ZRANGESTORE d z2 0 -1",
    "ZRANGE d 0 -1 WITHSCORES",
    "ZRANGESTORE d z2 1 2 REV",
    "ZRANGE d 0 -1 WITHSCORES",
    "ZRANGESTORE d z2 (3 +inf BYSCORE",
    "ZRANGE d 0 -1 WITHSCORES",
    "ZRANGESTORE d z2 +inf -inf BYSCORE REV LIMIT 1 2",
    "ZRANGE d 0 -1 WITHSCORES",
    "ZRANGESTORE d z3 [b (e BYLEX",
    "ZRANGE d 0 -1 WITHSCORES",
    "ZRANGESTORE d z3 + - BYLEX REV LIMIT 0 2",
    "ZRANGE d 0 -1 WITHSCORES",
    "ZRANGESTORE d z3 0 -1 LIMIT 0 -1",
    "ZCARD d",
    "ZRANGESTORE d z3 0 -1 LIMIT 0 2",
    "ZRANGESTORE d z3 0 -1 WITHSCORES",
    "ZRANGESTORE d z3 5 10",
    "EXISTS d",
    "ZRANGESTORE d nokey 0 -1",
    "ZRANGESTORE d z3 x 1",
    "ZRANGESTORE d z3 a c BYLEX",
    "ZRANGESTORE d z3 x 1 BYSCORE",
    "ZRANGESTORE d str 0 -1",
    "ZRANGESTORE d s 0 -1",
    "ZRANGESTORE str z1 0 0",
    "TYPE str",
    "ZRANGESTORE d z1 0",
    "ZLEXCOUNT z3 - +",
    "ZLEXCOUNT z3 [b (d",
    "ZLEXCOUNT z3 (b [b",
    "ZLEXCOUNT z3 [d [b",
    "ZLEXCOUNT z3 + -",
    "ZLEXCOUNT z3 a +",
    "ZLEXCOUNT z3 - b",
    "ZLEXCOUNT nokey - +",
    "ZLEXCOUNT str - +",
    "ZLEXCOUNT nokey a b",
    "ZREVRANGEBYLEX z3 + -",
    "ZREVRANGEBYLEX z3 (d [b",
    "ZREVRANGEBYLEX z3 + - LIMIT 1 2",
    "ZREVRANGEBYLEX z3 + - LIMIT 1 -1",
    "ZREVRANGEBYLEX z3 - +",
    "ZREVRANGEBYLEX z3 + - WITHSCORES",
    "ZREVRANGEBYLEX z3 + - REV",
    "ZREVRANGEBYLEX z3 + - BYLEX",
    "ZREVRANGEBYLEX z3 a -",
    "ZREVRANGEBYLEX nokey + -",
    "ZREVRANGEBYLEX str + -",
    "ZRANGE z3 0 -1 LIMIT 0 -1",
    "ZRANGE z3 0 -1 LIMIT 2 -1",
    "ZRANGE z3 0 -1 LIMIT 0 -2",
  ],
  "ZMPOP and LMPOP pop from the first non-empty key, with COUNT": [
    ...SETUP,
    "ZMPOP 1 z1 MIN",
    "ZMPOP 1 z1 max COUNT 5",
    "EXISTS z1",
    "ZMPOP 3 nokey z1 z2 MIN COUNT 2",
    "ZMPOP 2 z2 str MAX",
    "ZMPOP 2 nokey str MAX",
    "ZMPOP 1 nokey MIN",
    "ZMPOP 1 z2 MIN COUNT 9223372036854775807",
    "ZMPOP 1 z3 MIN COUNT 0",
    "ZMPOP 1 z3 MIN COUNT -1",
    "ZMPOP 1 z3 MIN COUNT x",
    "ZMPOP 1 z3 MIN COUNT 9223372036854775808",
    "ZMPOP 1 z3 MIN COUNT 1 COUNT 1",
    "ZMPOP 1 z3 MIN COUNT",
    "ZMPOP 1 z3 MIN foo",
    "ZMPOP 1 z3 LEFT",
    "ZMPOP 1 z3 MIN MAX",
    "ZMPOP 0 z3 MIN",
    "ZMPOP -1 z3 MIN",
    "ZMPOP x z3 MIN",
    "ZMPOP 2 z3 MIN",
    "ZMPOP 5 z3 MIN",
    "ZMPOP 9223372036854775807 z3 MIN",
    "ZMPOP 1 z3",
    "ZMPOP 1 s MIN",
    "ZMPOP 1 z3 min count 2",
    "RPUSH l1 a b c d",
    "LMPOP 1 l1 LEFT",
    "LMPOP 1 l1 right COUNT 2",
    "LMPOP 2 nokey l1 LEFT COUNT 10",
    "EXISTS l1",
    "LMPOP 2 list str LEFT",
    "LMPOP 2 str list LEFT",
    "LMPOP 1 nokey RIGHT",
    "RPUSH l2 a b",
    "LMPOP 1 l2 LEFT COUNT 0",
    "LMPOP 1 l2 LEFT COUNT -5",
    "LMPOP 1 l2 LEFT COUNT 1 COUNT 1",
    "LMPOP 1 l2 MIN",
    "LMPOP 1 l2 LEFT extra",
    "LMPOP 0 l2 LEFT",
    "LMPOP 3 l2 LEFT",
    "LMPOP x l2 LEFT",
    "LMPOP 1 l2",
    "LMPOP 1 z3 LEFT",
  ],
  "BZPOPMIN, BZPOPMAX, BZMPOP and BLMPOP answer at once when data is there or the wait is short": [
    ...SETUP,
    "ZADD bz 1 a 2 b 3 c 4 d 5 e 6 f 7 g 8 h 9 i 10 j 11 k 12 l 13 m 14 n 15 o 16 p",
    "BZPOPMIN nokey bz 0",
    "BZPOPMAX bz z2 0",
    "BZPOPMAX z2 bz 0",
    "BZPOPMIN nokey 0.01",
    "BZPOPMIN str 0",
    "BZPOPMIN nokey str 0",
    "BZPOPMIN bz str 0",
    "BZPOPMIN bz nokey -1",
    "BZPOPMIN bz x",
    "BZPOPMIN bz inf",
    "BZPOPMIN bz -inf",
    "BZPOPMIN bz 1e30",
    "BZPOPMIN bz 9223372036854776",
    "BZPOPMIN bz nan",
    "BZPOPMIN bz ''",
    "BZPOPMIN bz 1x",
    "BZPOPMIN bz 0x0",
    "BZPOPMIN bz 9223372036854775",
    "BZPOPMIN bz -0.0001",
    "BZPOPMIN bz",
    "BZMPOP 0 1 bz MIN",
    "BZMPOP 0 2 nokey bz MAX COUNT 2",
    "BZMPOP 0.01 1 nokey MIN",
    "BZMPOP 0.01 1 str MIN",
    "BZMPOP 0 2 bz str MIN",
    "BZMPOP x 1 bz FOO",
    "BZMPOP x 1 bz MIN COUNT 0",
    "BZMPOP x 1 bz MIN",
    "BZMPOP x 0 bz MIN",
    "BZMPOP -1 1 bz MIN",
    "BZMPOP inf 1 bz MIN",
    "BZMPOP 0 2 bz MIN",
    "BZMPOP 0 1 bz",
    "BZMPOP 0 1 bz MAX COUNT 30",
    "EXISTS bz",
    "RPUSH bl a b c d e f g",
    "BLMPOP 0 1 bl LEFT",
    "BLMPOP 0 2 nokey bl RIGHT COUNT 2",
    "BLMPOP 0.01 1 nokey LEFT",
    "BLMPOP 0.01 2 str bl LEFT",
    "BLMPOP 0 2 bl str LEFT",
    "BLMPOP x 1 bl FOO",
    "BLMPOP x 0 bl LEFT",
    "BLMPOP x 1 bl LEFT",
    "BLMPOP -0.5 1 bl LEFT",
    "BLMPOP 0 1 bl",
    "BLPOP nokey 0.01",
    "BLPOP nokey inf",
    "BLPOP nokey 1e30",
    "BLPOP nokey 9223372036854776",
    "BLPOP bl 9223372036854775",
    "BLPOP str bl 0",
    "BLPOP bl str 0",
    "BLMPOP 0 1 bl RIGHT COUNT 10",
    "EXISTS bl",
  ],
  "blocking pops inside MULTI answer at once": [
    ...SETUP,
    "MULTI",
    "BZPOPMIN nokey 0",
    "BZPOPMAX z1 0",
    "BZMPOP 0 1 nokey MIN",
    "BZMPOP 0 1 z2 MAX COUNT 2",
    "BLMPOP 0 1 nokey LEFT",
    "BLMPOP 0 1 list LEFT",
    "BLPOP nokey 0",
    "BZPOPMIN nokey x",
    "BZMPOP 0 0 nokey MIN",
    "EXEC",
  ],
};

describe("sorted set algebra and multi-key pops against redis-server", () => {
  const reference = referenceRedis(before, after);

  for (const protocol of [2, 3] as const) {
    for (const [name, script] of Object.entries(SCRIPTS)) {
      it(`${name} (RESP${protocol})`, async (t) => {
        const redis = reference();
        if (redis === undefined) return t.skip("redis-server is not installed");
        await redis.run("HELLO", String(protocol));
        await redis.run("FLUSHALL");
        const ours = harness();
        ours.client.protocol = protocol;
        for (const line of script) {
          const argv = c(line);
          const expected = await redis.run(...argv);
          assert.equal(JSON.stringify(ours.run(...argv)), JSON.stringify(expected), line);
        }
      });
    }
  }

  it("finds the keys of the numkeys forms as COMMAND GETKEYS does, quirks included", async (t) => {
    const redis = reference();
    if (redis === undefined) return t.skip("redis-server is not installed");
    const h = harness();
    for (
      const line of [
        "ZUNION 2 a b",
        "ZUNION 2abc a b",
        "ZUNION 01 a b",
        "ZUNION +1 a b",
        "ZUNION 0 a",
        "ZUNION -1 a",
        "ZUNION 3 a b",
        "ZUNION 4294967297 a b",
        "ZUNION 1 a WEIGHTS 1",
        "ZINTER 1 a b c",
        "ZDIFF 2 a b",
        "ZINTERCARD 2 a b LIMIT 1",
        "ZINTERCARD 2x a b",
        "ZUNIONSTORE d 2 a b",
        "ZUNIONSTORE d 2x a b",
        "ZUNIONSTORE d 0 a",
        "ZUNIONSTORE d 3 a",
        "ZINTERSTORE d 2 a b WEIGHTS 1 2",
        "ZDIFFSTORE d 1 a",
        "ZRANGESTORE d s 0 1",
        "ZLEXCOUNT k - +",
        "ZREVRANGEBYLEX k + -",
        "ZMPOP 2 a b MIN",
        "ZMPOP 2x a b MIN",
        "ZMPOP 0 a MIN",
        "ZMPOP 5 a b",
        "ZMPOP 1 a",
        "LMPOP 2 a b LEFT",
        "LMPOP 01 a b LEFT",
        "LMPOP 1 a b",
        "BZMPOP 0 2 a b MIN",
        "BZMPOP 0 2x a b MIN",
        "BZMPOP x 1 a MIN",
        "BLMPOP 0 2 a b LEFT",
        "BLMPOP 0 -1 a LEFT",
        "BLMPOP 0 1 a b",
        "BZPOPMIN a b 0",
        "BZPOPMAX a 0",
        "SINTERCARD 2x a b",
      ]
    ) {
      const request = ["COMMAND", "GETKEYS", ...c(line)];
      assert.equal(h.run(...request), await redis.run(...request), line);
    }
  });
});

describe("sorted set algebra and multi-key pops: AOF records and events", () => {
  it("logs a multi-key pop as the plain pop of the key it took from", () => {
    const h = harness();
    h.run("ZADD", "z", "1", "a", "2", "b", "3", "c");
    h.run("RPUSH", "l", "a", "b", "c");
    h.propagated.length = 0;
    h.run("ZMPOP", "2", "none", "z", "MAX", "COUNT", "2");
    h.run("ZMPOP", "1", "z", "MIN");
    h.run("BZPOPMIN", "none", "z", "0");
    h.run("BZMPOP", "0", "1", "none", "MIN");
    h.run("LMPOP", "2", "none", "l", "LEFT");
    h.run("BLMPOP", "0", "1", "l", "RIGHT", "COUNT", "5");
    h.run("RPUSH", "l", "x");
    h.run("BLPOP", "none", "l", "0");
    h.run("ZADD", "z", "1", "a");
    h.run("BZPOPMAX", "z", "0");
    assert.deepEqual(h.propagated, [
      ["0", "ZPOPMAX", "z", "2"],
      ["0", "ZPOPMIN", "z", "1"],
      ["0", "LPOP", "l", "1"],
      ["0", "RPOP", "l", "5"],
      ["0", "RPUSH", "l", "x"],
      ["0", "LPOP", "l"],
      ["0", "ZADD", "z", "1", "a"],
      ["0", "ZPOPMAX", "z"],
    ]);
  });

  it("logs the STORE forms as they came, and nothing when an empty result meets no key", () => {
    const h = harness();
    h.run("ZADD", "z", "1", "a");
    h.propagated.length = 0;
    h.run("ZUNIONSTORE", "d", "1", "z");
    h.run("ZDIFFSTORE", "none", "2", "z", "z");
    h.run("ZRANGESTORE", "e", "z", "0", "-1");
    h.run("ZINTERSTORE", "e", "2", "z", "nokey");
    assert.deepEqual(h.propagated, [
      ["0", "ZUNIONSTORE", "d", "1", "z"],
      ["0", "ZRANGESTORE", "e", "z", "0", "-1"],
      ["0", "ZINTERSTORE", "e", "2", "z", "nokey"],
    ]);
  });

  it("tells blocked clients about a sorted set that ZADD, ZINCRBY or a STORE form made", () => {
    const h = harness();
    h.run("ZADD", "z", "1", "a");
    h.run("ZINCRBY", "y", "1", "a");
    h.run("ZUNIONSTORE", "d", "1", "z");
    h.run("ZRANGESTORE", "e", "z", "0", "-1");
    h.run("ZRANGESTORE", "f", "nokey", "0", "-1");
    h.run("COPY", "z", "g");
    assert.deepEqual(h.ready, ["z", "y", "d", "e", "g"]);
  });
});
