/**
 * ACL categories on every command, compared with a real redis-server's, and a walk of the whole
 * table for each role through the dispatcher.
 */
import assert from "node:assert/strict";
import { timeLimited } from "../_time_limit.ts";
import { ACL_CATEGORIES, allowedBy, ROLE_RULES } from "../../src/commands/acl.ts";
import { createCommandTable } from "../../src/commands/table.ts";
import type { CommandSpec, UserRole } from "../../src/commands/types.ts";
import { RespDecoder } from "../../src/resp/decoder.ts";
import { harness } from "./_ext_harness.ts";
import { referenceRedis } from "./_redis_reference.ts";

const { after, before, describe, it } = timeLimited(import.meta.url, 120_000);

const table = createCommandTable();
/** Every command and subcommand of the table. */
const ALL: CommandSpec[] = table.specs.flatMap((spec) => [spec, ...(spec.subcommands ?? [])]);
/** Commands that are HyperCache's own or newer than the reference redis-server (7.0). */
const NOT_IN_REDIS_7_0 = new Set([
  "stores",
  "hstats",
  "hfilter",
  "client|setinfo",
  "client|no-touch",
]);

/** The argv that reaches a command's permission check: the name (parent and subcommand), then
 * placeholder arguments up to its arity. */
function argvFor(spec: CommandSpec): string[] {
  const argv = spec.name.split("|");
  const wanted = Math.abs(spec.arity);
  while (argv.length < wanted) argv.push("x");
  return argv;
}

const has = (spec: CommandSpec, category: string) =>
  spec.categories.includes(category as typeof spec.categories[number]);

describe("ACL categories", () => {
  const reference = referenceRedis(before, after);

  it("every command and subcommand has categories, each one Redis has", () => {
    for (const spec of ALL) {
      assert.ok(spec.categories.length > 0, `${spec.name} has no ACL category`);
      for (const category of spec.categories) {
        assert.ok(ACL_CATEGORIES.includes(category), `${spec.name}: unknown @${category}`);
      }
      assert.ok(
        has(spec, "fast") !== has(spec, "slow"),
        `${spec.name} is exactly one of @fast and @slow`,
      );
    }
  });

  it("are the categories redis-server gives each command in COMMAND INFO", async (t) => {
    const redis = reference();
    if (redis === undefined) return t.skip("redis-server is not installed");
    const decoder = new RespDecoder();
    const names = ALL.map((spec) => spec.name).filter((name) => !NOT_IN_REDIS_7_0.has(name));
    const [replies] = decoder.feed(await redis.run("COMMAND", "INFO", ...names)) as unknown[][][];
    assert.equal(replies.length, names.length);
    const mismatches: string[] = [];
    replies.forEach((info, i) => {
      const spec = table.lookup(names[i].split("|")[0])!;
      const ours = (names[i].includes("|")
        ? spec.subcommands!.find((sub) => sub.name === names[i])!
        : spec).categories.map((c) => `@${c}`).sort().join(" ");
      if (info === null) return mismatches.push(`${names[i]}: not in redis-server`);
      const theirs = (info[6] as string[]).slice().sort().join(" ");
      if (ours !== theirs) mismatches.push(`${names[i]}: ours ${ours}, redis ${theirs}`);
    });
    assert.deepEqual(mismatches, []);
  });
});

describe("roles, walking the whole command table", () => {
  const ROLES: UserRole[] = ["readonly", "readwrite", "admin"];
  /** What a role may never run, whatever its rules say: the point of having the role. */
  const forbidden: Record<UserRole, (spec: CommandSpec) => boolean> = {
    admin: () => false,
    readwrite: (spec) => has(spec, "admin"),
    readonly: (spec) =>
      has(spec, "write") || has(spec, "admin") || spec.name === "publish" ||
      (has(spec, "dangerous") && spec.name !== "info"),
  };

  for (const role of ROLES) {
    it(`${role}: every command it may not run answers NOPERM, every other one runs`, () => {
      // DEBUG allowed: under the default `no` it is refused before any ACL check, as in Redis.
      const h = harness({ hooks: { enableDebugCommand: "yes" } });
      h.client.role = role;
      h.client.user = role;
      const wrong: string[] = [];
      for (const spec of ALL) {
        const reply = h.run(...argvFor(spec));
        const refused = reply.startsWith("-NOPERM");
        const expected = !allowedBy(ROLE_RULES[role], spec);
        if (refused !== expected) wrong.push(`${spec.name}: ${reply.slice(0, 60).trim()}`);
        if (!refused && forbidden[role](spec)) wrong.push(`${spec.name} runs for ${role}`);
        if (refused) {
          assert.equal(
            reply,
            `-NOPERM User ${role} has no permissions to run the '${spec.name}' command\r\n`,
          );
        }
      }
      assert.deepEqual(wrong, []);
    });
  }

  it("readonly runs what clients send at connect and for reads", () => {
    const h = harness();
    h.client.role = "readonly";
    for (
      const argv of [
        ["HELLO", "3"],
        ["CLIENT", "SETNAME", "app"],
        ["CLIENT", "SETINFO", "LIB-NAME", "ioredis"],
        ["CLIENT", "ID"],
        ["PING"],
        ["INFO", "server"],
        ["SELECT", "0"],
        ["GET", "k"],
        ["MULTI"],
        ["EXEC"],
        ["ACL", "WHOAMI"],
        ["SUBSCRIBE", "news"],
      ]
    ) {
      assert.doesNotMatch(h.run(...argv), /^-NOPERM/, argv.join(" "));
    }
  });

  it("the found defects: readonly and readwrite users are refused admin commands", () => {
    const cases: [UserRole, string[]][] = [
      ["readonly", ["CLIENT", "KILL", "USER", "default"]],
      ["readonly", ["CLIENT", "LIST"]],
      ["readonly", ["ACL", "LIST"]],
      ["readonly", ["ACL", "USERS"]],
      ["readonly", ["MEMORY", "PURGE"]],
      ["readonly", ["PUBLISH", "news", "hi"]],
      ["readwrite", ["CLIENT", "KILL", "USER", "default"]],
      ["readwrite", ["CLIENT", "LIST"]],
      ["readwrite", ["ACL", "LIST"]],
      ["readwrite", ["CONFIG", "GET", "*"]],
    ];
    for (const [role, argv] of cases) {
      const h = harness();
      h.client.role = role;
      h.client.user = "u";
      const name = `${argv[0]}|${argv[1]}`.toLowerCase();
      const expected = argv[0] === "PUBLISH" ? "publish" : name;
      assert.equal(
        h.run(...argv),
        `-NOPERM User u has no permissions to run the '${expected}' command\r\n`,
        `${role}: ${argv.join(" ")}`,
      );
    }
  });

  it("ACL LIST shows each role's rules", () => {
    const h = harness();
    assert.match(h.run("ACL", "LIST"), /user default on nopass ~\* &\* \+@all/);
  });
});
