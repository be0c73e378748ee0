import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  decodePacket,
  decodePushPull,
  encodeMessage,
  encodePacket,
  encodePushPull,
  type PacketMessage,
} from "../../src/gossip/messages.ts";
import { BroadcastQueue } from "../../src/gossip/broadcast_queue.ts";
import { LamportClock, UserEventBuffer } from "../../src/gossip/user_events.ts";
import { gossipConfig } from "../../src/gossip/config.ts";

describe("messages", () => {
  it("round-trips every message type through a compound packet", () => {
    const messages: PacketMessage[] = [
      { type: "ping", seq: 1, targetId: "b", fromId: "a" },
      {
        type: "indirectPing",
        seq: 2,
        targetId: "c",
        host: "10.0.0.3",
        port: 7946,
        nack: true,
        fromId: "a",
      },
      { type: "ack", seq: 3 },
      { type: "nack", seq: 4 },
      { type: "suspect", incarnation: 5, id: "c", fromId: "a" },
      {
        type: "alive",
        incarnation: 6,
        id: "d",
        host: "10.0.0.4",
        port: 1,
        meta: new Uint8Array([1, 2]),
      },
      { type: "dead", incarnation: 7, id: "d", fromId: "d" },
      { type: "user", ltime: 8, name: "deploy", payload: new Uint8Array([9]), originId: "a" },
    ];
    const packet = encodePacket(messages.map(encodeMessage));
    assert.deepEqual(decodePacket(packet), messages);
  });

  it("frames packets of more than 23 and more than 255 messages", () => {
    for (const count of [24, 300]) {
      const msgs = Array.from({ length: count }, (_, i) => encodeMessage({ type: "ack", seq: i }));
      assert.equal(decodePacket(encodePacket(msgs)).length, count);
    }
  });

  it("rejects a packet of another version or a malformed message", () => {
    const packet = encodePacket([encodeMessage({ type: "ack", seq: 1 })]);
    packet[0] = 9;
    assert.throws(() => decodePacket(packet), TypeError);
    assert.throws(() => decodePacket(new Uint8Array([1, 0x81, 0x82, 0x02, 0x61])), Error);
    const wrong = encodePacket([new Uint8Array([0x82, 0x02, 0x61, 0x78])]); // ack with a text seq
    assert.throws(() => decodePacket(wrong), TypeError);
  });

  it("round-trips a push-pull state transfer", () => {
    const message = {
      type: "pushPull" as const,
      join: true,
      members: [
        {
          id: "a",
          host: "h",
          port: 2,
          incarnation: 3,
          state: "left" as const,
          meta: new Uint8Array(0),
        },
      ],
      eventLtime: 12,
      events: [{
        type: "user" as const,
        ltime: 11,
        name: "deploy",
        payload: new Uint8Array([1]),
        originId: "a",
      }],
    };
    assert.deepEqual(decodePushPull(encodePushPull(message)), message);
  });

  it("reads a push-pull without events (from an older member) as carrying none", () => {
    const older = encodePushPull({
      type: "pushPull",
      join: false,
      members: [],
      eventLtime: 3,
      events: [],
    })
      .slice(0, -1); // drop the trailing empty events array
    older[1] = 0x84; // a CBOR array of 4 items instead of 5
    assert.deepEqual(decodePushPull(older).events, []);
  });
});

