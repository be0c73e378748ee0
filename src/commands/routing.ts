/**
 * The routing step of dispatch: from a command's keys (read from the command table only), where
 * it runs. A single node has no router and runs everything here; a cluster node's router answers
 * from the slot map it has applied: here, a redirect for a cluster-aware client (`-MOVED`, `-ASK`,
 * `-CROSSSLOT`, `-TRYAGAIN`, `-CLUSTERDOWN`), or forward, for a plain client served through this
 * node.
 *
 * Dispatch runs the steps in Redis's order: arity, authentication and ACL, routing, memory limit,
 * then the handler.
 *
 * @module
 */
import type { ClientState, CommandSpec, DeferredReply } from "./types.ts";

/** Where a command runs. */
export type Route =
  /** On this node. */
  | { readonly kind: "here" }
  /** Not here: the client is told where (the error reply, e.g. `MOVED 3999 127.0.0.1:7002`). */
  | { readonly kind: "redirect"; readonly error: string }
  /** On `node`, asked by this node for the client; the reply is relayed. */
  | { readonly kind: "forward"; readonly node: string };

/** The one `here` route (routing allocates nothing on the common path). */
export const HERE: Route = { kind: "here" };

/**
 * The node of a `forward` route whose command the router splits by slot and merges itself
 * (MGET across slots for a plain client). Inside a transaction it cannot be queued.
 */
export const SPLIT_NODE = "\u0001split";

/** Decides where commands run. */
export interface Router {
  /**
   * Where `argv` runs. `spec` is the command's (a container's subcommand when it has one),
   * `keys` its keys as the table finds them, or null when the arguments cannot hold them (the
   * handler then answers the syntax error, so such a command runs here).
   */
  route(
    spec: CommandSpec,
    argv: readonly string[],
    keys: readonly string[] | null,
    client: ClientState,
  ): Route;
  /**
   * The same for a command whose only key is `key` (the table puts one key at a fixed
   * position): what `route` answers for `[key]`, without a key list.
   */
  routeKey(spec: CommandSpec, key: string, client: ClientState): Route;
  /**
   * Runs `argv` on `node` (a `forward` route's) for `client`, and completes `reply` with that
   * node's reply. The dispatcher calls it only where a reply can wait (not inside a transaction).
   */
  forward?(node: string, client: ClientState, argv: string[], reply: DeferredReply): void;
  /**
   * Runs a plain client's transaction (`commands`, queued between MULTI and EXEC, each routed to
   * `node`) there, whole, and completes `reply` with its EXEC reply.
   */
  forwardTransaction?(
    node: string,
    client: ClientState,
    commands: string[][],
    reply: DeferredReply,
  ): void;
}
