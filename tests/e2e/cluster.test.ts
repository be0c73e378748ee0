// Three node processes on loopback form a cluster through gossip and Raft, on Deno and on Bun:
// keys written through random nodes read back through every node, cluster-aware clients
// (ioredis Cluster, node-redis createCluster, redis-cli -c, redis-benchmark --cluster) work
// unchanged, and a kill -9 makes the dead node's slots answer -CLUSTERDOWN or -TRYAGAIN, never a
// wrong value, until it restarts from its own AOF with every key.
import { timeLimited } from "../_time_limit.ts";
import assert from "node:assert/strict";
import { Cluster, Redis } from "ioredis";
import { createCluster } from "redis";
import { keySlot } from "../../src/ring/key_slot.ts";
import { redisCli, run, RUNTIMES } from "./_harness.ts";
import { keyOf, misreads, plainClient, TestCluster, valueOf, writeKeys } from "./_cluster.ts";

const { after, before, describe, it } = timeLimited(import.meta.url, 240_000);

const KEYS = 100_000;

for (const runtime of RUNTIMES) {
  describe(`a 3-node cluster on ${runtime}`, () => {
    let cluster: TestCluster;
    const plain: Redis[] = [];
    const connect = (index: number) => {
      const client = plainClient(cluster.specs[index].port);
      plain[index] = client;
      return client;
    };

    /** CLUSTER SLOTS through a connection of its own (asking makes a connection cluster-aware). */
    const slotMap = async (index: number) => {
      const client = new Redis({ host: "127.0.0.1", port: cluster.specs[index].port });
      try {
        return await client.call("CLUSTER", "SLOTS") as [number, number, [string, number]][];
      } finally {
        client.disconnect();
      }
    };

    before(async () => {
      cluster = await TestCluster.plan(runtime, 5, {
        bootstrapExpect: 3,
        extraConfig: "  secret: the-cluster-secret",
      });
      await cluster.startAll();
      await cluster.waitOk();
      for (let i = 0; i < 3; i++) connect(i);
    });
    after(async () => {
      for (const client of plain) client?.disconnect();
      await cluster.close();
    });

    it("assigns every slot once, and every node describes the same map", async () => {
      const infos = await Promise.all([0, 1, 2].map((i) => cluster.info(i)));
      for (const info of infos) {
        assert.equal(info.cluster_slots_assigned, "16384");
        assert.equal(info.cluster_known_nodes, "3");
        assert.equal(info.cluster_size, "3");
      }
      const maps = await Promise.all([0, 1, 2].map(slotMap));
      assert.deepEqual(maps[1], maps[0]);
      assert.deepEqual(maps[2], maps[0]);
      const owned = new Array(16384).fill(0);
      for (const [start, end] of maps[0]) {
        for (let s = start; s <= end; s++) owned[s]++;
      }
      assert.ok(owned.every((n) => n === 1), "each slot in exactly one range");
    });

    it(`reads ${KEYS} keys written through random nodes back through every node`, async () => {
      const all = Array.from({ length: KEYS }, (_, i) => i);
      await writeKeys(plain, KEYS);
      for (let n = 0; n < 3; n++) {
        assert.equal(await misreads(plain[n], all), 0, `via node ${n + 1}`);
      }
      const sizes = await Promise.all(plain.map((c) => c.dbsize()));
      assert.equal(sizes.reduce((a, b) => a + b, 0), KEYS, "DBSIZE is per node; they add up");
      assert.ok(sizes.every((s) => s > KEYS / 6), `spread over the nodes: ${sizes}`);
    });

    it("answers MOVED to a client that asked for the slot map, and redis-cli -c follows it", async () => {
      const key = keyOf(7);
      const slot = keySlot(key);
      const owner = (await slotMap(0)).find(([start, end]) => slot >= start && slot <= end)![2][1];
      const other = cluster.specs.findIndex((s) => s.port !== owner);
      const port = cluster.specs[other].port;
      const moved = await redisCli(port, [], "READONLY\nGET key:7\n");
      assert.equal(moved.stdout.trim(), `OK\nMOVED ${slot} 127.0.0.1:${owner}`);
      const followed = await redisCli(port, ["-c"], "READONLY\nGET key:7\n");
      assert.equal(
        followed.stdout,
        `OK\n-> Redirected to slot [${slot}] located at 127.0.0.1:${owner}\n${valueOf(7)}\n`,
      );
      const plainCli = await redisCli(port, ["GET", key]);
      assert.equal(plainCli.stdout, `${valueOf(7)}\n`, "a plain client is served through the node");
    });

    it("refuses keys of different slots in one command with CROSSSLOT", async () => {
      await assert.rejects(plain[0].rename("a", "b"), /CROSSSLOT/);
      await assert.rejects(plain[0].sinterstore("a", "b", "c"), /CROSSSLOT/);
      assert.equal(
        await plain[0].rename("{t}a", "{t}b").catch((e) => String(e)),
        "ReplyError: ERR no such key",
      );
    });

    it("serves ioredis Cluster with pipelines, hash tags and transactions", async () => {
      const client = new Cluster([{ host: "127.0.0.1", port: cluster.specs[0].port }], {
        clusterRetryStrategy: () => null,
      });
      try {
        for (let u = 0; u < 20; u++) {
          const pipeline = client.pipeline();
          for (let i = 0; i < 50; i++) pipeline.set(`{user${u}}:${i}`, `${u}:${i}`);
          pipeline.incrby(`{user${u}}:count`, 50);
          await pipeline.exec();
        }
        for (let u = 0; u < 20; u++) {
          const values = await client.mget(`{user${u}}:0`, `{user${u}}:49`, `{user${u}}:count`);
          assert.deepEqual(values, [`${u}:0`, `${u}:49`, "50"]);
        }
        const result = await client.multi().incr("{tx}n").incr("{tx}n").get("{tx}n").exec();
        assert.deepEqual(result, [[null, 1], [null, 2], [null, "2"]]);
        assert.equal(await client.get(keyOf(123)), valueOf(123));
      } finally {
        client.disconnect();
      }
    });

    it("serves node-redis createCluster", async () => {
      const client = createCluster({
        rootNodes: [{ url: `redis://127.0.0.1:${cluster.specs[1].port}` }],
      });
      client.on("error", () => {});
      await client.connect();
      try {
        for (let i = 0; i < 200; i++) await client.set(`nr:${i}`, `v${i}`);
        for (let i = 0; i < 200; i += 7) assert.equal(await client.get(`nr:${i}`), `v${i}`);
        await client.hSet("{h}hash", { a: "1", b: "2" });
        assert.deepEqual(await client.hGetAll("{h}hash"), { a: "1", b: "2" });
        assert.equal(await client.get(keyOf(99_999)), valueOf(99_999));
      } finally {
        await client.close();
      }
    });

    it("completes redis-benchmark --cluster", async () => {
      const result = await run("redis-benchmark", [
        "--cluster",
        "-h",
        "127.0.0.1",
        "-p",
        String(cluster.specs[2].port),
        "-t",
        "set,get",
        "-n",
        "5000",
        "-P",
        "16",
        "-q",
      ], { timeoutMs: 60_000 });
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.match(result.stdout, /SET: [\d.]+ requests per second/);
      assert.match(result.stdout, /GET: [\d.]+ requests per second/);
    });

    it("forwards over HTTP and reports it", async () => {
      const response = await fetch(`http://127.0.0.1:${cluster.specs[0].httpPort}/get/key:42`);
      assert.equal(response.status, 200);
      assert.equal((await response.json()).result, valueOf(42));
    });

    it("says over HTTP which node answered, and describes the cluster at /api/cluster", async () => {
      const base = `http://127.0.0.1:${cluster.specs[0].httpPort}`;
      const seen = new Set<boolean>();
      for (let i = 0; i < 30; i++) {
        const body = await (await fetch(`${base}/get/${keyOf(i)}`)).json();
        assert.equal(body.result, valueOf(i));
        assert.equal(body.forwarded, !body.local);
        assert.equal(body.local, body.node === "node1");
        assert.equal(body.primary, body.node);
        seen.add(body.forwarded);
      }
      assert.deepEqual([...seen].sort(), [false, true], "some keys local, some forwarded");
      const api = await (await fetch(`${base}/api/cluster`)).json();
      assert.equal(api.state, "ok");
      assert.equal(api.members.length, 3);
      assert.equal(api.members.reduce((s: number, m: { slots: number }) => s + m.slots, 0), 16384);
      assert.equal(api.migrating_slots, 0);
      const metrics = await (await fetch(`${base}/metrics`)).text();
      assert.match(metrics, /^hypercache_cluster_forward_forwarded [1-9]\d*$/m);
    });

    it("splits MGET, MSET, DEL and EXISTS across slots for a plain client", async () => {
      const keys = Array.from({ length: 50 }, (_, i) => `split:${i}`);
      assert.equal(await plain[1].mset(...keys.flatMap((k) => [k, `${k}!`])), "OK");
      assert.deepEqual(await plain[2].mget(...keys, "split:none"), [
        ...keys.map((k) => `${k}!`),
        null,
      ]);
      assert.equal(await plain[0].exists(...keys, "split:none"), 50);
      assert.equal(await plain[0].del(...keys.slice(0, 20)), 20);
      assert.equal(await plain[2].exists(...keys), 30);
      await assert.rejects(plain[0].sunionstore("a", "b", "c"), /CROSSSLOT/);
    });

    it("delivers PUBLISH to subscribers on every node", async () => {
      const subscribers = [0, 1, 2].map((i) =>
        new Redis({ host: "127.0.0.1", port: cluster.specs[i].port })
      );
      try {
        const got: string[][] = [[], [], []];
        await Promise.all(subscribers.map(async (s, i) => {
          await s.subscribe("news");
          s.on("message", (_channel, message) => got[i].push(message));
        }));
        assert.equal(await plain[1].publish("news", "hello"), 1, "the count is this node's");
        const deadline = Date.now() + 5000;
        while (got.some((g) => g.length === 0) && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 20));
        }
        assert.deepEqual(got, [["hello"], ["hello"], ["hello"]]);
      } finally {
        for (const s of subscribers) s.disconnect();
      }
    });

    it("delivers SPUBLISH to shard subscribers on every node, and sends a cluster client to the channel's owner", async () => {
      const channel = "orders";
      const ownerPort = (await slotMap(0)).find(([start, end]) =>
        keySlot(channel) >= start && keySlot(channel) <= end
      )![2][1];
      const owner = cluster.specs.findIndex((s) =>
        s.port === ownerPort
      );
      const subscribers = [0, 1, 2].map((i) => new Redis({ port: cluster.specs[i].port }));
      try {
        const got: string[][] = [[], [], []];
        await Promise.all(subscribers.map(async (s, i) => {
          // Plain clients subscribe where they are connected.
          assert.equal(await s.ssubscribe(channel), 1);
          s.on("smessage", (_channel, message) => got[i].push(message));
        }));
        // Through a node that does not own the channel: forwarded to the owner, which relays it.
        const from = (owner + 1) % 3;
        assert.equal(await plain[from].spublish(channel, "paid"), 1, "the owner's subscribers");
        const deadline = Date.now() + 5000;
        while (got.some((g) => g.length === 0) && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 20));
        }
        assert.deepEqual(got, [["paid"], ["paid"], ["paid"]]);
        // A cluster client is told where the channel lives, as Redis Cluster does.
        const aware = await redisCli(
          cluster.specs[from].port,
          [],
          `READONLY\nSSUBSCRIBE ${channel}\n`,
        );
        assert.match(
          aware.stdout,
          new RegExp(`MOVED ${keySlot(channel)} 127\\.0\\.0\\.1:${ownerPort}`),
        );
      } finally {
        for (const s of subscribers) s.disconnect();
      }
    });

    it("blocks a plain client's BLPOP of another node's key on the owner, until a push through a third node", async () => {
      const map = await slotMap(0);
      const ownerPort = (key: string) =>
        map.find(([start, end]) => keySlot(key) >= start && keySlot(key) <= end)![2][1];
      let n = 0;
      while (ownerPort(`queue:${n}`) !== cluster.specs[1].port) n++;
      const queue = `queue:${n}`;
      const waiter = new Redis({ port: cluster.specs[0].port, maxRetriesPerRequest: 0 });
      try {
        const started = Date.now();
        const popped = waiter.blpop(queue, 10);
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(await plain[2].rpush(queue, "job"), 1);
        assert.deepEqual(await popped, [queue, "job"]);
        assert.ok(Date.now() - started < 5000, "served by the push, not the timeout");
        assert.equal(await plain[1].llen(queue), 0, "taken once, on the owner");
        // Its timeout passes on the owner: the null reply, after it.
        const waited = Date.now();
        assert.equal(await waiter.brpop(queue, 0.3), null);
        assert.ok(Date.now() - waited >= 250, `returned after ${Date.now() - waited} ms`);
        // BLMOVE with both keys in one slot, from a node that owns neither.
        const [src, dst] = [`{${queue}}a`, `{${queue}}b`];
        const moved = waiter.blmove(src, dst, "LEFT", "RIGHT", 10);
        await new Promise((r) => setTimeout(r, 200));
        await plain[2].rpush(src, "m");
        assert.equal(await moved, "m");
        assert.deepEqual(await plain[1].lrange(dst, 0, -1), ["m"]);
        // BZPOPMIN and BLMPOP (a numkeys form) block on the owner too, woken through a third node.
        const [zkey, lkey] = [`{${queue}}z`, `{${queue}}l`];
        const zpopped = waiter.bzpopmin(zkey, 10);
        await new Promise((r) => setTimeout(r, 200));
        await plain[2].zadd(zkey, 2, "b", 1, "a");
        assert.deepEqual(await zpopped, [zkey, "a", "1"]);
        const none = `{${queue}}none`;
        const lpopped = waiter.call("BLMPOP", "10", "2", none, lkey, "LEFT", "COUNT", "5");
        await new Promise((r) => setTimeout(r, 200));
        await plain[2].rpush(lkey, "x", "y");
        assert.deepEqual(await lpopped, [lkey, ["x", "y"]]);
        assert.equal(await waiter.call("BZMPOP", "0.2", "1", lkey, "MIN"), null);
        assert.deepEqual(await plain[1].zrange(zkey, 0, -1), ["b"]);
        await plain[1].del(zkey);
      } finally {
        waiter.disconnect();
      }
    });

    it("cancels a plain client's forwarded BLPOP on the owner when the client disconnects: a later push stays in the list", async () => {
      const map = await slotMap(0);
      const ownerPort = (key: string) =>
        map.find(([start, end]) => keySlot(key) >= start && keySlot(key) <= end)![2][1];
      let n = 0;
      while (ownerPort(`orphan:${n}`) !== cluster.specs[1].port) n++;
      const queue = `orphan:${n}`;
      const blockedOnOwner = async () =>
        Number(/blocked_clients:(\d+)/.exec(await plain[1].info("clients"))![1]);
      const waiter = new Redis({ port: cluster.specs[0].port, maxRetriesPerRequest: 0 });
      waiter.on("error", () => {});
      waiter.blpop(queue, 0).catch(() => {});
      const deadline = Date.now() + 5000;
      while (await blockedOnOwner() === 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(await blockedOnOwner(), 1, "parked on the owner");
      waiter.disconnect();
      while (await blockedOnOwner() === 1 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(await blockedOnOwner(), 0, "cancelled on the owner");
      assert.equal(await plain[2].rpush(queue, "kept"), 1);
      assert.deepEqual(await plain[1].lrange(queue, 0, -1), ["kept"], "nobody popped it");
      await plain[1].del(queue);
    });

    it("runs a plain client's MULTI/EXEC whole on the node that owns its keys", async () => {
      const map = await slotMap(0);
      const ownerPort = (key: string) =>
        map.find(([start, end]) => keySlot(key) >= start && keySlot(key) <= end)![2][1];
      const tagOn = (index: number) => {
        let n = 0;
        while (ownerPort(`{tx${n}}`) !== cluster.specs[index].port) n++;
        return `{tx${n}}`;
      };
      const [remote, far, local] = [tagOn(1), tagOn(2), tagOn(0)];
      const result = await plain[0].multi().incr(`${remote}n`).incr(`${remote}n`).ping()
        .get(`${remote}n`).exec();
      assert.deepEqual(result, [[null, 1], [null, 2], [null, "PONG"], [null, "2"]]);
      assert.equal(await plain[1].get(`${remote}n`), "2", "it ran on the owner");
      assert.equal(await plain[0].exists(`${remote}n`), 1);
      // Keys on two nodes cannot be one transaction: the second fails to queue, EXEC aborts.
      await assert.rejects(
        plain[0].multi().set(`${remote}a`, "1").set(`${far}a`, "1").exec(),
        /EXECABORT/,
      );
      await assert.rejects(
        plain[0].multi().set(`${local}a`, "1").set(`${remote}a`, "1").exec(),
        /EXECABORT/,
      );
      assert.equal(await plain[1].exists(`${remote}a`, `${far}a`, `${local}a`), 0, "none ran");
      // A transaction of this node's keys runs here, as before.
      assert.deepEqual(await plain[0].multi().set(`${local}b`, "x").get(`${local}b`).exec(), [
        [null, "OK"],
        [null, "x"],
      ]);
      // WATCH is this connection's state: it cannot watch a key on another node.
      await assert.rejects(plain[0].watch(`${remote}n`), /needs a connection to that node/);
    });

    it("refuses a node with the wrong cluster secret", async () => {
      const intruder = await cluster.start(4, "  secret: not-the-secret");
      await new Promise((r) => setTimeout(r, 3000));
      assert.equal((await cluster.info(0)).cluster_known_nodes, "3");
      assert.equal((await cluster.info(4)).cluster_state, "fail");
      const client = new Redis({ port: intruder.port, maxRetriesPerRequest: 0 });
      client.on("error", () => {});
      await assert.rejects(client.get(keyOf(1)), /CLUSTERDOWN/);
      client.disconnect();
      await cluster.kill(4);
    });

    it("refuses to start a new node whose node_id a member already has, naming the field", async () => {
      await assert.rejects(
        cluster.start(4, undefined, ["--node-id", "node1"]),
        /cannot start: node_id: "node1" is already the name of the cluster member gossiping at 127\.0\.0\.1:\d+; give this node another node_id/,
      );
      assert.equal((await cluster.info(0)).cluster_known_nodes, "3");
      assert.equal((await cluster.info(0)).cluster_state, "ok");
    });

    it("answers CLUSTERDOWN or TRYAGAIN for a killed node's slots, never a wrong value, and serves every key again after it restarts from its AOF", async () => {
      // everysec: the last second of writes may not be on disk; the writes ended earlier.
      await new Promise((r) => setTimeout(r, 1500));
      const slotsOf3 = new Set<number>();
      for (const [start, end, [, port]] of await slotMap(0)) {
        if (port === cluster.specs[2].port) { for (let s = start; s <= end; s++) slotsOf3.add(s); }
      }
      plain[2].disconnect();
      await cluster.kill(2);
      const sample = Array.from({ length: 2000 }, (_, i) => i * 50);
      let down = 0;
      let served = 0;
      const deadline = Date.now() + 5000;
      // Until gossip sees it failed, forwards fail with TRYAGAIN; then CLUSTERDOWN.
      while (Date.now() < deadline) {
        const pipeline = plain[0].pipeline();
        for (const i of sample) pipeline.get(keyOf(i));
        const replies = await pipeline.exec();
        replies!.forEach(([error, value], j) => {
          const i = sample[j];
          if (slotsOf3.has(keySlot(keyOf(i)))) {
            assert.ok(error !== null, `${keyOf(i)} of the dead node answered ${value}`);
            assert.match(String(error), /^ReplyError: (CLUSTERDOWN|TRYAGAIN)/);
            down++;
          } else {
            assert.equal(error, null);
            assert.equal(value, valueOf(i));
            served++;
          }
        });
        if (down > 0 && /CLUSTERDOWN/.test(String(replies!.find(([e]) => e)?.[0]))) break;
      }
      assert.ok(down > 0 && served > 0, `down ${down}, served ${served}`);
      await cluster.start(2);
      await cluster.waitOk();
      connect(2);
      const all = Array.from({ length: KEYS }, (_, i) => i);
      for (let n = 0; n < 3; n++) {
        assert.equal(await misreads(plain[n], all), 0, `via node ${n + 1}`);
      }
    });

    it("moves slots to a fourth node that joins, never serving a wrong value, and loses no key", async () => {
      const all = Array.from({ length: KEYS }, (_, i) => i);
      const before = (await Promise.all(plain.map((c) => c.dbsize()))).reduce((a, b) => a + b, 0);
      await cluster.start(3);
      // Reads during the move: a value is right or the reply is an error to retry (TRYAGAIN).
      let wrong = 0;
      let retry = 0;
      const kinds = new Set<string>();
      const reading = (async () => {
        for (let round = 0; round < 20; round++) {
          const pipeline = plain[round % 3].pipeline();
          for (let i = round; i < KEYS; i += 97) pipeline.get(keyOf(i));
          const replies = await pipeline.exec();
          replies!.forEach(([error, value], j) => {
            if (error !== null) {
              retry++;
              kinds.add(String(error).split(" ").slice(0, 3).join(" "));
            } else if (value !== valueOf(round + j * 97)) wrong++;
          });
        }
      })();
      const tookMs = await cluster.waitSettled(4);
      await reading;
      console.log(
        `join: settled in ${tookMs} ms (${retry} replies asked for a retry: ${[...kinds]})`,
      );
      assert.equal(wrong, 0, "no read during the move returned a wrong value");
      connect(3);
      const sizes = await Promise.all(plain.map((c) => c.dbsize()));
      assert.equal(sizes.reduce((a, b) => a + b, 0), before, `every key once: ${sizes}`);
      assert.ok(sizes[3] > KEYS / 8, `the new node holds its share: ${sizes}`);
      for (let n = 0; n < 4; n++) {
        assert.equal(await misreads(plain[n], all), 0, `via node ${n + 1}`);
      }
    });

    it("hands a leaving node's slots to the others before it exits (SIGTERM), losing no key", async () => {
      const before = (await Promise.all(plain.map((c) => c.dbsize()))).reduce((a, b) => a + b, 0);
      plain[3].disconnect();
      assert.equal(await cluster.stop(3), 0);
      await cluster.waitSettled(3);
      const deadline = Date.now() + 10_000;
      while ((await cluster.info(0)).cluster_known_nodes !== "3" && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(
        (await cluster.info(0)).cluster_known_nodes,
        "3",
        "the member that left is forgotten",
      );
      const sizes = await Promise.all(plain.slice(0, 3).map((c) => c.dbsize()));
      assert.equal(sizes.reduce((a, b) => a + b, 0), before, `every key once: ${sizes}`);
      const all = Array.from({ length: KEYS }, (_, i) => i);
      for (let n = 0; n < 3; n++) {
        assert.equal(await misreads(plain[n], all), 0, `via node ${n + 1}`);
      }
    });
  });
}
