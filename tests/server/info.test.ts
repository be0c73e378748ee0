/**
 * INFO against redis-server 7.0: the Replication section has Redis's fields in Redis's order,
 * and `INFO all` has `# Commandstats` with calls, rejected_calls and failed_calls counted as
 * Redis counts them.
 */
import assert from "node:assert/strict";
import { buildConfig } from "../../src/config/config.ts";
import { HttpExecutor } from "../../src/http/executor.ts";
import { assembleNode } from "../../src/node.ts";
import { currentRuntime } from "../../src/runtime/mod.ts";
import { referenceRedis } from "../commands/_redis_reference.ts";
import { timeLimited } from "../_time_limit.ts";

const { after, before, describe, it } = timeLimited(import.meta.url, 60_000);

/** The `field:value` lines of one INFO section, from a raw bulk reply. */
function sectionLines(reply: string, name: string): string[] {
  const text = reply.slice(reply.indexOf("\r\n") + 2);
  const start = text.indexOf(`# ${name}\r\n`);
  assert.notEqual(start, -1, `no # ${name} section`);
  const body = text.slice(start + name.length + 4);
  const end = body.indexOf("\r\n\r\n");
  return (end === -1 ? body : body.slice(0, end)).split("\r\n").filter((l) => l.includes(":"));
}

describe("INFO sections as redis-server has them", () => {
  const reference = referenceRedis(before, after);
  let executor: HttpExecutor;

  before(async () => {
    const parts = await assembleNode(buildConfig({ port: 0, http: { enabled: false } }), {
      ...await currentRuntime(),
    });
    executor = new HttpExecutor(parts.dispatcher, () => Date.now());
  });

  it("has Redis's Replication fields, in order", async () => {
    const redis = reference();
    if (!redis) return;
    const names = (reply: string) => sectionLines(reply, "Replication").map((l) => l.split(":")[0]);
    const ours = await executor.runText(executor.client("admin", 0), ["INFO", "replication"]);
    assert.deepEqual(names(ours), names(await redis.run("INFO", "replication")));
  });

  it("counts calls, rejected and failed calls in # Commandstats as Redis does", async () => {
    const redis = reference();
    if (!redis) return;
    const client = executor.client("admin", 0);
    const script = [
      ["SET", "k", "v"],
      ["INCR", "k"], // fails: not an integer
      ["SET", "k"], // rejected: arity
      ["GET", "k"],
    ];
    await redis.run("CONFIG", "RESETSTAT");
    for (const argv of script) {
      await redis.run(...argv);
      await executor.runText(client, argv);
    }
    const stats = (reply: string) =>
      sectionLines(reply, "Commandstats")
        .filter((l) => /^cmdstat_(set|get|incr):/.test(l))
        .map((l) => l.replace(/usec=\d+,usec_per_call=[\d.]+,/, ""))
        .sort();
    const theirs = stats(await redis.run("INFO", "all"));
    assert.equal(theirs.length, 3);
    assert.deepEqual(stats(await executor.runText(client, ["INFO", "all"]) as string), theirs);
  });
});
