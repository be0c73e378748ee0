/**
 * The AOF stays Redis's: Redis 7's `redis-check-aof` and `redis-server` skip a `#` line where a
 * command may start, so the batch annotations do not stop them reading a HyperCache AOF.
 */
import { timeLimited } from "../_time_limit.ts";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { copyFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { run } from "../e2e/_harness.ts";
import { FakeClock, openNode, tempDir } from "./_node.ts";

const { describe, it } = timeLimited(import.meta.url, 60_000);

const BINARY = "v\r\n#HC:0000000001:00000000\r\n\x00\xff";

/** A HyperCache data directory with several batches: binary values, two stores, a MULTI. */
async function hyperCacheAof(dir: string): Promise<string> {
  const node = await openNode(dir, {
    clock: new FakeClock(Date.now()),
    config: { stores: [{ name: "a" }, { name: "b" }] },
  });
  node.run("SET", "bin", BINARY);
  await node.persistence.aof.waitDurable();
  node.run("HSET", "h", "f1", "x", "f2", "y");
  node.run("RPUSH", "l", "a", "b", "c");
  await node.persistence.aof.waitDurable();
  node.run("SELECT", "1");
  node.run("SET", "ttl", "v", "EX", "1000");
  node.run("MULTI");
  node.run("INCR", "n");
  node.run("INCR", "n");
  node.run("EXEC");
  await node.close();
  return join(dir, "appendonly-1.aof");
}

describe("Redis's own tools read a HyperCache AOF", () => {
  it("redis-check-aof finds an AOF with batch annotations valid", async () => {
    const dir = await tempDir();
    try {
      const aof = await hyperCacheAof(dir.path);
      const result = await run("redis-check-aof", [aof]);
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.match(result.stdout, /is valid/);
    } finally {
      await dir.remove();
    }
  });

  it("redis-server --appendonly yes loads it into the same data", async () => {
    const dir = await tempDir();
    const redisDir = await tempDir();
    const socket = join(redisDir.path, "redis.sock");
    // An old-style appendonly.aof in `dir`: Redis 7 migrates it into its multi-part layout.
    await copyFile(await hyperCacheAof(dir.path), join(redisDir.path, "appendonly.aof"));
    const args = ["--port", "0", "--unixsocket", socket, "--dir", redisDir.path];
    const server = spawn("redis-server", [...args, "--appendonly", "yes", "--save", ""], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let log = "";
    server.stdout!.on("data", (chunk) => log += chunk);
    server.stderr!.on("data", (chunk) => log += chunk);
    const exited = new Promise((resolve) => server.on("exit", resolve));
    try {
      const cli = (...args: string[]) => run("redis-cli", ["-s", socket, ...args]);
      for (let i = 0; i < 100 && (await cli("PING")).stdout.trim() !== "PONG"; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.match(log, /DB loaded from append only file/, log);
      assert.equal((await cli("GET", "bin")).stdout, `${BINARY}\n`);
      assert.equal((await cli("HGETALL", "h")).stdout, "f1\nx\nf2\ny\n");
      assert.equal((await cli("LRANGE", "l", "0", "-1")).stdout, "a\nb\nc\n");
      assert.equal((await cli("-n", "1", "GET", "n")).stdout, "2\n");
      const ttl = Number((await cli("-n", "1", "TTL", "ttl")).stdout);
      assert.ok(ttl > 900 && ttl <= 1000, `TTL ${ttl}`);
      await cli("SHUTDOWN", "NOSAVE");
    } finally {
      if (server.exitCode === null && server.signalCode === null) server.kill("SIGKILL");
      await exited;
      await dir.remove();
      await rm(redisDir.path, { recursive: true, force: true });
    }
  });
});
