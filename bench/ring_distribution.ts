/**
 * How evenly slots spread over nodes, for 64, 128 and 256 tokens per node, with the ring's
 * assignment alone and after balancing, against the original design's target: every node
 * within 5% of an even share.
 *
 * Run: deno run bench/ring_distribution.ts
 */

import { type RingNode, SlotMap, slotMapStats } from "../src/ring/mod.ts";

const TOKENS_PER_NODE = [64, 128, 256];
const NODE_COUNTS = [3, 10, 50, 100];
/** Memberships per row (different node ids), so a row is not one lucky draw. */
const SAMPLE_COUNT = 5;
const TARGET_MAX_DEVIATION = 0.05;

function membership(nodeCount: number, sample: number): RingNode[] {
  return Array.from({ length: nodeCount }, (_, i) => ({ id: `s${sample}-node-${i}` }));
}

function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(2)}%`;
}

const header = [
  "tokens/node",
  "nodes",
  "ring only: max dev (mean / worst)",
  "ring only: std dev",
  "balanced: max dev (worst)",
  "target <= 5%: ring only / balanced",
];
const rows: string[][] = [];
for (const tokensPerNode of TOKENS_PER_NODE) {
  for (const nodeCount of NODE_COUNTS) {
    let ringMaxSum = 0;
    let ringMaxWorst = 0;
    let ringStdDevSum = 0;
    let balancedMaxWorst = 0;
    for (let sample = 0; sample < SAMPLE_COUNT; sample++) {
      const nodes = membership(nodeCount, sample);
      const ring = slotMapStats(SlotMap.build(nodes, { tokensPerNode, balance: false }));
      const balanced = slotMapStats(SlotMap.build(nodes, { tokensPerNode }));
      ringMaxSum += ring.maxDeviation;
      ringMaxWorst = Math.max(ringMaxWorst, ring.maxDeviation);
      ringStdDevSum += ring.deviationStdDev;
      balancedMaxWorst = Math.max(balancedMaxWorst, balanced.maxDeviation);
    }
    rows.push([
      String(tokensPerNode),
      String(nodeCount),
      `${percent(ringMaxSum / SAMPLE_COUNT)} / ${percent(ringMaxWorst)}`,
      percent(ringStdDevSum / SAMPLE_COUNT),
      percent(balancedMaxWorst),
      `${ringMaxWorst <= TARGET_MAX_DEVIATION ? "met" : "missed"} / ${
        balancedMaxWorst <= TARGET_MAX_DEVIATION ? "met" : "missed"
      }`,
    ]);
  }
}

const widths = header.map((title, column) =>
  Math.max(title.length, ...rows.map((row) => row[column].length))
);
const line = (cells: string[]) =>
  `| ${cells.map((cell, column) => cell.padEnd(widths[column])).join(" | ")} |`;
console.log(
  `Slot distribution over ${SAMPLE_COUNT} memberships per row (16384 slots, equal weights)\n`,
);
console.log(line(header));
console.log(`| ${widths.map((width) => "-".repeat(width)).join(" | ")} |`);
for (const row of rows) console.log(line(row));
