// Seeded simulations of whole clusters, in the one simulator (tests/sim/world.ts): every member is
// the real gossip driver on a simulated runtime (time, timers, randomness, UDP and TCP), under
// loss, delay, partitions, crashes and per-node stalls. A failing case prints its seed; replay it
// with `GOSSIP_SEED=N deno task sim`.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { Sim } from "./_sim.ts";
import type { GossipEvent } from "../../src/gossip/types.ts";

const SEED = Number(process.env.GOSSIP_SEED ?? 1);
/** Whole clusters of real drivers take longer than a runner's default timeout (Bun: 5 s). */
const LONG = { timeout: 120_000 };

function ok(cond: unknown, sim: Sim, what: string): asserts cond {
  assert.ok(cond, `${what} (seed=${sim.seed})`);
}

describe("simulated cluster", () => {
  it("converges after 200 nodes join through one seed", LONG, async () => {
    const sim = new Sim({ seed: SEED, profile: "lan" });
    const ids = await sim.addMany(200);
    const tookMs = await sim.runUntil(() => sim.allSee(ids, "alive"), 30_000);
    ok(tookMs >= 0, sim, "every node sees every other alive");
    ok(sim.maxDatagramBytes <= 1400, sim, `datagrams fit 1400 bytes: ${sim.maxDatagramBytes}`);
  });

  it(
    "keeps every datagram within 1400 bytes after encryption, with 512-byte metadata",
    LONG,
    async () => {
      const sim = new Sim({ seed: SEED + 12, profile: "lan", packetOverheadBytes: 29 });
      for (let i = 0; i < 60; i++) {
        await sim.add(`n${i}`, { seeds: i === 0 ? [] : ["n0"], meta: new Uint8Array(512).fill(i) });
      }
      for (let i = 0; i < 20; i++) {
        sim.nodes.get(`n${i}`)!.node.sendUserEvent("e".repeat(128), new Uint8Array(512));
      }
      const ids = [...sim.nodes.keys()];
      ok(await sim.runUntil(() => sim.allSee(ids, "alive"), 30_000) >= 0, sim, "converges");
      ok(sim.maxDatagramBytes > 1000, sim, `datagrams were filled: ${sim.maxDatagramBytes}`);
      ok(sim.maxDatagramBytes + 29 <= 1400, sim, `sealed size ${sim.maxDatagramBytes + 29}`);
    },
  );

  it("every member of 200 detects a crashed node", LONG, async () => {
    const sim = new Sim({ seed: SEED + 1, profile: "lan" });
    const ids = await sim.addMany(200);
    await sim.runUntil(() => sim.allSee(ids, "alive"), 30_000);
    sim.crash("n17");
    const tookMs = await sim.runUntil(() => sim.allSee(["n17"], "dead"), 60_000);
    ok(tookMs >= 0, sim, "every live node marks n17 dead");
    const wrong = sim.failEvents().filter(([, about]) => about !== "n17");
    ok(wrong.length === 0, sim, `no other node declared failed: ${JSON.stringify(wrong)}`);
  });

  it("local profile: 20 nodes see a crash within 2 s", LONG, async () => {
    const sim = new Sim({ seed: SEED + 2, profile: "local" });
    const ids = await sim.addMany(20);
    await sim.runUntil(() => sim.allSee(ids, "alive"), 10_000);
    sim.crash("n3");
    const tookMs = await sim.runUntil(() => sim.allSee(["n3"], "dead"), 10_000, 10);
    ok(tookMs >= 0 && tookMs <= 2000, sim, `detected everywhere in ${tookMs} ms`);
  });

  it(
    "declares no healthy node failed at 10% packet loss (lan, 30 nodes, 120 s)",
    LONG,
    async () => {
      const sim = new Sim({ seed: SEED + 3, profile: "lan", lossRate: 0.1 });
      const ids = await sim.addMany(30);
      ok(
        await sim.runUntil(() => sim.allSee(ids, "alive"), 30_000) >= 0,
        sim,
        "converges under loss",
      );
      await sim.run(120_000);
      ok(sim.failEvents().length === 0, sim, `no false failures: ${sim.failEvents().length}`);
      const dead = sim.live().filter((o) => ids.some((id) => sim.stateOf(o.id, id) === "dead"));
      ok(dead.length === 0, sim, "nobody is dead anywhere (suspect comes and goes under loss)");
    },
  );

  it(
    "declares no healthy node failed at 5% packet loss (local, 20 nodes, 60 s)",
    LONG,
    async () => {
      const sim = new Sim({ seed: SEED + 4, profile: "local", lossRate: 0.05 });
      const ids = await sim.addMany(20);
      ok(
        await sim.runUntil(() => sim.allSee(ids, "alive"), 10_000) >= 0,
        sim,
        "converges under loss",
      );
      await sim.run(60_000);
      ok(sim.failEvents().length === 0, sim, `no false failures: ${sim.failEvents().length}`);
    },
  );

  it(
    "a node stalled for 5 s refutes the suspicion and is not declared failed (lan)",
    LONG,
    async () => {
      const sim = new Sim({ seed: SEED + 5, profile: "lan" });
      const ids = await sim.addMany(10);
      await sim.runUntil(() => sim.allSee(ids, "alive"), 10_000);
      const before = sim.nodes.get("n4")!.node.incarnation;
      sim.stall("n4", 5000);
      await sim.run(4000);
      const suspected = sim.live().some((s) => sim.stateOf(s.id, "n4") === "suspect");
      ok(suspected, sim, "the stalled node is suspected while it is stalled");
      await sim.run(20_000);
      const n4 = sim.nodes.get("n4")!.node;
      ok(n4.incarnation > before, sim, "it refuted with a higher incarnation");
      ok(sim.failEvents().length === 0, sim, `no failures: ${JSON.stringify(sim.failEvents())}`);
      ok(sim.allSee(ids, "alive"), sim, "everyone alive again");
      ok(n4.stats.stallsDetected >= 1, sim, "the node noticed its own stall");
    },
  );

  it("sees a graceful leave as 'left', not 'failed'", LONG, async () => {
    const sim = new Sim({ seed: SEED + 6, profile: "lan" });
    const ids = await sim.addMany(20);
    await sim.runUntil(() => sim.allSee(ids, "alive"), 10_000);
    const leaver = sim.nodes.get("n7")!;
    leaver.node.leave(sim.nowMs);
    const spreadMs = await sim.runUntil(() => leaver.node.leaveSpread(), 5000, 10);
    ok(spreadMs >= 0, sim, "the leave spread within the leave timeout");
    sim.crash("n7"); // the process exits
    const others = sim.live();
    const tookMs = await sim.runUntil(() => sim.allSee(["n7"], "left", others), 5000, 10);
    ok(tookMs >= 0, sim, "everyone sees n7 left");
    ok(sim.failEvents().length === 0, sim, "nobody saw a failure");
    await sim.run(30_000);
    ok(sim.allSee(["n7"], "left", others), sim, "and it stays left");
    const leaveEvents = others.filter((s) => s.events.some((e) => e.event.type === "leave"));
    ok(leaveEvents.length === 19, sim, `19 leave events: ${leaveEvents.length}`);
  });

  it("merges again after a healed partition", LONG, async () => {
    const sim = new Sim({ seed: SEED + 7, profile: "local" });
    const ids = await sim.addMany(20);
    await sim.runUntil(() => sim.allSee(ids, "alive"), 10_000);
    const left = ids.slice(0, 10), right = ids.slice(10);
    sim.partition([left, right]);
    await sim.run(15_000);
    const leftSim = left.map((id) => sim.nodes.get(id)!);
    ok(sim.allSee(right, "dead", leftSim), sim, "each side declares the other dead");
    sim.heal();
    const tookMs = await sim.runUntil(() => sim.allSee(ids, "alive"), 60_000, 100);
    ok(tookMs >= 0, sim, "all alive everywhere after healing");
  });

  it("spreads metadata updates and user events to everyone exactly once", LONG, async () => {
    const sim = new Sim({ seed: SEED + 8, profile: "lan" });
    const ids = await sim.addMany(50);
    await sim.runUntil(() => sim.allSee(ids, "alive"), 10_000);
    sim.nodes.get("n3")!.node.setMeta(new TextEncoder().encode("role=primary"));
    sim.nodes.get("n9")!.node.sendUserEvent("deploy", new Uint8Array([1, 2, 3]));
    sim.nodes.get("n9")!.node.sendUserEvent("deploy", new Uint8Array([4]));
    await sim.run(3000);
    for (const s of sim.live()) {
      const users = s.events.filter((e) => e.event.type === "user");
      ok(users.length === 2, sim, `${s.id} got ${users.length} user events`);
      if (s.id === "n3") continue;
      const meta = new TextDecoder().decode(s.node.member("n3")!.meta);
      ok(meta === "role=primary", sim, `${s.id} sees the new metadata`);
      ok(s.events.some((e) => e.event.type === "update"), sim, `${s.id} got an update event`);
    }
  });

  it(
    "delivers a user event that gossip's retransmissions missed at the next push-pull",
    LONG,
    async () => {
      const sim = new Sim({ seed: SEED + 11, profile: "local" });
      const ids = await sim.addMany(5);
      await sim.runUntil(() => sim.allSee(ids, "alive"), 10_000);
      const gotIt = (id: string) =>
        sim.nodes.get(id)!.events.filter((e) => e.event.type === "user").length;
      sim.partition([["n0", "n1", "n2", "n3"], ["n4"]]);
      sim.nodes.get("n0")!.node.sendUserEvent("deploy", new Uint8Array([7]));
      await sim.run(250);
      ok(gotIt("n4") === 0, sim, "n4 is cut off while the event is gossiped");
      ok(["n0", "n1", "n2", "n3"].every((id) => gotIt(id) === 1), sim, "the rest have it");
      sim.heal();
      const tookMs = await sim.runUntil(() => gotIt("n4") === 1, 15_000);
      ok(tookMs >= 0, sim, "n4 gets it after the partition heals");
      await sim.run(12_000); // more push-pulls carry it again: still delivered once
      ok(ids.every((id) => gotIt(id) === 1), sim, "everyone got it exactly once");
    },
  );

  it("does not replay user events from before a node joined", LONG, async () => {
    const sim = new Sim({ seed: SEED + 12, profile: "local" });
    const ids = await sim.addMany(4);
    await sim.runUntil(() => sim.allSee(ids, "alive"), 10_000);
    sim.nodes.get("n0")!.node.sendUserEvent("deploy", new Uint8Array([1]));
    await sim.run(1000);
    await sim.add("late", { seeds: ["n1"] });
    await sim.run(12_000); // past two push-pull intervals
    const late = sim.nodes.get("late")!;
    ok(late.node.member("n0")?.state === "alive", sim, "the late node joined");
    ok(!late.events.some((e) => e.event.type === "user"), sim, "it got no earlier event");
  });

  it("lets a restarted node with the same id and address come back", LONG, async () => {
    const sim = new Sim({ seed: SEED + 9, profile: "local" });
    const ids = await sim.addMany(10);
    await sim.runUntil(() => sim.allSee(ids, "alive"), 10_000);
    sim.crash("n5");
    await sim.runUntil(() => sim.allSee(["n5"], "dead"), 10_000);
    await sim.add("n5", { seeds: ["n0"] });
    const tookMs = await sim.runUntil(() => sim.allSee(ids, "alive"), 10_000);
    ok(tookMs >= 0, sim, "everyone sees the restarted node alive");
    ok(sim.nodes.get("n5")!.node.incarnation > 1, sim, "it refuted its old death");
  });

  it(
    "lets a dead node's id come back at a new address only after the reclaim time",
    LONG,
    async () => {
      const sim = new Sim({ seed: SEED + 10, profile: "local" });
      const ids = await sim.addMany(5);
      await sim.runUntil(() => sim.allSee(ids, "alive"), 10_000);
      sim.crash("n2");
      await sim.runUntil(() => sim.allSee(["n2"], "dead"), 10_000);
      const oldAddress = sim.nodes.get("n2")!.address;
      const early = await sim.add("n2", { seeds: ["n0"], newAddress: true });
      await sim.run(1000);
      ok(sim.stateOf("n0", "n2") === "dead", sim, "not accepted before the reclaim time");
      ok(sim.nodes.get("n0")!.node.stats.addressConflicts > 0, sim, "counted as a conflict");
      const conflict = (e: { event: GossipEvent }) =>
        e.event.type === "conflict" && e.event.id === "n2";
      ok(
        sim.nodes.get("n0")!.events.some((e) =>
          conflict(e) && e.event.type === "conflict" && e.event.host === early.address.host
        ),
        sim,
        "n0 told of the node claiming n2's id at a new address",
      );
      sim.crash("n2");
      await sim.run(3000); // past deadNodeReclaimMs (2 s)
      const back = await sim.add("n2", { seeds: ["n0"], newAddress: true });
      ok(back.address.host !== early.address.host, sim, "another new address");
      ok(back.address.host !== oldAddress.host, sim, "a new address");
      const tookMs = await sim.runUntil(() => sim.allSee(ids, "alive"), 10_000);
      ok(tookMs >= 0, sim, "it is accepted at the new address");
      ok(
        sim.nodes.get("n0")!.node.member("n2")!.address.host === back.address.host,
        sim,
        "address",
      );
    },
  );
});

