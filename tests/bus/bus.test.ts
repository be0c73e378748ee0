import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { encode } from "cborg";
import { currentRuntime } from "../../src/runtime/mod.ts";
import {
  Bus,
  BusFrameType,
  type BusOptions,
  decodePayload,
  encodeFrame,
  type Frame,
  FrameDecoder,
  type PeerAddress,
  type PeerId,
} from "../../src/bus/mod.ts";
import type { TcpConnection } from "../../src/runtime/types.ts";
import { FakeTimers, until } from "./_timers.ts";

/** The adapter of the runtime running the tests (Deno or Bun). */
const runtime = await currentRuntime();
const SECRET = new TextEncoder().encode("cluster-secret");
const WRONG = new TextEncoder().encode("not-the-secret");
const { forwardRequest, replicaWrite, replicaAck, migrateBatch } = BusFrameType;

function at(port: number): PeerAddress {
  return { hostname: "127.0.0.1", port };
}

function peer(port: number): Map<PeerId, PeerAddress> {
  return new Map([["b", at(port)]]);
}

interface Received {
  type: number;
  message: unknown;
}

/** A listening bus that serves forwarding and replica writes, recording what it receives. */
async function receiver(options: Partial<BusOptions> = {}) {
  const received: Received[] = [];
  const logs: string[] = [];
  const bus = await Bus.start({
    runtime,
    listen: at(0),
    log: (line) => logs.push(line),
    ...options,
  });
  bus.register([forwardRequest, replicaWrite], {
    receive: (message, type) => received.push({ type, message }),
  });
  return { bus, received, logs };
}

/** A port where nothing listens: connecting to it fails at once. */
async function closedPort(): Promise<number> {
  const listener = await runtime.listenTcp(at(0), { onData: () => {} });
  const port = listener.port;
  await listener.close();
  return port;
}

/** A plain TCP connection, for writing bytes no bus would. */
async function rawConnection(port: number) {
  const state = { closed: false };
  const conn = await runtime.connectTcp(at(port), {
    onData: () => {},
    onClose: () => {
      state.closed = true;
    },
  });
  return { conn, state };
}

function join(...parts: Uint8Array[]): Uint8Array {
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.length;
  }
  return bytes;
}

