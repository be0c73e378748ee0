/** The routing step of dispatch: in Redis's order, from keys the command table finds. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { Dispatcher } from "../../src/commands/dispatch.ts";
import type { Route, Router } from "../../src/commands/routing.ts";
import { HERE } from "../../src/commands/routing.ts";
import { createCommandTable } from "../../src/commands/table.ts";
import { internalClient, type UserRole } from "../../src/commands/types.ts";
import { Keyspace } from "../../src/keyspace/keyspace.ts";
import { ReplyWriter } from "../../src/resp/writer.ts";

/** Keys starting with "far" live elsewhere; the router notes every key list it was given. */
function setup(maxMemoryBytes = 0) {
  const clock = { monotonicMs: () => 0, realtimeMs: () => 1_704_067_200_000 };
  const keyspace = new Keyspace([
    { name: "default", maxMemoryBytes, evictionPolicy: "noeviction", defaultTtlMs: 0 },
  ], clock);
  const seen: (string[] | null)[] = [];
  const router: Router = {
    route(_spec, _argv, keys): Route {
      seen.push(keys === null ? null : [...keys]);
      return keys?.some((key) => key.startsWith("far"))
        ? { kind: "redirect", error: "MOVED 1 127.0.0.1:7002" }
        : HERE;
    },
  };
  const dispatcher = new Dispatcher(createCommandTable(), keyspace, { info: () => "" }, {}, router);
  const out = new ReplyWriter();
  const client = internalClient({ id: 1, remoteAddress: "test" });
  const run = (...argv: string[]) => {
    dispatcher.execute(client, out, argv);
    return Buffer.from(out.take()).toString("latin1");
  };
  return { run, seen, client, keyspace };
}

describe("routing in dispatch", () => {
  it("redirects a command whose key lives elsewhere and runs the others here", () => {
    const { run } = setup();
    assert.equal(run("SET", "far:a", "1"), "-MOVED 1 127.0.0.1:7002\r\n");
    assert.equal(run("SET", "near", "1"), "+OK\r\n");
    assert.equal(run("GET", "far:a"), "-MOVED 1 127.0.0.1:7002\r\n");
  });

  it("gives the router the keys the table finds: fixed positions, steps, key finders, subcommands", () => {
    const { run, seen } = setup();
    run("MSET", "a", "1", "b", "2");
    run("SINTERCARD", "2", "s1", "s2", "LIMIT", "3");
    run("OBJECT", "ENCODING", "k");
    run("PING");
    run("SINTERCARD", "9", "s1");
    assert.deepEqual(seen, [["a", "b"], ["s1", "s2"], ["k"], [], null]);
  });

  it("checks arity and permissions before routing, and routing before the memory limit", () => {
    const { run, client, keyspace } = setup(1);
    assert.match(run("GET", "far:a", "extra"), /^-ERR wrong number of arguments/);
    client.role = "readonly" as UserRole;
    assert.match(run("SET", "far:a", "1"), /^-NOPERM/);
    client.role = "admin";
    // The store is over its (1 byte) limit: a write for elsewhere is redirected, not refused.
    keyspace.store(0).set("filler", "x".repeat(100));
    assert.equal(run("SET", "far:a", "1"), "-MOVED 1 127.0.0.1:7002\r\n");
    assert.match(run("SET", "near", "1"), /^-OOM/);
  });

  it("refuses to queue, inside MULTI, a command that would not run here, and EXEC aborts", () => {
    const { run } = setup();
    assert.equal(run("MULTI"), "+OK\r\n");
    assert.equal(run("SET", "near", "1"), "+QUEUED\r\n");
    assert.equal(run("SET", "far:a", "1"), "-MOVED 1 127.0.0.1:7002\r\n");
    assert.match(run("EXEC"), /^-EXECABORT/);
    assert.equal(run("GET", "near"), "$-1\r\n");
  });

  it("runs everything here without a router (a single node)", () => {
    const clock = { monotonicMs: () => 0, realtimeMs: () => 0 };
    const keyspace = new Keyspace([
      { name: "default", maxMemoryBytes: 0, evictionPolicy: "noeviction", defaultTtlMs: 0 },
    ], clock);
    const dispatcher = new Dispatcher(createCommandTable(), keyspace, { info: () => "" });
    const out = new ReplyWriter();
    dispatcher.execute(internalClient(), out, ["SET", "far:a", "1"]);
    assert.equal(Buffer.from(out.take()).toString("latin1"), "+OK\r\n");
  });
});
