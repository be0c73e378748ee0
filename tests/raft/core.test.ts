import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  applyConfChangeTo,
  decodeConfChange,
  encodeConfChange,
} from "../../src/raft/confchange.ts";
import { RaftLog } from "../../src/raft/log.ts";
import { MemoryStorage } from "../../src/raft/memory_storage.ts";
import { RaftNode, validateConfig } from "../../src/raft/node.ts";
import { Inflights, Progress } from "../../src/raft/progress.ts";
import { JointConfig, majorityIndex } from "../../src/raft/quorum.ts";
import {
  emptyConfState,
  type Entry,
  type Message,
  ProposalDroppedError,
} from "../../src/raft/types.ts";
import { runScript, Simulation } from "./_sim.ts";

function entry(index: number, term: number): Entry {
  return { index, term, type: "normal", data: new Uint8Array([index]) };
}

/** Runs a node's Ready loop against its MemoryStorage; returns the messages it sent. */
function drain(node: RaftNode, storage: MemoryStorage): Message[] {
  const sent: Message[] = [];
  while (node.hasReady()) {
    const rd = node.ready();
    if (rd.snapshot) storage.applySnapshot(rd.snapshot);
    storage.append(rd.entries);
    if (rd.hardState) storage.setHardState(rd.hardState);
    sent.push(...rd.messages);
    node.advance();
  }
  return sent;
}

describe("raft config validation", () => {
  it("fills in the documented defaults", () => {
    const config = validateConfig({ id: 1, storage: new MemoryStorage() });
    assert.equal(config.heartbeatTicks, 5);
    assert.equal(config.electionTicks, 15);
    assert.equal(config.electionTicksMax, 30);
    assert.equal(config.preVote, true);
    assert.equal(config.checkQuorum, true);
  });

  it("rejects nonsense with a sentence that says why", () => {
    const storage = new MemoryStorage();
    assert.throws(
      () => validateConfig({ id: 1, storage, heartbeatTicks: 10, electionTicks: 10 }),
      /'electionTicks' must be greater than 'heartbeatTicks' \(10\): current value is 10/,
    );
    assert.throws(
      () => validateConfig({ id: 0, storage }),
      /'id' must be a positive integer: current value is 0/,
    );
    assert.throws(
      () => validateConfig({ id: 1, storage, readOnly: "lease", checkQuorum: false }),
      /"lease" needs 'checkQuorum'/,
    );
    assert.throws(
      () => validateConfig({ id: 1, storage, leaseClockDriftTicks: 15 }),
      /'leaseClockDriftTicks' must be an integer in \[0, electionTicks\)/,
    );
    assert.throws(
      () => validateConfig({ id: 1, storage, maxInflightCount: 0 }),
      /'maxInflightCount'/,
    );
  });
});

describe("raft quorum", () => {
  it("finds the index a majority has reached", () => {
    const match = new Map([[1, 9], [2, 4], [3, 6], [4, 2], [5, 7]]);
    assert.equal(majorityIndex([1, 2, 3, 4, 5], (id) => match.get(id)), 6);
    assert.equal(majorityIndex([1, 2], (id) => match.get(id)), 4);
  });

  it("needs both halves of a joint configuration", () => {
    const joint = new JointConfig([1, 2, 3], [3, 4, 5]);
    assert.equal(joint.vote(new Map([[1, true], [2, true]])), "pending");
    assert.equal(joint.vote(new Map([[1, true], [2, true], [3, true]])), "pending");
    assert.equal(joint.vote(new Map([[1, true], [3, true], [4, true]])), "won");
    assert.equal(joint.vote(new Map([[4, false], [5, false]])), "lost");
    const match = new Map([[1, 10], [2, 10], [3, 5], [4, 1], [5, 1]]);
    assert.equal(joint.committedIndex((id) => match.get(id)), 1);
  });
});

describe("raft flow control", () => {
  it("bounds messages and bytes in flight", () => {
    const byCount = new Inflights(3, 1 << 20);
    byCount.add(1, 10);
    byCount.add(2, 10);
    byCount.add(3, 10);
    assert.ok(byCount.full());
    byCount.freeLE(2);
    assert.equal(byCount.count(), 1);
    const byBytes = new Inflights(100, 1000);
    byBytes.add(1, 600);
    assert.ok(!byBytes.full());
    byBytes.add(2, 600);
    assert.ok(byBytes.full());
  });

  it("ignores stale rejections and probes after a real one", () => {
    const pr = new Progress({ next: 11, maxInflightCount: 4, maxInflightBytes: 1 << 20 });
    pr.maybeUpdate(5);
    pr.becomeReplicate();
    assert.equal(pr.maybeDecrTo(4, 4), false, "at or below match: stale");
    assert.equal(pr.maybeDecrTo(8, 3), true);
    assert.equal(pr.next, 6);
  });

  it("keeps at most maxInflightCount appends out to a silent follower", () => {
    const storage = MemoryStorage.bootstrap([1, 2]);
    const node = new RaftNode({ id: 1, storage, maxInflightCount: 4, preVote: false });
    node.campaign();
    drain(node, storage);
    node.step({ ...emptyVoteResp(2, 1, node.currentTerm) });
    drain(node, storage);
    // The follower acknowledges the first entry, so the leader switches to replicate mode.
    node.step({ ...emptyMessage("MsgAppResp", 2, 1, node.currentTerm), index: 2 });
    drain(node, storage);
    let appends = 0;
    for (let i = 0; i < 20; i++) {
      node.propose(new Uint8Array([i]));
      appends += drain(node, storage).filter((m) =>
        m.type === "MsgApp" && m.entries.length > 0
      ).length;
    }
    assert.equal(appends, 4);
  });
});

