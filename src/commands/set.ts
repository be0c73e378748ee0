/**
 * Set commands. SPOP is logged as the SREM of what it popped, so AOF replay removes the same
 * members.
 *
 * @module
 */
import { scanPositions } from "./_cursor.ts";
import { SetValue } from "../keyspace/set.ts";
import type { Store } from "../keyspace/store.ts";
import {
  containerChanged,
  containerEntry,
  containerEntryOrCreate,
  parseScanArgs,
  randomBelow,
  scanReply,
} from "./_container.ts";
import { globMatch } from "./glob.ts";
import { parseInt64 } from "./args.ts";
import { NOT_INTEGER, ReplyError, SYNTAX } from "./errors.ts";
import { randomPositions } from "./hash.ts";
import {
  type CommandContext,
  type CommandSpec,
  familySpec,
  KEY_ALL,
  KEY_ONE,
  numkeysAt,
  withEvents,
} from "./types.ts";
import { smoveEvents } from "./events.ts";

const LONG_MAX = 2n ** 63n - 1n;

function readSet(store: Store, key: string): SetValue | undefined {
  return containerEntry(store, key, "set")?.value as SetValue | undefined;
}

function sadd(ctx: CommandContext, argv: string[]): void {
  const entry = containerEntryOrCreate(ctx.store, argv[1], "set", () => new SetValue());
  const set = entry.value as SetValue;
  let added = 0;
  for (let i = 2; i < argv.length; i++) if (set.add(argv[i])) added++;
  containerChanged(ctx.store, entry);
  ctx.out.integer(added);
}

function srem(ctx: CommandContext, argv: string[]): void {
  const entry = containerEntry(ctx.store, argv[1], "set");
  if (entry === undefined) return ctx.out.integer(0);
  const set = entry.value as SetValue;
  let removed = 0;
  for (let i = 2; i < argv.length && set.length > 0; i++) if (set.delete(argv[i])) removed++;
  if (removed > 0) containerChanged(ctx.store, entry);
  ctx.out.integer(removed);
}

function setReply(ctx: CommandContext, members: readonly string[]): void {
  ctx.out.setHeader(members.length);
  for (const member of members) ctx.out.bulk(member);
}

function smembers(ctx: CommandContext, argv: string[]): void {
  setReply(ctx, readSet(ctx.store, argv[1])?.values() ?? []);
}

function sismember(ctx: CommandContext, argv: string[]): void {
  ctx.out.integer(readSet(ctx.store, argv[1])?.has(argv[2]) ? 1 : 0);
}

function smismember(ctx: CommandContext, argv: string[]): void {
  const set = readSet(ctx.store, argv[1]);
  ctx.out.arrayHeader(argv.length - 2);
  for (let i = 2; i < argv.length; i++) ctx.out.integer(set?.has(argv[i]) ? 1 : 0);
}

function scard(ctx: CommandContext, argv: string[]): void {
  ctx.out.integer(readSet(ctx.store, argv[1])?.length ?? 0);
}

function countArg(text: string, min: bigint, message?: string): bigint {
  const value = parseInt64(text);
  if (value === null) throw new ReplyError(message ?? NOT_INTEGER);
  if (value < min) {
    throw new ReplyError(
      message ?? `ERR value is out of range, must be between ${min} and ${LONG_MAX}`,
    );
  }
  return value;
}

function spop(ctx: CommandContext, argv: string[]): void {
  if (argv.length > 3) throw new ReplyError(SYNTAX);
  const hasCount = argv.length === 3;
  const count = hasCount
    ? countArg(argv[2], 0n, "ERR value is out of range, must be positive")
    : 1n;
  const entry = containerEntry(ctx.store, argv[1], "set");
  if (entry === undefined) return hasCount ? ctx.out.setHeader(0) : ctx.out.nullReply();
  if (count === 0n) return ctx.out.setHeader(0);
  const set = entry.value as SetValue;
  const popped = randomPositions(set.length, count).map((i) => set.members.keys[i]);
  for (const member of popped) set.delete(member);
  containerChanged(ctx.store, entry);
  ctx.propagate(["SREM", argv[1], ...popped]);
  if (hasCount) setReply(ctx, popped);
  else ctx.out.bulk(popped[0]);
}

