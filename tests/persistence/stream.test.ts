/**
 * Streams on disk: a stream with consumer groups comes back from a snapshot, and from the AOF
 * alone, exactly as it was (entries and nodes, counters, groups, the pending entries XREADGROUP
 * made with their delivery times and counts, consumers), and a received key is logged so that a
 * replay rebuilds it.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { streamRecords } from "../../src/commands/stream.ts";
import { restoreStream, type StreamValue } from "../../src/keyspace/stream.ts";
import { RespDecoder } from "../../src/resp/decoder.ts";
import { dumpData, FakeClock, openNode, tempDir, type TestNode } from "./_node.ts";

/**
 * What clients can see of every stream key: XINFO STREAM FULL, the PEL, the consumers. With
 * `replayed`, consumers' seen times (and idle times) are left out: an AOF has no record of them,
 * and a replay sets them to its own time, as Redis's does.
 */
function observe(node: TestNode, replayed = false): string[] {
  const mask = (reply: string) =>
    replayed ? reply.replace(/(seen-time|idle)\r\n:\d+\r\n/g, "$1\r\n:#\r\n") : reply;
  return ["orders", "empty", "big"].flatMap((key) =>
    [
      node.run("XINFO", "STREAM", key, "FULL", "COUNT", "0"),
      node.run("XINFO", "GROUPS", key),
      node.run("XPENDING", key, "workers", "-", "+", "1000"),
      node.run("XINFO", "CONSUMERS", key, "workers"),
    ].map(mask)
  );
}

/** `dumpData` with consumers' seen times left out (see `observe`). */
function replayedData(node: TestNode): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(dumpData(node.keyspace)).map(([key, item]) => {
      const { value } = item as { value: { type: string; elements: string[] } };
      const stream = restoreStream(value.elements);
      for (const group of stream.groups.values()) {
        for (const consumer of group.consumers.values()) consumer.seenTime = 0;
      }
      return [key, stream.dump()];
    }),
  );
}

/** A stream with history: trimmed nodes, deletions, two groups, claims, acks, NOACK reads. */
function build(node: TestNode, clock: FakeClock): void {
  const run = (line: string) => {
    const reply = node.run(...line.split(" "));
    assert.ok(!reply.startsWith("-"), `${line}: ${reply}`);
  };
  for (let i = 1; i <= 230; i++) run(`XADD orders MAXLEN ~ 150 * n ${i}`);
  run("XADD orders * big " + "x".repeat(3000));
  run("XGROUP CREATE orders workers 0");
  run("XGROUP CREATE orders audit $ ENTRIESREAD 231");
  run("XREADGROUP GROUP workers alice COUNT 30 STREAMS orders >");
  clock.nowMs += 1_000;
  run("XREADGROUP GROUP workers bob COUNT 20 STREAMS orders >");
  run("XREADGROUP GROUP workers carol COUNT 5 NOACK STREAMS orders >");
  clock.nowMs += 250;
  run("XREADGROUP GROUP workers alice COUNT 3 STREAMS orders 0");
  const pending = node.run("XPENDING", "orders", "workers", "-", "+", "4");
  const ids = [...pending.matchAll(/\$\d+\r\n(\d+-\d+)\r\n/g)].map((match) => match[1]);
  run(`XACK orders workers ${ids[0]} ${ids[1]}`);
  run(`XDEL orders ${ids[2]}`);
  run(`XCLAIM orders workers dave 500 ${ids[3]}`);
  run("XAUTOCLAIM orders workers erin 0 0 COUNT 5");
  run("XGROUP CREATECONSUMER orders workers frank");
  run("XADD orders MINID ~ 0 * last one");
  run("XGROUP CREATE empty workers $ MKSTREAM");
  run("XGROUP CREATECONSUMER empty workers nobody");
  for (let i = 1; i <= 120; i++) run(`XADD big ${i}-${i} field ${"y".repeat(i * 10)}`);
  run("XTRIM big MAXLEN ~ 60");
  run("XGROUP CREATE big workers 0");
  run("XREADGROUP GROUP workers w1 COUNT 7 STREAMS big >");
  run("XSETID big 999999-0 ENTRIESADDED 500 MAXDELETEDID 5-5");
}

