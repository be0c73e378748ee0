/**
 * Types shared by the hash ring and the slot map.
 *
 * @module
 */

/**
 * A node as given to a ring or slot map.
 *
 * @example
 * ```ts
 * import type { RingNode } from "@hypercache/hypercache/ring";
 * const node: RingNode = { id: "node-a", weight: 2, zone: "eu-west-1a" };
 * console.log(node.id);
 * ```
 */
export interface RingNode {
  /** Stable id of the node: non-empty, at most 255 UTF-8 bytes, unique in the ring. */
  readonly id: string;
  /**
   * Relative capacity: a node of weight 2 gets twice the tokens and twice the slots.
   * @default {1}
   */
  readonly weight?: number;
  /** Failure domain (zone, rack); replicas go to distinct zones when enough zones exist. */
  readonly zone?: string;
}

/**
 * A validated node of a ring or slot map, with its weight filled in.
 *
 * @example
 * ```ts
 * import { HashRing } from "@hypercache/hypercache/ring";
 * const ring = new HashRing([{ id: "b" }, { id: "a", zone: "z1" }]);
 * console.log(ring.nodes); // [{ id: "a", weight: 1, zone: "z1" }, { id: "b", weight: 1 }]
 * ```
 */
export interface RingMember {
  /** Stable id of the node. */
  readonly id: string;
  /** Relative capacity, above 0. */
  readonly weight: number;
  /** Failure domain, when one was given. */
  readonly zone?: string;
}
