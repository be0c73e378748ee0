/**
 * Blocking pops over real connections, against redis-server 7.0: the same scenario (clients
 * that block, others that write, time passing) runs on a node built in process and on a
 * reference server, and every reply must be the same bytes, in RESP2 and RESP3. BZPOPMIN,
 * BZPOPMAX, BZMPOP and BLMPOP are woken by another client's ZADD or push (or a STORE form, or a
 * RENAME), serve waiters in arrival order, pass over a key of another type, time out with a
 * null, answer at once inside MULTI, and raise the keyspace events Redis raises.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { connect, type Socket } from "node:net";
import { buildConfig } from "../../src/config/config.ts";
import { assembleNode } from "../../src/node.ts";
import { currentRuntime } from "../../src/runtime/mod.ts";
import { referenceRedis, replyLength } from "./_redis_reference.ts";
import { timeLimited } from "../_time_limit.ts";

const { after, before, describe, it } = timeLimited(import.meta.url, 120_000);

/** A connection that keeps the raw bytes of every reply. */
class Wire {
  private buffer = "";
  private wake: (() => void) | null = null;

  private constructor(private readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.buffer += chunk.toString("latin1");
      this.wake?.();
    });
    socket.on("error", () => {});
  }

  static open(port: number): Promise<Wire> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, "127.0.0.1", () => resolve(new Wire(socket)));
      socket.once("error", reject);
    });
  }

  send(...argv: string[]): void {
    let text = `*${argv.length}\r\n`;
    for (const arg of argv) text += `$${arg.length}\r\n${arg}\r\n`;
    this.socket.write(Buffer.from(text, "latin1"));
  }

  /** The next whole reply, or "(none)" when none comes within `ms`. */
  async reply(ms = 5_000): Promise<string> {
    const until = Date.now() + ms;
    for (;;) {
      const length = this.buffer === "" ? -1 : replyLength(this.buffer);
      if (length !== -1) {
        const reply = this.buffer.slice(0, length);
        this.buffer = this.buffer.slice(length);
        return reply;
      }
      const left = until - Date.now();
      if (left <= 0) return "(none)";
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, Math.min(left, 20));
      });
      this.wake = null;
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

/**
 * One step: `send` writes a command on connection `on` without waiting; `run` writes one and
 * records its reply; `take` records the next reply of `on` (waiting up to `within` ms, else
 * "(none)"); `sleep` lets time pass; `hello` switches `on` to a protocol, its reply dropped.
 */
type Step =
  | { on: string; send: string[] }
  | { on: string; run: string[] }
  | { on: string; take: true; within?: number }
  | { on: string; hello: 2 | 3 }
  | { sleep: number };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The replies `steps` get on the server at `port`, in the order they were recorded. */
async function play(port: number, steps: Step[]): Promise<string[]> {
  const wires = new Map<string, Wire>();
  const wire = async (name: string) => {
    let found = wires.get(name);
    if (found === undefined) wires.set(name, found = await Wire.open(port));
    return found;
  };
  const admin = await wire("admin");
  admin.send("FLUSHALL");
  await admin.reply();
  const transcript: string[] = [];
  try {
    for (const step of steps) {
      if ("sleep" in step) await sleep(step.sleep);
      else if ("send" in step) {
        (await wire(step.on)).send(...step.send);
        // The command reaches the server (and blocks) before the next step's.
        await sleep(30);
      } else if ("run" in step) {
        const w = await wire(step.on);
        w.send(...step.run);
        transcript.push(`${step.on} ${step.run.join(" ")}: ${await w.reply()}`);
      } else if ("take" in step) {
        transcript.push(`${step.on} <-: ${await (await wire(step.on)).reply(step.within)}`);
      } else {
        const w = await wire(step.on);
        w.send("HELLO", String(step.hello));
        await w.reply();
      }
    }
  } finally {
    for (const w of wires.values()) w.close();
  }
  return transcript;
}

