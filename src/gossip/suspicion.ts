/**
 * One suspicion timer with Lifeguard's independent confirmations, as a deadline (no real timer):
 * it starts at `maxMs` (or `minMs` when no confirmations are expected) and each confirmation from a
 * member not seen before moves the deadline closer, down to `minMs` after `k` of them.
 *
 * @module
 */
import { remainingSuspicionTimeMs } from "./timing.ts";

/**
 * A suspicion of one member, raised by `from` at `startMs`.
 *
 * @example
 * ```ts
 * import { Suspicion } from "./suspicion.ts";
 * const s = new Suspicion({ from: "a", k: 3, minMs: 500, maxMs: 2000, startMs: 0 });
 * s.confirm("b", 25); // true
 * s.deadlineMs; // 1250
 * ```
 */
export class Suspicion {
  readonly k: number;
  readonly minMs: number;
  readonly maxMs: number;
  #startMs: number;
  #deadlineMs: number;
  #confirmations = new Set<string>();
  #count = 0;

  constructor(options: { from: string; k: number; minMs: number; maxMs: number; startMs: number }) {
    this.k = options.k;
    this.minMs = options.minMs;
    this.maxMs = options.maxMs;
    this.#startMs = options.startMs;
    this.#confirmations.add(options.from);
    this.#deadlineMs = options.startMs + (options.k < 1 ? options.minMs : options.maxMs);
  }

  /** When the member is to be declared dead, unless it refutes first. */
  get deadlineMs(): number {
    return this.#deadlineMs;
  }

  /** Independent confirmations counted so far (at most `k`). */
  get confirmations(): number {
    return this.#count;
  }

  /**
   * Counts a confirmation from `from`. Returns true when it was new information (a member not
   * heard from before, while fewer than `k` have confirmed), which is then worth re-broadcasting.
   */
  confirm(from: string, nowMs: number): boolean {
    if (this.#count >= this.k) return false;
    if (this.#confirmations.has(from)) return false;
    this.#confirmations.add(from);
    this.#count++;
    const elapsedMs = nowMs - this.#startMs;
    const remainingMs = remainingSuspicionTimeMs({
      confirmations: this.#count,
      k: this.k,
      elapsedMs,
      minMs: this.minMs,
      maxMs: this.maxMs,
    });
    this.#deadlineMs = nowMs + Math.max(0, remainingMs);
    return true;
  }

  /** Moves the timer later by `gapMs`: time this node spent stalled does not count against peers. */
  postpone(gapMs: number): void {
    this.#startMs += gapMs;
    this.#deadlineMs += gapMs;
  }
}
