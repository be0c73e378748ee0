/**
 * Placement for HyperCache: which node owns a key.
 *
 * - {@linkcode keySlot}: key to hash slot, `CRC16(key) mod 16384` with `{hash tags}`, byte-exact
 *   with Redis Cluster, so cluster-aware Redis clients route by themselves.
 * - {@linkcode HashRing}: a consistent hash ring of weighted nodes with SHA-256 virtual-node
 *   tokens; preference lists of distinct nodes, optionally in distinct zones.
 * - {@linkcode SlotMap}: the 16384 slots assigned from the ring and balanced to within one slot
 *   of each node's weighted share; replicas per slot; migration plans; compact bytes with an
 *   epoch, for Raft and the wire.
 * - {@linkcode slotMapStats} and {@linkcode movementStats}: shares and movement, for reports.
 *
 * Everything is pure (no I/O) and a function of the membership, never of the order nodes were
 * added in; a slot map built from the previous one also depends on that map, which the cluster
 * replicates with its epoch.
 *
 * @example
 * ```ts
 * import { movementStats, SlotMap } from "@hypercache/hypercache/ring";
 *
 * const v1 = SlotMap.build([{ id: "a" }, { id: "b" }, { id: "c", weight: 2 }]);
 * console.log(v1.ownerOfKey("{user1}.profile") === v1.ownerOfKey("{user1}.cart")); // true
 *
 * const v2 = SlotMap.build([...v1.nodes, { id: "d" }], { previous: v1 });
 * const plan = SlotMap.diff(v1, v2); // slots to migrate, all to "d"
 * console.log(plan.length, movementStats(v1, v2).movedRatio); // 3276 1
 * ```
 *
 * @module
 */

export {
  DEFAULT_REPLICATION_FACTOR,
  DEFAULT_TOKENS_PER_NODE,
  MAX_NAME_BYTES,
  MAX_NODE_COUNT,
  MAX_REPLICATION_FACTOR,
  MAX_TOKEN_COUNT,
  MAX_TOKENS_PER_NODE,
  MAX_WEIGHT,
  SLOT_COUNT,
} from "./constants.ts";
export { SlotMapDecodeError } from "./errors.ts";
export { crc16, keySlot } from "./key_slot.ts";
export { HashRing, type HashRingOptions, type PreferenceOptions } from "./ring.ts";
export { SlotMap, type SlotMapOptions, type SlotMigration } from "./slot_map.ts";
export {
  type MovementStats,
  movementStats,
  type NodeMovement,
  type NodeShare,
  type SlotMapStats,
  slotMapStats,
} from "./stats.ts";
export type { RingMember, RingNode } from "./types.ts";
