import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { HashRing, keySlot, SLOT_COUNT } from "../../src/ring/mod.ts";
import { forEachSeed, randomNodes } from "./_random.ts";

/** Ring owner of every slot, as ids. */
function slotOwners(ring: HashRing): string[] {
  return Array.from({ length: SLOT_COUNT }, (_, slot) => ring.ownerOf(slot));
}

describe("HashRing", () => {
  it("is the same ring for the same membership in any order", () => {
    forEachSeed(20, 100, (random) => {
      const nodes = randomNodes(random, random.int(1, 30), { weighted: true, zoneCount: 3 });
      const a = new HashRing(nodes, { tokensPerNode: 32 });
      const b = new HashRing(random.shuffle(nodes), { tokensPerNode: 32 });
      assert.deepEqual(a.nodes, b.nodes);
      assert.deepEqual(slotOwners(a), slotOwners(b));
      for (let i = 0; i < 50; i++) {
        const slot = random.int(0, SLOT_COUNT - 1);
        assert.deepEqual(a.preferenceList(slot, 4), b.preferenceList(slot, 4));
      }
    });
  });

  it("is the same ring whether built at once or by adding and removing nodes", () => {
    forEachSeed(10, 200, (random) => {
      const nodes = randomNodes(random, 12);
      const [extra, ...rest] = nodes;
      let grown = new HashRing([rest[0]], { tokensPerNode: 16 });
      for (const node of random.shuffle(rest.slice(1))) grown = grown.withNode(node);
      grown = grown.withNode(extra).withoutNode(extra.id);
      assert.deepEqual(slotOwners(grown), slotOwners(new HashRing(rest, { tokensPerNode: 16 })));
    });
  });

  it("gives each node round(weight x tokensPerNode) tokens, at least one", () => {
    const ring = new HashRing([{ id: "a" }, { id: "b", weight: 2.5 }, { id: "c", weight: 0.001 }], {
      tokensPerNode: 10,
    });
    assert.equal(ring.tokenCount, 10 + 25 + 1);
  });

  it("moves slots only to a joining node, and only a leaving node's slots", () => {
    forEachSeed(20, 300, (random) => {
      const nodes = randomNodes(random, random.int(1, 20), { weighted: true });
      const before = new HashRing(nodes, { tokensPerNode: 64 });
      const [joining] = randomNodes(random, 1, { prefix: "new-" });
      const after = before.withNode(joining);
      const ownersBefore = slotOwners(before);
      const ownersAfter = slotOwners(after);
      for (let slot = 0; slot < SLOT_COUNT; slot++) {
        if (ownersBefore[slot] !== ownersAfter[slot]) assert.equal(ownersAfter[slot], joining.id);
      }
      assert.deepEqual(slotOwners(after.withoutNode(joining.id)), ownersBefore);
    });
  });

  it("owns a slot's start point as it owns the slot, wrapping past the last token", () => {
    forEachSeed(5, 400, (random) => {
      const ring = new HashRing(randomNodes(random, 5), { tokensPerNode: 8 });
      for (let i = 0; i < 200; i++) {
        const slot = random.int(0, SLOT_COUNT - 1);
        assert.equal(ring.ownerOfPoint(slot * 2 ** 18), ring.ownerOf(slot));
      }
      assert.equal(ring.ownerOfPoint(2 ** 32 - 1), ring.ownerOfPoint(0));
    });
  });

  it("looks a key up by its slot", () => {
    const ring = new HashRing([{ id: "a" }, { id: "b" }, { id: "c" }]);
    for (const key of ["user:1", "{user1}.a", "", "\xff\x00"]) {
      assert.equal(ring.ownerOf(key), ring.ownerOf(keySlot(key)));
      assert.deepEqual(ring.preferenceList(key, 2), ring.preferenceList(keySlot(key), 2));
    }
  });
});

