/**
 * The order of a sorted set: (score, member) pairs in leaves of at most `LEAF_MAX` sorted entries,
 * the last pair of every leaf in flat arrays for a binary search over leaves, and a Fenwick tree
 * over leaf sizes for ranks. Insert, delete, rank and the element at a rank are O(log n); walking
 * a range is O(1) a step.
 *
 * It replaces a skip list (Redis's `zskiplist`): in JavaScript every skip-list step is a hop to
 * another object and its arrays, three cache misses at 100k members, where a search here reads a
 * few contiguous arrays. ZADD with 100k random members cost 15-21 us against redis-server's 3-5 us.
 *
 * @module
 */

/** A leaf splits above this many entries. */
const LEAF_MAX = 128;
/** A leaf this small merges with a neighbour when they fit in one. */
const LEAF_MIN = 32;

class Leaf {
  scores: number[] = [];
  members: string[] = [];
}

/** Whether (scoreA, memberA) sorts before (scoreB, memberB). Members compare as bytes. */
function before(scoreA: number, memberA: string, scoreB: number, memberB: string): boolean {
  return scoreA < scoreB || (scoreA === scoreB && memberA < memberB);
}

/** A test that holds for a prefix of the order and fails for the rest. */
export type PrefixTest = (score: number, member: string) => boolean;

/** (score, member) pairs in order, with ranks. */
export class SortedList {
  private leaves: Leaf[] = [];
  /** The last score and member of each leaf. */
  private maxScores: number[] = [];
  private maxMembers: string[] = [];
  /** Fenwick tree over leaf sizes, 1-based. */
  private sizes: number[] = [0];
  /** Pairs in the list. */
  length = 0;

  /** Inserts a pair that is not in the list. */
  insert(score: number, member: string): void {
    if (this.leaves.length === 0) {
      const leaf = new Leaf();
      leaf.scores.push(score);
      leaf.members.push(member);
      this.leaves.push(leaf);
      this.maxScores.push(score);
      this.maxMembers.push(member);
      this.length = 1;
      this.rebuildSizes();
      return;
    }
    let li = this.leafFor(score, member);
    if (li === this.leaves.length) li--; // after every pair: the last leaf
    const leaf = this.leaves[li];
    const index = indexIn(leaf, score, member);
    leaf.scores.splice(index, 0, score);
    leaf.members.splice(index, 0, member);
    if (index === leaf.scores.length - 1) {
      this.maxScores[li] = score;
      this.maxMembers[li] = member;
    }
    this.length++;
    if (leaf.scores.length > LEAF_MAX) this.split(li);
    else this.addSize(li, 1);
  }

  /** Removes the pair; false when it is not in the list. */
  delete(score: number, member: string): boolean {
    const li = this.leafFor(score, member);
    if (li === this.leaves.length) return false;
    const leaf = this.leaves[li];
    const index = indexIn(leaf, score, member);
    if (leaf.scores[index] !== score || leaf.members[index] !== member) return false;
    leaf.scores.splice(index, 1);
    leaf.members.splice(index, 1);
    this.length--;
    const count = leaf.scores.length;
    if (count === 0) {
      this.removeLeaf(li);
      return true;
    }
    if (index === count) {
      this.maxScores[li] = leaf.scores[count - 1];
      this.maxMembers[li] = leaf.members[count - 1];
    }
    if (count < LEAF_MIN && this.mergeAround(li)) return true;
    this.addSize(li, -1);
    return true;
  }

  /** 1-based rank of the pair, or 0 when it is not in the list. */
  rank(score: number, member: string): number {
    const li = this.leafFor(score, member);
    if (li === this.leaves.length) return 0;
    const leaf = this.leaves[li];
    const index = indexIn(leaf, score, member);
    if (leaf.scores[index] !== score || leaf.members[index] !== member) return 0;
    return this.sizeBefore(li) + index + 1;
  }

