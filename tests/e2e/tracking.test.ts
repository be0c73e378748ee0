/**
 * Client-side caching (CLIENT TRACKING) and CLIENT REPLY against real node processes, on Deno and
 * on Bun: the same multi-connection scripts run on the node and on redis-server 7.0, and every
 * connection must receive the same bytes after every step, invalidation pushes, pub/sub
 * messages and dropped replies included. Then what only the node has (a write over the HTTP API
 * invalidates a RESP connection's keys), and node-redis's own client-side cache, invalidated
 * through the node.
 */
import assert from "node:assert/strict";
import { createClient } from "redis";
import { timeLimited } from "../_time_limit.ts";
import { type NodeProcess, RUNTIMES, startNode } from "./_harness.ts";
import { BytesClient, settle } from "./_bytes_client.ts";
import { referenceRedis } from "../commands/_redis_reference.ts";

const { after, before, describe, it } = timeLimited(import.meta.url, 300_000);

interface Step {
  /** The connection that sends (or closes). */
  on: string;
  /** Commands sent in one write; `$id:name` stands for that connection's client id. */
  send?: string[][];
  close?: true;
  /** False: what this connection gets for this step is not compared (HELLO's server fields). */
  compare?: false;
}

interface Scenario {
  connections: string[];
  steps: Step[];
}

/**
 * Runs a scenario on the server at `port`: after each step (once every connection is quiet),
 * what each connection received, with client ids written as the connection names.
 */
async function transcript(port: number, scenario: Scenario): Promise<string[]> {
  const conns = new Map<string, BytesClient>();
  const ids = new Map<string, string>();
  for (const name of scenario.connections) {
    const client = await BytesClient.open(port);
    client.send(["CLIENT", "ID"]);
    const reply = await client.until((text) => /^:\d+\r\n$/.test(text));
    ids.set(name, reply.slice(1, -2));
    conns.set(name, client);
  }
  const named = (text: string) => {
    for (const [name, id] of ids) {
      text = text.replaceAll(
        `tracking-redir-broken\r\n:${id}\r\n`,
        `tracking-redir-broken\r\n:<${name}>\r\n`,
      )
        .replaceAll(`$8\r\nredirect\r\n:${id}\r\n`, `$8\r\nredirect\r\n:<${name}>\r\n`);
    }
    return text;
  };
  const lines: string[] = [];
  try {
    for (const [index, step] of scenario.steps.entries()) {
      const conn = conns.get(step.on)!;
      if (step.close) {
        await conn.close();
        conns.delete(step.on);
      } else {
        const substitute = (arg: string) => arg.startsWith("$id:") ? ids.get(arg.slice(4))! : arg;
        conn.send(...step.send!.map((argv) => argv.map(substitute)));
      }
      await settle([...conns.values()]);
      for (const [name, client] of conns) {
        const text = client.take();
        if (step.compare === false && name === step.on) continue;
        if (text !== "") lines.push(`${index} ${name}: ${JSON.stringify(named(text))}`);
      }
    }
  } finally {
    for (const client of conns.values()) await client.close();
  }
  return lines;
}

const HELLO3 = (on: string): Step => ({ on, send: [["HELLO", "3"]], compare: false });

