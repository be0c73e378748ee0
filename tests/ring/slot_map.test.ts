import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { sha256 } from "@noble/hashes/sha2.js";
import {
  HashRing,
  keySlot,
  movementStats,
  type RingNode,
  SLOT_COUNT,
  SlotMap,
  SlotMapDecodeError,
  slotMapStats,
} from "../../src/ring/mod.ts";
import { forEachSeed, Random, randomNodes } from "./_random.ts";

const NODE_COUNTS = [3, 5, 10, 50, 100];

/** A slot's exact weighted share for a node of `weight` among `nodes`. */
function idealSlotCount(nodes: readonly RingNode[], weight: number): number {
  const totalWeight = nodes.reduce((sum, node) => sum + (node.weight ?? 1), 0);
  return SLOT_COUNT * weight / totalWeight;
}

/** Every node within one slot of its weighted share, and the map's counts add up. */
function assertBalanced(map: SlotMap): void {
  const stats = slotMapStats(map);
  for (const node of stats.nodes) {
    assert.ok(
      Math.abs(node.slotCount - node.idealSlotCount) < 1,
      `node '${node.id}' owns ${node.slotCount} slots, ideal ${node.idealSlotCount}`,
    );
  }
  assert.equal(stats.nodes.reduce((sum, node) => sum + node.slotCount, 0), SLOT_COUNT);
}

function join(random: Random, map: SlotMap, options: { weighted?: boolean } = {}) {
  const [joining] = randomNodes(random, 1, { ...options, prefix: "joining-" });
  const nodes = [...map.nodes, joining];
  return { joining, nodes, after: SlotMap.build(random.shuffle(nodes), { previous: map }) };
}

function assertJoinMovesOnlyToNewNode(before: SlotMap, after: SlotMap, joining: RingNode): void {
  const plan = SlotMap.diff(before, after);
  for (const { slot, to } of plan) assert.equal(to, joining.id, `slot ${slot} moved to ${to}`);
  const optimum = idealSlotCount(after.nodes, joining.weight ?? 1);
  assert.ok(
    plan.length <= 1.1 * optimum,
    `${plan.length} slots moved, optimum ${optimum.toFixed(1)}`,
  );
}

function assertLeaveMovesOnlyItsSlots(before: SlotMap, after: SlotMap, leavingId: string): void {
  const plan = SlotMap.diff(before, after);
  for (const { slot, from } of plan) {
    assert.equal(from, leavingId, `slot ${slot} moved from ${from}`);
  }
  assert.equal(plan.length, before.slotCountOf(leavingId));
}

/**
 * Whether some map within one slot of every share of `after` lets every old node of `before`
 * keep all its slots: old nodes can hold at most min(their count, share rounded up), and the
 * new nodes at most their shares rounded up.
 */
function joinCanKeepOldSlots(before: SlotMap, after: SlotMap): boolean {
  const capacity = slotMapStats(after).nodes.reduce((sum, node) => {
    const most = Math.ceil(node.idealSlotCount);
    const held = before.slotCountOf(node.id);
    return sum + (before.nodes.some((old) => old.id === node.id) ? Math.min(held, most) : most);
  }, 0);
  return capacity >= SLOT_COUNT;
}

