/**
 * Keyspace notifications against redis-server 7.0: the same commands on a node built in process
 * and on a reference server, and a subscriber on each must receive the same messages in the
 * same order (`new` for a created key before the command's own event); CONFIG GET
 * notify-keyspace-events answers Redis's canonical spelling.
 */
import assert from "node:assert/strict";
import { buildConfig } from "../../src/config/config.ts";
import { assembleNode } from "../../src/node.ts";
import { currentRuntime } from "../../src/runtime/mod.ts";
import { RawClient } from "../e2e/_raw_client.ts";
import { referenceRedis } from "./_redis_reference.ts";
import { timeLimited } from "../_time_limit.ts";

const { after, before, describe, it } = timeLimited(import.meta.url, 60_000);

const COMMANDS = [
  ["SET", "a", "1"],
  ["SET", "a", "2"],
  ["SETNX", "s", "v"],
  ["SETNX", "s", "w"],
  ["MSET", "m1", "1", "m2", "2"],
  ["INCR", "counter"],
  ["HSET", "h", "f", "v"],
  ["LPUSH", "l", "x"],
  ["SADD", "set", "m"],
  ["ZADD", "z", "1", "m"],
  ["RENAME", "a", "b"],
  ["COPY", "b", "c"],
  ["APPEND", "c", "x"],
  ["DEL", "b", "c"],
  ["LPOP", "l"],
];

describe("keyspace notifications as redis-server sends them", () => {
  const reference = referenceRedis(before, after);
  let port = 0;
  let stop: () => Promise<void> = async () => {};

  before(async () => {
    const parts = await assembleNode(buildConfig({ port: 0, http: { enabled: false } }), {
      ...await currentRuntime(),
    });
    await parts.resp.start();
    port = parts.resp.port;
    stop = () => parts.resp.stop();
  });
  after(() => stop());

  /** The messages a subscriber to every keyspace channel gets for `COMMANDS` under `flags`. */
  async function messages(at: number, flags: string): Promise<unknown[]> {
    const writer = await RawClient.open(at);
    const subscriber = await RawClient.open(at);
    try {
      writer.send("FLUSHALL");
      writer.send("CONFIG", "SET", "notify-keyspace-events", flags);
      await writer.take(2);
      subscriber.send("PSUBSCRIBE", "__key*__:*");
      await subscriber.take(1);
      for (const argv of COMMANDS) writer.send(...argv);
      await writer.take(COMMANDS.length);
      // A marker published after the commands: every notification is in by then.
      writer.send("PUBLISH", "__keyevent@0__:zz-end", "end");
      await writer.take(1);
      const received: unknown[] = [];
      for (;;) {
        const [message] = await subscriber.take(1) as unknown[][];
        if (message[2] === "__keyevent@0__:zz-end") break;
        received.push(`${message[2]} ${message[3]}`);
      }
      return received;
    } finally {
      writer.send("CONFIG", "SET", "notify-keyspace-events", "");
      await writer.take(1);
      writer.close();
      subscriber.close();
    }
  }

  for (const flags of ["KEA", "KEAn", "En", "Kn$", "E$gn"]) {
    it(`delivers the same events in the same order under '${flags}'`, async () => {
      const redis = reference();
      if (!redis) return;
      const expected = await messages(redis.port, flags);
      assert.ok(expected.length > 0);
      assert.deepEqual(await messages(port, flags), expected);
    });
  }

  it("answers CONFIG GET notify-keyspace-events in Redis's canonical spelling", async () => {
    const redis = reference();
    if (!redis) return;
    const ours = await RawClient.open(port);
    try {
      for (const flags of ["Exg$K", "KEA", "KElshzxetg$dmn", "nEK", "Kg", "AKEn", "mtK", ""]) {
        await redis.run("CONFIG", "SET", "notify-keyspace-events", flags);
        const expected = await redis.run("CONFIG", "GET", "notify-keyspace-events");
        ours.send("CONFIG", "SET", "notify-keyspace-events", flags);
        ours.send("CONFIG", "GET", "notify-keyspace-events");
        const [, got] = await ours.take(2);
        assert.equal(
          `*2\r\n$22\r\nnotify-keyspace-events\r\n$${(got as string[])[1].length}\r\n${
            (got as string[])[1]
          }\r\n`,
          expected,
          flags,
        );
      }
    } finally {
      ours.close();
    }
  });
});
