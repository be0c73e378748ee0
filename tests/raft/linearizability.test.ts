import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { checkHistory, type Operation } from "./_linearizability.ts";
import { forSeeds, runScript, Simulation } from "./_sim.ts";

function put(id: number, key: string, value: string, callMs: number, returnMs: number): Operation {
  return { id, kind: "put", key, input: value, callMs, returnMs };
}

function get(
  id: number,
  key: string,
  output: string | null,
  callMs: number,
  returnMs: number,
): Operation {
  return { id, kind: "get", key, output, callMs, returnMs };
}

describe("linearizability checker", () => {
  it("accepts a sequential history and concurrent operations in either order", () => {
    assert.ok(checkHistory([put(1, "x", "1", 0, 1), get(2, "x", "1", 2, 3)]).ok);
    // The get overlaps the put, so it may see either value.
    assert.ok(
      checkHistory([put(1, "x", "1", 0, 10), get(2, "x", null, 1, 2), get(3, "x", "1", 3, 4)]).ok,
    );
  });

  it("rejects a stale read after a completed write", () => {
    const result = checkHistory([
      put(1, "x", "1", 0, 1),
      put(2, "x", "2", 2, 3),
      get(3, "x", "1", 4, 5),
    ]);
    assert.deepEqual(result, { ok: false, key: "x" });
  });

  it("rejects a value going back in time between two reads", () => {
    const ops = [put(1, "x", "1", 0, 100), get(2, "x", "1", 1, 2), get(3, "x", null, 3, 4)];
    assert.equal(checkHistory(ops).ok, false);
  });

  it("lets a write that never returned take effect late or never", () => {
    assert.ok(
      checkHistory([put(1, "x", "1", 0, Infinity), get(2, "x", null, 1, 2), get(3, "x", "1", 5, 6)])
        .ok,
    );
    assert.ok(checkHistory([put(1, "x", "1", 0, Infinity), get(2, "x", null, 5, 6)]).ok);
  });

  it("checks keys independently", () => {
    const ops = [
      put(1, "x", "1", 0, 1),
      put(2, "y", "2", 0, 1),
      get(3, "y", "2", 2, 3),
      get(4, "x", "2", 2, 3),
    ];
    assert.deepEqual(checkHistory(ops), { ok: false, key: "x" });
  });

  it("decides a history of hundreds of concurrent operations quickly", () => {
    const ops: Operation[] = [];
    for (let i = 0; i < 300; i++) {
      const at = i * 3;
      ops.push(
        i % 2 === 0 ? put(i, "x", `v${i}`, at, at + 10) : get(i, "x", `v${i - 1}`, at + 5, at + 12),
      );
    }
    const started = performance.now();
    assert.ok(checkHistory(ops).ok);
    assert.ok(performance.now() - started < 2000);
  });
});

describe("linearizability of the replicated key-value store", () => {
  it("rejects local reads on a deposed leader (the broken read path)", () => {
    // Without check-quorum the deposed leader keeps believing it leads, which makes the window
    // easy to script; with it the window is shorter but still there.
    const sim = new Simulation({
      seed: 1,
      readMode: "brokenLocal",
      spareCount: 0,
      clockDriftRate: 0,
      raft: { checkQuorum: false },
    });
    sim.faulty = false;
    runScript(
      sim,
      `
      campaign 1
      stabilize
      propose 1 old
      stabilize
      tick 5
      isolate 1          # 1 still believes it leads
      tick 40            # 2 and 3 elect a new leader
      expect role 1 leader
      `,
    );
    const newLeader = sim.leader() === 1
      ? [2, 3].find((id) => sim.raft(id).role === "leader")
      : sim.leader();
    assert.ok(newLeader === 2 || newLeader === 3);
    assert.ok(sim.write(newLeader, "x", "new"));
    runScript(sim, "tick 10");
    assert.equal(sim.node(newLeader).kv.data.get("x"), "new");
    assert.ok(sim.read(1, "x"));
    assert.deepEqual(checkHistory(sim.completedHistory()), { ok: false, key: "x" });
  });

  it("the same scenario through ReadIndex is linearizable: the deposed leader cannot answer", () => {
    const sim = new Simulation({ seed: 1, spareCount: 0, clockDriftRate: 0 });
    sim.faulty = false;
    runScript(sim, "campaign 1\nstabilize\npropose 1 old\nstabilize\ntick 5\nisolate 1\ntick 13");
    assert.equal(sim.raft(1).role, "leader");
    assert.ok(sim.read(1, "x"));
    runScript(sim, "tick 40");
    const leader = [2, 3].find((id) => sim.raft(id).role === "leader")!;
    assert.ok(sim.write(leader, "x", "new"));
    runScript(sim, "tick 10");
    assert.ok(checkHistory(sim.completedHistory()).ok);
  });

  it("lease reads are only as safe as the clock-drift bound: a clock at 30% speed breaks them", () => {
    for (const readOnly of ["lease", "safe"] as const) {
      const sim = new Simulation({ seed: 1, spareCount: 0, readOnly, clockDriftRate: 0 });
      sim.faulty = false;
      runScript(sim, "tick 40\nstabilize");
      const old = sim.leader()!;
      assert.ok(sim.write(old, "x", "old"));
      runScript(sim, "tick 5");
      // The leader's clock slows to 30%: its lease looks valid three times too long.
      sim.node(old).clockRate = 0.3;
      sim.isolate([old]);
      let next: number | undefined;
      for (let i = 0; i < 60 && next === undefined; i++) {
        runScript(sim, "tick 1");
        next = sim.ids().find((id) => id !== old && sim.node(id).raft?.role === "leader");
      }
      assert.ok(next !== undefined, "the majority elects a new leader");
      assert.ok(sim.write(next, "x", "new"));
      runScript(sim, "tick 3");
      assert.equal(sim.raft(old).role, "leader", "the old leader still believes it leads");
      sim.read(old, "x");
      runScript(sim, "tick 1");
      const result = checkHistory(sim.completedHistory());
      if (readOnly === "lease") assert.deepEqual(result, { ok: false, key: "x" });
      else assert.ok(result.ok, "a ReadIndex read cannot complete on the deposed leader");
    }
  });

  it("catches the broken read path in random runs too", { timeout: 60_000 }, () => {
    let caught = 0;
    forSeeds(150, 500_000, (seed) => {
      const sim = new Simulation({ seed, readMode: "brokenLocal" });
      sim.runRandom({ durationMs: 3000, crashes: true, partitions: true });
      if (!checkHistory(sim.completedHistory()).ok) caught++;
    }, "tests/raft/linearizability.test.ts");
    assert.ok(caught > 0, "no seed exposed the stale local read");
  });
});
