/**
 * A node's cluster control plane: the bus, Raft over the configuration ({@linkcode ClusterState}),
 * gossip for membership and failure detection, and the leader's duties.
 *
 * - **Bootstrap.** A node with no Raft state gossips with its seeds until `bootstrap_expect` nodes
 *   (itself included) see each other; each then bootstraps Raft with the same voters, the
 *   `voters` smallest names among them (as Consul's `bootstrap_expect` does). A node that finds a
 *   configured cluster instead waits for its leader to add it.
 * - **The leader** records every live gossip member in the configuration (as a voter while the
 *   configuration has fewer than `voters`, else a learner), assigns the slots once
 *   `bootstrap_expect` members are recorded, and gives the slots of a member that has stayed
 *   failed for `failure_timeout` to the others. A shorter flap moves nothing.
 * - **Serving.** The node routes by the configuration it has applied, and only while it is in
 *   touch with the quorum and caught up with the leader's commit index ({@linkcode
 *   ClusterControl.serving}); after a change, the keys of slots it does not own are dropped.
 *
 * @module
 */
import { decode, encode } from "cborg";
import { sha256 } from "@noble/hashes/sha2.js";
import { Bus } from "../bus/bus.ts";
import type {
  ClientState,
  ClusterHooks,
  ClusterNodeInfo,
  DeferredReply,
} from "../commands/types.ts";
import type { NodeConfig } from "../config/config.ts";
import { type GossipAgent, startGossip } from "../gossip/driver.ts";
import { Keyring } from "../gossip/keyring.ts";
import type { Member } from "../gossip/types.ts";
import type { HttpExecutor } from "../http/executor.ts";
import { SLOT_COUNT } from "../ring/constants.ts";
import { RaftDriver } from "../raft/driver.ts";
import { DurableStorage } from "../raft/storage.ts";
import { Transport } from "../raft/transport.ts";
import type { Runtime, TimerHandle } from "../runtime/types.ts";
import { Forwarder, MAY_HAVE_RUN } from "./forward.ts";
import { latin1, type MigrationStores, Migrator } from "./migration.ts";
import { BusFrameType } from "../bus/frame_types.ts";
import { Buffer } from "node:buffer";
import { ReplyWriter } from "../resp/writer.ts";
import { type ClusterClient, ClusterRouter } from "./router.ts";
import { completeWith, runTransaction } from "./transaction.ts";
import {
  type ClusterCommand,
  type ClusterMember,
  ClusterState,
  encodeCommand,
  planSlots,
  raftIdOf,
} from "./state.ts";

/** How often the leader looks at membership, and every node at whether it may serve. */
const DUTY_INTERVAL_MS = 100;
/** Longest wait for a forwarded command's reply (beyond a blocking command's own timeout). */
const FORWARD_TIMEOUT_MS = 10_000;
/** Times a forwarded command is asked again after a redirect or a transient refusal. */
const FORWARD_RETRIES = 5;
/** How long a new node waits for its seeds' member lists before it checks its name is free. */
const JOIN_CHECK_MS = 2000;
/** Replies of an owner whose map differs from this node's for a moment. */
const RETRIED_REPLY = /^-(MOVED|ASK|TRYAGAIN|CLUSTERDOWN) /;

/** A client of a command asked again, with how many times it was. */
type RetryingClient = ClientState & { retries?: number };

/** What the control plane needs from the node around it. */
export interface ControlHooks {
  /** Runs forwarded commands. */
  executor: HttpExecutor;
  /** Deletes this node's keys of `slot` in every store (logging the deletes). */
  dropSlot(slot: number): number;
  /** Whether any store holds a key of `slot`. */
  hasKeysIn(slot: number): boolean;
  /** Whether store `db` holds `key`. */
  exists(db: number, key: string): boolean;
  /** Takes keys out of a slot being handed over, and puts in those received. */
  stores: MigrationStores;
  /** Delivers a message another node's PUBLISH relayed here to this node's subscribers. */
  deliver(channel: string, message: string, shard: boolean): void;
  log(line: string): void;
}

/** Gossip metadata: what a peer needs before the configuration records this node. */
interface Meta {
  raftId: number;
  host: string;
  port: number;
  httpPort: number;
  busPort: number;
  zone: string;
  weight: number;
  /** Whether this node has Raft state (bootstrapped or joined). */
  configured: boolean;
  /** Set while the node hands its slots over before it exits. */
  leaving?: boolean;
}

