/** The replicated cluster configuration: members, slot map and epoch, applied as Raft commands. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { encode } from "cborg";
import {
  type ClusterCommand,
  type ClusterMember,
  ClusterState,
  encodeCommand,
  planSlots,
  raftIdOf,
} from "../../src/cluster/state.ts";
import { SLOT_COUNT } from "../../src/ring/constants.ts";
import { mulberry32 } from "../_mulberry32.ts";

/** The member `node<index>`, with the ports a node on 7000 + index would have. */
function member(index: number, overrides: Partial<ClusterMember> = {}): ClusterMember {
  const id = `node${index}`;
  const port = 7000 + index;
  return {
    id,
    raftId: raftIdOf(id),
    host: "127.0.0.1",
    port,
    httpPort: 8000 + index,
    busPort: port + 10000,
    gossipPort: port + 20000,
    zone: "",
    weight: 1,
    ...overrides,
  };
}

function apply(state: ClusterState, command: ClusterCommand) {
  return state.apply(encodeCommand(command));
}

/** Records `members`, then applies the slot map planSlots gives them. */
function stateWith(members: readonly ClusterMember[]): ClusterState {
  const state = new ClusterState();
  for (const m of members) assert.equal(apply(state, { op: "member", member: m }).applied, true);
  assignSlots(state, members);
  return state;
}

/** Plans and applies the slot map of `owners`; fails when nothing was planned or it was refused. */
function assignSlots(state: ClusterState, owners: readonly ClusterMember[]): void {
  const map = planSlots(state, owners);
  assert.notEqual(map, null, "planSlots planned no change");
  const result = apply(state, { op: "slots", expectEpoch: state.epoch, map: map! });
  assert.equal(result.applied, true, result.reason);
}

function ownersOf(state: ClusterState): string[] {
  return Array.from({ length: SLOT_COUNT }, (_, slot) => state.ownerOf(slot));
}

describe("ClusterState: members", () => {
  it("records each member and bumps the epoch once per applied command", () => {
    const state = new ClusterState();
    assert.equal(state.epoch, 0);
    assert.deepEqual(state.members(), []);
    const changes: number[] = [];
    state.onChange = (s) => changes.push(s.epoch);

    assert.deepEqual(apply(state, { op: "member", member: member(2) }), {
      applied: true,
      epoch: 1,
    });
    assert.deepEqual(apply(state, { op: "member", member: member(1) }), {
      applied: true,
      epoch: 2,
    });
    assert.deepEqual(state.members(), [member(1), member(2)], "sorted by id");
    assert.deepEqual(state.member("node2"), member(2));
    assert.equal(state.member("node3"), undefined);
    assert.deepEqual(changes, [1, 2]);
  });

  it("replaces a member's addresses when it is recorded again", () => {
    const state = new ClusterState();
    apply(state, { op: "member", member: member(1) });
    const moved = member(1, { host: "10.0.0.1", port: 7100 });
    assert.equal(apply(state, { op: "member", member: moved }).applied, true);
    assert.equal(state.epoch, 2);
    assert.deepEqual(state.members(), [moved]);
  });

  it("refuses a member whose raft id collides with another's, leaving the epoch", () => {
    const state = new ClusterState();
    apply(state, { op: "member", member: member(1) });
    const changes: number[] = [];
    state.onChange = (s) => changes.push(s.epoch);
    const clash = member(2, { raftId: raftIdOf("node1") });
    const result = apply(state, { op: "member", member: clash });
    assert.equal(result.applied, false);
    assert.equal(result.epoch, 1);
    assert.equal(state.epoch, 1);
    assert.match(result.reason ?? "", /raft id of node2 collides with node1/);
    assert.deepEqual(state.members(), [member(1)]);
    assert.deepEqual(changes, [], "a refused command does not call onChange");
  });

  it("forgets a member that owns no slot and refuses one that owns slots", () => {
    const members = [member(1), member(2), member(3)];
    const state = stateWith(members);
    apply(state, { op: "member", member: member(4) });
    const epoch = state.epoch;

    const refused = apply(state, { op: "forget", id: "node2" });
    assert.equal(refused.applied, false);
    assert.equal(refused.epoch, epoch);
    assert.match(refused.reason ?? "", /node2 owns slots/);
    assert.ok(state.member("node2") !== undefined);

    assert.deepEqual(apply(state, { op: "forget", id: "node4" }), {
      applied: true,
      epoch: epoch + 1,
    });
    assert.equal(state.member("node4"), undefined);
  });

  it("refuses to forget a member it does not know", () => {
    const state = new ClusterState();
    const result = apply(state, { op: "forget", id: "ghost" });
    assert.equal(result.applied, false);
    assert.equal(result.epoch, 0);
    assert.match(result.reason ?? "", /no member ghost/);
  });
});

