// A cluster's control plane in the one simulator: on each simulated host, one process runs both
// real drivers, Raft (durable storage on a file system that loses what was not fsynced, the
// transport on the cluster bus over TCP) and gossip (UDP probes, TCP push-pull), as a node does.
// A seed drives delays, loss, duplicates, partitions, crashes (both drivers die together, files
// keep only their durable bytes and a torn tail), restarts, pauses and clock drift. Checked: no
// acknowledged write is lost and every node applies the same sequence; gossip sees every live
// node alive once healed. A failure prints its seed and the command replaying it.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { Bus } from "../../src/bus/bus.ts";
import { type GossipAgent, startGossip } from "../../src/gossip/driver.ts";
import { RaftDriver, type StateMachine } from "../../src/raft/driver.ts";
import { DurableStorage } from "../../src/raft/storage.ts";
import { Transport } from "../../src/raft/transport.ts";
import type { NodeId } from "../../src/raft/types.ts";
import { MemFileSystem } from "../_memfs.ts";
import { type Host, type SimRuntime, World } from "./world.ts";

const FILE = "tests/sim/cluster.test.ts";
const COUNT = Math.round(100 * Number(process.env.SIM_SEEDS ?? 1));
const BUS_PORT = 7000;
const GOSSIP_PORT = 7946;

/** Appends every command: the order of application is what is checked. */
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
  id: NodeId;
  host: Host;
  fs: MemFileSystem;
  runtime?: SimRuntime;
  driver?: RaftDriver;
  machine?: ListMachine;
  gossip?: GossipAgent;
}

class ControlPlane {
  readonly world: World;
  readonly members: Member[] = [];
  readonly acked: string[] = [];
  crashes = 0;
  tornBytes = 0;
  /** An error of a start that ran in the background: the run fails with it. */
  failure: unknown;
  /** Bytes of torn log tails that start-up cut off: recovery was exercised. */
  truncatedBytes = 0;

  constructor(readonly seed: number, size: number) {
    this.world = new World({
      seed,
      network: { lossRate: 0.02, duplicateRate: 0.01, minDelayMs: 1, maxDelayMs: 10 },
    });
    for (let id = 1; id <= size; id++) {
      const rate = 1 + (this.world.random.next() * 2 - 1) * 0.05;
      this.members.push({
        id,
        host: this.world.addHost(`n${id}`, { ip: `10.0.1.${id}`, rate }),
        fs: new MemFileSystem(),
      });
    }
  }

  /** Starts the node's process; a crash while it starts ends it quietly, as it would. */
  async start(member: Member): Promise<void> {
    const runtime = member.host.start({ fs: member.fs, fsyncDelayMs: 4 });
    try {
      await this.boot(member, runtime);
    } catch (error) {
      if (!runtime.life.dead) throw error;
    }
  }

  /** Storage from the node's files, the Raft driver on the bus, gossip. */
  private async boot(member: Member, runtime: SimRuntime): Promise<void> {
    const life = runtime.life;
    member.runtime = runtime;
    const storage = await DurableStorage.open({ fs: runtime.fs, dir: "/raft" });
    this.truncatedBytes += storage.recovery.truncatedBytes;
    if (storage.isEmpty()) await storage.bootstrap(this.members.map((m) => m.id));
    const peers = new Map(
      this.members.filter((m) => m !== member).map((m) => [m.id, {
        hostname: m.host.ip,
        port: BUS_PORT,
      }]),
    );
    const bus = await Bus.start({
      runtime,
      listen: { hostname: member.host.ip, port: BUS_PORT },
      peers,
      timers: {
        now: () => runtime.clock.monotonicMs(),
        setTimeout: (callback, delayMs) => runtime.timers.setTimeout(callback, delayMs),
        clearTimeout: (handle) => runtime.timers.clearTimeout(handle as never),
      },
      random: () => runtime.random(),
      log: () => {},
    });
    if (life.dead) return;
    const machine = new ListMachine();
    const ref: { driver?: RaftDriver } = {};
    const transport = Transport.attach(bus, {
      id: member.id,
      onMessage: (m) => ref.driver?.receive(m),
      onUnreachable: (peer) => ref.driver?.node.reportUnreachable(peer),
    });
    const driver = new RaftDriver({
      raft: { id: member.id },
      storage,
      stateMachine: machine,
      send: (messages) => transport.send(messages),
      snapshotEveryEntries: 40,
      compactionLagEntries: 5,
      requestTimeoutMs: 1000,
      runtime,
    });
    ref.driver = driver;
    driver.start();
    const gossip = await startGossip({
      id: `n${member.id}`,
      port: GOSSIP_PORT,
      bindHost: member.host.ip,
      profile: "local",
      runtime,
    });
    if (life.dead) return;
    const seeds = this.members.filter((m) => m !== member).map((m) => ({
      host: m.host.ip,
      port: GOSSIP_PORT,
    }));
    gossip.join(seeds).catch(() => {});
    Object.assign(member, { driver, machine, gossip });
  }

  /** Starts the node and runs the world until it is up (its fsyncs take simulated time). */
  async startNow(member: Member): Promise<void> {
    let started = false;
    const starting = this.start(member).finally(() => (started = true));
    for (let i = 0; i < 10_000 && !started; i++) await this.world.run(this.world.nowMs + 1);
    await starting;
  }

  /** Starts the node in the background (from a fault event). */
  restart(member: Member): void {
    this.start(member).catch((error) => (this.failure ??= error));
  }