const s = (on: string, line: string): Step => ({ on, send: line.split(" ") });
const r = (on: string, line: string): Step => ({ on, run: line.split(" ") });
const t = (on: string, within?: number): Step => ({ on, take: true, within });

const SCENARIOS: Record<string, Step[]> = {
  "another client's ZADD wakes BZPOPMIN, BZPOPMAX and BZMPOP": [
    s("w1", "BZPOPMIN k1 k2 5"),
    s("w2", "BZPOPMAX k2 5"),
    s("w3", "BZMPOP 5 2 k3 k2 MAX COUNT 2"),
    r("p", "ZADD k2 1 a 2 b 3 c 4 d 0.1 e"),
    t("w1"),
    t("w2"),
    t("w3"),
    r("p", "ZRANGE k2 0 -1 WITHSCORES"),
    s("w1", "BZMPOP 5 1 k4 MIN COUNT 10"),
    r("p", "ZADD k4 1.5 x 2.5 y"),
    t("w1"),
    r("p", "EXISTS k4"),
  ],
  "another client's push wakes BLMPOP, and waiters are served in arrival order": [
    s("w1", "BLMPOP 5 2 l1 l2 RIGHT COUNT 2"),
    s("w2", "BLMPOP 5 1 l2 LEFT"),
    s("w3", "BLPOP l2 5"),
    r("p", "RPUSH l2 a b c d e"),
    t("w1"),
    t("w2"),
    t("w3"),
    r("p", "LRANGE l2 0 -1"),
    s("w1", "BZPOPMIN q 5"),
    s("w2", "BZMPOP 5 1 q MIN COUNT 2"),
    r("p", "ZADD q 1 a 2 b 3 c 4 d"),
    t("w1"),
    t("w2"),
    r("p", "ZRANGE q 0 -1"),
  ],
  "a timeout answers null, and so does a wait inside MULTI at once": [
    r("w1", "BZPOPMIN none 0.05"),
    r("w1", "BZPOPMAX none1 none2 0.05"),
    r("w1", "BZMPOP 0.05 1 none MIN"),
    r("w1", "BLMPOP 0.05 2 none1 none2 LEFT COUNT 3"),
    r("w1", "MULTI"),
    r("w1", "BZPOPMIN none 0"),
    r("w1", "BZMPOP 0 1 none MAX"),
    r("w1", "BLMPOP 0 1 none RIGHT"),
    r("w1", "EXEC"),
  ],
  "a script's BZMPOP and BLMPOP answer at once, and BZPOPMIN is refused in a script": [
    { on: "w1", run: ["EVAL", "return redis.call('BZMPOP', 0, 1, KEYS[1], 'MIN')", "1", "z"] },
    { on: "w1", run: ["EVAL", "return redis.call('BLMPOP', 0, 1, KEYS[1], 'LEFT')", "1", "l"] },
    { on: "w1", run: ["EVAL", "return redis.call('BZPOPMIN', KEYS[1], 0)", "1", "z"] },
    r("w1", "ZADD z 1 a 2 b"),
    { on: "w1", run: ["EVAL", "return redis.call('BZMPOP', 0, 1, KEYS[1], 'MAX')", "1", "z"] },
    r("w1", "RPUSH l x"),
    { on: "w1", run: ["EVAL", "return redis.call('BLMPOP', 0, 1, KEYS[1], 'LEFT')", "1", "l"] },
    r("w1", "PING"),
  ],
  "a key of another type keeps the waiter waiting until it holds the right type": [
    s("w1", "BZPOPMIN k 5"),
    s("w2", "BLMPOP 5 1 l LEFT"),
    r("p", "LPUSH k x"),
    r("p", "ZADD l 1 m"),
    t("w1", 200),
    t("w2", 200),
    r("p", "DEL k l"),
    r("p", "ZADD k 7 m"),
    r("p", "RPUSH l v"),
    t("w1"),
    t("w2"),
    s("w1", "BLPOP j 5"),
    r("p", "ZADD j 1 m"),
    t("w1", 200),
    r("p", "DEL j"),
    r("p", "LPUSH j v"),
    t("w1"),
  ],
  "a STORE form, a RENAME or a MULTI that ends with data wakes the waiter": [
    r("p", "ZADD src 1 a 2 b"),
    s("w1", "BZPOPMIN dst 5"),
    r("p", "ZUNIONSTORE dst 1 src"),
    t("w1"),
    s("w1", "BZPOPMAX dst2 5"),
    r("p", "ZRANGESTORE dst2 src 0 0"),
    t("w1"),
    s("w1", "BZMPOP 5 1 dst3 MIN"),
    r("p", "RENAME src dst3"),
    t("w1"),
    s("w1", "BZPOPMIN m 0.4"),
    r("p", "MULTI"),
    r("p", "ZADD m 1 a"),
    r("p", "DEL m"),
    r("p", "EXEC"),
    t("w1"),
    s("w1", "BZPOPMIN m 5"),
    r("p", "MULTI"),
    r("p", "ZADD m 1 a 2 b"),
    r("p", "ZREM m a"),
    r("p", "EXEC"),
    t("w1"),
  ],
  "a pop served to a waiter raises the events of the pop it did, and a STORE form its own": [
    r("sub", "PSUBSCRIBE __key*__:*"),
    r("p", "CONFIG SET notify-keyspace-events KEAn"),
    s("w1", "BZPOPMIN a b 5"),
    r("p", "ZADD b 1 m"),
    t("w1"),
    s("w1", "BLPOP la lb 5"),
    r("p", "RPUSH lb x y"),
    t("w1"),
    s("w1", "BLMPOP 5 2 la lb RIGHT COUNT 5"),
    s("w2", "BZMPOP 5 2 a b MAX COUNT 1"),
    r("p", "ZADD b 1 m 2 n"),
    t("w2"),
    r("p", "ZMPOP 2 a b MIN"),
    r("p", "LMPOP 1 lb LEFT COUNT 1"),
    r("p", "ZADD u1 1 a"),
    r("p", "ZUNIONSTORE u2 1 u1"),
    r("p", "ZINTERSTORE u2 2 u1 nokey"),
    r("p", "ZDIFFSTORE u3 1 u1"),
    r("p", "ZRANGESTORE u3 u1 5 10"),
    r("p", "ZRANGESTORE u4 u1 0 -1"),
    r("p", "ZUNIONSTORE u4 1 u1"),
    r("p", "ZUNIONSTORE none 1 nokey"),
    r("p", "CONFIG SET notify-keyspace-events ''"),
    ...Array.from({ length: 52 }, () => t("sub", 300)),
  ],
};

