/**
 * The embedded cache from mod.ts: the typed operations agree with the node's own commands (a
 * model check over random operations), binary values come back byte-exact, data survives a reopen
 * of its `dataDir`, and the HTTP API answers through the `fetch` handler, mounted in a Hono app,
 * and for `@upstash/redis` over a real `deno serve` of examples/edge.ts.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hono } from "hono";
import { Redis } from "@upstash/redis";
import { createCache } from "../../mod.ts";
import { mulberry32 } from "../_mulberry32.ts";
import { timeLimited } from "../_time_limit.ts";
import { runtimeBinary } from "../e2e/_harness.ts";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import process from "node:process";

const { describe, it } = timeLimited(import.meta.url, 60_000);

describe("the embedded cache", () => {
  it("answers its typed operations as its own commands would, over random operations", async () => {
    const cache = await createCache();
    const random = mulberry32(7);
    const keys = ["a", "b", "c", "ü"];
    const model = new Map<string, string>();
    try {
      for (let i = 0; i < 2000; i++) {
        const key = keys[Math.floor(random() * keys.length)];
        const op = Math.floor(random() * 4);
        if (op === 0) {
          const value = `v${Math.floor(random() * 100)}€`;
          await cache.set(key, value);
          model.set(key, value);
        } else if (op === 1) {
          assert.equal(await cache.get(key), model.get(key) ?? null);
          assert.equal(await cache.command("GET", key), model.get(key) ?? null);
        } else if (op === 2) {
          assert.equal(await cache.del(key), model.delete(key) ? 1 : 0);
        } else {
          assert.deepEqual(await cache.mget(...keys), keys.map((k) => model.get(k) ?? null));
        }
      }
      assert.equal(await cache.command("DBSIZE"), model.size);
    } finally {
      await cache.close();
    }
  });

  it("keeps bytes byte-exact, counts, hashes and TTLs, and rejects with the error reply", async () => {
    const cache = await createCache();
    try {
      const bytes = new Uint8Array([0, 255, 13, 10, 128, 7]);
      await cache.set("bin", bytes);
      assert.deepEqual(await cache.getBytes("bin"), bytes);
      assert.equal(await cache.incr("n"), 1);
      assert.equal(await cache.incr("n", 41), 42);
      assert.equal(await cache.hset("h", { f: "1", g: "2" }), 2);
      assert.equal(await cache.hget("h", "g"), "2");
      assert.deepEqual(await cache.hgetall("h"), { f: "1", g: "2" });
      await cache.set("t", "x", { ttlMs: 100_000 });
      assert.ok((await cache.command("PTTL", "t") as number) > 99_000);
      assert.equal(await cache.expire("none", 1000), false);
      await assert.rejects(cache.incr("h"), /WRONGTYPE/);
      assert.equal(await cache.command("LPUSH", "l", "a", "b"), 2);
    } finally {
      await cache.close();
    }
  });

  it("recovers its data from dataDir when opened again", async () => {
    const dir = await mkdtemp(join(tmpdir(), "hc-embedded-"));
    try {
      const first = await createCache({ dataDir: dir });
      await first.set("kept", "yes");
      await first.getOrSet("loaded", () => "once", { ttlMs: 60_000 });
      await first.command("RPUSH", "list", "1", "2");
      await first.close();
      const second = await createCache({ dataDir: dir });
      assert.equal(await second.get("kept"), "yes");
      assert.equal(
        await second.getOrSet("loaded", () => "again", { ttlMs: 60_000 }),
        "once",
        "getOrSet's entry survives the restart",
      );
      assert.deepEqual(await second.command("LRANGE", "list", "0", "-1"), ["1", "2"]);
      await second.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("runs getOrSet's loader once for 1,000 concurrent callers of a missing key", async () => {
    const cache = await createCache();
    try {
      let loads = 0;
      const loader = async () => {
        loads++;
        await new Promise((resolve) => setTimeout(resolve, 20));
        return "computed";
      };
      const results = await Promise.all(
        Array.from({ length: 1000 }, () => cache.getOrSet("hot", loader, { ttlMs: 60_000 })),
      );
      assert.equal(loads, 1);
      assert.ok(results.every((value) => value === "computed"));
      assert.equal(await cache.getOrSet("hot", loader, { ttlMs: 60_000 }), "computed");
      assert.equal(loads, 1, "a fresh value is not loaded again");
    } finally {
      await cache.close();
    }
  });

  it("serves a stale value within its grace while one caller refreshes it, and on a failed load", async () => {
    const cache = await createCache();
    try {
      let version = 0;
      let fail = false;
      const loader = async () => {
        await new Promise((resolve) => setTimeout(resolve, 30));
        if (fail) throw new Error("backend down");
        return `v${++version}`;
      };
      const options = { ttlMs: 40, graceMs: 60_000 };
      assert.equal(await cache.getOrSet("page", loader, options), "v1");
      await new Promise((resolve) => setTimeout(resolve, 60));
      // Stale: answered at once with v1; the refresh runs behind it, once.
      const stale = await Promise.all([1, 2, 3].map(() => cache.getOrSet("page", loader, options)));
      assert.deepEqual(stale, ["v1", "v1", "v1"]);
      assert.equal(version, 1, "answered before the refresh finished");
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(version, 2, "one refresh");
      assert.equal(await cache.getOrSet("page", loader, options), "v2");
      // The loader fails: the stale value is still the answer; with none, the error.
      fail = true;
      await new Promise((resolve) => setTimeout(resolve, 60));
      assert.equal(await cache.getOrSet("page", loader, options), "v2");
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(await cache.getOrSet("page", loader, options), "v2");
      await assert.rejects(cache.getOrSet("never", loader, options), /backend down/);
      await assert.rejects(
        cache.getOrSet("page", loader, { ttlMs: 0 }),
        /ttlMs must be a positive integer of ms, not 0/,
      );
      await assert.rejects(
        cache.getOrSet("page", loader, { ttlMs: 10, graceMs: -1 }),
        /graceMs must be an integer of ms from 0, not -1/,
      );
    } finally {
      await cache.close();
    }
  });

  it("serves the HTTP API through fetch, and mounted under a path of a Hono app", async () => {
    const cache = await createCache();
    try {
      await cache.set("greeting", "hello");
      const direct = await cache.fetch(new Request("http://cache/api/cache/greeting"));
      assert.equal(direct.status, 200);
      assert.match(await direct.text(), /hello/);
      const app = new Hono();
      app.get("/", (c) => c.text("the user's own route"));
      app.route("/cache", cache.http);
      const mounted = await app.request("/cache/api/cache/greeting");
      assert.equal(mounted.status, 200);
      assert.match(await mounted.text(), /hello/);
      assert.equal(await (await app.request("/")).text(), "the user's own route");
    } finally {
      await cache.close();
    }
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

const EXAMPLES = join(import.meta.dirname!, "../../examples");

for (
  const [label, start] of [
    ["examples/edge.ts under deno serve", (port: number) =>
      spawn(runtimeBinary("deno"), [
        "serve",
        "--allow-all",
        "--port",
        String(port),
        "--host",
        "127.0.0.1",
        join(EXAMPLES, "edge.ts"),
      ], { stdio: "ignore" })],
    [
      "examples/edge_bun.ts under Bun.serve",
      (port: number) =>
        spawn(runtimeBinary("bun"), [join(EXAMPLES, "edge_bun.ts")], {
          stdio: "ignore",
          env: { ...process.env, PORT: String(port) },
        }),
    ],
  ] as const
) {
  describe(label, () => {
    it("answers @upstash/redis over HTTP", async () => {
      const port = await freePort();
      const child = start(port);
      try {
        const url = `http://127.0.0.1:${port}`;
        for (let i = 0; i < 200; i++) {
          const ok = await fetch(`${url}/health`).then((r) => r.ok, () => false);
          if (ok) break;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        const redis = new Redis({ url, token: "unused", automaticDeserialization: false });
        assert.equal(await redis.set("edge", "works"), "OK");
        assert.equal(await redis.get("edge"), "works");
        assert.equal(await redis.incr("hits"), 1);
      } finally {
        child.kill("SIGKILL");
      }
    });
  });
}
