/**
 * Quorum arithmetic for majority and joint configurations: which index a quorum has acknowledged,
 * and whether an election is won, lost or still open.
 *
 * @module
 */
import type { NodeId } from "./types.ts";

/** The outcome of counting votes so far. */
export type VoteResult = "pending" | "won" | "lost";

/**
 * The largest value that a majority of `voters` has reached, `lookup` giving each voter's value
 * (missing voters count as 0). An empty configuration returns `Infinity`, so that a joint
 * configuration with an empty half is decided by the other half alone.
 *
 * @example
 * ```ts
 * import { majorityIndex } from "./quorum.ts";
 * const match = new Map([[1, 5], [2, 3], [3, 9]]);
 * majorityIndex([1, 2, 3], (id) => match.get(id)); // 5
 * ```
 */
export function majorityIndex(
  voters: readonly NodeId[],
  lookup: (id: NodeId) => number | undefined,
): number {
  if (voters.length === 0) return Infinity;
  const values = voters.map((id) => lookup(id) ?? 0).sort((a, b) => b - a);
  // Sorted descending, the value at position quorum-1 is reached by at least a quorum.
  return values[Math.floor(voters.length / 2)];
}

/**
 * The election result in one majority configuration, `votes` holding granted (true) and
 * rejected (false) answers.
 *
 * @example
 * ```ts
 * import { majorityVote } from "./quorum.ts";
 * majorityVote([1, 2, 3], new Map([[1, true], [2, true]])); // "won"
 * ```
 */
export function majorityVote(
  voters: readonly NodeId[],
  votes: ReadonlyMap<NodeId, boolean>,
): VoteResult {
  if (voters.length === 0) return "won";
  let granted = 0;
  let missing = 0;
  for (const id of voters) {
    const vote = votes.get(id);
    if (vote === undefined) missing++;
    else if (vote) granted++;
  }
  const quorum = Math.floor(voters.length / 2) + 1;
  if (granted >= quorum) return "won";
  if (granted + missing >= quorum) return "pending";
  return "lost";
}

/**
 * Voters of a possibly joint configuration: `incoming` always, `outgoing` only while joint.
 * Every decision needs a majority of both.
 *
 * @example
 * ```ts
 * import { JointConfig } from "./quorum.ts";
 * const config = new JointConfig([1, 2, 3], [1, 2, 4]);
 * config.vote(new Map([[1, true], [2, true]])); // "won"
 * ```
 */
export class JointConfig {
  constructor(readonly incoming: readonly NodeId[], readonly outgoing: readonly NodeId[] = []) {}

  /** Every voter of either half, once. */
  ids(): NodeId[] {
    return [...new Set([...this.incoming, ...this.outgoing])];
  }

  isVoter(id: NodeId): boolean {
    return this.incoming.includes(id) || this.outgoing.includes(id);
  }

  isJoint(): boolean {
    return this.outgoing.length > 0;
  }

  /** The largest value reached by a quorum of both halves. */
  committedIndex(lookup: (id: NodeId) => number | undefined): number {
    const value = Math.min(
      majorityIndex(this.incoming, lookup),
      majorityIndex(this.outgoing, lookup),
    );
    return value === Infinity ? 0 : value;
  }

  vote(votes: ReadonlyMap<NodeId, boolean>): VoteResult {
    const a = majorityVote(this.incoming, votes);
    const b = majorityVote(this.outgoing, votes);
    if (a === "won" && b === "won") return "won";
    if (a === "lost" || b === "lost") return "lost";
    return "pending";
  }
}
