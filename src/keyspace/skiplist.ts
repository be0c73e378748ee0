/**
 * A skip list with span counts, as Redis's `zskiplist`: elements ordered by (score, member),
 * with O(log n) insert, delete, rank of an element and element at a rank.
 *
 * @module
 */

import { xorshift32 } from "../_random.ts";

/** Redis's ZSKIPLIST_MAXLEVEL and ZSKIPLIST_P. */
const MAX_LEVEL = 32;
const P = 0.25;

/** An element. Links and spans sit in two flat arrays per node (not an object per level), so
 * a search step reads one array slot instead of chasing a level object. */
export class SkipNode {
  backward: SkipNode | null = null;
  /** The next node at each level. */
  readonly forward: (SkipNode | null)[];
  /** How many elements each forward link skips over (its rank distance). */
  readonly span: number[];
  constructor(readonly member: string, public score: number, level: number) {
    this.forward = new Array<SkipNode | null>(level).fill(null);
    this.span = new Array<number>(level).fill(0);
  }
}

/** Whether (scoreA, memberA) sorts before (scoreB, memberB). Members compare as bytes. */
function before(scoreA: number, memberA: string, scoreB: number, memberB: string): boolean {
  return scoreA < scoreB || (scoreA === scoreB && memberA < memberB);
}

export class SkipList {
  readonly header = new SkipNode("", 0, MAX_LEVEL);
  tail: SkipNode | null = null;
  length = 0;
  private level = 1;
  private readonly random: () => number = xorshift32(0x9e3779b9);

  /** Redis's level draw: each level more with probability P, up to MAX_LEVEL. */
  private randomLevel(): number {
    let level = 1;
    while (this.random() < P && level < MAX_LEVEL) level++;
    return level;
  }

  /** Inserts an element that is not in the list. */
  insert(score: number, member: string): SkipNode {
    const update = new Array<SkipNode>(MAX_LEVEL);
    const rank = new Array<number>(MAX_LEVEL);
    let x = this.header;
    for (let i = this.level - 1; i >= 0; i--) {
      rank[i] = i === this.level - 1 ? 0 : rank[i + 1];
      let next = x.forward[i];
      while (next !== null && before(next.score, next.member, score, member)) {
        rank[i] += x.span[i];
        x = next;
        next = x.forward[i];
      }
      update[i] = x;
    }
    const level = this.randomLevel();
    if (level > this.level) {
      for (let i = this.level; i < level; i++) {
        rank[i] = 0;
        update[i] = this.header;
        update[i].span[i] = this.length;
      }
      this.level = level;
    }
    const node = new SkipNode(member, score, level);
    for (let i = 0; i < level; i++) {
      node.forward[i] = update[i].forward[i];
      update[i].forward[i] = node;
      node.span[i] = update[i].span[i] - (rank[0] - rank[i]);
      update[i].span[i] = rank[0] - rank[i] + 1;
    }
    for (let i = level; i < this.level; i++) update[i].span[i]++;
    node.backward = update[0] === this.header ? null : update[0];
    if (node.forward[0] !== null) node.forward[0].backward = node;
    else this.tail = node;
    this.length++;
    return node;
  }

  /** Removes the element (score, member); false when it is not in the list. */
  delete(score: number, member: string): boolean {
    const update = new Array<SkipNode>(MAX_LEVEL);
    let x = this.header;
    for (let i = this.level - 1; i >= 0; i--) {
      let next = x.forward[i];
      while (next !== null && before(next.score, next.member, score, member)) {
        x = next;
        next = x.forward[i];
      }
      update[i] = x;
    }
    const node = x.forward[0];
    if (node === null || node.score !== score || node.member !== member) return false;
    this.unlink(node, update);
    return true;
  }

  private unlink(node: SkipNode, update: SkipNode[]): void {
    for (let i = 0; i < this.level; i++) {
      if (update[i].forward[i] === node) {
        update[i].span[i] += node.span[i] - 1;
        update[i].forward[i] = node.forward[i];
      } else {
        update[i].span[i]--;
      }
    }
    if (node.forward[0] !== null) node.forward[0].backward = node.backward;
    else this.tail = node.backward;
    while (this.level > 1 && this.header.forward[this.level - 1] === null) this.level--;
    this.length--;
  }

  /** 1-based rank of (score, member), or 0 when it is not in the list. */
  rank(score: number, member: string): number {
    let rank = 0;
    let x = this.header;
    for (let i = this.level - 1; i >= 0; i--) {
      let next = x.forward[i];
      while (
        next !== null &&
        (before(next.score, next.member, score, member) ||
          (next.score === score && next.member === member))
      ) {
        rank += x.span[i];
        x = next;
        next = x.forward[i];
      }
      if (x !== this.header && x.member === member && x.score === score) return rank;
    }
    return 0;
  }

  /** The node at 1-based `rank`, or null. */
  byRank(rank: number): SkipNode | null {
    if (rank < 1 || rank > this.length) return null;
    let traversed = 0;
    let x = this.header;
    for (let i = this.level - 1; i >= 0; i--) {
      while (x.forward[i] !== null && traversed + x.span[i] <= rank) {
        traversed += x.span[i];
        x = x.forward[i]!;
      }
      if (traversed === rank) return x;
    }
    return null;
  }

  /**
   * The first node for which `below(node)` is false, where `below` is monotonic over the order
   * (true for a prefix of the list); null when there is none.
   */
  firstWhere(below: (node: SkipNode) => boolean): SkipNode | null {
    let x = this.header;
    for (let i = this.level - 1; i >= 0; i--) {
      while (x.forward[i] !== null && below(x.forward[i]!)) x = x.forward[i]!;
    }
    return x.forward[0];
  }

  /** The last node for which `within(node)` holds, where `within` holds for a prefix; or null. */
  lastWhere(within: (node: SkipNode) => boolean): SkipNode | null {
    let x = this.header;
    for (let i = this.level - 1; i >= 0; i--) {
      while (x.forward[i] !== null && within(x.forward[i]!)) x = x.forward[i]!;
    }
    return x === this.header ? null : x;
  }
}
