/**
 * Client-side caching's table (`ClientTracking`, sans-I/O) driven directly with fake
 * connections, then a node assembled in-process (no active expiry runs there) for what only the
 * wiring shows: lazy expiry and eviction invalidate, the HTTP API's and scripts' writes do, and
 * nothing is hooked on the hot path while no client tracks keys.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  ClientTracking,
  type TrackingIo,
  type TrackingOptions,
  type TrackingPeer,
} from "../../src/server/tracking.ts";
import { buildConfig } from "../../src/config/config.ts";
import { HttpExecutor } from "../../src/http/executor.ts";
import { assembleNode } from "../../src/node.ts";
import { currentRuntime } from "../../src/runtime/mod.ts";
import { BytesClient, settle } from "../e2e/_bytes_client.ts";

interface FakePeer extends TrackingPeer {
  protocol: 2 | 3;
  subscriptions: number;
  got: string[];
}

class FakeIo implements TrackingIo {
  readonly peers = new Map<number, FakePeer>();
  scheduled = 0;
  peer(id: number): TrackingPeer | undefined {
    return this.peers.get(id);
  }
  push(peer: TrackingPeer, text: string): void {
    (peer as FakePeer).got.push(text);
  }
  schedule(): void {
    this.scheduled++;
  }
  add(id: number, protocol: 2 | 3 = 3, subscriptions = 0): FakePeer {
    const peer = { id, protocol, subscriptions, got: [] };
    this.peers.set(id, peer);
    return peer;
  }
  /** Every connection's messages, taken. */
  take(id: number): string[] {
    const peer = this.peers.get(id)!;
    return peer.got.splice(0);
  }
}

const options = (more: Partial<TrackingOptions> = {}): TrackingOptions => ({
  redirect: 0,
  bcast: false,
  optin: false,
  optout: false,
  noloop: false,
  prefixes: [],
  ...more,
});

const push = (...keys: string[]) =>
  `>2\r\n$10\r\ninvalidate\r\n*${keys.length}\r\n` +
  keys.map((k) => `$${k.length}\r\n${k}\r\n`).join("");
const message = (...keys: string[]) =>
  `*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*${keys.length}\r\n` +
  keys.map((k) => `$${k.length}\r\n${k}\r\n`).join("");

function setup() {
  const io = new FakeIo();
  const tracking = new ClientTracking(io);
  return { io, tracking };
}

