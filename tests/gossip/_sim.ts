/**
 * A deterministic simulated network for gossip nodes: seeded randomness, simulated time, packet
 * loss, delay, partitions, crashes, per-node stalls and slow (degraded) nodes. Push-pull streams
 * are delivered reliably unless a partition or crash cuts them.
 */
import { GossipNode } from "../../src/gossip/node.ts";
import { type GossipConfig, gossipConfig, type GossipProfile } from "../../src/gossip/config.ts";
import type { Address, GossipEvent, MemberState } from "../../src/gossip/types.ts";
import { mulberry32 } from "../_mulberry32.ts";

type Delivery =
  | { kind: "packet"; atMs: number; order: number; to: string; from: string; bytes: Uint8Array }
  | {
    kind: "stream";
    atMs: number;
    order: number;
    to: string;
    from: string;
    bytes: Uint8Array;
    requestId: number;
  }
  | { kind: "reply"; atMs: number; order: number; to: string; bytes: Uint8Array; requestId: number }
  | { kind: "streamFail"; atMs: number; order: number; to: string; requestId: number };

/** Earliest-first binary heap of deliveries (ties in send order). */
class DeliveryHeap {
  #items: Delivery[] = [];
  get size(): number {
    return this.#items.length;
  }
  peek(): Delivery | undefined {
    return this.#items[0];
  }
  push(d: Delivery): void {
    const items = this.#items;
    items.push(d);
    let i = items.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(items[i], items[p])) break;
      [items[i], items[p]] = [items[p], items[i]];
      i = p;
    }
  }
  pop(): Delivery | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < items.length && before(items[l], items[m])) m = l;
        if (r < items.length && before(items[r], items[m])) m = r;
        if (m === i) break;
        [items[i], items[m]] = [items[m], items[i]];
        i = m;
      }
    }
    return top;
  }
}

function before(a: Delivery, b: Delivery): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.order < b.order);
}

/** A node in the simulation. */
export interface SimNode {
  id: string;
  address: Address;
  node: GossipNode;
  crashed: boolean;
  stalledUntilMs: number;
  /** Extra random delay in [0, slowMs] before this node processes each incoming message. */
  slowMs: number;
  events: { atMs: number; event: GossipEvent }[];
}

export interface SimOptions {
  seed: number;
  profile?: GossipProfile;
  config?: Partial<GossipConfig>;
  /** Probability that a datagram is lost. @default 0 */
  lossRate?: number;
  /** One-way delay range. @default [1, 5] */
  delayMs?: [number, number];
  /** Simulated tick resolution. @default 10 */
  tickMs?: number;
  /** Bytes encryption adds to each datagram. @default 0 */
  packetOverheadBytes?: number;
}

/** The simulated cluster. */
export class Sim {
  readonly seed: number;
  readonly config: GossipConfig;
  readonly random: () => number;
  readonly nodes = new Map<string, SimNode>();
  nowMs = 0;
  lossRate: number;
  delayMs: [number, number];
  readonly tickMs: number;
  readonly packetOverheadBytes: number;
  packetsDelivered = 0;
  bytesDelivered = 0;
  maxDatagramBytes = 0;
  #byAddress = new Map<string, string>();
  #heap = new DeliveryHeap();
  #order = 0;
  #groups: Map<string, number> | null = null;
  #hostIndex = 0;

  constructor(options: SimOptions) {
    this.seed = options.seed;
    this.random = mulberry32(options.seed);
    this.config = gossipConfig(options.profile ?? "lan", options.config ?? {});
    this.lossRate = options.lossRate ?? 0;
    this.delayMs = options.delayMs ?? [1, 5];
    this.tickMs = options.tickMs ?? 10;
    this.packetOverheadBytes = options.packetOverheadBytes ?? 0;
  }

  /** Starts a node; `seeds` are ids of nodes to join through. */
  add(
    id: string,
    options: {
      seeds?: string[];
      config?: Partial<GossipConfig>;
      meta?: Uint8Array;
      /** Restart at another address (the default restarts at the old one). */
      newAddress?: boolean;
    } = {},
  ): SimNode {
    const old = this.nodes.get(id);
    if (old !== undefined && options.newAddress) this.#byAddress.delete(key(old.address));
    const address = old !== undefined && !options.newAddress
      ? old.address
      : { host: `10.0.${this.#hostIndex >> 8}.${this.#hostIndex++ & 255}`, port: 7946 };
    const node = new GossipNode({
      id,
      address,
      meta: options.meta,
      config: { ...this.config, ...options.config },
      nowMs: this.nowMs,
      random: mulberry32(Math.floor(this.random() * 2 ** 32)),
      packetOverheadBytes: this.packetOverheadBytes,
    });
    const sim: SimNode = {
      id,
      address,
      node,
      crashed: false,
      stalledUntilMs: 0,
      slowMs: 0,
      events: [],
    };
    this.nodes.set(id, sim);
    this.#byAddress.set(key(address), id);
    const seeds = (options.seeds ?? []).map((s) => this.nodes.get(s)!.address);
    if (seeds.length > 0) node.join(seeds, this.nowMs);
    this.#flush(sim);
    return sim;
  }

