/**
 * DEBUG against redis-server 7.0: refused with Redis's error (before authentication, at MULTI
 * queueing, counted as rejected) under `enable-debug-command no`, the default; with `yes`, the
 * same replies as a redis-server started with it for SLEEP, OBJECT, RELOAD, SET-ACTIVE-EXPIRE
 * and unknown subcommands, DEBUG OBJECT's fields Redis's but for the address and access clock;
 * SLEEP stops the whole node, SET-ACTIVE-EXPIRE stops the expiry cycle, RELOAD saves and loads
 * the data back; `enable_debug_command` reads back in CONFIG GET and cannot be set.
 */
import assert from "node:assert/strict";
import { buildConfig } from "../../src/config/config.ts";
import { Dispatcher } from "../../src/commands/dispatch.ts";
import { createCommandTable } from "../../src/commands/table.ts";
import { type ClientState, internalClient, type ServerHooks } from "../../src/commands/types.ts";
import { Keyspace } from "../../src/keyspace/keyspace.ts";
import { assembleNode } from "../../src/node.ts";
import { ReplyWriter } from "../../src/resp/writer.ts";
import { currentRuntime } from "../../src/runtime/mod.ts";
import { RawClient } from "../e2e/_raw_client.ts";
import { harness } from "./_ext_harness.ts";
import { HAVE_REDIS, ReferenceRedis, referenceRedis } from "./_redis_reference.ts";
import { timeLimited } from "../_time_limit.ts";
import { dumpData, FakeClock, openNode, tempDir } from "../persistence/_node.ts";

const { after, before, describe, it } = timeLimited(import.meta.url, 60_000);

const c = (line: string): string[] => line.split(" ").map((arg) => (arg === "''" ? "" : arg));

/** A dispatcher on one store, on a clock the test moves, with the given server hooks. */
function node(hooks: Partial<ServerHooks> = {}) {
  let nowMs = 1_704_067_200_000;
  const keyspace = new Keyspace([{
    name: "default",
    maxMemoryBytes: 0,
    evictionPolicy: "noeviction",
    defaultTtlMs: 0,
  }], { monotonicMs: () => nowMs, realtimeMs: () => nowMs });
  const dispatcher = new Dispatcher(createCommandTable(), keyspace, { info: () => "", ...hooks });
  const client: { -readonly [K in keyof ClientState]: ClientState[K] } = internalClient({
    id: 1,
    remoteAddress: "127.0.0.1:5000",
  });
  const out = new ReplyWriter();
  return {
    keyspace,
    dispatcher,
    client,
    run(...argv: string[]): string {
      dispatcher.execute(client, out, argv);
      return new TextDecoder("latin1").decode(out.take());
    },
    advance(ms: number) {
      nowMs += ms;
    },
  };
}

const REFUSED = [
  "DEBUG HELP",
  "DEBUG SLEEP 0",
  "DEBUG JMAP",
  "DEBUG OBJECT nokey",
  "DEBUG RELOAD",
  "DEBUG",
  "MULTI",
  "DEBUG SLEEP 0",
  "SET a 1",
  "EXEC",
];

const ALLOWED = [
  "DEBUG JMAP",
  "DEBUG jmap x",
  "DEBUG SLEEP",
  "DEBUG SLEEP x",
  "DEBUG SLEEP 0",
  "DEBUG SLEEP 0.01",
  "DEBUG SLEEP -1",
  "DEBUG SLEEP 1e-3",
  "DEBUG SLEEP inf",
  "DEBUG SLEEP ''",
  "DEBUG SLEEP 0 extra",
  "DEBUG OBJECT nokey",
  "DEBUG OBJECT",
  "DEBUG OBJECT k x",
  "DEBUG SET-ACTIVE-EXPIRE 0",
  "DEBUG SET-ACTIVE-EXPIRE 1",
  "DEBUG SET-ACTIVE-EXPIRE 2",
  "DEBUG SET-ACTIVE-EXPIRE x",
  "DEBUG SET-ACTIVE-EXPIRE",
  "DEBUG set-active-expire 0 1",
  "SET k v",
  "DEBUG RELOAD",
  "DEBUG RELOAD NOSAVE",
  "DEBUG RELOAD MERGE",
  "DEBUG RELOAD nosave merge",
  "DEBUG RELOAD foo",
  "DEBUG RELOAD MERGE foo",
  "GET k",
  "DEBUG help x",
  "MULTI",
  "DEBUG SLEEP 0",
  "EXEC",
];