describe("ClientTracking: default mode", () => {
  it("sends one invalidation on the first change of a key read, then forgets the key", () => {
    const { io, tracking } = setup();
    io.add(1);
    assert.equal(tracking.enable(1, options()), null);
    tracking.remember(1, ["a", "b"]);
    assert.deepEqual([tracking.keyCount, tracking.itemCount, tracking.clients], [2, 2, 1]);
    tracking.invalidate("a");
    tracking.invalidate("a");
    tracking.invalidate("untracked");
    assert.deepEqual(io.take(1), [push("a")]);
    assert.deepEqual([tracking.keyCount, tracking.itemCount], [1, 1]);
  });

  it("tells every reader of a key, in the order of their ids' little-endian bytes (Redis's)", () => {
    const { io, tracking } = setup();
    const order: number[] = [];
    for (const id of [2, 1, 256, 513]) {
      io.add(id);
      io.push = (peer) => void order.push(peer.id);
      tracking.enable(id, options());
      tracking.remember(id, ["k"]);
    }
    assert.equal(tracking.itemCount, 4);
    tracking.invalidate("k");
    // 256 = 00 01 ..., 513 = 01 02 ..., 1 = 01 00 ..., 2 = 02 00 ...
    assert.deepEqual(order, [256, 1, 513, 2]);
  });

  it("keeps a key read before TRACKING off, so turning tracking on again still invalidates it", () => {
    const { io, tracking } = setup();
    io.add(1);
    tracking.enable(1, options());
    tracking.remember(1, ["k"]);
    tracking.disable(1);
    assert.equal(tracking.keyCount, 1, "forgotten lazily, as Redis does");
    tracking.enable(1, options());
    tracking.invalidate("k");
    assert.deepEqual(io.take(1), [push("k")]);
    // Off, the change forgets the key and sends nothing; BCAST mode hears nothing either.
    tracking.remember(1, ["j"]);
    tracking.disable(1);
    tracking.invalidate("j");
    assert.deepEqual([io.take(1), tracking.keyCount], [[], 0]);
  });

  it("gives a connection its own changes after its command, and none under NOLOOP", () => {
    const { io, tracking } = setup();
    io.add(1);
    io.add(2);
    tracking.enable(1, options());
    tracking.enable(2, options({ noloop: true }));
    tracking.remember(1, ["k"]);
    tracking.remember(2, ["k"]);
    tracking.beginCommand(1);
    tracking.invalidate("k");
    assert.deepEqual(io.take(1), [], "held until the reply is written");
    assert.deepEqual(io.take(2), [push("k")]);
    tracking.endCommand(false);
    assert.deepEqual(io.take(1), [push("k")]);
    tracking.remember(2, ["k"]);
    tracking.beginCommand(2);
    tracking.invalidate("k");
    tracking.endCommand(false);
    assert.deepEqual(io.take(2), [], "NOLOOP: its own change");
  });

  it("remembers under OPTIN only after CACHING yes, under OPTOUT except after CACHING no", () => {
    const { io, tracking } = setup();
    io.add(1);
    io.add(2);
    tracking.enable(1, options({ optin: true }));
    tracking.enable(2, options({ optout: true }));
    tracking.remember(1, ["in1"]);
    tracking.remember(2, ["out1"]);
    assert.equal(tracking.caching(1, true), null);
    assert.equal(tracking.caching(2, false), null);
    tracking.remember(1, ["in2"]);
    tracking.remember(2, ["out2"]);
    // A CLIENT command (or an open MULTI) keeps CACHING for the next command; others end it.
    tracking.beginCommand(1);
    tracking.endCommand(true);
    tracking.remember(1, ["in3"]);
    tracking.beginCommand(1);
    tracking.endCommand(false);
    tracking.remember(1, ["in4"]);
    for (const key of ["in1", "in2", "in3", "in4", "out1", "out2"]) tracking.invalidate(key);
    assert.deepEqual(io.take(1), [push("in2"), push("in3")]);
    assert.deepEqual(io.take(2), [push("out1")]);
    assert.equal(
      tracking.caching(2, true),
      "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
    );
    assert.equal(
      tracking.caching(1, false),
      "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
    );
    assert.equal(
      tracking.caching(3, true),
      "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled",
    );
  });
});

describe("ClientTracking: where invalidations go", () => {
  it("redirects to a RESP3 connection as a push, to a RESP2 subscriber as a message", () => {
    const { io, tracking } = setup();
    io.add(1, 2);
    io.add(2, 2);
    io.add(3, 2, 1);
    io.add(4, 3);
    tracking.enable(1, options());
    tracking.remember(1, ["k"]);
    tracking.invalidate("k");
    assert.deepEqual(io.take(1), [], "RESP2 without a redirect: nothing can be sent");
    for (const [target, expected] of [[2, []], [3, [message("k")]], [4, [push("k")]]] as const) {
      tracking.enable(1, options({ redirect: target }));
      tracking.remember(1, ["k"]);
      tracking.invalidate("k");
      assert.deepEqual(io.take(target), expected);
    }
    assert.deepEqual(io.take(1), []);
  });

  it("sends tracking-redir-broken to a RESP3 connection whose redirect went away", () => {
    const { io, tracking } = setup();
    io.add(1, 3);
    io.add(2, 2);
    io.add(9);
    tracking.enable(1, options({ redirect: 9 }));
    tracking.enable(2, options({ redirect: 9 }));
    io.peers.delete(9);
    tracking.remember(1, ["k"]);
    tracking.remember(2, ["k"]);
    tracking.invalidate("k");
    assert.deepEqual(io.take(1), [">2\r\n$21\r\ntracking-redir-broken\r\n:9\r\n"]);
    assert.deepEqual(io.take(2), [], "RESP2 has no way to say it");
    assert.deepEqual(tracking.tracker(1)!.flags(), ["on", "broken_redirect"]);
    assert.equal(tracking.tracker(2)!.brokenRedirect, true);
    tracking.enable(1, options());
    assert.equal(tracking.tracker(1)!.brokenRedirect, false, "enabled again: cleared");
  });

  it("sends a flush's null in the tracking connection's protocol to every tracking connection", () => {
    const { io, tracking } = setup();
    io.add(1, 3);
    io.add(2, 2);
    io.add(3, 2, 1);
    tracking.enable(2, options({ redirect: 3 }));
    tracking.enable(1, options({ bcast: true, noloop: true }));
    tracking.remember(2, ["k"]);
    tracking.beginCommand(1);
    tracking.flushed();
    assert.deepEqual(io.take(1), [], "its own FLUSHALL: after the reply");
    assert.deepEqual(io.take(3), [MESSAGE_NULL]);
    tracking.endCommand(false);
    assert.deepEqual(io.take(1), [">2\r\n$10\r\ninvalidate\r\n_\r\n"]);
    assert.deepEqual([tracking.keyCount, tracking.itemCount], [0, 0]);
  });
});

