/**
 * Sorted set commands, on `ZSetValue` (a chunked sorted list: ranks in O(log n)).
 *
 * @module
 */
import { scanPositions } from "./_cursor.ts";
import type { ZItem } from "../keyspace/zset.ts";
import type { PrefixTest } from "../keyspace/sorted_list.ts";
import type { Entry, Store } from "../keyspace/store.ts";
import { ZSetValue } from "../keyspace/zset.ts";
import { SetValue } from "../keyspace/set.ts";
import { formatDouble } from "../resp/writer.ts";
import {
  containerChanged,
  containerEntry,
  containerEntryOrCreate,
  parseScanArgs,
  scanReply,
} from "./_container.ts";
import { globMatch } from "./glob.ts";
import { parseDouble, parseInt64, rangeOf } from "./args.ts";
import { NOT_FLOAT, NOT_INTEGER, ReplyError, SYNTAX, WRONGTYPE } from "./errors.ts";
import { int64Arg } from "./strings.ts";
import {
  type CommandContext,
  type CommandSpec,
  familySpec,
  KEY_ONE,
  KEY_TWO,
  numkeysAt,
  oneKeySpec,
  withEvents,
} from "./types.ts";
import { poppedEvents, zaddEvents } from "./events.ts";
import { mpopArgs } from "./list.ts";

const LONG_MAX = 2n ** 63n - 1n;
const NOT_RANGE_FLOAT = "ERR min or max is not a float";
const NAN_SCORE = "ERR resulting score is not a number (NaN)";

function readZSet(store: Store, key: string): ZSetValue | undefined {
  return containerEntry(store, key, "zset")?.value as ZSetValue | undefined;
}

const HEX_FLOAT = /^([+-]?)0x([0-9a-f]*)(?:\.([0-9a-f]*))?(?:p([+-]?\d+))?$/i;

/** A hexadecimal float as C's `strtod` reads it (`0x1.8p1` is 3), or null. */
export function hexFloat(text: string): number | null {
  const match = HEX_FLOAT.exec(text);
  if (match === null) return null;
  const [, sign, whole, fraction = "", exponentText = "0"] = match;
  if (whole === "" && fraction === "") return null;
  let value = Number(BigInt(`0x${whole + fraction || "0"}`));
  let exponent = Number(exponentText) - 4 * fraction.length;
  // In steps, so that a large mantissa with a small exponent neither overflows nor underflows.
  while (exponent > 0 && Number.isFinite(value) && value !== 0) {
    const step = Math.min(exponent, 1000);
    value *= 2 ** step;
    exponent -= step;
  }
  while (exponent < 0 && value !== 0) {
    const step = Math.min(-exponent, 1000);
    value /= 2 ** step;
    exponent += step;
  }
  return sign === "-" ? -value : value;
}

/**
 * A double as Redis's `getDoubleFromObject` reads it (ZADD's scores, ZINCRBY's increment,
 * WEIGHTS): C's `strtod` over the whole text, with no leading space, no NaN, and no overflow to
 * infinity or underflow to zero (`inf` itself is fine); hexadecimal floats included.
 */
export function strictDouble(text: string): number | null {
  if (text.length === 0) return null;
  const hex = hexFloat(text);
  if (hex !== null) return hex;
  const value = parseDouble(text);
  if (value === null || Number.isNaN(value)) return null;
  if (!Number.isFinite(value)) return /^[+-]?inf(inity)?$/i.test(text) ? value : null;
  if (value === 0 && /[1-9]/.test(text.replace(/e.*$/i, ""))) return null;
  return value;
}

/** A score or increment, with Redis's error. */
function scoreArg(text: string): number {
  const value = strictDouble(text);
  if (value === null) throw new ReplyError(NOT_FLOAT);
  return value;
}

interface ScoreRange {
  min: number;
  max: number;
  minExclusive: boolean;
  maxExclusive: boolean;
}

function parseScoreBound(text: string): { value: number; exclusive: boolean } {
  const exclusive = text.startsWith("(");
  const rest = exclusive ? text.slice(1) : text;
  const value = exclusive && rest === "" ? 0 : parseDouble(rest);
  if (value === null) throw new ReplyError(NOT_RANGE_FLOAT);
  return { value, exclusive };
}

function parseScoreRange(minText: string, maxText: string): ScoreRange {
  const min = parseScoreBound(minText);
  const max = parseScoreBound(maxText);
  return {
    min: min.value,
    max: max.value,
    minExclusive: min.exclusive,
    maxExclusive: max.exclusive,
  };
}