function emptyMessage(type: Message["type"], from: number, to: number, term: number): Message {
  return {
    type,
    from,
    to,
    term,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
  };
}

function emptyVoteResp(from: number, to: number, term: number): Message {
  return emptyMessage("MsgVoteResp", from, to, term);
}

describe("raft log", () => {
  it("finds where logs may match a whole term at a time (fast backtracking)", () => {
    const storage = new MemoryStorage();
    storage.append([entry(1, 1), entry(2, 1), entry(3, 2), entry(4, 2), entry(5, 4), entry(6, 4)]);
    const log = new RaftLog(storage, 1 << 20);
    assert.equal(log.findConflictByTerm(6, 3), 4);
    assert.equal(log.findConflictByTerm(6, 1), 2);
    assert.equal(log.findConflictByTerm(6, 4), 6);
  });

  it("truncates a conflicting suffix, never a committed entry", () => {
    const storage = new MemoryStorage();
    storage.append([entry(1, 1), entry(2, 1), entry(3, 1)]);
    const log = new RaftLog(storage, 1 << 20);
    log.commitTo(1);
    assert.equal(log.maybeAppend(1, 1, 1, [entry(2, 2)]), 2);
    assert.equal(log.lastIndex(), 2);
    assert.equal(log.term(2), 2);
    assert.equal(
      log.maybeAppend(2, 1, 1, [entry(3, 3)]),
      undefined,
      "mismatch at the previous entry",
    );
    log.commitTo(2);
    assert.throws(() => log.append([entry(2, 5)]), /cannot truncate committed entry/);
  });
});

describe("raft membership changes", () => {
  const three = { ...emptyConfState(), voters: [1, 2, 3] };

  it("applies one voter change directly and two through joint consensus", () => {
    assert.deepEqual(
      applyConfChangeTo(three, { changes: [{ type: "addVoter", nodeId: 4 }] }).voters,
      [1, 2, 3, 4],
    );
    const joint = applyConfChangeTo(three, {
      changes: [{ type: "addVoter", nodeId: 4 }, { type: "removeNode", nodeId: 1 }],
    });
    assert.deepEqual(joint.voters, [2, 3, 4]);
    assert.deepEqual(joint.votersOutgoing, [1, 2, 3]);
    assert.equal(joint.autoLeave, true);
    const left = applyConfChangeTo(joint, { changes: [] });
    assert.deepEqual(left.votersOutgoing, []);
  });

  it("demotes a voter to learner only when the joint configuration is left", () => {
    const joint = applyConfChangeTo(three, {
      changes: [{ type: "addLearner", nodeId: 3 }, { type: "addVoter", nodeId: 4 }],
    });
    assert.deepEqual(joint.learnersNext, [3]);
    assert.deepEqual(applyConfChangeTo(joint, { changes: [] }).learners, [3]);
  });

  it("refuses changes that cannot be made", () => {
    const joint = applyConfChangeTo(three, {
      changes: [{ type: "addVoter", nodeId: 4 }],
      transition: "explicit",
    });
    assert.throws(
      () => applyConfChangeTo(joint, { changes: [{ type: "addVoter", nodeId: 5 }] }),
      /leave it first/,
    );
    assert.throws(() => applyConfChangeTo(three, { changes: [] }), /not joint/);
    assert.throws(
      () =>
        applyConfChangeTo({ ...emptyConfState(), voters: [1] }, {
          changes: [{ type: "removeNode", nodeId: 1 }],
        }),
      /remove every voter/,
    );
  });

  it("round-trips through the entry encoding", () => {
    const change = {
      changes: [{ type: "removeNode" as const, nodeId: 2 }],
      transition: "joint" as const,
    };
    assert.deepEqual(decodeConfChange(encodeConfChange(change)), change);
    assert.throws(() => decodeConfChange(new Uint8Array([0xff])), TypeError);
  });
});