const MESSAGE_NULL = "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n$-1\r\n";

describe("ClientTracking: BCAST", () => {
  it("collects changed keys per prefix and broadcasts each prefix's once, in byte order", () => {
    const { io, tracking } = setup();
    io.add(1);
    io.add(2);
    tracking.enable(1, options({ bcast: true, prefixes: ["user:", "obj:"] }));
    tracking.enable(2, options({ bcast: true }));
    assert.equal(tracking.prefixCount, 3);
    for (const key of ["user:2", "user:1", "obj:1", "other", "user:1"]) tracking.invalidate(key);
    assert.equal(io.scheduled, 1, "one broadcast asked for");
    tracking.broadcast();
    assert.deepEqual(io.take(1), [push("obj:1"), push("user:1", "user:2")]);
    assert.deepEqual(io.take(2), [push("obj:1", "other", "user:1", "user:2")]);
    tracking.broadcast();
    assert.deepEqual([io.take(1), io.take(2)], [[], []], "nothing new");
  });

  it("leaves out a NOLOOP connection's own changes, crediting a key to its first writer", () => {
    const { io, tracking } = setup();
    io.add(1);
    io.add(2);
    tracking.enable(1, options({ bcast: true, noloop: true }));
    tracking.beginCommand(1);
    tracking.invalidate("mine");
    tracking.invalidate("both");
    tracking.endCommand(false);
    tracking.beginCommand(2);
    tracking.invalidate("both");
    tracking.invalidate("theirs");
    tracking.endCommand(false);
    tracking.beginCommand(1);
    tracking.invalidate("expired", true); // removed by the server: nobody's
    tracking.endCommand(false);
    tracking.broadcast();
    assert.deepEqual(io.take(1), [push("expired", "theirs")]);
    tracking.beginCommand(1);
    tracking.invalidate("mine");
    tracking.endCommand(false);
    tracking.broadcast();
    assert.deepEqual(io.take(1), [], "only its own: no message");
  });

  it("drops a prefix with its last connection", () => {
    const { io, tracking } = setup();
    io.add(1);
    io.add(2);
    tracking.enable(1, options({ bcast: true, prefixes: ["a"] }));
    tracking.enable(2, options({ bcast: true, prefixes: ["a", "b"] }));
    tracking.disable(2);
    assert.equal(tracking.prefixCount, 1);
    tracking.disable(1);
    assert.deepEqual([tracking.prefixCount, tracking.clients], [0, 0]);
  });
});

describe("ClientTracking: CLIENT TRACKING's checks, with Redis's texts", () => {
  it("refuses what Redis refuses, in Redis's order", () => {
    const { io, tracking } = setup();
    io.add(1);
    const refuse = (more: Partial<TrackingOptions>) => tracking.enable(1, options(more));
    assert.equal(
      refuse({ prefixes: ["a"] }),
      "ERR PREFIX option requires BCAST mode to be enabled",
    );
    assert.equal(
      refuse({ bcast: true, optin: true }),
      "ERR OPTIN and OPTOUT are not compatible with BCAST",
    );
    assert.equal(
      refuse({ optin: true, optout: true }),
      "ERR You can't specify both OPTIN mode and OPTOUT mode",
    );
    assert.equal(
      refuse({ bcast: true, prefixes: ["ab", "a"] }),
      "ERR Prefix 'ab' overlaps with another provided prefix 'a'. Prefixes for a single client must not overlap.",
    );
    assert.equal(refuse({ optin: true }), null);
    assert.equal(
      refuse({ bcast: true }),
      "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.",
    );
    assert.equal(
      refuse({ optout: true }),
      "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.",
    );
    tracking.disable(1);
    assert.equal(refuse({ bcast: true, prefixes: ["c"] }), null);
    assert.equal(
      refuse({ bcast: true, prefixes: ["x", "cd"] }),
      "ERR Prefix 'cd' overlaps with an existing prefix 'c'. Prefixes for a single client must not overlap.",
    );
    // BCAST again without a prefix adds the empty one, unchecked, as Redis does.
    assert.equal(refuse({ bcast: true }), null);
    assert.deepEqual([...tracking.tracker(1)!.prefixes].sort(), ["", "c"]);
  });
});

