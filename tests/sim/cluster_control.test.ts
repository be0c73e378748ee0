// The real cluster control plane (src/cluster/control.ts: ClusterControl, with its bus, Raft over
// the configuration, gossip and the leader's duties) on five simulated hosts. Each host runs
// `ClusterControl.start` on a SimRuntime (simulated clock with drift, TCP, UDP, and a file system
// that keeps only fsynced bytes and a torn tail across a crash). A seed drives the network
// (delays, loss, duplicates, split reads) and every fault. Sampled every simulated 50 ms:
//  (a) from nothing, the five bootstrap and converge: every node serving, one epoch, every slot
//      owned (and no migration left running);
//  (b) always: two nodes that applied the same epoch (now or at any earlier sample) agree on every
//      slot's owner, and once the slots were assigned no later epoch leaves a slot unowned;
//  (c) a flap shorter than failure_timeout (a pause, or the host isolated, ~1 s of 3 s) changes
//      no slot's owner;
//  (d) a crash longer than failure_timeout moves the slots of the crashed node to the others (not
//      before the timeout), every slot stays owned, and a serving node's map stops naming the dead
//      owner soon after the change; restarted from its files, the node gets slots back;
//  (e) random partitions, pauses, crashes and restarts from the node's files, then healed: the
//      cluster converges again as in (a), every node owning slots;
// and, under every fault, a node cut off from every other host stops serving within the lease,
// and serving nodes stop naming a down node soon after the newest map gave it nothing.
// A failure prints its seed, the command replaying it, the run's timeline and each node's log.
// SIM_SEEDS scales the seed count (40 by default), SIM_SEED=n runs one seed, SIM_VERBOSE=1 prints
// each seed's measures, SIM_LOG=1 its timeline and the nodes' logs.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { ClusterControl, type ControlHooks } from "../../src/cluster/control.ts";
import { buildConfig, type NodeConfig } from "../../src/config/config.ts";
import type { HttpExecutor } from "../../src/http/executor.ts";
import { SLOT_COUNT } from "../../src/ring/constants.ts";
import { MemFileSystem } from "../_memfs.ts";
import type { Random } from "./random.ts";
import { type Host, type SimRuntime, World } from "./world.ts";

const FILE = "tests/sim/cluster_control.test.ts";
const COUNT = Math.round(40 * Number(process.env.SIM_SEEDS ?? 1));
const SIZE = 5;
const PORT = 7000;
const BUS_PORT = 17000;
const GOSSIP_PORT = 27000;
const FAILURE_TIMEOUT_MS = 3000;
const SAMPLE_MS = 50;
/** How long after the slots of a dead node moved a serving node may still name it. */
const STALE_OWNER_MS = 1000;
/**
 * The same under any faults: a node cut off with its leader may serve its old map until the
 * leader steps down and the lease runs out.
 */
const STALE_OWNER_FAULTS_MS = 2500;
/**
 * How long a node cut off from every other host may still say it serves: the lease (half of
 * failure_timeout, on a clock up to 5% off), a duty interval and a sample.
 */
const ALONE_MS = FAILURE_TIMEOUT_MS / 2 * 1.06 + 100 + SAMPLE_MS + 100;

/** One node's configuration, through the real config reader. */
function configOf(name: string, ip: string, others: string[]): NodeConfig {
  return buildConfig({
    node_id: name,
    bind: ip,
    port: PORT,
    data_dir: "/data",
    cluster: {
      enabled: true,
      announce_host: ip,
      bus_port: BUS_PORT,
      gossip_port: GOSSIP_PORT,
      seeds: others.map((other) => `${other}:${GOSSIP_PORT}`),
      bootstrap_expect: SIZE,
      failure_timeout: `${FAILURE_TIMEOUT_MS / 1000}s`,
    },
  });
}