describe("bus peer links over loopback", () => {
  it("delivers frames to the handler of their type, in order, counting frames and bytes per type", async () => {
    const b = await receiver({ secret: SECRET });
    const a = await Bus.start({ runtime, peers: peer(b.bus.port), secret: SECRET });
    try {
      for (let i = 0; i < 100; i++) {
        assert.equal(a.send("b", i % 2 ? replicaWrite : forwardRequest, { i }), "queued");
      }
      await until(() => b.received.length === 100);
      assert.deepEqual(
        b.received.map((r) => r.message),
        Array.from({ length: 100 }, (_, i) => ({ i })),
      );
      assert.deepEqual(
        b.received.map((r) => r.type),
        Array.from({ length: 100 }, (_, i) => i % 2 ? replicaWrite : forwardRequest),
      );
      for (const type of [forwardRequest, replicaWrite]) {
        const sent = a.stats.byType.get(type)!;
        const got = b.bus.stats.byType.get(type)!;
        assert.equal(sent.framesOut, 50);
        assert.equal(got.framesIn, 50);
        assert.equal(got.bytesIn, sent.bytesOut);
      }
      assert.equal(a.stats.connects, 1);
      assert.equal(b.bus.stats.authFailures, 0);
    } finally {
      await a.close();
      await b.bus.close();
    }
  });

  it("refuses sends past the queue's frame bound, and tells the handler of the queued frames a failed connection dropped", async () => {
    const timers = new FakeTimers();
    const undelivered: [PeerId, number][] = [];
    const a = await Bus.start({
      runtime,
      peers: peer(await closedPort()),
      maxQueueCount: 10,
      timers,
      random: () => 0.5,
    });
    a.register(forwardRequest, {
      receive: () => {},
      undelivered: (id, count) => undelivered.push([id, count]),
    });
    try {
      const results = Array.from({ length: 15 }, (_, i) => a.send("b", forwardRequest, { i }));
      // The newest are refused: the ten queued keep their order and are not lost silently.
      assert.deepEqual(results, [...Array(10).fill("queued"), ...Array(5).fill("queueFull")]);
      assert.equal(a.stats.drops.queueFull, 5);
      assert.equal(a.peerStatus("b")?.state, "connecting");
      assert.equal(a.peerStatus("b")?.queuedFrames, 10);
      await until(() => a.peerStatus("b")?.state === "backoff");
      assert.equal(a.stats.connectFailures, 1);
      assert.equal(a.stats.drops.linkDown, 10);
      assert.deepEqual(undelivered, [["b", 10]]);
      assert.equal(a.stats.byType.get(forwardRequest)?.drops, 15);
      assert.equal(a.peerStatus("b")?.queuedFrames, 0);
      // The first reconnect waits 20 ms, jittered into [10, 20): 15 with random() = 0.5.
      assert.deepEqual(timers.delays(), [15]);
    } finally {
      await a.close();
    }
  });

  it("refuses sends past the queue's byte bound", async () => {
    const a = await Bus.start({ runtime, peers: peer(await closedPort()), maxQueueBytes: 1000 });
    try {
      const big = encode(new Uint8Array(280)); // a frame of 293 bytes
      assert.deepEqual(
        [1, 2, 3, 4].map(() => a.send("b", forwardRequest, new Uint8Array(280))),
        ["queued", "queued", "queued", "queueFull"],
      );
      assert.equal(a.peerStatus("b")?.queuedBytes, 3 * (10 + big.length));
      assert.equal(a.send("b", forwardRequest, new Uint8Array(50)), "queued");
      assert.equal(a.stats.drops.queueFull, 1);
    } finally {
      await a.close();
    }
  });

  it("refuses a frame larger than maxFrameBytes without queueing or connecting", async () => {
    const a = await Bus.start({
      runtime,
      peers: peer(await closedPort()),
      maxFrameBytes: 100,
      secret: SECRET,
    });
    try {
      assert.equal(a.sendPayload("b", forwardRequest, new Uint8Array(100 - 32 + 1)), "oversized");
      assert.equal(a.stats.drops.oversized, 1);
      assert.equal(a.peerStatus("b")?.state, "idle");
      assert.equal(a.peerStatus("b")?.queuedFrames, 0);
      assert.equal(a.sendPayload("b", forwardRequest, encode(new Uint8Array(60))), "queued");
    } finally {
      await a.close();
    }
  });

  it("reconnects after the peer restarts, backing off exponentially with jitter up to reconnectMaxMs", async () => {
    const timers = new FakeTimers();
    const first = await receiver();
    const port = first.bus.port;
    const a = await Bus.start({ runtime, peers: peer(port), timers, random: () => 0.5 });
    try {
      a.send("b", forwardRequest, "before");
      await until(() => first.received.length === 1);
      await first.bus.close();
      await until(() => a.peerStatus("b")?.state === "backoff");
      // While the peer is down each attempt fails and doubles the delay (times 0.75 of jitter).
      const delays: number[] = [];
      for (let i = 0; i < 8; i++) {
        const [delay] = timers.delays();
        delays.push(delay);
        timers.advance(delay);
        assert.equal(a.peerStatus("b")?.state, "connecting");
        await until(() => a.peerStatus("b")?.state === "backoff");
      }
      assert.deepEqual(delays, [15, 30, 60, 120, 240, 480, 750, 750]);
      assert.equal(a.stats.connectFailures, 8);
      // A frame sent while the link waits is queued and leaves once it reconnects.
      assert.equal(a.send("b", forwardRequest, "while down"), "queued");
      const second = await receiver({ listen: at(port) });
      try {
        timers.advance(timers.delays()[0]);
        await until(() => second.received.length === 1);
        assert.deepEqual(second.received.map((r) => r.message), ["while down"]);
        assert.equal(a.stats.connects, 2);
        assert.equal(a.stats.reconnects, 9);
        // A connection that lasted resets the backoff.
        timers.advance(1000);
        await second.bus.close();
        await until(() => a.peerStatus("b")?.state === "backoff");
        assert.deepEqual(timers.delays(), [15]);
      } finally {
        await second.bus.close();
      }
    } finally {
      await a.close();
    }
  });

  it("stops writing while the socket holds more than maxPendingBytes, then drains the queue in order", async () => {
    const decoder = new FrameDecoder({ maxFrameBytes: 1 << 20 });
    const frames: Frame[] = [];
    let server: TcpConnection | undefined;
    // A peer that reads nothing until told: the kernel's buffers fill, then the socket's.
    const listener = await runtime.listenTcp(at(0), {
      onOpen: (conn) => {
        server = conn;
        conn.pause();
      },
      onData: (_conn, bytes) => frames.push(...decoder.push(bytes)),
    });
    const maxPendingBytes = 256 * 1024;
    const a = await Bus.start({
      runtime,
      peers: peer(listener.port),
      maxPendingBytes,
      maxQueueCount: 100_000,
      maxQueueBytes: 256 * 1024 * 1024,
    });
    const pad = new Uint8Array(64 * 1024);
    const count = 300; // 20 MiB: loopback buffers took about 4 MiB when measured
    try {
      for (let i = 0; i < count; i++) {
        assert.equal(a.sendPayload("b", forwardRequest, encode([i, pad])), "queued");
      }
      let maxSeenBytes = 0;
      for (let i = 0; i < 30; i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        maxSeenBytes = Math.max(maxSeenBytes, a.peerStatus("b")!.pendingBytes);
      }
      const status = a.peerStatus("b")!;
      assert.equal(status.state, "connected");
      assert.equal(status.stalled, true);
      assert.ok(status.queuedFrames > 0, "frames wait in the link's queue, not in the socket");
      assert.ok(
        maxSeenBytes <= maxPendingBytes + pad.length + 1024,
        `the socket held ${maxSeenBytes} bytes`,
      );
      assert.ok(a.stats.backpressureStalls >= 1);
      server!.resume();
      await until(() => frames.length === count, 20_000);
      assert.deepEqual(
        frames.map((f) => (decodePayload(f.payload) as [number, Uint8Array])[0]),
        Array.from({ length: count }, (_, i) => i),
      );
      assert.equal(a.peerStatus("b")?.queuedFrames, 0);
      assert.equal(a.peerStatus("b")?.stalled, false);
      assert.equal(a.stats.byType.get(forwardRequest)?.framesOut, count);
    } finally {
      await a.close();
      server?.close();
      await listener.close();
    }
  });

  it("fails a connection attempt that does not complete within connectTimeoutMs", async () => {
    const timers = new FakeTimers();
    const a = await Bus.start({
      runtime: { listenTcp: runtime.listenTcp, connectTcp: () => new Promise(() => {}) },
      peers: peer(1),
      timers,
      random: () => 0,
    });
    try {
      a.send("b", forwardRequest, 1);
      assert.equal(a.peerStatus("b")?.state, "connecting");
      assert.deepEqual(timers.delays(), [2000]);
      timers.advance(2000);
      assert.equal(a.peerStatus("b")?.state, "backoff");
      assert.equal(a.stats.connectFailures, 1);
      assert.equal(a.stats.drops.linkDown, 1);
      assert.deepEqual(timers.delays(), [10]);
    } finally {
      await a.close();
    }
  });
});

