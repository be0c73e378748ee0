/**
 * Starts real node processes (`src/main.ts` on Deno or Bun) on free loopback ports and drives
 * them with real clients. Every node listens on port 0 and reports its ports on its ready line.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { onTimeLimit } from "../_time_limit.ts";

export type RuntimeName = "deno" | "bun";

/** The runtimes end-to-end tests run on: both, or the one `HYPERCACHE_RUNTIME` names. */
export const RUNTIMES: RuntimeName[] = process.env.HYPERCACHE_RUNTIME
  ? [process.env.HYPERCACHE_RUNTIME as RuntimeName]
  : ["deno", "bun"];

const ROOT = new URL("../../", import.meta.url).pathname;
const MAIN = join(ROOT, "src/main.ts");
const READY = /RESP on [^:]+:(\d+)(?:, TLS on [^:]+:(\d+))?(?:, HTTP on [^:]+:(\d+))?/;

const onDeno = "Deno" in globalThis;
const onBun = "Bun" in globalThis;
/** The Bun that `deno task test` installs when the machine has none at the pinned version. */
const LOCAL_BUN = join(ROOT, ".tools/node_modules/bun/bin/bun.exe");

/**
 * The real binary of a runtime, never a wrapper such as `npx`, so that a signal sent to the
 * spawned process reaches the runtime itself: `DENO_BIN`/`BUN_BIN` (set by `deno task test`), the
 * runtime running the tests, or the one `deno task test` installed into `.tools/`.
 */
export function runtimeBinary(runtime: RuntimeName): string {
  if (runtime === "deno") {
    const deno = process.env.DENO_BIN ?? (onDeno ? process.execPath : null);
    if (deno) return deno;
  } else {
    const bun = process.env.BUN_BIN ?? (onBun ? process.execPath : null) ??
      (existsSync(LOCAL_BUN) ? LOCAL_BUN : null);
    if (bun) return bun;
  }
  throw new Error(
    `no ${runtime} binary: run the suite with \`deno task test\`, which installs it, ` +
      `or set ${runtime.toUpperCase()}_BIN`,
  );
}

/** The command that runs a script on a runtime (`src/main.ts` unless another is given). */
export function runtimeCommand(runtime: RuntimeName, script = MAIN): [string, string[]] {
  const binary = runtimeBinary(runtime);
  if (runtime === "bun") return [binary, ["run", script]];
  // The V8 flags of `deno task start`, so that a node under test is the node users run.
  const flags = script === MAIN ? ["--v8-flags=--expose-gc,--max-semi-space-size=4"] : [];
  return [binary, ["run", "--allow-all", ...flags, script]];
}

export interface NodeProcess {
  runtime: RuntimeName;
  port: number;
  httpPort: number;
  /** Port of the TLS listener, 0 without one. */
  tlsPort: number;
  dataDir: string;
  process: ChildProcess;
  output(): string;
  /** SIGTERM, and wait for the exit; returns the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL, and wait for the exit. */
  kill(): Promise<void>;
  exited: Promise<number | null>;
}

export interface StartOptions {
  args?: string[];
  /** YAML config written to a temporary file and passed with --config. */
  config?: string;
  /** Reuse a data directory (for restarts); a fresh one is made otherwise. */
  dataDir?: string;
  env?: Record<string, string>;
  /** Milliseconds to wait for the ready line. */
  timeoutMs?: number;
}

/** Starts a node and resolves once it is ready to serve. */
export async function startNode(
  runtime: RuntimeName,
  options: StartOptions = {},
): Promise<NodeProcess> {
  const dataDir = options.dataDir ?? await mkdtemp(join(tmpdir(), "hc-e2e-"));
  const args = ["--port", "0", "--http-port", "0", "--data-dir", dataDir, ...(options.args ?? [])];
  if (options.config !== undefined) {
    const path = join(dataDir, "node.yaml");
    await writeFile(path, options.config);
    args.unshift("--config", path);
  }
  const [command, base] = runtimeCommand(runtime);
  const child = spawn(command, [...base, ...args], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: "1", ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const unregister = onTimeLimit(() => signal(child, "SIGKILL"));
  const exited = new Promise<number | null>((resolve) =>
    child.on("exit", (code) => {
      unregister();
      resolve(code);
    })
  );
  const ready = new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`node on ${runtime} not ready in time; output:\n${output}`)),
      options.timeoutMs ?? 30_000,
    );
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = READY.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match);
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    exited.then((code) => {
      clearTimeout(timer);
      reject(
        new Error(`node on ${runtime} exited with ${code} before it was ready; output:\n${output}`),
      );
    });
  });
  const match = await ready;
  return {
    runtime,
    port: Number(match[1]),
    tlsPort: Number(match[2] ?? 0),
    httpPort: Number(match[3] ?? 0),
    dataDir,
    process: child,
    output: () => output,
    exited,
    async stop() {
      signal(child, "SIGTERM");
      return await exitWithin(child, exited, STOP_WAIT_MS, "SIGTERM");
    },
    async kill() {
      signal(child, "SIGKILL");
      await exitWithin(child, exited, STOP_WAIT_MS, "SIGKILL");
    },
  };
}

/** How long a node may take to exit after SIGTERM (answering what is in flight) or SIGKILL. */
const STOP_WAIT_MS = 15_000;

/** Waits for the exit; past `ms`, kills the process and fails naming it. */
async function exitWithin(
  child: ChildProcess,
  exited: Promise<number | null>,
  ms: number,
  sent: string,
): Promise<number | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((resolve) => timer = setTimeout(() => resolve("late"), ms));
  const code = await Promise.race([exited, late]);
  clearTimeout(timer);
  if (code !== "late") return code;
  signal(child, "SIGKILL");
  throw new Error(`process ${child.pid} did not exit within ${ms / 1000} s of ${sent}`);
}

/**
 * Sends a signal by pid: Deno's `ChildProcess.kill` delivers only the first signal it is asked
 * for, so a SIGKILL after a SIGTERM would be lost.
 */
function signal(child: ChildProcess, name: NodeJS.Signals): void {
  try {
    if (child.pid !== undefined) process.kill(child.pid, name);
  } catch {
    // Already gone.
  }
}

/** Stops a node (if still running) and removes its data directory. */
export async function cleanup(node: NodeProcess | undefined): Promise<void> {
  if (node === undefined) return;
  if (node.process.exitCode === null && node.process.signalCode === null) await node.kill();
  await rm(node.dataDir, { recursive: true, force: true });
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion, optionally feeding stdin; never throws on a non-zero exit. */
export function run(
  command: string,
  args: string[],
  options: { input?: string | Uint8Array; timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(command, args, {
      encoding: "latin1",
      maxBuffer: 256 * 1024 * 1024,
      timeout: options.timeoutMs ?? 60_000,
      env: { ...process.env, ...options.env },
    }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
    if (options.input !== undefined) child.stdin!.end(options.input);
    else child.stdin!.end();
  });
}

/** `redis-cli -p PORT args...`; `stdout` holds the reply as redis-cli prints it (no tty). */
export function redisCli(
  port: number,
  args: string[],
  input?: string | Uint8Array,
): Promise<RunResult> {
  return run("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args], { input });
}
