/**
 * The slot map: which node owns each of the 16384 hash slots and which nodes hold its replicas,
 * balanced to the nodes' weights, with an epoch.
 *
 * @module
 */

import { assert } from "../_assert.ts";
import {
  DEFAULT_REPLICATION_FACTOR,
  DEFAULT_TOKENS_PER_NODE,
  MAX_REPLICATION_FACTOR,
  SLOT_COUNT,
} from "./constants.ts";
import { keySlot } from "./key_slot.ts";
import { HashRing } from "./ring.ts";
import { countSlots, NO_OWNER, rebalance, slotTargets } from "./_balance.ts";
import { checkSlot, checkTokensPerNode } from "./_checks.ts";
import { decodeSlotMap, encodeSlotMap, type SlotMapFields } from "./_codec.ts";
import { normalizeMembers } from "./_members.ts";
import type { RingMember, RingNode } from "./types.ts";

/**
 * Options of {@linkcode SlotMap.build}.
 *
 * @example
 * ```ts
 * import { SlotMap, type SlotMapOptions } from "@hypercache/hypercache/ring";
 * const options: SlotMapOptions = { replicationFactor: 2, epoch: 7 };
 * console.log(SlotMap.build([{ id: "a" }, { id: "b" }], options).epoch); // 7
 * ```
 */
export interface SlotMapOptions {
  /**
   * Virtual-node tokens of a node of weight 1 on the ring the map starts from.
   * @default {256}
   */
  readonly tokensPerNode?: number;
  /**
   * Nodes holding each slot, the owner included (capped at the number of nodes).
   * @default {3}
   */
  readonly replicationFactor?: number;
  /**
   * Put a slot's replicas in distinct zones when enough zones exist.
   * @default {true}
   */
  readonly distinctZones?: boolean;
  /**
   * Balance the ring's assignment so each node owns its weighted share to within one slot.
   * `false` gives the plain ring assignment (for comparison) and cannot be combined with
   * `previous`.
   * @default {true}
   */
  readonly balance?: boolean;
  /**
   * The map in force before this change of membership or weights. The new map keeps every slot
   * whose owner stays and moves the fewest slots that reach the new shares: on a join only to
   * the new node, on a leave only the leaving node's slots, on a weight change only to the nodes
   * that grow. That holds always for equal weights; with mixed weights it gives way only where
   * no map within one slot of every share could keep it (a node whose share is a few slots).
   * Without `previous`, the map is a pure function of the membership.
   */
  readonly previous?: SlotMap;
  /**
   * Epoch of the new map: a non-negative safe integer.
   * @default {previous ? previous.epoch + 1 : 0}
   */
  readonly epoch?: number;
}

/**
 * One slot changing owner.
 *
 * @example
 * ```ts
 * import type { SlotMigration } from "@hypercache/hypercache/ring";
 * const migration: SlotMigration = { slot: 12, from: "a", to: "c" };
 * console.log(migration.slot);
 * ```
 */
export interface SlotMigration {
  /** The slot, 0-16383. */
  readonly slot: number;
  /** Id of the owner in the old map. */
  readonly from: string;
  /** Id of the owner in the new map. */
  readonly to: string;
}

/**
 * Owner and replicas of every hash slot. Immutable; every node that builds a map from the same
 * previous map and membership (in any order) gets the same map, byte for byte.
 *
 * @example
 * ```ts
 * import { SlotMap } from "@hypercache/hypercache/ring";
 * const v1 = SlotMap.build([{ id: "a" }, { id: "b" }, { id: "c" }]);
 * console.log(v1.ownerOfKey("user:42")); // "a", "b" or "c"
 * const v2 = SlotMap.build([{ id: "a" }, { id: "b" }, { id: "c" }, { id: "d" }], { previous: v1 });
 * console.log(SlotMap.diff(v1, v2).every((m) => m.to === "d")); // true
 * console.log(v2.epoch); // 1
 * ```
 */
export class SlotMap {
  /** Epoch: bumped by every change, so nodes can tell which of two maps is newer. */
  readonly epoch: number;
  /** The nodes, sorted by id. */
  readonly nodes: readonly RingMember[];
  /** Virtual-node tokens of a node of weight 1 on the map's ring. */
  readonly tokensPerNode: number;
  /** Nodes holding each slot, the owner included, as configured (before capping). */
  readonly replicationFactor: number;
  /** Whether replicas go to distinct zones. */
  readonly distinctZones: boolean;