const aboveMin = (r: ScoreRange, score: number) => r.minExclusive ? score > r.min : score >= r.min;
const belowMax = (r: ScoreRange, score: number) => r.maxExclusive ? score < r.max : score <= r.max;

/** A lex bound: `-`, `+`, `[x` or `(x`. */
interface LexBound {
  kind: "-" | "+" | "[" | "(";
  value: string;
}

function parseLexBound(text: string): LexBound {
  if ((text === "-" || text === "+")) return { kind: text, value: "" };
  if (text[0] === "[" || text[0] === "(") return { kind: text[0], value: text.slice(1) };
  throw new ReplyError("ERR min or max not valid string range item");
}

function lexAboveMin(bound: LexBound, member: string): boolean {
  if (bound.kind === "-") return true;
  if (bound.kind === "+") return false;
  return bound.kind === "[" ? member >= bound.value : member > bound.value;
}

function lexBelowMax(bound: LexBound, member: string): boolean {
  if (bound.kind === "+") return true;
  if (bound.kind === "-") return false;
  return bound.kind === "[" ? member <= bound.value : member < bound.value;
}

/** Writes members (and scores) the way ZRANGE does in RESP2 and RESP3. */
function rangeReply(ctx: CommandContext, nodes: ZItem[], withScores: boolean): void {
  const out = ctx.out;
  const pairs = withScores && out.protocol === 3;
  out.arrayHeader(withScores && !pairs ? nodes.length * 2 : nodes.length);
  for (const node of nodes) {
    if (pairs) out.arrayHeader(2);
    out.bulk(node.member);
    if (withScores) out.double(node.score);
  }
}

function nodesByRank(zset: ZSetValue, start: number, end: number, reverse: boolean): ZItem[] {
  const nodes: ZItem[] = [];
  const count = end - start + 1;
  if (count <= 0) return nodes;
  zset.list.walk(reverse ? zset.length - 1 - start : start, reverse, (score, member) => {
    nodes.push({ member, score });
    return nodes.length < count;
  });
  return nodes;
}

/** Nodes within a score or lex range, in order or reversed, after `offset`, at most `limit`. */
function nodesInRange(
  zset: ZSetValue,
  above: PrefixTest,
  below: PrefixTest,
  reverse: boolean,
  offset: number,
  limit: number,
): ZItem[] {
  const nodes: ZItem[] = [];
  if (offset < 0 || (offset > 0 && offset >= zset.length)) return nodes;
  // `below` holds for a prefix of the order, `above` for a suffix.
  const position = reverse
    ? zset.list.countWhile(below) - 1
    : zset.list.countWhile((score, member) => !above(score, member));
  zset.list.walk(position, reverse, (score, member) => {
    if (!(reverse ? above(score, member) : below(score, member))) return false;
    if (offset > 0) {
      offset--;
      return true;
    }
    if (limit >= 0 && nodes.length >= limit) return false;
    nodes.push({ member, score });
    return true;
  });
  return nodes;
}

type RangeType = "rank" | "score" | "lex";

interface RangeRequest {
  type: RangeType;
  reverse: boolean;
  withScores: boolean;
  offset: number;
  limit: number;
}

/**
 * ZRANGE and its older forms; `fixed` presets what the command name implies. With `store`
 * (ZRANGESTORE) the arguments start one later, after the destination, and the range is stored
 * there instead of returned.
 */
