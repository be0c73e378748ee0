/**
 * List commands (the blocking ones live with the server, which owns waiting clients; pushes
 * call `ServerHooks.keyReady` so it can serve them).
 *
 * @module
 */
import { ListValue } from "../keyspace/list.ts";
import type { Store } from "../keyspace/store.ts";
import { containerChanged, containerEntry, containerEntryOrCreate } from "./_container.ts";
import { parseInt64, rangeOf } from "./args.ts";
import { NO_SUCH_KEY, NOT_INTEGER, ReplyError, SYNTAX, wrongArity, WRONGTYPE } from "./errors.ts";
import { int64Arg } from "./strings.ts";
import {
  type CommandContext,
  type CommandSpec,
  familySpec,
  KEY_ONE,
  KEY_TWO,
  numkeysAt,
  withEvents,
} from "./types.ts";
import { moveEvents, poppedEvents } from "./events.ts";
import type { Entry } from "../keyspace/store.ts";

export type End = "left" | "right";

const LONG_MAX = 2n ** 63n - 1n;

function readList(store: Store, key: string): ListValue | undefined {
  return containerEntry(store, key, "list")?.value as ListValue | undefined;
}

/** Redis's `getRangeLongFromObjectOrReply` with a custom message for the out-of-range case. */
function rangeArg(text: string, min: bigint, max: bigint, message?: string): number {
  const value = parseInt64(text);
  if (value === null) throw new ReplyError(message ?? NOT_INTEGER);
  if (value < min || value > max) {
    throw new ReplyError(message ?? `ERR value is out of range, must be between ${min} and ${max}`);
  }
  return Number(value);
}

/** Pushes `values` at one end of the list at `key`, creating it unless `onlyExisting`. */
export function pushValues(
  ctx: CommandContext,
  key: string,
  end: End,
  values: readonly string[],
  onlyExisting: boolean,
): number {
  const store = ctx.store;
  const existing = containerEntry(store, key, "list");
  if (existing === undefined && onlyExisting) return 0;
  const entry = existing ?? store.set(key, new ListValue(), 0);
  const list = entry.value as ListValue;
  for (const value of values) end === "left" ? list.pushFront(value) : list.pushBack(value);
  containerChanged(store, entry);
  ctx.server.keyReady?.(store, key);
  return list.length;
}

function pushGeneric(end: End, onlyExisting: boolean) {
  return (ctx: CommandContext, argv: string[]): void => {
    ctx.out.integer(pushValues(ctx, argv[1], end, argv.slice(2), onlyExisting));
  };
}

function popGeneric(end: End) {
  return (ctx: CommandContext, argv: string[]): void => {
    if (argv.length > 3) throw new ReplyError(wrongArity(argv[0].toLowerCase()));
    const hasCount = argv.length === 3;
    const count = hasCount
      ? rangeArg(argv[2], 0n, LONG_MAX, "ERR value is out of range, must be positive")
      : 1;
    const entry = containerEntry(ctx.store, argv[1], "list");
    if (entry === undefined) return hasCount ? ctx.out.nullArray() : ctx.out.nullReply();
    if (hasCount && count === 0) return ctx.out.arrayHeader(0);
    const list = entry.value as ListValue;
    const popped: string[] = [];
    while (popped.length < count && list.length > 0) {
      popped.push((end === "left" ? list.popFront() : list.popBack())!);
    }
    containerChanged(ctx.store, entry);
    if (hasCount) ctx.out.bulkArray(popped);
    else ctx.out.bulk(popped[0]);
  };
}

/**
 * LMPOP's and ZMPOP's arguments (and their blocking forms'), in Redis's order of checks: the
 * `numkeys` at `at`, the keys, the end (`first` or `second`, in any case), then COUNT once.
 * `count` is -1 without COUNT.
 */
