/**
 * SORT and SORT_RO: the elements of a list, set or sorted set, ordered as numbers or as bytes,
 * by themselves or by the keys (and hash fields) a pattern names, with LIMIT, GET patterns and,
 * for SORT, STORE into a list. Redis 7.0's rules throughout: a BY pattern without `*` does not
 * sort (a list and a sorted set keep their order, a set is sorted as bytes when the result is
 * stored or a script asks, so that it is the same everywhere), numbers are read as C's `strtod`
 * reads them, equal numbers are ordered by their elements' bytes, and a cluster node refuses BY
 * and GET patterns, whose keys could live on other nodes.
 *
 * @module
 */
import { HashValue } from "../keyspace/hash.ts";
import { ListValue } from "../keyspace/list.ts";
import { SetValue } from "../keyspace/set.ts";
import type { Store } from "../keyspace/store.ts";
import { ZSetValue } from "../keyspace/zset.ts";
import { parseInt64 } from "./args.ts";
import { NOT_INTEGER, ReplyError, SYNTAX, WRONGTYPE } from "./errors.ts";
import type { KeyspaceEvent } from "./events.ts";
import { command, type CommandContext, type CommandSpec, type KeyFinder } from "./types.ts";

/** What `strtod` may skip before a number (C's `isspace`). */
const SPACE = /^[ \t\n\v\f\r]*/;
/** A decimal number as `strtod` reads it, sign and exponent included. */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
/** A hexadecimal one (`0x1.8p3`). */
const HEX = /^([+-]?)0x([0-9a-f]*)\.?([0-9a-f]*)(?:p([+-]?\d+))?$/i;
const SMALLEST_NORMAL = 2 ** -1022;

/** The C string `text` stands for: what comes before its first NUL byte. */
function cString(text: string): string {
  const nul = text.indexOf("\0");
  return nul === -1 ? text : text.slice(0, nul);
}

/**
 * The score SORT gives `text`, or null where Redis answers that it cannot be converted: glibc's
 * `strtod` must read the whole C string (an empty one reads as 0), and neither overflow nor an
 * inexact result below the normal range (`ERANGE`) nor NaN is a score.
 */
export function sortScore(text: string): number | null {
  const whole = cString(text);
  if (whole === "") return 0;
  const number = whole.slice(SPACE.exec(whole)![0].length);
  const word = /^([+-]?)(inf|infinity)$/i.exec(number);
  if (word !== null) return word[1] === "-" ? -Infinity : Infinity;
  const hex = HEX.exec(number);
  if (hex !== null) return hexScore(hex);
  if (!DECIMAL.test(number)) return null;
  const value = Number(number);
  if (!Number.isFinite(value)) return null;
  // Underflow: a number whose digits are not all zero, read as zero or as a subnormal.
  if (Math.abs(value) < SMALLEST_NORMAL && /[1-9]/.test(number.replace(/e.*$/i, ""))) {
    return null;
  }
  return value;
}

/** A hexadecimal float, exactly where it fits; null past the double range or inexact below it. */
function hexScore([, sign, whole, fraction, exponent]: RegExpExecArray): number | null {
  if (whole === "" && fraction === "") return null;
  let mantissa = BigInt(`0x${whole}${fraction}`);
  let power = (exponent === undefined ? 0 : Number(exponent)) - 4 * fraction.length;
  const negative = sign === "-";
  if (mantissa === 0n) return negative ? -0 : 0;
  // Keep 64 significant bits (the rest as a sticky bit), so Number() rounds once, correctly.
  const bits = mantissa.toString(2).length;
  let exact = true;
  if (bits > 64) {
    const drop = BigInt(bits - 64);
    const rest = mantissa & ((1n << drop) - 1n);
    exact = rest === 0n;
    mantissa = (mantissa >> drop) | (exact ? 0n : 1n);
    power += bits - 64;
  }
  const top = Math.min(bits, 64) + power; // the value is below 2^top, at least 2^(top - 1)
  if (top > 1024) return null;
  if (top <= -1021) {
    // Below the normal range: only a value the subnormals hold exactly is no underflow.
    const shift = power + 1074;
    if (!exact || shift < 0 && (mantissa & ((1n << BigInt(-shift)) - 1n)) !== 0n) return null;
  }
  let value = Number(mantissa);
  // Scale in steps that cannot overflow or underflow on the way.
  while (power > 0) {
    const step = Math.min(power, 1000);
    value *= 2 ** step;
    power -= step;
  }
  while (power < 0) {
    const step = Math.max(power, -1000);
    value *= 2 ** step;
    power -= step;
  }
  if (!Number.isFinite(value)) return null;
  return negative ? -value : value;
}

