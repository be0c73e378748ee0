import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { currentRuntime } from "../../src/runtime/mod.ts";

/** The adapter of the runtime running the tests (Deno or Bun). */
const runtime = await currentRuntime();
import {
  decodeMessage,
  encodeFrame,
  encodeMessage,
  FrameDecoder,
  FrameError,
  FrameType,
} from "../../src/raft/codec.ts";
import { Transport } from "../../src/raft/transport.ts";
import { Bus, BusFrameType } from "../../src/bus/mod.ts";
import { emptyMessage, type Message } from "../../src/raft/types.ts";
import { MemFileSystem } from "../_memfs.ts";
import { LocalCluster } from "./_cluster.ts";

const SECRET = new TextEncoder().encode("cluster-secret");

function sample(): Message {
  return emptyMessage({
    type: "MsgApp",
    from: 1,
    to: 2,
    term: 3,
    logTerm: 2,
    index: 10,
    commit: 9,
    sentTick: 77,
    entries: [
      { term: 3, index: 11, type: "normal", data: new Uint8Array([1, 2]) },
      { term: 3, index: 12, type: "confChange", data: new Uint8Array([3]) },
    ],
  });
}

function until(condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const poll = () => {
      if (condition()) resolve();
      else if (Date.now() > deadline) reject(new Error("timed out"));
      else setTimeout(poll, 5);
    };
    poll();
  });
}

describe("raft wire codec", () => {
  it("round-trips messages with entries, snapshots and contexts", () => {
    const snap = emptyMessage({
      type: "MsgSnap",
      from: 1,
      to: 3,
      term: 4,
      snapshot: {
        metadata: {
          index: 50,
          term: 4,
          confState: {
            voters: [1, 2, 3],
            learners: [4],
            votersOutgoing: [],
            learnersNext: [],
            autoLeave: false,
          },
        },
        data: new Uint8Array([9, 8, 7]),
      },
      snapshotOffsetBytes: 0,
      snapshotTotalBytes: 3,
    });
    const read = emptyMessage({
      type: "MsgHeartbeat",
      from: 1,
      to: 2,
      term: 1,
      context: new Uint8Array([5]),
    });
    for (const m of [sample(), snap, read]) assert.deepEqual(decodeMessage(encodeMessage(m)), m);
  });

  it("rejects local message types and malformed fields", () => {
    assert.throws(
      () => decodeMessage(encodeMessage(emptyMessage({ type: "MsgHup" }))),
      /unknown message type/,
    );
    const bad = encodeMessage({ ...sample(), term: -1 } as Message);
    assert.throws(() => decodeMessage(bad), /non-negative integer/);
  });

  it("frames with the bus header: magic, version 1, type, big-endian length", () => {
    const frame = encodeFrame(FrameType.append, new Uint8Array([1, 2, 3]));
    assert.deepEqual([...frame.subarray(0, 10)], [0x48, 0x43, 0x42, 0x53, 1, 0x07, 0, 0, 0, 3]);
  });

  it("reassembles frames split across reads", () => {
    const bytes = new Uint8Array([
      ...encodeFrame(5, new Uint8Array([1])),
      ...encodeFrame(6, new Uint8Array([2, 3])),
    ]);
    const decoder = new FrameDecoder({ maxFrameBytes: 100 });
    const frames = [...bytes].flatMap((b) => decoder.push(new Uint8Array([b])));
    assert.deepEqual(frames.map((f) => [f.type, [...f.payload]]), [[5, [1]], [6, [2, 3]]]);
  });

  it("refuses garbage and oversized frames", () => {
    assert.throws(
      () =>
        new FrameDecoder({ maxFrameBytes: 100 }).push(
          new TextEncoder().encode("GET / HTTP/1.1\r\n"),
        ),
      FrameError,
    );
    const big = encodeFrame(7, new Uint8Array(200));
    assert.throws(
      () => new FrameDecoder({ maxFrameBytes: 100 }).push(big.subarray(0, 10)),
      /exceeds the limit/,
    );
  });

  it("authenticates frames with HMAC-SHA-256 under the cluster secret", () => {
    const frame = encodeFrame(7, new Uint8Array([1, 2]), SECRET);
    assert.equal(
      new FrameDecoder({ maxFrameBytes: 100, secret: SECRET }).push(frame)[0].authentic,
      true,
    );
    const other = new TextEncoder().encode("another-secret");
    assert.equal(
      new FrameDecoder({ maxFrameBytes: 100, secret: other }).push(frame)[0].authentic,
      false,
    );
    const tampered = frame.slice();
    tampered[10] ^= 1;
    assert.equal(
      new FrameDecoder({ maxFrameBytes: 100, secret: SECRET }).push(tampered)[0].authentic,
      false,
    );
  });
});