describe("SlotMap.build", () => {
  it("gives an identical map for the same membership in any order", () => {
    forEachSeed(40, 1000, (random) => {
      const nodes = randomNodes(random, random.pick(NODE_COUNTS), {
        weighted: random.next() < 0.5,
        zoneCount: random.int(0, 4),
      });
      const a = SlotMap.build(nodes, { tokensPerNode: 64 });
      const b = SlotMap.build(random.shuffle(nodes), { tokensPerNode: 64 });
      assert.ok(a.equals(b));
      const { nodes: grown } = join(random, a);
      const c = SlotMap.build(grown, { previous: a });
      const d = SlotMap.build(random.shuffle(grown), { previous: b });
      assert.ok(c.equals(d));
    });
  });

  it("keeps max deviation from the ideal share <= 1% for N = 3, 5, 10, 50, 100", () => {
    forEachSeed(10, 2000, (random) => {
      for (const nodeCount of NODE_COUNTS) {
        const map = SlotMap.build(randomNodes(random, nodeCount));
        assertBalanced(map);
        const { maxDeviation } = slotMapStats(map);
        assert.ok(maxDeviation <= 0.01, `N=${nodeCount}: max deviation ${maxDeviation}`);
      }
    });
  });

  it("balances weighted nodes to within one slot of their shares", () => {
    // One slot is over 1% of a share below 100 slots, so within one slot is the bound here.
    forEachSeed(6, 2100, (random) => {
      for (const nodeCount of NODE_COUNTS) {
        assertBalanced(SlotMap.build(randomNodes(random, nodeCount, { weighted: true })));
      }
    });
  });

  it("moves slots only to a joining node, at most 1.1x the optimum, and stays balanced", () => {
    forEachSeed(200, 3000, (random) => {
      const weighted = random.next() < 0.3;
      const nodeCount = random.int(1, weighted ? 30 : 100);
      const before = SlotMap.build(randomNodes(random, nodeCount, { weighted }));
      const { joining, after } = join(random, before, { weighted });
      assertJoinMovesOnlyToNewNode(before, after, joining);
      assertBalanced(after);
    });
  });

  it("moves only a leaving node's slots, and stays balanced", () => {
    forEachSeed(200, 4000, (random) => {
      const weighted = random.next() < 0.3;
      const nodes = randomNodes(random, random.int(2, weighted ? 30 : 100), { weighted });
      const before = SlotMap.build(nodes);
      const leaving = random.pick(nodes);
      const rest = random.shuffle(nodes.filter((node) => node !== leaving));
      const after = SlotMap.build(rest, { previous: before });
      assertLeaveMovesOnlyItsSlots(before, after, leaving.id);
      assertBalanced(after);
    });
  });

  it("keeps those properties over a chain of joins and leaves", () => {
    forEachSeed(20, 5000, (random) => {
      let map = SlotMap.build(randomNodes(random, random.int(3, 40)), { tokensPerNode: 64 });
      for (let step = 0; step < 12; step++) {
        if (map.nodes.length > 1 && random.next() < 0.4) {
          const leaving = random.pick(map.nodes);
          const rest = map.nodes.filter((node) => node !== leaving);
          const after = SlotMap.build(rest, { previous: map, tokensPerNode: 64 });
          assertLeaveMovesOnlyItsSlots(map, after, leaving.id);
          map = after;
        } else {
          const { joining, after } = join(random, map);
          assertJoinMovesOnlyToNewNode(map, after, joining);
          map = after;
        }
        assertBalanced(map);
        assert.equal(map.epoch, step + 1);
      }
    });
  });

  it("with extreme weights, moves the fewest slots, and only to a joining node whenever balance allows", () => {
    // A node of weight 0.01 among weights up to 50 has a share of about one slot: there, keeping
    // every node within one slot of its share can force an old node to receive a slot.
    forEachSeed(150, 5500, (random) => {
      const weights = [0.01, 0.1, 0.3, 1, 2, 7, 50];
      const nodes = randomNodes(random, random.int(1, 120)).map((node) => ({
        ...node,
        weight: random.pick(weights),
      }));
      const before = SlotMap.build(nodes, { tokensPerNode: 16 });
      const joining = { id: "joining", weight: random.pick(weights) };
      const after = SlotMap.build([...nodes, joining], { previous: before, tokensPerNode: 16 });
      assertBalanced(after);
      const movement = movementStats(before, after);
      assert.equal(movement.movedSlotCount, movement.minimumMovedSlotCount);
      if (joinCanKeepOldSlots(before, after)) {
        for (const { to } of SlotMap.diff(before, after)) assert.equal(to, joining.id);
      }
    });
  });

  it("moves nothing when rebuilt from the previous map with the same membership", () => {
    forEachSeed(20, 5800, (random) => {
      const nodes = randomNodes(random, random.int(1, 100), { weighted: random.next() < 0.5 });
      const before = SlotMap.build(nodes);
      const after = SlotMap.build(random.shuffle(nodes), { previous: before });
      assert.deepEqual(SlotMap.diff(before, after), []);
      assert.equal(after.epoch, before.epoch + 1);
    });
  });

  it("moves slots only to a node whose weight grows", () => {
    forEachSeed(40, 6000, (random) => {
      const nodes = randomNodes(random, random.int(2, 20));
      const before = SlotMap.build(nodes);
      const grown = random.pick(nodes);
      const after = SlotMap.build(
        nodes.map((node) => (node === grown ? { ...node, weight: 2 } : node)),
        { previous: before },
      );
      for (const { to } of SlotMap.diff(before, after)) assert.equal(to, grown.id);
      assertBalanced(after);
    });
  });

  it("without balancing, is the ring's own assignment", () => {
    const nodes = [{ id: "a" }, { id: "b" }, { id: "c", weight: 2 }];
    const map = SlotMap.build(nodes, { balance: false, tokensPerNode: 32 });
    const ring = new HashRing(nodes, { tokensPerNode: 32 });
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      assert.equal(map.ownerOf(slot), ring.ownerOf(slot));
    }
  });

  it("owns a key's slot, so keys with the same hash tag share an owner", () => {
    const map = SlotMap.build(randomNodes(new Random(42), 7));
    assert.equal(map.ownerOfKey("{user1}.a"), map.ownerOfKey("{user1}.b"));
    assert.equal(map.ownerOfKey("user:9"), map.ownerOf(keySlot("user:9")));
    assert.equal(map.ownerOfKey(new TextEncoder().encode("user:9")), map.ownerOfKey("user:9"));
  });

  it("rejects bad options with a sentence naming the value", () => {
    const nodes = [{ id: "a" }];
    assert.throws(() => SlotMap.build(nodes, { replicationFactor: 0 }), /current value is 0/);
    assert.throws(() => SlotMap.build(nodes, { epoch: -1 }), /'epoch'/);
    assert.throws(() => SlotMap.build(nodes, { tokensPerNode: 5000 }), /tokensPerNode/);
    const previous = SlotMap.build(nodes);
    assert.throws(() => SlotMap.build(nodes, { previous, balance: false }), /needs balancing/);
    assert.throws(() => previous.ownerOf(-1), /current value is -1/);
  });
});