describe("ClientTracking: tracking-table-max-keys", () => {
  it("forgets keys past the bound before a command, oldest first, each with its invalidation", () => {
    const { io, tracking } = setup();
    io.add(1);
    io.add(2);
    tracking.enable(1, options());
    tracking.enable(2, options({ noloop: true }));
    tracking.maxKeys = 2;
    tracking.remember(1, ["a", "b", "c", "d"]);
    tracking.remember(2, ["a"]);
    tracking.beginCommand(2);
    // Sent at once (no command is running yet), and not to the NOLOOP connection starting one.
    assert.deepEqual(io.take(1), [push("a"), push("b")]);
    assert.deepEqual(io.take(2), []);
    tracking.endCommand(false);
    assert.equal(tracking.keyCount, 2);
  });

  it("tries harder each time it ends still over the bound: 100 keys, then 200, ...", () => {
    const { io, tracking } = setup();
    io.add(1);
    tracking.enable(1, options());
    tracking.remember(1, Array.from({ length: 400 }, (_, i) => `k${i}`));
    tracking.maxKeys = 1;
    const sizes: number[] = [];
    for (let i = 0; i < 3; i++) {
      tracking.limit();
      sizes.push(tracking.keyCount);
    }
    assert.deepEqual(sizes, [300, 100, 1]);
    assert.equal(io.take(1).length, 399);
    tracking.maxKeys = 0;
    tracking.remember(1, Array.from({ length: 10 }, (_, i) => `j${i}`));
    tracking.limit();
    assert.equal(tracking.keyCount, 11, "0: no bound");
  });

  it("reports when key changes start and stop mattering", () => {
    const { io, tracking } = setup();
    const changes: boolean[] = [];
    tracking.onWatchingChanged = (watching) => changes.push(watching);
    io.add(1);
    tracking.enable(1, options());
    tracking.remember(1, ["k"]);
    tracking.disable(1);
    assert.deepEqual(changes, [true], "the table still holds a key");
    tracking.invalidate("k");
    assert.deepEqual(changes, [true, false]);
  });
});

/** An assembled node serving RESP in-process: no active expiry runs, so expiry is lazy. */
async function inProcessNode(maxMemory = 0) {
  const runtime = await currentRuntime();
  const config = buildConfig({ port: 0, http: { enabled: false } });
  if (maxMemory > 0) config.stores[0].maxMemoryBytes = maxMemory;
  const parts = await assembleNode(config, runtime);
  await parts.resp.start();
  const executor = new HttpExecutor(parts.dispatcher, () => Date.now());
  const clients: BytesClient[] = [];
  const open = async () => {
    const client = await BytesClient.open(parts.resp.port);
    clients.push(client);
    return client;
  };
  /** A RESP3 connection tracking keys (its HELLO and +OK taken). */
  const tracker = async (...options: string[]) => {
    const client = await open();
    client.send(["HELLO", "3"], ["CLIENT", "TRACKING", "on", ...options]);
    await client.until((text) => text.endsWith("+OK\r\n"));
    return client;
  };
  const stop = async () => {
    for (const client of clients) await client.close();
    await parts.resp.stop();
  };
  return { parts, executor, open, tracker, stop, clients };
}

const INVALIDATE_K = ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n";

