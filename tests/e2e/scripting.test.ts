// Lua scripting over real sockets, on Deno and Bun: ioredis's defineCommand (EVALSHA, falling
// back to EVAL), Redis 7.0's replies and error texts for the same scripts, binary values, and a
// script past busy-reply-threshold: others get -BUSY, SCRIPT KILL stops it unless it has written.
import { timeLimited } from "../_time_limit.ts";
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { cleanup, type NodeProcess, RUNTIMES, startNode } from "./_harness.ts";

const { after, before, describe, it } = timeLimited(import.meta.url, 120_000);

/** Scripts and what redis-server 7.0 answers them (redis-cli's view: errors as their text). */
const REDIS_ANSWERS: [string, string[], unknown][] = [
  ["return {1, 2.7, 'a', false, {ok='fine'}, nil, 3}", [], [1, 2, "a", null, "fine"]],
  ["return 3.99", [], 3],
  ["return true", [], 1],
  ["return {double=3.5}", [], "3.5"],
  ["return #KEYS .. #ARGV", ["2", "a", "b", "c"], "21"],
  ["return redis.sha1hex('')", [], "da39a3ee5e6b4b0d3255bfef95601890afd80709"],
  ["return cjson.decode('[1,2,{\"a\":null}]')[3].a == cjson.null", [], 1],
  ["return cjson.encode({1, 2, 'x/y'})", [], '[1,2,"x\\/y"]'],
  [
    "return bit.band(0xff, 0x0f) .. ',' .. bit.tohex(255) .. ',' .. bit.bnot(0)",
    [],
    "15,000000ff,-1",
  ],
  ["return redis.call('set', 'sc:k', 1.5)", [], "OK"],
  ["return redis.call('get', 'sc:k')", [], "1.5"],
  [
    "return redis.pcall('incr', 'sc:k')",
    [],
    new Error("ERR value is not an integer or out of range"),
  ],
  ["return redis.error_reply('MY failure')", [], new Error("MY failure")],
  [
    // A tail call: the line is still the caller's.
    "return redis.call('incr', 'sc:k')",
    [],
    new Error(
      "ERR value is not an integer or out of range script: 98d6e3dfc93357d2b2e08e8b2cc71768904c8492, on @user_script:1.",
    ),
  ],
  [
    "local v = redis.call('incr', 'sc:k')\nreturn v",
    [],
    new Error(
      "ERR value is not an integer or out of range script: 459a06c6e74ea990871f43d49dc038effd383a1c, on @user_script:1.",
    ),
  ],
  [
    "return x.y",
    [],
    new Error(
      "ERR user_script:1: Script attempted to access nonexistent global variable 'x' script: c7977cd7f36622d6ecd2600423927e1a1c3028b4, on @user_script:1.",
    ),
  ],
  [
    "foo = 1",
    [],
    new Error(
      "ERR user_script:1: Attempt to modify a readonly table script: e1934c7d679df0a682fa283afb2bdeec6495d463, on @user_script:1.",
    ),
  ],
  [
    "return 'x' ..",
    [],
    // Lua 5.4 words the compile error without quotes around <eof> (5.1: '<eof>').
    new Error(
      "ERR Error compiling script (new function): user_script:1: unexpected symbol near <eof>",
    ),
  ],
  ["return 1", ["-1"], new Error("ERR Number of keys can't be negative")],
];

