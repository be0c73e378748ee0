/**
 * SORT and SORT_RO against redis-server 7.0: scripts over lists, sets and sorted sets with BY
 * (keys, hash fields, nosort), LIMIT, GET, ASC/DESC, ALPHA and STORE get byte-identical replies
 * and leave the same data; numbers are read as glibc's strtod reads them; a set sorted without
 * an order inside a script or into STORE comes out sorted; key positions, the AOF record, the
 * notifications and a cluster node's refusals are Redis's.
 */
import assert from "node:assert/strict";
import { Dispatcher } from "../../src/commands/dispatch.ts";
import { createCommandTable } from "../../src/commands/table.ts";
import { type ClusterHooks, internalClient } from "../../src/commands/types.ts";
import { Keyspace } from "../../src/keyspace/keyspace.ts";
import { ReplyWriter } from "../../src/resp/writer.ts";
import { buildConfig } from "../../src/config/config.ts";
import { assembleNode } from "../../src/node.ts";
import { currentRuntime } from "../../src/runtime/mod.ts";
import { HttpExecutor } from "../../src/http/executor.ts";
import { sortScore } from "../../src/commands/sort.ts";
import { argvOf, compareCases, harness } from "./_ext_harness.ts";
import { subscriberNotifications as notifications } from "./_keyspace_events.ts";
import { ReferenceRedis, referenceRedis } from "./_redis_reference.ts";
import { timeLimited } from "../_time_limit.ts";

const { after, before, describe, it } = timeLimited(import.meta.url, 120_000);

const c = argvOf;

