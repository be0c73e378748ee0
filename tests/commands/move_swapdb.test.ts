/**
 * MOVE and SWAPDB against redis-server 7.0: the same scripts on the 16 numbered databases give
 * byte-identical replies; watchers of swapped keys are told, blocked clients are served, the
 * AOF replays them to the same data, and a cluster node refuses both with Redis's errors.
 */
import assert from "node:assert/strict";
import { buildConfig } from "../../src/config/config.ts";
import { assembleNode } from "../../src/node.ts";
import { currentRuntime } from "../../src/runtime/mod.ts";
import { Dispatcher } from "../../src/commands/dispatch.ts";
import { createCommandTable } from "../../src/commands/table.ts";
import { type ClusterHooks, internalClient, type ServerHooks } from "../../src/commands/types.ts";
import { Keyspace } from "../../src/keyspace/keyspace.ts";
import { ReplyWriter } from "../../src/resp/writer.ts";
import { RawClient } from "../e2e/_raw_client.ts";
import { err, harness, int, OK } from "./_ext_harness.ts";
import { subscriberNotifications as notifications } from "./_keyspace_events.ts";
import { referenceRedis } from "./_redis_reference.ts";
import { timeLimited } from "../_time_limit.ts";
import { dumpData, FakeClock, openNode, tempDir } from "../persistence/_node.ts";

const { after, before, describe, it } = timeLimited(import.meta.url, 60_000);

const c = (line: string): string[] => line.split(" ").map((arg) => (arg === "''" ? "" : arg));

const CASES: Record<string, string[]> = {
  "MOVE moves a key with its TTL to another database, only where the key is absent": [
    "SET a 1",
    "SET b 2 EX 100",
    "RPUSH l x y",
    "MOVE a 1",
    "EXISTS a",
    "MOVE b 15",
    "MOVE l 1",
    "SELECT 15",
    "GET b",
    "TTL b",
    "SELECT 1",
    "GET a",
    "LRANGE l 0 -1",
    "SET c here",
    "SELECT 0",
    "SET c there",
    "MOVE c 1",
    "GET c",
    "MOVE nokey 1",
    "SELECT 1",
    "MOVE a 0",
    "SELECT 0",
    "GET a",
  ],
  "MOVE checks the index, then the same database, then the key, with redis-server's errors": [
    "SET a 1",
    "MOVE a 0",
    "MOVE nokey 0",
    "MOVE a 16",
    "MOVE a -1",
    "MOVE a x",
    "MOVE a 015",
    "MOVE a 1.5",
    "MOVE a ''",
    "MOVE a 2147483648",
    "MOVE a -2147483649",
    "MOVE a 99999999999999999999",
    "MOVE a",
    "MOVE a 1 2",
    "SELECT 1",
    "MOVE a 1",
  ],
  "SWAPDB exchanges two databases' keys, TTLs included, and leaves the rest alone": [
    "SET a 0",
    "SET t x EX 100",
    "SELECT 1",
    "SET a 1",
    "HSET h f v",
    "SELECT 2",
    "SET a 2",
    "SWAPDB 0 1",
    "SELECT 0",
    "GET a",
    "HGET h f",
    "EXISTS t",
    "SELECT 1",
    "GET a",
    "TTL t",
    "SELECT 2",
    "GET a",
    "SWAPDB 1 0",
    "SWAPDB 2 2",
    "GET a",
    "SELECT 0",
    "GET a",
    "DBSIZE",
    "SWAPDB 0 15",
    "DBSIZE",
    "SELECT 15",
    "DBSIZE",
    "SWAPDB 15 0",
  ],
  "SWAPDB answers redis-server's errors for each index": [
    "SWAPDB 0 16",
    "SWAPDB 16 0",
    "SWAPDB -1 0",
    "SWAPDB x 0",
    "SWAPDB 0 x",
    "SWAPDB x y",
    "SWAPDB 00 1",
    "SWAPDB 0 2147483648",
    "SWAPDB 0 -2147483649",
    "SWAPDB 1.0 2",
    "SWAPDB 0",
    "SWAPDB 0 1 2",
  ],
  "MOVE has its key at argv[1] and SWAPDB none, as redis-server finds them": [
    "COMMAND GETKEYS MOVE a 1",
    "COMMAND GETKEYS SWAPDB 0 1",
  ],
};