for (const runtime of RUNTIMES) {
  describe(`Lua scripting on ${runtime}`, () => {
    let node: NodeProcess;
    let redis: Redis;
    let other: Redis;

    before(async () => {
      node = await startNode(runtime);
      const connect = () => {
        const c = new Redis({
          port: node.port,
          maxRetriesPerRequest: 1,
          retryStrategy: () => null,
        });
        c.on("error", () => {});
        return c;
      };
      redis = connect();
      other = connect();
    });
    after(async () => {
      redis?.disconnect();
      other?.disconnect();
      await cleanup(node);
    });

    it("answers scripts as redis-server 7.0 does, errors and conversions included", async () => {
      for (const [script, args, expected] of REDIS_ANSWERS) {
        const numkeys = args.length > 0 ? args[0] : "0";
        const got = await redis.call("EVAL", script, numkeys, ...args.slice(1)).catch((e) => e);
        if (expected instanceof Error) {
          assert.ok(
            got instanceof Error,
            `${script}: expected an error, got ${JSON.stringify(got)}`,
          );
          assert.equal(got.message, expected.message, script);
        } else {
          assert.deepEqual(got, expected, script);
        }
      }
    });

    it("runs ioredis defineCommand scripts through EVALSHA after loading them with EVAL", async () => {
      redis.defineCommand("hit", {
        numberOfKeys: 1,
        // A fixed-window limiter with millisecond timestamps (past 32 bits).
        lua: `local n = redis.call('incr', KEYS[1])
if n == 1 then redis.call('pexpire', KEYS[1], ARGV[1]) end
return {n, redis.call('pttl', KEYS[1]), tonumber(ARGV[2]) + 1}`,
      });
      const scripted = redis as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
      const hit = (...a: unknown[]) => scripted.hit.call(redis, ...a);
      const now = 1_700_000_000_000;
      const first = await hit("sc:limit", 60_000, now) as number[];
      assert.equal(first[0], 1);
      assert.ok(first[1] > 59_000 && first[1] <= 60_000, `ttl ${first[1]}`);
      assert.equal(first[2], now + 1);
      const second = await hit("sc:limit", 60_000, now) as number[];
      assert.equal(second[0], 2);
      await redis.script("FLUSH");
      // ioredis meets NOSCRIPT and sends EVAL again.
      assert.equal((await hit("sc:limit", 60_000, now) as number[])[0], 3);
    });

    it("keeps binary values byte for byte through KEYS, ARGV and redis.call", async () => {
      const value = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      await redis.call("EVAL", "return redis.call('set', KEYS[1], ARGV[1])", "1", "sc:bin", value);
      assert.deepEqual(await redis.getBuffer("sc:bin"), value);
      const back = await redis.callBuffer(
        "EVAL",
        "return redis.call('get', KEYS[1])",
        "1",
        "sc:bin",
      );
      assert.deepEqual(back, value);
    });

    it("refuses writes from EVAL_RO and commands scripts may not run", async () => {
      await assert.rejects(
        redis.call("EVAL_RO", "return redis.call('set', 'sc:x', 1)", "0"),
        /Write commands are not allowed from read-only scripts/,
      );
      await assert.rejects(
        redis.call("EVAL", "return redis.call('multi')", "0"),
        /This Redis command is not allowed from script/,
      );
      assert.equal(await redis.exists("sc:x"), 0);
    });

    it("answers others -BUSY past busy-reply-threshold, and SCRIPT KILL stops a script that has not written", async () => {
      assert.equal(await other.config("SET", "busy-reply-threshold", "200"), "OK");
      assert.deepEqual(await other.config("GET", "lua-time-limit"), ["lua-time-limit", "200"]);
      await other.set("sc:busy", "before");
      // The caller's next pipelined command waits behind the script, as in Redis.
      const [running, after] = [
        redis.call("EVAL", "local i = 0 while true do i = i + 1 end", "0").catch((e) => e),
        redis.get("sc:busy"),
      ];
      await new Promise((r) => setTimeout(r, 500));
      await assert.rejects(other.get("sc:busy"), {
        message:
          "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
      });
      await assert.rejects(other.ping(), /^ReplyError: BUSY /);
      assert.equal(await other.script("KILL"), "OK");
      const error = await running;
      assert.ok(error instanceof Error);
      assert.equal(
        error.message,
        "ERR Script killed by user with SCRIPT KILL... script: 3fcf51a9b854b8f66cb8685600b0d7df968f4398, on @user_script:1.",
      );
      assert.equal(await after, "before");
      assert.equal(await other.get("sc:busy"), "before");
      await assert.rejects(other.script("KILL"), /^ReplyError: NOTBUSY No scripts in execution/);
    });

    it("refuses to kill a script that has written (UNKILLABLE); it ends whole, atomic to others", async () => {
      await other.set("sc:count", "0");
      // Runs 1.5 s by the server's clock, then writes again.
      const script = `redis.call('incr', KEYS[1])
local t = redis.call('time')
local start = t[1] * 1000000 + t[2]
local now = start
while now - start < 1500000 do
  for i = 1, 100000 do end
  t = redis.call('time')
  now = t[1] * 1000000 + t[2]
end
redis.call('incr', KEYS[1])
return redis.call('get', KEYS[1])`;
      const running = redis.call("EVAL", script, "1", "sc:count");
      await new Promise((r) => setTimeout(r, 500));
      await assert.rejects(
        other.script("KILL"),
        /^ReplyError: UNKILLABLE Sorry the script already executed write commands/,
      );
      // Nothing sees the half-done script: reads and writes get -BUSY until it ends.
      await assert.rejects(other.get("sc:count"), /^ReplyError: BUSY /);
      await assert.rejects(other.set("sc:stop", "1"), /^ReplyError: BUSY /);
      assert.equal(await running, "2");
      assert.equal(await other.get("sc:count"), "2");
      assert.equal(await other.config("SET", "busy-reply-threshold", "5000"), "OK");
      assert.equal(await redis.call("EVAL", "return 'alive'", "0"), "alive");
    });
  });
}