  crash(member: Member): void {
    if (!member.host.up) return;
    member.host.crash();
    // What was written but not fsynced is lost, but for a torn prefix.
    const torn = this.world.random.int(40);
    this.tornBytes += torn;
    member.fs.crash(torn);
    member.driver = member.machine = member.gossip = undefined;
    this.crashes++;
  }

  leader(): Member | undefined {
    return this.members.find((m) => m.driver?.node.role === "leader");
  }

  /** A client: one write at a time through the leader; acknowledged ones must survive. */
  client(until: number): void {
    let n = 0;
    const next = () => {
      if (this.world.nowMs >= until) return;
      const leader = this.leader();
      if (leader === undefined) {
        this.world.schedule("timer", this.world.nowMs + 5, null, next);
        return;
      }
      const value = `w${n++}`;
      leader.driver!.proposeWith(new TextEncoder().encode(value), (error) => {
        if (error === undefined) this.acked.push(value);
        this.world.schedule("timer", this.world.nowMs + (error ? 5 : 1), null, next);
      });
    };
    this.world.schedule("timer", this.world.nowMs, null, next);
  }

  /** Random faults, one decision every 100 ms until `until`. */
  faults(until: number): void {
    const rng = this.world.random.fork();
    const step = () => {
      if (this.world.nowMs >= until) return;
      const member = rng.pick(this.members);
      const roll = rng.next();
      if (roll < 0.08) {
        this.crash(member);
        const downMs = rng.between(10, 400);
        this.world.schedule("timer", this.world.nowMs + downMs, null, () => {
          if (!member.host.up) this.restart(member);
        });
      } else if (roll < 0.11) {
        // The whole cluster loses power at once.
        for (const m of this.members) this.crash(m);
        this.world.schedule("timer", this.world.nowMs + rng.between(10, 200), null, () => {
          for (const m of this.members) if (!m.host.up) this.restart(m);
        });
      } else if (roll < 0.16) {
        this.world.isolate(this.members.filter(() => rng.chance(0.4)).map((m) => m.host));
      } else if (roll < 0.25) {
        this.world.heal();
      } else if (roll < 0.3 && member.host.up) {
        member.host.pause(rng.between(20, 400));
      }
      this.world.schedule("timer", this.world.nowMs + 100, null, step);
    };
    this.world.schedule("timer", this.world.nowMs + 100, null, step);
  }
}

async function runSeed(seed: number): Promise<ControlPlane> {
  const cp = new ControlPlane(seed, 3);
  for (const m of cp.members) await cp.startNow(m);
  cp.client(3000);
  cp.faults(3000);
  await cp.world.run(3000);
  // Heal: everyone up, no partition; every node must apply a final marker.
  cp.world.heal();
  cp.world.faulty = false;
  for (const m of cp.members) if (!m.host.up) await cp.startNow(m);
  let done = false;
  let proposed = false;
  for (let i = 0; i < 200 && !done; i++) {
    await cp.world.run(cp.world.nowMs + 50);
    const leader = cp.leader();
    if (!proposed && leader !== undefined) {
      leader.driver!.proposeWith(new TextEncoder().encode("end"), () => {});
      proposed = true;
    }
    done = cp.members.every((m) => m.machine?.applied.includes("end"));
    if (i % 20 === 19) proposed = false;
  }
  if (cp.failure !== undefined) throw cp.failure;
  assert.ok(done, "every node applies the final marker");
  const logs = cp.members.map((m) => m.machine!.applied);
  const shortest = Math.min(...logs.map((l) => l.length));
  for (const log of logs) {
    assert.deepEqual(log.slice(0, shortest), logs[0].slice(0, shortest), `same sequence`);
  }
  const lost = cp.acked.filter((value) => !logs[0].includes(value));
  assert.deepEqual(lost, [], "no acknowledged write is lost");
  const names = cp.members.map((m) => `n${m.id}`);
  const converged = () =>
    cp.members.every((m) =>
      names.every((name) => m.gossip!.members().find((x) => x.id === name)?.state === "alive")
    );
  for (let i = 0; i < 100 && !converged(); i++) await cp.world.run(cp.world.nowMs + 100);
  assert.ok(converged(), "gossip sees every node alive once healed");
  return cp;
}

describe("control plane in the simulator (real Raft and gossip drivers on the same hosts)", () => {
  it(
    "loses no acknowledged write, applies one sequence everywhere and converges on membership",
    { timeout: 180_000 },
    async () => {
      const only = process.env.SIM_SEED;
      const seeds = only !== undefined
        ? [Number(only)]
        : Array.from({ length: COUNT }, (_, i) => i + 1);
      let acked = 0, crashes = 0, truncated = 0;
      for (const seed of seeds) {
        try {
          const cp = await runSeed(seed);
          acked += cp.acked.length;
          crashes += cp.crashes;
          truncated += cp.truncatedBytes;
        } catch (error) {
          throw new Error(
            `seed=${seed} failed: ${
              (error as Error).message
            }\nreplay: SIM_SEED=${seed} deno test -A ${FILE}`,
            { cause: error },
          );
        }
      }
      assert.ok(acked > seeds.length * 20, `only ${acked} writes acknowledged`);
      assert.ok(crashes > seeds.length, `only ${crashes} crashes`);
      assert.ok(truncated > 0, "no restart cut a torn log tail: recovery was not exercised");
    },
  );

  it(
    "replays a seed exactly: the same events, the same acknowledged writes",
    { timeout: 60_000 },
    async () => {
      const a = await runSeed(5);
      const b = await runSeed(5);
      assert.equal(a.world.eventCount, b.world.eventCount);
      assert.deepEqual(a.acked, b.acked);
      assert.deepEqual(a.world.stats, b.world.stats);
    },
  );
});
