import { timeLimited } from "../_time_limit.ts";
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { RUNTIMES } from "./_harness.ts";
import {
  ADMIN_PASSWORD,
  type ClientNode,
  READER,
  startClientNode,
} from "./fixtures/_client_node.ts";

const { after, before, describe, it } = timeLimited(import.meta.url, 120_000);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (const runtime of RUNTIMES) {
  describe(`ioredis against a node on ${runtime}`, () => {
    let server: ClientNode;
    const clients: Redis[] = [];
    const connect = (options: Record<string, unknown> = {}): Redis => {
      const client = new Redis({
        host: "127.0.0.1",
        port: server.node.port,
        password: ADMIN_PASSWORD,
        maxRetriesPerRequest: 1,
        retryStrategy: () => null,
        ...options,
      });
      client.on("error", () => {});
      clients.push(client);
      return client;
    };
    let redis: Redis;

    before(async () => {
      server = await startClientNode(runtime);
      redis = connect();
    });
    after(async () => {
      for (const client of clients) client.disconnect();
      await server?.stop();
    });

    it("sets, gets, counts and reads several strings at once", async () => {
      assert.equal(await redis.set("io:s", "hello", "EX", 100), "OK");
      assert.equal(await redis.get("io:s"), "hello");
      assert.equal(await redis.incrby("io:n", 41), 41);
      assert.equal(await redis.incr("io:n"), 42);
      assert.equal(await redis.mset({ "io:a": "1", "io:b": "2" }), "OK");
      assert.deepEqual(await redis.mget("io:a", "io:b", "io:none"), ["1", "2", null]);
      assert.equal(await redis.append("io:s", " world"), 11);
      assert.equal(await redis.getrange("io:s", 6, -1), "world");
      const ttl = await redis.ttl("io:s");
      assert.ok(ttl > 0 && ttl <= 100, `TTL ${ttl}`);
      const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      await redis.set("io:bin", bytes);
      assert.deepEqual(await redis.getBuffer("io:bin"), bytes);
    });

    it("stores a hash and reads it back as an object", async () => {
      assert.equal(await redis.hset("io:h", { f1: "a", f2: "b", n: "1" }), 3);
      assert.equal(await redis.hincrby("io:h", "n", 9), 10);
      assert.deepEqual(await redis.hgetall("io:h"), { f1: "a", f2: "b", n: "10" });
      assert.deepEqual(await redis.hmget("io:h", "f2", "zz"), ["b", null]);
      assert.equal(await redis.hdel("io:h", "f1"), 1);
      assert.equal(await redis.hlen("io:h"), 2);
    });

    it("pushes, ranges and pops a list", async () => {
      assert.equal(await redis.rpush("io:l", "a", "b", "c", "d"), 4);
      assert.deepEqual(await redis.lrange("io:l", 0, -1), ["a", "b", "c", "d"]);
      assert.equal(await redis.lpop("io:l"), "a");
      assert.deepEqual(await redis.rpop("io:l", 2), ["d", "c"]);
      assert.equal(await redis.llen("io:l"), 1);
    });

    it("adds to sets and intersects them", async () => {
      assert.equal(await redis.sadd("io:s1", "x", "y", "z"), 3);
      await redis.sadd("io:s2", "y", "z", "w");
      assert.deepEqual((await redis.sinter("io:s1", "io:s2")).sort(), ["y", "z"]);
      assert.equal(await redis.sismember("io:s1", "x"), 1);
      assert.deepEqual(await redis.smismember("io:s1", "x", "w"), [1, 0]);
      assert.equal(await redis.scard("io:s2"), 3);
    });

    it("ranks and scores a sorted set", async () => {
      assert.equal(await redis.zadd("io:z", 1, "a", 2.5, "b", 3, "c"), 3);
      assert.deepEqual(await redis.zrange("io:z", 0, -1, "WITHSCORES"), [
        "a",
        "1",
        "b",
        "2.5",
        "c",
        "3",
      ]);
      assert.equal(await redis.zscore("io:z", "b"), "2.5");
      assert.equal(await redis.zrank("io:z", "c"), 2);
      assert.equal(await redis.zincrby("io:z", 10, "a"), "11");
      assert.deepEqual(await redis.zrangebyscore("io:z", 2, 5), ["b", "c"]);
    });

    it("answers a pipeline in order, with a per-command error", async () => {
      const results = await redis.pipeline()
        .set("io:p", "1")
        .incr("io:p")
        .hset("io:p", "f", "v")
        .get("io:p")
        .exec();
      assert.ok(results);
      assert.deepEqual(results[0], [null, "OK"]);
      assert.deepEqual(results[1], [null, 2]);
      assert.match(String(results[2][0]), /^ReplyError: WRONGTYPE/);
      assert.deepEqual(results[3], [null, "2"]);
    });

    it("commits a watched transaction and aborts one whose key changed", async () => {
      await redis.set("io:w", "0");
      await redis.watch("io:w");
      const committed = await redis.multi().incr("io:w").get("io:w").exec();
      assert.deepEqual(committed, [[null, 1], [null, "1"]]);

      const other = connect();
      await redis.watch("io:w");
      await other.set("io:w", "changed");
      const aborted = await redis.multi().set("io:w", "mine").exec();
      assert.equal(aborted, null);
      assert.equal(await redis.get("io:w"), "changed");
    });

    it("delivers message and pmessage, and nothing after unsubscribing", async () => {
      const subscriber = connect();
      const seen: string[] = [];
      subscriber.on(
        "message",
        (channel: string, message: string) => seen.push(`message ${channel} ${message}`),
      );
      subscriber.on(
        "pmessage",
        (pattern: string, channel: string, message: string) =>
          seen.push(`pmessage ${pattern} ${channel} ${message}`),
      );
      assert.equal(await subscriber.subscribe("io:news"), 1);
      assert.equal(await subscriber.psubscribe("io:n*"), 2);
      assert.equal(await redis.publish("io:news", "hi"), 2);
      assert.equal(await redis.publish("io:nope", "p-only"), 1);
      for (let i = 0; i < 50 && seen.length < 3; i++) await sleep(20);
      assert.deepEqual(seen.sort(), [
        "message io:news hi",
        "pmessage io:n* io:news hi",
        "pmessage io:n* io:nope p-only",
      ]);
      await subscriber.unsubscribe("io:news");
      await subscriber.punsubscribe("io:n*");
      assert.equal(await redis.publish("io:news", "late"), 0);
      await sleep(50);
      assert.equal(seen.length, 3);
    });

    it("serves a BLPOP from a later push, and times one out with null", async () => {
      const blocked = connect();
      const started = Date.now();
      const popping = blocked.blpop("io:queue", 5);
      await sleep(100);
      assert.equal(await redis.rpush("io:queue", "job"), 1);
      assert.deepEqual(await popping, ["io:queue", "job"]);
      assert.ok(Date.now() - started < 3000);

      const before = Date.now();
      assert.equal(await blocked.blpop("io:empty", 0.3), null);
      assert.ok(Date.now() - before >= 250, "timed out too early");
    });

    it("lets a read-only user read and refuses its writes with NOPERM", async () => {
      await redis.set("io:ro", "visible");
      const reader = connect({ username: READER.name, password: READER.password });
      assert.equal(await reader.get("io:ro"), "visible");
      await assert.rejects(reader.set("io:ro", "nope"), /^ReplyError: NOPERM/);
      assert.equal(await reader.get("io:ro"), "visible");
      const stranger = connect({ password: "wrong" });
      await assert.rejects(stranger.ping(), /WRONGPASS|NOAUTH/);
    });

    it("talks over TLS trusting the self-signed certificate", async () => {
      const secure = connect({ port: server.node.tlsPort, tls: { ca: server.ca } });
      assert.equal(await secure.set("io:tls", "secret"), "OK");
      assert.equal(await secure.get("io:tls"), "secret");
      assert.equal(await redis.get("io:tls"), "secret");
    });
  });
}