describe("bus inbound checks", () => {
  it("closes a connection whose frames fail authentication, counts them, and logs once per host", async () => {
    const b = await receiver({ secret: SECRET });
    const timers = new FakeTimers();
    const a = await Bus.start({
      runtime,
      peers: peer(b.bus.port),
      secret: WRONG,
      timers,
      random: () => 0.5,
    });
    const unsigned = await Bus.start({ runtime, peers: peer(b.bus.port) });
    try {
      a.send("b", forwardRequest, 1);
      a.send("b", forwardRequest, 2);
      await until(() => b.bus.stats.disconnects.auth === 1);
      await until(() => a.peerStatus("b")?.state === "backoff");
      // The wrong-secret peer reconnects (later each time) and is refused again.
      timers.advance(timers.delays()[0]);
      await until(() => a.peerStatus("b")?.state === "connected");
      a.send("b", forwardRequest, 3);
      await until(() => b.bus.stats.disconnects.auth === 2);
      await until(() => a.peerStatus("b")?.state === "backoff");
      assert.deepEqual(timers.delays(), [30]);
      assert.equal(a.stats.reconnects, 1);
      // A peer without the secret sends frames without tags: refused the same way.
      unsigned.send("b", forwardRequest, 4);
      await until(() => b.bus.stats.disconnects.auth === 3);
      assert.deepEqual(b.received, []);
      assert.ok(b.bus.stats.authFailures >= 3);
      assert.equal(b.logs.length, 1);
      assert.match(b.logs[0], /HMAC tag did not verify/);
    } finally {
      await a.close();
      await unsigned.close();
      await b.bus.close();
    }
  });

  it("closes a connection that sends a malformed frame, after delivering the good frames before it", async () => {
    const b = await receiver({ maxFrameBytes: 1000 });
    const good = encodeFrame(forwardRequest, encode("good"));
    const badVersion = encodeFrame(forwardRequest, encode("x"));
    badVersion[4] = 2;
    const cases: [string, Uint8Array][] = [
      ["not a frame", new TextEncoder().encode("PING\r\n and more text")],
      ["another version", badVersion],
      ["too large", encodeFrame(forwardRequest, new Uint8Array(2000)).subarray(0, 20)],
      ["an undeclared type", encodeFrame(0x99, encode(1))],
      ["bad CBOR", encodeFrame(forwardRequest, new Uint8Array([0x82, 0x01]))],
    ];
    try {
      for (const [name, bytes] of cases) {
        const { conn, state } = await rawConnection(b.bus.port);
        conn.write(join(good, bytes));
        await until(() => state.closed).catch(() => assert.fail(`${name}: still open`));
      }
      assert.equal(b.bus.stats.malformedFrames, cases.length);
      assert.equal(b.bus.stats.disconnects.malformed, cases.length);
      assert.deepEqual(b.received.map((r) => r.message), cases.map(() => "good"));
      assert.equal(b.logs.length, 1, b.logs.join("\n"));
      // The bus keeps serving well-behaved peers.
      const a = await Bus.start({ runtime, peers: peer(b.bus.port) });
      a.send("b", replicaWrite, "after");
      await until(() => b.received.length === cases.length + 1);
      await a.close();
    } finally {
      await b.bus.close();
    }
  });

  it("closes a connection whose payload fails its handler's shape check", async () => {
    const b = await receiver();
    b.bus.register(replicaAck, {
      decode(payload) {
        const value = JSON.parse(new TextDecoder().decode(payload));
        if (typeof value !== "number") throw new TypeError("an ack must be a number");
        return value;
      },
      receive: (message) => b.received.push({ type: replicaAck, message }),
    });
    try {
      const { conn, state } = await rawConnection(b.bus.port);
      conn.write(encodeFrame(replicaAck, new TextEncoder().encode("7")));
      await until(() => b.received.length === 1);
      conn.write(encodeFrame(replicaAck, new TextEncoder().encode('"seven"')));
      await until(() => state.closed);
      assert.equal(b.bus.stats.disconnects.malformed, 1);
      assert.match(b.logs[0], /invalid replicaAck frame: an ack must be a number/);
    } finally {
      await b.bus.close();
    }
  });

  it("drops and counts a declared frame type that no handler serves, keeping the connection", async () => {
    const b = await receiver();
    try {
      const { conn, state } = await rawConnection(b.bus.port);
      conn.write(join(
        encodeFrame(migrateBatch, encode("no handler here")),
        encodeFrame(forwardRequest, encode("served")),
      ));
      await until(() => b.received.length === 1);
      assert.equal(b.bus.stats.drops.noHandler, 1);
      assert.equal(b.bus.stats.byType.get(migrateBatch)?.drops, 1);
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(state.closed, false);
      conn.close();
    } finally {
      await b.bus.close();
    }
  });

  it("closes inbound connections past maxInboundConnections", async () => {
    const b = await receiver({ maxInboundConnections: 2 });
    try {
      const conns: Awaited<ReturnType<typeof rawConnection>>[] = [];
      for (let i = 0; i < 3; i++) conns.push(await rawConnection(b.bus.port));
      await until(() => conns[2].state.closed);
      assert.equal(b.bus.stats.inbound.accepted, 2);
      assert.equal(b.bus.stats.inbound.refused, 1);
      assert.deepEqual(conns.map((c) => c.state.closed), [false, false, true]);
      for (const c of conns) c.conn.close();
    } finally {
      await b.bus.close();
    }
  });
});