describe("raft node", () => {
  it("a single voter elects itself and commits proposals", () => {
    const storage = MemoryStorage.bootstrap([1]);
    const node = new RaftNode({ id: 1, storage });
    node.campaign();
    drain(node, storage);
    assert.equal(node.role, "leader");
    node.propose(new Uint8Array([42]));
    const committed: Entry[] = [];
    while (node.hasReady()) {
      const rd = node.ready();
      storage.append(rd.entries);
      if (rd.hardState) storage.setHardState(rd.hardState);
      committed.push(...rd.committedEntries);
      node.advance();
    }
    assert.deepEqual(committed.at(-1)?.data, new Uint8Array([42]));
  });

  it("drops a proposal when no leader is known, naming the reason", () => {
    const node = new RaftNode({ id: 2, storage: MemoryStorage.bootstrap([1, 2, 3]) });
    assert.throws(() => node.propose(new Uint8Array([1])), (error: unknown) => {
      assert.ok(error instanceof ProposalDroppedError);
      assert.equal(error.leaderId, 0);
      assert.match(error.message, /no leader known in term 1/);
      return true;
    });
  });

  it("refuses local messages from the network and a second ready() before advance()", () => {
    const storage = MemoryStorage.bootstrap([1]);
    const node = new RaftNode({ id: 1, storage });
    assert.throws(() => node.step(emptyMessage("MsgHup", 2, 1, 0)), /local message/);
    node.campaign();
    node.ready();
    assert.throws(() => node.ready(), /ready\(\) called twice without advance\(\)/);
  });

  it("answers reads at once under a valid lease, after a heartbeat round otherwise", () => {
    for (const readOnly of ["lease", "safe"] as const) {
      const sim = new Simulation({ seed: 1, spareCount: 0, readOnly, clockDriftRate: 0 });
      sim.faulty = false;
      runScript(sim, "tick 40\nstabilize");
      const leader = sim.leader()!;
      runScript(sim, "tick 5");
      const raft = sim.raft(leader);
      raft.readIndex(new TextEncoder().encode("r"));
      const rd = raft.ready();
      const heartbeats = rd.messages.filter((m) => m.type === "MsgHeartbeat").length;
      raft.advance();
      if (readOnly === "lease") {
        assert.equal(rd.readStates.length, 1, "served from the lease");
        assert.equal(heartbeats, 0);
      } else {
        assert.equal(rd.readStates.length, 0, "waits for a quorum of heartbeat answers");
        assert.equal(heartbeats, 2);
      }
    }
  });

  it("sends a large snapshot in bounded chunks", () => {
    const sim = new Simulation({
      seed: 3,
      clockDriftRate: 0,
      voterCount: 3,
      spareCount: 1,
      snapshotEveryEntries: 5,
      snapshotChunkBytes: 32,
    });
    sim.faulty = false;
    let chunks = 0;
    runScript(sim, "campaign 1\nstabilize\ncrash 3");
    for (let i = 0; i < 30; i++) sim.write(1, `key${i}`, "x".repeat(20));
    runScript(sim, "stabilize\ntick 5\nrestart 3");
    const raft3 = sim.raft(3);
    const step = raft3.step.bind(raft3);
    raft3.step = (m: Message) => {
      if (m.type === "MsgSnap") {
        chunks++;
        assert.ok(m.snapshot!.data.length <= 32);
      }
      step(m);
    };
    runScript(sim, "tick 20");
    assert.ok(chunks > 5, `only ${chunks} chunks`);
    assert.equal(sim.node(3).kv.data.get("key29"), "x".repeat(20));
  });
});

describe("raft log backtracking between nodes", () => {
  it("finds the match point a term at a time, not an entry at a time", () => {
    // The follower holds 40 entries of term 2 that the new leader (term 3) does not have.
    const sim = new Simulation({
      seed: 5,
      spareCount: 0,
      clockDriftRate: 0,
      raft: { preVote: false },
    });
    sim.faulty = false;
    runScript(sim, "campaign 1\nstabilize\nisolate 1");
    for (let i = 0; i < 40; i++) sim.write(1, "x", `lost${i}`);
    runScript(sim, "stabilize\ncrash 1\nheal\ntick 40");
    const leader = sim.leader()!;
    assert.notEqual(leader, 1);
    for (let i = 0; i < 50; i++) sim.write(leader, "x", `kept${i}`);
    // A new leader starts probing node 1 from its own last index, far beyond the divergence.
    const other = leader === 2 ? 3 : 2;
    runScript(
      sim,
      `stabilize\ntick 5\ntransfer ${leader} ${other}\nstabilize\nexpect leader ${other}\nrestart 1`,
    );
    let rejections = 0;
    const raft1 = sim.raft(1);
    const step = raft1.step.bind(raft1);
    raft1.step = (m: Message) => {
      if (m.type === "MsgApp" && !raft1.log.matchTerm(m.index, m.logTerm)) rejections++;
      step(m);
    };
    runScript(sim, "tick 10\nexpect value 1 x kept49");
    assert.ok(
      rejections <= 2,
      `${rejections} rejected appends for 40 divergent entries under 50 newer ones`,
    );
  });
});