  /** Adds `count` nodes named `${prefix}${i}`, all joining through the first. */
  addMany(count: number, prefix = "n"): string[] {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const id = `${prefix}${i}`;
      this.add(id, { seeds: i === 0 ? [] : [`${prefix}0`] });
      ids.push(id);
    }
    return ids;
  }

  crash(id: string): void {
    this.nodes.get(id)!.crashed = true;
  }

  stall(id: string, durationMs: number): void {
    this.nodes.get(id)!.stalledUntilMs = this.nowMs + durationMs;
  }

  /** Cuts the network into groups; nodes not listed are in no group and reach nobody. */
  partition(groups: string[][]): void {
    this.#groups = new Map();
    groups.forEach((g, i) => g.forEach((id) => this.#groups!.set(id, i)));
  }

  heal(): void {
    this.#groups = null;
  }

  /** Advances simulated time by `durationMs`. */
  run(durationMs: number): void {
    const endMs = this.nowMs + durationMs;
    while (this.nowMs < endMs) {
      this.nowMs += this.tickMs;
      this.#deliverDue();
      for (const sim of this.nodes.values()) {
        if (sim.crashed || sim.stalledUntilMs > this.nowMs) continue;
        sim.node.tick(this.nowMs);
        this.#flush(sim);
      }
    }
  }

  /** Runs until `done()` or `maxMs` passed; returns the time it took, or -1. */
  runUntil(done: () => boolean, maxMs: number, stepMs = 50): number {
    const startMs = this.nowMs;
    while (this.nowMs - startMs < maxMs) {
      if (done()) return this.nowMs - startMs;
      this.run(stepMs);
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

  #delay(to: string): number {
    const [lo, hi] = this.delayMs;
    const slow = this.nodes.get(to)?.slowMs ?? 0;
    return lo + this.random() * (hi - lo) + (slow > 0 ? this.random() * slow : 0);
  }

  #reachable(a: string, b: string): boolean {
    if (this.#groups === null) return true;
    const ga = this.#groups.get(a), gb = this.#groups.get(b);
    return ga !== undefined && ga === gb;
  }

  #flush(sim: SimNode): void {
    const out = sim.node.drain();
    for (const event of out.events) sim.events.push({ atMs: this.nowMs, event });
    for (const p of out.packets) {
      this.maxDatagramBytes = Math.max(this.maxDatagramBytes, p.bytes.length);
      const to = this.#byAddress.get(key(p.to));
      if (to === undefined || !this.#reachable(sim.id, to)) continue;
      if (this.random() < this.lossRate) continue;
      this.#heap.push({
        kind: "packet",
        atMs: this.nowMs + this.#delay(to),
        order: this.#order++,
        to,
        from: sim.id,
        bytes: p.bytes,
      });
    }
    for (const s of out.streams) {
      const to = this.#byAddress.get(key(s.to));
      const atMs = this.nowMs + this.#delay(sim.id);
      if (to === undefined || !this.#reachable(sim.id, to) || this.nodes.get(to)!.crashed) {
        this.#heap.push({
          kind: "streamFail",
          atMs,
          order: this.#order++,
          to: sim.id,
          requestId: s.requestId,
        });
        continue;
      }
      this.#heap.push({
        kind: "stream",
        atMs,
        order: this.#order++,
        to,
        from: sim.id,
        bytes: s.bytes,
        requestId: s.requestId,
      });
    }
  }

  #deliverDue(): void {
    for (;;) {
      const d = this.#heap.peek();
      if (d === undefined || d.atMs > this.nowMs) return;
      this.#heap.pop();
      const sim = this.nodes.get(d.to)!;
      if (sim.crashed) continue;
      if (sim.stalledUntilMs > this.nowMs) {
        this.#heap.push({ ...d, atMs: sim.stalledUntilMs, order: this.#order++ });
        continue;
      }
      this.#deliver(sim, d);
      this.#flush(sim);
    }
  }

  #deliver(sim: SimNode, d: Delivery): void {
    switch (d.kind) {
      case "packet":
        this.packetsDelivered++;
        this.bytesDelivered += d.bytes.length;
        sim.node.receivePacket(this.nodes.get(d.from)!.address, d.bytes, this.nowMs);
        return;
      case "stream": {
        const from = this.nodes.get(d.from)!;
        const reply = sim.node.receiveStream(from.address, d.bytes, this.nowMs);
        const atMs = this.nowMs + this.#delay(d.from);
        if (reply === null || from.crashed || !this.#reachable(sim.id, d.from)) {
          this.#heap.push({
            kind: "streamFail",
            atMs,
            order: this.#order++,
            to: d.from,
            requestId: d.requestId,
          });
        } else {
          this.#heap.push({
            kind: "reply",
            atMs,
            order: this.#order++,
            to: d.from,
            bytes: reply,
            requestId: d.requestId,
          });
        }
        return;
      }
      case "reply":
        sim.node.receiveStreamReply(d.requestId, d.bytes, this.nowMs);
        return;
      case "streamFail":
        sim.node.streamFailed(d.requestId);
        return;
    }
  }
}

function key(a: Address): string {
  return `${a.host}:${a.port}`;
}