export function mpopArgs(
  argv: readonly string[],
  at: number,
  first: string,
  second: string,
): { keys: string[]; where: string; count: number } {
  const numkeys = parseInt64(argv[at]);
  if (numkeys === null || numkeys < 1n) {
    throw new ReplyError("ERR numkeys should be greater than 0");
  }
  const whereAt = BigInt(at) + numkeys + 1n;
  if (whereAt >= BigInt(argv.length)) throw new ReplyError(SYNTAX);
  const whereIndex = Number(whereAt);
  const where = argv[whereIndex].toUpperCase();
  if (where !== first && where !== second) throw new ReplyError(SYNTAX);
  let count = -1;
  for (let j = whereIndex + 1; j < argv.length; j++) {
    if (count === -1 && argv[j].toUpperCase() === "COUNT" && j + 1 < argv.length) {
      count = rangeArg(argv[++j], 1n, LONG_MAX, "ERR count should be greater than 0");
    } else throw new ReplyError(SYNTAX);
  }
  return { keys: argv.slice(at + 1, whereIndex), where, count };
}

/** Pops up to `count` elements from one end of the list at `entry` (deleted once empty). */
export function popElements(ctx: CommandContext, entry: Entry, end: End, count: number): string[] {
  const list = entry.value as ListValue;
  const popped: string[] = [];
  while (popped.length < count && list.length > 0) {
    popped.push((end === "left" ? list.popFront() : list.popBack())!);
  }
  containerChanged(ctx.store, entry);
  return popped;
}

/**
 * Pops from the first non-empty list of LMPOP's or BLMPOP's keys, logged as the `LPOP key count`
 * (or RPOP) it amounts to, and replies with the key and the elements; false when every key is
 * empty. A key of another type before it is WRONGTYPE, unless `skipOthers` (a blocked command
 * run again, which Redis serves only from a list).
 */
export function lmpopFrom(
  ctx: CommandContext,
  keys: readonly string[],
  end: End,
  count: number,
  skipOthers = false,
): boolean {
  for (const key of keys) {
    const found = ctx.store.lookup(key);
    if (found === undefined) continue;
    if (typeof found.value === "string" || found.value.type !== "list") {
      if (skipOthers) continue;
      throw new ReplyError(WRONGTYPE);
    }
    const take = count === -1 ? 1 : count;
    const popped = popElements(ctx, found, end, take);
    ctx.propagate([end === "left" ? "LPOP" : "RPOP", key, String(take)]);
    ctx.out.arrayHeader(2);
    ctx.out.bulk(key);
    ctx.out.bulkArray(popped);
    return true;
  }
  return false;
}

function lmpop(ctx: CommandContext, argv: string[]): void {
  const { keys, where, count } = mpopArgs(argv, 1, "LEFT", "RIGHT");
  if (!lmpopFrom(ctx, keys, where === "LEFT" ? "left" : "right", count)) ctx.out.nullArray();
}

function lrange(ctx: CommandContext, argv: string[]): void {
  const start = Number(int64Arg(argv[2]));
  const end = Number(int64Arg(argv[3]));
  const list = readList(ctx.store, argv[1]);
  const range = list === undefined ? null : rangeOf(start, end, list.length);
  ctx.out.bulkArray(range === null ? [] : list!.slice(range[0], range[1]));
}

function llen(ctx: CommandContext, argv: string[]): void {
  ctx.out.integer(readList(ctx.store, argv[1])?.length ?? 0);
}

function lindex(ctx: CommandContext, argv: string[]): void {
  const list = readList(ctx.store, argv[1]);
  if (list === undefined) return ctx.out.nullReply();
  const index = Number(int64Arg(argv[2]));
  ctx.out.bulk(list.at(index < 0 ? list.length + index : index) ?? null);
}

function lset(ctx: CommandContext, argv: string[]): void {
  const entry = containerEntry(ctx.store, argv[1], "list");
  if (entry === undefined) throw new ReplyError(NO_SUCH_KEY);
  const list = entry.value as ListValue;
  let index = Number(int64Arg(argv[2]));
  if (index < 0) index += list.length;
  if (index < 0 || index >= list.length) throw new ReplyError("ERR index out of range");
  list.setAt(index, argv[3]);
  containerChanged(ctx.store, entry);
  ctx.out.ok();
}

