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
 * buffer.offer({ ltime: 3, name: "deploy", payload: new Uint8Array([1]), currentLtime: 4 }); // "new"
 * buffer.offer({ ltime: 3, name: "deploy", payload: new Uint8Array([1]), currentLtime: 4 }); // "duplicate"
 * ```
 */
export class UserEventBuffer {
  readonly size: number;
  #slots: ({ ltime: number; keys: Set<string> } | undefined)[];

  constructor(size: number) {
    assert(Number.isInteger(size) && size > 0, "a user event buffer has a positive size");
    this.size = size;
    this.#slots = new Array(size);
  }

  /** Records the event unless it was seen already or is older than the buffer remembers. */
  offer(
    event: { ltime: number; name: string; payload: Uint8Array; currentLtime: number },
  ): UserEventVerdict {
    if (event.ltime + this.size <= event.currentLtime) return "too-old";
    const key = eventKey(event.name, event.payload);
    const index = event.ltime % this.size;
    let slot = this.#slots[index];
    if (slot !== undefined && slot.ltime === event.ltime) {
      if (slot.keys.has(key)) return "duplicate";
    } else {
      slot = { ltime: event.ltime, keys: new Set() };
      this.#slots[index] = slot;
    }
    slot.keys.add(key);
    return "new";
  }
}

function eventKey(name: string, payload: Uint8Array): string {
  let key = name + "\u0000";
  for (let i = 0; i < payload.length; i++) key += String.fromCharCode(payload[i]);
  return key;
}
