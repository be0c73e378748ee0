/**
 * Gossip clusters in the one seeded simulator (`tests/sim/world.ts`): every member is the real
 * driver, started with `startGossip` on a simulated host's runtime, so probes and gossip travel as
 * simulated UDP datagrams (loss, delay, reordering) and push-pull as simulated TCP streams, on
 * simulated timers. Faults: partitions, crashes, restarts (at the same or a new address), stalls
 * (a paused process) and slow hosts.
 */
import { type GossipAgent, startGossip } from "../../src/gossip/driver.ts";
import { type GossipConfig, gossipConfig, type GossipProfile } from "../../src/gossip/config.ts";
import { ENCRYPTION_OVERHEAD_BYTES, Keyring } from "../../src/gossip/keyring.ts";
import type { GossipNode } from "../../src/gossip/node.ts";
import type { Address, GossipEvent, MemberState } from "../../src/gossip/types.ts";
import { type Host, World } from "../sim/world.ts";

const PORT = 7946;

/** A member of the simulated cluster. */
export class SimNode {
  crashed = false;
  readonly events: { atMs: number; event: GossipEvent }[] = [];

  constructor(
    readonly id: string,
    readonly host: Host,
    readonly agent: GossipAgent,
  ) {}

  get address(): Address {
    return this.agent.address;
  }

  /** The real core inside the real driver. */
  get node(): GossipNode {
    return this.agent.node;
  }

  /** Extra random delay in [0, slowMs] before this node gets each message (an overloaded
   * host). */
  get slowMs(): number {
    return this.host.slowMs;
  }

  set slowMs(ms: number) {
    this.host.slowMs = ms;
  }
}

export interface SimOptions {
  seed: number;
  profile?: GossipProfile;
  config?: Partial<GossipConfig>;
  /** Probability that a datagram is lost. @default 0 */
  lossRate?: number;
  /** Probability that a datagram arrives twice. @default 0 */
  duplicateRate?: number;
  /** One-way delay range. @default [1, 5] */
  delayMs?: [number, number];
  /** Encrypts every datagram and stream with a shared key: the bytes encryption adds (29). */
  packetOverheadBytes?: number;
}

/** The simulated cluster. */
export class Sim {
  readonly seed: number;
  readonly world: World;
  readonly profile: GossipProfile;
  readonly config: GossipConfig;
  readonly nodes = new Map<string, SimNode>();
  readonly #overrides: Partial<GossipConfig>;
  readonly #key: Uint8Array | undefined;
  readonly #overheadBytes: number;