/** Bytes order (memcmp, then length), as Redis's `compareStringObjects`. */
function compareBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `strcoll` under the C (or C.UTF-8) locale: bytes order of the C strings. */
function compareCStrings(a: string, b: string): number {
  return compareBytes(cString(a), cString(b));
}

/**
 * The value a BY or GET pattern names for `element`: `#` is the element itself; otherwise the
 * first `*` is replaced by the element, and `->field` after it names a field of a hash. Null
 * when the pattern has no `*`, the key is missing or of another type (a string without a field,
 * a hash with one), or the hash lacks the field. Patterns are C strings to Redis here: a NUL
 * byte ends what is searched for `*`, `#` and `->`.
 */
function lookupPattern(store: Store, pattern: string, element: string): string | null {
  const visible = cString(pattern);
  if (visible === "#") return element;
  const star = visible.indexOf("*");
  if (star === -1) return null;
  const arrow = visible.indexOf("->", star + 1);
  const field = arrow !== -1 && arrow + 2 < visible.length ? visible.slice(arrow + 2) : null;
  const keyEnd = field === null ? pattern.length : pattern.length - field.length - 2;
  const key = pattern.slice(0, star) + element + pattern.slice(star + 1, keyEnd);
  const entry = store.read(key);
  if (entry === undefined) return null;
  const value = entry.value;
  if (field === null) return typeof value === "string" ? value : null;
  return value instanceof HashValue ? value.get(field) ?? null : null;
}

/** One element to sort, with what it sorts by. */
interface Item {
  element: string;
  score: number;
  /** ALPHA with BY: the value the pattern found, or null. */
  by: string | null;
}

/** The parsed options. */
interface SortOptions {
  desc: boolean;
  alpha: boolean;
  limitStart: bigint;
  limitCount: bigint;
  /** The BY pattern, when there is one. */
  by: string | null;
  /** BY named a pattern without `*`: no sorting. */
  dontSort: boolean;
  get: string[];
  store: string | null;
}

const LONG_MIN = -(2n ** 63n);
const LONG_MAX = 2n ** 63n - 1n;

/** LIMIT's offset and count, as Redis's `getLongFromObjectOrReply` reads them. */
function longArg(text: string): bigint {
  const value = parseInt64(text);
  if (value === null || value < LONG_MIN || value > LONG_MAX) throw new ReplyError(NOT_INTEGER);
  return value;
}

function parseOptions(ctx: CommandContext, argv: string[], readonly: boolean): SortOptions {
  const options: SortOptions = {
    desc: false,
    alpha: false,
    limitStart: 0n,
    limitCount: -1n,
    by: null,
    dontSort: false,
    get: [],
    store: null,
  };
  const cluster = ctx.server.cluster !== undefined;
  for (let i = 2; i < argv.length; i++) {
    const option = argv[i].toUpperCase();
    const left = argv.length - i - 1;
    if (option === "ASC") options.desc = false;
    else if (option === "DESC") options.desc = true;
    else if (option === "ALPHA") options.alpha = true;
    else if (option === "LIMIT" && left >= 2) {
      options.limitStart = longArg(argv[i + 1]);
      options.limitCount = longArg(argv[i + 2]);
      i += 2;
    } else if (option === "STORE" && !readonly && left >= 1) {
      options.store = argv[++i];
    } else if (option === "BY" && left >= 1) {
      const pattern = argv[++i];
      options.by = pattern;
      if (!cString(pattern).includes("*")) options.dontSort = true;
      else if (cluster) throw new ReplyError("ERR BY option of SORT denied in Cluster mode.");
    } else if (option === "GET" && left >= 1) {
      if (cluster) throw new ReplyError("ERR GET option of SORT denied in Cluster mode.");
      options.get.push(argv[++i]);
    } else {
      throw new ReplyError(SYNTAX);
    }
  }
  return options;
}

