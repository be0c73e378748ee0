/**
 * The placement library on its own: build a slot map for a small weighted cluster across zones,
 * look keys up, add a node, and print how the slots are spread and what moved.
 *
 * Run: deno run examples/ring.ts
 */

import {
  keySlot,
  movementStats,
  type RingNode,
  SLOT_COUNT,
  SlotMap,
  slotMapStats,
} from "../src/ring/mod.ts";

const nodes: RingNode[] = [
  { id: "cache-1", zone: "eu-west-1a" },
  { id: "cache-2", zone: "eu-west-1b" },
  { id: "cache-3", zone: "eu-west-1c" },
  { id: "cache-4", zone: "eu-west-1a", weight: 2 },
  { id: "cache-5", zone: "eu-west-1b" },
  { id: "cache-6", zone: "eu-west-1c", weight: 0.5 },
];

const ringOnly = SlotMap.build(nodes, { balance: false });
const v1 = SlotMap.build(nodes);

console.log(`Slot distribution for ${nodes.length} nodes (${SLOT_COUNT} slots)\n`);
printTable(ringOnly, v1);

for (const key of ["user:1000", "{user:1000}.cart", "session:abc"]) {
  console.log(
    `${key.padEnd(18)} slot ${String(keySlot(key)).padStart(5)}  replicas ${
      v1.replicasOf(keySlot(key)).join(", ")
    }`,
  );
}

const v2 = SlotMap.build([...nodes, { id: "cache-7", zone: "eu-west-1a" }], { previous: v1 });
const movement = movementStats(v1, v2);
const idealSlotCount = slotMapStats(v2).nodes.find((node) => node.id === "cache-7")!.idealSlotCount;
console.log(
  `\nAdding cache-7 (epoch ${v1.epoch} -> ${v2.epoch}): ${movement.movedSlotCount} slots move ` +
    `(fewest possible ${movement.minimumMovedSlotCount}, ideal ${
      idealSlotCount.toFixed(1)
    }), all to ${[...new Set(SlotMap.diff(v1, v2).map((m) => m.to))].join(", ")}`,
);
for (const node of movement.nodes) {
  console.log(
    `  ${node.id.padEnd(8)} gained ${String(node.gainedSlotCount).padStart(5)}  lost ${
      String(node.lostSlotCount).padStart(5)
    }`,
  );
}
console.log(`\nEncoded slot map: ${v2.encode().length} bytes`);

function printTable(unbalanced: SlotMap, balanced: SlotMap): void {
  const before = slotMapStats(unbalanced);
  const after = slotMapStats(balanced);
  console.log("node      zone         weight   ideal   ring only (dev)    balanced (dev)");
  for (let i = 0; i < after.nodes.length; i++) {
    const node = after.nodes[i];
    const ring = before.nodes[i];
    console.log(
      [
        node.id.padEnd(9),
        (balanced.nodes[i].zone ?? "").padEnd(12),
        String(node.weight).padStart(6),
        node.idealSlotCount.toFixed(1).padStart(7),
        `${String(ring.slotCount).padStart(8)} (${percent(ring.deviation)})`,
        `${String(node.slotCount).padStart(8)} (${percent(node.deviation)})`,
      ].join(" "),
    );
  }
  console.log(
    `max deviation: ring only ${percent(before.maxDeviation)}, balanced ${
      percent(after.maxDeviation)
    }\n`,
  );
}

function percent(fraction: number): string {
  return `${fraction >= 0 ? "+" : ""}${(fraction * 100).toFixed(2)}%`.padStart(7);
}
