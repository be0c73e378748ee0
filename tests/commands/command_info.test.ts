/**
 * COMMAND INFO from the table: arity, key positions and the movablekeys flag as redis-server
 * gives them for every command both have, and key specs that find exactly the keys the table
 * finds.
 */
import assert from "node:assert/strict";
import { timeLimited } from "../_time_limit.ts";
import { createCommandTable } from "../../src/commands/table.ts";
import { type CommandSpec, keyIndices } from "../../src/commands/types.ts";
import { RespDecoder } from "../../src/resp/decoder.ts";
import { harness } from "./_ext_harness.ts";
import { referenceRedis } from "./_redis_reference.ts";

const { after, before, describe, it } = timeLimited(import.meta.url, 120_000);

const table = createCommandTable();
const ALL = table.specs.flatMap((spec) => [spec, ...(spec.subcommands ?? [])]);
const OURS = new Set(["stores", "hstats", "hfilter", "client|setinfo", "client|no-touch"]);
// deno-lint-ignore no-explicit-any
type Info = any[];

function decodeInfo(text: string): Info[] {
  return new RespDecoder().feed(text)[0] as Info[];
}

/** RESP2 flattens maps into [key, value, ...] arrays; this reads one back. */
// deno-lint-ignore no-explicit-any
function map(flat: any[]): Record<string, any> {
  const result: Record<string, unknown> = {};
  for (let i = 0; i < flat.length; i += 2) result[flat[i]] = flat[i + 1];
  return result;
}

/** The key indices a key spec (as COMMAND INFO gives it) finds in `argv`, or null for none. */
function keysBySpec(keySpec: Info, argv: string[]): number[] | null {
  const spec = map(keySpec);
  const search = map(spec.begin_search);
  let begin: number;
  if (search.type === "keyword") {
    // The keys start after the keyword (XREAD's STREAMS), searched for from `startfrom`.
    const { keyword, startfrom } = map(search.spec);
    const at = argv.findIndex((arg, i) => i >= Number(startfrom) && arg.toUpperCase() === keyword);
    if (at === -1) return null;
    begin = at + 1;
  } else {
    begin = Number(map(search.spec).index);
  }
  const find = map(spec.find_keys);
  const how = map(find.spec);
  if (find.type === "keynum") {
    const count = Number(argv[begin + Number(how.keynumidx)]);
    const first = begin + Number(how.firstkey);
    return Array.from({ length: count }, (_, i) => first + i * Number(how.keystep));
  }
  const lastkey = Number(how.lastkey);
  let last = lastkey < 0 ? argv.length + lastkey : begin + lastkey;
  // `limit` n: only the first 1/n of the range are keys (XREAD's keys, then as many IDs).
  if (Number(how.limit) > 1) last = begin + Math.floor((last - begin + 1) / Number(how.limit)) - 1;
  const found: number[] = [];
  for (let i = begin; i <= last && i < argv.length; i += Number(how.keystep)) found.push(i);
  return found.length === 0 && search.type === "keyword" ? null : found;
}

describe("COMMAND INFO", () => {
  const reference = referenceRedis(before, after);

  it("gives redis-server's arity, key positions and movablekeys flag for every command", async (t) => {
    const redis = reference();
    if (redis === undefined) return t.skip("redis-server is not installed");
    const names = ALL.map((spec) => spec.name).filter((name) => !OURS.has(name));
    const theirs = decodeInfo(await redis.run("COMMAND", "INFO", ...names));
    const ours = decodeInfo(harness().run("COMMAND", "INFO", ...names.map((n) => n.split("|")[0])));
    const byName = new Map<string, Info>();
    const collect = (info: Info) => {
      byName.set(info[0], info);
      for (const sub of info[9]) collect(sub);
    };
    ours.forEach(collect);
    const different: string[] = [];
    theirs.forEach((info, i) => {
      const mine = byName.get(names[i]);
      if (mine === undefined) return different.push(`${names[i]}: missing`);
      const shape = (x: Info) =>
        JSON.stringify([x[1], x[3], x[4], x[5], (x[2] as string[]).includes("movablekeys")]);
      if (shape(mine) !== shape(info)) {
        different.push(`${names[i]}: ours ${shape(mine)}, redis ${shape(info)}`);
      }
    });
    assert.deepEqual(different, []);
  });

  it("has key specs that find exactly the keys the table finds", () => {
    const h = harness();
    const samples: Record<string, string[]> = {
      sintercard: ["3", "a", "b", "c", "LIMIT", "1"],
      xread: ["COUNT", "1", "STREAMS", "a", "b", "0", "0"],
      xreadgroup: ["GROUP", "g", "c", "STREAMS", "a", "b", "c", "0", "0", "0"],
      zunion: ["2", "a", "b"],
      zinter: ["2", "a", "b", "WEIGHTS", "1", "2"],
      zdiff: ["3", "a", "b", "c"],
      zintercard: ["2", "a", "b", "LIMIT", "1"],
      zunionstore: ["d", "2", "a", "b"],
      zinterstore: ["d", "1", "a", "WEIGHTS", "2"],
      zdiffstore: ["d", "3", "a", "b", "c"],
      zmpop: ["2", "a", "b", "MIN"],
      lmpop: ["2", "a", "b", "LEFT", "COUNT", "2"],
      bzmpop: ["0", "2", "a", "b", "MAX"],
      blmpop: ["0", "1", "a", "RIGHT"],
    };
    let checked = 0;
    for (const spec of ALL.filter((s: CommandSpec) => s.firstKey > 0 || s.keyFinder)) {
      const [parent, sub] = spec.name.split("|");
      const [info] = decodeInfo(h.run("COMMAND", "INFO", parent));
      const own = sub === undefined ? info : (info[9] as Info[]).find((x) => x[0] === spec.name)!;
      const keySpecs = own[8] as Info[];
      // One key spec, or two for a destination before the count (ZUNIONSTORE).
      assert.ok(keySpecs.length === 1 || keySpecs.length === 2, spec.name);
      const argv = [...spec.name.split("|"), ...(samples[spec.name] ?? [])];
      while (argv.length < Math.abs(spec.arity) + 2) argv.push(`a${argv.length}`);
      const found = keySpecs.map((keySpec) => keysBySpec(keySpec, argv));
      const keys = found.includes(null) ? null : found.flat();
      assert.deepEqual(keys, keyIndices(spec, argv), spec.name);
      checked++;
    }
    assert.ok(checked > 100, `${checked} commands`);
  });
});