function lrem(ctx: CommandContext, argv: string[]): void {
  const count = Number(int64Arg(argv[2]));
  const element = argv[3];
  const entry = containerEntry(ctx.store, argv[1], "list");
  if (entry === undefined) return ctx.out.integer(0);
  const list = entry.value as ListValue;
  const items = list.toArray();
  const limit = count === 0 ? Infinity : Math.abs(count);
  let removed = 0;
  const keep = new Array<boolean>(items.length).fill(true);
  for (let n = 0; n < items.length && removed < limit; n++) {
    const i = count < 0 ? items.length - 1 - n : n;
    if (items[i] === element) {
      keep[i] = false;
      removed++;
    }
  }
  if (removed > 0) {
    list.replaceAll(items.filter((_, i) => keep[i]));
    containerChanged(ctx.store, entry);
  }
  ctx.out.integer(removed);
}

function ltrim(ctx: CommandContext, argv: string[]): void {
  const start = Number(int64Arg(argv[2]));
  const end = Number(int64Arg(argv[3]));
  const entry = containerEntry(ctx.store, argv[1], "list");
  if (entry === undefined) return ctx.out.ok();
  const list = entry.value as ListValue;
  const range = rangeOf(start, end, list.length);
  const [left, right] = range === null ? [list.length, 0] : [range[0], list.length - range[1] - 1];
  for (let i = 0; i < left; i++) list.popFront();
  for (let i = 0; i < right; i++) list.popBack();
  if (left + right > 0) containerChanged(ctx.store, entry);
  ctx.out.ok();
}

function linsert(ctx: CommandContext, argv: string[]): void {
  const [, key, where, pivot, element] = argv;
  const position = where.toUpperCase();
  if (position !== "BEFORE" && position !== "AFTER") throw new ReplyError(SYNTAX);
  const entry = containerEntry(ctx.store, key, "list");
  if (entry === undefined) return ctx.out.integer(0);
  const list = entry.value as ListValue;
  const items = list.toArray();
  const index = items.indexOf(pivot);
  if (index === -1) return ctx.out.integer(-1);
  items.splice(position === "BEFORE" ? index : index + 1, 0, element);
  list.replaceAll(items);
  containerChanged(ctx.store, entry);
  ctx.out.integer(list.length);
}

function lpos(ctx: CommandContext, argv: string[]): void {
  const [, key, element] = argv;
  let rank = 1;
  let count = -1;
  let maxlen = 0;
  for (let i = 3; i < argv.length; i++) {
    const option = argv[i].toUpperCase();
    const more = i + 1 < argv.length;
    if (option === "RANK" && more) {
      rank = rangeArg(argv[++i], -LONG_MAX, LONG_MAX);
      if (rank === 0) {
        throw new ReplyError(
          "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
        );
      }
    } else if (option === "COUNT" && more) {
      count = rangeArg(argv[++i], 0n, LONG_MAX, "ERR COUNT can't be negative");
    } else if (option === "MAXLEN" && more) {
      maxlen = rangeArg(argv[++i], 0n, LONG_MAX, "ERR MAXLEN can't be negative");
    } else throw new ReplyError(SYNTAX);
  }
  const list = readList(ctx.store, key);
  if (list === undefined) return count === -1 ? ctx.out.nullReply() : ctx.out.arrayHeader(0);
  const fromTail = rank < 0;
  const skip = Math.abs(rank);
  const found: number[] = [];
  let matches = 0;
  for (let n = 0; n < list.length && (maxlen === 0 || n < maxlen); n++) {
    const index = fromTail ? list.length - 1 - n : n;
    if (list.at(index) !== element) continue;
    matches++;
    if (matches < skip) continue;
    found.push(index);
    if (count === -1 || (count !== 0 && found.length >= count)) break;
  }
  if (count !== -1) {
    ctx.out.arrayHeader(found.length);
    for (const index of found) ctx.out.integer(index);
  } else if (found.length === 0) ctx.out.nullReply();
  else ctx.out.integer(found[0]);
}

function endArg(text: string): End {
  const upper = text.toUpperCase();
  if (upper === "LEFT") return "left";
  if (upper === "RIGHT") return "right";
  throw new ReplyError(SYNTAX);
}

/**
 * Moves one element from one end of `source` to one end of `destination` (LMOVE, RPOPLPUSH,
 * and BLMOVE once its source is ready); null when `source` is empty.
 */
