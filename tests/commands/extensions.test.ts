import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { Dispatcher } from "../../src/commands/dispatch.ts";
import { createCommandTable } from "../../src/commands/table.ts";
import { internalClient, type ServerHooks } from "../../src/commands/types.ts";
import { Keyspace } from "../../src/keyspace/keyspace.ts";
import { ReplyWriter } from "../../src/resp/writer.ts";
import { Auth, passwordDigest } from "../../src/server/auth.ts";

function setup(hooks: Partial<ServerHooks> = {}) {
  const clock = { monotonicMs: () => 0, realtimeMs: () => 1_704_067_200_000 };
  const keyspace = new Keyspace([
    { name: "default", maxMemoryBytes: 0, evictionPolicy: "noeviction", defaultTtlMs: 0 },
    {
      name: "sessions",
      maxMemoryBytes: 1 << 20,
      evictionPolicy: "session",
      defaultTtlMs: 30_000,
      filter: { capacity: 1000, errorRate: 0.01 },
    },
  ], clock);
  const dispatcher = new Dispatcher(createCommandTable(), keyspace, { info: () => "", ...hooks });
  const out = new ReplyWriter();
  const client = internalClient({ id: 7 });
  const run = (...argv: string[]) => {
    dispatcher.execute(client, out, argv);
    return Buffer.from(out.take()).toString("latin1");
  };
  return { run, client, keyspace };
}

describe("HyperCache's own commands", () => {
  it("STORES lists every store with its settings and key count", () => {
    const { run } = setup();
    run("SELECT", "sessions");
    run("SET", "s:1", "alice");
    const reply = run("STORES");
    assert.match(reply, /^\*2\r\n/);
    assert.match(reply, /\$4\r\nname\r\n\$7\r\ndefault\r\n/);
    assert.match(reply, /\$4\r\nname\r\n\$8\r\nsessions\r\n/);
    assert.match(reply, /\$15\r\neviction_policy\r\n\$7\r\nsession\r\n/);
    assert.match(reply, /\$14\r\ndefault_ttl_ms\r\n:30000\r\n/);
    assert.match(reply, /\$6\r\nfilter\r\n:1\r\n\$4\r\nkeys\r\n:1\r\n$/);
  });

  it("HSTATS counts keys, hits, misses and the filter of a store", () => {
    const { run } = setup();
    run("SELECT", "sessions");
    run("SET", "a", "1");
    run("GET", "a");
    run("GET", "missing");
    const reply = run("HSTATS", "sessions");
    assert.match(reply, /\$5\r\nstore\r\n\$8\r\nsessions\r\n/);
    assert.match(reply, /\$4\r\nkeys\r\n:1\r\n/);
    assert.match(reply, /\$4\r\nhits\r\n:1\r\n/);
    assert.match(reply, /\$6\r\nmisses\r\n:1\r\n/);
    assert.match(reply, /\$12\r\nfilter_items\r\n:1\r\n/);
    assert.equal(run("HSTATS", "nope"), "-ERR no such store 'nope'\r\n");
  });

  it("HFILTER says whether the store's filter may hold a key, and errors without a filter", () => {
    const { run } = setup();
    run("SELECT", "sessions");
    run("SET", "present", "1");
    assert.equal(run("HFILTER", "sessions", "present"), ":1\r\n");
    assert.equal(run("HFILTER", "sessions", "absent-key"), ":0\r\n");
    assert.equal(run("HFILTER", "default", "x"), "-ERR store 'default' has no filter\r\n");
  });
});

describe("AUTH with named users", () => {
  it("authenticates users by role, refuses wrong passwords and counts the failures", () => {
    const auth = new Auth("admin-pass", [
      { name: "reader", passwordSha256: passwordDigest("r-pass"), role: "readonly" },
    ]);
    const { run, client } = setup({ auth });
    client.authenticated = false;
    assert.equal(run("GET", "k"), "-NOAUTH Authentication required.\r\n");
    assert.equal(
      run("AUTH", "reader", "wrong"),
      "-WRONGPASS invalid username-password pair or user is disabled.\r\n",
    );
    assert.equal(
      run("AUTH", "ghost", "r-pass"),
      "-WRONGPASS invalid username-password pair or user is disabled.\r\n",
    );
    assert.equal(auth.failures, 2);
    assert.equal(run("AUTH", "reader", "r-pass"), "+OK\r\n");
    assert.equal(run("GET", "k"), "$-1\r\n");
    assert.equal(
      run("SET", "k", "v"),
      "-NOPERM User reader has no permissions to run the 'set' command\r\n",
    );
    assert.equal(run("ACL", "WHOAMI"), "$6\r\nreader\r\n");
    assert.equal(run("AUTH", "admin-pass"), "+OK\r\n");
    assert.equal(run("SET", "k", "v"), "+OK\r\n");
  });

  it("keeps passwords only as SHA-256 digests", () => {
    assert.equal(
      passwordDigest("password"),
      "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8",
    );
    const auth = new Auth("s3cret-value", []);
    assert.ok(!JSON.stringify(auth).includes("s3cret-value"));
    assert.equal(auth.check("default", "s3cret-value"), "admin");
  });
});
