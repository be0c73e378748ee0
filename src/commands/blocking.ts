/**
 * Blocking pops: BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN, BZPOPMAX and BZMPOP. A command
 * that finds its keys empty asks the server to park the connection (`ServerHooks.block`); the
 * server runs it again when a write makes one of its keys ready (a push, a ZADD), serving waiting
 * clients in arrival order, or answers a null array (RESP3: null) when the timeout passes. Where
 * the connection cannot wait (inside MULTI, in a script, over HTTP) the null reply comes at once,
 * as in Redis.
 *
 * A pop is logged as the plain pop it amounts to (`LPOP key`, `ZPOPMIN key count`), so the AOF
 * replays the same data, and raises that pop's keyspace event on the key it took from.
 *
 * @module
 */
import type { ListValue } from "../keyspace/list.ts";
import { containerChanged } from "./_container.ts";
import { parseLongDouble } from "./_long_double.ts";
import { ReplyError, SYNTAX, WRONGTYPE } from "./errors.ts";
import { type End, lmpopFrom, moveElement, mpopArgs } from "./list.ts";
import {
  type ClientState,
  type CommandContext,
  type CommandFlag,
  type CommandSpec,
  familySpec,
  KEY_TWO,
  type KeyPositions,
  numkeysAt,
  withEvents,
} from "./types.ts";
import { moveEvents, poppedEvents } from "./events.ts";
import { firstZSet, hexFloat, popMembers, zmpopArgs, zmpopFrom } from "./zset.ts";

/** The longest wait a JS timer holds (about 24.8 days); a longer one waits until served. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const NOT_A_TIMEOUT = "ERR timeout is not a float or out of range";
const NEGATIVE_TIMEOUT = "ERR timeout is negative";

const LLONG_LIMIT = 2n ** 63n;

/** Whole ms from seconds that are a JS number (a hexadecimal float), as `msFromSeconds`. */
function msFromNumber(seconds: number): bigint {
  const ms = Math.ceil(seconds * 1000);
  if (!(ms < 2 ** 63 && ms >= -(2 ** 63))) return -1n;
  return BigInt(ms);
}

/**
 * A timeout in seconds (`text`, a long double as Redis's `string2ld` reads it) as whole ms,
 * rounded up as Redis's `ceill` does; -1 where Redis's conversion to a 64-bit integer goes
 * negative (past 2^63 ms, `inf`), and null when the text is not a float.
 */
function msFromSeconds(text: string): bigint | null {
  const hex = hexFloat(text);
  if (hex !== null) return msFromNumber(hex);
  const value = parseLongDouble(text);
  if (value === null) return null;
  if (typeof value === "number") return -1n; // inf and -inf
  if (value.mantissa === 0n) return 0n;
  const scaled = value.mantissa * 1000n;
  let ms: bigint;
  if (value.exponent >= 0) {
    if (value.exponent > 64) return -1n;
    ms = scaled << BigInt(value.exponent);
  } else {
    const shift = BigInt(-value.exponent);
    // Up for a positive value, toward zero (up) for a negative one.
    ms = value.negative ? scaled >> shift : (scaled + (1n << shift) - 1n) >> shift;
  }
  if (value.negative) ms = -ms;
  return ms >= LLONG_LIMIT || ms < -LLONG_LIMIT ? -1n : ms;
}

/**
 * The timeout argument in ms (0 = wait forever), with Redis 7.0's errors: a float in seconds,
 * rounded up to whole ms; one whose ms pass a signed 64-bit integer (`inf`, `1e30`) wraps to a
 * negative number there, so it is "negative" too.
 */
export function timeoutArg(text: string): number {
  const ms = msFromSeconds(text);
  if (ms === null) throw new ReplyError(NOT_A_TIMEOUT);
  if (ms < 0n) throw new ReplyError(NEGATIVE_TIMEOUT);
  return ms > BigInt(MAX_TIMER_MS) ? 0 : Number(ms);
}

/** The timeout in ms of a blocking command whose last argument it is, or null when invalid. */
function lastArgTimeout(argv: readonly string[]): number | null {
  try {
    return timeoutArg(argv[argv.length - 1]);
  } catch {
    return null;
  }
}

/** The same for BLMPOP and BZMPOP, whose timeout is argv[1]. */
function firstArgTimeout(argv: readonly string[]): number | null {
  try {
    return timeoutArg(argv[1]);
  } catch {
    return null;
  }
}

/** Blocked commands run again when woken: the argv each client was parked with. */
const parkedArgv = new WeakMap<ClientState, readonly string[]>();

