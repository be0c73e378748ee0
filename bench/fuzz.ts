/**
 * The command fuzzer of tests/e2e/_fuzz.ts, for long: a real node per runtime, several fuzzing
 * connections and a checking client for the given time, then the node's memory after FLUSHALL
 * and MEMORY PURGE. Prints one line per runtime; figures go in bench/README.md.
 *
 * Usage: deno run -A bench/fuzz.ts [seconds=300] [runtimes=deno,bun] [seed]
 *
 * @module
 */
import process from "node:process";
import { fuzz, rssBytes } from "../tests/e2e/_fuzz.ts";
import { cleanup, type RuntimeName, startNode } from "../tests/e2e/_harness.ts";
import { RespClient } from "../tests/e2e/_resp_client.ts";

const SECONDS = Number(process.argv[2] ?? 300);
const RUNTIMES = (process.argv[3] ?? "deno,bun").split(",") as RuntimeName[];
const SEED = Number(process.argv[4] ?? Math.floor(Math.random() * 2 ** 31));
const MB = 1024 * 1024;

let failed = false;
for (const runtime of RUNTIMES) {
  const node = await startNode(runtime, { args: ["--http", "no"] });
  try {
    const pid = node.process.pid!;
    const result = await fuzz({
      port: node.port,
      pid,
      seed: SEED,
      durationMs: SECONDS * 1000,
      connections: 6,
      maxCommands: 100_000_000,
    });
    const up = node.process.exitCode === null;
    let endRss = 0;
    if (up) {
      const admin = await RespClient.open(node.port);
      await admin.send("FLUSHALL");
      await admin.send("MEMORY", "PURGE");
      admin.close();
      await new Promise((resolve) => setTimeout(resolve, 1000));
      endRss = rssBytes(pid);
    }
    const wrong = result.wrongAnswers.length + result.malformedReplies.length;
    if (!up || wrong > 0) failed = true;
    console.log(
      `${runtime}: ${SECONDS} s, seed ${SEED}: ${result.commandsSent} commands ` +
        `(${Math.round(result.commandsSent / SECONDS)}/s), ${result.repliesRead} replies, ` +
        `${result.reconnects} reconnects; checker ${result.checks} checks, ${wrong} wrong, ` +
        `slowest ${result.slowestCheckMs} ms; ` +
        `node ${up ? "up" : "DOWN"}; RSS ${(result.rssStartBytes / MB).toFixed(0)} MB at start, ` +
        `${(result.rssPeakBytes / MB).toFixed(0)} peak, ${(endRss / MB).toFixed(0)} after FLUSHALL`,
    );
    for (const line of [...result.wrongAnswers, ...result.malformedReplies].slice(0, 10)) {
      console.log(`  ${line}`);
    }
  } finally {
    await cleanup(node);
  }
}
process.exitCode = failed ? 1 : 0;