export function moveElement(
  ctx: CommandContext,
  source: string,
  destination: string,
  from: End,
  to: End,
): string | null {
  const store = ctx.store;
  const sourceEntry = containerEntry(store, source, "list");
  if (sourceEntry === undefined) return null;
  containerEntry(store, destination, "list", false);
  const list = sourceEntry.value as ListValue;
  const value = (from === "left" ? list.popFront() : list.popBack())!;
  const target = containerEntryOrCreate(store, destination, "list", () => new ListValue());
  const targetList = target.value as ListValue;
  if (to === "left") targetList.pushFront(value);
  else targetList.pushBack(value);
  if (target !== sourceEntry) containerChanged(store, sourceEntry);
  containerChanged(store, target);
  ctx.server.keyReady?.(store, destination);
  return value;
}

function lmove(ctx: CommandContext, argv: string[]): void {
  const from = endArg(argv[3]);
  const to = endArg(argv[4]);
  ctx.out.bulk(moveElement(ctx, argv[1], argv[2], from, to));
}

function rpoplpush(ctx: CommandContext, argv: string[]): void {
  ctx.out.bulk(moveElement(ctx, argv[1], argv[2], "right", "left"));
}

const listSpec = familySpec("list");

const ONE = KEY_ONE;
const TWO = KEY_TWO;

export const listCommands: CommandSpec[] = [
  listSpec(
    "lpush",
    -3,
    ["write", "denyoom", "fast"],
    ONE,
    "Prepends one or more elements to a list. Creates the key if it doesn't exist.",
    pushGeneric("left", false),
  ),
  listSpec(
    "rpush",
    -3,
    ["write", "denyoom", "fast"],
    ONE,
    "Appends one or more elements to a list. Creates the key if it doesn't exist.",
    pushGeneric("right", false),
  ),
  listSpec(
    "lpushx",
    -3,
    ["write", "denyoom", "fast"],
    ONE,
    "Prepends one or more elements to a list only when the list exists.",
    pushGeneric("left", true),
  ),
  listSpec(
    "rpushx",
    -3,
    ["write", "denyoom", "fast"],
    ONE,
    "Appends an element to a list only when the list exists.",
    pushGeneric("right", true),
  ),
  listSpec(
    "lpop",
    -2,
    ["write", "fast"],
    ONE,
    "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.",
    popGeneric("left"),
  ),
  listSpec(
    "rpop",
    -2,
    ["write", "fast"],
    ONE,
    "Returns and removes the last elements of a list. Deletes the list if the last element was popped.",
    popGeneric("right"),
  ),
  {
    ...withEvents(
      listSpec(
        "lmpop",
        -4,
        ["write"],
        [0, 0, 0],
        "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.",
        lmpop,
      ),
      { custom: poppedEvents("l") },
    ),
    keyFinder: numkeysAt(1),
  },
  listSpec("lrange", 4, ["readonly"], ONE, "Returns a range of elements from a list.", lrange),
  listSpec("llen", 2, ["readonly", "fast"], ONE, "Returns the length of a list.", llen),
  listSpec("lindex", 3, ["readonly"], ONE, "Returns an element from a list by its index.", lindex),
  listSpec(
    "lset",
    4,
    ["write", "denyoom"],
    ONE,
    "Sets the value of an element in a list by its index.",
    lset,
  ),
  listSpec(
    "lrem",
    4,
    ["write"],
    ONE,
    "Removes elements from a list. Deletes the list if the last element was removed.",
    lrem,
  ),
  listSpec(
    "ltrim",
    4,
    ["write"],
    ONE,
    "Removes elements from both ends a list. Deletes the list if all elements were trimmed.",
    ltrim,
  ),
  listSpec(
    "linsert",
    5,
    ["write", "denyoom"],
    ONE,
    "Inserts an element before or after another element in a list.",
    linsert,
  ),
  listSpec(
    "lpos",
    -3,
    ["readonly"],
    ONE,
    "Returns the index of matching elements in a list.",
    lpos,
  ),
  withEvents(
    listSpec(
      "lmove",
      5,
      ["write", "denyoom"],
      TWO,
      "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.",
      lmove,
    ),
    { custom: moveEvents(false) },
  ),
  withEvents(
    listSpec(
      "rpoplpush",
      3,
      ["write", "denyoom"],
      TWO,
      "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.",
      rpoplpush,
    ),
    { custom: moveEvents(true) },
  ),
];
