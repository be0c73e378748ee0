/**
 * Sorted set commands, on `ZSetValue` (a chunked sorted list: ranks in O(log n)).
 *
 * @module
 */
import { scanPositions } from "./_cursor.ts";
import type { ZItem } from "../keyspace/zset.ts";
import type { PrefixTest } from "../keyspace/sorted_list.ts";
import type { Store } from "../keyspace/store.ts";
import { ZSetValue } from "../keyspace/zset.ts";
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
import { NOT_FLOAT, ReplyError, SYNTAX } from "./errors.ts";
import { int64Arg } from "./strings.ts";
import { type CommandContext, type CommandSpec, oneKeySpec, withEvents } from "./types.ts";
import { zaddEvents } from "./events.ts";

const LONG_MAX = 2n ** 63n - 1n;
const NOT_RANGE_FLOAT = "ERR min or max is not a float";
const NAN_SCORE = "ERR resulting score is not a number (NaN)";

function readZSet(store: Store, key: string): ZSetValue | undefined {
  return containerEntry(store, key, "zset")?.value as ZSetValue | undefined;
}

/** A score as Redis's `strtod` checks accept it: `inf` yes, NaN and overflow no. */
function scoreArg(text: string): number {
  const value = parseDouble(text);
  if (value === null || (!Number.isFinite(value) && !/^[+-]?inf(inity)?$/i.test(text))) {
    throw new ReplyError(NOT_FLOAT);
  }
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

/** ZRANGE and its older forms; `fixed` presets what the command name implies. */
function zrangeGeneric(fixed: { type?: RangeType; reverse?: boolean }) {
  return (ctx: CommandContext, argv: string[]): void => {
    const request: RangeRequest = {
      type: fixed.type ?? "rank",
      reverse: fixed.reverse ?? false,
      withScores: false,
      offset: 0,
      limit: -1,
    };
    let typeSet = fixed.type !== undefined;
    let directionSet = fixed.reverse !== undefined;
    let limited = false;
    for (let i = 4; i < argv.length; i++) {
      const option = argv[i].toUpperCase();
      if (option === "WITHSCORES") request.withScores = true;
      else if (option === "LIMIT" && argv.length - i - 1 >= 2) {
        request.offset = Number(int64Arg(argv[i + 1]));
        request.limit = Number(int64Arg(argv[i + 2]));
        limited = true;
        i += 2;
      } else if (option === "REV" && !directionSet) {
        request.reverse = true;
        directionSet = true;
      } else if ((option === "BYSCORE" || option === "BYLEX") && !typeSet) {
        request.type = option === "BYSCORE" ? "score" : "lex";
        typeSet = true;
      } else throw new ReplyError(SYNTAX);
    }
    if (limited && request.type === "rank") {
      throw new ReplyError(
        "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
      );
    }
    if (request.withScores && request.type === "lex") {
      throw new ReplyError("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
    }
    let [minText, maxText] = [argv[2], argv[3]];
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
    const zset = readZSet(ctx.store, argv[1]);
    rangeReply(ctx, zset === undefined ? [] : select(zset), request.withScores);
  };
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
  const score = (zset.score(member) ?? 0) + increment;
  if (Number.isNaN(score)) {
    containerChanged(ctx.store, entry);
    throw new ReplyError(NAN_SCORE);
  }
  zset.set(member, score);
  containerChanged(ctx.store, entry);
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
];
