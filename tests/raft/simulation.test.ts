/**
 * Deterministic simulation of Raft clusters under faults, in the one seeded simulator
 * (`tests/sim/world.ts`) with the real driver on every node: thousands of seeds, each a few
 * seconds of simulated time with message loss, duplication, delay and reordering, partitions,
 * crashes that lose unsynced state, restarts, snapshots and membership changes; and a few hundred
 * more over the real transport and cluster bus on simulated TCP. Safety is checked after every
 * event (see `_sim.ts`); then the network heals and a majority must make progress; then the
 * clients' history must be linearizable. A failure prints `seed=N` and the command replaying it:
 *
 *     RAFT_SEED=N deno test -A tests/raft/simulation.test.ts
 *
 * (`RAFT_SEED=N deno task sim` replays it too.) `RAFT_TRACE=1` with `RAFT_SEED=N` also prints
 * every event of the run (messages, crashes, partitions, elections), `SIM_TRACE=1` what the
 * simulated world does. `RAFT_SEEDS=X` multiplies the number of seeds of each test.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  forSeeds,
  forSeedsAsync,
  type RandomRunOptions,
  type SimOptions,
  Simulation,
} from "./_sim.ts";
import { checkHistory } from "./_linearizability.ts";
import process from "node:process";

const FILE = "tests/raft/simulation.test.ts";
/** Thousands of seeds take longer than a test runner's default timeout (Bun: 5 s). */
const LONG = { timeout: 180_000 };
const SCALE = Number(process.env.RAFT_SEEDS ?? "1");

function seeds(base: number): number {
  return Math.max(1, Math.round(base * SCALE));
}

type RunOptions = Omit<RandomRunOptions, "durationMs"> & { durationMs?: number };

type Totals = Record<keyof Simulation["stats"] | "tcpResets" | "tcpRefused", number>;

/** Runs one seed: faults, recovery, then the linearizability check. Returns its stats. */
function runSeed(options: SimOptions, run: RunOptions): Simulation {
  const sim = new Simulation(options);
  sim.runRandom({ durationMs: 3000, crashes: true, partitions: true, ...run });
  const result = checkHistory(sim.completedHistory());
  if (!result.ok) sim.fail(`history of key ${result.key} is not linearizable`);
  return sim;
}

/** `runSeed` over the real transport on simulated TCP. */
async function runTcpSeed(options: SimOptions, run: RunOptions): Promise<Simulation> {
  const sim = new Simulation({ ...options, network: "tcp" });
  await sim.runRandomAsync({ durationMs: 3000, crashes: true, partitions: true, ...run });
  const result = checkHistory(sim.completedHistory());
  if (!result.ok) sim.fail(`history of key ${result.key} is not linearizable`);
  return sim;
}

function add(totals: Totals, sim: Simulation): void {
  const all = {
    ...sim.stats,
    tcpResets: sim.world.stats.tcpResets,
    tcpRefused: sim.world.stats.tcpRefused,
  };
  for (const [key, value] of Object.entries(all)) {
    totals[key as keyof Totals] = (totals[key as keyof Totals] ?? 0) + value;
  }
}

function runMany(
  count: number,
  first: number,
  options: Omit<SimOptions, "seed">,
  run: RunOptions,
): Totals {
  const totals = {} as Totals;
  forSeeds(count, first, (seed) => add(totals, runSeed({ ...options, seed }, run)), FILE);
  return totals;
}

async function runManyTcp(
  count: number,
  first: number,
  options: Omit<SimOptions, "seed">,
  run: RunOptions,
): Promise<Totals> {
  const totals = {} as Totals;
  await forSeedsAsync(count, first, async (seed) => {
    add(totals, await runTcpSeed({ ...options, seed }, run));
  }, FILE);
  return totals;
}