describe("Lifeguard", () => {
  // Five of 30 nodes are degraded: each message they receive waits up to 1.5 s before it is
  // processed (an overloaded event loop). Without Lifeguard they accuse healthy peers and their
  // short suspicion timeouts expire before the refutation reaches them. Counted: healthy nodes
  // declared failed by anyone (the degraded ones are really too slow to answer in time).
  const degraded = ["n3", "n8", "n13", "n18", "n23"];
  async function falsePositives(lifeguard: boolean, seed: number): Promise<number> {
    const config = lifeguard
      ? {}
      : { awarenessMaxMultiplier: 1, suspicionMaxTimeoutMult: 1, nacks: false };
    const sim = new Sim({ seed, profile: "local", config });
    const ids = await sim.addMany(30);
    await sim.runUntil(() => sim.allSee(ids, "alive"), 10_000);
    for (const id of degraded) sim.nodes.get(id)!.slowMs = 1500;
    await sim.run(60_000);
    return sim.failEvents().filter(([, about]) => !degraded.includes(about)).length;
  }

  it("cuts false failure detections under injected delays", LONG, async () => {
    const without = await falsePositives(false, SEED + 11);
    const withLifeguard = await falsePositives(true, SEED + 11);
    console.log(
      `healthy nodes declared failed in 60 s: without Lifeguard ${without}, with ${withLifeguard}`,
    );
    assert.ok(
      without > 0,
      `the scenario produces false positives without Lifeguard (seed=${SEED + 11})`,
    );
    assert.ok(withLifeguard * 4 <= without, `Lifeguard cuts them at least 4x (seed=${SEED + 11})`);
  });
});