/** The elements of `value` to sort, all of them or, where they need no sorting, their range. */
function loadItems(
  value: ListValue | SetValue | ZSetValue | null,
  options: SortOptions,
  start: number,
  end: number,
): Item[] {
  const item = (element: string): Item => ({ element, score: 0, by: null });
  if (value === null) return [];
  const ranged = options.dontSort && !(value instanceof SetValue);
  if (value instanceof ListValue) {
    if (!ranged) return value.toArray().map(item);
    if (end < start) return [];
    const length = value.length;
    const items: Item[] = [];
    for (let i = start; i <= end; i++) {
      items.push(item(value.at(options.desc ? length - 1 - i : i)!));
    }
    return items;
  }
  if (value instanceof SetValue) return value.values().map(item);
  const items: Item[] = [];
  if (!ranged) {
    value.list.walk(0, false, (_score, member) => {
      items.push(item(member));
      return true;
    });
    return items;
  }
  if (end < start) return [];
  let count = end - start + 1;
  const from = options.desc ? value.length - 1 - start : start;
  value.list.walk(from, options.desc, (_score, member) => {
    items.push(item(member));
    return --count > 0;
  });
  return items;
}

function sortGeneric(readonly: boolean) {
  return (ctx: CommandContext, argv: string[]): void => {
    const options = parseOptions(ctx, argv, readonly);
    const store = ctx.store;
    const entry = store.read(argv[1]);
    const held = entry?.value;
    if (
      held !== undefined &&
      !(held instanceof ListValue || held instanceof SetValue || held instanceof ZSetValue)
    ) {
      throw new ReplyError(WRONGTYPE);
    }
    const value = held ?? null;
    // A set has no order of its own: unsorted, it would be stored (and replayed, replicated)
    // or handed to a script in whatever order this node keeps it.
    const inScript = ctx.server.scripting?.scriptClient === ctx.client;
    if (
      options.dontSort && value instanceof SetValue && (options.store !== null || inScript)
    ) {
      options.dontSort = false;
      options.alpha = true;
      options.by = null;
    }
    const length = value?.length ?? 0;
    const total = BigInt(length);
    let start = Number(
      options.limitStart < 0n ? 0n : options.limitStart > total ? total : options.limitStart,
    );
    const count = options.limitCount < -1n
      ? -1n
      : options.limitCount > total
      ? total
      : options.limitCount;
    let end = count < 0n ? length - 1 : start + Number(count) - 1;
    if (start >= length) {
      start = length - 1;
      end = length - 2;
    }
    if (end >= length) end = length - 1;
    const items = loadItems(value, options, start, end);
    if (options.dontSort && !(value instanceof SetValue)) {
      // Only the range was loaded.
      end -= start;
      start = 0;
    }
    let notNumber = false;
    if (!options.dontSort) {
      const by = options.by;
      for (const item of items) {
        const sortValue = by === null ? item.element : lookupPattern(store, by, item.element);
        if (sortValue === null) continue;
        if (options.alpha) {
          if (by !== null) item.by = sortValue;
        } else {
          const score = sortScore(sortValue);
          if (score === null) notNumber = true;
          else item.score = score;
        }
      }
      items.sort(comparator(options));
    }
    const outputLength = (end - start + 1) * (options.get.length || 1);
    if (notNumber) throw new ReplyError("ERR One or more scores can't be converted into double");
    const destination = options.store;
    const out = ctx.out;
    if (destination === null) {
      out.arrayHeader(outputLength);
      for (let i = start; i <= end; i++) {
        const element = items[i].element;
        if (options.get.length === 0) out.bulk(element);
        for (const pattern of options.get) out.bulk(lookupPattern(store, pattern, element));
      }
      return;
    }
    const list = new ListValue();
    for (let i = start; i <= end; i++) {
      const element = items[i].element;
      if (options.get.length === 0) list.pushBack(element);
      for (const pattern of options.get) {
        list.pushBack(lookupPattern(store, pattern, element) ?? "");
      }
    }
    if (outputLength > 0) {
      store.set(destination, list, 0);
      ctx.server.keyReady?.(store, destination);
    } else {
      store.delete(destination);
    }
    out.integer(outputLength);
  };
}

