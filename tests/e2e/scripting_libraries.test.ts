// Libraries that people build on Redis's Lua scripting, unchanged, against node processes on Deno
// and Bun: redlock (locks through EVALSHA/EVAL), rate-limiter-flexible (its atomic Lua limiter
// through ioredis and through node-redis), and @upstash/redis's EVAL and EVALSHA over HTTP.
import { timeLimited } from "../_time_limit.ts";
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { createClient } from "redis";
import { Redis as Upstash } from "@upstash/redis";
import Redlock from "redlock";
import { RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";
import { cleanup, type NodeProcess, RUNTIMES, startNode } from "./_harness.ts";

const { after, before, describe, it } = timeLimited(import.meta.url, 120_000);

const CONFIG = `
http:
  tokens:
    - token: rw-token
      role: readwrite
`;

for (const runtime of RUNTIMES) {
  describe(`libraries built on Lua scripting, on ${runtime}`, () => {
    let node: NodeProcess;
    let redis: Redis;
    let other: Redis;

    before(async () => {
      node = await startNode(runtime, { config: CONFIG });
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

    it("redlock: one holder at a time, extend keeps it, release frees it", async () => {
      const first = new Redlock([redis], { retryCount: 0 });
      const second = new Redlock([other], { retryCount: 0 });
      const lock = await first.lock("locks:report", 5_000);
      assert.equal(await other.get("locks:report"), lock.value, "the key holds the owner's token");
      await assert.rejects(second.lock("locks:report", 5_000), { name: "LockError" });
      const extended = await lock.extend(20_000);
      const ttl = await other.pttl("locks:report");
      assert.ok(ttl > 15_000 && ttl <= 20_000, `ttl after extend ${ttl}`);
      await extended.unlock();
      assert.equal(await other.exists("locks:report"), 0);
      const next = await second.lock("locks:report", 5_000);
      assert.notEqual(next.value, lock.value);
      await next.unlock();
    });

    it("rate-limiter-flexible through ioredis: allows the points, then refuses with the wait", async () => {
      const limiter = new RateLimiterRedis({
        storeClient: redis,
        keyPrefix: "rl",
        points: 3,
        duration: 10,
      });
      const remaining: number[] = [];
      for (let i = 0; i < 3; i++) {
        remaining.push((await limiter.consume("10.0.0.1")).remainingPoints);
      }
      assert.deepEqual(remaining, [2, 1, 0]);
      const refused = await limiter.consume("10.0.0.1").catch((e) => e);
      assert.ok(refused instanceof RateLimiterRes, `refused with ${refused}`);
      assert.ok(
        refused.msBeforeNext > 8_000 && refused.msBeforeNext <= 10_000,
        `msBeforeNext ${refused.msBeforeNext}`,
      );
      assert.equal(refused.consumedPoints, 4);
      // Another key has its own budget; the counter is a plain key with the window's TTL.
      assert.equal((await limiter.consume("10.0.0.2", 2)).remainingPoints, 1);
      assert.equal(await other.get("rl:10.0.0.2"), "2");
      const ttl = await other.pttl("rl:10.0.0.2");
      assert.ok(ttl > 8_000 && ttl <= 10_000, `ttl ${ttl}`);
      await limiter.delete("10.0.0.1");
      assert.equal((await limiter.consume("10.0.0.1")).remainingPoints, 2);
    });

    it("rate-limiter-flexible through node-redis (EVAL with keys and arguments)", async () => {
      const client = createClient({ socket: { port: node.port, reconnectStrategy: false } });
      client.on("error", () => {});
      await client.connect();
      try {
        const limiter = new RateLimiterRedis({
          storeClient: client,
          useRedisPackage: true,
          keyPrefix: "rlnr",
          points: 2,
          duration: 5,
        });
        assert.equal((await limiter.consume("user")).remainingPoints, 1);
        assert.equal((await limiter.consume("user")).remainingPoints, 0);
        const refused = await limiter.consume("user").catch((e) => e);
        assert.ok(refused instanceof RateLimiterRes, `refused with ${refused}`);
        assert.ok(refused.msBeforeNext > 3_000 && refused.msBeforeNext <= 5_000);
      } finally {
        await client.quit();
      }
    });

    it("@upstash/redis: EVAL, SCRIPT LOAD and EVALSHA over HTTP", async () => {
      const upstash = new Upstash({ url: `http://127.0.0.1:${node.httpPort}`, token: "rw-token" });
      const script = "redis.call('set', KEYS[1], ARGV[1]); return {redis.call('get', KEYS[1]), 7}";
      assert.deepEqual(await upstash.eval(script, ["up:k"], ["héllo"]), ["héllo", 7]);
      assert.equal(await redis.get("up:k"), "héllo");
      const sha = await upstash.scriptLoad("return tonumber(ARGV[1]) * 2");
      assert.equal(sha, await redis.script("LOAD", "return tonumber(ARGV[1]) * 2"));
      assert.equal(await upstash.evalsha(sha, [], ["21"]), 42);
      await assert.rejects(upstash.evalsha("0".repeat(40), [], []), /NOSCRIPT/);
    });
  });
}