  readonly #ids: readonly string[];
  readonly #indexById: Map<string, number>;
  readonly #owners: Uint16Array;
  readonly #slotCounts: Int32Array;
  #ring: HashRing | undefined;
  /** Node indexes, `replicaCount` per slot, computed on first use. */
  #replicas: Uint16Array | undefined;

  private constructor(fields: SlotMapFields, ring?: HashRing) {
    this.epoch = fields.epoch;
    this.nodes = Object.freeze([...fields.nodes]);
    this.tokensPerNode = fields.tokensPerNode;
    this.replicationFactor = fields.replicationFactor;
    this.distinctZones = fields.distinctZones;
    this.#ids = Object.freeze(this.nodes.map((node) => node.id));
    this.#indexById = new Map(this.#ids.map((id, index) => [id, index]));
    this.#owners = fields.owners;
    this.#slotCounts = countSlots(fields.owners, this.nodes.length);
    this.#ring = ring;
  }

  /**
   * Builds the slot map of a membership: the ring's assignment, balanced so each node owns its
   * weighted share of the 16384 slots to within one slot. See {@linkcode SlotMapOptions.previous}
   * for changes of membership.
   *
   * @param nodes The nodes, in any order; ids must be unique.
   * @param options See {@linkcode SlotMapOptions}.
   * @throws {TypeError} When a node id or zone is not a non-empty well-formed string.
   * @throws {RangeError} When an option or node is out of range.
   *
   * @example
   * ```ts
   * import { SlotMap } from "@hypercache/hypercache/ring";
   * const map = SlotMap.build([{ id: "a" }, { id: "b", weight: 3 }]);
   * console.log(map.slotCountOf("a"), map.slotCountOf("b")); // 4096 12288
   * ```
   */
  static build(nodes: readonly RingNode[], options: SlotMapOptions = {}): SlotMap {
    const action = "build slot map";
    const members = normalizeMembers(nodes, action);
    const {
      tokensPerNode = DEFAULT_TOKENS_PER_NODE,
      replicationFactor = DEFAULT_REPLICATION_FACTOR,
      distinctZones = true,
      balance = true,
      previous,
    } = options;
    checkTokensPerNode(tokensPerNode, action);
    checkReplicationFactor(replicationFactor, action);
    if (previous !== undefined && !(previous instanceof SlotMap)) {
      throw new TypeError(
        `Cannot ${action}: 'previous' must be a SlotMap: current value is ${previous}`,
      );
    }
    if (previous !== undefined && !balance) {
      throw new TypeError(
        `Cannot ${action}: 'previous' needs balancing, but 'balance' is false`,
      );
    }
    const epoch = options.epoch ?? (previous ? previous.epoch + 1 : 0);
    checkEpoch(epoch, action);

    const ring = new HashRing(members, { tokensPerNode });
    const owners = new Uint16Array(SLOT_COUNT);
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      if (previous === undefined) {
        owners[slot] = ring.ownerIndexOfSlot(slot);
      } else {
        const index = ring.nodeIndexOf(previous.ownerOf(slot));
        owners[slot] = index === -1 ? NO_OWNER : index;
      }
    }
    if (balance) {
      const weights = members.map((member) => member.weight);
      const targets = slotTargets(weights, countSlots(owners, members.length), SLOT_COUNT);
      rebalance(
        owners,
        targets,
        (slot, depth) => ring.preferenceIndexes(slot, depth, { distinctZones: false }),
      );
    }
    const fields = {
      epoch,
      tokensPerNode,
      replicationFactor,
      distinctZones,
      nodes: members,
      owners,
    };
    return new SlotMap(fields, ring);
  }

  /**
   * Decodes a map from {@linkcode SlotMap.encode}'s bytes, checking the checksum and every field.
   *
   * @throws {SlotMapDecodeError} When the bytes are truncated, corrupted or of an unknown version.
   *
   * @example
   * ```ts
   * import { SlotMap } from "@hypercache/hypercache/ring";
   * const map = SlotMap.build([{ id: "a" }, { id: "b" }], { epoch: 3 });
   * const copy = SlotMap.decode(map.encode());
   * console.log(copy.epoch, copy.equals(map)); // 3 true
   * ```
   */
  static decode(bytes: Uint8Array): SlotMap {
    return new SlotMap(decodeSlotMap(bytes));
  }

  /**
   * The migration plan from one map to another: every slot whose owner changes, in slot order.
   *
   * @example
   * ```ts
   * import { SlotMap } from "@hypercache/hypercache/ring";
   * const before = SlotMap.build([{ id: "a" }, { id: "b" }]);
   * const after = SlotMap.build([{ id: "a" }], { previous: before });
   * const plan = SlotMap.diff(before, after);
   * console.log(plan.length, plan.every((m) => m.from === "b" && m.to === "a")); // 8192 true
   * ```
   */
  static diff(before: SlotMap, after: SlotMap): SlotMigration[] {
    const migrations: SlotMigration[] = [];
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      const from = before.#ids[before.#owners[slot]];
      const to = after.#ids[after.#owners[slot]];
      if (from !== to) migrations.push({ slot, from, to });
    }
    return migrations;
  }

  /**
   * The ring the map was built from (rebuilt on first use after {@linkcode SlotMap.decode}).
   *
   * @example
   * ```ts
   * import { SlotMap } from "@hypercache/hypercache/ring";
   * const map = SlotMap.build([{ id: "a" }, { id: "b" }], { tokensPerNode: 64 });
   * console.log(map.ring.tokenCount); // 128
   * ```
   */
  get ring(): HashRing {
    this.#ring ??= new HashRing(this.nodes, { tokensPerNode: this.tokensPerNode });
    return this.#ring;
  }

  /**
   * Nodes holding each slot, the owner included: the replication factor capped at the number of
   * nodes.
   *
   * @example
   * ```ts
   * import { SlotMap } from "@hypercache/hypercache/ring";
   * console.log(SlotMap.build([{ id: "a" }, { id: "b" }]).replicaCount); // 2
   * ```
   */
  get replicaCount(): number {
    return Math.min(this.replicationFactor, this.nodes.length);
  }

  /**
   * Id of the node owning a slot.
   *
   * @throws {RangeError} When the slot is not an integer from 0 to 16383.
   *
   * @example
   * ```ts
   * import { SlotMap } from "@hypercache/hypercache/ring";
   * console.log(SlotMap.build([{ id: "a" }]).ownerOf(16383)); // "a"
   * ```
   */
  ownerOf(slot: number): string {
    checkSlot(slot, "find slot owner");
    return this.#ids[this.#owners[slot]];
  }

  /**
   * Id of the node owning a key's slot: CRC16 of the key (or its hash tag), then one table look-up.
   *
   * @param key A `Uint8Array` or a latin1 string (one character per byte).
   * @throws {TypeError} When a hashed character of a string key is above U+00FF.
   *
   * @example
   * ```ts
   * import { keySlot, SlotMap } from "@hypercache/hypercache/ring";
   * const map = SlotMap.build([{ id: "a" }, { id: "b" }]);
   * console.log(map.ownerOfKey("user:42") === map.ownerOf(keySlot("user:42"))); // true
   * ```
   */
  ownerOfKey(key: string | Uint8Array): string {
    return this.#ids[this.#owners[keySlot(key)]];
  }

  /**
   * Index in {@linkcode SlotMap.nodes} of the node owning a slot.
   *
   * @throws {RangeError} When the slot is out of range.
   *
   * @example
   * ```ts
   * import { SlotMap } from "@hypercache/hypercache/ring";
   * const map = SlotMap.build([{ id: "a" }, { id: "b" }]);
   * console.log(map.nodes[map.ownerIndexOf(5)].id === map.ownerOf(5)); // true
   * ```
   */
  ownerIndexOf(slot: number): number {
    checkSlot(slot, "find slot owner");
    return this.#owners[slot];
  }

  /**
   * Ids of the nodes holding a slot: the owner first, then the next distinct nodes clockwise on
   * the ring (in distinct zones first, when `distinctZones` and enough zones exist). Never
   * repeats a node.
   *
   * @throws {RangeError} When the slot is out of range.
   *
   * @example
   * ```ts
   * import { SlotMap } from "@hypercache/hypercache/ring";
   * const map = SlotMap.build([{ id: "a" }, { id: "b" }, { id: "c" }], { replicationFactor: 2 });
   * const [owner, replica] = map.replicasOf(100);
   * console.log(owner === map.ownerOf(100), replica !== owner); // true true
   * ```
   */
  replicasOf(slot: number): string[] {
    checkSlot(slot, "find slot replicas");
    const replicaCount = this.replicaCount;
    const replicas = this.#replicaTable();
    const result: string[] = [];
    for (let i = 0; i < replicaCount; i++) {
      result.push(this.#ids[replicas[slot * replicaCount + i]]);
    }
    return result;
  }

  /**
   * How many slots a node owns (0 for a node not in the map).
   *
   * @example
   * ```ts
   * import { SlotMap } from "@hypercache/hypercache/ring";
   * const map = SlotMap.build([{ id: "a" }, { id: "b" }]);
   * console.log(map.slotCountOf("a")); // 8192
   * ```
   */
  slotCountOf(id: string): number {
    const index = this.#indexById.get(id);
    return index === undefined ? 0 : this.#slotCounts[index];
  }

  /**
   * The slots a node owns, ascending (empty for a node not in the map).
   *
   * @example
   * ```ts
   * import { SlotMap } from "@hypercache/hypercache/ring";
   * const map = SlotMap.build([{ id: "a" }]);
   * console.log(map.slotsOf("a").length); // 16384
   * ```
   */
  slotsOf(id: string): number[] {
    const index = this.#indexById.get(id);
    const slots: number[] = [];
    if (index === undefined) return slots;
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      if (this.#owners[slot] === index) slots.push(slot);
    }
    return slots;
  }

  /**
   * The map as compact bytes (for Raft entries and the cluster bus): epoch, settings, nodes, and
   * each slot's owner in ceil(log2(nodes)) bits, with a checksum. Replicas are recomputed from the
   * ring on decode, as they are a pure function of the owners and the membership.
   *
   * @example
   * ```ts
   * import { SlotMap } from "@hypercache/hypercache/ring";
   * const map = SlotMap.build([{ id: "a" }, { id: "b" }, { id: "c" }]);
   * console.log(map.encode().length < 4200); // true: 2 bits per slot
   * ```
   */
  encode(): Uint8Array {
    return encodeSlotMap({
      epoch: this.epoch,
      tokensPerNode: this.tokensPerNode,
      replicationFactor: this.replicationFactor,
      distinctZones: this.distinctZones,
      nodes: this.nodes,
      owners: this.#owners,
    });
  }

  /**
   * Whether two maps are identical: epoch, settings, nodes and every slot's owner.
   *
   * @example
   * ```ts
   * import { SlotMap } from "@hypercache/hypercache/ring";
   * const a = SlotMap.build([{ id: "x" }, { id: "y" }]);
   * const b = SlotMap.build([{ id: "y" }, { id: "x" }]);
   * console.log(a.equals(b)); // true
   * ```
   */
  equals(other: SlotMap): boolean {
    const a = this.encode();
    const b = other.encode();
    return a.length === b.length && a.every((byte, i) => byte === b[i]);
  }

  #replicaTable(): Uint16Array {
    if (this.#replicas !== undefined) return this.#replicas;
    const ring = this.ring;
    const replicaCount = this.replicaCount;
    const replicas = new Uint16Array(SLOT_COUNT * replicaCount);
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      const list = ring.preferenceIndexes(slot, replicaCount, {
        distinctZones: this.distinctZones,
        first: this.#ids[this.#owners[slot]],
      });
      assert(list[0] === this.#owners[slot], `replicas of slot ${slot} do not start at its owner`);
      replicas.set(list, slot * replicaCount);
    }
    this.#replicas = replicas;
    return replicas;
  }
}

function checkReplicationFactor(replicationFactor: number, action: string): void {
  if (
    !(Number.isInteger(replicationFactor) && replicationFactor >= 1 &&
      replicationFactor <= MAX_REPLICATION_FACTOR)
  ) {
    throw new RangeError(
      `Cannot ${action}: 'replicationFactor' must be an integer from 1 to ` +
        `${MAX_REPLICATION_FACTOR}: current value is ${replicationFactor}`,
    );
  }
}

function checkEpoch(epoch: number, action: string): void {
  if (!(Number.isSafeInteger(epoch) && epoch >= 0)) {
    throw new RangeError(
      `Cannot ${action}: 'epoch' must be a non-negative safe integer: current value is ${epoch}`,
    );
  }
}