const CASES: Record<string, string[]> = {
  "SORT orders a list as numbers, ASC or DESC, ALPHA as bytes, equal numbers by their bytes": [
    "RPUSH l 3 1 2 10 -1 1.5 01 +1 1.0",
    "SORT l",
    "SORT l ASC",
    "SORT l DESC",
    "SORT l ALPHA",
    "SORT l ALPHA DESC",
    "SORT l desc alpha asc",
    "SORT_RO l",
    "SORT_RO l ALPHA DESC",
    "RPUSH b B a A _ b \\x00 \\xff aa",
    "SORT b ALPHA",
    "SORT b ALPHA DESC",
  ],
  "SORT's LIMIT clamps its offset and count as redis-server does": [
    "RPUSH l 5 3 1 4 2",
    "SORT l LIMIT 0 2",
    "SORT l LIMIT 1 2",
    "SORT l LIMIT -1 2",
    "SORT l LIMIT 1 -1",
    "SORT l LIMIT 1 -9",
    "SORT l LIMIT 4 10",
    "SORT l LIMIT 5 1",
    "SORT l LIMIT 10 2",
    "SORT l LIMIT 0 0",
    "SORT l LIMIT 2 1 DESC",
    "SORT l LIMIT 9223372036854775807 9223372036854775807",
    "SORT l LIMIT -9223372036854775808 1",
    "SORT l LIMIT 0 1 LIMIT 2 2",
    "SORT nokey LIMIT 0 1",
    "SORT nokey LIMIT 5 5",
  ],
  "SORT BY nosort keeps a list's and a sorted set's order, ranges them, DESC reverses": [
    "RPUSH l 3 1 2 10 -1 x",
    "SORT l BY nosort",
    "SORT l BY nosort DESC",
    "SORT l BY nosort LIMIT 1 2",
    "SORT l BY nosort LIMIT 1 2 DESC",
    "SORT l BY nosort LIMIT 4 10 DESC",
    "SORT l BY nosort LIMIT 9 1",
    "SORT l BY nosort ALPHA",
    "SORT l BY constant",
    "SORT l BY ''",
    "ZADD z 3 c 1 a 2 b 0 d 2 bb",
    "SORT z BY nosort",
    "SORT z BY nosort DESC",
    "SORT z BY nosort LIMIT 1 2",
    "SORT z BY nosort LIMIT 1 2 DESC",
    "SORT z BY nosort LIMIT 3 5 DESC",
    "SORT z BY nosort LIMIT 7 1",
    "SORT z ALPHA",
    "SORT z ALPHA DESC LIMIT 0 3",
    "SORT z",
    "SADD s 5 3 9 1 20",
    "SORT s",
    "SORT s BY nosort",
    "SORT s BY nosort DESC",
    "SORT s DESC LIMIT 1 2",
  ],
  "SORT BY reads keys and hash fields the pattern names, missing ones as 0 or first": [
    "RPUSH l 1 2 3 4",
    "MSET w_1 30 w_2 10 w_3 20",
    "HSET h_1 f 3 g x",
    "HSET h_2 f 1",
    "HSET h_3 f 2 g y",
    "HSET h_4 f 2.5 g a",
    "SORT l BY w_*",
    "SORT l BY w_* DESC",
    "SORT l BY w_* LIMIT 1 2",
    "SORT l BY h_*->f",
    "SORT l BY h_*->f DESC LIMIT 0 3",
    "SORT l BY h_*->g ALPHA",
    "SORT l BY h_*->g ALPHA DESC",
    "SORT l BY h_*->g",
    "SORT l BY h_*->",
    "SORT l BY h_*",
    "SORT l BY w_*->f",
    "SORT l BY *",
    "SORT l BY #",
    "SORT l BY nosort BY w_*",
    "SORT l BY w_* BY nosort",
    "SET 1 one",
    "SORT l BY * ALPHA",
  ],
  "SORT GET returns what each pattern names, # the element, nil where nothing is": [
    "RPUSH l 1 2 3",
    "MSET w_1 30 w_2 10",
    "HSET h_1 f 3 g x",
    "HSET h_3 f 2",
    "SORT l GET #",
    "SORT l GET w_*",
    "SORT l GET # GET w_* GET h_*->f GET h_*->g GET nope",
    "SORT l BY w_* GET # GET w_*",
    "SORT l BY nosort GET # GET # DESC",
    "SORT l GET h_*->",
    "SORT l GET h_*",
    "SORT l GET x",
    "SORT l GET #x",
    "SORT l GET x#",
    "SORT l GET ##",
    "SORT l GET *->",
    "SET x->1 xx",
    "SORT l GET x->*",
    "HSET a->b_1 c q",
    "SORT l GET a->b_*->c",
    "HSET a1 b->c s",
    "SORT l GET a*->b->c",
    "SORT l LIMIT 1 1 GET # GET w_*",
    "SORT l LIMIT 5 1 GET #",
    "SORT_RO l GET # GET w_* BY w_*",
  ],
  "SORT STORE writes a list (nil as empty strings), replaces any value and deletes on empty": [
    "RPUSH l 3 1 2",
    "SET w_1 one",
    "SORT l STORE d",
    "LRANGE d 0 -1",
    "TYPE d",
    "SORT l GET # GET w_* STORE d",
    "LRANGE d 0 -1",
    "SET d string EX 100",
    "SORT l DESC STORE d",
    "LRANGE d 0 -1",
    "TTL d",
    "SORT l LIMIT 9 9 STORE d",
    "EXISTS d",
    "SORT nokey STORE d",
    "SORT nokey STORE d",
    "SORT l STORE l",
    "LRANGE l 0 -1",
    "SORT l STORE a STORE b",
    "EXISTS a b",
    "SADD s b a c 10 9",
    "SORT s BY nosort STORE d",
    "LRANGE d 0 -1",
    "SORT s BY nosort DESC STORE d LIMIT 1 2",
    "LRANGE d 0 -1",
    "SADD i 3 1 2",
    "SORT i BY nosort STORE d",
    "LRANGE d 0 -1",
    "ZADD z 2 b 1 a",
    "SORT z BY nosort STORE d",
    "LRANGE d 0 -1",
    "RPUSH bad x 1",
    "SORT bad STORE d",
    "LRANGE d 0 -1",
  ],
  "SORT checks its options before the key, then the key's type, then the numbers": [
    "SET s str",
    "RPUSH l 1 x",
    "HSET h f v",
    "SORT s",
    "SORT h",
    "SORT s FOO",
    "SORT s LIMIT x 1",
    "SORT s LIMIT 1 x",
    "SORT s LIMIT 1",
    "SORT l LIMIT 1 2 3",
    "SORT l BY",
    "SORT l GET",
    "SORT l STORE",
    "SORT l LIMIT 1.5 2",
    "SORT l LIMIT 99999999999999999999 1",
    "SORT l",
    "SORT l DESC",
    "SORT l ALPHA",
    "SORT l BY nosort",
    "SORT_RO l STORE d",
    "SORT_RO s",
    "SORT_RO l LIMIT x y",
    "SORT_RO l",
    "SORT",
    "SORT_RO",
  ],
  "SORT reads numbers as strtod does: spaces before, hex, inf; the whole C string or nothing": [
    '["RPUSH","n","5"," 1","\\t7","\\u000b8","\\n3","0x10","0X1A","0x1p3","0x.8","-0x10","inf","-inf","+inf","INF","infinity","-0","+5",".5","5.","1.e5","1.5e3","00012","","1\\u0000abc","2.2250738585072014e-308","1e308","0x1p-1074","0e500","0x1.fffffffffffffp1023"]',
    "SORT n",
    "SORT n DESC",
    "SORT n LIMIT 0 5",
  ],
  "SORT refuses every number strtod cannot read whole": [
    ...[
      "1 ",
      "  ",
      "-",
      "- 5",
      "e5",
      ".e5",
      ".",
      "1e",
      "1e+",
      "0x",
      "0xg",
      "0x1p",
      "0x.p1",
      "00x1",
      "1_0",
      "nan",
      "-nan",
      "nan(123)",
      "infinit",
      "abc",
    ].flatMap((bad) => [
      JSON.stringify(["DEL", "n"]),
      JSON.stringify(["RPUSH", "n", "5", bad]),
      "SORT n",
      "SORT n ALPHA",
    ]),
  ],
};

