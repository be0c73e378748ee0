import { timeLimited } from "../_time_limit.ts";
import assert from "node:assert/strict";
import { createClient, WatchError } from "redis";
import { RUNTIMES } from "./_harness.ts";
import {
  ADMIN_PASSWORD,
  type ClientNode,
  READER,
  startClientNode,
} from "./fixtures/_client_node.ts";

const { after, before, describe, it } = timeLimited(import.meta.url, 120_000);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Client = ReturnType<typeof createClient>;

for (const runtime of RUNTIMES) {
  describe(`node-redis (RESP3 through HELLO 3) against a node on ${runtime}`, () => {
    let server: ClientNode;
    const clients: Client[] = [];
    const connect = async (
      options: { username?: string; password?: string; tls?: boolean; RESP?: 2 | 3 } = {},
    ): Promise<Client> => {
      const client = createClient({
        RESP: options.RESP ?? 3,
        username: options.username,
        password: options.password ?? ADMIN_PASSWORD,
        socket: options.tls
          ? {
            host: "127.0.0.1",
            port: server.node.tlsPort,
            tls: true,
            ca: server.ca,
            reconnectStrategy: false,
          }
          : { host: "127.0.0.1", port: server.node.port, reconnectStrategy: false },
      });
      client.on("error", () => {});
      clients.push(client as Client);
      await client.connect();
      return client as Client;
    };
    let redis: Client;

    before(async () => {
      server = await startClientNode(runtime);
      redis = await connect();
    });
    after(async () => {
      for (const client of clients) if (client.isOpen) client.destroy();
      await server?.stop();
    });

    it("reports protocol 3 from HELLO and decodes its map", async () => {
      const hello = await redis.hello();
      assert.equal(hello.proto, 3);
      assert.equal(hello.server, "redis");
      assert.equal(typeof hello.version, "string");
      assert.equal(typeof hello.id, "number");
    });

    it("sets, gets, counts and reads several strings at once", async () => {
      assert.equal(await redis.set("nr:s", "hello", { EX: 100 }), "OK");
      assert.equal(await redis.get("nr:s"), "hello");
      assert.equal(await redis.incrBy("nr:n", 41), 41);
      assert.equal(await redis.incr("nr:n"), 42);
      assert.equal(await redis.incrByFloat("nr:f", 1.5), "1.5");
      assert.equal(await redis.mSet({ "nr:a": "1", "nr:b": "2" }), "OK");
      assert.deepEqual(await redis.mGet(["nr:a", "nr:b", "nr:none"]), ["1", "2", null]);
      assert.equal(await redis.get("nr:none"), null);
      const ttl = await redis.ttl("nr:s");
      assert.ok(ttl > 0 && ttl <= 100, `TTL ${ttl}`);
    });

    it("stores a hash and reads it back as an object from a RESP3 map", async () => {
      assert.equal(await redis.hSet("nr:h", { f1: "a", f2: "b", n: "1" }), 3);
      assert.equal(await redis.hIncrBy("nr:h", "n", 9), 10);
      assert.deepEqual({ ...await redis.hGetAll("nr:h") }, { f1: "a", f2: "b", n: "10" });
      assert.deepEqual({ ...await redis.hGetAll("nr:missing") }, {});
      assert.deepEqual(await redis.hmGet("nr:h", ["f2", "zz"]), ["b", null]);
      assert.equal(await redis.hLen("nr:h"), 3);
    });

    it("pushes, ranges and pops a list", async () => {
      assert.equal(await redis.rPush("nr:l", ["a", "b", "c", "d"]), 4);
      assert.deepEqual(await redis.lRange("nr:l", 0, -1), ["a", "b", "c", "d"]);
      assert.equal(await redis.lPop("nr:l"), "a");
      assert.deepEqual(await redis.rPopCount("nr:l", 2), ["d", "c"]);
      assert.equal(await redis.lLen("nr:l"), 1);
      assert.equal(await redis.lPop("nr:empty"), null);
    });

    it("adds to sets and reads them back from RESP3 sets", async () => {
      assert.equal(await redis.sAdd("nr:s1", ["x", "y", "z"]), 3);
      await redis.sAdd("nr:s2", ["y", "z", "w"]);
      assert.deepEqual([...await redis.sMembers("nr:s1")].sort(), ["x", "y", "z"]);
      assert.deepEqual([...await redis.sInter(["nr:s1", "nr:s2"])].sort(), ["y", "z"]);
      assert.equal(await redis.sIsMember("nr:s1", "x"), 1);
      assert.equal(await redis.sCard("nr:s2"), 3);
    });

    it("ranks a sorted set and decodes RESP3 doubles as numbers", async () => {
      assert.equal(
        await redis.zAdd("nr:z", [{ score: 1, value: "a" }, { score: 2.5, value: "b" }, {
          score: 3,
          value: "c",
        }]),
        3,
      );
      assert.deepEqual(await redis.zRangeWithScores("nr:z", 0, -1), [
        { value: "a", score: 1 },
        { value: "b", score: 2.5 },
        { value: "c", score: 3 },
      ]);
      assert.equal(await redis.zScore("nr:z", "b"), 2.5);
      assert.equal(await redis.zScore("nr:z", "nobody"), null);
      assert.equal(await redis.zRank("nr:z", "c"), 2);
      assert.equal(await redis.zIncrBy("nr:z", 10, "a"), 11);
      assert.deepEqual(await redis.zPopMin("nr:z"), { value: "b", score: 2.5 });
    });

    it("answers a pipeline in order", async () => {
      const results = await redis.multi()
        .set("nr:p", "1")
        .incr("nr:p")
        .get("nr:p")
        .execAsPipeline();
      assert.deepEqual(results, ["OK", 2, "2"]);
      const parallel = await Promise.all([
        redis.set("nr:q", "x"),
        redis.append("nr:q", "y"),
        redis.get("nr:q"),
      ]);
      assert.deepEqual(parallel, ["OK", 2, "xy"]);
    });

    it("commits a watched transaction and aborts one whose key changed", async () => {
      const watcher = await connect();
      await watcher.set("nr:w", "0");
      await watcher.watch("nr:w");
      assert.deepEqual(await watcher.multi().incr("nr:w").get("nr:w").exec(), [1, "1"]);

      await watcher.watch("nr:w");
      await redis.set("nr:w", "changed");
      await assert.rejects(
        watcher.multi().set("nr:w", "mine").exec(),
        (error: Error) => error instanceof WatchError,
      );
      assert.equal(await redis.get("nr:w"), "changed");
    });

    it("delivers message and pmessage, and nothing after unsubscribing", async () => {
      const subscriber = await connect();
      const seen: string[] = [];
      await subscriber.subscribe("nr:news", (message, channel) => {
        seen.push(`message ${channel} ${message}`);
      });
      await subscriber.pSubscribe("nr:n*", (message, channel) => {
        seen.push(`pmessage ${channel} ${message}`);
      });
      assert.equal(await redis.publish("nr:news", "hi"), 2);
      assert.equal(await redis.publish("nr:nope", "p-only"), 1);
      for (let i = 0; i < 50 && seen.length < 3; i++) await sleep(20);
      assert.deepEqual(seen.sort(), [
        "message nr:news hi",
        "pmessage nr:news hi",
        "pmessage nr:nope p-only",
      ]);
      assert.deepEqual(await redis.pubSubNumSub("nr:news"), { "nr:news": 1 });
      await subscriber.unsubscribe("nr:news");
      await subscriber.pUnsubscribe("nr:n*");
      assert.equal(await redis.publish("nr:news", "late"), 0);
      // The connection is usable for ordinary commands again.
      assert.equal(await subscriber.ping(), "PONG");
      assert.equal(seen.length, 3);
    });

    it("serves a BLPOP from a later push, and times one out with null", async () => {
      const blocked = await connect();
      const popping = blocked.blPop("nr:queue", 5);
      await sleep(100);
      assert.equal(await redis.rPush("nr:queue", "job"), 1);
      assert.deepEqual({ ...await popping }, { key: "nr:queue", element: "job" });

      const before = Date.now();
      assert.equal(await blocked.blPop("nr:empty", 0.3), null);
      assert.ok(Date.now() - before >= 250, "timed out too early");
    });

    it("lets a read-only user read and refuses its writes with NOPERM", async () => {
      await redis.set("nr:ro", "visible");
      const reader = await connect({ username: READER.name, password: READER.password });
      assert.equal(await reader.get("nr:ro"), "visible");
      await assert.rejects(reader.set("nr:ro", "nope"), {
        message: "NOPERM User reader has no permissions to run the 'set' command",
      });
      assert.equal(await reader.get("nr:ro"), "visible");
      await assert.rejects(connect({ password: "wrong" }), /WRONGPASS/);
    });

    it("works with RESP2 too (no HELLO, AUTH instead)", async () => {
      const legacy = await connect({ RESP: 2 });
      assert.equal(await legacy.set("nr:r2", "v"), "OK");
      await legacy.hSet("nr:r2h", { a: "1" });
      assert.deepEqual({ ...await legacy.hGetAll("nr:r2h") }, { a: "1" });
      await legacy.zAdd("nr:r2z", { score: 1.5, value: "m" });
      assert.deepEqual(await legacy.zRangeWithScores("nr:r2z", 0, -1), [{
        value: "m",
        score: 1.5,
      }]);
    });

    it("talks over TLS trusting the self-signed certificate", async () => {
      const secure = await connect({ tls: true });
      assert.equal(await secure.set("nr:tls", "secret"), "OK");
      assert.equal(await secure.get("nr:tls"), "secret");
      assert.equal(await redis.get("nr:tls"), "secret");
    });
  });
}