interface Node {
  name: string;
  host: Host;
  /** The host's disk: it outlives the process. */
  fs: MemFileSystem;
  config: NodeConfig;
  runtime?: SimRuntime;
  /** The control plane of the running process, once started. */
  control?: ClusterControl;
  log: string[];
  starts: number;
  hasKeysCalls: number;
  /** Since when the host reaches no other running host (undefined while it does). */
  aloneSince?: number;
  drops: number;
}

/** What a node's applied state says about the slots. */
interface View {
  epoch: number;
  /** Every slot's owner, joined: equal strings, equal maps. */
  owners: string;
  allOwned: boolean;
  ownerSet: ReadonlySet<string>;
}

/** A crashed node whose slots must go to the others. */
interface Dead {
  name: string;
  crashedAt: number;
  /** When a node's map first no longer named it (all slots owned). */
  movedAt?: number;
}

class Sim {
  readonly world: World;
  readonly nodes: Node[] = [];
  readonly rng: Random;
  /** Owners by epoch, over the whole run: one epoch, one map. */
  readonly byEpoch = new Map<number, { owners: string; node: string; at: number }>();
  /** The first epoch whose map owns every slot. */
  firstFullEpoch = Infinity;
  /** The newest map any node applied, and when it was first seen. */
  newest: { view: View; at: number } | undefined;
  dead: Dead | undefined;
  /** While set, every node's owners must stay this (a flap). */
  frozen: { owners: string; since: number } | undefined;
  failure: Error | undefined;
  readonly timeline: string[] = [];
  samples = 0;
  /** Samples where a node's map was checked against another node's at the same epoch. */
  comparisons = 0;
  /** The longest a serving node still named a dead owner after its slots moved. */
  staleMs = 0;
  /** Samples of a node alone for longer than ALONE_MS (each checked not to serve). */
  aloneSamples = 0;
  crashes = 0;
  tornBytes = 0;
  readonly #views = new WeakMap<
    ClusterControl,
    { epoch: number; map: unknown; target: unknown; view: View }
  >();

  constructor(readonly seed: number) {
    this.world = new World({
      seed,
      network: { lossRate: 0.02, duplicateRate: 0.01, minDelayMs: 1, maxDelayMs: 10 },
    });
    this.rng = this.world.random.fork();
    const ips = Array.from({ length: SIZE }, (_, i) => `10.0.2.${i + 1}`);
    for (let i = 0; i < SIZE; i++) {
      const name = `n${i + 1}`;
      const rate = 1 + (this.world.random.next() * 2 - 1) * 0.05;
      this.nodes.push({
        name,
        host: this.world.addHost(name, { ip: ips[i], rate }),
        fs: new MemFileSystem(),
        config: configOf(name, ips[i], ips.filter((_, j) => j !== i)),
        log: [],
        starts: 0,
        hasKeysCalls: 0,
        drops: 0,
      });
    }
  }

  note(line: string): void {
    this.timeline.push(`${this.world.nowMs.toFixed(0)} ms: ${line}`);
  }