describe("BroadcastQueue", () => {
  const bytes = (n: number, fill = 0) => new Uint8Array(n).fill(fill);

  it("replaces an older broadcast about the same member", () => {
    const q = new BroadcastQueue(10);
    q.push("m:a", bytes(10, 1));
    q.push("m:a", bytes(10, 2));
    assert.equal(q.size, 1);
    assert.deepEqual(q.take({ budgetBytes: 100, transmitLimit: 5 }), [bytes(10, 2)]);
  });

  it("sends the least transmitted first, newest first among equals, up to the limit", () => {
    const q = new BroadcastQueue(10);
    q.push("a", bytes(10, 1));
    q.push("b", bytes(10, 2));
    assert.deepEqual(q.take({ budgetBytes: 25, transmitLimit: 2 }), [bytes(10, 2), bytes(10, 1)]);
    q.push("c", bytes(10, 3));
    assert.deepEqual(q.take({ budgetBytes: 25, transmitLimit: 2 }), [bytes(10, 3), bytes(10, 2)]);
    assert.equal(q.size, 2);
    assert.deepEqual(q.take({ budgetBytes: 100, transmitLimit: 2 }), [bytes(10, 3), bytes(10, 1)]);
    assert.equal(q.size, 0);
  });

  it("skips what does not fit and fills with what does", () => {
    const q = new BroadcastQueue(10);
    q.push("small", bytes(20, 1));
    q.push("big", bytes(90, 2));
    assert.deepEqual(q.take({ budgetBytes: 50, transmitLimit: 3 }), [bytes(20, 1)]);
    assert.equal(q.transmits("big"), 0);
  });

  it("stays bounded by dropping the most transmitted broadcast", () => {
    const q = new BroadcastQueue(2);
    q.push("a", bytes(10));
    q.take({ budgetBytes: 16, transmitLimit: 9 });
    q.push("b", bytes(10));
    q.push("c", bytes(10));
    assert.equal(q.size, 2);
    assert.equal(q.transmits("a"), -1);
    assert.equal(q.dropped, 1);
  });
});

describe("user events", () => {
  it("orders events with a Lamport clock", () => {
    const clock = new LamportClock();
    assert.equal(clock.next(), 0);
    clock.witness(10);
    assert.equal(clock.next(), 11);
    clock.witness(3);
    assert.equal(clock.time, 12);
  });

  it("drops duplicates and events older than the buffer", () => {
    const buffer = new UserEventBuffer(4);
    const e = { ltime: 5, name: "x", payload: new Uint8Array([1]), originId: "a", currentLtime: 6 };
    assert.equal(buffer.offer(e), "new");
    assert.equal(buffer.offer(e), "duplicate");
    assert.equal(buffer.offer({ ...e, payload: new Uint8Array([2]) }), "new");
    assert.equal(buffer.offer({ ...e, ltime: 9, currentLtime: 10 }), "new");
    assert.equal(buffer.offer({ ...e, ltime: 1, currentLtime: 10 }), "too-old");
  });

  it("lists the remembered events of recent Lamport times, oldest first", () => {
    const buffer = new UserEventBuffer(8);
    const at = (ltime: number) => ({
      ltime,
      name: "x",
      payload: new Uint8Array([ltime]),
      originId: "a",
    });
    for (const ltime of [2, 5, 6]) buffer.offer({ ...at(ltime), currentLtime: 7 });
    assert.deepEqual(buffer.recent(7, 64), [at(2), at(5), at(6)]);
    assert.deepEqual(buffer.recent(7, 2), [at(5), at(6)]);
    assert.deepEqual(buffer.recent(6, 64), [at(2), at(5)]);
  });
});

describe("gossipConfig", () => {
  it("uses memberlist's LAN defaults for lan", () => {
    const c = gossipConfig("lan");
    assert.equal(c.probeIntervalMs, 1000);
    assert.equal(c.probeTimeoutMs, 500);
    assert.equal(c.indirectChecks, 3);
    assert.equal(c.retransmitMult, 4);
    assert.equal(c.suspicionMult, 4);
    assert.equal(c.suspicionMaxTimeoutMult, 6);
    assert.equal(c.awarenessMaxMultiplier, 8);
    assert.equal(c.gossipIntervalMs, 200);
    assert.equal(c.gossipNodes, 3);
    assert.equal(c.pushPullIntervalMs, 30_000);
    assert.equal(c.maxDatagramBytes, 1400);
  });

  it("rejects nonsense with a sentence naming the setting", () => {
    assert.throws(
      () => gossipConfig("lan", { probeTimeoutMs: 2000 }),
      /'probeTimeoutMs' must be below 'probeIntervalMs'/,
    );
    assert.throws(() => gossipConfig("lan", { gossipNodes: -1 }), /'gossipNodes'/);
    // deno-lint-ignore no-explicit-any
    assert.throws(() => gossipConfig("moon" as any), /unknown profile/);
  });
});
