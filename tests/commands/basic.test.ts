import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Dispatcher } from "../../src/commands/dispatch.ts";
import { createCommandTable } from "../../src/commands/table.ts";
import { type ClientState, internalClient, type UserRole } from "../../src/commands/types.ts";
import { Keyspace, type StoreOptions, type Value } from "../../src/keyspace/mod.ts";
import { ReplyWriter } from "../../src/resp/writer.ts";
import { FakeClock } from "../_clock.ts";

/** Enough of a hash value for TYPE and WRONGTYPE checks. */
const FAKE_HASH = { type: "hash", sizeBytes: 0, length: 0 } as unknown as Value;

const STORE = { maxMemoryBytes: 0, evictionPolicy: "noeviction", defaultTtlMs: 0 } as const;

/** A dispatcher over a fresh keyspace, with a helper that runs one command and returns its reply. */
function setup(stores: StoreOptions[] = [
  { name: "default", ...STORE },
  { name: "sessions", ...STORE },
]) {
  const clock = new FakeClock();
  const keyspace = new Keyspace(stores, clock);
  const propagated: [number, string[]][] = [];
  const dispatcher = new Dispatcher(createCommandTable(), keyspace, {
    info: () => "# Server\r\n",
  }, { propagate: (db, argv) => propagated.push([db, argv]) });
  const out = new ReplyWriter();
  const client = makeClient();
  const run = (...argv: string[]): string => {
    dispatcher.execute(client, out, argv);
    return latin1(out.take());
  };
  return { clock, keyspace, dispatcher, propagated, out, client, run };
}

function makeClient(role: UserRole = "admin"): ClientState {
  return internalClient({ id: 1, role, remoteAddress: "127.0.0.1:50000" });
}

/** Bytes as a latin1 string (TextDecoder's "latin1" is windows-1252, not latin1). */
function latin1(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return text;
}

const OK = "+OK\r\n";
const NIL = "$-1\r\n";
const bulk = (text: string) => `$${text.length}\r\n${text}\r\n`;
const int = (n: number) => `:${n}\r\n`;

describe("commands: PING, ECHO, QUIT, COMMAND COUNT", () => {
  it("PING replies PONG, or its argument as a bulk", () => {
    const { run } = setup();
    assert.equal(run("PING"), "+PONG\r\n");
    assert.equal(run("ping", "hi"), bulk("hi"));
    assert.equal(run("PING", "a", "b"), "-ERR wrong number of arguments for 'ping' command\r\n");
  });

  it("ECHO returns its argument byte for byte", () => {
    const { run } = setup();
    const bytes = String.fromCharCode(...Array.from({ length: 256 }, (_, i) => i));
    assert.equal(run("ECHO", bytes), bulk(bytes));
  });

  it("QUIT replies OK and marks the connection to close after the reply", () => {
    const { run, client } = setup();
    assert.equal(run("QUIT"), OK);
    assert.equal(client.closeAfterReply, true);
  });

  it("COMMAND COUNT counts the commands of the table", () => {
    const { run } = setup();
    const count = createCommandTable().specs.length;
    assert.equal(run("COMMAND", "COUNT"), int(count));
    assert.ok(count >= 20);
    assert.equal(run("COMMAND", "nope"), "-ERR unknown subcommand 'nope'. Try COMMAND HELP.\r\n");
  });
});

describe("commands: unknown commands and arity", () => {
  it("names an unknown command and quotes its first arguments", () => {
    const { run } = setup();
    assert.equal(
      run("FOO", "a", "b c"),
      "-ERR unknown command 'FOO', with args beginning with: 'a' 'b c' \r\n",
    );
    assert.equal(run("nope"), "-ERR unknown command 'nope', with args beginning with: \r\n");
  });

  it("reports a wrong number of arguments with the lower-case command name", () => {
    const { run } = setup();
    assert.equal(run("GET"), "-ERR wrong number of arguments for 'get' command\r\n");
    assert.equal(run("GET", "a", "b"), "-ERR wrong number of arguments for 'get' command\r\n");
    assert.equal(run("SET", "k"), "-ERR wrong number of arguments for 'set' command\r\n");
    assert.equal(run("DEL"), "-ERR wrong number of arguments for 'del' command\r\n");
    assert.equal(run("EXPIRE", "k"), "-ERR wrong number of arguments for 'expire' command\r\n");
  });

  it("looks commands up in any letter case", () => {
    const { run } = setup();
    assert.equal(run("sEt", "k", "v"), OK);
    assert.equal(run("gEt", "k"), bulk("v"));
  });
});

