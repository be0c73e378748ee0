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
    // A committed entry that does not parse is refused, never thrown: a throwing apply would stop
    // the Raft driver on every node alike.
    const malformed = checkCommand(command);
    if (malformed !== null) return this.#refuse(`malformed command: ${malformed}`);
    let map: SlotMap | null = null;
    if (command.op === "slots" || command.op === "plan") {
      try {
        map = SlotMap.decode(command.map);
      } catch (error) {
        return this.#refuse(`malformed slot map: ${(error as Error).message}`);
      }
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
        if (this.#target?.nodes.some((n) => n.id === command.id)) {
          return this.#refuse(`${command.id} is taking slots in a migration`);
        }
        if (!this.#members.delete(command.id)) return this.#refuse(`no member ${command.id}`);
        break;
      }
      case "slots": {
        if (command.expectEpoch !== this.#epoch) {
          return this.#refuse(`stale plan (epoch ${command.expectEpoch}, now ${this.#epoch})`);
        }
        for (const node of map!.nodes) {
          if (!this.#members.has(node.id)) return this.#refuse(`slot owner ${node.id} unknown`);
        }
        this.#target = null;
        this.#moved.clear();
        this.#setSlots(map!);
        break;
      }
      case "plan": {
        if (command.expectEpoch !== this.#epoch) {
          return this.#refuse(`stale plan (epoch ${command.expectEpoch}, now ${this.#epoch})`);
        }
        if (this.#target !== null) return this.#refuse("a migration is running");
        if (this.#slots === null) return this.#refuse("no slot map to migrate from");
        for (const node of map!.nodes) {
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

  /**
   * Replaces the state with a snapshot's. A snapshot that does not parse throws before anything
   * changes (Raft checks its bytes; this is a bug or a foreign file, not a state to guess at).
   */
  restore(data: Uint8Array): void {
    let epoch = 0;
    let members: ClusterMember[] = [];
    let slots: SlotMap | null = null;
    let target: SlotMap | null = null;
    let moved: number[] = [];
    if (data.length > 0) {
      try {
        const s = decode(data) as {
          epoch: number;
          members: ClusterMember[];
          slots: Uint8Array | null;
          target?: Uint8Array | null;
          moved?: number[];
        };
        if (!Number.isSafeInteger(s.epoch) || s.epoch < 0) throw new Error("bad epoch");
        if (!Array.isArray(s.members)) throw new Error("no members");
        for (const m of s.members) {
          const bad = checkMember(m);
          if (bad !== null) throw new Error(bad);
        }
        epoch = s.epoch;
        members = s.members;
        slots = s.slots === null ? null : SlotMap.decode(s.slots);
        if (s.target) {
          target = SlotMap.decode(s.target);
          moved = (s.moved ?? []).filter((slot) => isSlot(slot));
        }
      } catch (error) {
        throw new Error(`cluster state snapshot is corrupt: ${(error as Error).message}`);
      }
    }
    this.#members.clear();
    this.#epoch = epoch;
    this.#slots = null;
    this.#target = target;
    this.#moved = new Set(moved);
    this.#owners = new Array(SLOT_COUNT).fill("");
    for (const m of members) this.#members.set(m.id, m);
    if (slots !== null) this.#setSlots(slots);
    if (target !== null) {
      for (const slot of this.#moved) {
        this.#owners[slot] = target.ownerOf(slot);
      }
    }
    this.onChange?.(this);
  }
}

const isSlot = (slot: unknown): boolean =>
  Number.isInteger(slot) && (slot as number) >= 0 && (slot as number) < SLOT_COUNT;

const isPort = (port: unknown): boolean =>
  Number.isInteger(port) && (port as number) >= 0 && (port as number) <= 65535;

/** Why `m` is not a well-formed member, or null. */
function checkMember(m: unknown): string | null {
  if (typeof m !== "object" || m === null) return "member is not a record";
  const r = m as Record<string, unknown>;
  if (typeof r.id !== "string" || r.id === "") return "member id is not a string";
  if (!Number.isInteger(r.raftId) || (r.raftId as number) <= 0) return "bad raft id";
  if (typeof r.host !== "string") return "member host is not a string";
  for (const field of ["port", "httpPort", "busPort", "gossipPort"]) {
    if (!isPort(r[field])) return `member ${field} is not a port`;
  }
  if (typeof r.zone !== "string") return "member zone is not a string";
  if (typeof r.weight !== "number" || !(r.weight > 0)) return "member weight is not positive";
  return null;
}

/** Why a decoded command is not one of {@linkcode ClusterCommand}'s shapes, or null. */
function checkCommand(c: unknown): string | null {
  if (typeof c !== "object" || c === null) return "not a record";
  const r = c as Record<string, unknown>;
  switch (r.op) {
    case "member":
      return checkMember(r.member);
    case "forget":
      return typeof r.id === "string" ? null : "id is not a string";
    case "slots":
    case "plan":
      if (!Number.isSafeInteger(r.expectEpoch)) return "expectEpoch is not an integer";
      return r.map instanceof Uint8Array ? null : "map is not bytes";
    case "moved":
      if (typeof r.from !== "string") return "from is not a string";
      if (!Array.isArray(r.slots) || !r.slots.every(isSlot)) return "slots are not slot numbers";
      return null;
    default:
      return `unknown op ${JSON.stringify(r.op)}`;
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
