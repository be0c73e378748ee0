// The drivers take time, timers and randomness from the runtime they are given, and nothing from
// the globals: on a simulated runtime nothing happens until the simulator moves time, and the
// same seed gives the same run.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { startGossip } from "../../src/gossip/driver.ts";
import { type DriverStorage, RaftDriver } from "../../src/raft/driver.ts";
import { MemoryStorage } from "../../src/raft/memory_storage.ts";
import type { StorageUpdate } from "../../src/raft/storage.ts";
import { World } from "./world.ts";

/** A storage whose writes complete at once: the driver then finishes a `Ready` synchronously. */
function syncStorage(memory: MemoryStorage, disk: { hang: boolean }): DriverStorage {
  return Object.assign(Object.create(memory) as MemoryStorage, {
    save(update: StorageUpdate): Promise<void> | void {
      if (disk.hang) return new Promise<void>(() => {}); // a write that never completes
      if (update.snapshot) memory.applySnapshot(update.snapshot);
      memory.append(update.entries);
      if (update.hardState) memory.setHardState(update.hardState);
    },
  });
}

function singleNode(seed: number) {
  const world = new World({ seed });
  const runtime = world.addHost("raft").start();
  const applied: string[] = [];
  const disk = { hang: false };
  const driver = new RaftDriver({
    raft: { id: 1 },
    storage: syncStorage(MemoryStorage.bootstrap([1]), disk),
    stateMachine: {
      apply: (data) => applied.push(new TextDecoder().decode(data)),
      snapshot: () => new Uint8Array(),
      restore: () => {},
    },
    send: () => {},
    requestTimeoutMs: 500,
    runtime,
  });
  return { world, driver, applied, disk };
}

describe("drivers on a simulated runtime", () => {
  it("Raft ticks, elects and times requests out only as simulated time moves", async () => {
    const { world, driver, applied, disk } = singleNode(1);
    driver.start();
    await new Promise((resolve) => setTimeout(resolve, 50)); // real time: no tick happens
    assert.equal(driver.node.role, "follower");
    world.runUntil(1000); // 100 ticks of the host's clock: a single voter elects itself
    assert.equal(driver.node.role, "leader");
    let result: unknown;
    driver.proposeWith(new TextEncoder().encode("x"), (error, value) => {
      assert.equal(error, undefined);
      result = value;
    });
    world.drainDeferred(); // the end of this turn: storage is synchronous, so it is applied now
    assert.deepEqual(applied, ["x"]);
    assert.equal(result, 1);
    // A proposal whose write never completes times out after 500 ms of simulated time.
    disk.hang = true;
    let failed: Error | undefined;
    const proposedAt = world.nowMs;
    driver.proposeWith(new TextEncoder().encode("y"), (error) => (failed = error));
    world.runUntil(proposedAt + 499);
    assert.equal(failed, undefined);
    world.runUntil(proposedAt + 501);
    assert.match(String(failed), /timed out after 500 ms/);
    driver.stop();
  });

  it("Raft draws its incarnation and election timeouts from the runtime's randomness", () => {
    const a = singleNode(7);
    const b = singleNode(7);
    a.driver.start();
    b.driver.start();
    const electedAt = (n: typeof a) => {
      while (n.driver.node.role !== "leader") n.world.runUntil(n.world.nowMs + 10);
      return n.world.nowMs;
    };
    assert.equal(electedAt(a), electedAt(b));
    const times = new Set(Array.from({ length: 10 }, (_, seed) => {
      const n = singleNode(seed);
      n.driver.start();
      return electedAt(n);
    }));
    assert.ok(times.size > 1, "other seeds, other election timeouts");
  });

  it("gossip ticks on the runtime's timers and probes with its randomness", async () => {
    const run = async (seed: number) => {
      const world = new World({ seed });
      const agents = [];
      for (let i = 0; i < 3; i++) {
        const host = world.addHost(`g${i}`);
        agents.push(
          await startGossip({ id: `g${i}`, port: 7946, bindHost: host.ip, runtime: host.start() }),
        );
      }
      for (const agent of agents.slice(1)) agent.join([agents[0].address]).catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, 50)); // real time: nothing moves
      const before = agents[0].stats().probes;
      await world.run(10_000);
      return { before, agents, world };
    };
    const first = await run(3);
    assert.equal(first.before, 0);
    assert.ok(first.agents.every((a) => a.liveMembers().length === 3));
    assert.ok(first.agents[0].stats().probes >= 5);
    const again = await run(3);
    assert.deepEqual(again.agents.map((a) => a.stats()), first.agents.map((a) => a.stats()));
    assert.equal(again.world.eventCount, first.world.eventCount);
  });
});