/** `promise`, failing with an error that names the config field whose port could not be used. */
async function named<T>(field: string, address: string, promise: Promise<T>): Promise<T> {
  try {
    return await promise;
  } catch (error) {
    throw new Error(`${field}: cannot listen on ${address}: ${(error as Error).message}`);
  }
}

function hexIdOf(name: string): string {
  const digest = sha256(new TextEncoder().encode(name));
  return Array.from(digest.subarray(0, 20), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The running control plane of a cluster node. */
export class ClusterControl implements ClusterHooks {
  readonly state = new ClusterState();
  readonly router: ClusterRouter;
  readonly self: ClusterMember;
  forwarder!: Forwarder;
  migrator!: Migrator;
  #leaving = false;
  bus!: Bus;
  gossip!: GossipAgent;
  driver: RaftDriver | undefined;
  #storage!: DurableStorage;
  #transport!: Transport;
  #timer: TimerHandle | undefined;
  #serving = false;
  #startupIndex = 0;
  #proposing = false;
  #swept = false;
  #caughtUp = false;
  #lastSlotsEpoch = -1;
  /** Monotonic ms a message from each Raft peer last arrived. */
  readonly #heard = new Map<number, number>();
  /** Monotonic ms each member was first seen failed (cleared when it is alive again). */
  readonly #failedSince = new Map<string, number>();
  readonly #hexIds = new Map<string, string>();
  /** The bus address each peer is linked at. */
  readonly #linked = new Map<number, string>();
  readonly stats = { slotsDropped: 0, keysDropped: 0, proposals: 0, refused: 0 };

  private constructor(
    readonly config: NodeConfig,
    private readonly runtime: Runtime,
    private readonly hooks: ControlHooks,
    httpPort: number,
  ) {
    const c = config.cluster;
    this.self = {
      id: config.nodeId,
      raftId: raftIdOf(config.nodeId),
      host: c.announceHost,
      port: config.port,
      httpPort,
      busPort: c.busPort,
      gossipPort: c.gossipPort,
      zone: c.zone,
      weight: c.weight,
    };
    this.router = new ClusterRouter(this.state, config.nodeId, {
      inQuorum: () => this.#serving,
      isFailed: (id) => this.#failedSince.has(id),
      forward: (owner, client, argv, reply, asking) =>
        this.#forward(owner, client, argv, reply, asking),
      forwardTransaction: (owner, client, commands, reply, asking) =>
        this.#forwardTransaction(owner, client, commands, reply, asking),
      exists: (db, key) => this.hooks.exists(db, key),
      sending: (slot) => this.migrator.sending(slot),
      runHere: (client, argv) => {
        const part = this.hooks.executor.client(client.role, client.db);
        part.protocol = client.protocol;
        return this.hooks.executor.runText(part, argv);
      },
    });
    this.state.onChange = () => this.#onStateChange();
  }

  /**
   * Opens the bus and gossip, recovers Raft from `data_dir/raft`, and starts the duties. `port`
   * and `httpPort` are the ports the node's listeners got.
   */
  static async start(
    config: NodeConfig,
    runtime: Runtime,
    hooks: ControlHooks,
    ports: { port: number; httpPort: number },
  ): Promise<ClusterControl> {
    const control = new ClusterControl(
      { ...config, port: ports.port },
      runtime,
      hooks,
      ports.httpPort,
    );
    await control.#open();
    return control;
  }

  async #open(): Promise<void> {
    const c = this.config.cluster;
    const secret = c.secret === "" ? undefined : new TextEncoder().encode(c.secret);
    this.bus = await named(
      "cluster.bus_port",
      `${this.config.bind}:${c.busPort}`,
      Bus.start({
        runtime: this.runtime,
        listen: { hostname: this.config.bind, port: c.busPort },
        secret,
        log: (line) => this.hooks.log(line),
      }),
    );
    (this.self as { busPort: number }).busPort = this.bus.port;
    this.forwarder = new Forwarder(
      this.bus,
      this.self.raftId,
      this.hooks.executor,
      this.runtime.timers,
      () => this.runtime.clock.monotonicMs(),
      FORWARD_TIMEOUT_MS,
    );
    this.migrator = new Migrator(
      this.bus,
      this.self.raftId,
      this.hooks.stores,
      this.runtime.timers,
      (slots) =>
        this.driver === undefined
          ? Promise.resolve()
          : this.driver.propose(encodeCommand({ op: "moved", from: this.self.id, slots }))
            .then(() => {}, () => {}),
    );
    this.bus.register<[Uint8Array, Uint8Array, true?]>(BusFrameType.publish, {
      decode: (payload) => {
        const value = decode(payload);
        if (
          !Array.isArray(value) || (value.length !== 2 && value.length !== 3) ||
          !value.slice(0, 2).every((v) => v instanceof Uint8Array) ||
          (value.length === 3 && value[2] !== true)
        ) {
          throw new TypeError("malformed relayed PUBLISH");
        }
        return value as [Uint8Array, Uint8Array, true?];
      },
      receive: ([channel, message, shard]) =>
        this.hooks.deliver(latin1(channel), latin1(message), shard === true),
    });
    this.#storage = await DurableStorage.open({
      fs: this.runtime.fs,
      dir: `${this.config.dataDir}/raft`,
    });
    this.#transport = Transport.attach(this.bus, {
      id: this.self.raftId,
      onMessage: (message) => {
        this.#heard.set(message.from, this.runtime.clock.monotonicMs());
        this.driver?.receive(message);
      },
      onUnreachable: (peer) => this.driver?.node.reportUnreachable(peer),
    });
    const keyring = secret === undefined ? undefined : new Keyring([sha256(secret)]);
    this.gossip = await named(
      "cluster.gossip_port",
      `${this.config.bind}:${c.gossipPort}`,
      startGossip({
        id: this.self.id,
        port: c.gossipPort,
        bindHost: this.config.bind,
        advertiseHost: c.announceHost,
        profile: "local",
        seeds: c.seeds,
        meta: this.#meta(),
        keyring,
        runtime: this.runtime,
      }),
    );
    (this.self as { gossipPort: number }).gossipPort = this.gossip.address.port;
    let taken: string | null = null;
    this.gossip.subscribe((event) => {
      if (event.type === "conflict" && event.id === this.self.id) {
        taken ??= `${event.host}:${event.port}`;
        this.hooks.log(
          `cluster: a node at ${event.host}:${event.port} also has node_id ${event.id}`,
        );
      }
      this.#learnPeers();
    });
    const fresh = this.#storage.isEmpty();
    if (!fresh) this.#startDriver();
    else if (c.bootstrapExpect === 1 && c.seeds.length === 0) await this.#bootstrap([this.self]);
    this.gossip.setMeta(this.#meta());
    if (c.seeds.length > 0) {
      const joined = this.gossip.join(c.seeds).catch(() => {});
      // A new node learns the members from its seeds before it takes part: one whose name a
      // member already has must not start (it would be taken for that member).
      if (fresh) {
        await Promise.race([joined, this.#sleep(JOIN_CHECK_MS)]);
        if (taken !== null) {
          await this.#closeTransports();
          throw new Error(
            `node_id: ${JSON.stringify(this.self.id)} is already the name of the cluster member ` +
              `gossiping at ${taken}; give this node another node_id`,
          );
        }
      }
    }
    this.#timer = this.runtime.timers.setInterval(() => this.#duties(), DUTY_INTERVAL_MS);
  }

  #meta(): Uint8Array {
    const meta: Meta = {
      raftId: this.self.raftId,
      host: this.self.host,
      port: this.self.port,
      httpPort: this.self.httpPort,
      busPort: this.bus?.port ?? this.self.busPort,
      zone: this.self.zone,
      weight: this.self.weight,
      configured: this.driver !== undefined,
      leaving: this.#leaving,
    };
    return encode(meta);
  }

  #memberOf(
    gossip: Member,
  ): (ClusterMember & { configured: boolean; leaving: boolean }) | null {
    try {
      const meta = decode(gossip.meta) as Meta;
      if (!Number.isSafeInteger(meta.raftId) || typeof meta.host !== "string") return null;
      return {
        id: gossip.id,
        raftId: meta.raftId,
        host: meta.host,
        port: meta.port,
        httpPort: meta.httpPort,
        busPort: meta.busPort,
        gossipPort: gossip.address.port,
        zone: meta.zone,
        weight: meta.weight,
        configured: meta.configured,
        leaving: meta.leaving === true,
      };
    } catch {
      return null;
    }
  }

  /** Links the bus to every member gossip or the configuration knows. */
  #learnPeers(): void {
    for (const g of this.gossip.members()) {
      const m = this.#memberOf(g);
      if (m === null || m.id === this.self.id) continue;
      this.#link(m);
    }
  }

  #link(m: ClusterMember): void {
    if (m.id === this.self.id) return;
    const address = `${m.host}:${m.busPort}`;
    if (this.#linked.get(m.raftId) === address) return;
    this.#linked.set(m.raftId, address);
    this.#transport.addPeer(m.raftId, { hostname: m.host, port: m.busPort });
  }

  async #bootstrap(voters: ClusterMember[]): Promise<void> {
    await this.#storage.bootstrap(voters.map((m) => m.raftId));
    this.hooks.log(
      `cluster: bootstrapped Raft with ${voters.map((m) => m.id).join(", ")} as voters`,
    );
    this.#startDriver();
  }

  #startDriver(): void {
    this.#startupIndex = this.#storage.lastIndex();
    this.driver = new RaftDriver({
      raft: { id: this.self.raftId, checkQuorum: true, preVote: true },
      storage: this.#storage,
      stateMachine: {
        apply: (data) => this.state.apply(data),
        snapshot: () => this.state.snapshot(),
        restore: (data) => this.state.restore(data),
      },
      send: (messages) => this.#transport.send(messages),
      snapshotEveryEntries: 1000,
      runtime: this.runtime,
    });
    this.driver.start();
    for (const m of this.state.members()) this.#link(m);
    this.gossip?.setMeta(this.#meta());
  }

  // ------------------------------------------------------------------ duties

  #duties(): void {
    const now = this.runtime.clock.monotonicMs();
    // Gossip may have told of members before this node subscribed: links are checked each time.
    this.#learnPeers();
    for (const g of this.gossip.members()) {
      if (g.state === "dead" || g.state === "left") {
        if (!this.#failedSince.has(g.id)) this.#failedSince.set(g.id, now);
      } else if (this.#failedSince.delete(g.id)) {
        const member = this.state.member(g.id);
        if (member !== undefined) this.forwarder.peerFailed(member.raftId);
      }
    }
    for (const [id] of this.#failedSince) {
      const failed = this.gossip.members().find((g) => g.id === id);
      if (failed !== undefined && (failed.state === "dead" || failed.state === "left")) {
        const member = this.state.member(id);
        if (member !== undefined) this.forwarder.peerFailed(member.raftId);
      }
    }
    if (this.driver === undefined) {
      this.#maybeBootstrap();
      this.#serving = false;
      return;
    }
    this.#serving = this.#computeServing(now);
    if (this.#serving && !this.#swept) this.#sweep();
    if (this.#serving && this.state.target !== null) {
      const moving = new Map<number, number>();
      for (const slot of this.state.migratingFrom(this.self.id)) {
        moving.set(slot, this.state.member(this.state.importerOf(slot))!.raftId);
      }
      this.migrator.step(moving);
    }
    if (this.driver.node.role === "leader" && !this.#proposing) this.#lead(now);
  }

  #maybeBootstrap(): void {
    const expect = this.config.cluster.bootstrapExpect;
    const live = this.gossip.liveMembers()
      .map((g) =>
        g.id === this.self.id
          ? { ...this.self, configured: false, leaving: false }
          : this.#memberOf(g)
      )
      .filter((m) => m !== null);
    // A configured cluster exists: its leader adds this node (or has it as a voter already, when
    // the others bootstrapped first), and sends it the log.
    if (live.some((m) => m.configured)) {
      this.hooks.log("cluster: found a configured cluster; waiting for its leader");
      this.#startDriver();
      return;
    }
    if (live.length < expect) return;
    const voters = live.sort((a, b) => (a.id < b.id ? -1 : 1))
      .slice(0, Math.min(expect, this.config.cluster.voters));
    if (!voters.some((m) => m.id === this.self.id)) {
      // Not a voter: wait for the voters' leader to add this node as a learner.
      return;
    }
    this.#bootstrap(voters).catch((error) => this.hooks.log(`cluster: bootstrap failed: ${error}`));
  }

  #computeServing(now: number): boolean {
    const node = this.driver!.node;
    const status = node.status();
    // Caught up once at start-up; afterwards a follower applying the last few changes still
    // serves: an owner checks every command against its own map, and a plain client's command
    // that meets a newer map is asked again (`#forward`).
    if (!this.#caughtUp) {
      if (status.applied < status.commit || status.applied < this.#startupIndex) return false;
      this.#caughtUp = status.commit > 0;
    }
    const lease = this.config.cluster.failureTimeoutMs / 2;
    if (node.role === "leader") {
      const voters = status.confState.voters;
      let inTouch = 1;
      for (const id of voters) {
        if (id !== this.self.raftId && now - (this.#heard.get(id) ?? -Infinity) < lease) inTouch++;
      }
      return inTouch * 2 > voters.length;
    }
    if (status.leaderId === 0) return false;
    return now - (this.#heard.get(status.leaderId) ?? -Infinity) < lease;
  }

  #lead(now: number): void {
    const status = this.driver!.node.status();
    const raftMembers = new Set([...status.confState.voters, ...status.confState.learners]);
    // 1. Record live gossip members, and add them to Raft.
    for (const g of this.gossip.liveMembers()) {
      const m = g.id === this.self.id ? this.self : this.#memberOf(g);
      if (m === null) continue;
      const known = this.state.member(m.id);
      const changed = known === undefined || known.host !== m.host || known.port !== m.port ||
        known.busPort !== m.busPort || known.httpPort !== m.httpPort;
      const member: ClusterMember = {
        id: m.id,
        raftId: m.raftId,
        host: m.host,
        port: m.port,
        httpPort: m.httpPort,
        busPort: m.busPort,
        gossipPort: m.gossipPort,
        zone: m.zone,
        weight: m.weight,
      };
      if (changed) return this.#propose({ op: "member", member });
      if (!raftMembers.has(m.raftId)) {
        const voter = status.confState.voters.length < this.config.cluster.voters;
        this.#proposing = true;
        this.driver!.changeMembership({
          changes: [{ type: voter ? "addVoter" : "addLearner", nodeId: m.raftId }],
        }).then(
          () =>
            this.hooks.log(`cluster: ${m.id} added to Raft as a ${voter ? "voter" : "learner"}`),
          (error) => this.hooks.log(`cluster: adding ${m.id} to Raft failed: ${error}`),
        ).finally(() => (this.#proposing = false));
        return;
      }
    }
    // 1b. A voter removed (failed for good, or left) is replaced by a live learner whose log has
    // caught up, so the configuration keeps its voters and rides out the next failure.
    if (status.confState.voters.length < this.config.cluster.voters) {
      const live = new Map(this.gossip.liveMembers().map((g) => [g.id, g]));
      const learner = this.state.members().find((m) => {
        const g = live.get(m.id);
        return g !== undefined && status.confState.learners.includes(m.raftId) &&
          !this.#failedSince.has(m.id) && this.#memberOf(g)?.leaving !== true &&
          (status.progress.get(m.raftId)?.match ?? 0) >= status.commit;
      });
      if (learner !== undefined) {
        this.#proposing = true;
        this.driver!.changeMembership({ changes: [{ type: "addVoter", nodeId: learner.raftId }] })
          .then(
            () => this.hooks.log(`cluster: ${learner.id} promoted from learner to voter`),
            (error) => this.hooks.log(`cluster: promoting ${learner.id} failed: ${error}`),
          ).finally(() => (this.#proposing = false));
        return;
      }
    }
    const members = this.state.members();
    const map = this.state.slotMap;
    // 2. The first slot map, once the expected members are recorded.
    if (map === null) {
      if (members.length < this.config.cluster.bootstrapExpect) return;
      const plan = planSlots(this.state, members);
      if (plan !== null) this.#propose({ op: "slots", expectEpoch: this.state.epoch, map: plan });
      return;
    }
    // 3. A member failed past the timeout loses its slots to the live owners (its keys are gone
    // with it: nothing to migrate).
    const timeout = this.config.cluster.failureTimeoutMs;
    const owners = new Set<string>();
    for (const m of members) if (this.state.rangesOf(m.id).length > 0) owners.add(m.id);
    // A planned owner that fails ends the migration the same way.
    const holders = new Set([...owners, ...(this.state.target?.nodes.map((n) => n.id) ?? [])]);
    const gone = [...holders].filter((id) =>
      now - (this.#failedSince.get(id) ?? Infinity) >= timeout
    );
    if (gone.length > 0 && [...owners].some((id) => !gone.includes(id))) {
      const keep = members.filter((m) => owners.has(m.id) && !gone.includes(m.id));
      const plan = planSlots(this.state, keep);
      if (plan !== null) {
        this.hooks.log(
          `cluster: ${gone.join(", ")} failed for ${timeout} ms: its slots go to the others`,
        );
        this.#propose({ op: "slots", expectEpoch: this.state.epoch, map: plan });
      }
      return;
    }
    // A flap shorter than the timeout moves nothing: wait until it is over, one way or the other.
    if (this.state.target !== null || [...owners].some((id) => this.#failedSince.has(id))) return;
    // 4. Joins and graceful leaves: a migration to the live members that are not leaving.
    const leaving = new Set(
      this.gossip.liveMembers().map((g) => this.#memberOf(g)).filter((m) => m?.leaving)
        .map((m) => m!.id),
    );
    if (this.#leaving) leaving.add(this.self.id);
    const live = new Set(this.gossip.liveMembers().map((g) => g.id));
    // A new member takes slots once its log has caught up, so it knows of the move it is part of.
    const caughtUp = (m: ClusterMember) =>
      owners.has(m.id) || (status.progress.get(m.raftId)?.match ?? 0) >= status.commit;
    const wanted = members.filter((m) =>
      live.has(m.id) && !leaving.has(m.id) && !this.#failedSince.has(m.id) && caughtUp(m)
    );
    const sameOwners = wanted.length === owners.size && wanted.every((m) => owners.has(m.id));
    if (!sameOwners && wanted.length > 0) {
      const plan = planSlots(this.state, wanted);
      if (plan !== null) {
        this.hooks.log(
          `cluster: moving slots to ${
            wanted.map((m) => m.id).join(", ")
          } (epoch ${this.state.epoch})`,
        );
        this.#propose({ op: "plan", expectEpoch: this.state.epoch, map: plan });
        return;
      }
    }
    // 5. A member that left (or failed for good) and owns nothing is forgotten, and leaves Raft.
    for (const m of members) {
      if (owners.has(m.id) || m.id === this.self.id) continue;
      const left = this.#gossipState(m.id, "left");
      const failedLong = now - (this.#failedSince.get(m.id) ?? Infinity) >= timeout;
      if (!left && !failedLong) continue;
      if (raftMembers.has(m.raftId)) {
        this.#proposing = true;
        this.driver!.changeMembership({ changes: [{ type: "removeNode", nodeId: m.raftId }] })
          .then(() => this.hooks.log(`cluster: ${m.id} removed from Raft`), () => {})
          .finally(() => (this.#proposing = false));
        return;
      }
      this.hooks.log(`cluster: forgetting ${m.id}`);
      return this.#propose({ op: "forget", id: m.id });
    }
  }

  #gossipState(id: string, state: Member["state"]): boolean {
    return this.gossip.members().some((g) => g.id === id && g.state === state);
  }

  #propose(command: ClusterCommand): void {
    this.#proposing = true;
    this.stats.proposals++;
    this.driver!.propose(encodeCommand(command)).then(
      (result) => {
        if ((result as { applied: boolean }).applied === false) this.stats.refused++;
      },
      () => {},
    ).finally(() => (this.#proposing = false));
  }

  // ------------------------------------------------------------------ applied state

  #onStateChange(): void {
    for (const m of this.state.members()) this.#link(m);
    const map = this.state.slotMap;
    if (map !== null && map.epoch !== this.#lastSlotsEpoch) {
      this.#lastSlotsEpoch = map.epoch;
      // Replayed history at start-up is not acted on; the sweep runs once caught up.
      if (this.#swept) this.#sweep();
    }
  }

  /** Drops the keys of every slot this node does not own. */
  #sweep(): void {
    // Not under a suspended script (it is atomic): the duties sweep once it has ended.
    if (this.hooks.stores.held?.() === true) {
      this.#swept = false;
      return;
    }
    this.#swept = true;
    if (this.state.slotMap === null) return;
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      if (this.state.ownerOf(slot) === this.self.id || !this.hooks.hasKeysIn(slot)) continue;
      // A slot moving here holds what the owner sent so far.
      if (this.state.importerOf(slot) === this.self.id) continue;
      this.stats.slotsDropped++;
      this.stats.keysDropped += this.hooks.dropSlot(slot);
    }
  }

  /**
   * Forwards for a plain client. An owner that answers with a redirect or a transient refusal
   * (its map is newer than this node's, or it is catching up) is asked again through this node's
   * routing after a short wait, a few times, so the plain client never sees a redirect meant
   * for cluster-aware clients.
   */
  #forward(
    owner: string,
    client: ClientState,
    argv: string[],
    reply: DeferredReply,
    asking: boolean,
  ): void {
    const spec = this.hooks.executor.dispatcher.table.lookup(argv[0]);
    const retrying = this.#retrying(client, reply, (again) => {
      // Asked again, a blocking command may now find its key here, and block here.
      again.parkable = true;
      return this.hooks.executor.runText(again, argv);
    }, spec?.flags.includes("readonly") ?? false);
    const blockMs = spec?.blockTimeoutMs?.(argv) ?? null;
    this.forwarder.forward(
      this.state.member(owner)!.raftId,
      client,
      argv,
      retrying,
      blockMs,
      asking,
    );
  }

  /** A plain client's transaction, run whole on the owner of its keys. */
  #forwardTransaction(
    owner: string,
    client: ClientState,
    commands: string[][],
    reply: DeferredReply,
    asking: boolean,
  ): void {
    const retrying = this.#retrying(client, reply, (again) =>
      // Routed again by the map this node has now: here, or forwarded again (with one more try).
      runTransaction(
        this.hooks.executor,
        again,
        commands,
        (node) => this.router.forwardTransaction(node, again, commands, reply),
      ), false);
    this.forwarder.forward(
      this.state.member(owner)!.raftId,
      client,
      ["EXEC"],
      retrying,
      null,
      asking,
      commands,
    );
  }

  /**
   * `reply`, unless the owner answered a redirect or a transient refusal (its map is newer or
   * older than this node's): then, after a short wait, `again` runs the command anew for a
   * client like `client` through this node's routing, up to FORWARD_RETRIES times. A result of
   * null means `again` handed `reply` on itself. A failure after which the command may have run
   * is repeated only when `repeatable` (a read). If the client goes away meanwhile, the attempt
   * in flight is cancelled and none follows.
   */
  #retrying(
    client: ClientState,
    reply: DeferredReply,
    again: (client: RetryingClient) => string | Promise<string> | null,
    repeatable: boolean,
  ): DeferredReply {
    const attempt = (client as RetryingClient).retries ?? 0;
    let abandoned = false;
    let cancelForward: (() => void) | null = null;
    let retried: RetryingClient | null = null;
    reply.onAbandon?.(() => {
      abandoned = true;
      cancelForward?.();
      if (retried !== null) this.hooks.executor.abandon(retried);
    });
    return {
      complete: (write) => {
        const out = new ReplyWriter();
        write(out);
        const text = out.cut(0);
        if (
          attempt >= FORWARD_RETRIES || !RETRIED_REPLY.test(text) ||
          (!repeatable && text.includes(MAY_HAVE_RUN))
        ) {
          return reply.complete((o) => o.rawText(text));
        }
        this.runtime.timers.setTimeout(() => {
          if (abandoned) return;
          const next = this.hooks.executor.client(client.role, client.db) as RetryingClient;
          next.protocol = client.protocol;
          next.retries = attempt + 1;
          retried = next;
          const result = again(next);
          if (result !== null) completeWith(reply, result);
        }, 25 << attempt);
      },
      onAbandon: (cancel) => (cancelForward = cancel),
    };
  }

  // ------------------------------------------------------------------ ClusterHooks

  get epoch(): number {
    return this.state.epoch;
  }

  get ok(): boolean {
    return this.#serving && this.state.slotMap !== null;
  }

  /** Whether this node answers for its slots now (see the module doc). */
  get serving(): boolean {
    return this.#serving;
  }

  counters(): [string, string | number][] {
    const lines: [string, string | number][] = [
      ["cluster_serving", this.#serving ? 1 : 0],
      ["cluster_raft_role", this.driver?.node.role ?? "none"],
      // A voter of the configuration, or a learner that only follows it.
      [
        "cluster_raft_voter",
        this.driver?.node.status().confState.voters.includes(this.self.raftId) ? 1 : 0,
      ],
      ["cluster_migrating_slots", this.state.migratingFrom(this.self.id).length],
      ["cluster_keys_dropped", this.stats.keysDropped],
    ];
    for (const [name, value] of Object.entries(this.router.stats)) {
      lines.push([`cluster_routed_${name}`, value]);
    }
    for (const [name, value] of Object.entries(this.forwarder.stats)) {
      lines.push([`cluster_forward_${name}`, value]);
    }
    for (const [name, value] of Object.entries(this.migrator.stats)) {
      lines.push([
        `cluster_migration_${name.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase())}`,
        value,
      ]);
    }
    const bus = this.bus.stats;
    lines.push(["cluster_bus_connects", this.#transport.stats.connects]);
    lines.push(["cluster_bus_unauthenticated_frames", this.#transport.stats.unauthenticatedFrames]);
    lines.push(["cluster_bus_queue_drops", bus.drops.queueFull]);
    return lines;
  }

  publish(channel: string, message: string, shard = false): void {
    const parts: (Uint8Array | true)[] = [
      Buffer.from(channel, "latin1"),
      Buffer.from(message, "latin1"),
    ];
    // A shard channel's (SPUBLISH), marked so that it reaches shard subscribers.
    if (shard) parts.push(true);
    const payload = encode(parts);
    for (const m of this.state.members()) {
      if (m.id !== this.self.id && !this.#failedSince.has(m.id)) {
        this.bus.sendPayload(m.raftId, BusFrameType.publish, payload);
      }
    }
  }

  aware(client: ClientState): void {
    (client as ClusterClient).clusterAware = true;
  }

  nodes(): ClusterNodeInfo[] {
    return this.state.members().map((m) => {
      let hexId = this.#hexIds.get(m.id);
      if (hexId === undefined) this.#hexIds.set(m.id, hexId = hexIdOf(m.id));
      return {
        hexId,
        name: m.id,
        host: m.host,
        port: m.port,
        busPort: m.busPort,
        self: m.id === this.self.id,
        failed: this.#failedSince.has(m.id),
        ranges: this.state.rangesOf(m.id),
      };
    });
  }

  /**
   * Hands this node's slots over (the leader plans their move to the others; at most
   * `handoverMs`), then leaves gossip (peers see "left", not "failed") and stops Raft, the bus
   * and the duties.
   */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.runtime.timers.setTimeout(() => resolve(), ms));
  }

  /** Closes gossip, Raft's transport and the bus (a node that may not start). */
  async #closeTransports(): Promise<void> {
    this.forwarder.close();
    this.migrator.close();
    await this.gossip.close();
    this.driver?.stop();
    await this.#transport.close();
    await this.bus.close();
  }

  async stop(handoverMs = 60_000): Promise<void> {
    if (this.driver !== undefined && this.state.rangesOf(this.self.id).length > 0) {
      this.#leaving = true;
      this.gossip.setMeta(this.#meta());
      this.hooks.log("cluster: leaving: handing the slots over");
      const deadline = this.runtime.clock.monotonicMs() + handoverMs;
      while (
        this.state.rangesOf(this.self.id).length > 0 &&
        this.runtime.clock.monotonicMs() < deadline
      ) {
        await new Promise((resolve) => this.runtime.timers.setTimeout(() => resolve(null), 50));
      }
      const left = this.state.rangesOf(this.self.id).length;
      this.hooks.log(
        left === 0 ? "cluster: slots handed over" : `cluster: leaving with ${left} slot ranges`,
      );
    }
    if (this.#timer !== undefined) this.runtime.timers.clearInterval(this.#timer);
    this.forwarder.close();
    this.migrator.close();
    await this.gossip.leave().catch(() => {});
    await this.gossip.close();
    this.driver?.stop();
    await this.#transport.close();
    await this.bus.close();
  }
}
