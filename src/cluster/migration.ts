/**
 * Slot migration: while the configuration plans a slot's move, its owner streams the slot's keys
 * (values and TTLs) to the new owner over the cluster bus, in batches, several slots at once.
 * Taking a batch removes its keys from the owner in the same step (as MIGRATE does), so a key
 * lives on exactly one node at any time: still here, in flight, or there. Commands for keys no
 * longer here go to the new owner (`-ASK`, or forwarded as after ASKING); while a slot's batch is
 * unacknowledged, they get `-TRYAGAIN`. An emptied slot is reported in a `moved` change, which
 * flips its owner in the configuration.
 *
 * A batch stays in memory until acknowledged and is sent again when its link drops it or no
 * acknowledgement comes in time; the new owner applies a batch by replacing the keys it names, so
 * a resent batch changes nothing.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { decode as decodeCbor } from "cborg";
import type { Bus } from "../bus/bus.ts";
import { BusFrameType } from "../bus/frame_types.ts";
import type { TimerHandle, Timers } from "../runtime/types.ts";

/**
 * One key on the move: `[db, key, expiresAtMs, type, elements]` with `type` "string" (one
 * element, the value) or a container's type and its elements; key and elements as bytes.
 */
export type MigratingKey = [number, Uint8Array, number, string, Uint8Array[]];

/** `[id, fromRaftId, slot, keys]`. */
type BatchWire = [number, number, number, MigratingKey[]];
/** `[id]`. */
type AckWire = [number];

/** What migration needs from the node's stores. */
export interface MigrationStores {
  /** Removes up to `count` keys of `slot` (logging the removals) and returns them. */
  take(slot: number, count: number): MigratingKey[];
  /** Writes keys received (replacing any of the same name, logging the writes). */
  put(keys: MigratingKey[]): void;
  /** While true the stores must not change (a script is suspended mid-way): nothing is taken,
   * and a batch received is left unacknowledged, for its sender to send again. */
  held?(): boolean;
}

/** Counters for INFO, /metrics and /api/cluster. */
export interface MigrationStats {
  keysSent: number;
  keysReceived: number;
  batchesSent: number;
  batchesResent: number;
  slotsDone: number;
}

interface Batch {
  slot: number;
  to: number;
  payload: MigratingKey[];
  timer: TimerHandle;
}

/** Keys per batch: large enough to keep the link busy, small enough for a quick round trip. */
const BATCH_KEYS = 2000;
/** Slots streamed at once. */
const PARALLEL_SLOTS = 64;
/** An unacknowledged batch is sent again after this long. */
const ACK_TIMEOUT_MS = 5000;

/** Streams slots out, and takes slots in. */
export class Migrator {
  readonly stats: MigrationStats = {
    keysSent: 0,
    keysReceived: 0,
    batchesSent: 0,
    batchesResent: 0,
    slotsDone: 0,
  };
  /** Batches awaiting their acknowledgement, by id. */
  readonly #inFlight = new Map<number, Batch>();
  /** Slots with a batch in flight. */
  readonly #sending = new Set<number>();
  /** Slots being streamed (at most PARALLEL_SLOTS), and where. */
  readonly #active = new Map<number, number>();
  /** Emptied slots not yet reported. */
  readonly #done = new Set<number>();
  #nextId = 1;
  /** The slots to move, as the last step saw them. */
  #moving: ReadonlyMap<number, number> = new Map();

  constructor(
    private readonly bus: Bus,
    private readonly selfRaftId: number,
    private readonly stores: MigrationStores,
    private readonly timers: Timers,
    /** Reports emptied slots (a `moved` proposal); resolves once it is settled either way. */
    private readonly report: (slots: number[]) => Promise<void>,
  ) {
    bus.register<BatchWire>(BusFrameType.migrateBatch, {
      decode: decodeBatch,
      receive: ([id, from, , keys]) => {
        if (this.stores.held?.() === true) return;
        this.stores.put(keys);
        this.stats.keysReceived += keys.length;
        this.bus.send(from, BusFrameType.migrateAck, [id]);
      },
    });
    bus.register<AckWire>(BusFrameType.migrateAck, {
      decode: decodeAck,
      receive: ([id]) => this.#acked(id),
      undelivered: () => {},
    });
  }

  /** Whether a batch of `slot` is unacknowledged. */
  sending(slot: number): boolean {
    return this.#sending.has(slot);
  }

  /** Slots this node is streaming now. */
  get activeSlots(): number {
    return this.#active.size;
  }

  #reporting = false;

