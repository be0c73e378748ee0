/**
 * Differential testing against redis-server: random command sequences over every family the
 * node implements run on a node and on a reference redis-server, reply for reply. A sequence is a
 * chunk of commands on empty databases; a mismatch is shrunk to the shortest subsequence that
 * still shows it. Used by `tests/e2e/differential.test.ts` (a CI-sized run) and
 * `bench/differential.ts` (a long one).
 */
import { Buffer } from "node:buffer";
import { connect, type Socket } from "node:net";
import { createCommandTable } from "../../src/commands/table.ts";
import { replyLength } from "../commands/_redis_reference.ts";
import { Random } from "../sim/random.ts";
import { encodeCommand } from "./_raw_client.ts";

/** A connection that pipelines commands and hands back each raw reply (latin1 text). */
export class RawPipe {
  private buffer = "";
  private wake: (() => void) | null = null;
  private closed = false;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      this.buffer += chunk;
      this.wake?.();
    });
    socket.on("close", () => {
      this.closed = true;
      this.wake?.();
    });
    socket.on("error", () => {});
  }

  static open(port: number): Promise<RawPipe> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, "127.0.0.1", () => resolve(new RawPipe(socket)));
      socket.once("error", reject);
    });
  }

  /** Sends every command at once and resolves with their replies, in order. */
  async run(commands: readonly string[][]): Promise<string[]> {
    this.socket.write(Buffer.from(commands.map(encodeCommand).join(""), "latin1"));
    return await this.take(commands.length);
  }

  /** Sends commands without waiting (a blocking command whose reply comes later). */
  send(argv: readonly string[]): void {
    this.socket.write(Buffer.from(encodeCommand(argv), "latin1"));
  }

  /** The next `count` replies. */
  async take(count: number): Promise<string[]> {
    const replies: string[] = [];
    let at = 0;
    while (replies.length < count) {
      const length = replyLength(this.buffer, at);
      if (length !== -1) {
        replies.push(this.buffer.slice(at, at + length));
        at += length;
        continue;
      }
      this.buffer = this.buffer.slice(at);
      at = 0;
      if (this.closed) throw new Error(`connection closed after ${replies.length} replies`);
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = null;
    }
    this.buffer = this.buffer.slice(at);
    return replies;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Replies whose element order Redis leaves unspecified: compared as sorted lines. */
const UNORDERED = new Set(["SMEMBERS", "SUNION", "SINTER", "SDIFF", "KEYS"]);

/** A reply as compared: unordered ones with their lines sorted. */
export function normalize(argv: readonly string[], reply: string): string {
  return UNORDERED.has(argv[0]) ? reply.split("\r\n").sort().join("\r\n") : reply;
}

/**
 * Where a node answers differently from redis-server on purpose, with the reason; a command
 * matching one is compared by `equal` instead of byte for byte. (None so far: every family the
 * generator draws from answers as Redis does.)
 */
export const DOCUMENTED_DIFFERENCES: {
  reason: string;
  applies: (argv: readonly string[]) => boolean;
  equal: (ours: string, theirs: string) => boolean;
}[] = [];

const KEYS = ["k0", "k1", "k2", "k3", "k4", "k5"];
const SHORT = ["", "0", "1", "-1", "7", "42", "100", "3.5", "-0.25", "abc", "b", "hello world"];
const ODD = [
  "\x00\xff\r\n",
  "9223372036854775807",
  "-9223372036854775808",
  "1e3",
  "inf",
  "-inf",
  "nan",
  " 5",
  "x".repeat(70),
];

/** Draws the commands of one family. */
type Family = (r: Random) => string[][];

const key = (r: Random) => r.pick(KEYS);
const value = (r: Random) => (r.chance(0.15) ? r.pick(ODD) : r.pick(SHORT));
/** Hash fields and values stay within listpack limits, where both keep insertion order. */
const small = (r: Random) => r.pick(SHORT);
const int = (r: Random, lo: number, hi: number) => String(r.between(lo, hi));
const some = <T>(r: Random, draw: (r: Random) => T, max: number): T[] =>
  Array.from({ length: r.between(1, max) }, () => draw(r));
const member = (r: Random) => (r.chance(0.5) ? int(r, -3, 12) : r.pick(["a", "b", "c", "d"]));
// No out-of-range numbers such as 1e400: redis-server 7.0 leaves its errno at ERANGE after one, and
// a later SORT then refuses numbers it would take (a Redis bug, not behaviour to copy).
const score = (r: Random) =>
  r.chance(0.1) ? r.pick(["inf", "-inf", "+inf", "x"]) : String(r.between(-5, 5) / 2);
const range = (r: Random) => [int(r, -6, 6), int(r, -6, 6)];

const FAMILIES: Record<string, Family> = {
  strings: (r) => {
    const k = key(r);
    switch (r.int(16)) {
      case 0:
        return [[
          "SET",
          k,
          value(r),
          ...(r.chance(0.3) ? [r.pick(["NX", "XX", "GET", "KEEPTTL"])] : []),
        ]];
      case 1:
        return [["GET", k]];
      case 2:
        return [["APPEND", k, value(r)]];
      case 3:
        return [[r.pick(["INCR", "DECR"]), k]];
      case 4:
        return [[r.pick(["INCRBY", "DECRBY"]), k, r.chance(0.9) ? int(r, -50, 50) : value(r)]];
      case 5:
        return [["INCRBYFLOAT", k, r.pick(["0.5", "-1.25", "3", "1e2", "abc", "0.1"])]];
      case 6:
        return [["GETRANGE", k, ...range(r)]];
      case 7:
        return [["SETRANGE", k, int(r, 0, 12), value(r)]];
      case 8:
        return [["STRLEN", k]];
      case 9:
        return [["MSET", ...some(r, (x) => [key(x), value(x)], 3).flat()]];
      case 10:
        return [["MGET", ...some(r, key, 4)]];
      case 11:
        return [["GETDEL", k]];
      case 12:
        return [["SETNX", k, value(r)]];
      case 13:
        return [["GETSET", k, value(r)]];
      case 14:
        return [["MSETNX", ...some(r, (x) => [key(x), value(x)], 2).flat()]];
      default:
        return [["GETEX", k, "PERSIST"]];
    }
  },
  bitmaps: (r) => {
    const k = key(r);
    switch (r.int(5)) {
      case 0:
        return [["SETBIT", k, int(r, 0, 90), r.pick(["0", "1", "2"])]];
      case 1:
        return [["GETBIT", k, int(r, 0, 100)]];
      case 2:
        return [["BITCOUNT", k, ...(r.chance(0.5) ? [...range(r), r.pick(["BYTE", "BIT"])] : [])]];
      case 3:
        return [["BITPOS", k, r.pick(["0", "1"]), ...(r.chance(0.5) ? range(r) : [])]];
      default:
        return [["BITOP", r.pick(["AND", "OR", "XOR"]), key(r), ...some(r, key, 3)]];
    }
  },
  // HyperLogLogs live on keys of their own: a string command writing into one makes a value
  // Redis itself handles inconsistently (a corrupt sparse HLL is half-updated, unlogged).
  hyperloglog: (r) => {
    const hll = () => r.pick(["hll0", "hll1", "hll2"]);
    switch (r.int(5)) {
      case 0:
      case 1:
        return [["PFADD", hll(), ...some(r, value, 4)]];
      case 2:
        return [["PFCOUNT", ...some(r, hll, 2)]];
      case 3:
        return [["PFMERGE", hll(), ...some(r, hll, 2)]];
      default:
        // Their bytes, and the errors for keys of other types.
        return [r.pick([["GET", hll()], ["PFCOUNT", key(r)], ["PFADD", key(r)]])];
    }
  },
  keys: (r) => {
    const k = key(r);
    switch (r.int(12)) {
      case 0:
        return [["DEL", ...some(r, key, 3)]];
      case 1:
        return [["EXISTS", ...some(r, key, 3)]];
      case 2:
        return [["TYPE", k]];
      case 3:
        return [[r.pick(["RENAME", "RENAMENX"]), k, key(r)]];
      case 4:
        return [["COPY", k, key(r), ...(r.chance(0.5) ? ["REPLACE"] : [])]];
      case 5:
        // Times that never pass during a run, or have passed already: no clock in the replies.
        return [[
          r.pick(["EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"]),
          k,
          r.pick(["100000", "-1", "0", "9223372036854775807", "x"]),
          ...(r.chance(0.3) ? [r.pick(["NX", "XX", "GT", "LT"])] : []),
        ]];
      case 6:
        return [["PERSIST", k]];
      case 7:
        return [[r.pick(["TOUCH", "UNLINK"]), ...some(r, key, 2)]];
      case 8:
        return [["KEYS", r.pick(["*", "k[0-2]", "k?", "*3"])]];
      case 9:
        return [["DBSIZE"]];
      case 10:
        return [["SELECT", int(r, 0, 2)]];
      default:
        return [["EXISTS", k]];
    }
  },
  hashes: (r) => {
    const k = key(r);
    const field = () => r.pick(["f1", "f2", "f3", "f4"]);
    switch (r.int(11)) {
      case 0:
        return [["HSET", k, ...some(r, () => [field(), small(r)], 3).flat()]];
      case 1:
        return [["HGET", k, field()]];
      case 2:
        return [["HDEL", k, ...some(r, field, 2)]];
      case 3:
        return [[r.pick(["HLEN", "HGETALL", "HKEYS", "HVALS"]), k]];
      case 4:
        return [["HEXISTS", k, field()]];
      case 5:
        return [["HINCRBY", k, field(), r.chance(0.9) ? int(r, -9, 9) : small(r)]];
      case 6:
        return [["HINCRBYFLOAT", k, field(), r.pick(["1.5", "-2", "x", "0.1"])]];
      case 7:
        return [["HMGET", k, ...some(r, field, 3)]];
      case 8:
        return [["HSETNX", k, field(), small(r)]];
      case 9:
        return [["HSTRLEN", k, field()]];
      default:
        return [["HSET", k, field(), small(r)]];
    }
  },
  lists: (r) => {
    const k = key(r);
    switch (r.int(14)) {
      case 0:
      case 1:
        return [[r.pick(["LPUSH", "RPUSH"]), k, ...some(r, value, 3)]];
      case 2:
        return [[r.pick(["LPUSHX", "RPUSHX"]), k, value(r)]];
      case 3:
        return [[r.pick(["LPOP", "RPOP"]), k, ...(r.chance(0.4) ? [int(r, 0, 3)] : [])]];
      case 4:
        return [["LRANGE", k, ...range(r)]];
      case 5:
        return [["LINDEX", k, int(r, -4, 4)]];
      case 6:
        return [["LSET", k, int(r, -3, 3), value(r)]];
      case 7:
        return [["LREM", k, int(r, -2, 2), value(r)]];
      case 8:
        return [["LINSERT", k, r.pick(["BEFORE", "AFTER"]), value(r), value(r)]];
      case 9:
        return [["LTRIM", k, ...range(r)]];
      case 10:
        return [["LLEN", k]];
      case 11:
        return [["LMOVE", k, key(r), r.pick(["LEFT", "RIGHT"]), r.pick(["LEFT", "RIGHT"])]];
      case 12:
        return [[
          "LPOS",
          k,
          value(r),
          ...(r.chance(0.5) ? ["RANK", r.pick(["1", "-1", "2"])] : []),
        ]];
      default:
        // An empty or missing list: the timeout passes on both sides; a full one pops at once.
        return [[r.pick(["BLPOP", "BRPOP"]), k, key(r), "0.01"]];
    }
  },
  sets: (r) => {
    const k = key(r);
    switch (r.int(10)) {
      case 0:
      case 1:
        return [["SADD", k, ...some(r, member, 4)]];
      case 2:
        return [["SREM", k, ...some(r, member, 2)]];
      case 3:
        return [[r.pick(["SISMEMBER", "SMISMEMBER"]), k, member(r)]];
      case 4:
        return [[r.pick(["SCARD", "SMEMBERS"]), k]];
      case 5:
        return [[r.pick(["SINTER", "SUNION", "SDIFF"]), ...some(r, key, 3)]];
      case 6:
        return [[r.pick(["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]), key(r), ...some(r, key, 3)]];
      case 7:
        return [["SINTERCARD", "2", key(r), key(r)]];
      case 8:
        return [["SMOVE", k, key(r), member(r)]];
      default:
        return [["SADD", k, member(r)]];
    }
  },
  zsets: (r) => {
    const k = key(r);
    switch (r.int(14)) {
      case 0:
      case 1: {
        const options = r.chance(0.3) ? [r.pick(["NX", "XX", "GT", "LT", "CH"])] : [];
        return [["ZADD", k, ...options, ...some(r, () => [score(r), member(r)], 3).flat()]];
      }
      case 2:
        return [["ZREM", k, ...some(r, member, 2)]];
      case 3:
        return [["ZSCORE", k, member(r)]];
      case 4:
        return [["ZINCRBY", k, score(r), member(r)]];
      case 5:
        return [["ZCARD", k]];
      case 6:
        return [["ZRANGE", k, ...range(r), ...(r.chance(0.5) ? ["WITHSCORES"] : [])]];
      case 7:
        return [["ZRANGEBYSCORE", k, r.pick(["-inf", "(0", "1"]), r.pick(["+inf", "(2", "3"])]];
      case 8:
        return [[r.pick(["ZRANK", "ZREVRANK"]), k, member(r)]];
      case 9:
        return [["ZCOUNT", k, r.pick(["-inf", "0"]), r.pick(["+inf", "(2"])]];
      case 10:
        return [[r.pick(["ZPOPMIN", "ZPOPMAX"]), k, ...(r.chance(0.5) ? [int(r, 0, 3)] : [])]];
      case 11:
        return [["ZMSCORE", k, ...some(r, member, 3)]];
      case 12:
        return [["ZREMRANGEBYRANK", k, ...range(r)]];
      default:
        return FAMILIES.lex(r);
    }
  },
  // Lex ranges are defined only where every score is equal (Redis leaves the rest unspecified):
  // keys of their own, whose members all have score 0.
  lex: (r) => {
    const k = r.pick(["lex0", "lex1"]);
    const min = () => r.pick(["-", "[a", "(b", "[c", "x"]);
    const max = () => r.pick(["+", "[c", "(d", "[b"]);
    switch (r.int(5)) {
      case 0:
      case 1:
        return [[
          "ZADD",
          k,
          ...some(r, () => ["0", r.pick(["a", "b", "c", "d", "e", "4"])], 3).flat(),
        ]];
      case 2:
        return [[r.pick(["ZRANGEBYLEX", "ZLEXCOUNT", "ZREMRANGEBYLEX"]), k, min(), max()]];
      case 3:
        return [["ZREVRANGEBYLEX", k, max(), min(), ...(r.chance(0.3) ? ["LIMIT", "0", "2"] : [])]];
      default:
        return [["ZRANGE", k, min(), max(), "BYLEX"]];
    }
  },
  streams: (r) => {
    const k = key(r);
    // Explicit IDs (or ms-* for the next sequence): '*' would take each server's clock.
    const id = () => `${r.between(0, 5)}-${r.chance(0.3) ? "*" : r.between(0, 3)}`;
    switch (r.int(10)) {
      case 0:
      case 1:
        return [[
          "XADD",
          k,
          ...(r.chance(0.2) ? ["MAXLEN", r.pick(["=", "~"]), int(r, 0, 3)] : []),
          id(),
          "f",
          value(r),
        ]];
      case 2:
        return [["XLEN", k]];
      case 3:
        return [[
          "XRANGE",
          k,
          r.pick(["-", "1", "(1-0"]),
          r.pick(["+", "3", "(4"]),
          ...(r.chance(0.3) ? ["COUNT", "2"] : []),
        ]];
      case 4:
        return [["XREVRANGE", k, "+", "-", "COUNT", int(r, 1, 3)]];
      case 5:
        return [["XDEL", k, `${r.between(0, 5)}-${r.between(0, 3)}`]];
      case 6:
        return [["XTRIM", k, r.pick(["MAXLEN", "MINID"]), r.pick(["0", "2", "3-0"])]];
      case 7:
        return [["XREAD", "COUNT", "2", "STREAMS", k, key(r), "0", "1-1"]];
      case 8:
        return [[
          "XGROUP",
          "CREATE",
          k,
          "g",
          r.pick(["0", "$"]),
          ...(r.chance(0.5) ? ["MKSTREAM"] : []),
        ]];
      default:
        return [r.pick([
          ["XREADGROUP", "GROUP", "g", "c1", "COUNT", "1", "STREAMS", k, ">"],
          ["XACK", k, "g", `${r.between(0, 5)}-${r.between(0, 3)}`],
          ["XPENDING", k, "g"],
        ])];
    }
  },
  algebra: (r) => {
    const [a, b] = [key(r), key(r)];
    return [r.pick([
      [r.pick(["ZUNION", "ZINTER", "ZDIFF"]), "2", a, b, ...(r.chance(0.5) ? ["WITHSCORES"] : [])],
      [r.pick(["ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"]), key(r), "2", a, b],
      ["ZUNION", "2", a, b, "WEIGHTS", "2", "-1", "AGGREGATE", r.pick(["SUM", "MIN", "MAX"])],
      ["ZINTERCARD", "2", a, b],
      ["ZMPOP", "2", a, b, r.pick(["MIN", "MAX"]), "COUNT", int(r, 1, 3)],
      ["LMPOP", "2", a, b, r.pick(["LEFT", "RIGHT"]), "COUNT", int(r, 1, 3)],
      ["BZPOPMIN", a, "0.01"],
      ["BLMPOP", "0.01", "1", a, "RIGHT"],
      ["LCS", a, b, ...(r.chance(0.5) ? [r.pick(["LEN", "IDX"])] : [])],
      [
        "SORT",
        a,
        ...(r.chance(0.5) ? ["ALPHA"] : []),
        ...(r.chance(0.3) ? ["LIMIT", "0", "3"] : []),
      ],
      ["SORT", a, "DESC", "STORE", b],
    ])];
  },
  scripts: (r) => {
    const k = key(r);
    return [r.pick([
      ["EVAL", "return redis.call('get', KEYS[1])", "1", k],
      ["EVAL", "redis.call('incr', KEYS[1]) return redis.call('get', KEYS[1])", "1", k],
      ["EVAL", "return {1, 2.5, 'x', {3, false}, redis.status_reply('ok')}", "0"],
      ["EVAL", "return redis.pcall('lpush', KEYS[1], ARGV[1])", "1", k, value(r)],
      ["EVAL", "return redis.call('hset', KEYS[1], 'f1', ARGV[1])", "1", k, small(r)],
      ["EVAL", "return redis.error_reply('my error')", "0"],
      ["EVAL", "return #KEYS + #ARGV", "2", k, key(r), "a"],
      ["EVAL", "return cjson.encode({a = {1, 2}})", "0"],
      ["EVAL", "return cmsgpack.unpack(cmsgpack.pack(ARGV[1]))", "0", value(r)],
    ])];
  },
  transactions: (r) => {
    const body = [
      ...FAMILIES.strings(r),
      ...FAMILIES.lists(r).filter((argv) => !argv[0].startsWith("B")),
      ...FAMILIES.zsets(r),
    ].slice(0, r.between(1, 3));
    const watched = r.chance(0.3) ? [["WATCH", key(r)], ...FAMILIES.strings(r)] : [];
    return [...watched, ["MULTI"], ...body, [r.chance(0.85) ? "EXEC" : "DISCARD"]];
  },
};

/** The commands the node has: a family's command it lacks is not drawn. */
const table = createCommandTable();

/** One chunk of `count` commands (a transaction counts its commands). */
export function generate(seed: number, count: number): string[][] {
  const r = new Random(seed);
  const names = Object.keys(FAMILIES);
  const commands: string[][] = [];
  while (commands.length < count) {
    for (const argv of FAMILIES[r.pick(names)](r)) {
      if (table.lookup(argv[0]) !== undefined) commands.push(argv);
    }
  }
  return commands;
}

/** The first command whose replies differ, or null. */
export function firstMismatch(
  commands: readonly string[][],
  ours: readonly string[],
  theirs: readonly string[],
): number | null {
  for (let i = 0; i < commands.length; i++) {
    const argv = commands[i];
    const a = normalize(argv, ours[i]);
    const b = normalize(argv, theirs[i]);
    if (a === b) continue;
    const allowed = DOCUMENTED_DIFFERENCES.find((d) => d.applies(argv));
    if (allowed?.equal(ours[i], theirs[i])) continue;
    return i;
  }
  return null;
}

/** Both sides, reset to empty databases between sequences. */
export interface Sides {
  ours: RawPipe;
  theirs: RawPipe;
}

const RESET = [["RESET"], ["FLUSHALL"]];

/** Runs `commands` on both sides from empty databases; their replies. */
export async function runBoth(
  sides: Sides,
  commands: readonly string[][],
): Promise<[string[], string[]]> {
  const [ours, theirs] = await Promise.all([
    sides.ours.run([...RESET, ...commands]),
    sides.theirs.run([...RESET, ...commands]),
  ]);
  return [ours.slice(RESET.length), theirs.slice(RESET.length)];
}

/**
 * The shortest subsequence of `commands[0..end]` found that still ends in a mismatch (greedy:
 * each command is dropped if the mismatch stays without it).
 */
export async function shrink(
  sides: Sides,
  commands: readonly string[][],
  end: number,
): Promise<string[][]> {
  let current = commands.slice(0, end + 1);
  for (let i = current.length - 2; i >= 0; i--) {
    const candidate = [...current.slice(0, i), ...current.slice(i + 1)];
    const [ours, theirs] = await runBoth(sides, candidate);
    const at = firstMismatch(candidate, ours, theirs);
    if (at !== null) current = candidate.slice(0, at + 1);
  }
  return current;
}

/** A reply for a report: JSON, cut to a readable length. */
const clip = (reply: string) => {
  const text = JSON.stringify(reply);
  return text.length > 400 ? `${text.slice(0, 400)}... (${reply.length} bytes)` : text;
};

/** What a failing run reports: the seed, the shortest sequence and both replies to its end. */
export async function describeMismatch(
  sides: Sides,
  seed: number,
  commands: readonly string[][],
  at: number,
): Promise<string> {
  const shortest = await shrink(sides, commands, at);
  const [ours, theirs] = await runBoth(sides, shortest);
  const last = shortest.length - 1;
  return [
    `seed ${seed}: replies differ; shortest sequence (${shortest.length} commands):`,
    ...shortest.map((argv) => "  " + argv.map((a) => JSON.stringify(a)).join(" ")),
    `ours:  ${clip(ours[last])}`,
    `redis: ${clip(theirs[last])}`,
  ].join("\n");
}

/** A BLPOP (or another blocking pop) on one connection, served by a push from another. */
export async function blockingEpisode(
  r: Random,
  blocked: RawPipe,
  pusher: RawPipe,
): Promise<{ command: string[]; reply: string }> {
  const k = r.pick(KEYS);
  const command = r.pick([
    ["BLPOP", k, "5"],
    ["BRPOP", "none", k, "5"],
    ["BLMOVE", k, "dst", "LEFT", "RIGHT", "5"],
    ["BZPOPMIN", k, "5"],
  ]);
  if (table.lookup(command[0]) === undefined) return { command, reply: "" };
  await pusher.run([["RESET"], ["FLUSHALL"]]);
  await blocked.run([["RESET"]]);
  blocked.send(command);
  // Wait until the server counts it blocked, then push from the other connection.
  for (let i = 0; i < 500; i++) {
    const [info] = await pusher.run([["INFO", "clients"]]);
    if (/blocked_clients:1\r\n/.test(info)) break;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  const push = command[0] === "BZPOPMIN" ? ["ZADD", k, "1", "m", "2", "n"] : ["RPUSH", k, "a", "b"];
  await pusher.run([push]);
  const [reply] = await blocked.take(1);
  return { command, reply };
}
