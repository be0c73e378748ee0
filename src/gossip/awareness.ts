/**
 * Lifeguard's local health awareness: a score that rises when this node misses nacks it expected
 * or has to refute a suspicion about itself (signs that it, not its peers, is slow) and falls with
 * every successful probe. Timeouts are stretched by `score + 1`, up to `maxMultiplier` times.
 *
 * @module
 */
import { assert } from "../_assert.ts";

/**
 * A bounded health score in `[0, maxMultiplier - 1]`.
 *
 * @example
 * ```ts
 * import { Awareness } from "./awareness.ts";
 * const awareness = new Awareness(8);
 * awareness.applyDelta(2);
 * awareness.scaleTimeoutMs(500); // 1500
 * ```
 */
export class Awareness {
  readonly maxMultiplier: number;
  #score = 0;

  constructor(maxMultiplier: number) {
    assert(Number.isInteger(maxMultiplier), "awareness multiplier must be an integer");
    assert(maxMultiplier >= 1, "awareness multiplier must be at least 1");
    this.maxMultiplier = maxMultiplier;
  }

  /** Moves the score by `delta`, clamped to `[0, maxMultiplier - 1]`. */
  applyDelta(delta: number): void {
    this.#score = Math.min(this.maxMultiplier - 1, Math.max(0, this.#score + delta));
  }

  /** 0 is healthy; higher is worse. */
  healthScore(): number {
    return this.#score;
  }

  /** `timeoutMs x (score + 1)`. */
  scaleTimeoutMs(timeoutMs: number): number {
    return timeoutMs * (this.#score + 1);
  }
}
