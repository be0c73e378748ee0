/**
 * XREAD BLOCK and XREADGROUP BLOCK on a running node, side by side with a real redis-server:
 * the same scenario runs on both (a reader that blocks, a second client that writes), and the
 * blocked reader's reply must be the same bytes.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { connect, type Socket } from "node:net";
import { timeLimited } from "../_time_limit.ts";
import { buildConfig } from "../../src/config/config.ts";
import { assembleNode } from "../../src/node.ts";
import { currentRuntime } from "../../src/runtime/mod.ts";
import { HttpExecutor } from "../../src/http/executor.ts";
import { referenceRedis, replyLength } from "./_redis_reference.ts";

const { after, before, describe, it } = timeLimited(import.meta.url, 120_000);

/** A raw connection: sends commands, hands back each reply's raw bytes. */
class Conn {
  private buffer = "";
  private wake: (() => void) | null = null;

  private constructor(private readonly socket: Socket, readonly port: number) {
    socket.on("data", (chunk: Buffer) => {
      this.buffer += chunk.toString("latin1");
      this.wake?.();
    });
    socket.on("error", () => {});
  }

  static open(port: number): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, "127.0.0.1", () => resolve(new Conn(socket, port)));
      socket.once("error", reject);
    });
  }

  send(...argv: string[]): void {
    let text = `*${argv.length}\r\n`;
    for (const arg of argv) text += `$${arg.length}\r\n${arg}\r\n`;
    this.socket.write(Buffer.from(text, "latin1"));
  }

  /** The next reply, or null when none comes within `ms`. */
  async reply(ms = 5_000): Promise<string | null> {
    const deadline = Date.now() + ms;
    for (;;) {
      const length = replyLength(this.buffer);
      if (length !== -1) {
        const reply = this.buffer.slice(0, length);
        this.buffer = this.buffer.slice(length);
        return reply;
      }
      const left = deadline - Date.now();
      if (left <= 0) return null;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
  }

  async run(...argv: string[]): Promise<string> {
    this.send(...argv);
    const reply = await this.reply();
    if (reply === null) throw new Error(`no reply to ${argv.join(" ")}`);
    return reply;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Waits until the server reports `count` blocked clients. */
async function blocked(conn: Conn, count: number): Promise<void> {
  for (let attempt = 0; attempt < 400; attempt++) {
    const info = await conn.run("INFO", "clients");
    if (info.includes(`blocked_clients:${count}\r\n`)) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`never saw ${count} blocked clients`);
}

/**
 * A scenario: `reader` and `writer` are two connections to one server; it returns what it
 * observed (replies in order) for comparison.
 */
type Scenario = (reader: Conn, writer: Conn) => Promise<(string | null)[]>;

describe("XREAD BLOCK and XREADGROUP BLOCK", () => {
  const reference = referenceRedis(before, after);
  let port = 0;
  let stop: (() => Promise<void>) | null = null;
  let executor: HttpExecutor;

  before(async () => {
    const parts = await assembleNode(
      buildConfig({ port: 0, http: { enabled: false } }),
      await currentRuntime(),
    );
    await parts.resp.start();
    port = parts.resp.port;
    executor = new HttpExecutor(parts.dispatcher, () => Date.now());
    stop = () => parts.resp.stop();
  });
  after(async () => {
    await stop?.();
  });

  /** Runs `scenario` on our node and on redis-server; both must observe the same bytes. */
  async function same(scenario: Scenario, t: { skip(reason: string): void }): Promise<void> {
    const redis = reference();
    if (redis === undefined) return t.skip("redis-server is not installed");
    const results: (string | null)[][] = [];
    for (const target of [port, redis.port]) {
      const reader = await Conn.open(target);
      const writer = await Conn.open(target);
      try {
        await writer.run("FLUSHALL");
        results.push(await scenario(reader, writer));
      } finally {
        reader.close();
        writer.close();
      }
    }
    assert.deepEqual(results[0], results[1]);
  }

  it("wakes XREAD BLOCK 0 with the entry another client's XADD appended, after the ID $ stood for", async (t) => {
    await same(async (reader, writer) => {
      await writer.run("XADD", "s", "1-1", "old", "x");
      reader.send("XREAD", "BLOCK", "0", "STREAMS", "s", "$");
      await blocked(writer, 1);
      const added = await writer.run("XADD", "s", "2-1", "new", "y");
      return [added, await reader.reply()];
    }, t);
  });

  it("wakes XREAD on several keys with the one that got an entry, RESP3 as a map", async (t) => {
    await same(async (reader, writer) => {
      await reader.run("HELLO", "3");
      reader.send("XREAD", "COUNT", "5", "BLOCK", "0", "STREAMS", "a", "b", "$", "$");
      await blocked(writer, 1);
      await writer.run("XADD", "b", "7-7", "f", "v");
      return [await reader.reply()];
    }, t);
  });

  it("wakes XREADGROUP BLOCK with the new entry, which is then pending for the consumer", async (t) => {
    await same(async (reader, writer) => {
      await writer.run("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM");
      reader.send("XREADGROUP", "GROUP", "g", "alice", "BLOCK", "0", "STREAMS", "s", ">");
      await blocked(writer, 1);
      await writer.run("XADD", "s", "5-1", "job", "1");
      const woken = await reader.reply();
      const pending = await writer.run("XPENDING", "s", "g");
      return [woken, pending, await writer.run("XINFO", "GROUPS", "s")];
    }, t);
  });

  it("answers a null array at the timeout (RESP2), and null in RESP3", async (t) => {
    await same(async (reader, writer) => {
      await writer.run("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM");
      const read = await reader.run("XREAD", "BLOCK", "30", "STREAMS", "none", "$");
      const group = await reader.run(
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "BLOCK",
        "30",
        "STREAMS",
        "s",
        ">",
      );
      await reader.run("HELLO", "3");
      const read3 = await reader.run("XREAD", "BLOCK", "30", "STREAMS", "none", "0");
      const group3 = await reader.run(
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "BLOCK",
        "30",
        "STREAMS",
        "s",
        ">",
      );
      return [read, group, read3, group3];
    }, t);
  });

  it("wakes a blocked XREADGROUP with an error when its key is deleted or its group destroyed", async (t) => {
    await same(async (reader, writer) => {
      await writer.run("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM");
      reader.send("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">");
      await blocked(writer, 1);
      await writer.run("DEL", "s");
      const deleted = await reader.reply();
      await writer.run("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM");
      reader.send("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">");
      await blocked(writer, 1);
      await writer.run("SET", "s", "now a string");
      const overwritten = await reader.reply();
      await writer.run("DEL", "s");
      await writer.run("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM");
      reader.send("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">");
      await blocked(writer, 1);
      await writer.run("XGROUP", "DESTROY", "s", "g");
      const destroyed = await reader.reply();
      return [deleted, overwritten, destroyed];
    }, t);
  });

  it("keeps a blocked XREAD waiting through a delete and another type, until a newer entry", async (t) => {
    await same(async (reader, writer) => {
      await writer.run("XADD", "s", "5-1", "a", "1");
      reader.send("XREAD", "BLOCK", "0", "STREAMS", "s", "$");
      await blocked(writer, 1);
      await writer.run("DEL", "s");
      await writer.run("LPUSH", "s", "x");
      await writer.run("DEL", "s");
      // Below the ID $ stood for: still nothing to read.
      await writer.run("XADD", "s", "1-1", "b", "2");
      const early = await reader.reply(100);
      await writer.run("XADD", "s", "6-1", "c", "3");
      return [early, await reader.reply()];
    }, t);
  });

  it("wakes XREAD when RENAME or COPY puts a stream at the key it waits on", async (t) => {
    await same(async (reader, writer) => {
      await writer.run("XADD", "src", "1-1", "a", "b");
      reader.send("XREAD", "BLOCK", "0", "STREAMS", "dst", "$");
      await blocked(writer, 1);
      await writer.run("RENAME", "src", "dst");
      const renamed = await reader.reply();
      reader.send("XREAD", "BLOCK", "0", "STREAMS", "copy", "0-5");
      await blocked(writer, 1);
      await writer.run("COPY", "dst", "copy");
      return [renamed, await reader.reply()];
    }, t);
  });

  it("does not block inside MULTI, and refuses BLOCK from a script", async (t) => {
    await same(async (reader) => {
      await reader.run("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM");
      await reader.run("MULTI");
      await reader.run("XREAD", "BLOCK", "0", "STREAMS", "none", "$");
      await reader.run("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">");
      const exec = await reader.run("EXEC");
      const script = await reader.run(
        "EVAL",
        "return redis.call('XREAD','BLOCK','0','STREAMS','none','$')",
        "0",
      );
      const plain = await reader.run(
        "EVAL",
        "return redis.call('XREAD','STREAMS','none','$')",
        "0",
      );
      return [exec, script, plain];
    }, t);
  });

  it("parks a forwarded XREADGROUP BLOCK (another node's client) until an XADD, or its group goes", async () => {
    const writer = await Conn.open(port);
    try {
      await writer.run("FLUSHALL");
      await writer.run("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM");
      const forwarded = () => {
        const client = executor.client("admin", 0);
        client.parkable = true;
        return client;
      };
      const read = ["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"];
      const served = executor.runText(forwarded(), read);
      assert.ok(served instanceof Promise, "the reply waits");
      // An unrelated change of the key runs it again; it finds nothing and keeps waiting.
      await writer.run("XGROUP", "CREATECONSUMER", "s", "g", "other");
      await writer.run("XADD", "s", "3-1", "f", "v");
      assert.equal(
        await served,
        "*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n3-1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n",
      );
      const gone = executor.runText(forwarded(), read);
      await writer.run("XGROUP", "DESTROY", "s", "g");
      assert.equal(
        await gone,
        "-NOGROUP the consumer group this client was blocked on no longer exists\r\n",
      );
    } finally {
      writer.close();
    }
  });

  it("serves blocked readers in arrival order, one entry each with COUNT 1", async (t) => {
    await same(async (reader, writer) => {
      const second = await Conn.open(reader.port);
      try {
        await writer.run("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM");
        reader.send(
          "XREADGROUP",
          "GROUP",
          "g",
          "a",
          "COUNT",
          "1",
          "BLOCK",
          "0",
          "STREAMS",
          "s",
          ">",
        );
        await blocked(writer, 1);
        second.send(
          "XREADGROUP",
          "GROUP",
          "g",
          "b",
          "COUNT",
          "1",
          "BLOCK",
          "0",
          "STREAMS",
          "s",
          ">",
        );
        await blocked(writer, 2);
        await writer.run("XADD", "s", "1-1", "n", "1");
        const first = await reader.reply();
        const still = await second.reply(100);
        await writer.run("XADD", "s", "2-1", "n", "2");
        return [first, still, await second.reply()];
      } finally {
        second.close();
      }
    }, t);
  });
});
