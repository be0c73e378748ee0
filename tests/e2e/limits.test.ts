import { timeLimited } from "../_time_limit.ts";
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { cleanup, type NodeProcess, redisCli, RUNTIMES, startNode } from "./_harness.ts";
import { RespClient } from "./_resp_client.ts";

const { after, before, describe, it } = timeLimited(import.meta.url, 120_000);

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => resolve(socket));
    socket.once("error", reject);
  });
}

function closed(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) resolve();
    socket.once("close", () => resolve());
  });
}

for (const runtime of RUNTIMES) {
  describe(`limits on ${runtime}`, () => {
    let node: NodeProcess;
    before(async () => {
      node = await startNode(runtime, {
        config: "limits:\n  client_output_buffer_limit_pubsub: 1mb\nmaxclients: 20\n",
      });
    });
    after(async () => {
      await cleanup(node);
    });

    it("disconnects a subscriber that does not read, and keeps serving", async () => {
      const subscriber = await open(node.port);
      subscriber.write("*2\r\n$9\r\nSUBSCRIBE\r\n$4\r\nfeed\r\n");
      await new Promise((resolve) => subscriber.once("data", resolve));
      // Stop reading: the kernel buffers fill, then the server's queue for this client grows.
      subscriber.pause();
      const publisher = await RespClient.open(node.port);
      const message = "m".repeat(64 * 1024);
      let receivers = 1;
      for (let i = 0; i < 2000 && receivers === 1; i++) {
        receivers = (await publisher.send("PUBLISH", "feed", message)) as number;
      }
      assert.equal(receivers, 0, "the slow subscriber was dropped");
      subscriber.destroy();
      await closed(subscriber);
      const info = (await publisher.send("INFO", "stats")) as string;
      assert.match(info, /client_output_buffer_limit_disconnections:[1-9]/);
      assert.equal(await publisher.send("PING"), "PONG");
      publisher.close();
    });

    it("refuses connections beyond maxclients with Redis's error", async () => {
      const sockets: Socket[] = [];
      for (let i = 0; i < 20; i++) sockets.push(await open(node.port));
      const extra = await open(node.port);
      const reply = await new Promise<string>((resolve) =>
        extra.once("data", (d) => resolve(d.toString()))
      );
      assert.equal(reply, "-ERR max number of clients reached\r\n");
      for (const socket of sockets) socket.destroy();
      extra.destroy();
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal((await redisCli(node.port, ["PING"])).stdout.trim(), "PONG");
    });

    it("survives 200 connections sending random bytes, and serves the next client", async () => {
      let seed = 12345;
      const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
      for (let i = 0; i < 200; i++) {
        const socket = await open(node.port);
        const garbage = new Uint8Array(1 + Math.floor(random() * 2000));
        for (let j = 0; j < garbage.length; j++) garbage[j] = Math.floor(random() * 256);
        // Start some with a valid prefix so the parser gets deep into a command first.
        if (i % 2 === 0) garbage.set(new TextEncoder().encode("*3\r\n$3\r\nSET\r\n"), 0);
        socket.resume(); // read (and drop) whatever comes back, so the close is seen
        socket.write(garbage);
        socket.end();
        await closed(socket);
      }
      assert.equal((await redisCli(node.port, ["SET", "after", "fuzz"])).stdout.trim(), "OK");
      assert.equal((await redisCli(node.port, ["GET", "after"])).stdout.trim(), "fuzz");
    });

    it("keeps every reply intact when a pipeline's replies outrun the socket", async () => {
      const client = await RespClient.open(node.port);
      const values: string[] = [];
      for (let i = 0; i < 50; i++) {
        const value = String.fromCharCode(65 + (i % 26)).repeat(20_000) + i;
        values.push(value);
        await client.send("SET", `big:${i}`, value);
      }
      // 2,000 GETs sent at once: about 40 MB of replies, queued behind a full socket.
      const replies = await Promise.all(
        Array.from({ length: 2000 }, (_, i) => client.send("GET", `big:${i % 50}`)),
      );
      for (let i = 0; i < replies.length; i++) {
        if (replies[i] !== values[i % 50]) assert.fail(`reply ${i} differs`);
      }
      // Now small replies, one read each, queued behind big ones the client does not read yet.
      client.pause();
      const big = Array.from({ length: 150 }, () => client.send("GET", "big:0"));
      const small: Promise<unknown>[] = [];
      for (let i = 0; i < 300; i++) {
        small.push(client.send("ECHO", `small-${i}`));
        if (i % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
      }
      client.resume();
      for (const reply of await Promise.all(big)) assert.equal(reply, values[0]);
      const echoed = await Promise.all(small);
      for (let i = 0; i < echoed.length; i++) assert.equal(echoed[i], `small-${i}`);
      client.close();
    });

    it("serves a blocked BLPOP from a later push, first come first served", async () => {
      const first = await RespClient.open(node.port);
      const second = await RespClient.open(node.port);
      const pusher = await RespClient.open(node.port);
      const a = first.send("BLPOP", "jobs", "5");
      await new Promise((resolve) => setTimeout(resolve, 50));
      const b = second.send("BLPOP", "jobs", "5");
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(await pusher.send("RPUSH", "jobs", "one", "two"), 2);
      assert.deepEqual(await a, ["jobs", "one"]);
      assert.deepEqual(await b, ["jobs", "two"]);
      const started = Date.now();
      assert.equal(await first.send("BLPOP", "jobs", "0.2"), null);
      assert.ok(Date.now() - started >= 150, "waited for the timeout");
      for (const client of [first, second, pusher]) client.close();
    });

    it("serves a blocked BZPOPMIN and BLMPOP from a later ZADD and push, first come first served", async () => {
      const first = await RespClient.open(node.port);
      const second = await RespClient.open(node.port);
      const pusher = await RespClient.open(node.port);
      const a = first.send("BZPOPMIN", "zjobs", "5");
      await new Promise((resolve) => setTimeout(resolve, 50));
      const b = second.send("BZPOPMIN", "other", "zjobs", "5");
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(await pusher.send("ZADD", "zjobs", "2", "two", "1", "one"), 2);
      assert.deepEqual(await a, ["zjobs", "one", "1"]);
      assert.deepEqual(await b, ["zjobs", "two", "2"]);
      const c = first.send("BLMPOP", "5", "2", "none", "ljobs", "LEFT", "COUNT", "2");
      await new Promise((resolve) => setTimeout(resolve, 50));
      const d = second.send("BLMPOP", "5", "1", "ljobs", "RIGHT");
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(await pusher.send("RPUSH", "ljobs", "x", "y", "z"), 3);
      assert.deepEqual(await c, ["ljobs", ["x", "y"]]);
      assert.deepEqual(await d, ["ljobs", ["z"]]);
      const started = Date.now();
      assert.equal(await first.send("BZPOPMIN", "zjobs", "0.2"), null);
      assert.equal(await second.send("BLMPOP", "0.2", "1", "ljobs", "LEFT"), null);
      assert.ok(Date.now() - started >= 350, "waited for both timeouts");
      for (const client of [first, second, pusher]) client.close();
    });
  });
}