describe("MOVE and SWAPDB replies equal redis-server's", () => {
  const reference = referenceRedis(before, after);
  for (const [name, lines] of Object.entries(CASES)) {
    it(name, async (t) => {
      const redis = reference();
      if (redis === undefined) return t.skip("redis-server is not installed");
      await redis.run("SELECT", "0");
      await redis.run("FLUSHALL");
      const ours = harness({ stores: 16 });
      for (const line of lines) {
        const argv = c(line);
        assert.equal(
          JSON.stringify(ours.run(...argv)),
          JSON.stringify(await redis.run(...argv)),
          line,
        );
      }
    });
  }
});

describe("MOVE and SWAPDB", () => {
  it("log themselves for the AOF, MOVE as it came and SWAPDB even when nothing moved", () => {
    const ours = harness({ stores: 16 });
    ours.run("SET", "a", "1");
    ours.run("MOVE", "a", "3");
    ours.run("MOVE", "a", "3");
    ours.run("SWAPDB", "3", "4");
    ours.run("SWAPDB", "5", "6");
    assert.deepEqual(ours.propagated, [
      ["0", "SET", "a", "1"],
      ["0", "MOVE", "a", "3"],
      ["0", "SWAPDB", "3", "4"],
      ["0", "SWAPDB", "5", "6"],
    ]);
  });

  it("carry a key's access data: MOVE's own access counts, as Redis's lookup does, SWAPDB's not", () => {
    const ours = harness({ stores: 16, policy: "allkeys-lru" });
    ours.run("SET", "a", "1");
    ours.advance(30_000);
    assert.equal(ours.run("MOVE", "a", "2"), int(1));
    ours.run("SELECT", "2");
    assert.equal(ours.run("OBJECT", "IDLETIME", "a"), int(0));
    ours.advance(20_000);
    assert.equal(ours.run("SWAPDB", "2", "7"), OK);
    ours.run("SELECT", "7");
    assert.equal(ours.run("OBJECT", "IDLETIME", "a"), int(20));
  });

  it("make EXEC fail for a client watching a key either database holds, as in Redis", () => {
    const { run } = sixteen();
    run(1, "SELECT", "1");
    run(1, "SET", "k", "v");
    run(1, "SELECT", "0");
    // A watched key that exists in neither database is left alone.
    for (const [key, expected] of [["k", "*-1\r\n"], ["none", "*1\r\n+OK\r\n"]]) {
      assert.equal(run(1, "WATCH", key), OK);
      assert.equal(run(1, "MULTI"), OK);
      assert.equal(run(1, "SET", "x", "1"), "+QUEUED\r\n");
      assert.equal(run(2, "SWAPDB", "0", "1"), OK);
      assert.equal(run(1, "EXEC"), expected, key);
    }
  });

  it("replay from the AOF to the same data in every database", async () => {
    const dir = await tempDir();
    try {
      const clock = new FakeClock();
      const config = { databases: 16 };
      const node = await openNode(dir.path, { clock, config });
      const script = [
        ["SET", "a", "1"],
        ["SET", "v", "x", "EX", "100"],
        ["RPUSH", "l", "p", "q"],
        ["MOVE", "v", "2"],
        ["SWAPDB", "0", "2"],
        ["SELECT", "2"],
        ["MOVE", "l", "5"],
        ["SWAPDB", "5", "9"],
        ["SELECT", "0"],
        ["SET", "after", "1"],
      ];
      for (const argv of script) assert.ok(!node.run(...argv).startsWith("-"), argv.join(" "));
      const before = dumpData(node.keyspace);
      await node.close();
      clock.nowMs += 5_000;
      const reopened = await openNode(dir.path, { clock, config });
      assert.deepEqual(dumpData(reopened.keyspace), before);
      await reopened.close();
    } finally {
      await dir.remove();
    }
  });

  it("refuse, with persistence on, to cross between a store that persists and one that does not", async () => {
    const dir = await tempDir();
    try {
      const config = { stores: [{ name: "default" }, { name: "cache", persist: false }] };
      const node = await openNode(dir.path, { config });
      node.run("SET", "a", "1");
      const refused = (name: string) =>
        `-ERR ${name} between a store that persists and one that does not would not replay from the AOF\r\n`;
      assert.equal(node.run("MOVE", "a", "1"), refused("MOVE"));
      assert.equal(node.run("SWAPDB", "0", "1"), refused("SWAPDB"));
      // Numbered databases past the listed stores take store 0's settings: they persist.
      assert.equal(node.run("MOVE", "a", "2"), ":1\r\n");
      assert.equal(node.run("SWAPDB", "0", "2"), "+OK\r\n");
      await node.close();
    } finally {
      await dir.remove();
    }
  });

  it("are refused on a cluster node with Redis's errors, before their arguments are read", () => {
    const { run } = sixteen({ cluster: {} as ClusterHooks });
    run(1, "SET", "a", "1");
    assert.equal(run(1, "MOVE", "a", "1"), err("ERR MOVE is not allowed in cluster mode"));
    assert.equal(run(1, "MOVE", "a", "x"), err("ERR MOVE is not allowed in cluster mode"));
    assert.equal(run(1, "SWAPDB", "0", "1"), err("ERR SWAPDB is not allowed in cluster mode"));
    assert.equal(run(1, "SWAPDB", "x", "1"), err("ERR SWAPDB is not allowed in cluster mode"));
  });
});