  #hooks(node: Node): ControlHooks {
    // Forwarding and migration of keys are not exercised: no key is ever stored.
    const executor = {
      client: () => ({ role: "admin", db: 0, protocol: 2 }),
      runText: () => "-ERR not in this simulation\r\n",
    } as unknown as HttpExecutor;
    return {
      executor,
      dropSlot: () => (node.drops++, 0),
      hasKeysIn: () => (node.hasKeysCalls++, false),
      exists: () => false,
      stores: { take: () => [], put: () => {} },
      deliver: () => {},
      log: (line) => node.log.push(`${this.world.nowMs.toFixed(0)} ms ${line}`),
    };
  }

  /** Starts the node's process from its files, in the background. */
  start(node: Node): void {
    const runtime = node.host.start({ fs: node.fs, fsyncDelayMs: 4 });
    node.runtime = runtime;
    node.starts++;
    this.note(`start ${node.name}`);
    ClusterControl.start(node.config, runtime, this.#hooks(node), { port: PORT, httpPort: 0 })
      .then(
        (control) => {
          if (!runtime.life.dead) node.control = control;
        },
        (error) => {
          if (!runtime.life.dead) {
            this.failure ??= new Error(`${node.name} failed to start: ${error}`, { cause: error });
          }
        },
      );
  }

  crash(node: Node): void {
    if (!node.host.up) return;
    node.host.crash();
    const torn = this.rng.int(40);
    this.tornBytes += torn;
    node.fs.crash(torn);
    node.control = node.runtime = undefined;
    this.crashes++;
    this.note(`crash ${node.name}`);
  }

  view(control: ClusterControl): View {
    const state = control.state;
    const cached = this.#views.get(control);
    if (
      cached !== undefined && cached.epoch === state.epoch && cached.map === state.slotMap &&
      cached.target === state.target
    ) {
      return cached.view;
    }
    const owners = new Array<string>(SLOT_COUNT);
    const ownerSet = new Set<string>();
    let allOwned = true;
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      const owner = state.ownerOf(slot);
      owners[slot] = owner;
      if (owner === "") allOwned = false;
      else ownerSet.add(owner);
    }
    const view = { epoch: state.epoch, owners: owners.join(","), allOwned, ownerSet };
    this.#views.set(control, {
      epoch: state.epoch,
      map: state.slotMap,
      target: state.target,
      view,
    });
    return view;
  }

  live(): Node[] {
    return this.nodes.filter((n) => n.control !== undefined);
  }

  /** The checks made at every sample: (b), and those of a flap (c) or a crash (d) under way. */
  sample(): void {
    this.samples++;
    const now = this.world.nowMs;
    for (const node of this.live()) {
      const control = node.control!;
      const view = this.view(control);
      const seen = this.byEpoch.get(view.epoch);
      if (seen === undefined) {
        this.byEpoch.set(view.epoch, { owners: view.owners, node: node.name, at: now });
      } else if (seen.node !== node.name) this.comparisons++;
      if (seen !== undefined && seen.owners !== view.owners) {
        const a = seen.owners.split(","), b = view.owners.split(",");
        const slot = a.findIndex((owner, i) => owner !== b[i]);
        throw new Error(
          `(b) epoch ${view.epoch}: ${node.name} has slot ${slot} owned by ${
            b[slot] || "nobody"
          }, ${seen.node} had it owned by ${a[slot] || "nobody"} (at ${seen.at.toFixed(0)} ms)`,
        );
      }
      if (view.allOwned) this.firstFullEpoch = Math.min(this.firstFullEpoch, view.epoch);
      if (this.newest === undefined || view.epoch > this.newest.view.epoch) {
        this.newest = { view, at: now };
      }
      if (view.epoch > this.firstFullEpoch && !view.allOwned) {
        throw new Error(
          `(b) epoch ${view.epoch} on ${node.name} leaves slots unowned after epoch ${this.firstFullEpoch} owned them all`,
        );
      }
      if (this.frozen !== undefined && view.owners !== this.frozen.owners) {
        throw new Error(
          `(c) a flap shorter than failure_timeout moved slots: ${node.name} at epoch ${view.epoch} owners ${
            [...view.ownerSet].join(",")
          }`,
        );
      }
      const dead = this.dead;
      if (dead !== undefined && view.allOwned && !view.ownerSet.has(dead.name)) {
        if (dead.movedAt === undefined) {
          dead.movedAt = now;
          this.note(`${node.name} is first to apply a map without ${dead.name}`);
          // The host's clock may run 5% fast: the timeout passes a little early in true time.
          if (now - dead.crashedAt < FAILURE_TIMEOUT_MS * 0.9) {
            throw new Error(
              `(d) ${dead.name}'s slots moved ${
                (now - dead.crashedAt).toFixed(0)
              } ms after its crash, before failure_timeout (${FAILURE_TIMEOUT_MS} ms)`,
            );
          }
        }
      }
      if (
        dead?.movedAt !== undefined && now - dead.movedAt > STALE_OWNER_MS &&
        control.serving && view.ownerSet.has(dead.name)
      ) {
        throw new Error(
          `(d) ${node.name} serves with a map (epoch ${view.epoch}) naming the dead ${dead.name}, ${
            (now - dead.movedAt).toFixed(0)
          } ms after its slots moved`,
        );
      }
    }
    // Whatever the faults: once the newest map gives a node that is down nothing, serving nodes
    // soon stop naming it.
    const newest = this.newest;
    if (newest?.view.allOwned) {
      for (const down of this.nodes) {
        if (down.host.up || newest.view.ownerSet.has(down.name)) continue;
        for (const node of this.live()) {
          if (!node.control!.serving || !this.view(node.control!).ownerSet.has(down.name)) continue;
          this.staleMs = Math.max(this.staleMs, now - newest.at);
          if (now - newest.at <= STALE_OWNER_FAULTS_MS) continue;
          throw new Error(
            `(d) ${node.name} serves with a map (epoch ${
              node.control!.epoch
            }) naming ${down.name}, ` +
              `down, ${(now - newest.at).toFixed(0)} ms after epoch ${newest.view.epoch} ` +
              `gave it no slot`,
          );
        }
      }
    }
    // A node that reaches no other running host is in touch with no quorum: within the lease it
    // stops serving (a voter set has at least two members here, see the opt-in test).
    for (const node of this.nodes) {
      const host = node.host;
      const alone = node.control !== undefined && !host.paused &&
        !this.nodes.some((o) =>
          o !== node && o.host.up && !o.host.paused && this.world.reachable(host, o.host) &&
          this.world.reachable(o.host, host)
        );
      if (!alone) node.aloneSince = undefined;
      else node.aloneSince ??= now;
      if (node.aloneSince === undefined || now - node.aloneSince <= ALONE_MS) continue;
      this.aloneSamples++;
      if (node.control!.serving) {
        throw new Error(
          `(serving) ${node.name} still serves ${
            (now - node.aloneSince).toFixed(0)
          } ms after it was cut off from every other host`,
        );
      }
    }
    if (this.failure !== undefined) throw this.failure;
  }

  /** Runs the world for `ms`, sampling every SAMPLE_MS. */
  async runFor(ms: number): Promise<void> {
    const end = this.world.nowMs + ms;
    while (this.world.nowMs < end) {
      await this.world.run(Math.min(end, this.world.nowMs + SAMPLE_MS));
      this.sample();
    }
  }

  /** Runs until `done()`, at most `maxMs`; fails naming `what` otherwise. */
  async until(what: string, maxMs: number, done: () => boolean): Promise<number> {
    const start = this.world.nowMs;
    while (!done()) {
      if (this.world.nowMs - start > maxMs) {
        throw new Error(`${what}: not after ${maxMs} ms\n${this.status()}`);
      }
      await this.runFor(SAMPLE_MS);
    }
    return this.world.nowMs - start;
  }

  /** (a) over `nodes`: all serving, one epoch, every slot owned, no migration, owned by `owners`. */
  converged(nodes: Node[], owners: string[]): boolean {
    let epoch: number | undefined;
    for (const node of nodes) {
      const control = node.control;
      if (control === undefined || !control.serving || control.state.target !== null) return false;
      const view = this.view(control);
      if (!view.allOwned) return false;
      if (epoch !== undefined && view.epoch !== epoch) return false;
      epoch = view.epoch;
      if (view.ownerSet.size !== owners.length || owners.some((o) => !view.ownerSet.has(o))) {
        return false;
      }
    }
    return true;
  }

  status(): string {
    return this.nodes.map((n) => {
      const c = n.control;
      if (c === undefined) return `  ${n.name}: ${n.host.up ? "starting" : "down"}`;
      const v = this.view(c);
      return `  ${n.name}: serving=${c.serving} role=${
        c.driver?.node.role ?? "none"
      } epoch=${v.epoch} ` +
        `owners=${[...v.ownerSet].sort().join(",") || "-"}${v.allOwned ? "" : " (slots unowned)"}` +
        `${c.state.target !== null ? " migrating" : ""} members=${
          c.state.members().map((m) => m.id).join(",")
        } gossip=${c.gossip.members().map((g) => `${g.id}:${g.state}`).join(",")}`;
    }).join("\n");
  }

  /** Random faults, one decision every 100 ms, for `ms`. */
  async faults(ms: number): Promise<void> {
    const end = this.world.nowMs + ms;
    while (this.world.nowMs < end) {
      const rng = this.rng;
      const node = rng.pick(this.nodes);
      const roll = rng.next();
      if (roll < 0.05) {
        if (node.host.up) {
          this.crash(node);
          const downMs = rng.between(100, 2 * FAILURE_TIMEOUT_MS);
          this.world.schedule("timer", this.world.nowMs + downMs, null, () => {
            if (!node.host.up) this.start(node);
          });
        }
      } else if (roll < 0.06) {
        this.note("power loss: every host crashes");
        for (const n of this.nodes) this.crash(n);
        this.world.schedule("timer", this.world.nowMs + rng.between(10, 500), null, () => {
          for (const n of this.nodes) if (!n.host.up) this.start(n);
        });
      } else if (roll < 0.10) {
        const group = this.nodes.filter(() => rng.chance(0.4));
        this.note(`isolate ${group.map((n) => n.name).join(",") || "nobody"}`);
        this.world.isolate(group.map((n) => n.host));
      } else if (roll < 0.16) {
        this.note("heal");
        this.world.heal();
      } else if (roll < 0.22 && node.host.up) {
        const pauseMs = rng.between(20, 1500);
        this.note(`pause ${node.name} for ${pauseMs} ms`);
        node.host.pause(pauseMs);
      }
      await this.runFor(100);
    }
  }
}

