// Real processes on loopback: examples/gossip-node.ts over real UDP and TCP, on Deno (or Bun with
// HYPERCACHE_RUNTIME=bun). Crashes are kill -9.
import { onTimeLimit, timeLimited } from "../_time_limit.ts";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { runtimeCommand, type RuntimeName } from "../e2e/_harness.ts";

const { describe, it } = timeLimited(import.meta.url, 120_000);

const SCRIPT = fileURLToPath(new URL("../../examples/gossip-node.ts", import.meta.url));
const RUNTIME: RuntimeName = process.env.HYPERCACHE_RUNTIME === "bun" ? "bun" : "deno";

type Line = { t: number; event: string; [key: string]: unknown };

class NodeProcess {
  readonly lines: Line[] = [];
  readonly child: ChildProcess;
  #waiters: (() => void)[] = [];
  #exited = false;

  constructor(readonly id: string, args: string[]) {
    const [command, base] = runtimeCommand(RUNTIME, SCRIPT);
    this.child = spawn(command, [...base, "--id", id, ...args], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    const unregister = onTimeLimit(() => this.kill("SIGKILL"));
    this.child.once("exit", unregister);
    let pending = "";
    this.child.stdout!.on("data", (chunk: Uint8Array) => {
      pending += new TextDecoder().decode(chunk);
      let nl;
      while ((nl = pending.indexOf("\n")) >= 0) {
        const text = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        try {
          this.lines.push(JSON.parse(text));
        } catch {
          continue;
        }
        for (const wake of this.#waiters.splice(0)) wake();
      }
    });
    this.child.on("exit", () => {
      this.#exited = true;
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  get exited(): boolean {
    return this.#exited;
  }

  async waitFor(what: string, match: (line: Line) => boolean, timeoutMs = 10_000): Promise<Line> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines.find(match);
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`${this.id}: timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }

  /** Ids this node currently thinks are members (from its join/leave/fail events). */
  view(): Set<string> {
    const ids = new Set<string>();
    for (const line of this.lines) {
      const id = line.id as string;
      if (line.event === "join") ids.add(id);
      if (line.event === "leave" || line.event === "fail") ids.delete(id);
    }
    return ids;
  }

  send(command: string): void {
    this.child.stdin!.write(command + "\n");
  }

  /** By pid: Deno's `ChildProcess.kill` sends only the first signal it is given. */
  kill(signal: NodeJS.Signals): void {
    if (this.#exited || this.child.pid === undefined) return;
    try {
      process.kill(this.child.pid, signal);
    } catch {
      // Exited meanwhile.
    }
  }

  async exit(): Promise<void> {
    if (this.#exited) return;
    await new Promise((resolve) => this.child.once("exit", resolve));
  }
}

async function start(id: string, args: string[]): Promise<[NodeProcess, number]> {
  const p = new NodeProcess(id, args);
  const ready = await p.waitFor("ready", (l) => l.event === "ready", 20_000);
  return [p, ready.port as number];
}

async function until(what: string, cond: () => boolean, timeoutMs: number): Promise<number> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return Date.now() - start;
}

function sameSet(a: Set<string>, b: string[]): boolean {
  return a.size === b.length && b.every((x) => a.has(x));
}

describe(`gossip over real UDP on ${RUNTIME}`, () => {
  it("5 processes: join, kill -9, restart, user event, graceful leave", async () => {
    const procs: NodeProcess[] = [];
    try {
      const [first, seedPort] = await start("n1", ["--profile", "local", "--port", "0"]);
      procs.push(first);
      const seeds = ["--seeds", `127.0.0.1:${seedPort}`];
      const others = await Promise.all(
        ["n2", "n3", "n4", "n5"].map((id) =>
          start(id, ["--profile", "local", "--port", "0", ...seeds])
        ),
      );
      for (const [p] of others) procs.push(p);
      const port5 = others[3][1];
      const ids = ["n1", "n2", "n3", "n4", "n5"];
      const others_ = (p: NodeProcess) => ids.filter((id) => id !== p.id);
      await until(
        "everyone sees everyone",
        () => procs.every((p) => sameSet(p.view(), others_(p))),
        10_000,
      );

      const n5 = procs[4];
      n5.kill("SIGKILL");
      const survivors = procs.slice(0, 4);
      const tookMs = await until(
        "all survivors mark n5 failed",
        () => survivors.every((p) => p.lines.some((l) => l.event === "fail" && l.id === "n5")),
        10_000,
      );
      console.log(`kill -9 seen as failed by all in ${tookMs} ms`);

      const [again] = await start("n5", ["--profile", "local", "--port", String(port5), ...seeds]);
      procs[4] = again;
      await until(
        "the restarted n5 is seen again by all",
        () => survivors.every((p) => p.view().has("n5")) && sameSet(again.view(), others_(again)),
        10_000,
      );

      procs[0].send("event deploy v42");
      // Gossip's bounded retransmissions usually deliver it within 100 ms; a member they miss gets it
      // at its next push-pull (local profile: every 5 s, +-25%).
      await until(
        "the user event reaches all",
        () => procs.every((p) => p.lines.some((l) => l.event === "user" && l.payload === "v42")),
        10_000,
      );
      for (const p of procs) {
        assert.equal(p.lines.filter((l) => l.event === "user").length, 1, `${p.id}: exactly once`);
      }

      const n4 = procs[3];
      n4.kill("SIGTERM");
      await n4.exit();
      const rest = [procs[0], procs[1], procs[2], procs[4]];
      await until(
        "all see n4 left",
        () => rest.every((p) => p.lines.some((l) => l.event === "leave" && l.id === "n4")),
        5000,
      );
      for (const p of rest) {
        assert.ok(!p.lines.some((l) => l.event === "fail" && l.id === "n4"), `${p.id}: not failed`);
      }
    } finally {
      for (const p of procs) p.kill("SIGKILL");
      await Promise.all(procs.map((p) => p.exit()));
    }
  });

  it("encrypts with a shared key and refuses a node with the wrong key", async () => {
    const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
    const wrong = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
    const procs: NodeProcess[] = [];
    try {
      const [a, port] = await start("a", ["--profile", "local", "--port", "0", "--key", key]);
      procs.push(a);
      const seeds = ["--seeds", `127.0.0.1:${port}`];
      const [b] = await start("b", ["--profile", "local", "--port", "0", "--key", key, ...seeds]);
      procs.push(b);
      const [x] = await start("x", ["--profile", "local", "--port", "0", "--key", wrong, ...seeds]);
      procs.push(x);
      await until("a and b see each other", () => a.view().has("b") && b.view().has("a"), 5000);
      const joined = await x.waitFor("join result", (l) => l.event === "joined");
      assert.equal(joined.answered, 0, "the wrong-key node's join is refused");
      await new Promise((r) => setTimeout(r, 1000));
      assert.ok(!a.view().has("x") && !b.view().has("x"), "nobody accepted x");
      assert.equal(x.view().size, 0, "x learned nobody");
      a.send("stats");
      const stats = await a.waitFor("stats", (l) => l.event === "stats");
      const dropped = (stats.stats as { undecryptableDropped: number }).undecryptableDropped;
      assert.ok(dropped > 0, "a counted what it could not decrypt");
    } finally {
      for (const p of procs) p.kill("SIGKILL");
      await Promise.all(procs.map((p) => p.exit()));
    }
  });
});
