// Redis 7 functions over real sockets, on Deno and Bun: FUNCTION LOAD | LIST | DELETE | FLUSH |
// DUMP | RESTORE | STATS | KILL and FCALL / FCALL_RO, with redis-server 7.0's replies and error
// texts (taken from redis-server 7.0.15 for the same commands), and libraries that survive a
// kill -9 and restart.
import { timeLimited } from "../_time_limit.ts";
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { cleanup, type NodeProcess, RUNTIMES, startNode } from "./_harness.ts";

const { after, before, describe, it } = timeLimited(import.meta.url, 120_000);

const MYLIB = `#!lua name=mylib
redis.register_function('myfunc', function(keys, args) return {keys[1], args[1]} end)
redis.register_function{function_name='ro', callback=function(keys, args) return redis.call('get', keys[1]) end, flags={'no-writes'}, description='reads'}
redis.register_function('bad', function(keys, args)
  return redis.call('incr', keys[1])
end)`;

/** FUNCTION LOAD of each code, and redis-server 7.0.15's error for it. */
const LOAD_ERRORS: [string, string][] = [
  ["redis.register_function('x', function() end)", "ERR Missing library metadata"],
  ["#!lua", "ERR Invalid library metadata"],
  ["#!js name=e5\nx", "ERR Engine 'js' not found"],
  [
    "#!lua name=e4 foo=bar\nredis.register_function('y', function() end)",
    "ERR Invalid metadata value given: foo=bar",
  ],
  [
    "#!lua name=a-b\nredis.register_function('z', function() end)",
    "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long",
  ],
  ["#!lua name=e\nreturn 1", "ERR No functions registered"],
  [
    "#!lua name=e2\nredis.call('set','a','b')",
    "ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'call'",
  ],
  [
    "#!lua name=e13\nerror('boom')",
    "ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'error'",
  ],
  [
    "#!lua name=e7\nredis.register_function{function_name='z', callback=function() end, flags={'bogus'}}",
    "ERR Error registering functions: ERR unknown flag given",
  ],
  [
    "#!lua name=e8\nredis.register_function('z')",
    "ERR Error registering functions: ERR calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).",
  ],
  [
    "#!lua name=e9\nredis.register_function('z', 1)",
    "ERR Error registering functions: ERR second argument to redis.register_function must be a function",
  ],
  [
    "#!lua name=e11\nredis.register_function('z', function() end)\nredis.register_function('z', function() end)",
    "ERR Error registering functions: ERR Function already exists in the library",
  ],
  [
    "#!lua name=e12\nredis.register_function{function_name='z', callback=function() end, bogus=1}",
    "ERR Error registering functions: ERR unknown argument given to redis.register_function",
  ],
  [
    "#!lua name=mylib\nredis.register_function('x', function() end)",
    "ERR Library 'mylib' already exists",
  ],
  [
    "#!lua name=other\nredis.register_function('myfunc', function() end)",
    "ERR Function myfunc already exists",
  ],
];

/** FUNCTION with its arguments (ioredis types only some forms). */
function FUNCTION(client: Redis, ...args: (string | Buffer)[]): Promise<unknown> {
  return client.call("FUNCTION", ...args);
}

/** FUNCTION LIST's entries as objects (ioredis gives RESP2 maps as flat arrays). */
function entries(reply: unknown): Record<string, unknown>[] {
  const object = (flat: unknown[]) => {
    const result: Record<string, unknown> = {};
    for (let i = 0; i < flat.length; i += 2) result[String(flat[i])] = flat[i + 1];
    return result;
  };
  return (reply as unknown[][]).map((library) => {
    const entry = object(library);
    entry.functions = (entry.functions as unknown[][]).map(object)
      .sort((a, b) => String(a.name).localeCompare(String(b.name)));
    return entry;
  });
}