/** Numbers strtod reads with ERANGE: redis-server then keeps errno set and refuses every later
 * number that is not an integer object, so these run each on a fresh server. */
const RANGE_ERRORS = [
  "1e400",
  "1e-400",
  "1e-310",
  "4.9e-324",
  "2.2250738585072011e-308",
  "0x1p1024",
];

describe("SORT replies equal redis-server's", () => {
  const reference = referenceRedis(before, after);

  compareCases(it, reference, CASES);

  it("refuses numbers strtod reads out of range (each on a fresh redis-server)", async (t) => {
    if (reference() === undefined) return t.skip("redis-server is not installed");
    for (const bad of RANGE_ERRORS) {
      const redis = await ReferenceRedis.start();
      try {
        const ours = harness();
        for (const argv of [["RPUSH", "n", "5", bad], ["SORT", "n"]]) {
          assert.equal(ours.run(...argv), await redis.run(...argv), `${argv.join(" ")}`);
        }
      } finally {
        await redis.stop();
      }
    }
  });

  it("finds SORT's keys as redis-server's COMMAND GETKEYS does: STORE's, not BY's or GET's", async (t) => {
    const redis = reference();
    if (redis === undefined) return t.skip("redis-server is not installed");
    const ours = harness();
    for (
      const line of [
        "SORT a",
        "SORT a STORE b",
        "SORT a BY x_* GET y_* STORE b",
        "SORT a STORE",
        "SORT a store b store c",
        "SORT a STORE STORE b",
        "SORT a STORE b c",
        "SORT a LIMIT 0 1 STORE b",
        "SORT a LIMIT STORE b",
        "SORT a LIMIT 1 STORE b",
        "SORT a GET STORE b",
        "SORT a BY STORE c",
        "SORT a get x limit 1 2 store b",
        "SORT_RO a",
        "SORT_RO a STORE b",
        "SORT_RO a GET x",
      ]
    ) {
      const argv = ["COMMAND", "GETKEYS", ...c(line)];
      assert.equal(ours.run(...argv), await redis.run(...argv), line);
    }
  });
});

describe("SORT", () => {
  it("logs SORT ... STORE as it came, and a SORT that stored nothing not at all", () => {
    const ours = harness();
    ours.run("RPUSH", "l", "2", "1");
    ours.run("SORT", "l");
    ours.run("SORT", "l", "STORE", "d");
    ours.run("SORT", "nokey", "STORE", "none");
    ours.run("SORT", "nokey", "STORE", "d");
    assert.deepEqual(ours.propagated, [
      ["0", "RPUSH", "l", "2", "1"],
      ["0", "SORT", "l", "STORE", "d"],
      ["0", "SORT", "nokey", "STORE", "d"],
    ]);
  });

  it("serves a client blocked on the STORE destination", () => {
    const ours = harness();
    ours.run("RPUSH", "l", "2", "1");
    ours.run("SORT", "l", "STORE", "d");
    assert.deepEqual(ours.ready, ["l", "d"]);
  });

  it("refuses BY and GET patterns on a cluster node with Redis's errors, and runs the rest", () => {
    const keyspace = new Keyspace([{
      name: "default",
      maxMemoryBytes: 0,
      evictionPolicy: "noeviction",
      defaultTtlMs: 0,
    }], { monotonicMs: () => 0, realtimeMs: () => 1_700_000_000_000 });
    const dispatcher = new Dispatcher(createCommandTable(), keyspace, {
      info: () => "",
      cluster: {} as ClusterHooks,
    });
    const out = new ReplyWriter();
    const run = (line: string) => {
      dispatcher.execute(internalClient(), out, c(line));
      return new TextDecoder().decode(out.take());
    };
    const by = "-ERR BY option of SORT denied in Cluster mode.\r\n";
    const get = "-ERR GET option of SORT denied in Cluster mode.\r\n";
    run("RPUSH l 3 1 2");
    const sorted = "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n";
    const kept = "*3\r\n$1\r\n3\r\n$1\r\n1\r\n$1\r\n2\r\n";
    const cases: [string, string][] = [
      ["SORT l", sorted],
      ["SORT l BY nosort", kept],
      ["SORT l BY x{l}", kept],
      ["SORT l BY x_*", by],
      ["SORT l BY x{l}*", by],
      ["SORT l BY *{l}->f", by],
      ["SORT_RO l BY w_*", by],
      ["SORT l GET #", get],
      ["SORT l GET x", get],
      ["SORT l BY nosort GET #", get],
      ["SORT_RO l GET {l}*", get],
      ["SORT l GET x FOO", get],
      ["SORT l FOO GET x", "-ERR syntax error\r\n"],
      ["SORT l STORE d{l}", ":3\r\n"],
    ];
    for (const [line, expected] of cases) assert.equal(run(line), expected, line);
  });

  it("reads scores as strtod: the C string whole, ERANGE and NaN refused", () => {
    const cases: [string, number | null][] = [
      ["", 0],
      ["1\x00x", 1],
      [" \t\n\v\f\r2", 2],
      ["0x1p-1074", 2 ** -1074],
      ["0x1.8", 1.5],
      ["-0x.8p1", -1],
      ["0x1.fffffffffffffp1023", Number.MAX_VALUE],
      ["0x1" + "0".repeat(300), null],
      ["0x1.00000000000000000000001", 1],
      ["0x3p-1075", null],
      ["0x2p-1075", 2 ** -1074],
      ["1e-400", null],
      ["1e400", null],
      ["nan", null],
      ["Infinity", Infinity],
    ];
    for (const [text, expected] of cases) {
      assert.equal(sortScore(text), expected, JSON.stringify(text));
    }
  });
});

