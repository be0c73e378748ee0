/**
 * The test command (`deno task test`): makes a fresh machine ready for the suite, runs it, and
 * checks that no process it started is left.
 *
 * 1. Setup. The Redis tools (redis-server, redis-cli, redis-benchmark), python3 with redis-py,
 *    openssl and curl are looked up on PATH; when some are missing and this is root on Debian or
 *    Ubuntu they are installed with apt-get, otherwise the run stops at once with one line naming
 *    what is missing and the command that installs it (exit status 1; `HYPERCACHE_TEST_INSTALL=no`
 *    forbids installing). Deno and Bun are resolved
 *    to their real binaries at the pinned versions: the Deno running this script when it is the
 *    pinned one, else both are installed from npm into `.tools/`. Every step says what it did.
 * 2. The run. `deno test --allow-all --parallel tests/` (or the files given), with `DENO_BIN` and
 *    `BUN_BIN` naming the binaries, in a process group of its own, under a time limit.
 * 3. The leak check. Every process of the run carries `HYPERCACHE_TEST_RUN=<id>` in its
 *    environment; any still alive afterwards is named, killed, and fails the run.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";

export const DENO_VERSION = "2.9.6";
export const BUN_VERSION = "1.4.5";
const ROOT = new URL("../", import.meta.url).pathname;
const TOOLS = join(ROOT, ".tools");
/** The whole `deno test` run; the e2e files have limits of their own, well inside it. */
const RUN_LIMIT_MS = Number(process.env.HYPERCACHE_TEST_LIMIT_MS ?? 20 * 60_000);

function say(line: string): void {
  console.log(`hypercache tests: ${line}`);
}

