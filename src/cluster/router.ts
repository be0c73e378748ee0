/**
 * The cluster's routing step: from a command's keys and the configuration this node has applied,
 * run here, redirect (`-MOVED`, `-CROSSSLOT`, `-CLUSTERDOWN`) or forward to the owner.
 *
 * A client is *cluster-aware* once it has asked for the slot map (`CLUSTER SLOTS`, `SHARDS`,
 * `NODES`) or sent `READONLY`, as ioredis's `Cluster` and node-redis's `createCluster` do: it gets
 * Redis Cluster's redirects and follows them. Every other client is served transparently: the
 * node forwards the command over the bus and relays the reply.
 *
 * A node answers only while it is in touch with the configuration's quorum (`inQuorum`): the
 * leader moves the slots of a node only after `failure_timeout`, and a node cut off from the
 * quorum stops serving well before that, so no node serves a slot the cluster gave to another.
 *
 * @module
 */
import type { ClientState, CommandSpec, DeferredReply } from "../commands/types.ts";
import { HERE, type Route, type Router, SPLIT_NODE } from "../commands/routing.ts";
import { keySlot } from "../ring/key_slot.ts";
import type { ClusterState } from "./state.ts";
import { runSplit, SPLITTABLE } from "./split.ts";

/** Marks a forward route's node as "run there as after ASKING" (node ids never start with it). */
const ASKING_PREFIX = "\u0000";
/** The forward route of a multi-key command split by slot (see `split.ts`). */
const SPLIT = SPLIT_NODE;
export const SPLIT_ROUTE: Route = { kind: "forward", node: SPLIT };

/** Redis Cluster's error texts. */
export const CROSSSLOT = "CROSSSLOT Keys in request don't hash to the same slot";
export const CLUSTERDOWN = "CLUSTERDOWN The cluster is down";
export const SLOT_UNSERVED = "CLUSTERDOWN Hash slot not served";

/** A client that follows redirects (see the module doc). */
export interface ClusterClient extends ClientState {
  clusterAware?: boolean;
  /** Set by ASKING: the next keyed command may run on a slot this node is importing. */
  asking?: boolean;
  /** A command another node forwarded: redirected if its slot is not here (no second hop), but
   * carried to a slot's new owner during a move, as for the plain client it stands for. */
  forwarded?: boolean;
  /** The node the last keyed command was forwarded to (the HTTP API reports it). */
  routedTo?: string;
}

/** What the router asks of the node around it. */
export interface RouterHooks {
  /** Whether this node is in touch with the Raft quorum, so its applied map is current. */
  inQuorum(): boolean;
  /** Whether gossip holds `id` failed. */
  isFailed(id: string): boolean;
  /**
   * Runs `argv` on `owner` for `client` and completes `reply` with the owner's reply; `asking`
   * runs it there as after ASKING (the slot is moving to `owner`).
   */
  forward(
    owner: string,
    client: ClientState,
    argv: string[],
    reply: DeferredReply,
    asking: boolean,
  ): void;
  /** The same for a plain client's transaction: its queued `commands`, run there as one EXEC. */
  forwardTransaction(
    owner: string,
    client: ClientState,
    commands: string[][],
    reply: DeferredReply,
    asking: boolean,
  ): void;
  /** Whether store `db` holds `key` (while its slot moves, a missing key is on the new owner). */
  exists(db: number, key: string): boolean;
  /** Whether a batch of `slot`'s keys is on its way to the new owner, unacknowledged. */
  sending(slot: number): boolean;
  /** Runs `argv` here for a plain client like `client` (routed as usual); its reply's text. */
  runHere(client: ClientState, argv: string[]): string | Promise<string>;
}

/** Redis Cluster's text while a multi-key command's keys are split by a migration. */
export const TRYAGAIN = "TRYAGAIN Multiple keys request during rehashing of slot";

/** Routes by the applied {@linkcode ClusterState}. */
export class ClusterRouter implements Router {
  /** Routing decisions by kind, for INFO and /metrics. */
  readonly stats = {
    here: 0,
    moved: 0,
    ask: 0,
    tryagain: 0,
    forwarded: 0,
    down: 0,
    crossslot: 0,
    split: 0,
  };

  constructor(
    private readonly state: ClusterState,
    private readonly selfId: string,
    private readonly hooks: RouterHooks,
  ) {}

