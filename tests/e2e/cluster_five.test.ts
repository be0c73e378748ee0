// Five node processes on loopback, on Deno and on Bun: they form one cluster (three Raft voters,
// two learners), every node reads back 100,000 keys written through random nodes, a kill -9
// makes the dead node's slots answer -CLUSTERDOWN or -TRYAGAIN and never a wrong value until it
// restarts from its own AOF, and a node leaving with SIGTERM hands its slots to the four others.
import { timeLimited } from "../_time_limit.ts";
import assert from "node:assert/strict";
import type { Redis } from "ioredis";
import { keySlot } from "../../src/ring/key_slot.ts";
import { RUNTIMES } from "./_harness.ts";
import { keyOf, misreads, plainClient, TestCluster, valueOf, writeKeys } from "./_cluster.ts";

const { after, before, describe, it } = timeLimited(import.meta.url, 300_000);

const KEYS = 100_000;
const SIZE = 5;
const all = Array.from({ length: KEYS }, (_, i) => i);

for (const runtime of RUNTIMES) {
  describe(`a 5-node cluster on ${runtime}`, () => {
    let cluster: TestCluster;
    const plain: Redis[] = [];
    const connect = (index: number) => {
      plain[index]?.disconnect();
      const client = plainClient(cluster.specs[index].port);
      plain[index] = client;
      return client;
    };
    const running = () => plain.filter((_, i) => cluster.nodes[i] !== undefined);
    const totalKeys = async () =>
      (await Promise.all(running().map((c) => c.dbsize()))).reduce((a, b) => a + b, 0);

    before(async () => {
      cluster = await TestCluster.plan(runtime, SIZE);
      await cluster.startAll();
      await cluster.waitOk();
      for (let i = 0; i < SIZE; i++) connect(i);
    });
    after(async () => {
      for (const client of plain) client?.disconnect();
      await cluster.close();
    });

    it("forms one cluster of five owners with three Raft voters and two learners", async () => {
      const infos = await Promise.all(cluster.specs.map((_, i) => cluster.info(i)));
      const counters = await Promise.all(cluster.specs.map((_, i) => cluster.infoCluster(i)));
      for (const info of infos) {
        assert.equal(info.cluster_known_nodes, "5");
        assert.equal(info.cluster_size, "5");
        assert.equal(info.cluster_slots_assigned, "16384");
        assert.equal(info.cluster_current_epoch, infos[0].cluster_current_epoch);
      }
      assert.equal(counters.filter((c) => c.cluster_raft_voter === "1").length, 3);
      assert.equal(counters.filter((c) => c.cluster_raft_role === "leader").length, 1);
    });

    it(`reads ${KEYS} keys written through random nodes back through every node`, async () => {
      await writeKeys(plain, KEYS);
      for (let n = 0; n < SIZE; n++) {
        assert.equal(await misreads(plain[n], all), 0, `via node ${n + 1}`);
      }
      const sizes = await Promise.all(plain.map((c) => c.dbsize()));
      assert.equal(sizes.reduce((a, b) => a + b, 0), KEYS, `DBSIZE adds up: ${sizes}`);
      assert.ok(sizes.every((s) => s > KEYS / 10), `spread over the nodes: ${sizes}`);
    });

    it("answers CLUSTERDOWN or TRYAGAIN for a killed node's slots, never a wrong value, and serves every key again after it restarts from its AOF", async () => {
      await new Promise((r) => setTimeout(r, 1500)); // everysec: the writes are on disk
      const victim = 4;
      const ownedByVictim = new Set<number>();
      const slots = await plain[0].call("CLUSTER", "SLOTS") as [number, number, [string, number]][];
      // CLUSTER SLOTS made that connection cluster-aware: a fresh plain one takes its place.
      connect(0);
      for (const [start, end, [, port]] of slots) {
        if (port !== cluster.specs[victim].port) continue;
        for (let s = start; s <= end; s++) ownedByVictim.add(s);
      }
      plain[victim].disconnect();
      await cluster.kill(victim);
      const sample = Array.from({ length: 2000 }, (_, i) => i * 50);
      let down = 0;
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline && down === 0) {
        const pipeline = plain[1].pipeline();
        for (const i of sample) pipeline.get(keyOf(i));
        const replies = await pipeline.exec();
        replies!.forEach(([error, value], j) => {
          const key = keyOf(sample[j]);
          if (ownedByVictim.has(keySlot(key))) {
            assert.ok(error !== null, `${key} of the dead node answered ${value}`);
            assert.match(String(error), /^ReplyError: (CLUSTERDOWN|TRYAGAIN)/);
            down++;
          } else {
            assert.equal(error, null, `${key}: ${error}`);
            assert.equal(value, valueOf(sample[j]));
          }
        });
      }
      assert.ok(down > 0, "the dead node's keys were refused");
      await cluster.start(victim);
      await cluster.waitOk();
      connect(victim);
      assert.equal(await totalKeys(), KEYS, "every key back from the AOF");
      for (let n = 0; n < SIZE; n++) {
        assert.equal(await misreads(plain[n], all), 0, `via node ${n + 1}`);
      }
    });

    it("hands a leaving node's slots to the other four before it exits (SIGTERM), losing no key", async () => {
      const leaving = 3;
      plain[leaving].disconnect();
      assert.equal(await cluster.stop(leaving), 0);
      await cluster.waitSettled(SIZE - 1);
      const deadline = Date.now() + 10_000;
      while ((await cluster.info(0)).cluster_known_nodes !== "4" && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal((await cluster.info(0)).cluster_known_nodes, "4", "the member is forgotten");
      assert.equal(await totalKeys(), KEYS, "every key once");
      for (const n of [0, 1, 2, 4]) {
        assert.equal(await misreads(plain[n], all), 0, `via node ${n + 1}`);
      }
    });
  });
}