describe("SORT on a node", () => {
  const reference = referenceRedis(before, after);
  let port = 0;
  let stop: () => Promise<void> = async () => {};
  let executor: HttpExecutor;
  before(async () => {
    const parts = await assembleNode(buildConfig({ port: 0, http: { enabled: false } }), {
      ...await currentRuntime(),
    });
    await parts.resp.start();
    port = parts.resp.port;
    stop = () => parts.resp.stop();
    executor = new HttpExecutor(parts.dispatcher, () => Date.now());
  });
  after(() => stop());

  it("sorts a set without an order inside scripts and functions, as bytes", async (t) => {
    const redis = reference();
    if (redis === undefined) return t.skip("redis-server is not installed");
    await redis.run("FLUSHALL");
    await redis.run("FUNCTION", "FLUSH");
    const client = executor.client("admin", 0);
    const script = [
      ["SADD", "s", "b", "a", "c", "zz", "10", "9"],
      ["EVAL", "return redis.call('sort', KEYS[1], 'by', 'nosort')", "1", "s"],
      ["EVAL", "return redis.call('sort', KEYS[1], 'by', 'nosort', 'desc')", "1", "s"],
      ["EVAL", "return redis.call('sort', KEYS[1], 'by', 'nosort', 'limit', '1', '2')", "1", "s"],
      ["EVAL", "return redis.call('sort_ro', KEYS[1], 'by', 'nosort', 'get', '#')", "1", "s"],
      ["EVAL", "return redis.call('sort', KEYS[1], 'alpha')", "1", "s"],
      [
        "FUNCTION",
        "LOAD",
        "#!lua name=t\nredis.register_function('f', function(k) return redis.call('sort', k[1], 'by', 'nosort') end)",
      ],
      ["FCALL", "f", "1", "s"],
      ["SADD", "i", "3", "1", "2"],
      ["EVAL", "return redis.call('sort', KEYS[1], 'by', 'nosort', 'desc')", "1", "i"],
    ];
    try {
      for (const argv of script) {
        assert.equal(
          await executor.runText(client, argv),
          await redis.run(...argv),
          argv.join(" "),
        );
      }
    } finally {
      await redis.run("FUNCTION", "FLUSH");
    }
  });

  it("notifies sortstore on the destination, or del when it removed it, as Redis does", async (t) => {
    const redis = reference();
    if (redis === undefined) return t.skip("redis-server is not installed");
    const commands = [
      ["RPUSH", "l", "2", "1"],
      ["SORT", "l", "STORE", "d"],
      ["SORT", "l", "STORE", "d"],
      ["SORT", "l"],
      ["SORT", "nokey", "STORE", "d"],
      ["SORT", "nokey", "STORE", "d"],
      ["SORT", "l", "LIMIT", "0", "1", "STORE", "e"],
    ];
    const expected = await notifications(redis.port, commands);
    assert.ok(expected.length > 0);
    assert.deepEqual(await notifications(port, commands), expected);
  });
});
