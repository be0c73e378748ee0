import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { timeLimited } from "./_time_limit.ts";
import { run, runtimeBinary } from "./e2e/_harness.ts";
import { missingLine, missingSystemTools, processesWith } from "./run.ts";

const { describe, it } = timeLimited(import.meta.url, 120_000);
const ROOT = new URL("../", import.meta.url).pathname;

describe("the test command's setup", () => {
  it("names every missing tool and the apt-get line that installs it", () => {
    const missing = missingSystemTools("/nonexistent");
    for (const program of ["redis-server", "redis-cli", "redis-benchmark", "openssl", "curl"]) {
      assert.ok(missing.names.includes(program), `${program} in ${missing.names}`);
    }
    assert.ok(missing.packages.includes("redis-tools"));
    assert.match(missingLine(missing), /^missing redis-server, .*; install with: .*redis-tools/);
  });

  it("stops at once with one line and status 1 when the tools are missing and it may not install", async () => {
    const empty = await mkdtemp(join(tmpdir(), "hc-path-"));
    try {
      const started = Date.now();
      const result = await run(runtimeBinary("deno"), [
        "run",
        "--allow-all",
        join(ROOT, "tests/run.ts"),
      ], {
        env: { PATH: empty, HYPERCACHE_TEST_INSTALL: "no" },
        timeoutMs: 30_000,
      });
      const lines = (result.stdout + result.stderr).trim().split("\n");
      assert.equal(result.code, 1);
      assert.equal(lines.length, 1, lines.join("\n"));
      assert.match(
        lines[0],
        /^hypercache tests: missing redis-server, redis-cli, redis-benchmark, .*; install with: sudo apt-get install -y redis-server redis-tools/,
      );
      assert.ok(Date.now() - started < 20_000, `took ${Date.now() - started} ms`);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });

  it("finds a live process by the run's marker in its environment, and not once it is gone", async () => {
    const marker = `HYPERCACHE_TEST_RUN=probe-${process.pid}-${Date.now()}`;
    const [name, value] = marker.split("=");
    const child = spawn("sleep", ["30"], { env: { ...process.env, [name]: value } });
    try {
      await new Promise((resolve) => child.once("spawn", resolve));
      assert.deepEqual(processesWith(marker).map((p) => p.pid), [child.pid]);
    } finally {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
    }
    assert.deepEqual(processesWith(marker), []);
  });
});

describe("a test file's time limit", () => {
  it("fails a hung step naming the file and the step, and kills the node it started", async () => {
    const result = await run(runtimeBinary("deno"), [
      "test",
      "--allow-all",
      join(ROOT, "tests/fixtures/hangs.ts"),
    ], { env: { NO_COLOR: "1" }, timeoutMs: 60_000 });
    const output = result.stdout + result.stderr;
    assert.notEqual(result.code, 0, output);
    assert.match(
      output,
      /hangs\.ts: time limit of 2 s passed in step "a hung file > waits forever on BLPOP"/,
    );
    const pid = Number(/node pid (\d+)/.exec(output)?.[1]);
    assert.ok(pid > 0, output);
    // Gone, or killed and not yet reaped (a zombie: this machine's init reaps orphans slowly).
    const running = () => {
      try {
        process.kill(pid, 0);
      } catch {
        return false;
      }
      try {
        return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 100 && running(); i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(running(), false, "the node is gone");
  });
});