  /**
   * Moves the work on: `moving` are the slots this node must hand over, with the Raft id of each
   * slot's new owner. Called periodically and after every acknowledgement.
   */
  step(moving: ReadonlyMap<number, number>): void {
    if (this.stores.held?.() === true) return;
    this.#moving = moving;
    for (const slot of this.#active.keys()) {
      if (!moving.has(slot)) this.#active.delete(slot);
    }
    this.#fill();
    for (const [slot, to] of this.#active) {
      if (!this.#sending.has(slot)) this.#sendNext(slot, to);
    }
    if (this.#done.size > 0 && !this.#reporting) {
      const slots = [...this.#done];
      this.#reporting = true;
      this.report(slots).finally(() => {
        this.#reporting = false;
        // A refused or lost report is made again while the slots are still planned to move.
        for (const slot of slots) this.#done.delete(slot);
      });
    }
  }

  /** Starts streaming more of the slots to move, up to PARALLEL_SLOTS at once. */
  #fill(): void {
    if (this.#active.size >= PARALLEL_SLOTS) return;
    for (const [slot, to] of this.#moving) {
      if (this.#active.size >= PARALLEL_SLOTS) break;
      if (this.#done.has(slot) || this.#active.has(slot)) continue;
      this.#active.set(slot, to);
      this.#sendNext(slot, to);
    }
  }

  #sendNext(slot: number, to: number): void {
    // Empty slots end at once and make room for the next (most slots fit one batch).
    let keys = this.stores.take(slot, BATCH_KEYS);
    while (keys.length === 0) {
      this.#active.delete(slot);
      this.#done.add(slot);
      this.stats.slotsDone++;
      const next = this.#nextMoving();
      if (next === undefined) return;
      [slot, to] = next;
      this.#active.set(slot, to);
      keys = this.stores.take(slot, BATCH_KEYS);
    }
    const id = this.#nextId++;
    const batch: Batch = {
      slot,
      to,
      payload: keys,
      timer: this.timers.setTimeout(() => this.#resend(id), ACK_TIMEOUT_MS),
    };
    this.#inFlight.set(id, batch);
    this.#sending.add(slot);
    this.stats.keysSent += keys.length;
    this.stats.batchesSent++;
    this.bus.send(to, BusFrameType.migrateBatch, [id, this.selfRaftId, slot, keys]);
  }

  #nextMoving(): [number, number] | undefined {
    for (const [slot, to] of this.#moving) {
      if (!this.#done.has(slot) && !this.#active.has(slot)) return [slot, to];
    }
    return undefined;
  }

  #resend(id: number): void {
    const batch = this.#inFlight.get(id);
    if (batch === undefined) return;
    this.stats.batchesResent++;
    batch.timer = this.timers.setTimeout(() => this.#resend(id), ACK_TIMEOUT_MS);
    this.bus.send(batch.to, BusFrameType.migrateBatch, [
      id,
      this.selfRaftId,
      batch.slot,
      batch.payload,
    ]);
  }

  #acked(id: number): void {
    const batch = this.#inFlight.get(id);
    if (batch === undefined) return;
    this.#inFlight.delete(id);
    this.timers.clearTimeout(batch.timer);
    this.#sending.delete(batch.slot);
    const to = this.#active.get(batch.slot);
    if (to !== undefined) this.#sendNext(batch.slot, to);
  }

  close(): void {
    for (const batch of this.#inFlight.values()) this.timers.clearTimeout(batch.timer);
    this.bus.unregister([BusFrameType.migrateBatch, BusFrameType.migrateAck]);
  }
}

/** Encodes keys of a store for a batch. */
export function migratingKey(
  db: number,
  key: string,
  expiresAtMs: number,
  type: string,
  elements: readonly string[],
): MigratingKey {
  return [
    db,
    Buffer.from(key, "latin1"),
    expiresAtMs,
    type,
    elements.map((e) => Buffer.from(e, "latin1")),
  ];
}

/** The text (one character per byte) of a key's bytes. */
export function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
}

function decodeBatch(payload: Uint8Array): BatchWire {
  const value = decodeCbor(payload);
  if (
    !Array.isArray(value) || value.length !== 4 || !Number.isSafeInteger(value[0]) ||
    !Number.isSafeInteger(value[1]) || !Number.isSafeInteger(value[2]) || !Array.isArray(value[3])
  ) {
    throw new TypeError("malformed migration batch");
  }
  for (const key of value[3]) {
    if (
      !Array.isArray(key) || key.length !== 5 || !Number.isSafeInteger(key[0]) ||
      !(key[1] instanceof Uint8Array) || typeof key[2] !== "number" || typeof key[3] !== "string" ||
      !Array.isArray(key[4]) || !key[4].every((e: unknown) => e instanceof Uint8Array)
    ) {
      throw new TypeError("malformed key in a migration batch");
    }
  }
  return value as BatchWire;
}

function decodeAck(payload: Uint8Array): AckWire {
  const value = decodeCbor(payload);
  if (!Array.isArray(value) || value.length !== 1 || !Number.isSafeInteger(value[0])) {
    throw new TypeError("malformed migration acknowledgement");
  }
  return value as AckWire;
}