describe("blocking pops as redis-server serves them", () => {
  const reference = referenceRedis(before, after);
  let port = 0;
  let stop: () => Promise<void> = async () => {};

  before(async () => {
    const parts = await assembleNode(buildConfig({ port: 0, http: { enabled: false } }), {
      ...await currentRuntime(),
    });
    await parts.resp.start();
    port = parts.resp.port;
    stop = () => parts.resp.stop();
  });
  after(() => stop());

  for (const protocol of [2, 3] as const) {
    for (const [name, steps] of Object.entries(SCENARIOS)) {
      it(`${name} (RESP${protocol})`, async (t) => {
        const redis = reference();
        if (redis === undefined) return t.skip("redis-server is not installed");
        const names = new Set(steps.flatMap((step) => ("on" in step ? [step.on] : [])));
        const withProtocol: Step[] = [...names].map((on) => ({ on, hello: protocol }));
        const script = [...withProtocol, ...steps].map((step) =>
          // An empty argument is written as '' in the scripts.
          "send" in step
            ? { ...step, send: step.send.map((a) => (a === "''" ? "" : a)) }
            : "run" in step
            ? { ...step, run: step.run.map((a) => (a === "''" ? "" : a)) }
            : step
        );
        const expected = await play(redis.port, script);
        assert.deepEqual(await play(port, script), expected);
      });
    }
  }
});
