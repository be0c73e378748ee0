/**
 * What one client can do to others and to the node: an exception in a command stays with that
 * command, clients that have not authenticated get Redis's small limits, a failed HELLO changes
 * nothing, and roles hold over real connections. Real nodes on Deno and Bun, raw sockets.
 */
import assert from "node:assert/strict";
import { RespError, type RespValue } from "../../src/resp/decoder.ts";
import { timeLimited } from "../_time_limit.ts";
import { cleanup, type NodeProcess, RUNTIMES, startNode } from "./_harness.ts";
import { encodeCommand as encode, RawClient as Raw } from "./_raw_client.ts";

const { after, before, describe, it } = timeLimited(import.meta.url, 120_000);

const message = (value: RespValue) => value instanceof RespError ? value.message : value;

const PASSWORD = "s3cret";
const CONFIG = `requirepass: ${PASSWORD}
users:
  - name: reader
    password: reader-pw
    role: readonly
`;

for (const runtime of RUNTIMES) {
  // Past V8's string limit but within 512 MB on Deno; past proto-max-bulk-len on Bun (whose
  // strings go to 2^31 - 1), so neither builds the string.
  const hugeOffset = runtime === "deno" ? "536870900" : "536870912";

  describe(`isolation between clients on ${runtime}`, () => {
    let node: NodeProcess;
    before(async () => {
      node = await startNode(runtime, { config: CONFIG, args: ["--http", "no"] });
    });
    after(async () => {
      await cleanup(node);
    });

    async function authed(): Promise<Raw> {
      const client = await Raw.open(node.port);
      client.send("AUTH", PASSWORD);
      assert.deepEqual(await client.take(1), ["OK"]);
      return client;
    }

    it("a command the runtime cannot hold fails alone: no reply of it reaches another client", async () => {
      const attacker = await authed();
      const victim = await authed();
      try {
        attacker.write(encode(["ECHO", "999999"]) + encode(["SETRANGE", "k", hugeOffset, "x"]));
        const [echo, setrange] = await attacker.take(2);
        assert.equal(echo, "999999");
        assert.match(String(message(setrange)), /^ERR string exceeds maximum allowed size/);
        victim.send("SET", "balance", "100");
        victim.send("GET", "balance");
        assert.deepEqual(await victim.take(2), ["OK", "100"]);
        attacker.send("PING");
        assert.deepEqual(await attacker.take(1), ["PONG"]);
      } finally {
        attacker.close();
        victim.close();
      }
    });

    it("the same command queued behind a blocked one, run from its timeout, leaves the node up", async () => {
      const client = await authed();
      try {
        client.write(
          encode(["BLPOP", "nolist", "0.1"]) + encode(["SETRANGE", "k", hugeOffset, "x"]),
        );
        const [popped, setrange] = await client.take(2);
        assert.equal(popped, null);
        assert.match(String(message(setrange)), /^ERR string exceeds maximum allowed size/);
        const other = await authed();
        other.send("PING");
        assert.deepEqual(await other.take(1), ["PONG"]);
        other.close();
        assert.equal(node.process.exitCode, null, "the node is still running");
      } finally {
        client.close();
      }
    });

    it("a client that has not authenticated may send at most 10 arguments, then is closed", async () => {
      const client = await Raw.open(node.port);
      client.send(...Array.from({ length: 11 }, () => "x"));
      assert.deepEqual((await client.take(1)).map(message), [
        "ERR Protocol error: unauthenticated multibulk length",
      ]);
      assert.ok(await client.closedByServer());
    });

    it("a client that has not authenticated may send no argument over 16 KB, then is closed", async () => {
      const client = await Raw.open(node.port);
      // Only the header: the server must refuse before the bytes arrive.
      client.write("*2\r\n$3\r\nSET\r\n$16385\r\n");
      assert.deepEqual((await client.take(1)).map(message), [
        "ERR Protocol error: unauthenticated bulk length",
      ]);
      assert.ok(await client.closedByServer());
    });

    it("after AUTH in the same write, the configured limits apply to the next command", async () => {
      const client = await Raw.open(node.port);
      try {
        const big = "v".repeat(100_000);
        client.write(
          encode(["AUTH", PASSWORD]) + encode(["SET", "big", big]) + encode(["STRLEN", "big"]),
        );
        assert.deepEqual(await client.take(3), ["OK", "OK", 100_000]);
      } finally {
        client.close();
      }
    });

    it("a HELLO that fails on a later option does not authenticate", async () => {
      const client = await Raw.open(node.port);
      try {
        client.send("HELLO", "3", "AUTH", "default", PASSWORD, "BOGUS");
        client.send("GET", "balance");
        const [hello, get] = (await client.take(2)).map(message);
        assert.equal(hello, "ERR Syntax error in HELLO option 'BOGUS'");
        assert.match(String(get), /^NOAUTH/);
      } finally {
        client.close();
      }
    });

    it("a connection that closes while watching keys leaves no watch behind", async () => {
      const admin = await authed();
      const watcher = await authed();
      const watched = async () => {
        admin.send("INFO", "clients");
        const [info] = await admin.take(1);
        return Number(/total_watched_keys:(\d+)/.exec(String(info))?.[1]);
      };
      try {
        watcher.send("WATCH", "w1", "w2");
        assert.deepEqual(await watcher.take(1), ["OK"]);
        assert.equal(await watched(), 2);
        watcher.close();
        let left = await watched();
        for (let i = 0; i < 50 && left !== 0; i++) {
          await new Promise((resolve) => setTimeout(resolve, 20));
          left = await watched();
        }
        assert.equal(left, 0);
      } finally {
        admin.close();
      }
    });

    it("a read-only user cannot close the admin's connections or list clients", async () => {
      const admin = await authed();
      const reader = await Raw.open(node.port);
      try {
        reader.send("AUTH", "reader", "reader-pw");
        reader.send("CLIENT", "KILL", "USER", "default");
        reader.send("CLIENT", "LIST");
        reader.send("PUBLISH", "news", "hi");
        reader.send("CLIENT", "SETNAME", "dashboard");
        assert.deepEqual((await reader.take(5)).map(message), [
          "OK",
          "NOPERM User reader has no permissions to run the 'client|kill' command",
          "NOPERM User reader has no permissions to run the 'client|list' command",
          "NOPERM User reader has no permissions to run the 'publish' command",
          "OK",
        ]);
        admin.send("PING");
        assert.deepEqual(await admin.take(1), ["PONG"]);
      } finally {
        admin.close();
        reader.close();
      }
    });
  });
}