function srandmember(ctx: CommandContext, argv: string[]): void {
  if (argv.length > 3) throw new ReplyError(SYNTAX);
  if (argv.length === 2) {
    const set = readSet(ctx.store, argv[1]);
    if (set === undefined) return ctx.out.nullReply();
    return ctx.out.bulk(set.members.keys[randomBelow(set.length)]);
  }
  const count = countArg(argv[2], -LONG_MAX);
  const set = readSet(ctx.store, argv[1]);
  if (set === undefined || count === 0n) return ctx.out.arrayHeader(0);
  ctx.out.bulkArray(randomPositions(set.length, count).map((i) => set.members.keys[i]));
}

function smove(ctx: CommandContext, argv: string[]): void {
  const [, source, destination, member] = argv;
  const store = ctx.store;
  const sourceEntry = store.lookup(source);
  const targetEntry = store.lookup(destination);
  if (sourceEntry === undefined) return ctx.out.integer(0);
  containerEntry(store, source, "set");
  if (targetEntry !== undefined) containerEntry(store, destination, "set");
  const set = sourceEntry.value as SetValue;
  if (sourceEntry === targetEntry) return ctx.out.integer(set.has(member) ? 1 : 0);
  if (!set.delete(member)) return ctx.out.integer(0);
  containerChanged(store, sourceEntry);
  const target = targetEntry ?? store.set(destination, new SetValue(), 0);
  // A member the destination has already leaves it untouched (its WATCH too), as in Redis.
  if ((target.value as SetValue).add(member)) containerChanged(store, target);
  ctx.out.integer(1);
}

type SetOperation = "inter" | "union" | "diff";

/** The sets at `keys` (undefined for missing keys), WRONGTYPE if any key holds another type. */
function readSets(store: Store, keys: string[]): (SetValue | undefined)[] {
  return keys.map((key) => readSet(store, key));
}

function combine(operation: SetOperation, sets: (SetValue | undefined)[], limit = 0): string[] {
  if (operation === "inter") {
    if (sets.some((set) => set === undefined)) return [];
    const ordered = (sets as SetValue[]).slice().sort((a, b) => a.length - b.length);
    const result: string[] = [];
    for (const member of ordered[0].members.keys) {
      if (ordered.every((set) => set.has(member))) {
        result.push(member);
        if (limit > 0 && result.length >= limit) break;
      }
    }
    return result;
  }
  if (operation === "union") {
    const result = new Set<string>();
    for (const set of sets) for (const member of set?.members.keys ?? []) result.add(member);
    return [...result];
  }
  const [first, ...others] = sets;
  if (first === undefined) return [];
  return first.members.keys.filter((member) => !others.some((set) => set?.has(member)));
}

function setOperation(operation: SetOperation) {
  return (ctx: CommandContext, argv: string[]): void => {
    setReply(ctx, combine(operation, readSets(ctx.store, argv.slice(1))));
  };
}

function setOperationStore(operation: SetOperation) {
  return (ctx: CommandContext, argv: string[]): void => {
    const store = ctx.store;
    const members = combine(operation, readSets(store, argv.slice(2)));
    const destination = argv[1];
    store.delete(destination);
    if (members.length > 0) {
      const set = new SetValue();
      for (const member of members) set.add(member);
      store.set(destination, set, 0);
    }
    ctx.out.integer(members.length);
  };
}

function sintercard(ctx: CommandContext, argv: string[]): void {
  const numkeys = parseInt64(argv[1]);
  if (numkeys === null || numkeys < 1n) {
    throw new ReplyError("ERR numkeys should be greater than 0");
  }
  if (numkeys > BigInt(argv.length - 2)) {
    throw new ReplyError("ERR Number of keys can't be greater than number of args");
  }
  const keyCount = Number(numkeys);
  let limit = 0;
  for (let i = 2 + keyCount; i < argv.length; i += 2) {
    if (argv[i].toUpperCase() === "LIMIT" && i + 1 < argv.length) {
      limit = Number(countArg(argv[i + 1], 0n, "ERR LIMIT can't be negative"));
    } else throw new ReplyError(SYNTAX);
  }
  const sets = readSets(ctx.store, argv.slice(2, 2 + keyCount));
  ctx.out.integer(combine("inter", sets, limit).length);
}

