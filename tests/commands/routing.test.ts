/** The routing step of dispatch: in Redis's order, from keys the command table finds. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { Dispatcher } from "../../src/commands/dispatch.ts";
import type { Route, Router } from "../../src/commands/routing.ts";
import { HERE, SPLIT_NODE } from "../../src/commands/routing.ts";
import { createCommandTable } from "../../src/commands/table.ts";
import { type DeferredReply, internalClient, type UserRole } from "../../src/commands/types.ts";
import { Keyspace } from "../../src/keyspace/keyspace.ts";
import { ReplyWriter } from "../../src/resp/writer.ts";

/** A router whose one-key route is its key-list route for that key (these fakes read keys only). */
function keyListRouter(router: Omit<Router, "routeKey">): Router {
  return { ...router, routeKey: (spec, key, client) => router.route(spec, [key], [key], client) };
}

/** Keys starting with "far" live elsewhere; the router notes every key list it was given. */
function setup(maxMemoryBytes = 0) {
  const clock = { monotonicMs: () => 0, realtimeMs: () => 1_704_067_200_000 };
  const keyspace = new Keyspace([
    { name: "default", maxMemoryBytes, evictionPolicy: "noeviction", defaultTtlMs: 0 },
  ], clock);
  const seen: (string[] | null)[] = [];
  const router = keyListRouter({
    route(_spec, _argv, keys): Route {
      seen.push(keys === null ? null : [...keys]);
      return keys?.some((key) => key.startsWith("far"))
        ? { kind: "redirect", error: "MOVED 1 127.0.0.1:7002" }
        : HERE;
    },
  });
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

/**
 * A router that forwards keys starting "b:" to node B and "c:" to node C for a plain client,
 * recording each transaction it is handed; the test completes the replies.
 */
function forwardingSetup() {
  const clock = { monotonicMs: () => 0, realtimeMs: () => 0 };
  const keyspace = new Keyspace([
    { name: "default", maxMemoryBytes: 0, evictionPolicy: "noeviction", defaultTtlMs: 0 },
  ], clock);
  const transactions: { node: string; commands: string[][]; reply: DeferredReply }[] = [];
  const router = keyListRouter({
    route(_spec, _argv, keys): Route {
      const node = keys?.find((key) => key.startsWith("b:") || key.startsWith("c:"));
      return node === undefined ? HERE : { kind: "forward", node: node.slice(0, 1) };
    },
    forward() {},
    forwardTransaction(node, _client, commands, reply) {
      transactions.push({ node, commands, reply });
    },
  });
  const dispatcher = new Dispatcher(createCommandTable(), keyspace, { info: () => "" }, {}, router);
  const out = new ReplyWriter();
  const deferred: string[] = [];
  const client = internalClient({
    id: 1,
    remoteAddress: "test",
    defer: () => ({
      complete: (write) => {
        const w = new ReplyWriter();
        write(w);
        deferred.push(w.cut(0));
      },
    }),
  });
  const run = (...argv: string[]) => {
    dispatcher.execute(client, out, argv);
    return Buffer.from(out.take()).toString("latin1");
  };
  return { run, transactions, deferred, keyspace };
}

describe("a plain client's transaction for another node", () => {
  it("is handed whole to the router at EXEC, keyless commands included, and its reply relayed", () => {
    const { run, transactions, deferred } = forwardingSetup();
    assert.equal(run("MULTI"), "+OK\r\n");
    assert.equal(run("INCR", "b:n"), "+QUEUED\r\n");
    assert.equal(run("PING"), "+QUEUED\r\n");
    assert.equal(run("GET", "b:n"), "+QUEUED\r\n");
    assert.equal(run("EXEC"), "", "the reply waits for the owner");
    assert.equal(transactions.length, 1);
    assert.equal(transactions[0].node, "b");
    assert.deepEqual(transactions[0].commands, [["INCR", "b:n"], ["PING"], ["GET", "b:n"]]);
    transactions[0].reply.complete((out) => out.rawText("*3\r\n:1\r\n+PONG\r\n$1\r\n1\r\n"));
    assert.deepEqual(deferred, ["*3\r\n:1\r\n+PONG\r\n$1\r\n1\r\n"]);
  });

  it("aborts when its keys are on two nodes, or here and elsewhere, running nothing", () => {
    const { run, transactions, keyspace } = forwardingSetup();
    for (const [first, second] of [["b:x", "c:x"], ["here", "b:x"], ["b:x", "here"]]) {
      assert.equal(run("MULTI"), "+OK\r\n");
      assert.equal(run("SET", first, "1"), "+QUEUED\r\n");
      assert.equal(
        run("SET", second, "1"),
        "-CROSSSLOT Keys in request don't hash to the same slot\r\n",
      );
      assert.match(run("EXEC"), /^-EXECABORT/);
    }
    assert.equal(transactions.length, 0);
    assert.equal(keyspace.store(0).lookup("here", false), undefined);
  });

  it("refuses to split a multi-key command by slot inside MULTI", () => {
    const clock = { monotonicMs: () => 0, realtimeMs: () => 0 };
    const keyspace = new Keyspace([
      { name: "default", maxMemoryBytes: 0, evictionPolicy: "noeviction", defaultTtlMs: 0 },
    ], clock);
    // Every keyed command would be split, as MGET across slots is for a plain client.
    const router = keyListRouter({
      route: (_spec, _argv, keys): Route =>
        keys !== null && keys.length > 0 ? { kind: "forward", node: SPLIT_NODE } : HERE,
      forwardTransaction() {},
    });
    const dispatcher = new Dispatcher(
      createCommandTable(),
      keyspace,
      { info: () => "" },
      {},
      router,
    );
    const out = new ReplyWriter();
    const client = internalClient({ id: 2 });
    for (const argv of [["MULTI"], ["MGET", "a", "b"], ["EXEC"]]) {
      dispatcher.execute(client, out, argv);
    }
    assert.equal(
      Buffer.from(out.take()).toString("latin1"),
      "+OK\r\n-CROSSSLOT Keys in request don't hash to the same slot\r\n" +
        "-EXECABORT Transaction discarded because of previous errors.\r\n",
    );
  });

  it("refuses WATCH of a key on another node: a connection's state stays on its node", () => {
    const { run } = forwardingSetup();
    assert.match(run("WATCH", "b:n"), /^-ERR 'watch' of a key on another node needs a connection/);
    assert.equal(run("WATCH", "here"), "+OK\r\n");
  });
});
