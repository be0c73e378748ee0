/**
 * DUMP and RESTORE, with payloads in Redis's own format (`src/keyspace/rdb.ts`), so values move
 * between HyperCache and redis-server both ways.
 *
 * RESTORE takes REPLACE, ABSTTL, IDLETIME seconds (the key's idle time, under a policy that is
 * not LFU) and FREQ counter (its LFU counter, under an LFU policy), checks them in Redis 7.0's
 * order (options, then the key, then the TTL, then the payload), and logs a relative TTL as an
 * absolute one (`... ABSTTL`), so that a replay of the AOF gives the key the same expiry. A TTL
 * already past deletes what REPLACE replaced (logged as DEL) and stores nothing, as Redis does.
 *
 * @module
 */
import { createDumpPayload, DumpPayloadError, loadDumpPayload } from "../keyspace/rdb.ts";
import type { Value } from "../keyspace/values.ts";
import { parseInt64 } from "./args.ts";
import { NOT_INTEGER, ReplyError, SYNTAX } from "./errors.ts";
import type { KeyspaceEvent } from "./events.ts";
import { command, type CommandContext, type CommandSpec, KEY_ONE, withEvents } from "./types.ts";

const BUSYKEY = "BUSYKEY Target key name already exists.";
const BAD_FOOTER = "ERR DUMP payload version or checksum are wrong";
const BAD_FORMAT = "ERR Bad data format";

const LFU_POLICIES = new Set(["allkeys-lfu", "volatile-lfu"]);

function dump(ctx: CommandContext, argv: string[]): void {
  const entry = ctx.store.read(argv[1]);
  if (entry === undefined) return ctx.out.nullReply();
  ctx.out.bulk(createDumpPayload(entry.value));
}

/** An integer argument, or Redis's error for one that is not. */
function int64(text: string): bigint {
  const value = parseInt64(text);
  if (value === null) throw new ReplyError(NOT_INTEGER);
  return value;
}

function restore(ctx: CommandContext, argv: string[]): void {
  const [, key, ttlText, payload] = argv;
  let replace = false;
  let absolute = false;
  let idleSeconds = -1n;
  let frequency = -1n;
  for (let i = 4; i < argv.length; i++) {
    const option = argv[i].toUpperCase();
    const more = i + 1 < argv.length;
    if (option === "REPLACE") replace = true;
    else if (option === "ABSTTL") absolute = true;
    else if (option === "IDLETIME" && more && frequency === -1n) {
      idleSeconds = int64(argv[++i]);
      if (idleSeconds < 0n) throw new ReplyError("ERR Invalid IDLETIME value, must be >= 0");
    } else if (option === "FREQ" && more && idleSeconds === -1n) {
      frequency = int64(argv[++i]);
      if (frequency < 0n || frequency > 255n) {
        throw new ReplyError("ERR Invalid FREQ value, must be >= 0 and <= 255");
      }
    } else throw new ReplyError(SYNTAX);
  }
  const store = ctx.store;
  if (!replace && store.lookup(key, false) !== undefined) throw new ReplyError(BUSYKEY);
  const ttl = int64(ttlText);
  if (ttl < 0n) throw new ReplyError("ERR Invalid TTL value, must be >= 0");
  let value: Value;
  try {
    value = loadDumpPayload(payload);
  } catch (error) {
    if (!(error instanceof DumpPayloadError)) throw error;
    throw new ReplyError(error.kind === "footer" ? BAD_FOOTER : BAD_FORMAT);
  }
  const deleted = replace && store.delete(key);
  const now = store.now();
  // A relative TTL that overflows 64 bits comes out negative, as in Redis: already past.
  const at = ttl === 0n ? 0n : absolute ? ttl : BigInt.asIntN(64, BigInt(now) + ttl);
  if (at !== 0n && at <= BigInt(now)) {
    if (deleted) ctx.propagate(["DEL", key]);
    return ctx.out.ok();
  }
  const entry = store.set(key, value, Number(at));
  if (LFU_POLICIES.has(store.options.evictionPolicy)) {
    if (frequency >= 0n) {
      entry.access = Math.floor((now - store.epochMs) / 60_000) * 256 + Number(frequency);
    }
  } else if (idleSeconds >= 0n) {
    entry.access = now - store.epochMs - lruIdleMs(idleSeconds, now);
  }
  if (at !== 0n && !absolute) {
    const record = argv.slice();
    record[2] = String(at);
    record.push("ABSTTL");
    ctx.propagate(record);
  }
  if (typeof value !== "string" && value.type !== "set" && value.type !== "hash") {
    ctx.server.keyReady?.(store, key); // clients blocked on a list, sorted set or stream
  }
  ctx.out.ok();
}

/** Redis's LRU clock: seconds, in 24 bits. */
const LRU_CLOCK_MAX = (1 << 24) - 1;

/**
 * The idle time OBJECT IDLETIME reports right after `RESTORE ... IDLETIME seconds`, in ms. Redis
 * keeps the last access in its object's 24-bit LRU clock (seconds, wrapping every 194 days), so
 * an idle time longer than that comes out wrapped, as it does here.
 */
function lruIdleMs(idleSeconds: bigint, nowMs: number): number {
  const clock = BigInt(Math.floor(nowMs / 1000) & LRU_CLOCK_MAX);
  // idle * 1000 / 1000 in 64-bit arithmetic (it wraps for huge values, as in C).
  const idle = BigInt.asIntN(64, idleSeconds * 1000n) / 1000n;
  let at = BigInt.asIntN(64, clock - idle);
  if (at < 0n) at += BigInt(LRU_CLOCK_MAX);
  const lru = BigInt.asUintN(24, at);
  const seconds = clock >= lru ? clock - lru : clock + (BigInt(LRU_CLOCK_MAX) - lru);
  return Number(seconds) * 1000;
}

/** `restore`, or `del` when a TTL already past left the key deleted. */
const restoreEvents = (
  argv: readonly string[],
  exists: (key: string) => boolean,
): KeyspaceEvent[] => [["g", exists(argv[1]) ? "restore" : "del", argv[1]]];

export const dumpCommands: CommandSpec[] = [
  command({
    name: "dump",
    arity: 2,
    flags: ["readonly"],
    firstKey: KEY_ONE[0],
    lastKey: KEY_ONE[1],
    step: KEY_ONE[2],
    group: "generic",
    categories: ["keyspace", "read", "slow"],
    summary: "Returns a serialized representation of the value stored at a key.",
    handler: dump,
  }),
  withEvents(
    command({
      name: "restore",
      arity: -4,
      flags: ["write", "denyoom"],
      firstKey: KEY_ONE[0],
      lastKey: KEY_ONE[1],
      step: KEY_ONE[2],
      group: "generic",
      categories: ["keyspace", "write", "slow", "dangerous"],
      summary: "Creates a key from the serialized representation of a value.",
      handler: restore,
    }),
    { custom: restoreEvents },
  ),
];
