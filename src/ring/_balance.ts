/**
 * Balancing a slot assignment to the weighted shares, moving as few slots as possible.
 *
 * Why balancing depends on the previous map: a placement that is a pure function of the
 * membership and only ever moves slots to a joining node must give each slot a fixed ranking of
 * all nodes (rendezvous hashing), and no fixed ranking can be within one slot of every share for
 * every membership. So a balanced map is built from the previous map (the cluster replicates it
 * with an epoch, so every node has the same one) or, without one, from the ring alone.
 */

import { assert } from "../_assert.ts";

/** Owner of a slot whose node has left: it must move. Above any node index. */
export const NO_OWNER = 0xffff;

/** Preference ranks tried for every movable slot before the exhaustive pass. */
const RANK_DEPTH = 8;

/** Lists the first `depth` distinct nodes clockwise from a slot, on the ring. */
export type PreferenceOf = (slot: number, depth: number) => readonly number[];

/**
 * Each node's target slot count: its exact weighted share rounded down or up, so every target is
 * within one slot of the share and the targets add up to `slotCount`.
 *
 * Which shares round up is chosen to move the fewest slots from `counts` (the slots each node
 * holds now), and then so that slots go only to nodes that must receive some anyway: first nodes
 * already above their share rounded down (rounding them up costs no move), then the nodes
 * furthest below it (a joining node), then larger remainders, then id order. This order gives
 * the old nodes of a join the most room to keep their slots, so whenever targets exist under
 * which no old node receives, these are such targets; likewise for a leave.
 */
export function slotTargets(
  weights: readonly number[],
  counts: Int32Array,
  slotCount: number,
): Int32Array {
  const nodeCount = weights.length;
  const totalWeight = weights.reduce((sum, weight) => sum + weight, 0);
  const targets = new Int32Array(nodeCount);
  const remainders = new Float64Array(nodeCount);
  let floorSum = 0;
  for (let i = 0; i < nodeCount; i++) {
    const share = slotCount * weights[i] / totalWeight;
    targets[i] = Math.floor(share);
    remainders[i] = share - targets[i];
    floorSum += targets[i];
  }
  const roundUpCount = slotCount - floorSum;
  assert(roundUpCount >= 0, `shares rounded down exceed the slots by ${-roundUpCount}`);
  const candidates: number[] = [];
  for (let i = 0; i < nodeCount; i++) if (remainders[i] > 0) candidates.push(i);
  assert(
    candidates.length >= roundUpCount,
    `${roundUpCount} shares must round up but only ${candidates.length} are fractional`,
  );
  const surplus = (i: number) => counts[i] - targets[i];
  candidates.sort((a, b) => {
    const aFree = surplus(a) > 0 ? 0 : 1;
    const bFree = surplus(b) > 0 ? 0 : 1;
    if (aFree !== bFree) return aFree - bFree;
    if (aFree === 1 && surplus(a) !== surplus(b)) return surplus(a) - surplus(b);
    if (remainders[a] !== remainders[b]) return remainders[b] - remainders[a];
    return a - b;
  });
  for (let i = 0; i < roundUpCount; i++) targets[candidates[i]]++;
  return targets;
}

/** Slots held per node; slots with {@linkcode NO_OWNER} are not counted. */
export function countSlots(owners: Uint16Array, nodeCount: number): Int32Array {
  const counts = new Int32Array(nodeCount);
  for (let slot = 0; slot < owners.length; slot++) {
    if (owners[slot] !== NO_OWNER) counts[owners[slot]]++;
  }
  return counts;
}

/**
 * Reassigns slots in place until every node holds exactly its target. Only slots without an
 * owner and slots of nodes above target move, each exactly once, and only to nodes below target:
 * that is the fewest moves that reach the targets. A moving slot goes to the receiver nearest in
 * its ring preference list, so the result stays close to the ring's placement.
 */
export function rebalance(
  owners: Uint16Array,
  targets: Int32Array,
  preferenceOf: PreferenceOf,
): void {
  const nodeCount = targets.length;
  const counts = countSlots(owners, nodeCount);
  const excess = new Int32Array(nodeCount);
  const deficit = new Int32Array(nodeCount);
  let deficitSum = 0;
  for (let i = 0; i < nodeCount; i++) {
    excess[i] = Math.max(0, counts[i] - targets[i]);
    deficit[i] = Math.max(0, targets[i] - counts[i]);
    deficitSum += deficit[i];
  }
  const movable: number[] = [];
  for (let slot = 0; slot < owners.length; slot++) {
    const owner = owners[slot];
    if (owner === NO_OWNER || excess[owner] > 0) movable.push(slot);
  }
  const canMove = (slot: number) => owners[slot] === NO_OWNER || excess[owners[slot]] > 0;
  const move = (slot: number, receiver: number) => {
    if (owners[slot] !== NO_OWNER) excess[owners[slot]]--;
    deficit[receiver]--;
    deficitSum--;
    owners[slot] = receiver;
  };

  const depth = Math.min(nodeCount, RANK_DEPTH);
  const preferences = deficitSum > 0 ? movable.map((slot) => preferenceOf(slot, depth)) : [];
  for (let rank = 0; rank < depth && deficitSum > 0; rank++) {
    for (let i = 0; i < movable.length && deficitSum > 0; i++) {
      const slot = movable[i];
      if (!canMove(slot)) continue;
      const receiver = preferences[i][rank];
      if (deficit[receiver] > 0) move(slot, receiver);
    }
  }
  // Receivers beyond the first ranks: walk each remaining slot's whole preference list.
  for (let i = 0; i < movable.length && deficitSum > 0; i++) {
    const slot = movable[i];
    if (!canMove(slot)) continue;
    const receiver = preferenceOf(slot, nodeCount).find((node) => deficit[node] > 0);
    assert(receiver !== undefined, `no receiver left for slot ${slot}`);
    move(slot, receiver);
  }

  assert(deficitSum === 0, `balancing left ${deficitSum} slots short`);
  const finalCounts = countSlots(owners, nodeCount);
  for (let i = 0; i < nodeCount; i++) {
    assert(finalCounts[i] === targets[i], `node ${i} holds ${finalCounts[i]}, not ${targets[i]}`);
  }
}