// The seed counts fit the suite's time budget (about 40 s on two idle cores, all tests of this
// file); `RAFT_SEEDS=10` runs ten times as many.
describe("raft simulation", () => {
  it(
    "keeps every safety property and recovers under loss, delay, partitions and crashes",
    LONG,
    () => {
      const totals = runMany(seeds(2500), 1, {}, {});
      // The faults and features must actually have been exercised.
      assert.ok(totals.crashes > 0 && totals.partitions > 0 && totals.leaderTerms > seeds(2500));
      assert.ok(totals.readsServed > 0 && totals.writesApplied > 0 && totals.snapshotsRestored > 0);
    },
  );

  it("changes membership (simple and joint) under the same faults", LONG, () => {
    const totals = runMany(seeds(1200), 100_000, {}, { membership: true });
    assert.ok(totals.confChangesApplied > seeds(1200));
  });

  it("installs chunked snapshots on lagging and new nodes under the same faults", LONG, () => {
    const totals = runMany(
      seeds(600),
      200_000,
      { snapshotEveryEntries: 5, snapshotChunkBytes: 16 },
      { membership: true },
    );
    assert.ok(totals.snapshotsRestored > seeds(600));
  });

  it(
    "serves linearizable lease reads under the same faults, with clocks drifting within the bound",
    LONG,
    () => {
      // Rates within ±6%: over an election timeout of 15 ticks two clocks drift apart by under 2
      // ticks, the default leaseClockDriftTicks.
      runMany(seeds(600), 300_000, { readOnly: "lease", clockDriftRate: 0.06 }, {
        transfers: true,
      });
    },
  );

  it("transfers leadership under the same faults", LONG, () => {
    const totals = runMany(seeds(500), 500_000, {}, { transfers: true, membership: true });
    assert.ok(totals.leaderTerms > seeds(500) * 2);
  });

  it("runs five voters with heavy loss and long delays", LONG, () => {
    runMany(seeds(500), 400_000, {
      voterCount: 5,
      dropRate: 0.2,
      duplicateRate: 0.1,
      maxDelayMs: 80,
    }, {});
  });

  it(
    "keeps ReadIndex reads linearizable through process pauses and clocks changing speed",
    LONG,
    () => {
      const totals = runMany(seeds(500), 600_000, {}, {
        pauses: true,
        clockJumps: true,
        membership: true,
      });
      assert.ok(totals.pauses > seeds(500) && totals.readsServed > 0);
    },
  );

  it(
    "keeps every safety property over the real transport and bus on simulated TCP",
    LONG,
    async () => {
      // Connections are reset by partitions and crashes, refused while a node is down, and come
      // back with the bus's backoff; every frame is HMAC-signed.
      const totals = await runManyTcp(seeds(150), 700_000, {
        secret: new TextEncoder().encode("cluster secret"),
      }, { membership: true, transfers: true, pauses: true });
      assert.ok(totals.crashes > 0 && totals.partitions > 0 && totals.tcpResets > 0);
      assert.ok(totals.tcpRefused > 0 && totals.readsServed > 0 && totals.writesApplied > 0);
      assert.ok(totals.confChangesApplied > 0 && totals.snapshotsRestored > 0);
    },
  );

  it("replays a seed exactly", LONG, async () => {
    const a = runSeed({ seed: 42 }, { membership: true });
    const b = runSeed({ seed: 42 }, { membership: true });
    assert.equal(a.eventCount, b.eventCount);
    assert.deepEqual(a.history, b.history);
    const c = await runTcpSeed({ seed: 42 }, { membership: true, pauses: true });
    const d = await runTcpSeed({ seed: 42 }, { membership: true, pauses: true });
    assert.equal(c.eventCount, d.eventCount);
    assert.deepEqual(c.history, d.history);
  });

  it("reports the seed and the replay command when a run fails", LONG, () => {
    assert.throws(
      () => forSeeds(1, 7, (seed) => new Simulation({ seed }).fail("boom"), FILE),
      /seed=7 failed: seed=7 t=0ms: boom\nreplay: RAFT_SEED=7 deno test -A tests\/raft\/simulation.test.ts/,
    );
  });
});