describe("commands: GET and SET", () => {
  it("GET returns the value or nil", () => {
    const { run } = setup();
    assert.equal(run("GET", "k"), NIL);
    assert.equal(run("SET", "k", "v"), OK);
    assert.equal(run("GET", "k"), bulk("v"));
  });

  it("SET EX, PX, EXAT and PXAT set a TTL with millisecond precision", () => {
    const { run, clock } = setup();
    const now = clock.realtimeMs();
    assert.equal(run("SET", "ex", "v", "EX", "10"), OK);
    assert.equal(run("SET", "px", "v", "px", "1500"), OK);
    assert.equal(run("SET", "exat", "v", "EXAT", String(Math.floor(now / 1000) + 100)), OK);
    assert.equal(run("SET", "pxat", "v", "PXAT", String(now + 250)), OK);
    assert.equal(run("PTTL", "ex"), int(10_000));
    assert.equal(run("PTTL", "px"), int(1500));
    assert.equal(run("PTTL", "exat"), int((Math.floor(now / 1000) + 100) * 1000 - now));
    assert.equal(run("PTTL", "pxat"), int(250));
    clock.advance(249);
    assert.equal(run("GET", "pxat"), bulk("v"));
    clock.advance(1);
    assert.equal(run("GET", "pxat"), NIL);
  });

  it("SET NX sets only a missing key, SET XX only an existing one", () => {
    const { run } = setup();
    assert.equal(run("SET", "k", "1", "XX"), NIL);
    assert.equal(run("GET", "k"), NIL);
    assert.equal(run("SET", "k", "1", "NX"), OK);
    assert.equal(run("SET", "k", "2", "NX"), NIL);
    assert.equal(run("GET", "k"), bulk("1"));
    assert.equal(run("SET", "k", "3", "XX"), OK);
    assert.equal(run("GET", "k"), bulk("3"));
  });

  it("SET GET returns the old value (nil when none) and errors on another type", () => {
    const { run, keyspace } = setup();
    assert.equal(run("SET", "k", "1", "GET"), NIL);
    assert.equal(run("SET", "k", "2", "GET"), bulk("1"));
    assert.equal(run("SET", "k", "3", "NX", "GET"), bulk("2"), "NX GET: not set, old value");
    assert.equal(run("GET", "k"), bulk("2"));
    keyspace.store(0).set("h", FAKE_HASH);
    assert.equal(
      run("SET", "h", "v", "GET"),
      "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    assert.equal(
      run("GET", "h"),
      "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
  });

  it("SET clears an existing TTL unless KEEPTTL is given", () => {
    const { run } = setup();
    run("SET", "k", "v", "EX", "100");
    assert.equal(run("SET", "k", "v2", "KEEPTTL"), OK);
    assert.equal(run("TTL", "k"), int(100));
    assert.equal(run("SET", "k", "v3"), OK);
    assert.equal(run("TTL", "k"), int(-1));
  });

  it("SET KEEPTTL on an expired key does not revive its old TTL", () => {
    const { run, clock } = setup();
    run("SET", "k", "v", "PX", "10");
    clock.advance(10);
    assert.equal(run("SET", "k", "new", "KEEPTTL"), OK);
    assert.equal(run("GET", "k"), bulk("new"));
    assert.equal(run("TTL", "k"), int(-1));
  });

  it("rejects conflicting or incomplete SET options with a syntax error", () => {
    const { run } = setup();
    const syntax = "-ERR syntax error\r\n";
    for (
      const options of [
        ["NX", "XX"],
        ["XX", "NX"],
        ["EX", "10", "PX", "100"],
        ["EX", "10", "KEEPTTL"],
        ["KEEPTTL", "PXAT", "100"],
        ["EX"],
        ["GET", "GET"],
        ["FOO"],
        ["EX", "10", "EX", "10"],
      ]
    ) {
      assert.equal(run("SET", "k", "v", ...options), syntax, options.join(" "));
    }
    assert.equal(run("GET", "k"), NIL, "nothing was set");
  });

  it("rejects a zero, negative or overflowing expire time", () => {
    const { run } = setup();
    const invalid = "-ERR invalid expire time in 'set' command\r\n";
    assert.equal(run("SET", "k", "v", "EX", "0"), invalid);
    assert.equal(run("SET", "k", "v", "PX", "-5"), invalid);
    assert.equal(run("SET", "k", "v", "EXAT", "0"), invalid);
    assert.equal(run("SET", "k", "v", "EX", "9999999999999999"), invalid);
    assert.equal(run("SET", "k", "v", "EX", "99999999999999999"), invalid);
    assert.equal(
      run("SET", "k", "v", "EX", "ten"),
      "-ERR value is not an integer or out of range\r\n",
    );
    assert.equal(run("GET", "k"), NIL);
  });

  it("stores binary keys and values unchanged", () => {
    const { run } = setup();
    const bytes = String.fromCharCode(...Array.from({ length: 256 }, (_, i) => i));
    assert.equal(run("SET", bytes, bytes), OK);
    assert.equal(run("GET", bytes), bulk(bytes));
  });
});

describe("commands: DEL, EXISTS, TYPE, DBSIZE", () => {
  it("DEL counts the keys it removed", () => {
    const { run } = setup();
    run("SET", "a", "1");
    run("SET", "b", "1");
    assert.equal(run("DEL", "a", "b", "c"), int(2));
    assert.equal(run("DEL", "a"), int(0));
  });

  it("EXISTS counts existing keys, repeats included, and ignores expired ones", () => {
    const { run, clock } = setup();
    run("SET", "a", "1");
    run("SET", "t", "1", "PX", "5");
    assert.equal(run("EXISTS", "a", "a", "b", "t"), int(3));
    clock.advance(5);
    assert.equal(run("EXISTS", "t"), int(0));
  });

  it("TYPE names the value's type, or none", () => {
    const { run, keyspace } = setup();
    run("SET", "s", "1");
    keyspace.store(0).set("h", FAKE_HASH);
    assert.equal(run("TYPE", "s"), "+string\r\n");
    assert.equal(run("TYPE", "h"), "+hash\r\n");
    assert.equal(run("TYPE", "nope"), "+none\r\n");
  });

  it("DBSIZE counts the keys of the selected store", () => {
    const { run } = setup();
    run("SET", "a", "1");
    run("SET", "b", "1");
    assert.equal(run("DBSIZE"), int(2));
    run("SELECT", "1");
    assert.equal(run("DBSIZE"), int(0));
  });
});

describe("commands: EXPIRE, PEXPIRE, TTL, PTTL, PERSIST", () => {
  it("EXPIRE and PEXPIRE set relative TTLs; TTL rounds, PTTL is exact", () => {
    const { run, clock } = setup();
    run("SET", "k", "v");
    assert.equal(run("EXPIRE", "k", "10"), int(1));
    assert.equal(run("TTL", "k"), int(10));
    clock.advance(1499);
    assert.equal(run("PTTL", "k"), int(8501));
    assert.equal(run("TTL", "k"), int(9), "8.501 s rounds to 9");
    assert.equal(run("PEXPIRE", "k", "20"), int(1));
    assert.equal(run("PTTL", "k"), int(20));
    clock.advance(20);
    assert.equal(run("TTL", "k"), int(-2));
    assert.equal(run("EXPIRE", "nope", "10"), int(0));
  });

  it("TTL and PTTL are -1 without a TTL and -2 without the key", () => {
    const { run } = setup();
    run("SET", "k", "v");
    assert.equal(run("TTL", "k"), int(-1));
    assert.equal(run("PTTL", "k"), int(-1));
    assert.equal(run("TTL", "nope"), int(-2));
    assert.equal(run("PTTL", "nope"), int(-2));
  });

  it("EXPIRE with a time in the past deletes the key", () => {
    const { run } = setup();
    run("SET", "k", "v");
    assert.equal(run("EXPIRE", "k", "-1"), int(1));
    assert.equal(run("EXISTS", "k"), int(0));
    run("SET", "k", "v");
    assert.equal(run("PEXPIRE", "k", "0"), int(1));
    assert.equal(run("EXISTS", "k"), int(0));
  });

  it("EXPIRE NX, XX, GT and LT follow Redis 7 (no TTL counts as infinite)", () => {
    const { run } = setup();
    run("SET", "k", "v");
    assert.equal(run("EXPIRE", "k", "100", "XX"), int(0), "XX needs a TTL");
    assert.equal(run("EXPIRE", "k", "100", "GT"), int(0), "nothing is greater than infinite");
    assert.equal(run("EXPIRE", "k", "100", "LT"), int(1), "anything is less than infinite");
    assert.equal(run("EXPIRE", "k", "200", "NX"), int(0), "NX needs no TTL");
    assert.equal(run("EXPIRE", "k", "50", "GT"), int(0));
    assert.equal(run("EXPIRE", "k", "200", "GT"), int(1));
    assert.equal(run("EXPIRE", "k", "300", "LT"), int(0));
    assert.equal(run("EXPIRE", "k", "150", "lt"), int(1));
    assert.equal(run("EXPIRE", "k", "120", "XX"), int(1));
    assert.equal(run("TTL", "k"), int(120));
    run("PERSIST", "k");
    assert.equal(run("EXPIRE", "k", "30", "NX"), int(1));
    assert.equal(run("TTL", "k"), int(30));
  });

  it("rejects incompatible or unknown EXPIRE options and non-integers", () => {
    const { run } = setup();
    run("SET", "k", "v");
    assert.equal(
      run("EXPIRE", "k", "10", "NX", "XX"),
      "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n",
    );
    assert.equal(
      run("EXPIRE", "k", "10", "GT", "LT"),
      "-ERR GT and LT options at the same time are not compatible\r\n",
    );
    assert.equal(run("EXPIRE", "k", "10", "YY"), "-ERR Unsupported option YY\r\n");
    assert.equal(run("EXPIRE", "k", "ten"), "-ERR value is not an integer or out of range\r\n");
    assert.equal(
      run("EXPIRE", "k", "9999999999999999"),
      "-ERR invalid expire time in 'expire' command\r\n",
    );
    assert.equal(run("TTL", "k"), int(-1));
  });

  it("PERSIST removes a TTL and reports whether there was one", () => {
    const { run } = setup();
    run("SET", "k", "v", "EX", "10");
    assert.equal(run("PERSIST", "k"), int(1));
    assert.equal(run("PERSIST", "k"), int(0));
    assert.equal(run("PERSIST", "nope"), int(0));
    assert.equal(run("TTL", "k"), int(-1));
  });
});

describe("commands: SELECT, FLUSHDB, FLUSHALL", () => {
  it("SELECT picks a store by index or by name", () => {
    const { run, client } = setup();
    run("SET", "k", "zero");
    assert.equal(run("SELECT", "1"), OK);
    assert.equal(client.db, 1);
    assert.equal(run("GET", "k"), NIL);
    run("SET", "k", "one");
    assert.equal(run("SELECT", "default"), OK);
    assert.equal(run("GET", "k"), bulk("zero"));
    assert.equal(run("SELECT", "sessions"), OK);
    assert.equal(run("GET", "k"), bulk("one"));
  });

  it("SELECT rejects an index out of range and an unknown name", () => {
    const { run, client } = setup();
    assert.equal(run("SELECT", "2"), "-ERR DB index is out of range\r\n");
    assert.equal(run("SELECT", "-1"), "-ERR DB index is out of range\r\n");
    assert.equal(run("SELECT", "nope"), "-ERR no such store 'nope'\r\n");
    assert.equal(client.db, 0);
  });

  it("FLUSHDB empties the selected store only; FLUSHALL empties all", () => {
    const { run, keyspace } = setup();
    run("SET", "a", "1");
    run("SELECT", "1");
    run("SET", "b", "1");
    assert.equal(run("FLUSHDB"), OK);
    assert.equal(keyspace.store(1).size, 0);
    assert.equal(keyspace.store(0).size, 1);
    run("SET", "b", "1");
    assert.equal(run("FLUSHALL", "ASYNC"), OK);
    assert.equal(keyspace.keyCount, 0);
    assert.equal(keyspace.usedMemoryBytes, 0);
    assert.equal(run("FLUSHDB", "NOW"), "-ERR syntax error\r\n");
  });
});

describe("commands: memory limit and roles", () => {
  it("answers OOM to writes over maxmemory under noeviction, and still serves reads", () => {
    const { run } = setup([{ name: "default", ...STORE, maxMemoryBytes: 1000 }]);
    let i = 0;
    while (run("SET", `k${i}`, "x".repeat(50)) === OK) i++;
    assert.ok(i > 5);
    assert.equal(
      run("SET", "more", "v"),
      "-OOM command not allowed when used memory > 'maxmemory'.\r\n",
    );
    assert.equal(run("GET", "k0"), bulk("x".repeat(50)));
    assert.equal(run("DEL", "k0", "k1"), int(2), "DEL frees memory even when full");
    assert.equal(run("SET", "more", "v"), OK);
  });

  it("evicts instead of refusing under allkeys-lru", () => {
    const { run, keyspace } = setup([{
      name: "default",
      ...STORE,
      maxMemoryBytes: 1000,
      evictionPolicy: "allkeys-lru",
    }]);
    for (let i = 0; i < 100; i++) assert.equal(run("SET", `k${i}`, "x".repeat(50)), OK);
    assert.ok(keyspace.store(0).size < 20);
    assert.ok(keyspace.store(0).stats.evictions > 80);
  });

  it("refuses writes to a readonly user with NOPERM, and allows reads", () => {
    const { dispatcher, out } = setup();
    const reader = { ...makeClient("readonly"), user: "viewer" };
    const run = (...argv: string[]) => {
      dispatcher.execute(reader, out, argv);
      return latin1(out.take());
    };
    assert.equal(
      run("SET", "k", "v"),
      "-NOPERM User viewer has no permissions to run the 'set' command\r\n",
    );
    assert.equal(
      run("FLUSHALL"),
      "-NOPERM User viewer has no permissions to run the 'flushall' command\r\n",
    );
    assert.equal(run("GET", "k"), NIL);
    assert.equal(run("PING"), "+PONG\r\n");
  });

  it("asks an unauthenticated client to authenticate, but lets it QUIT", () => {
    const { dispatcher, out } = setup();
    const stranger = { ...makeClient(), authenticated: false };
    dispatcher.execute(stranger, out, ["GET", "k"]);
    assert.equal(new TextDecoder().decode(out.take()), "-NOAUTH Authentication required.\r\n");
    dispatcher.execute(stranger, out, ["QUIT"]);
    assert.equal(new TextDecoder().decode(out.take()), OK);
  });
});

describe("commands: propagation to the AOF hook", () => {
  it("turns relative TTLs into absolute PXAT and PEXPIREAT", () => {
    const { run, propagated, clock } = setup();
    const now = clock.realtimeMs();
    run("SET", "a", "1", "EX", "10");
    run("SET", "b", "1", "PX", "500", "NX");
    run("SET", "c", "1");
    run("EXPIRE", "c", "5");
    run("PEXPIRE", "c", "700");
    assert.deepEqual(propagated, [
      [0, ["SET", "a", "1", "PXAT", String(now + 10_000)]],
      [0, ["SET", "b", "1", "PXAT", String(now + 500)]],
      [0, ["SET", "c", "1"]],
      [0, ["PEXPIREAT", "c", String(now + 5000)]],
      [0, ["PEXPIREAT", "c", String(now + 700)]],
    ]);
  });

  it("logs SET ... GET without GET, and KEEPTTL with the absolute TTL it kept", () => {
    const { run, propagated, clock } = setup();
    const now = clock.realtimeMs();
    run("SET", "k", "1", "GET");
    run("SET", "k", "2", "PX", "100");
    run("SET", "k", "3", "KEEPTTL");
    assert.deepEqual(propagated.map(([, argv]) => argv), [
      ["SET", "k", "1"],
      ["SET", "k", "2", "PXAT", String(now + 100)],
      ["SET", "k", "3", "PXAT", String(now + 100)],
    ]);
  });

  it("logs the store's default TTL as an absolute PXAT", () => {
    const { run, propagated, clock } = setup([{ name: "default", ...STORE, defaultTtlMs: 60_000 }]);
    run("SET", "k", "v");
    assert.deepEqual(propagated, [[0, [
      "SET",
      "k",
      "v",
      "PXAT",
      String(clock.realtimeMs() + 60_000),
    ]]]);
  });

  it("logs an EXPIRE into the past as DEL, and nothing for writes that changed nothing", () => {
    const { run, propagated } = setup();
    run("SET", "k", "v");
    run("SET", "k", "w", "NX");
    run("DEL", "nope");
    run("EXPIRE", "nope", "10");
    run("PERSIST", "k");
    run("GET", "k");
    run("EXPIRE", "k", "-1");
    assert.deepEqual(propagated.map(([, argv]) => argv), [["SET", "k", "v"], ["DEL", "k"]]);
  });

  it("tags each write with the store it changed", () => {
    const { run, propagated } = setup();
    run("SELECT", "1");
    run("SET", "k", "v");
    run("DEL", "k");
    assert.deepEqual(propagated, [[1, ["SET", "k", "v"]], [1, ["DEL", "k"]]]);
  });
});