function zrangeGeneric(fixed: { type?: RangeType; reverse?: boolean }, store = false) {
  return (ctx: CommandContext, argv: string[]): void => {
    const at = store ? 1 : 0;
    const request: RangeRequest = {
      type: fixed.type ?? "rank",
      reverse: fixed.reverse ?? false,
      withScores: false,
      offset: 0,
      limit: -1,
    };
    let typeSet = fixed.type !== undefined;
    let directionSet = fixed.reverse !== undefined;
    for (let i = at + 4; i < argv.length; i++) {
      const option = argv[i].toUpperCase();
      if (option === "WITHSCORES" && !store) request.withScores = true;
      else if (option === "LIMIT" && argv.length - i - 1 >= 2) {
        request.offset = Number(int64Arg(argv[i + 1]));
        request.limit = Number(int64Arg(argv[i + 2]));
        i += 2;
      } else if (option === "REV" && !directionSet) {
        request.reverse = true;
        directionSet = true;
      } else if ((option === "BYSCORE" || option === "BYLEX") && !typeSet) {
        request.type = option === "BYSCORE" ? "score" : "lex";
        typeSet = true;
      } else throw new ReplyError(SYNTAX);
    }
    // As in Redis, `LIMIT offset -1` (no limit) passes with a rank range.
    if (request.limit !== -1 && request.type === "rank") {
      throw new ReplyError(
        "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
      );
    }
    if (request.withScores && request.type === "lex") {
      throw new ReplyError("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
    }
    let [minText, maxText] = [argv[at + 2], argv[at + 3]];
    if (request.reverse && request.type !== "rank") [minText, maxText] = [maxText, minText];
    let select: (zset: ZSetValue) => ZItem[];
    if (request.type === "rank") {
      const start = Number(int64Arg(minText));
      const end = Number(int64Arg(maxText));
      select = (zset) => {
        const range = rangeOf(start, end, zset.length);
        return range === null ? [] : nodesByRank(zset, range[0], range[1], request.reverse);
      };
    } else if (request.type === "score") {
      const range = parseScoreRange(minText, maxText);
      select = (zset) =>
        nodesInRange(
          zset,
          (score) => aboveMin(range, score),
          (score) => belowMax(range, score),
          request.reverse,
          request.offset,
          request.limit,
        );
    } else {
      const min = parseLexBound(minText);
      const max = parseLexBound(maxText);
      select = (zset) =>
        nodesInRange(
          zset,
          (_score, member) => lexAboveMin(min, member),
          (_score, member) => lexBelowMax(max, member),
          request.reverse,
          request.offset,
          request.limit,
        );
    }
    const zset = readZSet(ctx.store, argv[at + 1]);
    const nodes = zset === undefined ? [] : select(zset);
    if (store) storeResult(ctx, argv[1], nodes);
    else rangeReply(ctx, nodes, request.withScores);
  };
}

/**
 * Replaces `destination` with a sorted set of `nodes` (ZRANGESTORE, ZUNIONSTORE, ...), or
 * deletes it when there are none, and replies with their number. The key drops any time to
 * live, as Redis's `setKey` does; a new sorted set wakes clients blocked on the key.
 */
function storeResult(ctx: CommandContext, destination: string, nodes: readonly ZItem[]): void {
  const store = ctx.store;
  if (nodes.length > 0) {
    const zset = new ZSetValue();
    for (const node of nodes) zset.set(node.member, node.score);
    store.set(destination, zset, 0);
    ctx.server.keyReady?.(store, destination);
  } else store.delete(destination);
  ctx.out.integer(nodes.length);
}

function zadd(ctx: CommandContext, argv: string[]): void {
  let nx = false, xx = false, gt = false, lt = false, ch = false, incr = false;
  let at = 2;
  for (; at < argv.length; at++) {
    const option = argv[at].toUpperCase();
    if (option === "NX") nx = true;
    else if (option === "XX") xx = true;
    else if (option === "GT") gt = true;
    else if (option === "LT") lt = true;
    else if (option === "CH") ch = true;
    else if (option === "INCR") incr = true;
    else break;
  }
  const elements = argv.length - at;
  if (elements === 0 || elements % 2 !== 0) throw new ReplyError(SYNTAX);
  if (nx && xx) {
    throw new ReplyError("ERR XX and NX options at the same time are not compatible");
  }
  if ((gt && nx) || (lt && nx) || (gt && lt)) {
    throw new ReplyError("ERR GT, LT, and/or NX options at the same time are not compatible");
  }
  if (incr && elements > 2) {
    throw new ReplyError("ERR INCR option supports a single increment-element pair");
  }
  const scores: number[] = [];
  for (let i = at; i < argv.length; i += 2) scores.push(scoreArg(argv[i]));
  const store = ctx.store;
  let entry = containerEntry(store, argv[1], "zset");
  if (entry === undefined) {
    if (xx) return incr ? ctx.out.nullReply() : ctx.out.integer(0);
    entry = store.set(argv[1], new ZSetValue(), 0);
  }
  const zset = entry.value as ZSetValue;
  let added = 0, updated = 0;
  let result: number | null = null;
  try {
    for (let j = 0; j < scores.length; j++) {
      const member = argv[at + 2 * j + 1];
      let score = scores[j];
      const current = zset.score(member);
      if (current === undefined) {
        if (xx) continue;
        zset.set(member, score);
        added++;
        result = score;
        continue;
      }
      if (nx) continue;
      if (incr) {
        score += current;
        if (Number.isNaN(score)) throw new ReplyError(NAN_SCORE);
      }
      if ((lt && score >= current) || (gt && score <= current)) continue;
      result = score;
      if (score !== current) {
        zset.set(member, score);
        updated++;
      }
    }
  } finally {
    containerChanged(store, entry);
  }
  // Clients blocked on the key (BZPOPMIN, BZMPOP) are served after this command.
  if (zset.length > 0) ctx.server.keyReady?.(store, argv[1]);
  if (incr) {
    if (result === null) ctx.out.nullReply();
    else ctx.out.double(result);
  } else ctx.out.integer(ch ? added + updated : added);
}

function zincrby(ctx: CommandContext, argv: string[]): void {
  const [, key, incrementText, member] = argv;
  const increment = scoreArg(incrementText);
  const entry = containerEntryOrCreate(ctx.store, key, "zset", () => new ZSetValue());
  const zset = entry.value as ZSetValue;
  const current = zset.score(member);
  // A new member's score is the increment itself (-0 stays -0 in the reply, as in Redis).
  const score = current === undefined ? increment : current + increment;
  if (Number.isNaN(score)) {
    containerChanged(ctx.store, entry);
    throw new ReplyError(NAN_SCORE);
  }
  zset.set(member, score);
  containerChanged(ctx.store, entry);
  ctx.server.keyReady?.(ctx.store, key);
  ctx.out.double(score);
}

function zrem(ctx: CommandContext, argv: string[]): void {
  const entry = containerEntry(ctx.store, argv[1], "zset");
  if (entry === undefined) return ctx.out.integer(0);
  const zset = entry.value as ZSetValue;
  let removed = 0;
  for (let i = 2; i < argv.length && zset.length > 0; i++) if (zset.delete(argv[i])) removed++;
  if (removed > 0) containerChanged(ctx.store, entry);
  ctx.out.integer(removed);
}

function zscore(ctx: CommandContext, argv: string[]): void {
  const score = readZSet(ctx.store, argv[1])?.score(argv[2]);
  if (score === undefined) ctx.out.nullReply();
  else ctx.out.double(score);
}

function zmscore(ctx: CommandContext, argv: string[]): void {
  const zset = readZSet(ctx.store, argv[1]);
  ctx.out.arrayHeader(argv.length - 2);
  for (let i = 2; i < argv.length; i++) {
    const score = zset?.score(argv[i]);
    if (score === undefined) ctx.out.nullReply();
    else ctx.out.double(score);
  }
}

function zcard(ctx: CommandContext, argv: string[]): void {
  ctx.out.integer(readZSet(ctx.store, argv[1])?.length ?? 0);
}

function zcount(ctx: CommandContext, argv: string[]): void {
  const range = parseScoreRange(argv[2], argv[3]);
  const zset = readZSet(ctx.store, argv[1]);
  if (zset === undefined) return ctx.out.integer(0);
  const first = zset.list.countWhile((score) => !aboveMin(range, score));
  const end = zset.list.countWhile((score) => belowMax(range, score));
  ctx.out.integer(Math.max(0, end - first));
}

function zrankGeneric(reverse: boolean) {
  return (ctx: CommandContext, argv: string[]): void => {
    const zset = readZSet(ctx.store, argv[1]);
    const rank = zset?.rank(argv[2]) ?? -1;
    if (rank === -1) return ctx.out.nullReply();
    ctx.out.integer(reverse ? zset!.length - 1 - rank : rank);
  };
}

function removeNodes(ctx: CommandContext, key: string, select: (zset: ZSetValue) => ZItem[]) {
  const entry = containerEntry(ctx.store, key, "zset");
  if (entry === undefined) return ctx.out.integer(0);
  const zset = entry.value as ZSetValue;
  const members = select(zset).map((node) => node.member);
  for (const member of members) zset.delete(member);
  if (members.length > 0) containerChanged(ctx.store, entry);
  ctx.out.integer(members.length);
}

function zremrangebyscore(ctx: CommandContext, argv: string[]): void {
  const range = parseScoreRange(argv[2], argv[3]);
  removeNodes(ctx, argv[1], (zset) =>
    nodesInRange(
      zset,
      (score) => aboveMin(range, score),
      (score) => belowMax(range, score),
      false,
      0,
      -1,
    ));
}

function zremrangebyrank(ctx: CommandContext, argv: string[]): void {
  const start = Number(int64Arg(argv[2]));
  const end = Number(int64Arg(argv[3]));
  removeNodes(ctx, argv[1], (zset) => {
    const range = rangeOf(start, end, zset.length);
    return range === null ? [] : nodesByRank(zset, range[0], range[1], false);
  });
}

function zpopGeneric(max: boolean) {
  return (ctx: CommandContext, argv: string[]): void => {
    if (argv.length > 3) throw new ReplyError(SYNTAX);
    let count = -1;
    if (argv.length === 3) {
      const value = parseInt64(argv[2]);
      if (value === null || value < 0n || value > LONG_MAX) {
        throw new ReplyError("ERR value is out of range, must be positive");
      }
      count = Number(value);
    }
    const entry = containerEntry(ctx.store, argv[1], "zset");
    if (entry === undefined || count === 0) return ctx.out.arrayHeader(0);
    const zset = entry.value as ZSetValue;
    const nested = ctx.out.protocol === 3 && count !== -1;
    const take = Math.min(count === -1 ? 1 : count, zset.length);
    const nodes = max
      ? nodesByRank(zset, 0, take - 1, true)
      : nodesByRank(zset, 0, take - 1, false);
    const popped = nodes.map((node) => ({ member: node.member, score: node.score }));
    for (const { member } of popped) zset.delete(member);
    containerChanged(ctx.store, entry);
    ctx.out.arrayHeader(nested ? popped.length : popped.length * 2);
    for (const { member, score } of popped) {
      if (nested) ctx.out.arrayHeader(2);
      ctx.out.bulk(member);
      ctx.out.double(score);
    }
  };
}

/**
 * Pops up to `count` members from the lowest (or, with `max`, the highest) end of the sorted
 * set at `entry`, deleting the key once it is empty.
 */
export function popMembers(
  ctx: CommandContext,
  entry: Entry,
  max: boolean,
  count: number,
): ZItem[] {
  const zset = entry.value as ZSetValue;
  const take = Math.min(count, zset.length);
  const nodes = nodesByRank(zset, 0, take - 1, max);
  for (const { member } of nodes) zset.delete(member);
  containerChanged(ctx.store, entry);
  return nodes;
}

/**
 * The first key of `keys` that holds a sorted set, with its entry; WRONGTYPE at the first key of
 * another type before it, unless `skipOthers` (a blocked command run again: Redis serves it
 * only from a key of its own type, and keeps it waiting otherwise).
 */
export function firstZSet(
  store: Store,
  keys: readonly string[],
  skipOthers = false,
): [string, Entry] | null {
  for (const key of keys) {
    const entry = store.lookup(key);
    if (entry === undefined) continue;
    if (typeof entry.value === "string" || entry.value.type !== "zset") {
      if (skipOthers) continue;
      throw new ReplyError(WRONGTYPE);
    }
    return [key, entry];
  }
  return null;
}

/**
 * The reply of ZMPOP and BZMPOP: the key, then its members with scores, as pairs (scores are
 * bulk strings in RESP2, doubles in RESP3).
 */
export function mpopReply(ctx: CommandContext, key: string, nodes: readonly ZItem[]): void {
  const out = ctx.out;
  out.arrayHeader(2);
  out.bulk(key);
  out.arrayHeader(nodes.length);
  for (const node of nodes) {
    out.arrayHeader(2);
    out.bulk(node.member);
    out.double(node.score);
  }
}

/**
 * Pops from the first non-empty sorted set of ZMPOP's or BZMPOP's keys, logged as the
 * `ZPOPMIN key count` (or ZPOPMAX) it amounts to; false when every key is empty.
 */
export function zmpopFrom(
  ctx: CommandContext,
  keys: readonly string[],
  max: boolean,
  count: number,
  skipOthers = false,
): boolean {
  const found = firstZSet(ctx.store, keys, skipOthers);
  if (found === null) return false;
  const [key, entry] = found;
  const nodes = popMembers(ctx, entry, max, count === -1 ? 1 : count);
  ctx.propagate([max ? "ZPOPMAX" : "ZPOPMIN", key, String(count === -1 ? 1 : count)]);
  mpopReply(ctx, key, nodes);
  return true;
}

/** ZMPOP's and BZMPOP's arguments from `numkeys` at `at`: keys, MIN or MAX, and COUNT. */
export function zmpopArgs(argv: readonly string[], at: number) {
  const { keys, where, count } = mpopArgs(argv, at, "MIN", "MAX");
  return { keys, max: where === "MAX", count };
}

function zmpop(ctx: CommandContext, argv: string[]): void {
  const { keys, max, count } = zmpopArgs(argv, 1);
  if (!zmpopFrom(ctx, keys, max, count)) ctx.out.nullArray();
}

type SetOp = "union" | "inter" | "diff";
type Aggregate = "sum" | "min" | "max";

/** One input of ZUNION, ZINTER and ZDIFF: a sorted set, or a plain set (every score 1). */
interface Source {
  readonly size: number;
  readonly weight: number;
  /** Same for the same key given twice. */
  readonly value: ZSetValue | SetValue | null;
}

function sourceItems(source: Source): [string, number][] {
  const value = source.value;
  if (value === null) return [];
  if (value instanceof SetValue) return value.members.keys.map((member) => [member, 1]);
  const { keys, values } = value.scores;
  return keys.map((member, i) => [member, values[i]]);
}

function sourceScore(source: Source, member: string): number | undefined {
  const value = source.value;
  if (value === null) return undefined;
  if (value instanceof SetValue) return value.has(member) ? 1 : undefined;
  return value.score(member);
}

/** Redis's aggregation of two scores: a NaN sum (`inf + -inf`) is 0. */
function aggregate(how: Aggregate, target: number, value: number): number {
  if (how === "sum") {
    const sum = target + value;
    return Number.isNaN(sum) ? 0 : sum;
  }
  if (how === "min") return value < target ? value : target;
  return value > target ? value : target;
}

/** A weight as Redis's `getDoubleFromObject` reads it. */
function weightArg(text: string): number {
  const value = strictDouble(text);
  if (value === null) throw new ReplyError("ERR weight value is not a float");
  return value;
}

/** A count as Redis's `getRangeLongFromObjectOrReply` reads it, from `min` up to LONG_MAX. */
function longAtLeast(text: string, min: bigint, message: string): number {
  const value = parseInt64(text);
  if (value === null || value < min) throw new ReplyError(message);
  return Number(value);
}

/**
 * ZUNION, ZINTER, ZDIFF, their STORE forms (`store`: the destination at argv[1]) and
 * ZINTERCARD (`cardinality`), with Redis's order of checks: the count, the keys' types, then
 * the options (WEIGHTS and AGGREGATE but for ZDIFF, WITHSCORES without a destination, LIMIT for
 * ZINTERCARD). Inputs go smallest first for union and intersection, as Redis orders them, so
 * sums add up in Redis's order.
 */
function zsetOperation(op: SetOp, store: boolean, cardinality = false) {
  return (ctx: CommandContext, argv: string[]): void => {
    const at = store ? 2 : 1;
    const numkeys = parseInt64(argv[at]);
    if (numkeys === null) throw new ReplyError(NOT_INTEGER);
    if (numkeys < 1n) {
      throw new ReplyError(
        `ERR at least 1 input key is needed for '${argv[0].toLowerCase()}' command`,
      );
    }
    if (numkeys > BigInt(argv.length - at - 1)) throw new ReplyError(SYNTAX);
    const count = Number(numkeys);
    const values: (ZSetValue | SetValue | null)[] = [];
    for (let i = 0; i < count; i++) {
      const entry = ctx.store.lookup(argv[at + 1 + i]);
      if (entry === undefined) {
        values.push(null);
        continue;
      }
      const value = entry.value;
      if (typeof value === "string" || (value.type !== "zset" && value.type !== "set")) {
        throw new ReplyError(WRONGTYPE);
      }
      values.push(value as ZSetValue | SetValue);
    }
    const weights = values.map(() => 1);
    let how: Aggregate = "sum";
    let withScores = false;
    let limit = 0;
    const options = !cardinality && op !== "diff";
    for (let j = at + 1 + count; j < argv.length;) {
      const remaining = argv.length - j;
      const option = argv[j].toUpperCase();
      if (options && option === "WEIGHTS" && remaining >= count + 1) {
        for (let i = 0; i < count; i++) weights[i] = weightArg(argv[j + 1 + i]);
        j += count + 1;
      } else if (options && option === "AGGREGATE" && remaining >= 2) {
        const name = argv[j + 1].toUpperCase();
        if (name === "SUM") how = "sum";
        else if (name === "MIN") how = "min";
        else if (name === "MAX") how = "max";
        else throw new ReplyError(SYNTAX);
        j += 2;
      } else if (!store && !cardinality && option === "WITHSCORES") {
        withScores = true;
        j++;
      } else if (cardinality && option === "LIMIT" && remaining >= 2) {
        limit = longAtLeast(argv[j + 1], 0n, "ERR LIMIT can't be negative");
        j += 2;
      } else throw new ReplyError(SYNTAX);
    }
    const sources: Source[] = values.map((value, i) => ({
      size: value?.length ?? 0,
      weight: weights[i],
      value,
    }));
    if (op !== "diff") sources.sort((a, b) => a.size - b.size);
    const result = combineSources(op, sources, how, cardinality ? limit : -1);
    if (cardinality) return ctx.out.integer(result.size);
    const nodes = [...result].map(([member, score]) => ({ member, score }));
    nodes.sort((a, b) =>
      a.score < b.score ? -1 : a.score > b.score ? 1 : a.member < b.member ? -1 : 1
    );
    if (store) storeResult(ctx, argv[1], nodes);
    else rangeReply(ctx, nodes, withScores);
  };
}

/** The members of the operation with their scores; for ZINTERCARD, stops at `limit` (> 0). */
function combineSources(
  op: SetOp,
  sources: readonly Source[],
  how: Aggregate,
  limit: number,
): Map<string, number> {
  const result = new Map<string, number>();
  const [first, ...others] = sources;
  if (op === "union") {
    for (const source of sources) {
      for (const [member, score] of sourceItems(source)) {
        let weighted = source.weight * score;
        if (Number.isNaN(weighted)) weighted = 0;
        const current = result.get(member);
        result.set(member, current === undefined ? weighted : aggregate(how, current, weighted));
      }
    }
    return result;
  }
  if (first.size === 0) return result;
  for (const [member, score] of sourceItems(first)) {
    if (op === "diff") {
      if (others.every((other) => sourceScore(other, member) === undefined)) {
        result.set(member, score);
      }
      continue;
    }
    let total = first.weight * score;
    if (Number.isNaN(total)) total = 0;
    let everywhere = true;
    for (const other of others) {
      const found = sourceScore(other, member);
      if (found === undefined) {
        everywhere = false;
        break;
      }
      total = aggregate(how, total, found * other.weight);
    }
    if (!everywhere) continue;
    result.set(member, total);
    if (limit > 0 && result.size >= limit) break;
  }
  return result;
}

/** ZLEXCOUNT. */
function zlexcount(ctx: CommandContext, argv: string[]): void {
  const min = parseLexBound(argv[2]);
  const max = parseLexBound(argv[3]);
  const zset = readZSet(ctx.store, argv[1]);
  if (zset === undefined) return ctx.out.integer(0);
  const first = zset.list.countWhile((_score, member) => !lexAboveMin(min, member));
  const end = zset.list.countWhile((_score, member) => lexBelowMax(max, member));
  ctx.out.integer(Math.max(0, end - first));
}

/** Redis 7.0 returns a small (listpack) sorted set whole, in rank order, with cursor 0. */
function zscan(ctx: CommandContext, argv: string[]): void {
  const options = parseScanArgs(argv, 3, false);
  const zset = readZSet(ctx.store, argv[1]);
  if (zset === undefined) return scanReply(ctx.out, 0, []);
  let pairs: [string, number][];
  let next = 0;
  if (zset.encoding() === "listpack") {
    pairs = nodesByRank(zset, 0, zset.length - 1, false).map((node) => [node.member, node.score]);
  } else {
    const { keys, values } = zset.scores;
    const step = scanPositions(options.cursor, keys.length, options.count);
    pairs = step.positions.map((position) => [keys[position], values[position]]);
    next = step.next;
  }
  const items: string[] = [];
  for (const [member, score] of pairs) {
    if (options.pattern !== null && !globMatch(options.pattern, member)) continue;
    items.push(member, formatDouble(score));
  }
  scanReply(ctx.out, next, items);
}

const zsetSpec = oneKeySpec("sorted-set");
const zsetKeysSpec = familySpec("sorted-set");

/** ZUNION, ZINTER and ZDIFF: `numkeys key [key ...]` at argv[1], then options. */
function zsetReadSpec(name: string, op: SetOp, summary: string): CommandSpec {
  return {
    ...zsetKeysSpec(name, -3, ["readonly"], [0, 0, 0], summary, zsetOperation(op, false)),
    keyFinder: numkeysAt(1),
  };
}

/** ZUNIONSTORE, ZINTERSTORE and ZDIFFSTORE: the destination, then `numkeys key [key ...]`. */
function zsetStoreSpec(name: string, op: SetOp, summary: string): CommandSpec {
  return {
    ...withEvents(
      zsetKeysSpec(name, -4, ["write", "denyoom"], KEY_ONE, summary, zsetOperation(op, true)),
      { kind: "destination" },
    ),
    keyFinder: numkeysAt(2, 1),
  };
}

export const zsetCommands: CommandSpec[] = [
  withEvents(
    zsetSpec(
      "zadd",
      -4,
      ["write", "denyoom", "fast"],
      "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.",
      zadd,
    ),
    { custom: zaddEvents },
  ),
  withEvents(
    zsetSpec(
      "zincrby",
      4,
      ["write", "denyoom", "fast"],
      "Increments the score of a member in a sorted set.",
      zincrby,
    ),
    { name: "zincr" },
  ),
  zsetSpec(
    "zrem",
    -3,
    ["write", "fast"],
    "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.",
    zrem,
  ),
  zsetSpec(
    "zscore",
    3,
    ["readonly", "fast"],
    "Returns the score of a member in a sorted set.",
    zscore,
  ),
  zsetSpec(
    "zmscore",
    -3,
    ["readonly", "fast"],
    "Returns the score of one or more members in a sorted set.",
    zmscore,
  ),
  zsetSpec(
    "zcard",
    2,
    ["readonly", "fast"],
    "Returns the number of members in a sorted set.",
    zcard,
  ),
  zsetSpec(
    "zcount",
    4,
    ["readonly", "fast"],
    "Returns the count of members in a sorted set that have scores within a range.",
    zcount,
  ),
  zsetSpec(
    "zrange",
    -4,
    ["readonly"],
    "Returns members in a sorted set within a range of indexes.",
    zrangeGeneric({}),
  ),
  zsetSpec(
    "zrangebyscore",
    -4,
    ["readonly"],
    "Returns members in a sorted set within a range of scores.",
    zrangeGeneric({ type: "score", reverse: false }),
  ),
  zsetSpec(
    "zrevrangebyscore",
    -4,
    ["readonly"],
    "Returns members in a sorted set within a range of scores in reverse order.",
    zrangeGeneric({ type: "score", reverse: true }),
  ),
  zsetSpec(
    "zrangebylex",
    -4,
    ["readonly"],
    "Returns members in a sorted set within a lexicographical range.",
    zrangeGeneric({ type: "lex", reverse: false }),
  ),
  zsetSpec(
    "zrevrange",
    -4,
    ["readonly"],
    "Returns members in a sorted set within a range of indexes in reverse order.",
    zrangeGeneric({ type: "rank", reverse: true }),
  ),
  zsetSpec(
    "zrank",
    3,
    ["readonly", "fast"],
    "Returns the index of a member in a sorted set ordered by ascending scores.",
    zrankGeneric(false),
  ),
  zsetSpec(
    "zrevrank",
    3,
    ["readonly", "fast"],
    "Returns the index of a member in a sorted set ordered by descending scores.",
    zrankGeneric(true),
  ),
  zsetSpec(
    "zremrangebyscore",
    4,
    ["write"],
    "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.",
    zremrangebyscore,
  ),
  zsetSpec(
    "zremrangebyrank",
    4,
    ["write"],
    "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.",
    zremrangebyrank,
  ),
  zsetSpec(
    "zpopmin",
    -2,
    ["write", "fast"],
    "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.",
    zpopGeneric(false),
  ),
  zsetSpec(
    "zpopmax",
    -2,
    ["write", "fast"],
    "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.",
    zpopGeneric(true),
  ),
  zsetSpec("zscan", -3, ["readonly"], "Iterates over members and scores of a sorted set.", zscan),
  {
    ...withEvents(
      zsetKeysSpec(
        "zmpop",
        -4,
        ["write"],
        [0, 0, 0],
        "Removes and returns the lowest or highest-scoring members of the first non-empty sorted set. Deletes the sorted set if the last member was popped.",
        zmpop,
      ),
      { custom: poppedEvents("z") },
    ),
    keyFinder: numkeysAt(1),
  },
  zsetReadSpec("zunion", "union", "Returns the union of multiple sorted sets."),
  zsetReadSpec("zinter", "inter", "Returns the intersect of multiple sorted sets."),
  zsetReadSpec("zdiff", "diff", "Returns the difference between multiple sorted sets."),
  zsetStoreSpec(
    "zunionstore",
    "union",
    "Stores the union of multiple sorted sets in a key.",
  ),
  zsetStoreSpec(
    "zinterstore",
    "inter",
    "Stores the intersect of multiple sorted sets in a key.",
  ),
  zsetStoreSpec(
    "zdiffstore",
    "diff",
    "Stores the difference of multiple sorted sets in a key.",
  ),
  {
    ...zsetKeysSpec(
      "zintercard",
      -3,
      ["readonly"],
      [0, 0, 0],
      "Returns the number of members of the intersect of multiple sorted sets.",
      zsetOperation("inter", false, true),
    ),
    keyFinder: numkeysAt(1),
  },
  withEvents(
    zsetKeysSpec(
      "zrangestore",
      -5,
      ["write", "denyoom"],
      KEY_TWO,
      "Stores a range of members from a sorted set in a key.",
      zrangeGeneric({}, true),
    ),
    { kind: "destination" },
  ),
  zsetSpec(
    "zlexcount",
    4,
    ["readonly", "fast"],
    "Returns the number of members in a sorted set within a lexicographical range.",
    zlexcount,
  ),
  zsetSpec(
    "zrevrangebylex",
    -4,
    ["readonly"],
    "Returns members in a sorted set within a lexicographical range in reverse order.",
    zrangeGeneric({ type: "lex", reverse: true }),
  ),
];
