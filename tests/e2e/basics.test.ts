import { timeLimited } from "../_time_limit.ts";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { cleanup, type NodeProcess, redisCli, RUNTIMES, startNode } from "./_harness.ts";
import { RespClient } from "./_resp_client.ts";
import { ENTRY_OVERHEAD_BYTES } from "../../src/constants.ts";

const { after, before, describe, it } = timeLimited(import.meta.url, 120_000);

/** Sends raw bytes and collects what the server answers until it closes or goes quiet. */
function rawExchange(
  port: number,
  payload: string | Uint8Array,
  quietMs = 500,
  endAfterWrite = false,
): Promise<{ reply: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let reply = "";
    let timer: ReturnType<typeof setTimeout>;
    const finish = (closed: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ reply, closed });
    };
    socket.on("data", (chunk) => {
      reply += chunk.toString("latin1");
      clearTimeout(timer);
      timer = setTimeout(() => finish(false), quietMs);
    });
    socket.on("close", () => finish(true));
    socket.on("error", reject);
    socket.on("connect", () => {
      socket.write(payload);
      if (endAfterWrite) socket.end();
      timer = setTimeout(() => finish(false), quietMs);
    });
  });
}

for (const runtime of RUNTIMES) {
  describe(`node on ${runtime} with redis-cli`, () => {
    let node: NodeProcess;
    before(async () => {
      node = await startNode(runtime);
    });
    after(async () => {
      await cleanup(node);
    });

    it("answers PING", async () => {
      const result = await redisCli(node.port, ["PING"]);
      assert.equal(result.stdout.trim(), "PONG");
    });

    it("sets a key with a TTL and counts it down", async () => {
      assert.equal(
        (await redisCli(node.port, ["SET", "greeting", "hello", "PX", "1500"])).stdout.trim(),
        "OK",
      );
      assert.equal((await redisCli(node.port, ["GET", "greeting"])).stdout.trim(), "hello");
      const pttl = Number((await redisCli(node.port, ["PTTL", "greeting"])).stdout.trim());
      assert.ok(pttl > 0 && pttl <= 1500, `PTTL ${pttl}`);
      await new Promise((r) => setTimeout(r, 1600));
      assert.equal((await redisCli(node.port, ["EXISTS", "greeting"])).stdout.trim(), "0");
    });

    it("round-trips a value holding all 256 byte values", async () => {
      const bytes = new Uint8Array(256 * 4);
      for (let i = 0; i < bytes.length; i++) bytes[i] = i & 0xff;
      // redis-cli -x reads the value from stdin byte for byte.
      const set = await redisCli(node.port, ["-x", "SET", "binary"], bytes);
      assert.equal(set.stdout.trim(), "OK");
      const strlen = await rawExchange(node.port, "*2\r\n$3\r\nGET\r\n$6\r\nbinary\r\n");
      const expected = `$${bytes.length}\r\n${String.fromCharCode(...bytes)}\r\n`;
      assert.equal(strlen.reply, expected);
    });

    it("round-trips a 1 MiB value byte-exact", async () => {
      const value = new Uint8Array(1024 * 1024);
      for (let i = 0; i < value.length; i++) value[i] = (i * 7919) & 0xff;
      assert.equal((await redisCli(node.port, ["-x", "SET", "big"], value)).stdout.trim(), "OK");
      const got = await rawExchange(node.port, "*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n", 1000);
      const header = `$${value.length}\r\n`;
      assert.ok(got.reply.startsWith(header), "bulk header");
      const body = got.reply.slice(header.length, header.length + value.length);
      assert.equal(body.length, value.length);
      for (let i = 0; i < value.length; i++) {
        if (body.charCodeAt(i) !== value[i]) assert.fail(`byte ${i} differs`);
      }
    });

    it("answers a pipelined batch of 10,000 commands in order", async () => {
      let script = "";
      for (let i = 0; i < 5000; i++) script += `SET key:${i} value:${i}\nGET key:${i}\n`;
      const result = await redisCli(node.port, ["--pipe"], script);
      assert.match(result.stdout, /errors: 0, replies: 10000/);
      assert.equal((await redisCli(node.port, ["GET", "key:4999"])).stdout.trim(), "value:4999");
      const dbsize = Number((await redisCli(node.port, ["DBSIZE"])).stdout.trim());
      assert.ok(dbsize >= 5000);
    });

    it("closes a client that sends malformed RESP and keeps serving others", async () => {
      const bad = await rawExchange(node.port, "*1\r\n$abc\r\n");
      assert.equal(bad.reply, "-ERR Protocol error: invalid bulk length\r\n");
      assert.equal(bad.closed, true);
      const wrongPrefix = await rawExchange(node.port, "*1\r\nx3\r\nGET\r\n");
      assert.equal(wrongPrefix.reply, "-ERR Protocol error: expected '$', got 'x'\r\n");
      const huge = await rawExchange(node.port, "*1\r\n$99999999999\r\n");
      assert.equal(huge.reply, "-ERR Protocol error: invalid bulk length\r\n");
      assert.equal((await redisCli(node.port, ["PING"])).stdout.trim(), "PONG");
    });

    it("answers an unknown command with Redis's error and keeps the connection", async () => {
      const reply = await rawExchange(node.port, "FOO bar\r\nPING\r\n");
      assert.equal(
        reply.reply,
        "-ERR unknown command 'FOO', with args beginning with: 'bar' \r\n+PONG\r\n",
      );
    });

    it("stops on SIGTERM with exit status 0 after answering what is in flight", async () => {
      const other = await startNode(runtime);
      const client = await RespClient.open(other.port);
      const replies = Array.from({ length: 1000 }, (_, i) => client.send("SET", `k${i}`, "v"));
      const code = await other.stop();
      const answered = await Promise.all(replies);
      assert.equal(code, 0);
      assert.match(other.output(), /shutting down/);
      // Whatever was answered before the close was answered correctly.
      assert.ok(answered.every((reply) => reply === "OK" || reply instanceof Error));
      client.close();
      await cleanup(other);
    });

    it("answers a client that closes its side right after sending (printf | nc -N)", async () => {
      for (let i = 0; i < 10; i++) {
        const { reply } = await rawExchange(node.port, "PING\r\nECHO hi\r\n", 500, true);
        assert.equal(reply, "+PONG\r\n$2\r\nhi\r\n", `attempt ${i}`);
      }
    });

    it("reports the keyspace in INFO", async () => {
      await redisCli(node.port, ["SET", "ttl-key", "v", "EX", "100"]);
      const info = (await redisCli(node.port, ["INFO", "keyspace"])).stdout;
      assert.match(info, /db0:keys=\d+,expires=\d+,avg_ttl=\d+/);
    });

    it("reports the record arena in INFO memory and MEMORY USAGE counts a record's slot", async () => {
      await redisCli(node.port, ["SET", "arena-key", "a".repeat(100)]);
      const info = (await redisCli(node.port, ["INFO", "memory"])).stdout;
      const field = (name: string) => Number(new RegExp(`${name}:(\\d+)`).exec(info)?.[1]);
      assert.ok(field("record_arena_records") >= 1, info);
      assert.ok(field("record_arena_used_bytes") >= 120);
      assert.ok(field("record_arena_bytes") >= field("record_arena_used_bytes"));
      const usage = (await redisCli(node.port, ["MEMORY", "USAGE", "arena-key"])).stdout.trim();
      // 9 key bytes, 100 value bytes and a 4-byte header fill the 120-byte class; then the overhead.
      assert.equal(Number(usage), 120 + ENTRY_OVERHEAD_BYTES);
    });
  });
}