  constructor(options: SimOptions) {
    this.seed = options.seed;
    const [minDelayMs, maxDelayMs] = options.delayMs ?? [1, 5];
    this.world = new World({
      seed: options.seed,
      network: {
        lossRate: options.lossRate ?? 0,
        duplicateRate: options.duplicateRate ?? 0,
        minDelayMs,
        maxDelayMs,
      },
    });
    this.profile = options.profile ?? "lan";
    this.#overrides = options.config ?? {};
    this.config = gossipConfig(this.profile, this.#overrides);
    this.#overheadBytes = options.packetOverheadBytes ?? 0;
    if (this.#overheadBytes !== 0 && this.#overheadBytes !== ENCRYPTION_OVERHEAD_BYTES) {
      throw new RangeError(
        `encryption adds ${ENCRYPTION_OVERHEAD_BYTES} bytes, not ${this.#overheadBytes}`,
      );
    }
    // A fixed key: the key's bytes do not matter, and the run stays reproducible.
    this.#key = this.#overheadBytes > 0 ? new Uint8Array(32).fill(7) : undefined;
  }

  get nowMs(): number {
    return this.world.nowMs;
  }

  get lossRate(): number {
    return this.world.network.lossRate;
  }

  set lossRate(rate: number) {
    this.world.network.lossRate = rate;
  }

  get packetsDelivered(): number {
    return this.world.stats.datagramsDelivered;
  }

  get bytesDelivered(): number {
    return this.world.stats.datagramBytesDelivered;
  }

  /** The largest datagram the cores produced (before encryption adds its bytes). */
  get maxDatagramBytes(): number {
    return Math.max(0, this.world.stats.maxDatagramBytes - this.#overheadBytes);
  }

  /** Starts a node with the real driver; `seeds` are ids of nodes to join through. */
  async add(
    id: string,
    options: {
      seeds?: string[];
      config?: Partial<GossipConfig>;
      meta?: Uint8Array;
      /** Restart at another address (the default restarts at the old one). */
      newAddress?: boolean;
    } = {},
  ): Promise<SimNode> {
    const old = this.nodes.get(id);
    if (old !== undefined && !old.crashed) throw new Error(`${id} is running`);
    const host = old !== undefined && !options.newAddress ? old.host : this.world.addHost(id);
    const runtime = host.start();
    const agent = await startGossip({
      id,
      port: PORT,
      bindHost: host.ip,
      profile: this.profile,
      config: { ...this.#overrides, ...options.config },
      meta: options.meta,
      keyring: this.#key === undefined ? undefined : new Keyring([this.#key]),
      runtime,
    });
    const sim = new SimNode(id, host, agent);
    agent.subscribe((event) => sim.events.push({ atMs: this.world.nowMs, event }));
    this.nodes.set(id, sim);
    const seeds = (options.seeds ?? []).map((s) => this.nodes.get(s)!.address);
    if (seeds.length > 0) agent.join(seeds).catch(() => {});
    await this.world.settle();
    return sim;
  }

  /** Adds `count` nodes named `${prefix}${i}`, all joining through the first. */
  async addMany(count: number, prefix = "n"): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const id = `${prefix}${i}`;
      await this.add(id, { seeds: i === 0 ? [] : [`${prefix}0`] });
      ids.push(id);
    }
    return ids;
  }

  /** Kills the node's process: no leave, no goodbye. */
  crash(id: string): void {
    const sim = this.nodes.get(id)!;
    sim.crashed = true;
    sim.host.crash();
  }

  /** Stops the node's process for `durationMs`: its timers and messages wait. */
  stall(id: string, durationMs: number): void {
    this.nodes.get(id)!.host.pause(durationMs);
  }

  /** Cuts the network into groups; nodes not listed are in no group and reach nobody. */
  partition(groups: string[][]): void {
    this.world.partition(groups.map((g) => g.map((id) => this.nodes.get(id)!.host)));
  }

  heal(): void {
    this.world.heal();
  }

  /** Advances simulated time by `durationMs`. */
  async run(durationMs: number): Promise<void> {
    await this.world.run(this.world.nowMs + durationMs);
  }

  /** Runs until `done()` or `maxMs` passed; returns the time it took, or -1. */
  async runUntil(done: () => boolean, maxMs: number, stepMs = 50): Promise<number> {
    const startMs = this.nowMs;
    while (this.nowMs - startMs < maxMs) {
      if (done()) return this.nowMs - startMs;
      await this.run(stepMs);
    }
    return done() ? this.nowMs - startMs : -1;
  }

  /** Running (not crashed) nodes. */
  live(): SimNode[] {
    return [...this.nodes.values()].filter((s) => !s.crashed);
  }

  /** The state of `about` as `observer` sees it. */
  stateOf(observer: string, about: string): MemberState | undefined {
    return this.nodes.get(observer)!.node.member(about)?.state;
  }

  /** True when every running node sees every id in `ids` in `state`. */
  allSee(ids: string[], state: MemberState, observers = this.live()): boolean {
    return observers.every((o) =>
      ids.every((id) => id === o.id || o.node.member(id)?.state === state)
    );
  }

  /** "fail" events, as [observer, subject, atMs]. */
  failEvents(): [string, string, number][] {
    const out: [string, string, number][] = [];
    for (const sim of this.nodes.values()) {
      for (const { atMs, event } of sim.events) {
        if (event.type === "fail") out.push([sim.id, event.member.id, atMs]);
      }
    }
    return out;
  }

  /** Stops every running node (their timers), so nothing outlives the test. */
  close(): void {
    for (const sim of this.live()) this.crash(sim.id);
  }
}
