/**
 * The stream value on its own: IDs at their limits, nodes, consumer groups with their pending
 * entries, and `dump()` / restore, which snapshots and slot migration rely on, round-tripping all
 * of it.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  formatId,
  IdMap,
  MAX_ID,
  NODE_MAX_ENTRIES,
  parseFormattedId,
  restoreStream,
  streamId,
  StreamValue,
} from "../../src/keyspace/stream.ts";
import { restoreContainer } from "../../src/keyspace/values.ts";

const U64_MAX = (1n << 64n) - 1n;

/** Everything observable about a stream, as plain data. */
function snapshotOf(stream: StreamValue) {
  const entries: [string, string[]][] = [];
  stream.range(0n, MAX_ID, false, (id, fields) => {
    entries.push([formatId(id), fields]);
    return true;
  });
  return {
    entries,
    length: stream.length,
    lastId: formatId(stream.lastId),
    entriesAdded: stream.entriesAdded,
    maxDeletedId: formatId(stream.maxDeletedId),
    firstId: formatId(stream.firstId()),
    nodes: stream.nodes.map((node) => [formatId(node.master), node.bytes, node.ids.length]),
    radixTreeNodes: stream.radixTreeNodes(),
    sizeBytes: stream.sizeBytes,
    groups: stream.sortedGroups().map((group) => ({
      name: group.name,
      lastId: formatId(group.lastId),
      entriesRead: group.entriesRead,
      lag: stream.lag(group),
      pel: [...pending(group.pel)].map((entry) => [
        formatId(entry.id),
        entry.consumer.name,
        entry.deliveryTime,
        entry.deliveryCount,
      ]),
      consumers: group.sortedConsumers().map((consumer) => ({
        name: consumer.name,
        seenTime: consumer.seenTime,
        pel: [...pending(consumer.pel)].map((entry) => formatId(entry.id)),
      })),
    })),
  };
}

function* pending<T>(pel: IdMap<T>): Generator<T> {
  const items: T[] = [];
  pel.walk(0n, (_, value) => {
    items.push(value);
    return true;
  });
  yield* items;
}

/** A stream with several nodes, deleted entries, two groups, pending entries and consumers. */
function busyStream(): StreamValue {
  const stream = new StreamValue();
  for (let i = 1; i <= 250; i++) stream.append(streamId(BigInt(i), 1n), ["f", String(i)]);
  stream.append(streamId(300n, 0n), ["big", "x".repeat(5000)]);
  stream.append(streamId(U64_MAX, U64_MAX - 1n), ["", "\x00\xff\r\n"]);
  for (const i of [3, 7, 150, 151]) stream.delete(streamId(BigInt(i), 1n));
  const group = stream.createGroup("g", streamId(10n, 1n), 10n)!;
  const other = stream.createGroup("\xffbinary group", 0n, -1n)!;
  const alice = stream.createConsumer(group, "alice", 1_000);
  const bob = stream.createConsumer(group, "bob", 2_000);
  stream.createConsumer(other, "idle", 3_000);
  for (let i = 1; i <= 10; i++) {
    stream.addPending(group, i % 2 ? alice : bob, streamId(BigInt(i), 1n), 500 + i, BigInt(i));
  }
  // An entry pending after it was deleted, and one delivered many times.
  stream.addPending(group, bob, streamId(150n, 1n), 9_000, 9_223_372_036_854_775_807n);
  stream.trim({ strategy: "maxlen", threshold: 240n, approx: false, limit: 0 });
  return stream;
}

describe("stream IDs", () => {
  it("format and parse unsigned 64-bit milliseconds and sequence, up to the largest ID", () => {
    assert.equal(formatId(MAX_ID), "18446744073709551615-18446744073709551615");
    assert.equal(formatId(0n), "0-0");
    assert.equal(parseFormattedId("18446744073709551615-18446744073709551615"), MAX_ID);
    assert.equal(formatId(streamId(1n, U64_MAX) + 1n), "2-0", "a sequence overflow carries");
    assert.equal(parseFormattedId(formatId(streamId(123n, 456n))), streamId(123n, 456n));
    assert.throws(() => parseFormattedId("12"));
  });

  it("generate * from the clock, or the last ID plus one when the clock is behind, none past the largest", () => {
    const stream = new StreamValue();
    assert.equal(stream.autoId(5_000), streamId(5_000n, 0n));
    stream.append(streamId(9_000n, U64_MAX), ["a", "b"]);
    assert.equal(stream.autoId(5_000), streamId(9_001n, 0n), "the sequence overflows into ms");
    assert.equal(stream.autoId(10_000), streamId(10_000n, 0n));
    assert.equal(stream.idWithSeqFor(9_000n), null, "ms-* with the sequence exhausted");
    assert.equal(stream.idWithSeqFor(8_999n), null, "ms-* below the last ID");
    assert.equal(stream.idWithSeqFor(9_001n), streamId(9_001n, 0n));
    stream.lastId = MAX_ID;
    assert.equal(stream.autoId(Date.now()), null);
  });
});