describe("raft tcp transport", () => {
  async function pair(secretA?: Uint8Array, secretB?: Uint8Array) {
    const received: Message[] = [];
    const b = await Transport.start({
      runtime,
      id: 2,
      listen: { hostname: "127.0.0.1", port: 0 },
      peers: new Map(),
      secret: secretB,
      onMessage: (m) => received.push(m),
    });
    const a = await Transport.start({
      runtime,
      id: 1,
      listen: { hostname: "127.0.0.1", port: 0 },
      peers: new Map([[2, { hostname: "127.0.0.1", port: b.port }]]),
      secret: secretA,
      onMessage: () => {},
    });
    return { a, b, received };
  }

  it("delivers messages in order over loopback, many per write", async () => {
    const { a, b, received } = await pair(SECRET, SECRET);
    try {
      const messages = Array.from({ length: 200 }, (_, i) => ({ ...sample(), index: i + 1 }));
      a.send(messages);
      await until(() => received.length === 200);
      assert.deepEqual(received.map((m) => m.index), messages.map((m) => m.index));
      assert.equal(b.stats.framesReceived, 200);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("drops and counts frames that fail authentication", async () => {
    const { a, b, received } = await pair(new TextEncoder().encode("wrong"), SECRET);
    try {
      a.send([sample(), sample()]);
      await until(() => b.stats.unauthenticatedFrames === 2);
      assert.equal(received.length, 0);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("closes a connection that sends garbage, and keeps serving others", async () => {
    const { a, b, received } = await pair();
    try {
      let closed = false;
      const conn = await runtime.connectTcp({ hostname: "127.0.0.1", port: b.port }, {
        onData: () => {},
        onClose: () => {
          closed = true;
        },
      });
      conn.write(new TextEncoder().encode("this is not a frame"));
      await until(() => closed);
      assert.equal(b.stats.malformedFrames, 1);
      a.send([sample()]);
      await until(() => received.length === 1);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("closes a connection that announces an oversized frame", async () => {
    const received: Message[] = [];
    const b = await Transport.start({
      runtime,
      id: 2,
      listen: { hostname: "127.0.0.1", port: 0 },
      peers: new Map(),
      maxFrameBytes: 64,
      onMessage: (m) => received.push(m),
    });
    try {
      let closed = false;
      const conn = await runtime.connectTcp({ hostname: "127.0.0.1", port: b.port }, {
        onData: () => {},
        onClose: () => {
          closed = true;
        },
      });
      conn.write(encodeFrame(FrameType.append, new Uint8Array(1000)).subarray(0, 20));
      await until(() => closed);
      assert.equal(b.stats.malformedFrames, 1);
      assert.equal(received.length, 0);
    } finally {
      await b.close();
    }
  });

  it("bounds the send queue of an unreachable peer and reports it", async () => {
    let unreachable = 0;
    const a = await Transport.start({
      runtime,
      id: 1,
      listen: { hostname: "127.0.0.1", port: 0 },
      // Nobody listens there: the queue fills while connecting fails.
      peers: new Map([[2, { hostname: "127.0.0.1", port: 1 }]]),
      maxQueueCount: 10,
      onMessage: () => {},
      onUnreachable: () => unreachable++,
    });
    try {
      a.send(Array.from({ length: 25 }, () => sample()));
      assert.equal(a.stats.queueDrops, 15);
      assert.ok(unreachable >= 15);
    } finally {
      await a.close();
    }
  });

  it("reconnects with backoff when the peer comes back", async () => {
    const received: Message[] = [];
    const first = await Transport.start({
      runtime,
      id: 2,
      listen: { hostname: "127.0.0.1", port: 0 },
      peers: new Map(),
      onMessage: () => {},
    });
    const port = first.port;
    await first.close();
    const a = await Transport.start({
      runtime,
      id: 1,
      listen: { hostname: "127.0.0.1", port: 0 },
      peers: new Map([[2, { hostname: "127.0.0.1", port }]]),
      onMessage: () => {},
    });
    let unreachable = 0;
    (a as unknown as { options: { onUnreachable: () => void } }).options.onUnreachable = () =>
      unreachable++;
    a.send([sample()]);
    await until(() => unreachable > 0);
    const b = await Transport.start({
      runtime,
      id: 2,
      listen: { hostname: "127.0.0.1", port },
      peers: new Map(),
      onMessage: (m) => received.push(m),
    });
    try {
      await until(() => {
        a.send([sample()]);
        return received.length > 0;
      });
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe("raft on a shared cluster bus", () => {
  it("runs beside other frame types on one bus, and leaves the bus open when it closes", async () => {
    const shared = await Bus.start({ runtime, listen: { hostname: "127.0.0.1", port: 0 } });
    const forwarded: unknown[] = [];
    shared.register(BusFrameType.forwardRequest, { receive: (m) => forwarded.push(m) });
    const received: Message[] = [];
    const b = Transport.attach(shared, { id: 2, onMessage: (m) => received.push(m) });
    const peers = new Map([[2, { hostname: "127.0.0.1", port: shared.port }]]);
    const a = await Transport.start({
      runtime,
      id: 1,
      listen: { hostname: "127.0.0.1", port: 0 },
      peers,
      onMessage: () => {},
    });
    const other = await Bus.start({ runtime, peers });
    try {
      a.send([sample()]);
      other.send(2, BusFrameType.forwardRequest, ["GET", "k"]);
      await until(() => received.length === 1 && forwarded.length === 1);
      assert.equal(b.port, shared.port);
      assert.equal(b.stats.framesReceived, 1);
      await b.close();
      a.send([sample()]);
      other.send(2, BusFrameType.forwardRequest, ["GET", "j"]);
      await until(() => forwarded.length === 2 && shared.stats.drops.noHandler === 1);
      assert.equal(received.length, 1);
    } finally {
      await a.close();
      await other.close();
      await shared.close();
    }
  });
});

describe("raft cluster over tcp (driver, durable storage, transport)", () => {
  it("elects, replicates, reads, fails over and catches a restarted node up", async () => {
    const fs = new MemFileSystem();
    const cluster = new LocalCluster(fs, [1, 2, 3], SECRET);
    await cluster.startAll();
    try {
      const leader = await cluster.waitForLeader();
      for (let i = 0; i < 120; i++) {
        await leader.driver.propose(new TextEncoder().encode(`k${i % 10}=v${i}`));
      }
      await leader.driver.read();
      assert.equal(leader.machine.data.get("k9"), "v119");
      // Kill the leader; the two others elect a new one and keep going.
      await cluster.stop(leader.id);
      const next = await cluster.waitForLeader();
      assert.notEqual(next.id, leader.id);
      await next.driver.propose(new TextEncoder().encode("k0=after"));
      // The old leader restarts from its files and catches up.
      const back = await cluster.start(leader.id);
      await until(() => back.machine.data.get("k0") === "after", 5000);
      await back.driver.read();
      assert.equal(back.machine.data.get("k9"), "v119");
    } finally {
      await cluster.stopAll();
    }
  });
});