describe("simulated cluster under random faults", () => {
  const FILE = "tests/gossip/sim.test.ts";
  const COUNT = Math.round(200 * Number(process.env.GOSSIP_SEEDS ?? 1));

  /** Runs `body` for each seed (or only `GOSSIP_SEED`); a failure names the seed and the replay. */
  async function forSeeds(count: number, first: number, body: (seed: number) => Promise<void>) {
    const only = process.env.GOSSIP_SEED;
    const seeds = only !== undefined
      ? [Number(only)]
      : Array.from({ length: count }, (_, i) => first + i);
    for (const seed of seeds) {
      try {
        await body(seed);
      } catch (error) {
        throw new Error(
          `seed=${seed} failed: ${
            (error as Error).message
          }\nreplay: GOSSIP_SEED=${seed} deno test -A --filter "random faults" ${FILE}`,
          { cause: error },
        );
      }
    }
  }

  it(
    "sees every crash and converges once healed, through crashes, restarts, partitions, stalls, loss and duplicates",
    LONG,
    async () => {
      let crashes = 0, restarts = 0, partitions = 0, stalls = 0;
      await forSeeds(COUNT, 1000, async (seed) => {
        const sim = new Sim({
          seed,
          profile: "local",
          lossRate: 0.03,
          duplicateRate: 0.02,
          delayMs: [1, 15],
        });
        const rng = sim.world.random.fork();
        const ids = await sim.addMany(8);
        ok(await sim.runUntil(() => sim.allSee(ids, "alive"), 10_000) >= 0, sim, "converges");
        // Eight seconds of faults, one decision every 250 ms.
        for (let t = 0; t < 8000; t += 250) {
          const live = sim.live().map((s) => s.id);
          const down = ids.filter((id) => sim.nodes.get(id)!.crashed);
          const roll = rng.next();
          if (roll < 0.08 && live.length > 4) {
            sim.crash(rng.pick(live));
            crashes++;
          } else if (roll < 0.16 && down.length > 0) {
            await sim.add(rng.pick(down), { seeds: [rng.pick(live)] });
            restarts++;
          } else if (roll < 0.21) {
            const side = ids.filter(() => rng.chance(0.5));
            sim.partition([side, ids.filter((id) => !side.includes(id))]);
            partitions++;
          } else if (roll < 0.3) {
            sim.heal();
          } else if (roll < 0.36) {
            sim.stall(rng.pick(live), rng.between(100, 1500));
            stalls++;
          }
          await sim.run(250);
        }
        sim.heal();
        const crashed = ids.filter((id) => sim.nodes.get(id)!.crashed);
        const live = ids.filter((id) => !crashed.includes(id));
        // A node that restarted after a crash may never have heard of the crashed one: unknown
        // counts as detected, alive or suspect does not.
        const detected = () =>
          sim.live().every((o) =>
            crashed.every((id) => [undefined, "dead"].includes(sim.stateOf(o.id, id)))
          );
        const deadMs = await sim.runUntil(detected, 20_000);
        ok(deadMs >= 0, sim, `no live node believes a crashed one (${crashed}) alive`);
        const aliveMs = await sim.runUntil(() => sim.allSee(live, "alive"), 30_000);
        ok(aliveMs >= 0, sim, "every live node sees every other alive once healed");
      });
      assert.ok(crashes > 0 && restarts > 0 && partitions > 0 && stalls > 0);
    },
  );
});