describe("DEBUG replies equal redis-server's", () => {
  const reference = referenceRedis(before, after);

  it("refuses DEBUG with Redis's error under enable-debug-command no, the default", async (t) => {
    const redis = reference();
    if (redis === undefined) return t.skip("redis-server is not installed");
    const ours = node();
    for (const line of REFUSED) {
      const argv = c(line);
      assert.equal(ours.run(...argv), await redis.run(...argv), line);
    }
    // Never run: each refusal is a rejected call (the five refusals and the arity error).
    const stats = ours.dispatcher.stats.perCommand.get("debug")!;
    assert.deepEqual(stats, { calls: 0, errors: 0, rejected: 6 });
  });

  it("refuses DEBUG before asking for authentication, as Redis does", async (t) => {
    if (!HAVE_REDIS) return t.skip("redis-server is not installed");
    const redis = await ReferenceRedis.start(["--requirepass", "pw"]);
    try {
      const ours = node();
      ours.client.authenticated = false;
      for (const line of ["DEBUG HELP", "DEBUG OBJECT k"]) {
        const argv = c(line);
        assert.equal(ours.run(...argv), await redis.run(...argv), line);
      }
    } finally {
      await redis.stop();
    }
  });

  it("answers the subcommands as redis-server does under enable-debug-command yes", async (t) => {
    if (!HAVE_REDIS) return t.skip("redis-server is not installed");
    const redis = await ReferenceRedis.start(["--enable-debug-command", "yes"]);
    try {
      const ours = node({ enableDebugCommand: "yes" });
      for (const line of ALLOWED) {
        const argv = c(line);
        assert.equal(ours.run(...argv), await redis.run(...argv), line);
      }
    } finally {
      await redis.stop();
    }
  });

  it("gives DEBUG OBJECT Redis's refcount, encoding, serializedlength and quicklist fields", async (t) => {
    if (!HAVE_REDIS) return t.skip("redis-server is not installed");
    const redis = await ReferenceRedis.start(["--enable-debug-command", "yes"]);
    try {
      const ours = node({ enableDebugCommand: "yes" });
      const setup = [
        ["SET", "str", "hello"],
        ["SET", "int", "12345"],
        ["SET", "shared", "100"],
        ["SET", "neg", "-5"],
        ["SET", "i64", "10000000000"],
        ["SET", "raw", "a".repeat(83)],
        [
          "SET",
          "random",
          Array.from({ length: 60 }, (_, i) => String.fromCharCode(i * 37 % 256)).join(""),
        ],
        ["RPUSH", "list", "a", "b", "c"],
        ["RPUSH", "long", ...Array.from({ length: 400 }, (_, i) => "x".repeat(i * 37 % 100))],
        ["RPUSH", "numbers", ...Array.from({ length: 1500 }, (_, i) => String(i * i))],
        ["HSET", "hash", "a", "1", "b", "two"],
        ["SADD", "intset", "1", "2", "300000"],
        ["SADD", "set", "a"],
        ["ZADD", "zset", "1", "a", "2.5", "b"],
        [
          "ZADD",
          "skiplist",
          ...Array.from({ length: 300 }, (_, i) => [String(i / 7), `m${i}`]).flat(),
        ],
      ];
      for (const argv of setup) assert.equal(ours.run(...argv), await redis.run(...argv));
      // The address is made up and the LRU clock is the machine's: the other fields are Redis's.
      const fields = (line: string) =>
        line.replace(/Value at:\S+ /, "").replace(/ lru:\d+ lru_seconds_idle:\d+/, "");
      for (const [, key] of setup) {
        const theirs = await redis.run("DEBUG", "OBJECT", key);
        const mine = ours.run("DEBUG", "OBJECT", key);
        assert.equal(fields(mine), fields(theirs), key);
        assert.match(mine, /^\+Value at:0x[0-9a-f]{12} refcount:\d+ .* lru:\d+ lru_seconds_idle:0/);
      }
    } finally {
      await redis.stop();
    }
  });
});