/** What one seed measured. */
interface Result {
  bootMs: number;
  flap: string;
  /** Whether the node crashed for longer than failure_timeout was the Raft leader. */
  leaderCrashed: boolean;
  moveMs: number;
  staleMs: number;
  rejoinMs: number;
  healMs: number;
  samples: number;
  comparisons: number;
  aloneSamples: number;
  crashes: number;
  epochs: number;
  simulatedMs: number;
  events: number;
  timeline: string[];
}

async function runSeed(
  seed: number,
  run: (sim: Sim) => Promise<Partial<Result>> = scenario,
  replay = `SIM_SEED=${seed} deno test --allow-all ${FILE}`,
): Promise<Result> {
  const sim = new Sim(seed);
  try {
    const measured = await run(sim);
    if (process.env.SIM_LOG === "1") {
      console.log(`seed=${seed}\n  ${sim.timeline.join("\n  ")}`);
      for (const n of sim.nodes) console.log(`--- ${n.name}\n${n.log.join("\n")}`);
    }
    return {
      bootMs: 0,
      flap: "",
      leaderCrashed: false,
      moveMs: 0,
      rejoinMs: 0,
      healMs: 0,
      ...measured,
      staleMs: sim.staleMs,
      samples: sim.samples,
      comparisons: sim.comparisons,
      aloneSamples: sim.aloneSamples,
      crashes: sim.crashes,
      epochs: sim.byEpoch.size,
      simulatedMs: sim.world.nowMs,
      events: sim.world.eventCount,
      timeline: sim.timeline,
    };
  } catch (error) {
    const logs = sim.nodes.map((n) => `--- ${n.name} (last lines)\n${n.log.slice(-12).join("\n")}`);
    throw new Error(
      `seed=${seed} failed at ${sim.world.nowMs.toFixed(0)} ms: ${(error as Error).message}\n` +
        `replay: ${replay}\n` +
        `timeline:\n  ${sim.timeline.slice(-30).join("\n  ")}\n${logs.join("\n")}`,
      { cause: error },
    );
  }
}