/** Redis 7.0 returns a small (intset) set whole, with cursor 0. */
function sscan(ctx: CommandContext, argv: string[]): void {
  const options = parseScanArgs(argv, 3, false);
  const set = readSet(ctx.store, argv[1]);
  if (set === undefined) return scanReply(ctx.out, 0, []);
  const small = set.encoding() === "intset";
  const keys = small ? set.values() : set.members.keys;
  const { positions, next } = small
    ? { positions: keys.map((_, i) => i), next: 0 }
    : scanPositions(options.cursor, keys.length, options.count);
  const items: string[] = [];
  for (const position of positions) {
    if (options.pattern === null || globMatch(options.pattern, keys[position])) {
      items.push(keys[position]);
    }
  }
  scanReply(ctx.out, next, items);
}

const setSpec = familySpec("set");

const ONE = KEY_ONE;
const ALL = KEY_ALL;

export const setCommands: CommandSpec[] = [
  setSpec(
    "sadd",
    -3,
    ["write", "denyoom", "fast"],
    ONE,
    "Adds one or more members to a set. Creates the key if it doesn't exist.",
    sadd,
  ),
  setSpec(
    "srem",
    -3,
    ["write", "fast"],
    ONE,
    "Removes one or more members from a set. Deletes the set if the last member was removed.",
    srem,
  ),
  setSpec("smembers", 2, ["readonly"], ONE, "Returns all members of a set.", smembers),
  setSpec(
    "sismember",
    3,
    ["readonly", "fast"],
    ONE,
    "Determines whether a member belongs to a set.",
    sismember,
  ),
  setSpec(
    "smismember",
    -3,
    ["readonly", "fast"],
    ONE,
    "Determines whether multiple members belong to a set.",
    smismember,
  ),
  setSpec("scard", 2, ["readonly", "fast"], ONE, "Returns the number of members in a set.", scard),
  setSpec(
    "spop",
    -2,
    ["write", "fast"],
    ONE,
    "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.",
    spop,
  ),
  setSpec(
    "srandmember",
    -2,
    ["readonly"],
    ONE,
    "Get one or multiple random members from a set",
    srandmember,
  ),
  withEvents(
    setSpec(
      "smove",
      4,
      ["write", "fast"],
      [1, 2, 1],
      "Moves a member from one set to another.",
      smove,
    ),
    { custom: smoveEvents },
  ),
  setSpec(
    "sinter",
    -2,
    ["readonly"],
    ALL,
    "Returns the intersect of multiple sets.",
    setOperation("inter"),
  ),
  setSpec(
    "sunion",
    -2,
    ["readonly"],
    ALL,
    "Returns the union of multiple sets.",
    setOperation("union"),
  ),
  setSpec(
    "sdiff",
    -2,
    ["readonly"],
    ALL,
    "Returns the difference of multiple sets.",
    setOperation("diff"),
  ),
  withEvents(
    setSpec(
      "sinterstore",
      -3,
      ["write", "denyoom"],
      ALL,
      "Stores the intersect of multiple sets in a key.",
      setOperationStore("inter"),
    ),
    { kind: "destination" },
  ),
  withEvents(
    setSpec(
      "sunionstore",
      -3,
      ["write", "denyoom"],
      ALL,
      "Stores the union of multiple sets in a key.",
      setOperationStore("union"),
    ),
    { kind: "destination" },
  ),
  withEvents(
    setSpec(
      "sdiffstore",
      -3,
      ["write", "denyoom"],
      ALL,
      "Stores the difference of multiple sets in a key.",
      setOperationStore("diff"),
    ),
    { kind: "destination" },
  ),
  {
    ...setSpec(
      "sintercard",
      -3,
      ["readonly"],
      [0, 0, 0],
      "Returns the number of members of the intersect of multiple sets.",
      sintercard,
    ),
    keyFinder: numkeysAt(1),
  },
  setSpec("sscan", -3, ["readonly"], ONE, "Iterates over members of a set.", sscan),
];