  route(
    spec: CommandSpec,
    _argv: readonly string[],
    keys: readonly string[] | null,
    client: ClientState,
  ): Route {
    if (keys === null || keys.length === 0) return HERE;
    const slot = keySlot(keys[0]);
    for (let i = 1; i < keys.length; i++) {
      if (keySlot(keys[i]) !== slot) {
        const c = client as ClusterClient;
        if (SPLITTABLE.has(spec.name) && c.clusterAware !== true && c.forwarded !== true) {
          this.stats.split++;
          return SPLIT_ROUTE;
        }
        this.stats.crossslot++;
        return { kind: "redirect", error: CROSSSLOT };
      }
    }
    return this.#routeSlot(slot, keys, client);
  }

  /** The route of a command whose one key is `key` (most commands: no key list is made). */
  routeKey(_spec: CommandSpec, key: string, client: ClientState): Route {
    return this.#routeSlot(keySlot(key), key, client);
  }

  /** Where a command on `slot` runs; `keys` are its keys (one key as itself). */
  #routeSlot(slot: number, keys: readonly string[] | string, client: ClientState): Route {
    const owner = this.state.ownerOf(slot);
    if (owner === "" || !this.hooks.inQuorum()) {
      this.stats.down++;
      return { kind: "redirect", error: owner === "" ? SLOT_UNSERVED : CLUSTERDOWN };
    }
    const asking = (client as ClusterClient).asking === true;
    if (asking) (client as ClusterClient).asking = false;
    const importer = this.state.importerOf(slot);
    if (owner === this.selfId) {
      if (importer === "") {
        this.stats.here++;
        return HERE;
      }
      return this.#migrating(slot, importer, typeof keys === "string" ? [keys] : keys, client);
    }
    // A slot moving here: only a command sent after ASKING runs here before the move ends.
    if (importer === this.selfId && asking) {
      this.stats.here++;
      return HERE;
    }
    if (this.hooks.isFailed(owner)) {
      this.stats.down++;
      return { kind: "redirect", error: CLUSTERDOWN };
    }
    const member = this.state.member(owner)!;
    if ((client as ClusterClient).clusterAware === true) {
      this.stats.moved++;
      return { kind: "redirect", error: `MOVED ${slot} ${member.host}:${member.port}` };
    }
    this.stats.forwarded++;
    (client as ClusterClient).routedTo = owner;
    return { kind: "forward", node: owner };
  }

  /**
   * On the owner of a moving slot: keys still here run here; keys already sent (or never here)
   * are the new owner's (`-ASK`, or forwarded as after ASKING); a mix waits (`-TRYAGAIN`).
   */
  #migrating(
    slot: number,
    importer: string,
    keys: readonly string[],
    client: ClientState,
  ): Route {
    let present = 0;
    for (const key of keys) if (this.hooks.exists(client.db, key)) present++;
    if (present === keys.length) {
      this.stats.here++;
      return HERE;
    }
    const aware = (client as ClusterClient).clusterAware === true &&
      (client as ClusterClient).forwarded !== true;
    // A forward travels on the same link as the batches before it, so the new owner has the
    // keys before it runs the command; a client sent there itself could overtake them.
    if (present > 0 || (aware && this.hooks.sending(slot))) {
      this.stats.tryagain++;
      return { kind: "redirect", error: TRYAGAIN };
    }
    const member = this.state.member(importer)!;
    if (aware) {
      this.stats.ask++;
      return { kind: "redirect", error: `ASK ${slot} ${member.host}:${member.port}` };
    }
    this.stats.forwarded++;
    (client as ClusterClient).routedTo = importer;
    return { kind: "forward", node: ASKING_PREFIX + importer };
  }

  forward(node: string, client: ClientState, argv: string[], reply: DeferredReply): void {
    if (node === SPLIT) {
      return runSplit(argv, client, (part) => this.hooks.runHere(client, part), reply);
    }
    const asking = node.startsWith(ASKING_PREFIX);
    this.hooks.forward(asking ? node.slice(1) : node, client, argv, reply, asking);
  }

  forwardTransaction(
    node: string,
    client: ClientState,
    commands: string[][],
    reply: DeferredReply,
  ): void {
    const asking = node.startsWith(ASKING_PREFIX);
    this.hooks.forwardTransaction(asking ? node.slice(1) : node, client, commands, reply, asking);
  }
}