describe("ClusterState: slot map", () => {
  it("owns no slot before the first map", () => {
    const state = new ClusterState();
    assert.equal(state.slotMap, null);
    assert.equal(state.ownerOf(0), "");
    assert.equal(state.ownerOf(SLOT_COUNT - 1), "");
    assert.deepEqual(state.rangesOf("node1"), []);
  });

  it("gives every one of the 16384 slots exactly one of 3 members, as ranges that partition them", () => {
    const members = [member(1), member(2), member(3)];
    const state = stateWith(members);
    const ids = new Set(members.map((m) => m.id));
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      assert.ok(ids.has(state.ownerOf(slot)), `slot ${slot} is owned by '${state.ownerOf(slot)}'`);
    }
    const owners = new Set(ownersOf(state));
    assert.deepEqual([...owners].sort(), [...ids].sort(), "every member owns some slot");

    const covered = new Array<string | undefined>(SLOT_COUNT);
    for (const m of members) {
      for (const [first, last] of state.rangesOf(m.id)) {
        assert.ok(0 <= first && first <= last && last < SLOT_COUNT, `range ${first}-${last}`);
        for (let slot = first; slot <= last; slot++) {
          assert.equal(covered[slot], undefined, `slot ${slot} is in two ranges`);
          assert.equal(state.ownerOf(slot), m.id);
          covered[slot] = m.id;
        }
      }
    }
    assert.equal(covered.filter((id) => id !== undefined).length, SLOT_COUNT);
  });

  it("merges adjacent slots into maximal ranges", () => {
    const state = stateWith([member(1), member(2), member(3)]);
    for (const id of ["node1", "node2", "node3"]) {
      const ranges = state.rangesOf(id);
      for (let i = 1; i < ranges.length; i++) {
        assert.ok(ranges[i][0] > ranges[i - 1][1] + 1, `${id}: ranges ${i - 1} and ${i} touch`);
      }
    }
  });

  it("refuses a map planned against an older epoch", () => {
    const members = [member(1), member(2), member(3)];
    const state = new ClusterState();
    for (const m of members) apply(state, { op: "member", member: m });
    const map = planSlots(state, members)!;
    const planned = state.epoch;
    apply(state, { op: "member", member: member(4) });

    const result = apply(state, { op: "slots", expectEpoch: planned, map });
    assert.equal(result.applied, false);
    assert.equal(result.epoch, planned + 1);
    assert.match(result.reason ?? "", /stale plan \(epoch 3, now 4\)/);
    assert.equal(state.slotMap, null);
    assert.equal(state.ownerOf(0), "");
  });

  it("refuses a map with an owner that is not a member", () => {
    const state = new ClusterState();
    apply(state, { op: "member", member: member(1) });
    apply(state, { op: "member", member: member(2) });
    const map = planSlots(state, [member(1), member(2), member(3)])!;
    const result = apply(state, { op: "slots", expectEpoch: state.epoch, map });
    assert.equal(result.applied, false);
    assert.equal(result.epoch, 2);
    assert.match(result.reason ?? "", /slot owner node3 unknown/);
    assert.equal(state.slotMap, null);
  });

  it("planSlots returns null when the owners are those of the applied map", () => {
    const members = [member(1), member(2), member(3)];
    const state = stateWith(members);
    assert.equal(planSlots(state, members), null);
    assert.equal(planSlots(state, [...members].reverse()), null, "order does not matter");
    assert.equal(planSlots(state, []), null);
  });

  it("planSlots plans a change when only an owner's weight changes", () => {
    const members = [member(1), member(2), member(3)];
    const state = stateWith(members);
    const heavier = [member(1), member(2, { weight: 2 }), member(3)];
    apply(state, { op: "member", member: heavier[1] });
    assert.notEqual(planSlots(state, heavier), null);
  });

  it("moves only the removed member's slots, and only to the members that remain", () => {
    const members = [member(1), member(2), member(3)];
    const state = stateWith(members);
    const before = ownersOf(state);
    assignSlots(state, [member(1), member(3)]);
    const after = ownersOf(state);

    let moved = 0;
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      if (before[slot] === "node2") {
        assert.ok(after[slot] === "node1" || after[slot] === "node3", `slot ${slot}`);
        moved++;
      } else {
        assert.equal(after[slot], before[slot], `slot ${slot} moved from ${before[slot]}`);
      }
    }
    assert.ok(moved > 0);
    assert.deepEqual(state.rangesOf("node2"), []);
    assert.equal(apply(state, { op: "forget", id: "node2" }).applied, true);
  });

  it("moves slots only to a member that is added", () => {
    const state = stateWith([member(1), member(2), member(3)]);
    const before = ownersOf(state);
    apply(state, { op: "member", member: member(4) });
    assignSlots(state, [member(1), member(2), member(3), member(4)]);
    const after = ownersOf(state);

    let moved = 0;
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      if (after[slot] !== before[slot]) {
        assert.equal(after[slot], "node4", `slot ${slot} moved from ${before[slot]}`);
        moved++;
      }
    }
    // Balanced to within one slot of a quarter each.
    assert.ok(Math.abs(moved - SLOT_COUNT / 4) <= 1, `${moved} slots moved to node4`);
  });
});