const SCENARIOS: Record<string, Scenario> = {
  "a RESP3 client's keys, invalidated once each by other clients' writes and after its own": {
    connections: ["a", "b"],
    steps: [
      HELLO3("a"),
      { on: "a", send: [["CLIENT", "TRACKING", "on"]] },
      { on: "a", send: [["GET", "s1:k"], ["MGET", "s1:k2", "s1:k3"]] },
      { on: "b", send: [["SET", "s1:k", "1"]] },
      { on: "b", send: [["MSET", "s1:k2", "x", "s1:k3", "y"]] },
      { on: "b", send: [["SET", "s1:k", "2"]] },
      { on: "a", send: [["GET", "s1:k"], ["SET", "s1:k", "3"], ["PING"]] },
      { on: "a", send: [["GET", "s1:k"]] },
      { on: "b", send: [["DEL", "s1:k"]] },
      { on: "a", send: [["CLIENT", "TRACKINGINFO"], ["CLIENT", "GETREDIR"]] },
      { on: "b", send: [["HSET", "s1:h", "f", "v"]] },
      { on: "a", send: [["GET", "s1:h"]] },
      { on: "b", send: [["HSET", "s1:h", "f", "v2"]] },
      {
        on: "a",
        send: [["GET", "s1:m"], ["MULTI"], ["GET", "s1:m"], ["SET", "s1:m", "x"], ["EXEC"], [
          "PING",
        ]],
      },
      { on: "b", send: [["FLUSHALL"]] },
      { on: "a", send: [["FLUSHDB"], ["PING"]] },
      { on: "a", send: [["HELLO", "2"]], compare: false },
      { on: "a", send: [["GET", "s1:k"]] },
      { on: "b", send: [["SET", "s1:k", "4"]] },
      { on: "a", send: [["CLIENT", "TRACKINGINFO"], ["CLIENT", "TRACKING", "off"]] },
      { on: "a", send: [["CLIENT", "TRACKINGINFO"], ["CLIENT", "GETREDIR"]] },
    ],
  },
  "RESP2 REDIRECT to a subscriber of __redis__:invalidate, nulls for a flush, a broken redirect": {
    connections: ["s", "a", "b", "r"],
    steps: [
      { on: "s", send: [["SUBSCRIBE", "__redis__:invalidate"]] },
      { on: "a", send: [["CLIENT", "TRACKING", "on", "REDIRECT", "$id:s"]] },
      { on: "a", send: [["CLIENT", "TRACKINGINFO"]] },
      { on: "a", send: [["GET", "s2:x"], ["GET", "s2:y"]] },
      { on: "b", send: [["SET", "s2:x", "1"]] },
      HELLO3("r"),
      { on: "r", send: [["CLIENT", "TRACKING", "on", "REDIRECT", "$id:s"]] },
      { on: "b", send: [["FLUSHALL"]] },
      { on: "a", send: [["GET", "s2:y"]] },
      { on: "r", send: [["GET", "s2:y"]] },
      { on: "s", close: true },
      { on: "b", send: [["SET", "s2:y", "1"]] },
      { on: "a", send: [["CLIENT", "TRACKINGINFO"]] },
      { on: "r", send: [["CLIENT", "TRACKINGINFO"], ["GET", "s2:y"], ["SET", "s2:y", "2"]] },
      { on: "r", send: [["FLUSHDB"]] },
      { on: "r", send: [["CLIENT", "TRACKING", "on", "REDIRECT", "$id:s"]] },
      { on: "r", send: [["CLIENT", "TRACKING", "on"], ["CLIENT", "TRACKINGINFO"]] },
    ],
  },
  "a redirect to a RESP3 connection, which hears of its own writes before its reply": {
    connections: ["t", "a", "b"],
    steps: [
      HELLO3("t"),
      { on: "a", send: [["CLIENT", "TRACKING", "on", "REDIRECT", "$id:t"]] },
      { on: "a", send: [["GET", "s7:k"]] },
      { on: "b", send: [["SET", "s7:k", "1"]] },
      { on: "a", send: [["GET", "s7:k"]] },
      { on: "t", send: [["SET", "s7:k", "2"], ["PING"]] },
    ],
  },
  "BCAST with prefixes: one push per prefix after the batch, keys in byte order; NOLOOP": {
    connections: ["a", "b", "c"],
    steps: [
      HELLO3("a"),
      HELLO3("c"),
      {
        on: "a",
        send: [["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "s3:u:", "PREFIX", "s3:o:"]],
      },
      { on: "c", send: [["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "s3:", "NOLOOP"]] },
      {
        on: "b",
        send: [
          ["SET", "s3:u:2", "x"],
          ["SET", "s3:u:1", "y"],
          ["SET", "s3:o:1", "z"],
          ["SET", "s3:other", "q"],
          ["SET", "s3:u:1", "again"],
        ],
      },
      { on: "a", send: [["SET", "s3:u:3", "1"], ["SET", "s3:o:3", "1"], ["PING"]] },
      { on: "c", send: [["SET", "s3:c", "1"], ["PING"]] },
      { on: "c", send: [["SET", "s3:u:9", "1"]] },
      { on: "a", send: [["GET", "s3:other"]] },
      { on: "b", send: [["SET", "s3:other", "2"]] },
      { on: "a", send: [["CLIENT", "TRACKINGINFO"], ["CLIENT", "TRACKING", "on"]] },
      { on: "c", send: [["CLIENT", "TRACKINGINFO"], ["FLUSHALL"]] },
      { on: "a", send: [["CLIENT", "TRACKING", "off"], ["CLIENT", "TRACKINGINFO"]] },
    ],
  },
  "NOLOOP in default mode: no invalidation for a client's own writes": {
    connections: ["a", "b"],
    steps: [
      HELLO3("a"),
      { on: "a", send: [["CLIENT", "TRACKING", "on", "NOLOOP"]] },
      { on: "a", send: [["GET", "s4:k"], ["SET", "s4:k", "1"], ["PING"]] },
      { on: "a", send: [["GET", "s4:k"]] },
      { on: "b", send: [["SET", "s4:k", "2"]] },
      { on: "a", send: [["FLUSHDB"]] },
    ],
  },
  "OPTIN after CLIENT CACHING yes, OPTOUT but CLIENT CACHING no, across MULTI and CLIENT": {
    connections: ["o", "q", "w"],
    steps: [
      HELLO3("o"),
      HELLO3("q"),
      { on: "o", send: [["CLIENT", "TRACKING", "on", "OPTIN"]] },
      { on: "q", send: [["CLIENT", "TRACKING", "on", "OPTOUT"]] },
      { on: "o", send: [["GET", "s5:o1"]] },
      { on: "w", send: [["SET", "s5:o1", "1"]] },
      { on: "o", send: [["CLIENT", "CACHING", "yes"], ["GET", "s5:o1"], ["GET", "s5:o2"]] },
      { on: "w", send: [["SET", "s5:o1", "2"], ["SET", "s5:o2", "2"]] },
      { on: "o", send: [["CLIENT", "CACHING", "yes"], ["CLIENT", "GETNAME"], ["GET", "s5:o3"]] },
      { on: "w", send: [["SET", "s5:o3", "2"]] },
      {
        on: "o",
        send: [["CLIENT", "CACHING", "yes"], ["MULTI"], ["GET", "s5:o4"], ["GET", "s5:o5"], [
          "EXEC",
        ], ["GET", "s5:o6"]],
      },
      { on: "w", send: [["SET", "s5:o4", "2"], ["SET", "s5:o5", "2"], ["SET", "s5:o6", "2"]] },
      {
        on: "o",
        send: [["MULTI"], ["CLIENT", "CACHING", "yes"], ["GET", "s5:o7"], ["EXEC"], [
          "GET",
          "s5:o8",
        ]],
      },
      { on: "w", send: [["SET", "s5:o7", "2"], ["SET", "s5:o8", "2"]] },
      { on: "o", send: [["CLIENT", "CACHING", "yes"], ["CLIENT", "TRACKINGINFO"]] },
      {
        on: "q",
        send: [["GET", "s5:q1"], ["CLIENT", "CACHING", "no"], ["GET", "s5:q2"], ["GET", "s5:q3"]],
      },
      { on: "w", send: [["SET", "s5:q1", "2"], ["SET", "s5:q2", "2"], ["SET", "s5:q3", "2"]] },
      { on: "q", send: [["CLIENT", "CACHING", "no"], ["CLIENT", "TRACKINGINFO"]] },
    ],
  },
  "CLIENT REPLY OFF and SKIP: replies dropped, pushes and subscription confirmations kept": {
    connections: ["a", "b", "d"],
    steps: [
      HELLO3("a"),
      { on: "a", send: [["CLIENT", "TRACKING", "on"]] },
      {
        on: "a",
        send: [["CLIENT", "REPLY", "OFF"], ["GET", "s6:r1"], ["SET", "s6:r1", "1"], [
          "GET",
          "s6:r1",
        ], [
          "BOGUS",
        ]],
      },
      { on: "b", send: [["SET", "s6:r1", "2"]] },
      { on: "a", send: [["SUBSCRIBE", "s6:ch"]] },
      { on: "b", send: [["PUBLISH", "s6:ch", "hi"]] },
      { on: "a", send: [["CLIENT", "REPLY", "ON"], ["PING"], ["UNSUBSCRIBE"]] },
      { on: "a", send: [["CLIENT", "REPLY", "SKIP"], ["PING"], ["PING"]] },
      {
        on: "a",
        send: [["CLIENT", "REPLY", "SKIP"], ["CLIENT", "REPLY", "SKIP"], ["PING"], ["PING"]],
      },
      {
        on: "a",
        send: [["CLIENT", "REPLY", "SKIP"], ["CLIENT", "REPLY", "OFF"], ["PING"], [
          "CLIENT",
          "REPLY",
          "ON",
        ]],
      },
      {
        on: "a",
        send: [["CLIENT", "REPLY", "OFF"], ["CLIENT", "REPLY", "SKIP"], ["PING"], [
          "CLIENT",
          "REPLY",
          "ON",
        ]],
      },
      {
        on: "a",
        send: [["GET", "s6:r2"], ["CLIENT", "REPLY", "SKIP"], ["SET", "s6:r2", "1"], ["PING"]],
      },
      { on: "a", send: [["CLIENT", "REPLY", "SKIP"], ["CLIENT", "REPLY", "ON"], ["PING"]] },
      { on: "a", send: [["MULTI"], ["CLIENT", "REPLY", "SKIP"], ["PING"], ["EXEC"], ["PING"]] },
      {
        on: "a",
        send: [["MULTI"], ["CLIENT", "REPLY", "OFF"], ["PING"], ["EXEC"], ["PING"], [
          "CLIENT",
          "REPLY",
          "ON",
        ]],
      },
      {
        on: "a",
        send: [
          ["CLIENT", "REPLY", "OFF"],
          ["MULTI"],
          ["CLIENT", "REPLY", "ON"],
          ["PING"],
          ["EXEC"],
          ["PING"],
        ],
      },
      { on: "a", send: [["CLIENT", "REPLY", "SKIP"], ["CLIENT", "REPLY"], ["PING"]] },
      { on: "a", send: [["CLIENT", "REPLY", "SKIP"], ["BLPOP", "s6:q", "5"]] },
      { on: "b", send: [["RPUSH", "s6:q", "v"]] },
      { on: "a", send: [["PING"], ["LLEN", "s6:q"]] },
      {
        on: "a",
        send: [["CLIENT", "REPLY", "OFF"], ["RESET"], ["PING"], ["CLIENT", "TRACKINGINFO"]],
      },
      {
        on: "d",
        send: [
          ["CLIENT", "REPLY", "OFF"],
          ["SUBSCRIBE", "s6:c1", "s6:c2"],
          ["PSUBSCRIBE", "s6:p*"],
          [
            "PING",
          ],
          ["SUBSCRIBE"],
        ],
      },
      { on: "b", send: [["PUBLISH", "s6:c1", "hi"]] },
      {
        on: "d",
        send: [["UNSUBSCRIBE", "s6:c1"], ["UNSUBSCRIBE"], ["PUNSUBSCRIBE", "s6:p*"], [
          "PUNSUBSCRIBE",
        ], [
          "CLIENT",
          "REPLY",
          "ON",
        ]],
      },
      { on: "d", send: [["CLIENT", "REPLY", "OFF"], ["QUIT"]] },
    ],
  },
  "CLIENT TRACKING, CACHING, GETREDIR, TRACKINGINFO and REPLY errors, with Redis's texts": {
    connections: ["a", "x"],
    steps: [
      ...[
        ["CLIENT", "TRACKING"],
        ["CLIENT", "TRACKING", "maybe"],
        ["CLIENT", "TRACKING", "on", "foo"],
        ["CLIENT", "TRACKING", "on", "redirect"],
        ["CLIENT", "TRACKING", "on", "redirect", "abc"],
        ["CLIENT", "TRACKING", "on", "redirect", "9223372036854775808"],
        ["CLIENT", "TRACKING", "on", "redirect", "999999"],
        ["CLIENT", "TRACKING", "on", "redirect", "0"],
        ["CLIENT", "TRACKING", "on", "redirect", "-1"],
        ["CLIENT", "TRACKING", "on", "redirect", "$id:x", "redirect", "$id:x"],
        ["CLIENT", "TRACKING", "on", "prefix", "a"],
        ["CLIENT", "TRACKING", "on", "prefix"],
        ["CLIENT", "TRACKING", "on", "bcast", "optin"],
        ["CLIENT", "TRACKING", "on", "optin", "optout"],
        ["CLIENT", "TRACKING", "on", "bcast", "prefix", "ab", "prefix", "a"],
        ["CLIENT", "TRACKING", "on", "bcast", "prefix", "a", "prefix", "a"],
        ["CLIENT", "TRACKING", "maybe", "bogus"],
        ["CLIENT", "TRACKING", "off", "redirect", "999999"],
        ["CLIENT", "TRACKING", "off", "prefix", "x"],
        ["CLIENT", "CACHING"],
        ["CLIENT", "CACHING", "yes"],
        ["CLIENT", "CACHING", "maybe"],
        ["CLIENT", "CACHING", "yes", "no"],
        ["CLIENT", "GETREDIR", "x"],
        ["CLIENT", "TRACKINGINFO", "x"],
        ["CLIENT", "TRACKING", "on", "optin"],
        ["CLIENT", "CACHING", "no"],
        ["CLIENT", "CACHING", "maybe"],
        ["CLIENT", "CACHING", "YES"],
        ["CLIENT", "TRACKINGINFO"],
        ["CLIENT", "TRACKING", "on", "optout"],
        ["CLIENT", "TRACKING", "on", "bcast"],
        ["CLIENT", "TRACKING", "ON", "OPTIN", "NOLOOP", "noloop"],
        ["CLIENT", "TRACKINGINFO"],
        ["CLIENT", "TRACKING", "off"],
        ["CLIENT", "TRACKING", "on", "bcast", "prefix", "c"],
        ["CLIENT", "TRACKING", "on", "bcast", "prefix", "x", "prefix", "xy", "prefix", "cd"],
        ["CLIENT", "TRACKING", "on", "bcast", "prefix", "cd", "prefix", "x"],
        ["CLIENT", "TRACKING", "on", "bcast", "prefix", ""],
        ["CLIENT", "TRACKING", "on", "bcast", "prefix", "b", "prefix", "a"],
        ["CLIENT", "TRACKING", "on", "bcast"],
        ["CLIENT", "TRACKINGINFO"],
        ["CLIENT", "TRACKING", "off"],
        ["CLIENT", "REPLY"],
        ["CLIENT", "REPLY", "maybe"],
        ["CLIENT", "REPLY", "on"],
        ["CLIENT", "REPLY", "on", "x"],
        ["CLIENT", "NO-EVICT", "on"],
        ["CLIENT", "NO-EVICT", "maybe"],
        ["CLIENT", "NO-EVICT", "off"],
        ["EVAL", "return redis.call('client', 'reply', 'off')", "0"],
      ].map((argv): Step => ({ on: "a", send: [argv] })),
      HELLO3("a"),
      {
        on: "a",
        send: [["CLIENT", "TRACKINGINFO"], ["CLIENT", "TRACKING", "on", "bcast", "noloop"]],
      },
      { on: "a", send: [["CLIENT", "TRACKINGINFO"]] },
    ],
  },
};

/** The INFO fields of client-side caching, from an INFO reply. */
function trackingFields(info: string): string[] {
  return info.split("\r\n").filter((line) => line.startsWith("tracking_"));
}

const INVALIDATE = (key: string) => `>2\r\n$10\r\ninvalidate\r\n*1\r\n$${key.length}\r\n${key}\r\n`;

for (const runtime of RUNTIMES) {
  describe(`client-side caching and CLIENT REPLY on ${runtime}, against redis-server 7.0`, () => {
    // Undefined only where redis-server is not installed and not under CI (where
    // `referenceRedis` fails instead): each comparison then skips, saying so.
    const reference = referenceRedis(before, after);
    let node: NodeProcess;

    before(async () => {
      node = await startNode(runtime);
    });
    after(async () => {
      await node?.stop();
    });

    for (const [name, scenario] of Object.entries(SCENARIOS)) {
      it(`sends redis-server's bytes: ${name}`, async (t) => {
        const redis = reference();
        if (redis === undefined) return t.skip("redis-server is not installed");
        const theirs = await transcript(redis.port, scenario);
        const ours = await transcript(node.port, scenario);
        assert.deepEqual(ours, theirs);
      });
    }

    it("bounds the table by tracking-table-max-keys, invalidating the keys it forgets", async (t) => {
      const redis = reference();
      if (redis === undefined) return t.skip("redis-server is not installed");
      for (const port of [redis.port, node.port]) {
        const admin = await BytesClient.open(port);
        const client = await BytesClient.open(port);
        try {
          admin.send(["CONFIG", "SET", "tracking-table-max-keys", "2"], ["FLUSHALL"]);
          await admin.until((text) => text === "+OK\r\n+OK\r\n");
          client.send(["HELLO", "3"], ["CLIENT", "TRACKING", "on"]);
          await client.until((text) => text.endsWith("+OK\r\n"));
          // Past the bound after MGET; forgotten before the next command runs, before its reply.
          client.send(["MGET", "m1", "m2", "m3", "m4"], ["PING"]);
          const text = await client.until((text) => text.endsWith("+PONG\r\n"));
          assert.equal(text.split(">2\r\n").length - 1, 2, `${port}: ${JSON.stringify(text)}`);
          admin.send(["INFO", "stats"], ["CONFIG", "GET", "tracking-table-max-keys"]);
          const info = await admin.until((text) => text.endsWith("2\r\n"));
          assert.deepEqual(trackingFields(info), [
            "tracking_total_keys:2",
            "tracking_total_items:2",
            "tracking_total_prefixes:0",
          ]);
          admin.send(["CONFIG", "SET", "tracking-table-max-keys", "1000000"], ["FLUSHALL"]);
          await admin.until((text) => text === "+OK\r\n+OK\r\n");
        } finally {
          await client.close();
          await admin.close();
        }
      }
    });

    it("counts tracking clients, keys, items and prefixes in INFO as redis-server does", async (t) => {
      const redis = reference();
      if (redis === undefined) return t.skip("redis-server is not installed");
      const counts: string[][] = [];
      for (const port of [redis.port, node.port]) {
        const clients = await Promise.all([1, 2, 3].map(() => BytesClient.open(port)));
        try {
          const [a, b, c] = clients;
          a.send(["FLUSHALL"], ["CLIENT", "TRACKING", "on"], ["MGET", "i1", "i2"]);
          b.send(["CLIENT", "TRACKING", "on"], ["GET", "i1"]);
          c.send(["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "p1", "PREFIX", "p2"]);
          await settle(clients);
          clients.forEach((client) => client.take());
          a.send(["INFO", "everything"]);
          const info = await a.until((text) => text.endsWith("\r\n\r\n"));
          counts.push(trackingFields(info));
        } finally {
          for (const client of clients) await client.close();
        }
      }
      assert.deepEqual(counts[1], counts[0]);
      assert.deepEqual(counts[0], [
        "tracking_clients:3",
        "tracking_total_keys:2",
        "tracking_total_items:3",
        "tracking_total_prefixes:2",
      ]);
    });

    it("invalidates a tracked key that expires, as redis-server does", async (t) => {
      const redis = reference();
      if (redis === undefined) return t.skip("redis-server is not installed");
      for (const port of [redis.port, node.port]) {
        const client = await BytesClient.open(port);
        try {
          client.send(["HELLO", "3"], ["CLIENT", "TRACKING", "on"], [
            "SET",
            "e1",
            "v",
            "PX",
            "100",
          ]);
          await client.until((text) => text.endsWith("+OK\r\n+OK\r\n"));
          client.send(["GET", "e1"]);
          assert.equal(await client.until((text) => text.length > 0), "$1\r\nv\r\n");
          // Nobody reads it again: active expiry removes it, and the invalidation follows.
          assert.equal(await client.until((text) => text.length > 0, 5_000), INVALIDATE("e1"));
        } finally {
          await client.close();
        }
      }
    });

    it("invalidates a RESP connection's key written over the HTTP API", async () => {
      const client = await BytesClient.open(node.port);
      try {
        client.send(["HELLO", "3"], ["CLIENT", "TRACKING", "on"], ["GET", "h1"]);
        await client.until((text) => text.endsWith("+OK\r\n_\r\n"));
        const response = await fetch(`http://127.0.0.1:${node.httpPort}/`, {
          method: "POST",
          body: JSON.stringify(["SET", "h1", "from-http"]),
        });
        assert.deepEqual(await response.json(), { result: "OK" });
        assert.equal(await client.until((text) => text.length > 0), INVALIDATE("h1"));
        // FLUSHALL over HTTP: the null invalidation.
        await (await fetch(`http://127.0.0.1:${node.httpPort}/`, {
          method: "POST",
          body: JSON.stringify(["FLUSHALL"]),
        })).json();
        assert.equal(
          await client.until((text) => text.length > 0),
          ">2\r\n$10\r\ninvalidate\r\n_\r\n",
        );
      } finally {
        await client.close();
      }
    });

    it("keeps node-redis's client-side cache (clientSideCache) coherent through the node", async () => {
      const cached = createClient({
        RESP: 3,
        clientSideCache: { ttl: 0, maxEntries: 0, recordStats: true },
        socket: { host: "127.0.0.1", port: node.port, reconnectStrategy: false },
      });
      const writer = createClient({
        socket: { host: "127.0.0.1", port: node.port, reconnectStrategy: false },
      });
      cached.on("error", () => {});
      writer.on("error", () => {});
      await cached.connect();
      await writer.connect();
      try {
        const cache = cached.clientSideCache!;
        const invalidated: (string | null)[] = [];
        cache.on(
          "invalidate",
          (key: unknown) => invalidated.push(key === null ? null : String(key)),
        );
        await writer.set("csc:k", "1");
        assert.equal(await cached.get("csc:k"), "1");
        assert.equal(await cached.get("csc:k"), "1");
        assert.equal(cache.stats().hitCount, 1, "the second GET came from the cache");
        await writer.set("csc:k", "2");
        const deadline = Date.now() + 5_000;
        while (!invalidated.includes("csc:k") && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        assert.ok(invalidated.includes("csc:k"), "the node's push invalidated the cached GET");
        assert.equal(await cached.get("csc:k"), "2");
        await writer.flushAll();
        while (!invalidated.includes(null) && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        assert.ok(invalidated.includes(null), "FLUSHALL cleared the whole cache");
        assert.equal(await cached.get("csc:k"), null);
      } finally {
        cached.destroy();
        writer.destroy();
      }
    });
  });
}
