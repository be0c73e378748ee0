// Failures of a 3-node cluster with a short failure_timeout (5 s), real processes on Deno and Bun:
// a 3 s pause (SIGSTOP), which gossip sees as a failure, moves no slot; a node killed for longer loses its
// slots to the others (its keys die with it: nothing is served wrong); restarted from its own
// files it drops the keys of slots it no longer owns, rejoins, and gets its share back with the
// values written meanwhile, never its stale ones.
import { timeLimited } from "../_time_limit.ts";
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { keySlot } from "../../src/ring/key_slot.ts";
import { RUNTIMES } from "./_harness.ts";
import { TestCluster } from "./_cluster.ts";

const { after, before, describe, it } = timeLimited(import.meta.url, 180_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const runtime of RUNTIMES) {
  describe(`cluster failures on ${runtime}`, () => {
    let cluster: TestCluster;
    const clients: Redis[] = [];
    const client = (n: number) => {
      const c = new Redis({
        port: cluster.specs[n].port,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      c.on("error", () => {});
      clients.push(c);
      return c;
    };
    /** CLUSTER SLOTS through a connection of its own, as slot -> port. */
    const owners = async (n: number) => {
      const c = new Redis({ port: cluster.specs[n].port });
      try {
        const map = new Map<number, number>();
        const ranges = await c.call("CLUSTER", "SLOTS") as [number, number, [string, number]][];
        for (const [start, end, [, port]] of ranges) {
          for (let s = start; s <= end; s++) map.set(s, port);
        }
        return map;
      } finally {
        c.disconnect();
      }
    };

    before(async () => {
      cluster = await TestCluster.plan(runtime, 3, { failureTimeout: "5s" });
      await cluster.startAll();
      await cluster.waitOk();
    });
    after(async () => {
      for (const c of clients) c.disconnect();
      await cluster.close();
    });

    it("moves no slot for a 3 s pause (SIGSTOP) shorter than failure_timeout", async () => {
      const epoch = (await cluster.info(0)).cluster_current_epoch;
      const map = await owners(0);
      // Gossip must see the pause as a failure (CLUSTER INFO counts its slots as failing), or the
      // test would prove nothing about the timeout's hysteresis.
      let seenFailed = false;
      const watch = (async () => {
        const deadline = Date.now() + 3000;
        while (!seenFailed && Date.now() < deadline) {
          seenFailed = (await cluster.info(0)).cluster_slots_fail !== "0";
          await sleep(100);
        }
      })();
      await cluster.pause(2, 3000);
      await watch;
      assert.ok(seenFailed, "gossip held the paused node failed");
      await sleep(6000); // past the timeout: a decision taken during the pause would show now
      await cluster.waitOk();
      assert.equal((await cluster.info(0)).cluster_current_epoch, epoch);
      assert.deepEqual(await owners(1), map);
    });

    it("gives a node's slots to the others after it stays down past failure_timeout, and takes it back without its stale values", async () => {
      const c0 = client(0);
      const port3 = cluster.specs[2].port;
      const map = await owners(0);
      const keys = Array.from({ length: 3000 }, (_, i) => `fail:${i}`);
      const onNode3 = keys.filter((k) => map.get(keySlot(k)) === port3);
      assert.ok(onNode3.length > 500, `node3 owns some keys: ${onNode3.length}`);
      await c0.mset(...keys.flatMap((k) => [k, "old"]));
      await sleep(1500); // on disk (everysec)
      await cluster.kill(2);
      const deadline = Date.now() + 20_000;
      let info = await cluster.info(0);
      while (info.cluster_size !== "2" && Date.now() < deadline) {
        await sleep(200);
        info = await cluster.info(0);
      }
      assert.equal(info.cluster_size, "2", "two owners after the timeout");
      assert.equal(info.cluster_state, "ok");
      assert.equal(info.cluster_slots_assigned, "16384");
      // The dead node's keys are gone (a cache without replicas); the others' are served.
      const values = await c0.mget(...keys);
      keys.forEach((k, i) => {
        assert.equal(values[i], onNode3.includes(k) ? null : "old", k);
      });
      await c0.mset(...onNode3.flatMap((k) => [k, "new"]));
      await cluster.start(2);
      await cluster.waitSettled(3, 60_000);
      for (const n of [0, 1, 2]) {
        const got = await client(n).mget(...onNode3);
        const stale = got.filter((v) => v !== "new").length;
        assert.equal(stale, 0, `via node ${n + 1}: ${stale} keys not the value written meanwhile`);
      }
      assert.ok((await client(2).dbsize()) > 0, "node3 owns keys again");
    });
  });
}