/** (a) from nothing: the five start within half a second of each other, in the seed's order. */
async function boot(sim: Sim): Promise<number> {
  for (const node of sim.nodes) {
    sim.world.schedule("timer", sim.rng.between(0, 500), null, () => sim.start(node));
  }
  const all = sim.nodes.map((n) => n.name);
  const bootMs = await sim.until(
    "(a) start-up converges",
    30_000,
    () => sim.converged(sim.nodes, all),
  );
  sim.note(`converged (epoch ${sim.nodes[0].control!.epoch})`);
  return bootMs;
}

/** (d): crashes `victim` and waits until the others own every slot. */
async function crashForGood(sim: Sim, victim: Node): Promise<number> {
  const others = sim.nodes.filter((n) => n !== victim && n.host.up);
  sim.crash(victim);
  sim.dead = { name: victim.name, crashedAt: sim.world.nowMs };
  const moveMs = await sim.until(
    `(d) ${victim.name}'s slots go to ${others.map((n) => n.name).join(", ")}`,
    FAILURE_TIMEOUT_MS + 20_000,
    () => sim.converged(others, others.map((n) => n.name)),
  );
  sim.note(
    `${others.map((n) => n.name).join(", ")} own every slot (epoch ${others[0].control!.epoch})`,
  );
  return moveMs;
}

