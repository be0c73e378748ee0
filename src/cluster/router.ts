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
import { HERE, type Route, type Router } from "../commands/routing.ts";
import { keySlot } from "../ring/key_slot.ts";
import type { ClusterState } from "./state.ts";

/** Redis Cluster's error texts. */
export const CROSSSLOT = "CROSSSLOT Keys in request don't hash to the same slot";
export const CLUSTERDOWN = "CLUSTERDOWN The cluster is down";
export const SLOT_UNSERVED = "CLUSTERDOWN Hash slot not served";

/** A client that follows redirects (see the module doc). */
export interface ClusterClient extends ClientState {
  clusterAware?: boolean;
}

/** What the router asks of the node around it. */
export interface RouterHooks {
  /** Whether this node is in touch with the Raft quorum, so its applied map is current. */
  inQuorum(): boolean;
  /** Whether gossip holds `id` failed. */
  isFailed(id: string): boolean;
  /** Runs `argv` on `owner` for `client` and completes `reply` with the owner's reply. */
  forward(owner: string, client: ClientState, argv: string[], reply: DeferredReply): void;
}

/** Routes by the applied {@linkcode ClusterState}. */
export class ClusterRouter implements Router {
  /** Routing decisions by kind, for INFO and /metrics. */
  readonly stats = { here: 0, moved: 0, forwarded: 0, down: 0, crossslot: 0 };

  constructor(
    private readonly state: ClusterState,
    private readonly selfId: string,
    private readonly hooks: RouterHooks,
  ) {}

  route(
    _spec: CommandSpec,
    _argv: readonly string[],
    keys: readonly string[] | null,
    client: ClientState,
  ): Route {
    if (keys === null || keys.length === 0) return HERE;
    const slot = keySlot(keys[0]);
    for (let i = 1; i < keys.length; i++) {
      if (keySlot(keys[i]) !== slot) {
        this.stats.crossslot++;
        return { kind: "redirect", error: CROSSSLOT };
      }
    }
    const owner = this.state.ownerOf(slot);
    if (owner === "" || !this.hooks.inQuorum()) {
      this.stats.down++;
      return { kind: "redirect", error: owner === "" ? SLOT_UNSERVED : CLUSTERDOWN };
    }
    if (owner === this.selfId) {
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
    return { kind: "forward", node: owner };
  }

  forward(node: string, client: ClientState, argv: string[], reply: DeferredReply): void {
    this.hooks.forward(node, client, argv, reply);
  }
}
