/**
 * Scripted scenarios, each a short transcript of steps and expectations. The simulation checks
 * election safety, log matching, leader completeness and state machine safety after every step.
 */
import { describe, it } from "node:test";
import { runScript, Simulation } from "./_sim.ts";

/** A quiet network (fixed 1 ms delay, no loss) for scripts. */
function cluster(voterCount: number, raft: Record<string, unknown> = {}): Simulation {
  const sim = new Simulation({ seed: 1, voterCount, spareCount: 0, clockDriftRate: 0, raft });
  sim.faulty = false;
  return sim;
}

const PAPER = { preVote: false, checkQuorum: false };

describe("raft scenarios", () => {
  it("elects a leader and commits a proposal on every node (section 5.2, 5.3)", () => {
    runScript(
      cluster(3),
      `
      campaign 1
      stabilize
      expect leader 1
      expect term 1 2
      propose 1 hello
      stabilize
      tick 5          # a heartbeat carries the new commit index to the followers
      stabilize
      expect commit 1 3
      expect commit 3 3
      expect value 2 x hello
      expect value 3 x hello
      `,
    );
  });

  it("Figure 8: a leader never commits an entry from an earlier term by counting replicas", () => {
    runScript(
      cluster(5, PAPER),
      `
      campaign 1
      stabilize
      expect leader 1
      expect term 1 2
      isolate 1 2
      propose 1 a        # index 3, term 2: reaches S2 only
      stabilize
      expect log-term 2 3 2
      crash 1
      heal
      isolate 2
      block MsgApp 5 *   # S5 wins term 3 with S3 and S4; its entry at index 3 stays local
      campaign 5
      stabilize
      expect leader 5
      expect log-term 5 3 3
      crash 5
      unblock
      heal
      isolate 4
      restart 1
      block MsgApp 1 3
      campaign 1         # term 3: S3 already voted for S5
      stabilize
      campaign 1         # term 4: S1, S2, S3
      stabilize
      expect leader 1
      expect term 1 4
      unblock
      tick-only 5        # heartbeat; S1 then probes S3 and sends it index 3 (term 2) alone
      deliver
      deliver
      deliver
      deliver
      deliver
      deliver
      expect log-term 3 3 2
      expect last-index 3 3
      # Index 3 is now on S1, S2 and S3, a majority, but it is from term 2: not committed.
      expect commit 1 2
      crash 1
      drop
      heal
      restart 5
      campaign 5         # term 4: S2 and S3 voted for S1
      stabilize
      campaign 5         # term 5: S3 and S4 vote for S5, whose last term (3) is newer
      stabilize
      expect leader 5
      expect term 5 5
      # S5 overwrites index 3: safe only because it was never committed.
      expect log-term 3 3 3
      `,
    );
  });

  it("Figure 8 (e): once an entry of the current term is on a majority, earlier ones commit", () => {
    runScript(
      cluster(5, PAPER),
      `
      campaign 1
      stabilize
      isolate 1 2
      propose 1 a
      stabilize
      heal
      tick 5
      stabilize
      expect commit 1 3
      crash 1
      restart 1
      tick 30
      stabilize
      tick 30
      stabilize
      expect value 5 x a
      `,
    );
  });

  it("pre-vote: a partitioned node rejoins without raising the term (section 9.6)", () => {
    runScript(
      cluster(3),
      `
      campaign 1
      stabilize
      expect term 1 2
      isolate 3
      tick 100
      stabilize
      expect term 3 2
      heal
      tick 5
      stabilize
      expect leader 1
      expect term 1 2
      `,
    );
  });

  it("check-quorum: a leader cut off from its quorum steps down", () => {
    runScript(
      cluster(3),
      `
      campaign 1
      stabilize
      isolate 1
      tick 14
      expect role 1 leader
      tick 16            # the second check finds no follower active since the first
      expect role 1 follower
      `,
    );
  });

  it("a node that hears from its leader ignores a disruptive vote request (leader lease)", () => {
    runScript(
      cluster(3, { preVote: false }),
      `
      campaign 1
      stabilize
      tick 5
      stabilize
      campaign 3       # without pre-vote 3 raises its term, but 1 and 2 ignore it
      stabilize
      expect leader 1
      expect term 1 2
      expect role 3 candidate
      `,
    );
  });

  it("transfers leadership with TimeoutNow once the transferee has caught up", () => {
    runScript(
      cluster(3),
      `
      campaign 1
      stabilize
      propose 1 v1
      stabilize
      transfer 1 2
      stabilize
      expect leader 2
      expect term 2 3
      expect role 1 follower
      propose 2 v2
      stabilize
      tick 5
      stabilize
      expect value 1 x v2
      `,
    );
  });

  it("adds a voter one at a time, then removes the leader, which steps down cleanly", () => {
    runScript(
      cluster(3),
      `
      campaign 1
      stabilize
      add-voter 4
      stabilize
      tick 5
      stabilize
      expect voters 4 1,2,3,4
      remove 1
      stabilize
      expect voters 2 2,3,4
      tick 40
      stabilize
      tick 10
      stabilize
      expect role 1 follower
      `,
    );
  });

  it("joint consensus swaps two voters and leaves the joint configuration by itself", () => {
    runScript(
      cluster(3),
      `
      campaign 1
      stabilize
      add-voter 4 5
      stabilize
      tick 5
      stabilize
      tick 5
      stabilize
      expect voters 1 1,2,3,4,5
      expect voters 5 1,2,3,4,5
      `,
    );
  });

  it("a learner catches up and is promoted", () => {
    runScript(
      cluster(3),
      `
      campaign 1
      stabilize
      propose 1 before
      stabilize
      add-learner 4
      stabilize
      tick 5
      stabilize
      expect value 4 x before
      expect role 4 follower
      add-voter 4
      stabilize
      tick 5
      stabilize
      expect voters 4 1,2,3,4
      `,
    );
  });
});
