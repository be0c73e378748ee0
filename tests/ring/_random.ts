import process from "node:process";
import type { RingNode } from "../../src/ring/mod.ts";
import { mulberry32 } from "../_mulberry32.ts";

/** A seeded PRNG (mulberry32): the same seed gives the same sequence on every runtime. */
export class Random {
  /** A float in [0, 1). */
  readonly next: () => number;

  constructor(seed: number) {
    this.next = mulberry32(seed);
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)];
  }

  shuffle<T>(items: readonly T[]): T[] {
    const copy = [...items];
    for (let i = copy.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      [copy[i], copy[j]] = [copy[j], copy[i]];
    }
    return copy;
  }
}

/**
 * Runs `body` once per seed, `count` seeds from `firstSeed`, or only the seed in `RING_SEED`
 * when it is set (to replay a failure). A failure names its seed.
 */
export function forEachSeed(
  count: number,
  firstSeed: number,
  body: (random: Random, seed: number) => void,
): void {
  const replay = process.env.RING_SEED;
  const seeds = replay === undefined
    ? Array.from({ length: count }, (_, i) => firstSeed + i)
    : [Number(replay)];
  for (const seed of seeds) {
    try {
      body(new Random(seed), seed);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      console.error(`failing seed=${seed} (replay with RING_SEED=${seed})`);
      throw new Error(`seed=${seed}: ${message}`, { cause: error });
    }
  }
}

/** `count` nodes with random, unique ids (mixed lengths and characters), and optional weights. */
export function randomNodes(
  random: Random,
  count: number,
  options: { weighted?: boolean; zoneCount?: number; prefix?: string } = {},
): RingNode[] {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-_.:é漢";
  const ids = new Set<string>();
  while (ids.size < count) {
    let id = options.prefix ?? "";
    const length = random.int(1, 12);
    for (let i = 0; i < length; i++) id += random.pick([...alphabet]);
    ids.add(id);
  }
  return [...ids].map((id) => ({
    id,
    ...(options.weighted ? { weight: random.pick([0.5, 1, 1, 1.5, 2, 3]) } : {}),
    ...(options.zoneCount ? { zone: `zone-${random.int(1, options.zoneCount)}` } : {}),
  }));
}
