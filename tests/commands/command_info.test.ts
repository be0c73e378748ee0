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

/** The key indices a key spec (as COMMAND INFO gives it) finds in `argv`. */
function keysBySpec(keySpec: Info, argv: string[]): number[] {
  const spec = map(keySpec);
  const begin = Number(map(map(spec.begin_search).spec).index);
  const find = map(spec.find_keys);
  const how = map(find.spec);
  if (find.type === "keynum") {
    const count = Number(argv[begin + Number(how.keynumidx)]);
    const first = begin + Number(how.firstkey);
    return Array.from({ length: count }, (_, i) => first + i * Number(how.keystep));
  }
  const lastkey = Number(how.lastkey);
  const last = lastkey < 0 ? argv.length + lastkey : begin + lastkey;
  const found: number[] = [];
  for (let i = begin; i <= last && i < argv.length; i += Number(how.keystep)) found.push(i);
  return found;
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
    const samples: Record<string, string[]> = { sintercard: ["3", "a", "b", "c", "LIMIT", "1"] };
    let checked = 0;
    for (const spec of ALL.filter((s: CommandSpec) => s.firstKey > 0 || s.keyFinder)) {
      const [parent, sub] = spec.name.split("|");
      const [info] = decodeInfo(h.run("COMMAND", "INFO", parent));
      const own = sub === undefined ? info : (info[9] as Info[]).find((x) => x[0] === spec.name)!;
      const keySpecs = own[8] as Info[];
      assert.equal(keySpecs.length, 1, spec.name);
      const argv = [...spec.name.split("|"), ...(samples[spec.name] ?? [])];
      while (argv.length < Math.abs(spec.arity) + 2) argv.push(`a${argv.length}`);
      assert.deepEqual(keysBySpec(keySpecs[0], argv), keyIndices(spec, argv), spec.name);
      checked++;
    }
    assert.ok(checked > 100, `${checked} commands`);
  });
});
