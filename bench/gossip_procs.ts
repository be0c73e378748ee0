/**
 * Starts examples/gossip-node.ts processes and reads their JSON event lines: the shared part of
 * the gossip benchmarks.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import process from "node:process";

const SCRIPT = fileURLToPath(new URL("../examples/gossip-node.ts", import.meta.url));

export type Line = { t: number; event: string; [key: string]: unknown };

export class NodeProcess {
  readonly lines: Line[] = [];
  readonly child: ChildProcess;
  exited = false;

  constructor(readonly id: string, args: string[], runtime = "deno") {
    const [cmd, argv] = runtime === "bun"
      ? ["bun", [SCRIPT, "--id", id, ...args]]
      : ["deno", ["run", "-A", SCRIPT, "--id", id, ...args]];
    this.child = spawn(cmd, argv, { stdio: ["pipe", "pipe", "inherit"] });
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
          // not an event line
        }
      }
    });
    this.child.on("exit", () => (this.exited = true));
  }

  /** Time of the first line after `sinceMs` that matches, or undefined. */
  first(match: (l: Line) => boolean, sinceMs = 0): number | undefined {
    return this.lines.find((l) => l.t >= sinceMs && match(l))?.t;
  }

  send(command: string): void {
    if (!this.exited) this.child.stdin!.write(command + "\n");
  }

  /**
   * Signals the process by pid: Deno's `ChildProcess.kill` sends only the first signal it is
   * given (a SIGSTOP would never be followed by its SIGCONT).
   */
  kill(signal: NodeJS.Signals): void {
    if (this.exited || this.child.pid === undefined) return;
    try {
      process.kill(this.child.pid, signal);
    } catch {
      // Exited meanwhile.
    }
  }

  async exit(): Promise<void> {
    if (this.exited) return;
    await new Promise((resolve) => this.child.once("exit", resolve));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function until(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) return false;
    await sleep(20);
  }
  return true;
}

export async function startNode(
  id: string,
  args: string[],
  runtime = "deno",
): Promise<[NodeProcess, number]> {
  const p = new NodeProcess(id, args, runtime);
  const ok = await until(() => p.lines.some((l) => l.event === "ready"), 30_000);
  if (!ok) throw new Error(`${id} did not start`);
  return [p, p.lines.find((l) => l.event === "ready")!.port as number];
}

/** Latest time at which all `procs` logged a matching line after `sinceMs`, or undefined. */
export function seenByAll(
  procs: NodeProcess[],
  match: (l: Line) => boolean,
  sinceMs: number,
): number | undefined {
  let latest = 0;
  for (const p of procs) {
    const t = p.first(match, sinceMs);
    if (t === undefined) return undefined;
    latest = Math.max(latest, t);
  }
  return latest;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor((s.length - 1) / 2)];
}