async function scenario(sim: Sim): Promise<Partial<Result>> {
  const { world, nodes, rng } = sim;
  const all = nodes.map((n) => n.name);
  const bootMs = await boot(sim);

  // (c) A flap shorter than failure_timeout moves nothing.
  const flapped = rng.pick(nodes);
  const flapMs = rng.between(800, 1200);
  const how = rng.chance(0.5) ? "pause" : "isolate";
  sim.frozen = { owners: sim.view(nodes[0].control!).owners, since: world.nowMs };
  sim.note(`${how} ${flapped.name} for ${flapMs} ms`);
  if (how === "pause") flapped.host.pause(flapMs);
  else {
    world.isolate([flapped.host]);
    world.schedule("timer", world.nowMs + flapMs, null, () => world.heal());
  }
  await sim.runFor(flapMs + 2 * FAILURE_TIMEOUT_MS);
  await sim.until("(c) converges after the flap", 20_000, () => sim.converged(nodes, all));
  sim.frozen = undefined;

  // (d) A crash longer than failure_timeout: the slots go to the others; restarted from its
  // files, the node gets slots back.
  const victim = rng.pick(nodes);
  const leaderCrashed = victim.control!.driver?.node.role === "leader";
  const moveMs = await crashForGood(sim, victim);
  await sim.runFor(rng.between(0, 2000));
  sim.dead = undefined;
  sim.start(victim);
  const rejoinMs = await sim.until(
    `(d) ${victim.name}, restarted from its files, owns slots again`,
    30_000,
    () => sim.converged(nodes, all),
  );
  sim.note(`${victim.name} owns slots again (epoch ${nodes[0].control!.epoch})`);

  // (e) Random faults, then heal: the cluster converges again.
  await sim.faults(10_000);
  sim.note("heal, every host up");
  world.heal();
  for (const node of nodes) if (!node.host.up) sim.start(node);
  const healMs = await sim.until(
    "(e) the cluster converges once healed",
    60_000,
    () => sim.converged(nodes, all),
  );
  for (const node of nodes) {
    assert.equal(node.drops, 0, "no key was stored, so none is dropped");
    assert.ok(node.hasKeysCalls > 0, `${node.name} swept its slots`);
  }
  return { bootMs, flap: `${how} ${flapMs} ms`, leaderCrashed, moveMs, rejoinMs, healMs };
}

/**
 * Two voters fail for good one after the other (the second after the first one's slots moved):
 * three of five nodes are live, so they should carry on. They do not today (see the test).
 */
