/**
 * The cluster's configuration, the state machine the voters replicate with Raft: the members
 * (id, Raft id, addresses, zone, weight), the slot map (owner of each of the 16384 slots), and an
 * epoch that every applied change increments. Every node routes by the state it has applied, so
 * two nodes that applied the same epoch agree on every slot's owner.
 *
 * Changes are proposed as commands; `apply` is deterministic and refuses a change made against an
 * older epoch (`expectEpoch`), so two leaders' concurrent plans cannot both land.
 *
 * @module
 */
import { decode, encode } from "cborg";
import { SlotMap } from "../ring/slot_map.ts";
import { SLOT_COUNT } from "../ring/constants.ts";

/** A node of the cluster, as the configuration records it. */
export interface ClusterMember {
  /** Stable name (`node_id`). */
  readonly id: string;
  /** Its id in Raft (a positive 32-bit number derived from `id`). */
  readonly raftId: number;
  /** Where clients and peers reach it. */
  readonly host: string;
  /** RESP port. */
  readonly port: number;
  /** HTTP API port (0 when off). */
  readonly httpPort: number;
  /** Cluster bus port (TCP). */
  readonly busPort: number;
  /** Gossip port (UDP, and TCP for push-pull). */
  readonly gossipPort: number;
  readonly zone: string;
  readonly weight: number;
}

/** A change to the configuration. */
export type ClusterCommand =
  /** Records a member (or its new addresses); it owns no slot until a `slots` change gives some. */
  | { readonly op: "member"; readonly member: ClusterMember }
  /** Forgets a member that owns no slot. */
  | { readonly op: "forget"; readonly id: string }
  /**
   * Replaces the slot map at once (the slots of a failed node, whose keys are gone); refused
   * unless the state is still at `expectEpoch`. Ends any migration.
   */
  | { readonly op: "slots"; readonly expectEpoch: number; readonly map: Uint8Array }
  /**
   * Starts moving slots to the owners `map` gives them: each moving slot keeps its owner, which
   * streams its keys to the new one, until a `moved` change flips it. Refused while a migration
   * runs, or unless the state is at `expectEpoch`.
   */
  | { readonly op: "plan"; readonly expectEpoch: number; readonly map: Uint8Array }
  /** `from` has handed these slots' keys to their planned owners: they now own them. */
  | { readonly op: "moved"; readonly from: string; readonly slots: readonly number[] };

/** What applying a command did. */
export interface ApplyResult {
  readonly applied: boolean;
  readonly epoch: number;
  /** Why it was refused. */
  readonly reason?: string;
}

/** The Raft id of a node id: FNV-1a, never 0 (Raft's "none"). */
export function raftIdOf(id: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    hash ^= id.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return (hash & 0x7fffffff) || 1;
}

/** Encodes a command for a Raft proposal. */
export function encodeCommand(command: ClusterCommand): Uint8Array {
  return encode(command);
}

/** The replicated configuration. */
export class ClusterState {
  #epoch = 0;
  readonly #members = new Map<string, ClusterMember>();
  #slots: SlotMap | null = null;
  /** The map a migration is moving to, and the slots that already moved. */
  #target: SlotMap | null = null;
  #moved = new Set<number>();
  /** Owner id of every slot ("" when none), for the router's hot path. */
  #owners: string[] = new Array(SLOT_COUNT).fill("");
  /** Called after every applied change. */
  onChange: ((state: ClusterState) => void) | undefined;

  /** Bumped by every applied change. */
  get epoch(): number {
    return this.#epoch;
  }

  get slotMap(): SlotMap | null {
    return this.#slots;
  }

