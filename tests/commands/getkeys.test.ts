/**
 * Keys come from the command table only: `COMMAND GETKEYS` answers byte for byte what a real
 * redis-server answers, for every command of the table that has keys and for the error cases.
 */
import assert from "node:assert/strict";
import { timeLimited } from "../_time_limit.ts";
import { createCommandTable } from "../../src/commands/table.ts";
import type { CommandSpec } from "../../src/commands/types.ts";
import { harness } from "./_ext_harness.ts";
import { referenceRedis } from "./_redis_reference.ts";

const { after, before, describe, it } = timeLimited(import.meta.url, 120_000);

/** Commands Redis 7.0 does not have (HyperCache's own). */
const OURS = new Set(["hfilter"]);

/**
 * Where our answer differs on purpose, with the reason. `PFMERGE dest` without sources: Redis's
 * key specs find no key there (GETKEYS refuses it), so a Redis Cluster would run it on whichever
 * node got it; here it routes to the destination's slot, whose key it creates.
 */
const DIFFERENT = new Set(["pfmerge a1"]);

/** Commands whose arguments must have a shape for their keys to be found. */
const SAMPLES: Record<string, string[][]> = {
  sintercard: [["2", "a", "b"], ["1", "a", "LIMIT", "5"], ["3", "a", "b", "c"]],
  zunion: [["2", "a", "b"], ["1", "a", "WITHSCORES"], ["3", "a", "b"], ["01", "a"]],
  zinter: [["2", "a", "b", "WEIGHTS", "1", "2"], ["0", "a"], ["2x", "a", "b"]],
  zdiff: [["3", "a", "b", "c"], ["-1", "a"]],
  zintercard: [["2", "a", "b", "LIMIT", "1"], ["1x", "a"]],
  zunionstore: [["d", "2", "a", "b"], ["d", "2x", "a", "b"], ["d", "0", "a"], ["d", "3", "a"]],
  zinterstore: [["d", "1", "a", "WEIGHTS", "2"], ["d", "+1", "a"]],
  zdiffstore: [["d", "3", "a", "b", "c"], ["d", "4294967297", "a"]],
  zmpop: [["2", "a", "b", "MIN"], ["2x", "a", "b", "MAX"], ["0", "a", "MIN"], ["5", "a", "b"]],
  lmpop: [["2", "a", "b", "LEFT", "COUNT", "2"], ["01", "a", "b", "LEFT"]],
  bzmpop: [["0", "2", "a", "b", "MAX"], ["x", "1", "a", "MIN"], ["0", "-1", "a", "MIN"]],
  blmpop: [["0", "1", "a", "RIGHT"], ["0", "2x", "a", "b", "LEFT"], ["0", "3", "a", "LEFT"]],
  xread: [
    ["STREAMS", "a", "b"],
    ["STREAMS", "a", "b", "c"],
    ["COUNT", "1", "STREAMS", "a", "b", "c", "d"],
    ["streams", "STREAMS", "a", "b"],
    ["COUNT", "1", "STREAMS"],
    ["STREAMS", "a", "b", "STREAMS", "c", "d"],
    ["a1", "a2", "a3"],
  ],
  xreadgroup: [
    ["GROUP", "g", "c", "STREAMS", "k", "1"],
    ["GROUP", "STREAMS", "c", "STREAMS", "k", "1"],
    ["GROUP", "g", "STREAMS", "STREAMS", "k", "1"],
    ["GROUP", "g", "STREAMS", "k", "1", "2", "3"],
    ["GROUP", "g", "c", "STREAMS", "k1", "k2", "1", "2"],
    ["a1", "a2", "a3", "a4", "a5", "a6"],
  ],
};

/** Sample argvs for a command: its samples, or distinct tokens up to its arity (and beyond). */
function samplesFor(spec: CommandSpec): string[][] {
  const name = spec.name.split("|");
  if (SAMPLES[spec.name]) return SAMPLES[spec.name].map((args) => [...name, ...args]);
  const lengths = spec.arity > 0 ? [spec.arity] : [-spec.arity, -spec.arity + 1, -spec.arity + 3];
  return lengths.map((length) => {
    const argv = [...name];
    while (argv.length < length) argv.push(`a${argv.length}`);
    return argv;
  });
}

const table = createCommandTable();
const KEYED = table.specs.flatMap((spec) => [spec, ...(spec.subcommands ?? [])]).filter((spec) =>
  (spec.firstKey > 0 || spec.keyFinder !== undefined) && !OURS.has(spec.name)
);

describe("COMMAND GETKEYS against redis-server", () => {
  const reference = referenceRedis(before, after);

  it("finds the same keys as redis-server for every command of the table that has keys", async (t) => {
    const redis = reference();
    if (redis === undefined) return t.skip("redis-server is not installed");
    const h = harness();
    const different: string[] = [];
    let compared = 0;
    for (const spec of KEYED) {
      for (const argv of samplesFor(spec)) {
        const request = ["COMMAND", "GETKEYS", ...argv];
        const theirs = await redis.run(...request);
        const ours = h.run(...request);
        compared++;
        if (ours !== theirs && !DIFFERENT.has(argv.join(" "))) {
          different.push(`${argv.join(" ")}: ours ${JSON.stringify(ours)}, redis ${theirs}`);
        }
      }
    }
    assert.ok(compared > 100, `only ${compared} cases`);
    assert.deepEqual(different, []);
  });

  it("gives redis-server's errors for bad requests", async (t) => {
    const redis = reference();
    if (redis === undefined) return t.skip("redis-server is not installed");
    const h = harness();
    for (
      const request of [
        ["COMMAND", "GETKEYS"],
        ["COMMAND", "GETKEYS", "GET"],
        ["COMMAND", "GETKEYS", "NOPE", "a"],
        ["COMMAND", "GETKEYS", "PING", "x"],
        ["COMMAND", "GETKEYS", "GET", "a", "b"],
        ["COMMAND", "GETKEYS", "SINTERCARD", "5", "a"],
        ["COMMAND", "GETKEYS", "SINTERCARD", "0", "a"],
        ["COMMAND", "GETKEYS", "SINTERCARD", "x", "a"],
        ["COMMAND", "GETKEYS", "OBJECT", "NOPE", "k"],
        ["COMMAND", "GETKEYS", "CLIENT", "KILL", "x"],
      ]
    ) {
      assert.equal(h.run(...request), await redis.run(...request), request.join(" "));
    }
  });
});
