/**
 * Shard channels (SSUBSCRIBE, SUNSUBSCRIBE, SPUBLISH, PUBSUB SHARDCHANNELS|SHARDNUMSUB) on one
 * node: a subscriber's and a publisher's reply bytes, RESP2 and RESP3, equal redis-server's for
 * the same script (skipped without redis-server, a failure under CI).
 */
import { timeLimited } from "../_time_limit.ts";
import assert from "node:assert/strict";
import { buildConfig } from "../../src/config/config.ts";
import { assembleNode } from "../../src/node.ts";
import { currentRuntime } from "../../src/runtime/mod.ts";
import { encodeCommand } from "../e2e/_raw_client.ts";
import { connect } from "node:net";
import { RespDecoder } from "../../src/resp/decoder.ts";
import { referenceRedis } from "./_redis_reference.ts";

const { after, before, describe, it } = timeLimited(import.meta.url, 60_000);

/** A connection that keeps every byte it receives, counting the replies in them. */
async function open(port: number) {
  const socket = connect(port, "127.0.0.1");
  await new Promise((resolve) => socket.once("connect", resolve));
  const decoder = new RespDecoder();
  let received = "";
  let replies = 0;
  socket.on("data", (chunk) => {
    const text = chunk.toString("latin1");
    received += text;
    replies += decoder.feed(text).length;
  });
  return {
    send: (...argv: string[]) => socket.write(encodeCommand(argv), "latin1"),
    /** Waits for `count` more replies (5 s at most), and takes their bytes. */
    async take(count: number): Promise<string> {
      const until = Date.now() + 5000;
      while (replies < count && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
      replies -= count;
      const text = received;
      received = "";
      return text;
    },
    close: () => socket.destroy(),
  };
}

/** The script on a server at `port`: what the subscriber and the publisher got, step by step. */
async function script(port: number): Promise<string[]> {
  const sub = await open(port);
  const pub = await open(port);
  const seen: string[] = [];
  try {
    sub.send("SSUBSCRIBE", "a", "b");
    seen.push(await sub.take(2));
    pub.send("SPUBLISH", "a", "hello");
    pub.send("SPUBLISH", "nobody", "x");
    // One channel a pattern: Redis lists several in its hash table's order.
    pub.send("PUBSUB", "SHARDCHANNELS", "a*");
    pub.send("PUBSUB", "SHARDCHANNELS", "b*");
    pub.send("PUBSUB", "SHARDNUMSUB", "a", "c");
    pub.send("PUBLISH", "a", "not a shard message");
    seen.push(await pub.take(6), await sub.take(1));
    // Subscribed mode allows only the subscription commands; SUBSCRIBE counts channels apart.
    sub.send("GET", "x");
    sub.send("SUBSCRIBE", "ch");
    sub.send("SUNSUBSCRIBE", "a");
    sub.send("SUNSUBSCRIBE");
    sub.send("SUNSUBSCRIBE");
    sub.send("UNSUBSCRIBE");
    seen.push(await sub.take(6));
    sub.send("HELLO", "3");
    await sub.take(1); // the server's HELLO map differs (name, version)
    sub.send("SSUBSCRIBE", "z");
    seen.push(await sub.take(1));
    pub.send("SPUBLISH", "z", "m3");
    seen.push(await pub.take(1), await sub.take(1));
  } finally {
    sub.close();
    pub.close();
  }
  return seen;
}

describe("shard channels against redis-server", () => {
  const redis = referenceRedis(before, after);

  it("gives a subscriber and a publisher the bytes redis-server gives, in RESP2 and RESP3", async (t) => {
    const reference = redis();
    if (reference === undefined) return t.skip("redis-server is not installed");
    const { resp } = await assembleNode(
      buildConfig({ port: 0, http: { enabled: false } }),
      await currentRuntime(),
    );
    await resp.start();
    try {
      const ours = await script(resp.port);
      const theirs = await script(reference.port);
      assert.deepEqual(ours, theirs);
      assert.match(ours[2], /smessage/, "the subscriber got the shard message");
    } finally {
      await resp.stop();
    }
  });
});