  /** Every member, sorted by id. */
  members(): ClusterMember[] {
    return [...this.#members.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  member(id: string): ClusterMember | undefined {
    return this.#members.get(id);
  }

  /** The map a migration is moving to, or null when none runs. */
  get target(): SlotMap | null {
    return this.#target;
  }

  /** The new owner of `slot` while it is moving, else "". */
  importerOf(slot: number): string {
    if (this.#target === null || this.#moved.has(slot)) return "";
    const to = this.#target.ownerOf(slot);
    return to === this.#owners[slot] ? "" : to;
  }

  /** Slots still to move from `id`. */
  migratingFrom(id: string): number[] {
    const slots: number[] = [];
    if (this.#target === null) return slots;
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      if (this.#owners[slot] === id && this.importerOf(slot) !== "") slots.push(slot);
    }
    return slots;
  }

  /** Owner id of `slot`, or "" when no node owns it yet. */
  ownerOf(slot: number): string {
    return this.#owners[slot];
  }

  /** The slots `id` owns, as inclusive ranges. */
  rangesOf(id: string): [number, number][] {
    const ranges: [number, number][] = [];
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      if (this.#owners[slot] !== id) continue;
      const last = ranges[ranges.length - 1];
      if (last !== undefined && last[1] === slot - 1) last[1] = slot;
      else ranges.push([slot, slot]);
    }
    return ranges;
  }

  /** Applies a committed command (bytes as proposed). */
  apply(data: Uint8Array): ApplyResult {
    let command: ClusterCommand;
    try {
      command = decode(data) as ClusterCommand;
    } catch {
      return this.#refuse("undecodable command");
    }
    switch (command.op) {
      case "member": {
        const m = command.member;
        for (const other of this.#members.values()) {
          if (other.id !== m.id && other.raftId === m.raftId) {
            return this.#refuse(`raft id of ${m.id} collides with ${other.id}`);
          }
        }
        this.#members.set(m.id, { ...m });
        break;
      }
      case "forget": {
        if (this.#owners.includes(command.id)) return this.#refuse(`${command.id} owns slots`);
        if (!this.#members.delete(command.id)) return this.#refuse(`no member ${command.id}`);
        break;
      }
      case "slots": {
        if (command.expectEpoch !== this.#epoch) {
          return this.#refuse(`stale plan (epoch ${command.expectEpoch}, now ${this.#epoch})`);
        }
        const map = SlotMap.decode(command.map);
        for (const node of map.nodes) {
          if (!this.#members.has(node.id)) return this.#refuse(`slot owner ${node.id} unknown`);
        }
        this.#target = null;
        this.#moved.clear();
        this.#setSlots(map);
        break;
      }
      case "plan": {
        if (command.expectEpoch !== this.#epoch) {
          return this.#refuse(`stale plan (epoch ${command.expectEpoch}, now ${this.#epoch})`);
        }
        if (this.#target !== null) return this.#refuse("a migration is running");
        if (this.#slots === null) return this.#refuse("no slot map to migrate from");
        const map = SlotMap.decode(command.map);
        for (const node of map.nodes) {
          if (!this.#members.has(node.id)) return this.#refuse(`slot owner ${node.id} unknown`);
        }
        this.#target = map;
        this.#moved.clear();
        this.#finishIfDone();
        break;
      }
      case "moved": {
        if (this.#target === null) return this.#refuse("no migration is running");
        let count = 0;
        for (const slot of command.slots) {
          if (this.#owners[slot] !== command.from || this.importerOf(slot) === "") continue;
          this.#owners[slot] = this.#target.ownerOf(slot);
          this.#moved.add(slot);
          count++;
        }
        if (count === 0) return this.#refuse(`no slot of ${command.from} was moving`);
        this.#finishIfDone();
        break;
      }
      default:
        return this.#refuse("unknown command");
    }
    this.#epoch++;
    this.onChange?.(this);
    return { applied: true, epoch: this.#epoch };
  }

  /** Ends the migration once every slot has its planned owner. */
  #finishIfDone(): void {
    const target = this.#target!;
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      if (this.#owners[slot] !== target.ownerOf(slot)) return;
    }
    this.#target = null;
    this.#moved.clear();
    this.#setSlots(target);
  }

  #refuse(reason: string): ApplyResult {
    return { applied: false, epoch: this.#epoch, reason };
  }

  #setSlots(map: SlotMap): void {
    this.#slots = map;
    const owners = new Array<string>(SLOT_COUNT);
    for (let slot = 0; slot < SLOT_COUNT; slot++) owners[slot] = map.ownerOf(slot);
    this.#owners = owners;
  }

  /** The whole state, for a Raft snapshot. */
  snapshot(): Uint8Array {
    return encode({
      epoch: this.#epoch,
      members: this.members(),
      slots: this.#slots?.encode() ?? null,
      target: this.#target?.encode() ?? null,
      moved: [...this.#moved],
    });
  }

  /** Replaces the state with a snapshot's. */
  restore(data: Uint8Array): void {
    this.#members.clear();
    this.#epoch = 0;
    this.#slots = null;
    this.#target = null;
    this.#moved = new Set();
    this.#owners = new Array(SLOT_COUNT).fill("");
    if (data.length > 0) {
      const s = decode(data) as {
        epoch: number;
        members: ClusterMember[];
        slots: Uint8Array | null;
        target?: Uint8Array | null;
        moved?: number[];
      };
      this.#epoch = s.epoch;
      for (const m of s.members) this.#members.set(m.id, m);
      if (s.slots !== null) this.#setSlots(SlotMap.decode(s.slots));
      if (s.target) {
        this.#target = SlotMap.decode(s.target);
        this.#moved = new Set(s.moved ?? []);
        for (const slot of this.#moved) this.#owners[slot] = this.#target.ownerOf(slot);
      }
    }
    this.onChange?.(this);
  }
}

/**
 * The slot map a leader proposes for `owners` (the members that should hold slots), moving the
 * fewest slots from `previous`: on a join only to the new node, on a removal only the removed
 * node's slots. Null when nothing would change.
 */
export function planSlots(
  state: ClusterState,
  owners: readonly ClusterMember[],
): Uint8Array | null {
  if (owners.length === 0) return null;
  const nodes = owners.map((m) => ({ id: m.id, weight: m.weight, zone: m.zone || undefined }));
  const previous = state.slotMap ?? undefined;
  const map = SlotMap.build(nodes, {
    replicationFactor: 1,
    previous,
    epoch: state.epoch + 1,
  });
  if (previous !== undefined && SlotMap.diff(previous, map).length === 0) {
    const same = previous.nodes.length === map.nodes.length &&
      previous.nodes.every((n, i) => n.id === map.nodes[i].id && n.weight === map.nodes[i].weight);
    if (same) return null;
  }
  return map.encode();
}