describe("streams across a restart", () => {
  it("come back from a snapshot exactly, groups and XREADGROUP's pending entries included", async () => {
    const dir = await tempDir();
    try {
      const clock = new FakeClock();
      const node = await openNode(dir.path, { clock });
      build(node, clock);
      assert.equal(node.run("SAVE"), "+OK\r\n");
      const before = observe(node);
      const data = dumpData(node.keyspace);
      await node.close();
      const reopened = await openNode(dir.path, { clock });
      assert.equal(reopened.persistence.report.commandsReplayed, 0, "all of it from the snapshot");
      assert.deepEqual(dumpData(reopened.keyspace), data);
      assert.deepEqual(observe(reopened), before);
      await reopened.close();
    } finally {
      await dir.remove();
    }
  });

  it("come back from the AOF alone exactly: generated IDs, trims, claims and read counters", async () => {
    const dir = await tempDir();
    try {
      const clock = new FakeClock();
      const node = await openNode(dir.path, { clock });
      build(node, clock);
      const before = observe(node, true);
      const data = replayedData(node);
      await node.close();
      const reopened = await openNode(dir.path, { clock });
      assert.ok(reopened.persistence.report.commandsReplayed > 300);
      assert.deepEqual(replayedData(reopened), data);
      assert.deepEqual(observe(reopened, true), before);
      const pending = reopened.run("XPENDING", "orders", "workers", "-", "+", "1000");
      await reopened.close();
      // Replayed later, pending entries keep their delivery times: XPENDING's idle times grow.
      clock.nowMs += 60_000;
      const later = await openNode(dir.path, { clock });
      const idle = (reply: string) =>
        (new RespDecoder().feed(reply)[0] as unknown[][]).map(([id, owner, ms, count]) => [
          id,
          owner,
          Number(ms),
          count,
        ]);
      assert.deepEqual(
        idle(later.run("XPENDING", "orders", "workers", "-", "+", "1000")),
        idle(pending).map(([id, owner, ms, count]) => [id, owner, Number(ms) + 60_000, count]),
      );
      await later.close();
    } finally {
      await dir.remove();
    }
  });

  it("come back from a snapshot plus the AOF written after it", async () => {
    const dir = await tempDir();
    try {
      const clock = new FakeClock();
      const node = await openNode(dir.path, { clock });
      build(node, clock);
      assert.equal(node.run("SAVE"), "+OK\r\n");
      node.run("XREADGROUP", "GROUP", "workers", "zoe", "COUNT", "2", "STREAMS", "orders", ">");
      node.run("XADD", "orders", "*", "after", "save");
      node.run("XGROUP", "DELCONSUMER", "orders", "workers", "bob");
      const before = observe(node, true);
      await node.close();
      const reopened = await openNode(dir.path, { clock });
      assert.deepEqual(observe(reopened, true), before);
      await reopened.close();
    } finally {
      await dir.remove();
    }
  });

  it("log a stream received from another node so that a replay rebuilds it", async () => {
    const dir = await tempDir();
    try {
      const clock = new FakeClock();
      const node = await openNode(dir.path, { clock });
      build(node, clock);
      const source = node.keyspace.store(0).lookup("orders")!.value as StreamValue;
      const copy = await tempDir();
      try {
        const target = await openNode(copy.path, { clock });
        for (const argv of streamRecords("orders", source.dump())) {
          const reply = target.run(...argv);
          assert.ok(!reply.startsWith("-"), `${argv.join(" ")}: ${reply}`);
        }
        const read = (n: TestNode) => [
          n.run("XRANGE", "orders", "-", "+"),
          n.run("XINFO", "GROUPS", "orders"),
          n.run("XPENDING", "orders", "workers", "-", "+", "1000"),
          n.run("XLEN", "orders"),
        ];
        assert.deepEqual(read(target), read(node));
        const emptyStream = node.keyspace.store(0).lookup("empty")!.value as StreamValue;
        const empty = streamRecords("e", emptyStream.dump());
        for (const argv of empty) target.run(...argv);
        assert.equal(target.run("XINFO", "GROUPS", "e"), node.run("XINFO", "GROUPS", "empty"));
        assert.equal(target.run("XLEN", "e"), ":0\r\n");
        await target.close();
      } finally {
        await copy.remove();
      }
      await node.close();
    } finally {
      await dir.remove();
    }
  });
});
