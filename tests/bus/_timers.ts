/** Timers that fire only when a test moves the clock: reconnects happen when the test says. */
import type { BusTimers } from "../../src/bus/mod.ts";

interface Pending {
  id: number;
  dueMs: number;
  delayMs: number;
  callback: () => void;
}

export class FakeTimers implements BusTimers {
  nowMs = 0;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  now(): number {
    return this.nowMs;
  }

  setTimeout(callback: () => void, delayMs: number): unknown {
    const id = this.nextId++;
    this.pending.set(id, { id, dueMs: this.nowMs + delayMs, delayMs, callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }

  /** The delays of the timers that have not fired, in the order they were set. */
  delays(): number[] {
    return [...this.pending.values()].map((p) => p.delayMs);
  }

  /** Moves the clock by `ms`, firing every timer that falls due, earliest first. */
  advance(ms: number): void {
    const until = this.nowMs + ms;
    for (;;) {
      const due = [...this.pending.values()].filter((p) => p.dueMs <= until)
        .sort((a, b) => a.dueMs - b.dueMs || a.id - b.id)[0];
      if (!due) break;
      this.pending.delete(due.id);
      this.nowMs = due.dueMs;
      due.callback();
    }
    this.nowMs = until;
  }
}

/** Waits until `condition` holds, polling; fails after `timeoutMs`. */
export function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const poll = () => {
      if (condition()) resolve();
      else if (Date.now() > deadline) reject(new Error("timed out"));
      else setTimeout(poll, 2);
    };
    poll();
  });
}
