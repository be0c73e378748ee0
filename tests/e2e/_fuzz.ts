/**
 * A command fuzzer against a real node: connections pipelining random commands from the whole
 * command table with random, edge-case and oversized arguments (near every limit, near the
 * runtime's string limits), raw garbage and oversized headers, while a checking client runs
 * SET/GET/INCR on keys of its own and verifies every answer. Used by `tests/e2e/fuzz.test.ts`
 * (a short run) and `bench/fuzz.ts` (a long one).
 */
import { readFileSync } from "node:fs";
import { createCommandTable } from "../../src/commands/table.ts";
import { RespError, type RespValue } from "../../src/resp/decoder.ts";
import { encodeCommand as encode, RawClient as Link } from "./_raw_client.ts";
import { mulberry32 } from "../_mulberry32.ts";

/** Commands the fuzzer never sends: they would end the test rather than probe the node (lock
 * the checker out, delete its keys, close its connection). */
const EXCLUDED = new Set([
  "flushall",
  "flushdb",
  "shutdown",
  "config|set",
  "config|resetstat",
  "client|kill",
  "client|no-evict",
  "quit",
]);

/** Every command and subcommand as [name..., arity], subcommands as two words. */
function commandShapes(): [string[], number][] {
  const shapes: [string[], number][] = [];
  for (const spec of createCommandTable().specs) {
    if (!EXCLUDED.has(spec.name)) shapes.push([[spec.name.toUpperCase()], spec.arity]);
    for (const sub of spec.subcommands ?? []) {
      if (!EXCLUDED.has(sub.name)) shapes.push([sub.name.toUpperCase().split("|"), sub.arity]);
    }
  }
  return shapes;
}

/** Arguments at the edges: integers around 64-bit and 32-bit limits, floats, offsets near the
 * string limits (V8's 536,870,888 characters, 512 MiB, 2^31), options, and bytes. */
const EDGES = [
  "0",
  "-1",
  "1",
  "-0",
  "+1",
  "007",
  " 1",
  "1 ",
  "",
  "\0",
  "\r\n",
  "*",
  "?",
  "[",
  "\\",
  "9223372036854775807",
  "9223372036854775808",
  "-9223372036854775808",
  "-9223372036854775809",
  "2147483647",
  "2147483648",
  "4294967295",
  "4294967296",
  "18446744073709551616",
  "536870887",
  "536870888",
  "536870889",
  "536870911",
  "536870912",
  "536870913",
  "2147483647",
  "1e308",
  "1e309",
  "-1e309",
  "inf",
  "-inf",
  "+inf",
  "nan",
  "0.1",
  "1.5e10",
  "0x10",
  "1e-400",
  "EX",
  "PX",
  "EXAT",
  "PXAT",
  "NX",
  "XX",
  "GT",
  "LT",
  "KEEPTTL",
  "GET",
  "WITHSCORES",
  "LIMIT",
  "COUNT",
  "MATCH",
  "TYPE",
  "BYSCORE",
  "BYLEX",
  "REV",
  "LEFT",
  "RIGHT",
  "BEFORE",
  "AFTER",
  "AUTH",
  "SETNAME",
  "DB",
  "REPLACE",
  "SAMPLES",
  "ID",
  "USER",
  "ADDR",
  "SKIPME",
  "-",
  "+",
  "(1",
  "[a",
];

export interface FuzzOptions {
  port: number;
  /** The node's pid, for its RSS. */
  pid: number;
  seed: number;
  durationMs: number;
  connections: number;
  /** Cap on commands sent, whatever the time. */
  maxCommands: number;
}

export interface FuzzResult {
  seed: number;
  commandsSent: number;
  repliesRead: number;
  reconnects: number;
  checks: number;
  wrongAnswers: string[];
  malformedReplies: string[];
  rssStartBytes: number;
  rssPeakBytes: number;
  /** The longest the checker waited for its three replies. */
  slowestCheckMs: number;
}

/** How long the checker waits for a reply before it counts the node as stuck. */
const STALL_LIMIT_MS = 60_000;