describe("SlotMap replicas", () => {
  it("never repeats a node, starts with the owner, and spans distinct zones when enough exist", () => {
    forEachSeed(8, 7000, (random) => {
      const zoneCount = random.int(1, 5);
      const nodes = randomNodes(random, random.int(1, 12), { zoneCount });
      const replicationFactor = random.int(1, 4);
      const map = SlotMap.build(nodes, { replicationFactor, tokensPerNode: 32 });
      const zoneOf = new Map(map.nodes.map((node) => [node.id, node.zone]));
      const presentZoneCount = new Set(zoneOf.values()).size;
      assert.equal(map.replicaCount, Math.min(replicationFactor, nodes.length));
      for (let slot = 0; slot < SLOT_COUNT; slot += random.int(1, 50)) {
        const replicas = map.replicasOf(slot);
        assert.equal(replicas.length, map.replicaCount);
        assert.equal(replicas[0], map.ownerOf(slot));
        assert.equal(new Set(replicas).size, replicas.length, `repeats: ${replicas}`);
        const zones = new Set(replicas.map((id) => zoneOf.get(id)));
        assert.equal(zones.size, Math.min(replicas.length, presentZoneCount), `zones: ${replicas}`);
      }
    });
  });
});

describe("SlotMap.diff", () => {
  it("lists every slot whose owner changed, and applying it turns the old map into the new", () => {
    forEachSeed(5, 8000, (random) => {
      const before = SlotMap.build(randomNodes(random, 6), { tokensPerNode: 32 });
      const after = SlotMap.build(randomNodes(random, 4), { tokensPerNode: 32 });
      const owners = Array.from({ length: SLOT_COUNT }, (_, slot) => before.ownerOf(slot));
      for (const { slot, from, to } of SlotMap.diff(before, after)) {
        assert.equal(owners[slot], from);
        assert.notEqual(from, to);
        owners[slot] = to;
      }
      for (let slot = 0; slot < SLOT_COUNT; slot++) assert.equal(owners[slot], after.ownerOf(slot));
    });
  });
});

