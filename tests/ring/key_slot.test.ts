import { onTimeLimit, timeLimited } from "../_time_limit.ts";
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import process from "node:process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc16, keySlot, SLOT_COUNT } from "../../src/ring/mod.ts";
import { forEachSeed } from "./_random.ts";

const { after, before, describe, it } = timeLimited(import.meta.url, 120_000);

const latin1 = (bytes: Uint8Array) => String.fromCharCode(...bytes);
const utf8 = (text: string) => new TextEncoder().encode(text);

/** Keys checked against a real redis-server, as bytes. */
const REDIS_KEYS: Uint8Array[] = [
  ...[
    "",
    "a",
    "foo",
    "bar",
    "123456789",
    "user:1000",
    "user:1001",
    "{user1}.a",
    "{user1}.b",
    "user1",
    "{user1}",
    "foo{}{bar}",
    "foo{{bar}}zap",
    "foo{bar}{zap}",
    "{}",
    "{}{}",
    "{",
    "}",
    "{a",
    "a}",
    "}{",
    "}a{b}",
    "{}a",
    "a{}",
    "a{}b{c}",
    "{{}}",
    "{{",
    "}}",
    "x{y",
    "x{y}",
    "x{y}z",
    "{ }",
    " ",
    "key with spaces",
    "tab\there",
    "line\nbreak",
    'quote"d',
    "back\\slash",
    "café",
    "{café}.menu",
    "日本語",
    "{日本}語",
    "🙂 emoji",
    "Ünïcödé{ß}",
    "a".repeat(1000),
    "{" + "b".repeat(300) + "}tail",
  ].map(utf8),
  new Uint8Array([0]),
  new Uint8Array([0, 0, 0]),
  new Uint8Array([0xff]),
  new Uint8Array([0xff, 0xfe, 0x7b, 0x80, 0x7d, 0x00]), // "{\x80}" tag between binary bytes
  new Uint8Array([0x7b, 0x00, 0x7d, 0x61]), // tag of one NUL byte
  new Uint8Array([0x7b, 0x7d, 0x7b, 0xff, 0x7d]), // "{}" first: the whole key
  Uint8Array.from({ length: 256 }, (_, i) => i),
];

describe("crc16", () => {
  it("matches the Redis Cluster specification's test vector: CRC16('123456789') = 0x31C3", () => {
    assert.equal(crc16("123456789"), 0x31c3);
    assert.equal(crc16(utf8("123456789")), 0x31c3);
  });

  it("is 0 for the empty key", () => {
    assert.equal(crc16(""), 0);
    assert.equal(crc16(new Uint8Array()), 0);
  });
});

describe("keySlot", () => {
  it("hashes only the hash tag, so keys sharing a tag share a slot", () => {
    assert.equal(keySlot("{user1}.a"), keySlot("{user1}.b"));
    assert.equal(keySlot("{user1}.a"), keySlot("user1"));
    assert.equal(keySlot("foo{bar}{zap}"), keySlot("bar"));
    assert.equal(keySlot("foo{{bar}}zap"), keySlot("{bar"));
  });

  it("hashes the whole key for '{}' and for an unclosed '{'", () => {
    assert.equal(keySlot("foo{}{bar}"), crc16("foo{}{bar}") % SLOT_COUNT);
    assert.equal(keySlot("{abc"), crc16("{abc") % SLOT_COUNT);
    assert.equal(keySlot("abc}{"), crc16("abc}{") % SLOT_COUNT);
  });

  it("gives the same slot for a latin1 string and its bytes", () => {
    forEachSeed(200, 1, (random) => {
      const bytes = Uint8Array.from(
        { length: random.int(0, 40) },
        () => random.pick([0x7b, 0x7d, random.int(0, 255)]),
      );
      assert.equal(keySlot(latin1(bytes)), keySlot(bytes));
      assert.ok(keySlot(bytes) >= 0 && keySlot(bytes) < SLOT_COUNT);
    });
  });

  it("rejects a string that is not a latin1 byte string, naming the character", () => {
    assert.throws(() => keySlot("price€"), {
      name: "TypeError",
      message: /character U\+20AC at index 5/,
    });
  });

  it("reads only the hash tag of a tagged key, so characters outside it may be any", () => {
    assert.equal(keySlot("€{tag}"), keySlot("tag"));
    assert.equal(keySlot("{tag}€"), keySlot("tag"));
    assert.throws(() => keySlot("{t€}"), { name: "TypeError", message: /index 2/ });
  });
});