describe("ClusterState: snapshot and restore", () => {
  it("round-trips members, epoch and every slot's owner", () => {
    const state = stateWith([member(1), member(2, { zone: "b", weight: 2 }), member(3)]);
    apply(state, { op: "member", member: member(4) });
    const copy = new ClusterState();
    let notified = 0;
    copy.onChange = () => notified++;
    copy.restore(state.snapshot());

    assert.equal(copy.epoch, state.epoch);
    assert.deepEqual(copy.members(), state.members());
    assert.deepEqual(ownersOf(copy), ownersOf(state));
    assert.ok(copy.slotMap !== null && copy.slotMap.equals(state.slotMap!));
    assert.equal(notified, 1);
    assert.equal(
      planSlots(copy, [member(1), member(2, { zone: "b", weight: 2 }), member(3)]),
      null,
    );
  });

  it("round-trips a state that has members but no slot map", () => {
    const state = new ClusterState();
    apply(state, { op: "member", member: member(1) });
    const copy = new ClusterState();
    copy.restore(state.snapshot());
    assert.equal(copy.epoch, 1);
    assert.deepEqual(copy.members(), [member(1)]);
    assert.equal(copy.slotMap, null);
  });

  it("resets to the empty state when restored from no bytes", () => {
    const state = stateWith([member(1), member(2), member(3)]);
    state.restore(new Uint8Array(0));
    assert.equal(state.epoch, 0);
    assert.deepEqual(state.members(), []);
    assert.equal(state.slotMap, null);
    assert.ok(ownersOf(state).every((owner) => owner === ""));
  });

  it("keeps applying commands after a restore, from the restored epoch", () => {
    const state = stateWith([member(1), member(2), member(3)]);
    const copy = new ClusterState();
    copy.restore(state.snapshot());
    const result = apply(copy, { op: "member", member: member(4) });
    assert.deepEqual(result, { applied: true, epoch: state.epoch + 1 });
  });
});

