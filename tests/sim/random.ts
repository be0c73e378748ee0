/**
 * The simulator's one source of chance: mulberry32 (`tests/_mulberry32.ts`) with the helpers a
 * simulation draws with. Every random decision of a run comes from one seed, so a run replays.
 */
import { mulberry32 } from "../_mulberry32.ts";

export class Random {
  readonly next: () => number;

  constructor(seed: number) {
    this.next = mulberry32(seed);
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** An integer in [lo, hi]. */
  between(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return p > 0 && this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** A new, independent stream: what a host or a node draws from, so that adding draws in one
   * place does not shift every other draw of the run. */
  fork(): Random {
    return new Random(Math.floor(this.next() * 2 ** 32));
  }
}