for (const runtime of RUNTIMES) {
  describe(`Redis functions on ${runtime}`, () => {
    let node: NodeProcess;
    let redis: Redis;
    let other: Redis;
    const connect = () => {
      const c = new Redis({ port: node.port, maxRetriesPerRequest: 1, retryStrategy: () => null });
      c.on("error", () => {});
      return c;
    };

    before(async () => {
      node = await startNode(runtime, { args: ["--appendonly", "yes"] });
      redis = connect();
      other = connect();
    });
    after(async () => {
      redis?.disconnect();
      other?.disconnect();
      await cleanup(node);
    });

    it("loads a library and calls its functions as redis-server 7.0 does", async () => {
      assert.equal(await FUNCTION(redis, "FLUSH"), "OK");
      assert.equal(await FUNCTION(redis, "LOAD", MYLIB), "mylib");
      assert.deepEqual(await redis.fcall("myfunc", 1, "k", "a"), ["k", "a"]);
      await redis.set("k", "x");
      assert.equal(await redis.fcall_ro("ro", 1, "k"), "x");
      await assert.rejects(redis.fcall("bad", 1, "k"), {
        message: "ERR value is not an integer or out of range script: bad, on @user_function:5.",
      });
      await assert.rejects(redis.fcall_ro("myfunc", 1, "k", "a"), {
        message: "ERR Can not execute a script with write flag using *_ro command.",
      });
      await assert.rejects(redis.fcall("nope", 0), { message: "ERR Function not found" });
      await assert.rejects(redis.call("FCALL", "myfunc", "x"), {
        message: "ERR Bad number of keys provided",
      });
      await assert.rejects(redis.call("FCALL", "myfunc", "3", "a"), {
        message: "ERR Number of keys can't be greater than number of args",
      });
      await assert.rejects(redis.call("FCALL", "myfunc", "-1"), {
        message: "ERR Number of keys can't be negative",
      });
      // Outside FUNCTION LOAD there is no register_function.
      await assert.rejects(redis.eval("redis.register_function('q', function() end)", 0));
    });

    it("refuses bad libraries with Redis's errors and keeps what was loaded", async () => {
      for (const [code, message] of LOAD_ERRORS) {
        const error = await FUNCTION(redis, "LOAD", code).catch((e) => e);
        assert.ok(error instanceof Error, `${code}: loaded`);
        assert.equal(error.message, message, code);
      }
      const [library] = entries(await FUNCTION(redis, "LIST"));
      assert.equal(library.library_name, "mylib");
      assert.deepEqual(library.functions, [
        { name: "bad", description: null, flags: [] },
        { name: "myfunc", description: null, flags: [] },
        { name: "ro", description: "reads", flags: ["no-writes"] },
      ]);
    });

    it("lists with LIBRARYNAME and WITHCODE, replaces with REPLACE, deletes and flushes", async () => {
      await FUNCTION(
        redis,
        "LOAD",
        "#!lua name=second\nredis.register_function('s', function() return 's' end)",
      );
      const listed = entries(await FUNCTION(redis, "LIST", "WITHCODE", "LIBRARYNAME", "my*"));
      assert.deepEqual(listed.map((l) => [l.library_name, l.engine, l.library_code]), [
        ["mylib", "LUA", MYLIB],
      ]);
      await assert.rejects(FUNCTION(redis, "LIST", "bogus"), {
        message: "ERR Unknown argument bogus",
      });
      await assert.rejects(FUNCTION(redis, "LIST", "LIBRARYNAME"), {
        message: "ERR library name argument was not given",
      });
      assert.equal(
        await FUNCTION(
          redis,
          "LOAD",
          "REPLACE",
          "#!lua name=mylib\nredis.register_function('myfunc', function(keys, args) return 'v2' end)",
        ),
        "mylib",
      );
      assert.equal(await redis.fcall("myfunc", 0), "v2");
      await assert.rejects(redis.fcall("bad", 1, "k"), { message: "ERR Function not found" });
      await assert.rejects(FUNCTION(redis, "DELETE", "nolib"), {
        message: "ERR Library not found",
      });
      assert.equal(await FUNCTION(redis, "DELETE", "second"), "OK");
      await assert.rejects(FUNCTION(redis, "FLUSH", "bogus"), {
        message: "ERR FUNCTION FLUSH only supports SYNC|ASYNC option",
      });
    });

    it("dumps and restores libraries, refusing a damaged payload and a bad policy", async () => {
      await FUNCTION(redis, "FLUSH");
      await FUNCTION(redis, "LOAD", MYLIB);
      const dump = await redis.callBuffer("FUNCTION", "DUMP") as Buffer;
      assert.equal(await FUNCTION(redis, "FLUSH", "ASYNC"), "OK");
      assert.deepEqual(entries(await FUNCTION(redis, "LIST")), []);
      assert.equal(await redis.call("FUNCTION", "RESTORE", dump), "OK");
      assert.deepEqual(await redis.fcall("myfunc", 1, "a", "b"), ["a", "b"]);
      await assert.rejects(redis.call("FUNCTION", "RESTORE", dump), {
        message: "ERR Library 'mylib' already exists",
      });
      assert.equal(await redis.call("FUNCTION", "RESTORE", dump, "REPLACE"), "OK");
      assert.equal(await redis.call("FUNCTION", "RESTORE", dump, "FLUSH"), "OK");
      const damaged = Buffer.from(dump);
      damaged[damaged.length - 10] ^= 1;
      for (const payload of [Buffer.from("garbage"), damaged]) {
        await assert.rejects(redis.call("FUNCTION", "RESTORE", payload), {
          message: "ERR DUMP payload version or checksum are wrong",
        });
      }
      await assert.rejects(redis.call("FUNCTION", "RESTORE", dump, "bogus"), {
        message: "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
      });
      assert.equal(
        entries(await FUNCTION(redis, "LIST")).length,
        1,
        "nothing changed by a refusal",
      );
    });

    it("answers -BUSY naming FUNCTION KILL while a function runs long, and FUNCTION KILL stops it", async () => {
      await redis.config("SET", "busy-reply-threshold", "200");
      await FUNCTION(
        redis,
        "LOAD",
        "#!lua name=slow\nredis.register_function('spin', function()\n  while true do end\nend)",
      );
      const running = redis.fcall("spin", 0).catch((e) => e as Error);
      await new Promise((r) => setTimeout(r, 500));
      const busy =
        "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";
      await assert.rejects(other.get("k"), { message: busy });
      await assert.rejects(other.script("KILL"), { message: busy });
      const stats = await FUNCTION(other, "STATS") as unknown[];
      assert.equal(stats[0], "running_script");
      const script = stats[1] as unknown[];
      assert.deepEqual(script.slice(0, 4), ["name", "spin", "command", ["fcall", "spin", "0"]]);
      assert.equal(await FUNCTION(other, "KILL"), "OK");
      const error = await running as Error;
      assert.equal(
        error.message,
        "ERR Script killed by user with SCRIPT KILL... script: spin, on @user_function:3.",
      );
      await assert.rejects(FUNCTION(other, "KILL"), {
        message: "NOTBUSY No scripts in execution right now.",
      });
      await redis.config("SET", "busy-reply-threshold", "5000");
      await FUNCTION(redis, "DELETE", "slow");
    });

    it("keeps its libraries through kill -9 and a restart", async () => {
      await FUNCTION(redis, "FLUSH");
      assert.equal(await FUNCTION(redis, "LOAD", MYLIB), "mylib");
      redis.disconnect();
      other.disconnect();
      await node.kill();
      node = await startNode(runtime, { dataDir: node.dataDir, args: ["--appendonly", "yes"] });
      redis = connect();
      other = connect();
      assert.deepEqual(await redis.fcall("myfunc", 1, "k", "a"), ["k", "a"]);
      assert.equal(entries(await FUNCTION(redis, "LIST")).length, 1);
    });
  });
}