/** Redis's order of two items under `options` (DESC turns the whole comparison round). */
function comparator(options: SortOptions): (a: Item, b: Item) => number {
  const sign = options.desc ? -1 : 1;
  // Stored results compare as bytes; others as `strcoll` does (the C locale's bytes order of
  // the C strings).
  const strings = options.store !== null ? compareBytes : compareCStrings;
  if (!options.alpha) {
    return (a, b) =>
      sign * (a.score > b.score ? 1 : a.score < b.score ? -1 : compareBytes(a.element, b.element));
  }
  if (options.by !== null) {
    return (a, b) => {
      if (a.by === null || b.by === null) {
        return sign * (a.by === b.by ? 0 : a.by === null ? -1 : 1);
      }
      return sign * strings(a.by, b.by);
    };
  }
  return (a, b) => sign * strings(a.element, b.element);
}

/**
 * SORT's keys: the sorted key, and the key after the last STORE that has one after it (LIMIT
 * skips two arguments, GET and BY one, as Redis's key extraction does). BY and GET patterns
 * name keys only once the elements are known: they are not keys here, as in Redis.
 */
function sortKeys(store: boolean): KeyFinder {
  const find = (argv: readonly string[]) => {
    if (argv.length < 2) return null;
    if (!store) return [1];
    let destination = -1;
    for (let i = 2; i < argv.length; i++) {
      const option = argv[i].toUpperCase();
      if (option === "LIMIT") i += 2;
      else if (option === "GET" || option === "BY") i += 1;
      else if (option === "STORE" && i + 1 < argv.length) destination = i + 1;
    }
    return destination === -1 ? [1] : [1, destination];
  };
  return Object.assign(find, { keySpec: { begin: 1, lastkey: 0, keystep: 1 } });
}

/** SORT ... STORE: `sortstore` on the destination, or `del` when an empty result removed it. */
function sortEvents(argv: readonly string[], exists: (key: string) => boolean): KeyspaceEvent[] {
  const keys = sortKeys(true)(argv);
  if (keys === null || keys.length < 2) return [];
  const destination = argv[keys[1]];
  return [exists(destination) ? ["l", "sortstore", destination] : ["g", "del", destination]];
}

const CATEGORIES = ["set", "sortedset", "list", "slow", "dangerous"] as const;

export const sortCommands: CommandSpec[] = [
  command({
    name: "sort",
    arity: -2,
    flags: ["write", "denyoom"],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    keyFinder: sortKeys(true),
    group: "generic",
    categories: ["write", ...CATEGORIES],
    summary: "Sorts the elements in a list, a set, or a sorted set, optionally storing the result.",
    handler: sortGeneric(false),
    events: { custom: sortEvents },
  }),
  command({
    name: "sort_ro",
    arity: -2,
    flags: ["readonly"],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    keyFinder: sortKeys(false),
    group: "generic",
    categories: ["read", ...CATEGORIES],
    summary: "Returns the sorted elements of a list, a set, or a sorted set.",
    handler: sortGeneric(true),
  }),
];