  /** How many leading pairs pass `test` (which holds for a prefix of the order). */
  countWhile(test: PrefixTest): number {
    const { maxScores, maxMembers } = this;
    // The first leaf whose last pair fails the test holds the boundary.
    let low = 0;
    let high = this.leaves.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (test(maxScores[mid], maxMembers[mid])) low = mid + 1;
      else high = mid;
    }
    if (low === this.leaves.length) return this.length;
    const leaf = this.leaves[low];
    let first = 0;
    let last = leaf.scores.length;
    while (first < last) {
      const mid = (first + last) >>> 1;
      if (test(leaf.scores[mid], leaf.members[mid])) first = mid + 1;
      else last = mid;
    }
    return this.sizeBefore(low) + first;
  }

  /** The member at 0-based `position`, or undefined. */
  memberAt(position: number): string | undefined {
    if (position < 0 || position >= this.length) return undefined;
    const [li, index] = this.locate(position);
    return this.leaves[li].members[index];
  }

  /** The score at 0-based `position`, or undefined. */
  scoreAt(position: number): number | undefined {
    if (position < 0 || position >= this.length) return undefined;
    const [li, index] = this.locate(position);
    return this.leaves[li].scores[index];
  }

  /**
   * Calls `visit` with the pairs from 0-based `position` on, forwards (or backwards with
   * `reverse`), until it returns false or the list ends.
   */
  walk(
    position: number,
    reverse: boolean,
    visit: (score: number, member: string) => boolean,
  ): void {
    if (position < 0 || position >= this.length) return;
    let [li, index] = this.locate(position);
    const leaves = this.leaves;
    while (li >= 0 && li < leaves.length) {
      const { scores, members } = leaves[li];
      if (reverse) {
        for (; index >= 0; index--) if (!visit(scores[index], members[index])) return;
        li--;
        if (li >= 0) index = leaves[li].scores.length - 1;
      } else {
        for (; index < scores.length; index++) if (!visit(scores[index], members[index])) return;
        li++;
        index = 0;
      }
    }
  }

  /** Index of the first leaf whose last pair is not before (score, member); `leaves.length` if none. */
  private leafFor(score: number, member: string): number {
    const { maxScores, maxMembers } = this;
    let low = 0;
    let high = this.leaves.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (before(maxScores[mid], maxMembers[mid], score, member)) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  private split(li: number): void {
    const leaf = this.leaves[li];
    const half = leaf.scores.length >>> 1;
    const right = new Leaf();
    right.scores = leaf.scores.splice(half);
    right.members = leaf.members.splice(half);
    this.leaves.splice(li + 1, 0, right);
    this.maxScores.splice(li, 1, leaf.scores[half - 1], right.scores[right.scores.length - 1]);
    this.maxMembers.splice(
      li,
      1,
      leaf.members[half - 1],
      right.members[right.members.length - 1],
    );
    this.rebuildSizes();
  }

  /** Merges leaf `li` into a neighbour when both fit in one leaf; true when it did. */
  private mergeAround(li: number): boolean {
    const leaves = this.leaves;
    const count = leaves[li].scores.length;
    let into = -1;
    if (li > 0 && leaves[li - 1].scores.length + count <= LEAF_MAX) into = li - 1;
    else if (li + 1 < leaves.length && leaves[li + 1].scores.length + count <= LEAF_MAX) {
      into = li;
    }
    if (into === -1) return false;
    const left = leaves[into];
    const right = leaves[into + 1];
    left.scores.push(...right.scores);
    left.members.push(...right.members);
    this.maxScores[into] = this.maxScores[into + 1];
    this.maxMembers[into] = this.maxMembers[into + 1];
    this.removeLeaf(into + 1);
    return true;
  }

  private removeLeaf(li: number): void {
    this.leaves.splice(li, 1);
    this.maxScores.splice(li, 1);
    this.maxMembers.splice(li, 1);
    this.rebuildSizes();
  }

  private rebuildSizes(): void {
    const count = this.leaves.length;
    const sizes = new Array<number>(count + 1).fill(0);
    for (let i = 1; i <= count; i++) {
      sizes[i] += this.leaves[i - 1].scores.length;
      const parent = i + (i & -i);
      if (parent <= count) sizes[parent] += sizes[i];
    }
    this.sizes = sizes;
  }

  private addSize(li: number, delta: number): void {
    const sizes = this.sizes;
    for (let i = li + 1; i < sizes.length; i += i & -i) sizes[i] += delta;
  }

  /** Pairs in the leaves before leaf `li`. */
  private sizeBefore(li: number): number {
    let total = 0;
    for (let i = li; i > 0; i -= i & -i) total += this.sizes[i];
    return total;
  }

  /** The leaf and index of 0-based `position` (which must be in the list). */
  private locate(position: number): [number, number] {
    const sizes = this.sizes;
    const count = sizes.length - 1;
    let li = 0;
    let rest = position;
    let step = 1;
    while (step * 2 <= count) step *= 2;
    for (; step > 0; step >>= 1) {
      const next = li + step;
      if (next <= count && sizes[next] <= rest) {
        li = next;
        rest -= sizes[next];
      }
    }
    return [li, rest];
  }
}

/** Index in `leaf` of the first pair not before (score, member). */
function indexIn(leaf: Leaf, score: number, member: string): number {
  const { scores, members } = leaf;
  let low = 0;
  let high = scores.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (before(scores[mid], members[mid], score, member)) low = mid + 1;
    else high = mid;
  }
  return low;
}
