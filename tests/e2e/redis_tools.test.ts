import { timeLimited } from "../_time_limit.ts";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cleanup, type NodeProcess, redisCli, run, RUNTIMES, startNode } from "./_harness.ts";
import { makeCertificate } from "./fixtures/_client_node.ts";

const { after, before, describe, it } = timeLimited(import.meta.url, 120_000);

/** The tests `redis-benchmark` runs without `-t`, by the names its CSV gives them. */
const DEFAULT_BENCHMARK_TESTS = [
  "PING_INLINE",
  "PING_MBULK",
  "SET",
  "GET",
  "INCR",
  "LPUSH",
  "RPUSH",
  "LPOP",
  "RPOP",
  "SADD",
  "HSET",
  "SPOP",
  "ZADD",
  "ZPOPMIN",
  "LPUSH (needed to benchmark LRANGE)",
  "LRANGE_100 (first 100 elements)",
  "LRANGE_300 (first 300 elements)",
  "LRANGE_500 (first 500 elements)",
  "LRANGE_600 (first 600 elements)",
  "MSET (10 keys)",
];

/** `"a","b"` lines of redis-benchmark's --csv output, as rows of fields. */
function parseCsv(text: string): string[][] {
  return text.split("\n").filter((line) => line.startsWith('"')).map((line) =>
    line.slice(1, -1).split('","')
  );
}

/** Runs `redis-cli` in subscribe mode and collects its --csv lines until `stop()`. */
function subscribeWithCli(port: number, args: string[]) {
  const child = spawn("redis-cli", ["-h", "127.0.0.1", "-p", String(port), "--csv", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => output += chunk.toString());
  const exited = new Promise((resolve) => child.on("exit", resolve));
  return {
    lines: () => output.split("\n").filter((line) => line !== ""),
    async waitFor(count: number, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (this.lines().length < count && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return this.lines();
    },
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

for (const runtime of RUNTIMES) {
  describe(`redis-benchmark and redis-cli against a node on ${runtime}`, () => {
    let node: NodeProcess;
    let certDir: string;
    let certFile: string;

    before(async () => {
      certDir = await mkdtemp(join(tmpdir(), "hc-tools-"));
      const cert = await makeCertificate(certDir);
      certFile = cert.certFile;
      node = await startNode(runtime, {
        args: [
          "--tls",
          "yes",
          "--tls-port",
          "0",
          "--tls-cert-file",
          cert.certFile,
          "--tls-key-file",
          cert.keyFile,
        ],
      });
    });
    after(async () => {
      await cleanup(node);
      await rm(certDir, { recursive: true, force: true });
    });

    it("completes redis-benchmark's default test set with no errors", async () => {
      const result = await run("redis-benchmark", [
        "-h",
        "127.0.0.1",
        "-p",
        String(node.port),
        "-q",
        "-n",
        "2000",
        "-c",
        "10",
        "--csv",
      ], { timeoutMs: 60_000 });
      assert.equal(result.code, 0, result.stderr);
      assert.doesNotMatch(result.stdout + result.stderr, /error/i);
      const rows = parseCsv(result.stdout);
      assert.deepEqual(rows[0].slice(0, 2), ["test", "rps"]);
      const rates = new Map(rows.slice(1).map(([test, rps]) => [test, Number(rps)]));
      assert.deepEqual([...rates.keys()], DEFAULT_BENCHMARK_TESTS);
      for (const [test, rps] of rates) assert.ok(rps > 0, `${test}: ${rps} requests/s`);
      // The benchmark's writes landed: MSET wrote key:__rand_int__ and LPUSH filled mylist.
      assert.ok(Number((await redisCli(node.port, ["LLEN", "mylist"])).stdout) >= 2000);
    });

    it("answers redis-cli --tls trusting the self-signed certificate", async () => {
      const tls = (args: string[]) =>
        run("redis-cli", [
          "--tls",
          "--cacert",
          certFile,
          "-h",
          "127.0.0.1",
          "-p",
          String(node.tlsPort),
          ...args,
        ]);
      assert.equal((await tls(["PING"])).stdout.trim(), "PONG");
      assert.equal((await tls(["SET", "tls:key", "over tls"])).stdout.trim(), "OK");
      assert.equal((await redisCli(node.port, ["GET", "tls:key"])).stdout.trim(), "over tls");
      assert.equal((await tls(["GET", "tls:key"])).stdout.trim(), "over tls");
      // Without the CA the certificate is not trusted and nothing is answered.
      const untrusted = await run("redis-cli", [
        "--tls",
        "-h",
        "127.0.0.1",
        "-p",
        String(node.tlsPort),
        "PING",
      ]);
      assert.doesNotMatch(untrusted.stdout, /PONG/);
    });

    it("shows keyspace and keyevent notifications to a redis-cli subscriber", async () => {
      const config = await redisCli(node.port, ["CONFIG", "SET", "notify-keyspace-events", "KEA"]);
      assert.equal(config.stdout.trim(), "OK");
      const subscriber = subscribeWithCli(node.port, ["PSUBSCRIBE", "__key*__:*"]);
      try {
        await subscriber.waitFor(2);
        await redisCli(node.port, ["SET", "watched", "1"]);
        await redisCli(node.port, ["INCR", "watched"]);
        await redisCli(node.port, ["HSET", "watched:h", "f", "v"]);
        await redisCli(node.port, ["HDEL", "watched:h", "f"]);
        await redisCli(node.port, ["RENAME", "watched", "moved"]);
        await redisCli(node.port, ["DEL", "moved"]);
        await redisCli(node.port, ["SET", "short", "v", "PX", "50"]);
        const events = () =>
          subscriber.lines().filter((line) => line.startsWith('"pmessage"')).map((line) =>
            parseCsv(line)[0].slice(2).join(" ")
          );
        for (let i = 0; i < 100 && events().length < 22; i++) {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        // Redis's event names: INCR raises incrby, emptying a hash raises del, SET PX expire.
        assert.deepEqual(events(), [
          "__keyspace@0__:watched set",
          "__keyevent@0__:set watched",
          "__keyspace@0__:watched incrby",
          "__keyevent@0__:incrby watched",
          "__keyspace@0__:watched:h hset",
          "__keyevent@0__:hset watched:h",
          "__keyspace@0__:watched:h hdel",
          "__keyevent@0__:hdel watched:h",
          "__keyspace@0__:watched:h del",
          "__keyevent@0__:del watched:h",
          "__keyspace@0__:watched rename_from",
          "__keyevent@0__:rename_from watched",
          "__keyspace@0__:moved rename_to",
          "__keyevent@0__:rename_to moved",
          "__keyspace@0__:moved del",
          "__keyevent@0__:del moved",
          "__keyspace@0__:short set",
          "__keyevent@0__:set short",
          "__keyspace@0__:short expire",
          "__keyevent@0__:expire short",
          "__keyspace@0__:short expired",
          "__keyevent@0__:expired short",
        ]);
      } finally {
        await subscriber.stop();
        await redisCli(node.port, ["CONFIG", "SET", "notify-keyspace-events", ""]);
      }
    });
  });
}
