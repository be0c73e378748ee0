/**
 * The differential test of tests/e2e/_differential.ts, for long: random sequences on a real node
 * per runtime and on a reference redis-server, reply for reply, until the time is up or a
 * mismatch is found (then its seed and shortest sequence are printed). One line per runtime.
 *
 * Usage: deno run -A bench/differential.ts [seconds=300] [runtimes=deno,bun] [seed]
 *
 * @module
 */
import process from "node:process";
import { ReferenceRedis } from "../tests/commands/_redis_reference.ts";
import {
  describeMismatch,
  firstMismatch,
  generate,
  RawPipe,
  runBoth,
} from "../tests/e2e/_differential.ts";
import { cleanup, type RuntimeName, startNode } from "../tests/e2e/_harness.ts";

const SECONDS = Number(process.argv[2] ?? 300);
const RUNTIMES = (process.argv[3] ?? "deno,bun").split(",") as RuntimeName[];
const SEED = Number(process.argv[4] ?? Math.floor(Math.random() * 2 ** 31));
const CHUNK = 1000;

let failed = false;
for (const runtime of RUNTIMES) {
  const [node, redis] = await Promise.all([
    startNode(runtime, { args: ["--http", "no"] }),
    ReferenceRedis.start(),
  ]);
  const sides = { ours: await RawPipe.open(node.port), theirs: await RawPipe.open(redis.port) };
  const end = Date.now() + SECONDS * 1000;
  let commands = 0;
  let chunk = 0;
  let report = "";
  try {
    while (Date.now() < end && report === "") {
      const seed = (SEED + chunk++) >>> 0;
      const sequence = generate(seed, CHUNK);
      const [ours, theirs] = await runBoth(sides, sequence);
      const at = firstMismatch(sequence, ours, theirs);
      if (at !== null) report = await describeMismatch(sides, seed, sequence, at);
      commands += sequence.length;
    }
  } finally {
    sides.ours.close();
    sides.theirs.close();
    await Promise.all([cleanup(node), redis.stop()]);
  }
  console.log(
    `${runtime}: ${commands} commands in ${chunk} sequences from seed ${SEED}: ` +
      (report === "" ? "every reply equal to redis-server's" : "MISMATCH"),
  );
  if (report !== "") {
    console.log(report);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
