/**
 * Blocking commands of clients that are not connections: a command forwarded from another node
 * (`parkable`) blocks on this node, the key's owner, and is served by a push or answered null at
 * its timeout as a connection's would be; and a push that no connection ran (the HTTP API, a
 * forwarded command) wakes the connections waiting on its key.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { buildConfig } from "../../src/config/config.ts";
import { HttpExecutor } from "../../src/http/executor.ts";
import { assembleNode } from "../../src/node.ts";
import { currentRuntime } from "../../src/runtime/mod.ts";
import { encodeCommand, RawClient } from "../e2e/_raw_client.ts";

async function node() {
  const runtime = await currentRuntime();
  const config = buildConfig({ port: 0, http: { enabled: false } });
  const parts = await assembleNode(config, runtime);
  await parts.resp.start();
  const executor = new HttpExecutor(parts.dispatcher, () => Date.now());
  /** A client as the cluster's forwarder makes one for another node's command. */
  const forwarded = () => {
    const client = executor.client("admin", 0);
    client.parkable = true;
    return client;
  };
  return { resp: parts.resp, executor, forwarded };
}

describe("blocking commands parked for other nodes' clients", () => {
  it("waits for a push over RESP, then answers the popped element", async () => {
    const { resp, executor, forwarded } = await node();
    const pusher = await RawClient.open(resp.port);
    try {
      const reply = executor.runText(forwarded(), ["BLPOP", "jobs", "0"]);
      assert.ok(reply instanceof Promise, "the reply waits");
      assert.equal(resp.blockedCount, 1);
      pusher.write(encodeCommand(["RPUSH", "jobs", "a", "b"]));
      assert.deepEqual(await pusher.take(1), [2]);
      assert.equal(await reply, "*2\r\n$4\r\njobs\r\n$1\r\na\r\n");
      assert.equal(resp.blockedCount, 0);
      pusher.write(encodeCommand(["LRANGE", "jobs", "0", "-1"]));
      assert.deepEqual(await pusher.take(1), [["b"]], "one element taken, once");
    } finally {
      pusher.close();
      await resp.stop();
    }
  });

  it("is served by a push that no connection ran, in arrival order with connections", async () => {
    const { resp, executor, forwarded } = await node();
    const waiter = await RawClient.open(resp.port);
    try {
      waiter.write(encodeCommand(["BLPOP", "q", "0"]));
      // The connection parks first, then the forwarded command.
      while (resp.blockedCount < 1) await new Promise((r) => setTimeout(r, 5));
      const second = executor.runText(forwarded(), ["BRPOP", "q", "0"]);
      assert.equal(resp.blockedCount, 2);
      // Pushed through the executor (HTTP or forwarded): no connection batch follows it.
      assert.equal(
        executor.runText(executor.client("admin", 0), ["RPUSH", "q", "x", "y"]),
        ":2\r\n",
      );
      assert.deepEqual(await waiter.take(1), [["q", "x"]], "the connection, first in line");
      assert.equal(await second, "*2\r\n$1\r\nq\r\n$1\r\ny\r\n");
      assert.equal(resp.blockedCount, 0);
    } finally {
      waiter.close();
      await resp.stop();
    }
  });

  it("answers null at its timeout: a null array for BLPOP, a null bulk for BLMOVE", async () => {
    const { resp, executor, forwarded } = await node();
    try {
      const started = Date.now();
      const [pop, move] = await Promise.all([
        executor.runText(forwarded(), ["BLPOP", "none", "0.05"]),
        executor.runText(forwarded(), ["BLMOVE", "none", "dst", "LEFT", "RIGHT", "0.05"]),
      ]);
      assert.ok(Date.now() - started >= 40, "waited for the timeout");
      assert.equal(pop, "*-1\r\n");
      assert.equal(move, "$-1\r\n");
      assert.equal(resp.blockedCount, 0);
    } finally {
      await resp.stop();
    }
  });

  it("keeps its place when a push to another of its keys is taken first", async () => {
    const { resp, executor, forwarded } = await node();
    try {
      const reply = executor.runText(forwarded(), ["BLPOP", "k1", "k2", "0"]);
      // A push and a pop in one MULTI leave the key empty when the waiter runs again.
      const tx = executor.client("admin", 0);
      for (const argv of [["MULTI"], ["RPUSH", "k2", "gone"], ["LPOP", "k2"], ["EXEC"]]) {
        executor.runText(tx, argv);
      }
      await new Promise((r) => setTimeout(r, 10));
      assert.equal(resp.blockedCount, 1, "still waiting");
      executor.runText(executor.client("admin", 0), ["RPUSH", "k1", "v"]);
      assert.equal(await reply, "*2\r\n$2\r\nk1\r\n$1\r\nv\r\n");
    } finally {
      await resp.stop();
    }
  });

  it("stops waiting when its client goes away, so a later push is not popped for nobody", async () => {
    const { resp, executor, forwarded } = await node();
    try {
      const client = forwarded();
      const reply = executor.runText(client, ["BLPOP", "orphan", "0"]);
      assert.ok(reply instanceof Promise);
      assert.equal(resp.blockedCount, 1);
      assert.equal(executor.abandon(client), true, "a parked command was cancelled");
      assert.equal(resp.blockedCount, 0);
      assert.equal(executor.abandon(client), false, "once");
      const other = executor.client("admin", 0);
      assert.equal(executor.runText(other, ["RPUSH", "orphan", "kept"]), ":1\r\n");
      await new Promise((r) => setTimeout(r, 10));
      assert.equal(
        executor.runText(other, ["LRANGE", "orphan", "0", "-1"]),
        "*1\r\n$4\r\nkept\r\n",
      );
    } finally {
      await resp.stop();
    }
  });

  it("is not cancelled once served: abandoning it then cancels nothing", async () => {
    const { resp, executor, forwarded } = await node();
    try {
      const client = forwarded();
      const reply = executor.runText(client, ["BLPOP", "served", "0"]);
      executor.runText(executor.client("admin", 0), ["RPUSH", "served", "v"]);
      assert.equal(await reply, "*2\r\n$6\r\nserved\r\n$1\r\nv\r\n");
      assert.equal(executor.abandon(client), false);
    } finally {
      await resp.stop();
    }
  });

  it("ends with TRYAGAIN when the node stops", async () => {
    const { resp, executor, forwarded } = await node();
    const reply = executor.runText(forwarded(), ["BLPOP", "never", "0"]);
    await resp.stop();
    assert.equal(await reply, "-TRYAGAIN the slot's owner is stopping\r\n");
  });

  it("is refused, as over HTTP, for a client that cannot park", async () => {
    const { resp, executor } = await node();
    try {
      assert.match(
        executor.runText(executor.client("admin", 0), ["BLPOP", "k", "0"]) as string,
        /^-ERR 'blpop' is not supported over HTTP/,
      );
    } finally {
      await resp.stop();
    }
  });
});