describe("MOVE and SWAPDB on a node", () => {
  const reference = referenceRedis(before, after);
  let port = 0;
  let stop: () => Promise<void> = async () => {};
  before(async () => {
    const parts = await assembleNode(buildConfig({ port: 0, http: { enabled: false } }), {
      ...await currentRuntime(),
    });
    await parts.resp.start();
    port = parts.resp.port;
    stop = () => parts.resp.stop();
  });
  after(() => stop());

  it("notify move_from and move_to in their own databases, and SWAPDB nothing, as Redis does", async (t) => {
    const redis = reference();
    if (redis === undefined) return t.skip("redis-server is not installed");
    const commands = [
      ["SET", "a", "1"],
      ["MOVE", "a", "3"],
      ["MOVE", "a", "3"],
      ["SWAPDB", "0", "3"],
      ["SELECT", "0"],
      ["MOVE", "a", "5"],
    ];
    const expected = await notifications(redis.port, commands);
    assert.ok(expected.length > 0);
    assert.deepEqual(await notifications(port, commands), expected);
  });

  it("serves a client blocked on a key the swapped database holds, and leaves one on a string", async () => {
    const blocked = await RawClient.open(port);
    const onString = await RawClient.open(port);
    const writer = await RawClient.open(port);
    try {
      writer.send("SELECT", "1");
      writer.send("RPUSH", "jobs", "j1");
      writer.send("SET", "text", "s");
      await writer.take(3);
      blocked.send("BLPOP", "jobs", "0");
      onString.send("BLPOP", "text", "1");
      await blockedClients(writer, 2);
      writer.send("SWAPDB", "0", "1");
      assert.deepEqual(await writer.take(1), ["OK"]);
      assert.deepEqual(await blocked.take(1), [["jobs", "j1"]]);
      assert.deepEqual(await onString.take(1), [null]);
    } finally {
      blocked.close();
      onString.close();
      writer.close();
    }
  });
});

/** Waits until the node has `count` blocked clients. */
async function blockedClients(client: RawClient, count: number): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    client.send("INFO", "clients");
    const [info] = await client.take(1);
    if (String(info).includes(`blocked_clients:${count}\r\n`)) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`never ${count} blocked clients`);
}

/** A dispatcher over 16 databases with two clients (1 and 2), and the given server hooks. */
function sixteen(hooks: Partial<ServerHooks> = {}) {
  const keyspace = new Keyspace(
    Array.from({ length: 16 }, (_, i) => ({
      name: i === 0 ? "default" : String(i),
      maxMemoryBytes: 0,
      evictionPolicy: "noeviction" as const,
      defaultTtlMs: 0,
    })),
    { monotonicMs: () => 0, realtimeMs: () => 1_700_000_000_000 },
  );
  const dispatcher = new Dispatcher(createCommandTable(), keyspace, { info: () => "", ...hooks });
  const clients = [internalClient({ id: 1 }), internalClient({ id: 2 })];
  const out = new ReplyWriter();
  return {
    keyspace,
    run(client: 1 | 2, ...argv: string[]): string {
      dispatcher.execute(clients[client - 1], out, argv);
      return new TextDecoder("latin1").decode(out.take());
    },
  };
}
