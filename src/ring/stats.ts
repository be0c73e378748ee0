/**
 * Statistics of slot maps: each node's share against its ideal, and the movement a change
 * causes. For reports, `CLUSTER` output and the benchmarks.
 *
 * @module
 */

import { SLOT_COUNT } from "./constants.ts";
import { SlotMap } from "./slot_map.ts";

/**
 * One node's share of a slot map.
 *
 * @example
 * ```ts
 * import { SlotMap, slotMapStats } from "@hypercache/hypercache/ring";
 * const [share] = slotMapStats(SlotMap.build([{ id: "a" }, { id: "b" }])).nodes;
 * console.log(share.id, share.slotCount, share.idealSlotCount); // "a" 8192 8192
 * ```
 */
export interface NodeShare {
  /** Node id. */
  readonly id: string;
  /** Node weight. */
  readonly weight: number;
  /** Slots the node owns. */
  readonly slotCount: number;
  /** Fraction of all slots the node owns. */
  readonly share: number;
  /** Slots the node would own if shares were exact: 16384 x weight / total weight. */
  readonly idealSlotCount: number;
  /** Relative deviation from the ideal: slotCount / idealSlotCount - 1 (0.01 is 1% over). */
  readonly deviation: number;
}

/**
 * How evenly a slot map spreads the slots.
 *
 * @example
 * ```ts
 * import { SlotMap, slotMapStats } from "@hypercache/hypercache/ring";
 * const stats = slotMapStats(SlotMap.build([{ id: "a" }, { id: "b" }, { id: "c" }]));
 * console.log(stats.maxDeviation < 0.001); // true
 * ```
 */
export interface SlotMapStats {
  /** Number of nodes. */
  readonly nodeCount: number;
  /** Each node's share, in id order. */
  readonly nodes: readonly NodeShare[];
  /** Largest absolute relative deviation of any node from its ideal share (0.01 is 1%). */
  readonly maxDeviation: number;
  /** Largest absolute deviation of any node from its ideal share, in slots. */
  readonly maxDeviationSlotCount: number;
  /** Root mean square of the nodes' relative deviations: their spread around the ideal. */
  readonly deviationStdDev: number;
}

/**
 * Each node's share of a map and how far it is from the node's weighted ideal.
 *
 * @example
 * ```ts
 * import { SlotMap, slotMapStats } from "@hypercache/hypercache/ring";
 * const nodes = [{ id: "a" }, { id: "b" }, { id: "c" }];
 * const ringOnly = slotMapStats(SlotMap.build(nodes, { balance: false }));
 * const balanced = slotMapStats(SlotMap.build(nodes));
 * console.log(balanced.maxDeviationSlotCount < 1); // true
 * console.log(ringOnly.maxDeviation >= balanced.maxDeviation); // true
 * ```
 */
export function slotMapStats(map: SlotMap): SlotMapStats {
  const totalWeight = map.nodes.reduce((sum, node) => sum + node.weight, 0);
  const nodes = map.nodes.map((node): NodeShare => {
    const slotCount = map.slotCountOf(node.id);
    const idealSlotCount = SLOT_COUNT * node.weight / totalWeight;
    return {
      id: node.id,
      weight: node.weight,
      slotCount,
      share: slotCount / SLOT_COUNT,
      idealSlotCount,
      deviation: slotCount / idealSlotCount - 1,
    };
  });
  let maxDeviation = 0;
  let maxDeviationSlotCount = 0;
  let squareSum = 0;
  for (const node of nodes) {
    maxDeviation = Math.max(maxDeviation, Math.abs(node.deviation));
    maxDeviationSlotCount = Math.max(
      maxDeviationSlotCount,
      Math.abs(node.slotCount - node.idealSlotCount),
    );
    squareSum += node.deviation * node.deviation;
  }
  return {
    nodeCount: nodes.length,
    nodes,
    maxDeviation,
    maxDeviationSlotCount,
    deviationStdDev: Math.sqrt(squareSum / nodes.length),
  };
}

/**
 * Slots one node gained and lost in a change.
 *
 * @example
 * ```ts
 * import { movementStats, SlotMap } from "@hypercache/hypercache/ring";
 * const before = SlotMap.build([{ id: "a" }]);
 * const after = SlotMap.build([{ id: "a" }, { id: "b" }], { previous: before });
 * console.log(movementStats(before, after).nodes); // a lost 8192, b gained 8192
 * ```
 */
export interface NodeMovement {
  /** Node id (of either map). */
  readonly id: string;
  /** Slots the node owns after the change and did not before. */
  readonly gainedSlotCount: number;
  /** Slots the node owned before the change and does not after. */
  readonly lostSlotCount: number;
}

/**
 * The movement a change of slot map causes.
 *
 * @example
 * ```ts
 * import { movementStats, SlotMap } from "@hypercache/hypercache/ring";
 * const before = SlotMap.build([{ id: "a" }, { id: "b" }]);
 * const after = SlotMap.build([{ id: "a" }, { id: "b" }, { id: "c" }], { previous: before });
 * console.log(movementStats(before, after).movedRatio); // 1
 * ```
 */
export interface MovementStats {
  /** Slots whose owner changed. */
  readonly movedSlotCount: number;
  /**
   * The fewest slots that must change owner to give every node its new slot count: the sum of
   * what each node gains in count.
   */
  readonly minimumMovedSlotCount: number;
  /** movedSlotCount / minimumMovedSlotCount (1 when nothing had to move and nothing did). */
  readonly movedRatio: number;
  /** Per node of either map, in id order: slots gained and lost. */
  readonly nodes: readonly NodeMovement[];
}

/**
 * The slots a change of slot map moves, against the fewest it could have moved.
 *
 * @example
 * ```ts
 * import { movementStats, SlotMap } from "@hypercache/hypercache/ring";
 * const nodes = [{ id: "a" }, { id: "b" }, { id: "c" }];
 * const before = SlotMap.build(nodes);
 * const after = SlotMap.build([...nodes, { id: "d" }], { previous: before });
 * const stats = movementStats(before, after);
 * console.log(stats.movedSlotCount, stats.minimumMovedSlotCount); // 4096 4096
 * ```
 */
export function movementStats(before: SlotMap, after: SlotMap): MovementStats {
  const gained = new Map<string, number>();
  const lost = new Map<string, number>();
  const ids = new Set<string>();
  for (const node of before.nodes) ids.add(node.id);
  for (const node of after.nodes) ids.add(node.id);
  for (const id of ids) {
    gained.set(id, 0);
    lost.set(id, 0);
  }
  let movedSlotCount = 0;
  for (const { from, to } of SlotMap.diff(before, after)) {
    movedSlotCount++;
    lost.set(from, lost.get(from)! + 1);
    gained.set(to, gained.get(to)! + 1);
  }
  let minimumMovedSlotCount = 0;
  for (const id of ids) {
    minimumMovedSlotCount += Math.max(0, after.slotCountOf(id) - before.slotCountOf(id));
  }
  const nodes = [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map((id) => ({
    id,
    gainedSlotCount: gained.get(id)!,
    lostSlotCount: lost.get(id)!,
  }));
  return {
    movedSlotCount,
    minimumMovedSlotCount,
    movedRatio: minimumMovedSlotCount === 0 ? 1 : movedSlotCount / minimumMovedSlotCount,
    nodes,
  };
}