describe("bus api", () => {
  it("accepts handlers and sends only for declared frame types, one handler per type", async () => {
    const bus = await Bus.start({ runtime });
    try {
      assert.throws(() => bus.register(0x99, { receive: () => {} }), /not declared/);
      bus.register(forwardRequest, { receive: () => {} });
      assert.throws(() => bus.register(forwardRequest, { receive: () => {} }), /has one already/);
      assert.throws(() => bus.send("b", 0x99, 1), /not declared/);
      assert.equal(bus.send("nobody", forwardRequest, 1), "unknownPeer");
      bus.unregister(forwardRequest);
      bus.register(forwardRequest, { receive: () => {} });
    } finally {
      await bus.close();
    }
    assert.equal(bus.send("b", forwardRequest, 1), "closed");
  });

  it("refuses limits that are not positive integers or that contradict each other", async () => {
    await assert.rejects(Bus.start({ runtime, maxQueueCount: 0 }), /'maxQueueCount' must be/);
    await assert.rejects(Bus.start({ runtime, maxFrameBytes: 1.5 }), /'maxFrameBytes' must be/);
    await assert.rejects(
      Bus.start({ runtime, reconnectMinMs: 500, reconnectMaxMs: 100 }),
      /must not exceed/,
    );
  });

  it("drops what is queued for a removed peer without calling it undelivered", async () => {
    const undelivered: number[] = [];
    const a = await Bus.start({ runtime, peers: peer(await closedPort()) });
    a.register(forwardRequest, { receive: () => {}, undelivered: (_, n) => undelivered.push(n) });
    try {
      a.send("b", forwardRequest, 1);
      a.removePeer("b");
      assert.equal(a.hasPeer("b"), false);
      assert.equal(a.stats.drops.closed, 1);
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.deepEqual(undelivered, []);
    } finally {
      await a.close();
    }
  });

  it("abandons a connection attempt to a peer's old address and dials the new one", async () => {
    const timers = new FakeTimers();
    const b = await receiver();
    const blackhole = 9; // connecting there never completes
    const a = await Bus.start({
      runtime: {
        listenTcp: runtime.listenTcp,
        connectTcp: (options, handlers) =>
          options.port === blackhole
            ? new Promise(() => {})
            : runtime.connectTcp(options, handlers),
      },
      peers: peer(blackhole),
      timers,
    });
    try {
      a.send("b", forwardRequest, "queued while dialling");
      assert.equal(a.peerStatus("b")?.state, "connecting");
      a.addPeer("b", at(b.bus.port));
      await until(() => b.received.length === 1);
      assert.deepEqual(b.received.map((r) => r.message), ["queued while dialling"]);
      assert.deepEqual(timers.delays(), []);
    } finally {
      await a.close();
      await b.bus.close();
    }
  });

  it("moves a link to a peer's new address", async () => {
    const timers = new FakeTimers();
    const first = await receiver();
    const second = await receiver();
    const a = await Bus.start({ runtime, peers: peer(first.bus.port), timers, random: () => 0 });
    try {
      a.send("b", forwardRequest, "one");
      await until(() => first.received.length === 1);
      a.addPeer("b", at(second.bus.port));
      assert.equal(a.peerStatus("b")?.state, "backoff");
      timers.advance(timers.delays()[0]);
      await until(() => a.peerStatus("b")?.state === "connected");
      a.send("b", forwardRequest, "two");
      await until(() => second.received.length === 1);
      assert.equal(first.received.length, 1);
    } finally {
      await a.close();
      await first.bus.close();
      await second.bus.close();
    }
  });

  it("tells a handler when an established connection to a peer closes, before dropping what was queued", async () => {
    const first = await receiver();
    const a = await Bus.start({ runtime, peers: peer(first.bus.port) });
    const events: string[] = [];
    a.register(forwardRequest, {
      receive: () => {},
      linkLost: (id) => events.push(`lost ${id}`),
      undelivered: (id, n) => events.push(`undelivered ${id} ${n}`),
    });
    try {
      a.send("b", forwardRequest, "first");
      await until(() => first.received.length === 1);
      assert.deepEqual(events, []);
      await first.bus.close();
      await until(() => events.length > 0);
      assert.deepEqual(events, ["lost b"], "once, for the connection that carried frames");
    } finally {
      await a.close();
      await first.bus.close();
    }
  });
});