describe("SlotMap encoding", () => {
  it("round-trips epoch, settings, nodes, owners and replicas", () => {
    forEachSeed(6, 9000, (random) => {
      const nodes = randomNodes(random, random.pick([1, 2, 3, 17, 256, 257]), {
        weighted: true,
        zoneCount: random.int(0, 3),
      });
      const map = SlotMap.build(nodes, {
        tokensPerNode: 8,
        replicationFactor: random.int(1, 4),
        distinctZones: random.next() < 0.5,
        epoch: random.pick([0, 1, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER]),
      });
      const copy = SlotMap.decode(map.encode());
      assert.ok(copy.equals(map));
      assert.equal(copy.epoch, map.epoch);
      assert.deepEqual(copy.nodes, map.nodes);
      for (let slot = 0; slot < SLOT_COUNT; slot += 61) {
        assert.deepEqual(copy.replicasOf(slot), map.replicasOf(slot));
      }
    });
  });

  it("is compact: ceil(log2(nodes)) bits per slot", () => {
    const map = SlotMap.build([{ id: "a" }, { id: "b" }, { id: "c" }]);
    const nodesBytes = 3 * (1 + 1 + 1 + 8);
    assert.equal(map.encode().length, 19 + nodesBytes + (SLOT_COUNT * 2) / 8 + 4);
  });

  it("rejects corrupted, truncated and extended bytes with a SlotMapDecodeError", () => {
    forEachSeed(30, 10000, (random) => {
      const bytes = SlotMap.build(randomNodes(random, 4), { tokensPerNode: 8 }).encode();
      const flipped = bytes.slice();
      flipped[random.int(0, bytes.length - 1)] ^= 1 << random.int(0, 7);
      assert.throws(() => SlotMap.decode(flipped), SlotMapDecodeError);
      assert.throws(
        () => SlotMap.decode(bytes.subarray(0, random.int(0, bytes.length - 1))),
        SlotMapDecodeError,
      );
      const extended = new Uint8Array(bytes.length + 1);
      extended.set(bytes);
      assert.throws(() => SlotMap.decode(extended), SlotMapDecodeError);
    });
  });

  it("names what is wrong when the checksum matches but a field does not", () => {
    const bytes = SlotMap.build([{ id: "a" }, { id: "b" }, { id: "c" }]).encode();
    const resealed = (edit: (copy: Uint8Array) => void) => {
      const copy = bytes.slice();
      edit(copy);
      copy.set(sha256(copy.subarray(0, copy.length - 4)).subarray(0, 4), copy.length - 4);
      return copy;
    };
    assert.throws(() => SlotMap.decode(resealed((b) => (b[4] = 9))), /format version 9/);
    assert.throws(() => SlotMap.decode(resealed((b) => (b[6] = 0))), /replication factor/);
    // Owner bits of slot 0 set to 3, with only 3 nodes (indexes 0-2).
    const ownersOffset = 19 + 3 * 11;
    assert.throws(
      () => SlotMap.decode(resealed((b) => (b[ownersOffset] |= 0xc0))),
      /slot 0 names node 3 of 3/,
    );
    // Node ids out of order: swap 'a' and 'b'.
    assert.throws(
      () => SlotMap.decode(resealed((b) => ([b[20], b[31]] = [b[31], b[20]]))),
      /sorted and unique/,
    );
    assert.throws(() => SlotMap.decode(new Uint8Array(10)), /shorter than the smallest map/);
  });
});

describe("slot map statistics", () => {
  it("reports shares, deviation and movement", () => {
    const nodes = [{ id: "a" }, { id: "b" }, { id: "c", weight: 2 }];
    const before = SlotMap.build(nodes);
    const stats = slotMapStats(before);
    assert.equal(stats.nodeCount, 3);
    assert.deepEqual(stats.nodes.map((n) => n.slotCount), [4096, 4096, 8192]);
    assert.equal(stats.maxDeviation, 0);
    assert.equal(stats.nodes[2].share, 0.5);

    const after = SlotMap.build([...nodes, { id: "d", weight: 4 }], { previous: before });
    const movement = movementStats(before, after);
    assert.equal(movement.movedSlotCount, 8192);
    assert.equal(movement.minimumMovedSlotCount, 8192);
    assert.equal(movement.movedRatio, 1);
    assert.deepEqual(movement.nodes, [
      { id: "a", gainedSlotCount: 0, lostSlotCount: 2048 },
      { id: "b", gainedSlotCount: 0, lostSlotCount: 2048 },
      { id: "c", gainedSlotCount: 0, lostSlotCount: 4096 },
      { id: "d", gainedSlotCount: 8192, lostSlotCount: 0 },
    ]);

    const unbalanced = slotMapStats(SlotMap.build(nodes, { balance: false, tokensPerNode: 16 }));
    assert.ok(unbalanced.maxDeviation > stats.maxDeviation);
  });
});