describe("ClusterState: malformed commands", () => {
  it("refuses bytes that are not a command without throwing", () => {
    const state = new ClusterState();
    const random = mulberry32(20240601);
    const garbage: Uint8Array[] = [
      new Uint8Array(0),
      new Uint8Array([0xff, 0xff]),
      encode(42),
      encode({}),
      encode({ op: "drop-everything" }),
      encode(["member"]),
    ];
    for (let i = 0; i < 200; i++) {
      // Random bytes behind a CBOR map header, so the decoder reads them as a malformed map.
      const bytes = new Uint8Array(1 + Math.floor(random() * 32));
      for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(random() * 256);
      bytes[0] = 0xa1 + Math.floor(random() * 4);
      garbage.push(bytes);
    }
    for (const bytes of garbage) {
      const result = state.apply(bytes);
      assert.equal(result.applied, false, `applied ${[...bytes]}`);
      assert.equal(result.epoch, 0);
      assert.equal(typeof result.reason, "string");
    }
    assert.equal(state.epoch, 0);
    assert.deepEqual(state.members(), []);
  });

  it("refuses commands of a known op with missing or wrongly typed fields, changing nothing", () => {
    const state = stateWith([member(1), member(2)]);
    const before = state.snapshot();
    const epoch = state.epoch;
    const bad: unknown[] = [
      null,
      { op: "member" },
      { op: "member", member: null },
      { op: "member", member: { id: "node9" } },
      { op: "member", member: { ...member(9), port: 70000 } },
      { op: "member", member: { ...member(9), raftId: 0 } },
      { op: "forget", id: 7 },
      { op: "slots", expectEpoch: epoch, map: new Uint8Array([1, 2, 3]) },
      { op: "slots", expectEpoch: epoch },
      { op: "slots", expectEpoch: "x", map: new Uint8Array(0) },
      { op: "plan", expectEpoch: epoch, map: new Uint8Array([0xff, 0, 0, 0, 9]) },
      { op: "moved", from: "node1", slots: [-1] },
      { op: "moved", from: "node1", slots: "all" },
      { op: "moved", slots: [1] },
    ];
    for (const command of bad) {
      const result = state.apply(encode(command));
      assert.equal(result.applied, false, JSON.stringify(command));
      assert.match(result.reason!, /malformed/, JSON.stringify(command));
    }
    assert.equal(state.epoch, epoch);
    assert.deepEqual(state.snapshot(), before);
  });

  it("refuses to forget a member that is taking slots in a running migration", () => {
    const state = stateWith([member(1), member(2)]);
    assert.equal(apply(state, { op: "member", member: member(3) }).applied, true);
    const plan = planSlots(state, [member(1), member(2), member(3)])!;
    assert.equal(apply(state, { op: "plan", expectEpoch: state.epoch, map: plan }).applied, true);
    assert.equal(state.rangesOf("node3").length, 0, "owns nothing until a slot has moved");
    const result = apply(state, { op: "forget", id: "node3" });
    assert.equal(result.applied, false);
    assert.match(result.reason!, /taking slots/);
    assert.notEqual(state.member("node3"), undefined);
  });

  it("throws on a corrupt snapshot and keeps the state it had", () => {
    const state = stateWith([member(1), member(2)]);
    const before = state.snapshot();
    for (
      const corrupt of [
        new Uint8Array([0xff, 0x00]),
        encode({ epoch: 3, members: "x", slots: null }),
        encode({ epoch: 3, members: [{ id: 5 }], slots: null }),
        encode({ epoch: 3, members: [], slots: new Uint8Array([1, 2]) }),
      ]
    ) {
      assert.throws(() => state.restore(corrupt), /cluster state snapshot is corrupt/);
      assert.deepEqual(state.snapshot(), before);
    }
  });
});

describe("raftIdOf", () => {
  it("is deterministic, never 0, and below 2^31", () => {
    const random = mulberry32(7);
    const ids = ["", "a", "node1", "127.0.0.1:7001", "\u00ff".repeat(64)];
    for (let i = 0; i < 2000; i++) {
      const length = Math.floor(random() * 24);
      ids.push(
        Array.from({ length }, () => String.fromCharCode(32 + Math.floor(random() * 95))).join(""),
      );
    }
    for (const id of ids) {
      const raftId = raftIdOf(id);
      assert.equal(raftIdOf(id), raftId, `raftIdOf(${JSON.stringify(id)}) changed`);
      assert.ok(Number.isInteger(raftId), `${raftId}`);
      assert.ok(raftId >= 1 && raftId < 2 ** 31, `raftIdOf(${JSON.stringify(id)}) = ${raftId}`);
    }
  });

  it("is FNV-1a with the top bit cleared", () => {
    // FNV-1a 32 of "a" is 0xe40c292c; of "" the offset basis 0x811c9dc5.
    assert.equal(raftIdOf("a"), 0xe40c292c & 0x7fffffff);
    assert.equal(raftIdOf(""), 0x811c9dc5 & 0x7fffffff);
  });

  it("gives 1 to an id whose hash is 0 once the top bit is cleared", () => {
    // FNV-1a 32 of "+!=yG" is 0x00000000, of "44;>\u009c" 0x80000000 (found by search).
    assert.equal(raftIdOf("+!=yG"), 1);
    assert.equal(raftIdOf("44;>\u009c"), 1);
  });

  it("tells apart the ids of a cluster's nodes", () => {
    const ids = Array.from({ length: 100 }, (_, i) => `127.0.0.1:${7000 + i}`);
    assert.equal(new Set(ids.map(raftIdOf)).size, ids.length);
  });
});