/** VmRSS of a process, in bytes (0 where /proc is missing). */
export function rssBytes(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

/** Runs the fuzzer and the checker side by side until the time or the command count is spent. */
export async function fuzz(options: FuzzOptions): Promise<FuzzResult> {
  const random = mulberry32(options.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const shapes = commandShapes();
  const result: FuzzResult = {
    seed: options.seed,
    commandsSent: 0,
    repliesRead: 0,
    reconnects: 0,
    checks: 0,
    wrongAnswers: [],
    malformedReplies: [],
    rssStartBytes: rssBytes(options.pid),
    rssPeakBytes: 0,
    slowestCheckMs: 0,
  };
  const until = Date.now() + options.durationMs;
  const done = () => Date.now() >= until || result.commandsSent >= options.maxCommands;
  const keys = ["f:a", "f:b", "f:c", "f:{t}1", "f:{t}2", "f:list", "f:set", "f:zset", "f:hash"];

  function argument(): string {
    const roll = random();
    if (roll < 0.35) return pick(keys);
    if (roll < 0.7) return pick(EDGES);
    if (roll < 0.8) return String(Math.floor(random() * 2000) - 1000);
    if (roll < 0.9) {
      let bytes = "";
      const length = Math.floor(random() * 40);
      for (let i = 0; i < length; i++) bytes += String.fromCharCode(Math.floor(random() * 256));
      return bytes;
    }
    if (roll < 0.98) return "v".repeat(Math.floor(random() * 20_000));
    // Large, but bounded so the fuzzer's own memory stays small: 1-4 MB.
    return "L".repeat(1_000_000 + Math.floor(random() * 3_000_000));
  }

  function commandText(): string {
    const roll = random();
    if (roll < 0.01) return "*1048577\r\n"; // more arguments than max_multibulk_length
    if (roll < 0.02) return "*2\r\n$3\r\nSET\r\n$536870913\r\n"; // a bulk over 512 MB, header only
    if (roll < 0.03) return `garbage ${String.fromCharCode(Math.floor(random() * 256))}\r\n`;
    if (roll < 0.04) return "$5\r\nhello\r\n"; // a bulk where a command must start
    const [name, arity] = pick(shapes);
    const argv = [...name];
    const wanted = Math.abs(arity) + (arity < 0 ? Math.floor(random() * 4) : 0);
    const count = random() < 0.1 ? Math.floor(random() * 8) : wanted;
    while (argv.length < count) argv.push(argument());
    // Blocking commands wait 0-0.2 s, never forever.
    if (/^(BLPOP|BRPOP|BLMOVE|BRPOPLPUSH)$/.test(argv[0]) && argv.length > 2) {
      argv[argv.length - 1] = (random() * 0.2).toFixed(2);
    }
    return encode(argv);
  }

  async function fuzzer(): Promise<void> {
    let link = await Link.open(options.port);
    while (!done()) {
      const batch = 1 + Math.floor(random() * 16);
      let text = "";
      for (let i = 0; i < batch; i++) text += commandText();
      link.write(text);
      result.commandsSent += batch;
      await link.waitFor(batch, 300);
      result.repliesRead += link.replies.length;
      link.replies = [];
      if (link.malformed !== null) result.malformedReplies.push(link.malformed);
      if (link.closed || random() < 0.05) {
        link.close();
        link = await Link.open(options.port);
        result.reconnects++;
      }
      result.rssPeakBytes = Math.max(result.rssPeakBytes, rssBytes(options.pid));
    }
    link.close();
  }

  async function checker(): Promise<void> {
    const link = await Link.open(options.port);
    const prefix = `checker:${options.seed}:`;
    const expected = new Map<string, string>();
    let counter = 0;
    for (let round = 0; !done(); round++) {
      const key = `${prefix}${round % 50}`;
      const value = `value-${round}-${"x".repeat(round % 100)}`;
      const sent = Date.now();
      link.write(
        encode(["SET", key, value]) + encode(["GET", key]) + encode(["INCR", `${prefix}n`]),
      );
      // A fuzzer's command on a 512 MB value holds the node for a while: a stall, not a wrong
      // answer, as long as the replies come.
      await link.waitFor(3, STALL_LIMIT_MS);
      result.slowestCheckMs = Math.max(result.slowestCheckMs, Date.now() - sent);
      if (link.replies.length < 3) {
        result.wrongAnswers.push(`round ${round}: no reply within ${STALL_LIMIT_MS} ms`);
        return;
      }
      const [set, get, incr] = link.replies.splice(0, 3);
      counter++;
      const verdict = (what: string, got: RespValue, want: RespValue) => {
        if (got !== want) {
          const shown = got instanceof RespError ? `-${got.message}` : JSON.stringify(got);
          result.wrongAnswers.push(`round ${round} ${what}: got ${shown}, want ${want}`);
        }
      };
      verdict("SET", set, "OK");
      verdict("GET", get, value);
      verdict("INCR", incr, counter);
      expected.set(key, value);
      result.checks += 3;
      if (link.closed) {
        result.wrongAnswers.push(`round ${round}: the checker's connection was closed`);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    // Every key written is still what was written last.
    for (const [key, value] of expected) {
      link.write(encode(["GET", key]));
      await link.waitFor(1, STALL_LIMIT_MS);
      const got = link.replies.shift();
      result.checks++;
      if (got !== value) result.wrongAnswers.push(`final GET ${key}: got ${JSON.stringify(got)}`);
    }
    link.close();
  }

  await Promise.all([
    checker(),
    ...Array.from({ length: options.connections }, () => fuzzer()),
  ]);
  return result;
}