describe("keySlot against redis-server in cluster mode", () => {
  let server: ChildProcess | undefined;
  let directory = "";
  let port = 0;
  let skipReason: string | undefined;

  before(async () => {
    if (!(await onPath("redis-server")) || !(await onPath("redis-cli"))) {
      // A developer machine may lack the Redis tools; CI installs them, so there it is a failure.
      if (process.env.CI === "true") throw new Error("redis-server or redis-cli is not on PATH");
      skipReason = "redis-server or redis-cli is not on PATH";
      return;
    }
    directory = await mkdtemp(join(tmpdir(), "hypercache-ring-"));
    port = await freePort();
    server = spawn("redis-server", [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--cluster-enabled",
      "yes",
      "--cluster-config-file",
      join(directory, "nodes.conf"),
      "--dir",
      directory,
      "--save",
      "",
      "--appendonly",
      "no",
    ], { stdio: "ignore" });
    const child = server;
    child.once("exit", onTimeLimit(() => child.kill("SIGKILL")));
    await waitForPing(port);
  });

  after(async () => {
    if (server !== undefined && server.exitCode === null) {
      const exited = new Promise((resolve) => server!.once("exit", resolve));
      server.kill("SIGKILL");
      await exited;
    }
    if (directory !== "") await rm(directory, { recursive: true, force: true });
  });

  it("computes the same slot as CLUSTER KEYSLOT for every key of the table", async (t) => {
    if (skipReason !== undefined) {
      console.warn(`skipped: ${skipReason}`);
      t.skip(skipReason);
      return;
    }
    // One redis-cli reads all commands from stdin; "\xHH" escapes pass any byte, NUL included.
    const commands = REDIS_KEYS.map((key) =>
      `CLUSTER KEYSLOT "${[...key].map((b) => "\\x" + b.toString(16).padStart(2, "0")).join("")}"\n`
    ).join("");
    const output = await run("redis-cli", ["-p", String(port)], commands);
    const redisSlots = output.trim().split("\n").map(Number);
    assert.equal(redisSlots.length, REDIS_KEYS.length, `redis-cli printed: ${output}`);
    for (let i = 0; i < REDIS_KEYS.length; i++) {
      const key = REDIS_KEYS[i];
      const shown = JSON.stringify(latin1(key).slice(0, 40));
      assert.equal(keySlot(key), redisSlots[i], `Uint8Array key ${shown}`);
      assert.equal(keySlot(latin1(key)), redisSlots[i], `latin1 key ${shown}`);
    }
  });
});

async function onPath(command: string): Promise<boolean> {
  try {
    await run("sh", ["-c", `command -v ${command}`]);
    return true;
  } catch {
    return false;
  }
}

function run(command: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(command, args, { timeout: 10_000 }, (error, stdout, stderr) => {
      if (error) {
        reject(new Error(`${command} ${args.join(" ")} failed: ${stderr}`, { cause: error }));
      } else resolve(stdout);
    });
    child.stdin?.end(input ?? "");
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

async function waitForPing(port: number): Promise<void> {
  const deadlineMs = Date.now() + 10_000;
  for (;;) {
    try {
      if ((await run("redis-cli", ["-p", String(port), "PING"])).trim() === "PONG") return;
    } catch (error) {
      if (Date.now() > deadlineMs) throw error;
    }
    if (Date.now() > deadlineMs) {
      throw new Error(`redis-server on port ${port} did not answer PING`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
