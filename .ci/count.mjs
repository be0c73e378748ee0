// Counts leaf test cases (an `it`, or a test without steps) in a deno test JUnit report and
// prints "passed failed skipped". Steps appear as cases named "parent > child".
import { readFileSync } from "node:fs";

let xml = "";
try {
  xml = readFileSync(process.argv[2], "utf8");
} catch {
  console.log("0 1 0");
  process.exit(0);
}
const decode = (s) =>
  s.replace(/&gt;/g, ">").replace(/&lt;/g, "<").replace(/&quot;/g, '"').replace(/&apos;/g, "'")
    .replace(/&amp;/g, "&");
const cases = [];
const pattern = /<testcase name="([^"]*)"[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g;
for (const match of xml.matchAll(pattern)) {
  const body = match[3] ?? "";
  cases.push({
    name: decode(match[1]),
    failed: /<failure/.test(body),
    skipped: /<skipped/.test(body),
  });
}
const names = cases.map((c) => c.name);
let passed = 0;
let failed = 0;
let skipped = 0;
for (const c of cases) {
  const isParent = names.some((n) => n.startsWith(`${c.name} > `));
  if (isParent) continue;
  if (c.failed) failed++;
  else if (c.skipped) skipped++;
  else passed++;
}
console.log(`${passed} ${failed} ${skipped}`);
