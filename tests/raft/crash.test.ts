/**
 * Crash recovery with the real storage code: three drivers with `DurableStorage` on in-memory
 * file systems whose fsyncs take time, so that crashes (of one node, or of all at once) land
 * between a write and its fsync and leave torn tails. Acknowledged writes must survive every crash, and all nodes must apply the
 * same sequence.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { RaftDriver, type StateMachine } from "../../src/raft/driver.ts";
import { DurableStorage } from "../../src/raft/storage.ts";
import type { Message, NodeId } from "../../src/raft/types.ts";
import { MemFileSystem } from "../_memfs.ts";
import { Prng, replaySeed } from "./_sim.ts";

/** Appends every command to a list: the order of application is the thing under test. */
class ListMachine implements StateMachine {
  applied: string[] = [];
  apply(data: Uint8Array): unknown {
    this.applied.push(new TextDecoder().decode(data));
    return this.applied.length;
  }
  snapshot(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify(this.applied));
  }
  restore(data: Uint8Array): void {
    this.applied = data.length > 0 ? JSON.parse(new TextDecoder().decode(data)) : [];
  }
}

interface Member {
  fs: MemFileSystem;
  driver?: RaftDriver;
  storage?: DurableStorage;
  machine?: ListMachine;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("raft crash recovery with durable storage", () => {
  it(
    "keeps every acknowledged write through crashes that tear the log's tail",
    { timeout: 60_000 },
    async () => {
      const seed = replaySeed() ?? 1;
      const rng = new Prng(seed);
      const ids: NodeId[] = [1, 2, 3];
      const members = new Map<NodeId, Member>(ids.map((id) => [id, { fs: new MemFileSystem(2) }]));
      let truncatedBytes = 0;
      let crashes = 0;

      const deliver = (messages: Message[]) => {
        for (const m of messages) {
          if (rng.chance(0.02)) continue;
          setTimeout(() => members.get(m.to)?.driver?.receive(m), rng.int(3));
        }
      };
      const start = async (id: NodeId) => {
        const member = members.get(id)!;
        const storage = await DurableStorage.open({ fs: member.fs, dir: "/raft" });
        truncatedBytes += storage.recovery.truncatedBytes;
        if (storage.isEmpty()) await storage.bootstrap(ids);
        const machine = new ListMachine();
        const driver = new RaftDriver({
          raft: { id, random: () => rng.next() },
          storage,
          stateMachine: machine,
          send: deliver,
          tickMs: 2,
          snapshotEveryEntries: 40,
          compactionLagEntries: 5,
          requestTimeoutMs: 300,
        });
        Object.assign(member, { driver, storage, machine });
        driver.start();
      };
      const crash = (id: NodeId) => {
        const member = members.get(id)!;
        member.driver?.stop();
        member.driver = undefined;
        // Whatever was written but not fsynced is lost, except a torn prefix.
        member.fs.crash(rng.int(40));
        crashes++;
      };
      for (const id of ids) await start(id);

      const acked: string[] = [];
      let running = true;
      const client = (async () => {
        for (let n = 0; running; n++) {
          const leader = ids.find((id) => members.get(id)!.driver?.node.role === "leader");
          if (leader === undefined) {
            await sleep(5);
            continue;
          }
          const value = `w${n}`;
          try {
            await members.get(leader)!.driver!.propose(new TextEncoder().encode(value));
            acked.push(value);
          } catch {
            await sleep(2);
          }
        }
      })();

      const deadline = Date.now() + 4000;
      while (Date.now() < deadline) {
        await sleep(60 + rng.int(120));
        // One node crashes, or the whole cluster loses power at once.
        const victims = rng.chance(0.3) ? ids : [rng.pick(ids)];
        for (const id of victims) crash(id);
        await sleep(rng.int(60));
        for (const id of victims) await start(id);
      }
      running = false;
      await client;

      // Heal: every node must reach a final marker, and agree on everything before it.
      let done = false;
      for (let attempt = 0; attempt < 200 && !done; attempt++) {
        await sleep(20);
        const leader = ids.find((id) => members.get(id)!.driver?.node.role === "leader");
        if (leader === undefined) continue;
        try {
          await members.get(leader)!.driver!.propose(new TextEncoder().encode("end"));
        } catch {
          continue;
        }
        await sleep(100);
        done = ids.every((id) => members.get(id)!.machine!.applied.includes("end"));
      }
      for (const id of ids) members.get(id)!.driver!.stop();
      assert.ok(done, "every node applies the final marker");

      const logs = ids.map((id) => members.get(id)!.machine!.applied);
      const shortest = Math.min(...logs.map((l) => l.length));
      for (const log of logs) assert.deepEqual(log.slice(0, shortest), logs[0].slice(0, shortest));
      const lost = acked.filter((value) => !logs[0].includes(value));
      assert.deepEqual(lost, [], `acknowledged writes lost (seed=${seed})`);
      assert.ok(acked.length > 20, `only ${acked.length} writes were acknowledged`);
      assert.ok(crashes > 10);
      assert.ok(truncatedBytes > 0, "no crash tore a log tail: the test did not exercise recovery");
    },
  );
});