/** Where `program` is on PATH, or null. */
export function which(program: string, path = process.env.PATH ?? ""): string | null {
  for (const dir of path.split(":")) {
    if (dir === "") continue;
    const candidate = join(dir, program);
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

/** The first line a program prints for `args`, or null when it cannot run. */
function firstLine(program: string, args: string[]): string | null {
  const result = spawnSync(program, args, { encoding: "utf8", timeout: 30_000 });
  if (result.status !== 0) return null;
  return (result.stdout || result.stderr).split("\n")[0].trim();
}

/** A python3 that can `import redis`: Debian's (where apt puts python3-redis), then PATH's. */
export function findPython(path = process.env.PATH ?? ""): string | null {
  for (const python of ["/usr/bin/python3", which("python3", path)]) {
    if (python === null || !existsSync(python)) continue;
    if (spawnSync(python, ["-c", "import redis"], { timeout: 30_000 }).status === 0) return python;
  }
  return null;
}

export interface Missing {
  /** What is missing, as a reader names it. */
  names: string[];
  /** The Debian packages that provide it. */
  packages: string[];
}

/** The system tools the suite needs that this machine lacks. */
export function missingSystemTools(path = process.env.PATH ?? ""): Missing {
  const names: string[] = [];
  const packages = new Set<string>();
  const need: [string, string][] = [
    ["redis-server", "redis-server"],
    ["redis-cli", "redis-tools"],
    ["redis-benchmark", "redis-tools"],
    ["openssl", "openssl"],
    ["curl", "curl"],
  ];
  for (const [program, pkg] of need) {
    if (which(program, path) === null) {
      names.push(program);
      packages.add(pkg);
    }
  }
  if (findPython(path) === null) {
    names.push("python3 with redis-py");
    packages.add("python3-redis");
  }
  return { names, packages: [...packages] };
}

function isDebian(): boolean {
  try {
    const release = readFileSync("/etc/os-release", "utf8");
    return /^(ID|ID_LIKE)=.*\b(debian|ubuntu)\b/m.test(release);
  } catch {
    return false;
  }
}

function isRoot(): boolean {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

/** The line printed when the system tools are missing and cannot be installed from here. */
export function missingLine(missing: Missing): string {
  const install = isDebian() || !existsSync("/etc/os-release")
    ? `sudo apt-get install -y ${missing.packages.join(" ")}`
    : "install Redis 7 (redis-server, redis-cli, redis-benchmark), openssl, curl and redis-py";
  return `missing ${missing.names.join(", ")}; install with: ${install}`;
}

function installSystemTools(missing: Missing): boolean {
  const started = Date.now();
  say(
    `installing ${missing.packages.join(" ")} with apt-get (missing: ${missing.names.join(", ")})`,
  );
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  for (const args of [["update", "-qq"], ["install", "-y", "-qq", ...missing.packages]]) {
    const result = spawnSync("apt-get", args, { env, encoding: "utf8", timeout: 10 * 60_000 });
    if (result.status !== 0) {
      say(`apt-get ${args[0]} failed:\n${result.stderr || result.stdout}`);
      return false;
    }
  }
  // The Debian package starts a redis-server on 6379, where `deno task start` would listen.
  if (missing.packages.includes("redis-server")) {
    spawnSync("service", ["redis-server", "stop"], { timeout: 60_000 });
    say("stopped the redis-server that the package started on port 6379");
  }
  say(`installed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return true;
}

/** Whether `path` is a runnable binary of `version` (not a script that starts one). */
function isBinaryOf(path: string, version: string, args: string[]): boolean {
  try {
    const real = realpathSync(path);
    const head = readFileSync(real).subarray(0, 4);
    const native = head[0] === 0x7f && head[1] === 0x45 || // ELF
      head[0] === 0xcf && head[1] === 0xfa; // Mach-O
    return native && (firstLine(real, args) ?? "").includes(version);
  } catch {
    return false;
  }
}

function npmInstall(spec: string): void {
  const started = Date.now();
  say(`installing ${spec} from npm into .tools/`);
  execFileSync("npm", [
    "install",
    "--no-save",
    "--no-audit",
    "--no-fund",
    "--silent",
    "--prefix",
    TOOLS,
    spec,
  ], { stdio: ["ignore", "ignore", "inherit"], timeout: 5 * 60_000 });
  say(`installed ${spec} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

/** The real Deno binary at the pinned version. */
function resolveDeno(): string {
  if (
    process.versions.deno === DENO_VERSION &&
    isBinaryOf(process.execPath, DENO_VERSION, ["--version"])
  ) {
    return process.execPath;
  }
  const local = join(TOOLS, "node_modules/deno/deno");
  if (!isBinaryOf(local, DENO_VERSION, ["--version"])) npmInstall(`deno@${DENO_VERSION}`);
  if (!isBinaryOf(local, DENO_VERSION, ["--version"])) {
    throw new Error(`no Deno ${DENO_VERSION} at ${local}`);
  }
  return realpathSync(local);
}

/** The real Bun binary at the pinned version: from BUN_BIN, .tools/, PATH, or installed. */
function resolveBun(): string {
  const candidates = [
    process.env.BUN_BIN,
    join(TOOLS, "node_modules/bun/bin/bun.exe"),
    which("bun"),
  ];
  for (const candidate of candidates) {
    if (candidate && isBinaryOf(candidate, BUN_VERSION, ["--version"])) {
      return realpathSync(candidate);
    }
  }
  npmInstall(`bun@${BUN_VERSION}`);
  const local = join(TOOLS, "node_modules/bun/bin/bun.exe");
  if (!isBinaryOf(local, BUN_VERSION, ["--version"])) {
    throw new Error(`no Bun ${BUN_VERSION} at ${local}`);
  }
  return realpathSync(local);
}

/** Pids of live processes whose environment holds `marker`, other than this one. */
export function processesWith(marker: string): { pid: number; command: string }[] {
  const found: { pid: number; command: string }[] = [];
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return found; // No /proc: nothing to check with.
  }
  for (const entry of entries) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const environ = readFileSync(`/proc/${pid}/environ`, "latin1");
      if (!environ.split("\0").includes(marker)) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
      if (/^\d+ \(.*\) Z /.test(stat)) continue; // A zombie is gone; only its parent has not reaped it.
      const command = readFileSync(`/proc/${pid}/cmdline`, "latin1").split("\0").join(" ").trim();
      found.push({ pid, command });
    } catch {
      // Exited while we looked, or not ours to read.
    }
  }
  return found;
}

async function main(args: string[]): Promise<number> {
  const started = Date.now();
  const missing = missingSystemTools();
  if (missing.names.length > 0) {
    const mayInstall = process.env.HYPERCACHE_TEST_INSTALL !== "no";
    if (!(mayInstall && isRoot() && isDebian() && which("apt-get") !== null)) {
      say(missingLine(missing));
      return 1;
    }
    if (!installSystemTools(missing) || missingSystemTools().names.length > 0) {
      say(missingLine(missingSystemTools()));
      return 1;
    }
  }
  const deno = resolveDeno();
  const bun = resolveBun();
  const python = findPython()!;
  say(`deno ${DENO_VERSION} at ${deno}; bun ${BUN_VERSION} at ${bun}; python ${python}`);
  // npm packages the tests and the Bun nodes import, into node_modules/ (once; quick after).
  execFileSync(deno, ["install", "--quiet"], { cwd: ROOT, stdio: "inherit", timeout: 5 * 60_000 });

  const runId = `${process.pid}-${Date.now()}`;
  const marker = `HYPERCACHE_TEST_RUN=${runId}`;
  const files = args.filter((arg) => !arg.startsWith("-"));
  const flags = args.filter((arg) => arg.startsWith("-"));
  const testArgs = [
    "test",
    "--allow-all",
    "--parallel",
    ...flags,
    ...(files.length ? files : ["tests/"]),
  ];
  say(`running deno ${testArgs.join(" ")} (limit ${RUN_LIMIT_MS / 60_000} min)`);
  const child = spawn(deno, testArgs, {
    cwd: ROOT,
    stdio: "inherit",
    detached: true, // A process group of its own, so a time-out can stop everything under it.
    env: {
      ...process.env,
      HYPERCACHE_TEST_RUN: runId,
      DENO_BIN: deno,
      BUN_BIN: bun,
      HYPERCACHE_PYTHON: python,
    },
  });
  const killGroup = () => {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // Already gone.
    }
  };
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup();
  }, RUN_LIMIT_MS);
  const onSignal = () => killGroup();
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const status = await new Promise<number>((resolve) =>
    child.on("exit", (code, signal) => resolve(code ?? (signal ? 128 : 1)))
  );
  clearTimeout(timer);
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  if (timedOut) say(`FAILED: the run passed its time limit of ${RUN_LIMIT_MS / 60_000} min`);

  // Children are killed with the test files that started them; give exits a moment to land.
  let leaked = processesWith(marker);
  for (let i = 0; i < 20 && leaked.length > 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    leaked = processesWith(marker);
  }
  for (const { pid, command } of leaked) {
    say(`FAILED: process ${pid} started by the suite is still running: ${command}`);
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Gone meanwhile.
    }
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  say(
    `${leaked.length === 0 ? "no process of the run left" : `${leaked.length} leaked`}; ` +
      `finished in ${seconds} s`,
  );
  if (timedOut || leaked.length > 0) return 1;
  return status;
}

if (import.meta.main) {
  try {
    process.exitCode = await main(process.argv.slice(2));
  } catch (error) {
    say(`setup failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
}