async function secondVoterFailure(sim: Sim): Promise<Partial<Result>> {
  const bootMs = await boot(sim);
  const voterOf = (node: Node) => {
    const leader = sim.live().find((n) => n.control!.driver?.node.role === "leader")?.control;
    const voters = leader?.driver?.node.status().confState.voters ?? [];
    return voters.includes(node.control!.self.raftId);
  };
  const first = sim.rng.pick(sim.nodes.filter(voterOf));
  const moveMs = await crashForGood(sim, first);
  await sim.runFor(1000);
  sim.dead = undefined;
  const leader = sim.live().find((n) => n.control!.driver?.node.role === "leader")!;
  const status = leader.control!.driver!.node.status().confState;
  sim.note(`${status.voters.length} voters, ${status.learners.length} learners`);
  // A voter other than the leader, so that the configuration needs no election to go on.
  const second = sim.live().find((n) => n !== leader && voterOf(n))!;
  const rejoinMs = await crashForGood(sim, second);
  return { bootMs, moveMs, rejoinMs };
}

describe("the real ClusterControl on five simulated hosts", () => {
  it(
    "bootstraps, keeps one map per epoch, rides out flaps, moves a dead node's slots, heals",
    { timeout: 600_000 },
    async () => {
      const only = process.env.SIM_SEED;
      const seeds = only !== undefined
        ? [Number(only)]
        : Array.from({ length: COUNT }, (_, i) => i + 1);
      const started = performance.now();
      let simulated = 0, crashes = 0, samples = 0, comparisons = 0, leaderCrashes = 0, alone = 0;
      const worst = { bootMs: 0, moveMs: 0, staleMs: 0, rejoinMs: 0, healMs: 0 };
      for (const seed of seeds) {
        const r = await runSeed(seed);
        simulated += r.simulatedMs;
        crashes += r.crashes;
        samples += r.samples;
        comparisons += r.comparisons;
        alone += r.aloneSamples;
        if (r.leaderCrashed) leaderCrashes++;
        for (const key of Object.keys(worst) as (keyof typeof worst)[]) {
          worst[key] = Math.max(worst[key], r[key]);
        }
        if (process.env.SIM_VERBOSE === "1") console.log(`seed=${seed}`, { ...r, timeline: [] });
      }
      console.log(
        `${seeds.length} seeds, ${(simulated / 1000).toFixed(0)} s simulated in ${
          ((performance.now() - started) / 1000).toFixed(1)
        } s: ${samples} samples (${comparisons} against another node at the same epoch, ${alone} of a node ` +
          `cut off and not serving), ` +
          `${crashes} crashes (${leaderCrashes} long ones of the leader); slowest (simulated ms): ` +
          `start-up ${worst.bootMs}, slots off a dead node ${worst.moveMs}, a serving node ` +
          `naming it after ${worst.staleMs}, its rejoin ${worst.rejoinMs}, heal ${worst.healMs}`,
      );
      assert.ok(crashes > seeds.length, `only ${crashes} crashes`);
      assert.ok(comparisons > seeds.length * 100, `only ${comparisons} same-epoch comparisons`);
    },
  );

  it("replays a seed exactly", { timeout: 300_000 }, async () => {
    const a = await runSeed(3);
    const b = await runSeed(3);
    assert.deepEqual(a, b);
  });

  // The leader adds a node as a voter only when it first enters Raft while there are fewer than
  // `voters`; a voter removed after failing for good must be replaced by a learner, or five nodes
  // with `voters: 3` are left with two voters and a second failure stops the configuration.
  it(
    "carries on after a second voter fails for good (a learner is promoted in the first's place)",
    { timeout: 300_000 },
    async () => {
      const seeds = process.env.SIM_SEED !== undefined
        ? [Number(process.env.SIM_SEED)]
        : Array.from({ length: 5 }, (_, i) => i + 1);
      for (const seed of seeds) {
        await runSeed(
          seed,
          secondVoterFailure,
          `SIM_SEED=${seed} deno test --allow-all ${FILE}`,
        );
      }
    },
  );
});
