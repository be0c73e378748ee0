/**
 * User events: a Lamport clock orders them across the cluster and a ring of recent events, indexed
 * by Lamport time, drops the copies that gossip delivers more than once.
 *
 * @module
 */
import { assert } from "../_assert.ts";

/**
 * A Lamport clock.
 *
 * @example
 * ```ts
 * import { LamportClock } from "./user_events.ts";
 * const clock = new LamportClock();
 * clock.witness(41);
 * clock.next(); // 42
 * ```
 */
export class LamportClock {
  #time = 0;

  /** The current time (the next event's). */
  get time(): number {
    return this.#time;
  }

  /** Returns the current time for a new event and moves past it. */
  next(): number {
    return this.#time++;
  }

  /** Moves past a time seen from another member. */
  witness(ltime: number): void {
    if (ltime >= this.#time) this.#time = ltime + 1;
  }
}

/** Outcome of offering a received event to the de-duplication buffer. */
export type UserEventVerdict = "new" | "duplicate" | "too-old";

/**
 * Remembers the events of the last `size` Lamport times.
 *
 * @example
 * ```ts
 * import { UserEventBuffer } from "./user_events.ts";
 * const buffer = new UserEventBuffer(64);
 * const event = { ltime: 3, name: "deploy", payload: new Uint8Array([1]), originId: "n1" };
 * buffer.offer({ ...event, currentLtime: 4 }); // "new"
 * buffer.offer({ ...event, currentLtime: 4 }); // "duplicate"
 * buffer.recent(4, 64).length; // 1
 * ```
 */
export class UserEventBuffer {
  readonly size: number;
  #slots: ({ ltime: number; events: Map<string, RecentUserEvent> } | undefined)[];

  constructor(size: number) {
    assert(Number.isInteger(size) && size > 0, "a user event buffer has a positive size");
    this.size = size;
    this.#slots = new Array(size);
  }

  /** Records the event unless it was seen already or is older than the buffer remembers. */
  offer(event: RecentUserEvent & { currentLtime: number }): UserEventVerdict {
    if (event.ltime + this.size <= event.currentLtime) return "too-old";
    const key = eventKey(event.name, event.payload);
    const index = event.ltime % this.size;
    let slot = this.#slots[index];
    if (slot !== undefined && slot.ltime === event.ltime) {
      if (slot.events.has(key)) return "duplicate";
    } else {
      slot = { ltime: event.ltime, events: new Map() };
      this.#slots[index] = slot;
    }
    const { ltime, name, payload, originId } = event;
    slot.events.set(key, { ltime, name, payload, originId });
    return "new";
  }

  /**
   * The remembered events of the last `limit` Lamport times before `currentLtime`, oldest first.
   * Push-pull carries them, so an event that gossip's bounded retransmissions missed a member
   * still reaches it at the next state exchange.
   */
  recent(currentLtime: number, limit: number): RecentUserEvent[] {
    const out: RecentUserEvent[] = [];
    const from = Math.max(0, currentLtime - Math.min(limit, this.size));
    for (let ltime = from; ltime < currentLtime; ltime++) {
      const slot = this.#slots[ltime % this.size];
      if (slot !== undefined && slot.ltime === ltime) out.push(...slot.events.values());
    }
    return out;
  }
}

/** A user event as the buffer remembers it. */
export interface RecentUserEvent {
  ltime: number;
  name: string;
  payload: Uint8Array;
  originId: string;
}

function eventKey(name: string, payload: Uint8Array): string {
  let key = name + "\u0000";
  for (let i = 0; i < payload.length; i++) key += String.fromCharCode(payload[i]);
  return key;
}
