import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { Dispatcher } from "../../src/commands/dispatch.ts";
import { createCommandTable } from "../../src/commands/table.ts";
import { internalClient } from "../../src/commands/types.ts";
import { Keyspace } from "../../src/keyspace/keyspace.ts";
import { ReplyWriter } from "../../src/resp/writer.ts";

/** A dispatcher with two independent connections, `a` and `b`, on one keyspace. */
function setup() {
  let nowMs = 1_704_067_200_000;
  const clock = { monotonicMs: () => nowMs, realtimeMs: () => nowMs };
  const keyspace = new Keyspace([
    { name: "default", maxMemoryBytes: 0, evictionPolicy: "noeviction", defaultTtlMs: 0 },
  ], clock);
  const logged: string[][] = [];
  const dispatcher = new Dispatcher(createCommandTable(), keyspace, { info: () => "" }, {
    propagate: (_db, argv) => logged.push(argv),
  });
  const out = new ReplyWriter();
  const connection = (id: number) => {
    const client = internalClient({ id, remoteAddress: "test" });
    return (...argv: string[]) => {
      dispatcher.execute(client, out, argv);
      return Buffer.from(out.take()).toString("latin1");
    };
  };
  return { a: connection(1), b: connection(2), logged, advance: (ms: number) => (nowMs += ms) };
}

describe("MULTI / EXEC / WATCH", () => {
  it("queues commands and replies with all their replies on EXEC", () => {
    const { a } = setup();
    assert.equal(a("MULTI"), "+OK\r\n");
    assert.equal(a("SET", "k", "1"), "+QUEUED\r\n");
    assert.equal(a("INCR", "k"), "+QUEUED\r\n");
    assert.equal(a("GET", "k"), "+QUEUED\r\n");
    assert.equal(a("EXEC"), "*3\r\n+OK\r\n:2\r\n$1\r\n2\r\n");
  });

  it("aborts with EXECABORT when a command failed to queue, and runs none of them", () => {
    const { a } = setup();
    a("MULTI");
    a("SET", "k", "1");
    assert.match(a("NOSUCHCOMMAND"), /^-ERR unknown command/);
    assert.equal(a("GET"), "-ERR wrong number of arguments for 'get' command\r\n");
    assert.equal(a("EXEC"), "-EXECABORT Transaction discarded because of previous errors.\r\n");
    assert.equal(a("GET", "k"), "$-1\r\n");
  });

  it("keeps running after a command fails at run time, as Redis does", () => {
    const { a } = setup();
    a("SET", "s", "text");
    a("MULTI");
    a("INCR", "s");
    a("SET", "t", "1");
    assert.equal(a("EXEC"), "*2\r\n-ERR value is not an integer or out of range\r\n+OK\r\n");
  });

  it("returns a null array when another connection changed a watched key", () => {
    const { a, b } = setup();
    a("SET", "balance", "10");
    assert.equal(a("WATCH", "balance"), "+OK\r\n");
    b("SET", "balance", "20");
    a("MULTI");
    a("SET", "balance", "11");
    assert.equal(a("EXEC"), "*-1\r\n");
    assert.equal(a("GET", "balance"), "$2\r\n20\r\n");
  });

  it("executes when only other keys changed, and unwatches after EXEC", () => {
    const { a, b } = setup();
    a("WATCH", "x");
    b("SET", "other", "1");
    a("MULTI");
    a("SET", "x", "1");
    assert.equal(a("EXEC"), "*1\r\n+OK\r\n");
    b("SET", "x", "2");
    a("MULTI");
    a("GET", "x");
    assert.equal(a("EXEC"), "*1\r\n$1\r\n2\r\n");
  });

  it("aborts when a watched key is created, deleted or expires", () => {
    const { a, b, advance } = setup();
    a("WATCH", "new");
    b("SET", "new", "1");
    a("MULTI");
    assert.equal(a("EXEC"), "*-1\r\n");
    a("WATCH", "new");
    b("DEL", "new");
    a("MULTI");
    assert.equal(a("EXEC"), "*-1\r\n");
    b("SET", "ttl", "1", "PX", "100");
    a("WATCH", "ttl");
    advance(200);
    a("MULTI");
    assert.equal(a("EXEC"), "*-1\r\n");
  });

  it("discards the queue and the watches on DISCARD; refuses nesting and WATCH inside MULTI", () => {
    const { a } = setup();
    assert.equal(a("EXEC"), "-ERR EXEC without MULTI\r\n");
    assert.equal(a("DISCARD"), "-ERR DISCARD without MULTI\r\n");
    a("MULTI");
    assert.equal(a("MULTI"), "-ERR MULTI calls can not be nested\r\n");
    assert.equal(a("WATCH", "k"), "-ERR WATCH inside MULTI is not allowed\r\n");
    a("SET", "k", "v");
    assert.equal(a("DISCARD"), "+OK\r\n");
    assert.equal(a("GET", "k"), "$-1\r\n");
  });

  it("logs a transaction's writes inside MULTI/EXEC so a replay applies all or none", () => {
    const { a, logged } = setup();
    a("MULTI");
    a("SET", "a", "1");
    a("GET", "a");
    a("SET", "b", "2");
    a("EXEC");
    assert.deepEqual(logged, [["MULTI"], ["SET", "a", "1"], ["SET", "b", "2"], ["EXEC"]]);
  });
});
