/**
 * The sorted set value: a `SortedList` ordered by (score, member) for ranges and O(log n) ranks,
 * plus a `DenseMap` from member to score for O(1) ZSCORE and a cursor that survives changes
 * (ZSCAN).
 *
 * @module
 */
import { DenseMap } from "./_dense.ts";
import { SortedList } from "./sorted_list.ts";
import { formatDouble } from "../resp/writer.ts";
import { encodingLimits } from "./encoding.ts";
import { type Container, ELEMENT_OVERHEAD_BYTES, registerContainer } from "./values.ts";

/** Score (8 bytes) plus its slots in the sorted list's leaf arrays, roughly. */
const SCORE_OVERHEAD_BYTES = 8 + 2 * ELEMENT_OVERHEAD_BYTES;

/** A member with its score, as ranges return them. */
export interface ZItem {
  member: string;
  score: number;
}

export class ZSetValue implements Container {
  readonly type = "zset";
  sizeBytes = 0;
  /** See {@linkcode Container.accountedBytes}. */
  accountedBytes = 0;
  readonly scores: DenseMap<number> = new DenseMap();
  readonly list: SortedList = new SortedList();
  private large = false;

  get length(): number {
    return this.scores.size;
  }

  score(member: string): number | undefined {
    return this.scores.get(member);
  }

  /** Sets a member's score; true when the member is new. */
  set(member: string, score: number): boolean {
    // Redis's listpack keeps a score of -0 as the integer 0; only a skiplist keeps its sign.
    if (score === 0 && !this.large) {
      const size = this.scores.size + (this.scores.has(member) ? 0 : 1);
      if (
        size <= encodingLimits.zsetMaxListpackEntries &&
        member.length <= encodingLimits.zsetMaxListpackValue
      ) score = 0;
    }
    const old = this.scores.set(member, score);
    if (old !== undefined) {
      if (old !== score) {
        this.list.delete(old, member);
        this.list.insert(score, member);
      }
      return false;
    }
    this.list.insert(score, member);
    this.sizeBytes += member.length + SCORE_OVERHEAD_BYTES;
    if (
      this.scores.size > encodingLimits.zsetMaxListpackEntries ||
      member.length > encodingLimits.zsetMaxListpackValue
    ) {
      this.large = true;
    }
    return true;
  }

  /** Removes a member; true when it existed. */
  delete(member: string): boolean {
    const score = this.scores.delete(member);
    if (score === undefined) return false;
    this.list.delete(score, member);
    this.sizeBytes -= member.length + SCORE_OVERHEAD_BYTES;
    return true;
  }

  /** 0-based rank of a member in ascending order, or -1. */
  rank(member: string): number {
    const score = this.scores.get(member);
    return score === undefined ? -1 : this.list.rank(score, member) - 1;
  }

  clone(): ZSetValue {
    const copy = new ZSetValue();
    const { keys, values } = this.scores;
    for (let i = 0; i < keys.length; i++) copy.set(keys[i], values[i]);
    copy.large = this.large;
    return copy;
  }

  dump(): string[] {
    const elements: string[] = [];
    this.list.walk(0, false, (score, member) => {
      elements.push(member, formatDouble(score));
      return true;
    });
    return elements;
  }

  encoding(): string {
    return this.large ? "skiplist" : "listpack";
  }
}

/** Reads a score as `formatDouble` wrote it (`inf` and `-inf` included). */
function parseScore(text: string): number {
  if (text === "inf") return Infinity;
  if (text === "-inf") return -Infinity;
  return Number(text);
}

registerContainer("zset", (elements) => {
  const zset = new ZSetValue();
  for (let i = 0; i + 1 < elements.length; i += 2) {
    zset.set(elements[i], parseScore(elements[i + 1]));
  }
  return zset;
});