describe("HashRing.preferenceList", () => {
  it("never repeats a node, starts at the ring owner, and caps at the node count", () => {
    forEachSeed(20, 500, (random) => {
      const nodes = randomNodes(random, random.int(1, 12), { zoneCount: random.int(0, 4) });
      const ring = new HashRing(nodes, { tokensPerNode: 16 });
      for (let i = 0; i < 100; i++) {
        const slot = random.int(0, SLOT_COUNT - 1);
        const count = random.int(0, nodes.length + 2);
        const distinctZones = random.next() < 0.5;
        const list = ring.preferenceList(slot, count, { distinctZones });
        assert.equal(list.length, Math.min(count, nodes.length));
        assert.equal(new Set(list).size, list.length, `repeats: ${list}`);
        if (count > 0) assert.equal(list[0], ring.ownerOf(slot));
      }
    });
  });

  it("puts the first nodes in distinct zones when enough zones exist", () => {
    forEachSeed(20, 600, (random) => {
      const zoneCount = random.int(2, 5);
      const nodes = randomNodes(random, random.int(zoneCount, 20), { zoneCount });
      const ring = new HashRing(nodes, { tokensPerNode: 16 });
      const zoneOf = new Map(ring.nodes.map((node) => [node.id, node.zone]));
      const presentZoneCount = new Set(zoneOf.values()).size;
      for (let i = 0; i < 100; i++) {
        const slot = random.int(0, SLOT_COUNT - 1);
        const count = random.int(1, nodes.length);
        const list = ring.preferenceList(slot, count);
        const distinct = new Set(list.slice(0, presentZoneCount).map((id) => zoneOf.get(id)));
        assert.equal(distinct.size, Math.min(count, presentZoneCount), `zones of ${list}`);
      }
    });
  });

  it("puts 'first' first and continues clockwise in other zones", () => {
    const ring = new HashRing([
      { id: "a", zone: "z1" },
      { id: "b", zone: "z1" },
      { id: "c", zone: "z2" },
      { id: "d", zone: "z3" },
    ]);
    for (let slot = 0; slot < SLOT_COUNT; slot += 97) {
      const list = ring.preferenceList(slot, 3, { first: "b" });
      assert.equal(list[0], "b");
      assert.deepEqual(list.slice(1).sort(), ["c", "d"]);
    }
  });
});

describe("HashRing validation", () => {
  it("rejects bad membership and arguments with a sentence naming the value", () => {
    assert.throws(() => new HashRing([]), /at least one node is needed/);
    assert.throws(() => new HashRing([{ id: "a" }, { id: "a" }]), /'a' repeats/);
    assert.throws(() => new HashRing([{ id: "" }]), /non-empty string/);
    assert.throws(() => new HashRing([{ id: "\ud800" }]), /well-formed/);
    assert.throws(() => new HashRing([{ id: "x".repeat(256) }]), /at most 255 UTF-8 bytes/);
    assert.throws(() => new HashRing([{ id: "a", weight: 0 }]), /current value is 0/);
    assert.throws(() => new HashRing([{ id: "a", weight: NaN }]), /current value is NaN/);
    assert.throws(() => new HashRing([{ id: "a", zone: "" }]), /zone of node 'a'/);
    assert.throws(() => new HashRing([{ id: "a" }], { tokensPerNode: 0 }), /tokensPerNode/);
    const ring = new HashRing([{ id: "a" }]);
    assert.throws(() => ring.ownerOf(SLOT_COUNT), /current value is 16384/);
    assert.throws(() => ring.ownerOf(1.5), /current value is 1.5/);
    assert.throws(() => ring.preferenceList(0, -1), /'count'/);
    assert.throws(() => ring.preferenceList(0, 1, { first: "z" }), /node 'z' is not/);
    assert.throws(() => ring.withNode({ id: "a" }), /already in the ring/);
    assert.throws(() => ring.withoutNode("z"), /not in the ring/);
    assert.throws(() => ring.ownerOfPoint(2 ** 32), RangeError);
  });
});