describe("OBJECT FREQ and REFCOUNT", () => {
  it("give redis-server's counter under an LFU policy, its error under others", async (t) => {
    if (!HAVE_REDIS) return t.skip("redis-server is not installed");
    for (const policy of ["allkeys-lfu", "volatile-lfu", "allkeys-lru", "noeviction"] as const) {
      const redis = await ReferenceRedis.start(["--maxmemory-policy", policy]);
      try {
        const ours = harness({ policy });
        for (
          const line of [
            "OBJECT FREQ nokey",
            "SET a v",
            "OBJECT FREQ a",
            "GET a",
            "OBJECT FREQ a",
            "OBJECT FREQ a x",
            "OBJECT FREQ",
          ]
        ) {
          const argv = c(line);
          assert.equal(ours.run(...argv), await redis.run(...argv), `${policy}: ${line}`);
        }
      } finally {
        await redis.stop();
      }
    }
  });

  it("count a small integer string as one of Redis's shared objects", async (t) => {
    if (!HAVE_REDIS) return t.skip("redis-server is not installed");
    const redis = await ReferenceRedis.start();
    try {
      const ours = harness();
      for (
        const line of [
          "SET n 100",
          "OBJECT REFCOUNT n",
          "SET zero 0",
          "OBJECT REFCOUNT zero",
          "SET max 9999",
          "OBJECT REFCOUNT max",
          "SET big 10000",
          "OBJECT REFCOUNT big",
          "SET neg -1",
          "OBJECT REFCOUNT neg",
          "SET padded 007",
          "OBJECT REFCOUNT padded",
          "RPUSH l 1",
          "OBJECT REFCOUNT l",
          "OBJECT REFCOUNT nokey",
        ]
      ) {
        const argv = c(line);
        assert.equal(ours.run(...argv), await redis.run(...argv), line);
      }
    } finally {
      await redis.stop();
    }
  });
});