/**
 * Whether this call is a parked command run again after a wake-up. Redis serves a blocked client
 * only from a key of the type it waits for, so then a key of another type is passed over rather
 * than answered with WRONGTYPE.
 */
function isRetry(ctx: CommandContext, argv: readonly string[]): boolean {
  const parked = parkedArgv.get(ctx.client);
  if (parked === undefined) return false;
  parkedArgv.delete(ctx.client);
  if (parked === argv) return true;
  // A command forwarded from another node is parked with a copy of its argv.
  return ctx.client.parkable === true && parked.length === argv.length &&
    parked.every((arg, i) => arg === argv[i]);
}

/** Parks the connection, or answers with `none` (the null array) when it cannot wait. */
function blockOrNull(
  ctx: CommandContext,
  argv: string[],
  keys: string[],
  timeoutMs: number,
  none: () => void = () => ctx.out.nullArray(),
): void {
  if (
    !ctx.transaction.executing && ctx.server.block?.(ctx.client, keys, timeoutMs, argv) === true
  ) {
    parkedArgv.set(ctx.client, argv);
    return;
  }
  none();
}

function bpop(end: End) {
  return (ctx: CommandContext, argv: string[]): void => {
    const timeoutMs = timeoutArg(argv[argv.length - 1]);
    const keys = argv.slice(1, -1);
    const retry = isRetry(ctx, argv);
    for (const key of keys) {
      const entry = ctx.store.lookup(key);
      if (entry === undefined) continue;
      if (typeof entry.value === "string" || entry.value.type !== "list") {
        if (retry) continue;
        throw new ReplyError(WRONGTYPE);
      }
      const list = entry.value as ListValue;
      const value = end === "left" ? list.popFront()! : list.popBack()!;
      containerChanged(ctx.store, entry);
      ctx.propagate([end === "left" ? "LPOP" : "RPOP", key]);
      ctx.out.arrayHeader(2);
      ctx.out.bulk(key);
      ctx.out.bulk(value);
      return;
    }
    blockOrNull(ctx, argv, keys, timeoutMs);
  };
}

function endArg(text: string): End {
  const upper = text.toUpperCase();
  if (upper === "LEFT") return "left";
  if (upper === "RIGHT") return "right";
  throw new ReplyError(SYNTAX);
}

function bmove(
  ctx: CommandContext,
  argv: string[],
  source: string,
  destination: string,
  from: End,
  to: End,
  timeoutText: string,
): void {
  const timeoutMs = timeoutArg(timeoutText);
  const retry = isRetry(ctx, argv);
  const found = ctx.store.lookup(source);
  // Woken, and the source is not a list (yet): it keeps waiting, as in Redis.
  const otherType = found !== undefined &&
    (typeof found.value === "string" || found.value.type !== "list");
  const value = retry && otherType ? null : moveElement(ctx, source, destination, from, to);
  if (value !== null) {
    ctx.propagate(["LMOVE", source, destination, from.toUpperCase(), to.toUpperCase()]);
    ctx.out.bulk(value);
    return;
  }
  blockOrNull(ctx, argv, [source], timeoutMs, () => ctx.out.nullReply());
}

/** BZPOPMIN and BZPOPMAX: one member from the first non-empty key, as `key member score`. */
function bzpop(max: boolean) {
  return (ctx: CommandContext, argv: string[]): void => {
    const timeoutMs = timeoutArg(argv[argv.length - 1]);
    const keys = argv.slice(1, -1);
    const found = firstZSet(ctx.store, keys, isRetry(ctx, argv));
    if (found === null) return blockOrNull(ctx, argv, keys, timeoutMs);
    const [key, entry] = found;
    const [node] = popMembers(ctx, entry, max, 1);
    ctx.propagate([max ? "ZPOPMAX" : "ZPOPMIN", key]);
    ctx.out.arrayHeader(3);
    ctx.out.bulk(key);
    ctx.out.bulk(node.member);
    ctx.out.double(node.score);
  };
}

/** BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]. */
function bzmpop(ctx: CommandContext, argv: string[]): void {
  const { keys, max, count } = zmpopArgs(argv, 2);
  const timeoutMs = timeoutArg(argv[1]);
  if (zmpopFrom(ctx, keys, max, count, isRetry(ctx, argv))) return;
  blockOrNull(ctx, argv, keys, timeoutMs);
}

/** BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]. */
function blmpop(ctx: CommandContext, argv: string[]): void {
  const { keys, where, count } = mpopArgs(argv, 2, "LEFT", "RIGHT");
  const timeoutMs = timeoutArg(argv[1]);
  const end = where === "LEFT" ? "left" : "right";
  if (lmpopFrom(ctx, keys, end, count, isRetry(ctx, argv))) return;
  blockOrNull(ctx, argv, keys, timeoutMs);
}

const listSpec = familySpec("list");
const zsetSpec = familySpec("sorted-set");
/** The keys of BLPOP and BRPOP: every argument but the name and the timeout. */
const KEYS_BEFORE_TIMEOUT: KeyPositions = [1, -2, 1];
const POP: CommandFlag[] = ["write", "noscript", "blocking"];
const ZPOP: CommandFlag[] = ["write", "noscript", "blocking", "fast"];
/** BLMPOP and BZMPOP run in scripts (without waiting), as Redis lets them. */
const MPOP: CommandFlag[] = ["write", "blocking"];
const MOVE: CommandFlag[] = ["write", "denyoom", "noscript", "blocking"];
const MOVE_SUMMARY =
  "Pops an element from a list, pushes it to another list and returns it; blocks while the source is empty.";

export const blockingCommands: CommandSpec[] = [
  {
    ...withEvents(
      listSpec(
        "blpop",
        -3,
        POP,
        KEYS_BEFORE_TIMEOUT,
        "Removes and returns the first element of the first non-empty list, or blocks until one is available.",
        bpop("left"),
      ),
      { custom: poppedEvents("l") },
    ),
    blockTimeoutMs: lastArgTimeout,
  },
  {
    ...withEvents(
      listSpec(
        "brpop",
        -3,
        POP,
        KEYS_BEFORE_TIMEOUT,
        "Removes and returns the last element of the first non-empty list, or blocks until one is available.",
        bpop("right"),
      ),
      { custom: poppedEvents("l") },
    ),
    blockTimeoutMs: lastArgTimeout,
  },
  {
    ...withEvents(
      listSpec(
        "blmove",
        6,
        MOVE,
        KEY_TWO,
        MOVE_SUMMARY,
        (ctx, argv) =>
          bmove(ctx, argv, argv[1], argv[2], endArg(argv[3]), endArg(argv[4]), argv[5]),
      ),
      { custom: moveEvents(false) },
    ),
    timeoutReply: "null-bulk",
    blockTimeoutMs: lastArgTimeout,
  },
  {
    ...withEvents(
      listSpec(
        "brpoplpush",
        4,
        MOVE,
        KEY_TWO,
        MOVE_SUMMARY,
        (ctx, argv) => bmove(ctx, argv, argv[1], argv[2], "right", "left", argv[3]),
      ),
      { custom: moveEvents(true) },
    ),
    timeoutReply: "null-bulk",
    blockTimeoutMs: lastArgTimeout,
  },
  {
    ...withEvents(
      listSpec(
        "blmpop",
        -5,
        MPOP,
        [0, 0, 0],
        "Pops elements from the first non-empty list, or blocks until one is available. Deletes the list if the last element was popped.",
        blmpop,
      ),
      { custom: poppedEvents("l") },
    ),
    keyFinder: numkeysAt(2),
    blockTimeoutMs: firstArgTimeout,
  },
  {
    ...withEvents(
      zsetSpec(
        "bzpopmin",
        -3,
        ZPOP,
        KEYS_BEFORE_TIMEOUT,
        "Removes and returns the member with the lowest score from the first non-empty sorted set, or blocks until one is available.",
        bzpop(false),
      ),
      { custom: poppedEvents("z") },
    ),
    blockTimeoutMs: lastArgTimeout,
  },
  {
    ...withEvents(
      zsetSpec(
        "bzpopmax",
        -3,
        ZPOP,
        KEYS_BEFORE_TIMEOUT,
        "Removes and returns the member with the highest score from the first non-empty sorted set, or blocks until one is available.",
        bzpop(true),
      ),
      { custom: poppedEvents("z") },
    ),
    blockTimeoutMs: lastArgTimeout,
  },
  {
    ...withEvents(
      zsetSpec(
        "bzmpop",
        -5,
        MPOP,
        [0, 0, 0],
        "Removes and returns the lowest or highest-scoring members of the first non-empty sorted set, or blocks until one is available. Deletes the sorted set if the last member was popped.",
        bzmpop,
      ),
      { custom: poppedEvents("z") },
    ),
    keyFinder: numkeysAt(2),
    blockTimeoutMs: firstArgTimeout,
  },
];