describe("client-side caching in an assembled node", () => {
  it("hooks nothing on the hot path until a client tracks keys, and unhooks after", async () => {
    const node = await inProcessNode();
    const { parts } = node;
    try {
      const store = parts.keyspace.store(0);
      assert.equal(store.onSignal, null);
      assert.equal(parts.dispatcher.tracked, null);
      const client = await node.tracker();
      assert.notEqual(store.onSignal, null);
      assert.notEqual(parts.dispatcher.tracked, null);
      client.send(["GET", "k"], ["CLIENT", "TRACKING", "off"]);
      await client.until((text) => text.endsWith("+OK\r\n"));
      assert.notEqual(store.onSignal, null, "the table still holds k");
      client.send(["SET", "k", "v"]);
      await client.until((text) => text.endsWith("+OK\r\n"));
      assert.equal(store.onSignal, null);
      assert.equal(parts.dispatcher.tracked, null);
    } finally {
      await node.stop();
    }
  });

  it("invalidates a key written over the HTTP API and by another client's script", async () => {
    const node = await inProcessNode();
    try {
      const client = await node.tracker();
      client.send(["GET", "k"]);
      await client.until((text) => text === "_\r\n");
      const http = node.executor.client("admin", 0);
      assert.equal(node.executor.runText(http, ["SET", "k", "1"]), "+OK\r\n");
      assert.equal(await client.until((text) => text.length > 0), INVALIDATE_K);
      client.send(["GET", "k"]);
      await client.until((text) => text.endsWith("1\r\n"));
      const other = await node.open();
      other.send(["EVAL", "return redis.call('incr', KEYS[1])", "1", "k"]);
      assert.equal(await other.until((text) => text.length > 0), ":2\r\n");
      assert.equal(await client.until((text) => text.length > 0), INVALIDATE_K);
    } finally {
      await node.stop();
    }
  });

  it("remembers the keys a script read for its caller, not an EVAL_RO's own keys", async () => {
    const node = await inProcessNode();
    try {
      const client = await node.tracker();
      client.send(
        ["EVAL", "return redis.call('get', KEYS[1])", "1", "read"],
        ["EVAL_RO", "return 1", "1", "declared"],
      );
      await client.until((text) => text === "_\r\n:1\r\n");
      node.executor.runText(node.executor.client("admin", 0), [
        "MSET",
        "read",
        "1",
        "declared",
        "1",
      ]);
      assert.equal(
        await client.until((text) => text.length > 0),
        ">2\r\n$10\r\ninvalidate\r\n*1\r\n$4\r\nread\r\n",
      );
    } finally {
      await node.stop();
    }
  });

  it("invalidates on lazy expiry, except for a NOLOOP client's own read", async () => {
    const node = await inProcessNode();
    try {
      const client = await node.tracker();
      const quiet = await node.tracker("noloop");
      const writer = await node.open();
      writer.send(["SET", "k", "1", "PX", "50"]);
      await writer.until((text) => text === "+OK\r\n");
      for (const c of [client, quiet]) {
        c.send(["GET", "k"]);
        await c.until((text) => text.endsWith("1\r\n"));
      }
      await new Promise((resolve) => setTimeout(resolve, 80));
      // The NOLOOP client's own GET finds the key expired: it hears nothing, the other does.
      quiet.send(["GET", "k"]);
      assert.equal(await quiet.until((text) => text.length > 0), "_\r\n");
      assert.equal(await client.until((text) => text.length > 0), INVALIDATE_K);
      await settle([quiet]);
      assert.equal(quiet.take(), "");
      // A client's own lazy expiry reaches it after its reply.
      writer.send(["SET", "k", "1", "PX", "50"]);
      await writer.until((text) => text === "+OK\r\n");
      client.send(["GET", "k"]);
      await client.until((text) => text.endsWith("1\r\n"));
      await new Promise((resolve) => setTimeout(resolve, 80));
      client.send(["GET", "k"]);
      assert.equal(await client.until((text) => text.length > 2), "_\r\n" + INVALIDATE_K);
    } finally {
      await node.stop();
    }
  });

  it("invalidates a key evicted for maxmemory", async () => {
    const node = await inProcessNode(200_000);
    try {
      const client = await node.tracker();
      const writer = await node.open();
      writer.send(["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"], ["SET", "k", "x"]);
      await writer.until((text) => text === "+OK\r\n+OK\r\n");
      client.send(["GET", "k"]);
      await client.until((text) => text.endsWith("x\r\n"));
      // Fill the store: k, the least recently used key, goes first.
      const value = "v".repeat(10_000);
      for (let i = 0; i < 40; i++) writer.send(["SET", `fill${i}`, value]);
      await writer.until((text) => text.split("\r\n").length > 40);
      assert.equal(await client.until((text) => text.length > 0), INVALIDATE_K);
    } finally {
      await node.stop();
    }
  });
});