describe("DEBUG", () => {
  it("answers under local only for loopback clients", () => {
    const ours = node({ enableDebugCommand: "local" });
    assert.equal(ours.run("DEBUG", "SLEEP", "0"), "+OK\r\n");
    for (const address of ["[::1]:6000", "::1:6000", "127.0.0.2:1"]) {
      ours.client.remoteAddress = address;
      assert.equal(ours.run("DEBUG", "SLEEP", "0"), "+OK\r\n", address);
    }
    for (const address of ["10.0.0.1:5000", "internal", "[2001:db8::1]:6000"]) {
      ours.client.remoteAddress = address;
      assert.match(ours.run("DEBUG", "SLEEP", "0"), /^-ERR DEBUG command not allowed/, address);
    }
  });

  it("SLEEP hands the whole node's pause to the sleep hook, in milliseconds", () => {
    const slept: number[] = [];
    const ours = node({ enableDebugCommand: "yes", sleep: (ms) => slept.push(ms) });
    for (const seconds of ["0.25", "2", "0", "-1", "x", "inf", "1.5abc"]) {
      assert.equal(ours.run("DEBUG", "SLEEP", seconds), "+OK\r\n");
    }
    assert.deepEqual(slept, [250, 2000, 1500]);
  });

  it("SET-ACTIVE-EXPIRE 0 stops the active expiry cycle, 1 starts it again; lazy expiry goes on", () => {
    const ours = node({ enableDebugCommand: "yes" });
    ours.run("SET", "a", "1", "PX", "10");
    ours.run("SET", "b", "1", "PX", "10");
    assert.equal(ours.run("DEBUG", "SET-ACTIVE-EXPIRE", "0"), "+OK\r\n");
    ours.advance(100);
    ours.keyspace.activeExpireCycle();
    assert.equal(ours.run("DBSIZE"), ":2\r\n");
    assert.equal(ours.run("GET", "a"), "$-1\r\n");
    assert.equal(ours.run("DBSIZE"), ":1\r\n");
    assert.equal(ours.run("DEBUG", "SET-ACTIVE-EXPIRE", "1"), "+OK\r\n");
    ours.keyspace.activeExpireCycle();
    assert.equal(ours.run("DBSIZE"), ":0\r\n");
  });

  it("RELOAD loads back every key with its TTL, and refuses NOFLUSH over keys (Redis dies there)", () => {
    const ours = node({ enableDebugCommand: "yes" });
    const script = [
      ["SET", "s", "v", "EX", "100"],
      ["RPUSH", "l", "a", "b"],
      ["HSET", "h", "f", "v"],
      ["ZADD", "z", "1.5", "m"],
      ["SADD", "set", "x", "1"],
    ];
    for (const argv of script) ours.run(...argv);
    const before = dumpData(ours.keyspace);
    for (const options of [[], ["NOSAVE"], ["MERGE"], ["NOFLUSH", "MERGE"]]) {
      assert.equal(ours.run("DEBUG", "RELOAD", ...options), "+OK\r\n", options.join(" "));
      assert.deepEqual(dumpData(ours.keyspace), before, options.join(" "));
    }
    assert.equal(
      ours.run("DEBUG", "RELOAD", "NOFLUSH"),
      "-ERR Error trying to load the RDB dump, check server logs.\r\n",
    );
    assert.deepEqual(dumpData(ours.keyspace), before);
    ours.run("FLUSHALL");
    assert.equal(ours.run("DEBUG", "RELOAD", "NOFLUSH"), "+OK\r\n");
  });

  it("RELOAD with persistence on saves a snapshot first: a restart has the same data", async () => {
    const dir = await tempDir();
    try {
      const clock = new FakeClock();
      const config = { enable_debug_command: "yes" };
      const persisted = await openNode(dir.path, { clock, config });
      persisted.run("SET", "a", "1", "EX", "100");
      persisted.run("RPUSH", "l", "x", "y");
      const generation = persisted.persistence.info().find(([name]) => name === "aof_rewrites");
      assert.equal(persisted.run("DEBUG", "RELOAD"), "+OK\r\n");
      assert.notDeepEqual(
        persisted.persistence.info().find(([name]) => name === "aof_rewrites"),
        generation,
      );
      persisted.run("SET", "after", "1");
      const before = dumpData(persisted.keyspace);
      await persisted.close();
      const reopened = await openNode(dir.path, { clock, config });
      assert.deepEqual(dumpData(reopened.keyspace), before);
      await reopened.close();
    } finally {
      await dir.remove();
    }
  });
});

describe("DEBUG on a node", () => {
  const reference = referenceRedis(before, after);

  it("reads enable-debug-command in CONFIG GET and refuses to set it, as Redis does", async (t) => {
    const redis = reference();
    if (redis === undefined) return t.skip("redis-server is not installed");
    const parts = await assembleNode(buildConfig({ port: 0, http: { enabled: false } }), {
      ...await currentRuntime(),
    });
    const out = new ReplyWriter();
    const run = (...argv: string[]) => {
      parts.dispatcher.execute(internalClient(), out, argv);
      return new TextDecoder().decode(out.take());
    };
    for (
      const argv of [
        ["CONFIG", "GET", "enable-debug-command"],
        ["CONFIG", "SET", "enable-debug-command", "yes"],
        ["DEBUG", "SLEEP", "0"],
      ]
    ) {
      assert.equal(run(...argv), await redis.run(...argv), argv.join(" "));
    }
  });

  it("SLEEP stops the whole node: another client's PING waits for it", async () => {
    const parts = await assembleNode(
      buildConfig({ port: 0, http: { enabled: false }, enable_debug_command: "yes" }),
      { ...await currentRuntime() },
    );
    await parts.resp.start();
    const sleeper = await RawClient.open(parts.resp.port);
    const other = await RawClient.open(parts.resp.port);
    try {
      const started = Date.now();
      sleeper.send("DEBUG", "SLEEP", "0.3");
      await sleeper.take(1);
      other.send("PING");
      assert.deepEqual(await other.take(1), ["PONG"]);
      assert.ok(Date.now() - started >= 280, `${Date.now() - started} ms`);
    } finally {
      sleeper.close();
      other.close();
      await parts.resp.stop();
    }
  });
});