describe("stream nodes", () => {
  it("hold at most 100 entries, deleted ones included, and start anew past 4096 bytes", () => {
    const stream = new StreamValue();
    for (let i = 1; i <= 2 * NODE_MAX_ENTRIES + 1; i++) {
      stream.append(streamId(BigInt(i), 0n), ["f", "v"]);
    }
    assert.deepEqual(stream.nodes.map((node) => node.ids.length), [100, 100, 1]);
    stream.delete(streamId(5n, 0n));
    assert.equal(stream.nodes[0].ids.length, 100, "a deleted entry stays in its node");
    const big = new StreamValue();
    for (let i = 1; i <= 3; i++) big.append(streamId(BigInt(i), 0n), ["f", "x".repeat(2000)]);
    assert.deepEqual(big.nodes.map((node) => node.ids.length), [2, 1]);
  });

  it("go when their last live entry is deleted; whole nodes only with ~", () => {
    const stream = new StreamValue();
    for (let i = 1; i <= 250; i++) stream.append(streamId(BigInt(i), 0n), ["f", "v"]);
    for (let i = 1; i <= 100; i++) stream.delete(streamId(BigInt(i), 0n));
    assert.equal(stream.nodes.length, 2);
    assert.equal(stream.maxDeletedId, streamId(100n, 0n));
    // 150 live entries, 100 in the first node: it goes only if 50 are enough.
    assert.equal(stream.trim({ strategy: "maxlen", threshold: 60n, approx: true, limit: 0 }), 0);
    assert.equal(stream.trim({ strategy: "maxlen", threshold: 50n, approx: true, limit: 0 }), 100);
    assert.equal(stream.trim({ strategy: "maxlen", threshold: 10n, approx: true, limit: 0 }), 0);
    assert.equal(
      stream.trim({ strategy: "minid", threshold: streamId(241n, 0n), approx: false, limit: 0 }),
      40,
    );
    assert.equal(formatId(stream.firstId()), "241-0");
    assert.equal(stream.maxDeletedId, streamId(100n, 0n), "trimming is not deleting");
  });

  it("count radix tree nodes as Redis's compressed tree over 16-byte IDs does", () => {
    const stream = new StreamValue();
    assert.equal(stream.radixTreeNodes(), 1, "the root alone");
    stream.append(streamId(1n, 0n), ["f", "v"]);
    assert.equal(stream.radixTreeNodes(), 2);
    for (let i = 2; i <= 101; i++) stream.append(streamId(BigInt(i), 0n), ["f", "v"]);
    // Two keys differing in the last byte of the milliseconds: the root's shared bytes, the
    // branch, and for each key the rest of its bytes and its leaf.
    assert.equal(stream.nodes.length, 2);
    assert.equal(stream.radixTreeNodes(), 6);
  });
});

describe("consumer group pending entries", () => {
  it("keep IDs in order whatever order they come and go in", () => {
    const map = new IdMap<number>();
    for (const n of [5, 1, 9, 3, 7, 2]) map.set(BigInt(n), n);
    map.delete(1n);
    map.delete(7n);
    map.set(4n, 4);
    assert.deepEqual([...pending(map)], [2, 3, 4, 5, 9]);
    assert.deepEqual(map.bounds(), [2n, 9n]);
    for (let i = 0; i < 200; i++) map.set(BigInt(100 + i), i);
    for (let i = 0; i < 150; i++) map.delete(BigInt(100 + i));
    const rest: number[] = [];
    map.walk(4n, (id) => {
      rest.push(Number(id));
      return rest.length < 4;
    });
    assert.deepEqual(rest, [4, 5, 9, 250]);
    assert.equal(map.size, 55);
  });
});

describe("stream dump and restore", () => {
  it("round-trip entries, nodes, counters, groups, pending entries and consumers", () => {
    const stream = busyStream();
    const restored = restoreContainer("stream", stream.dump()) as StreamValue;
    assert.deepEqual(snapshotOf(restored), snapshotOf(stream));
    assert.deepEqual(restored.dump(), stream.dump());
  });

  it("keep an empty stream's last ID, counters and groups", () => {
    const stream = new StreamValue();
    stream.append(streamId(5n, 5n), ["a", "b"]);
    stream.delete(streamId(5n, 5n));
    stream.createGroup("g", streamId(5n, 5n), 1n);
    const restored = restoreStream(stream.dump());
    assert.deepEqual(snapshotOf(restored), snapshotOf(stream));
    assert.equal(restored.length, 0);
    assert.equal(restored.nodes.length, 0);
    assert.equal(formatId(restored.lastId), "5-5");
  });

  it("clone a stream deeply (COPY): changing the copy leaves the original", () => {
    const stream = busyStream();
    const before = snapshotOf(stream);
    const copy = stream.clone();
    copy.append(streamId(U64_MAX, U64_MAX), ["x", "y"]);
    const group = copy.groups.get("g")!;
    copy.ack(group, streamId(1n, 1n));
    copy.destroyGroup("\xffbinary group");
    assert.deepEqual(snapshotOf(stream), before);
    assert.notDeepEqual(snapshotOf(copy), before);
  });

  it("refuses a truncated dump rather than restoring part of it", () => {
    const dump = busyStream().dump();
    assert.throws(() => restoreStream(dump.slice(0, dump.length - 3)), /truncated/);
  });

  it("accounts memory: more with entries and pending entries, back down as they go", () => {
    const stream = new StreamValue();
    stream.append(streamId(1n, 0n), ["f", "v"]);
    const one = stream.sizeBytes;
    for (let i = 2; i <= 300; i++) stream.append(streamId(BigInt(i), 0n), ["f", "v"]);
    const many = stream.sizeBytes;
    assert.ok(many > 100 * one / 2, `${many} for 300 entries, ${one} for one`);
    const group = stream.createGroup("g", 0n, 0n)!;
    const consumer = stream.createConsumer(group, "c", 0);
    for (let i = 1; i <= 300; i++) {
      stream.addPending(group, consumer, streamId(BigInt(i), 0n), 0, 1n);
    }
    assert.ok(stream.sizeBytes > many);
    stream.destroyGroup("g");
    assert.equal(stream.sizeBytes, many);
    stream.trim({ strategy: "maxlen", threshold: 0n, approx: false, limit: 0 });
    assert.equal(stream.sizeBytes, 0);
    assert.equal(restoreStream(busyStream().dump()).sizeBytes, busyStream().sizeBytes);
  });
});
