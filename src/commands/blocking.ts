/**
 * Blocking list pops: BLPOP, BRPOP, BLMOVE, BRPOPLPUSH. A command that finds its lists empty asks
 * the server to park the connection (`ServerHooks.block`); the server runs it again when a push
 * makes one of its keys ready, serving waiting clients in arrival order, or answers a null
 * array when the timeout passes. Where the connection cannot wait (inside MULTI, over HTTP) the
 * null reply comes at once, as in Redis.
 *
 * @module
 */
import type { ListValue } from "../keyspace/list.ts";
import { containerChanged, containerEntry } from "./_container.ts";
import { ReplyError, SYNTAX } from "./errors.ts";
import { moveElement } from "./list.ts";
import {
  type CommandContext,
  type CommandFlag,
  type CommandSpec,
  familySpec,
  KEY_TWO,
  type KeyPositions,
  withEvents,
} from "./types.ts";
import { moveEvents } from "./events.ts";

/** Redis's limit on a blocking timeout, about 2^53 ms written as seconds. */
const MAX_TIMEOUT_SECONDS = 9_007_199_254_740;

/** The timeout argument in ms (0 = wait forever), with Redis's errors. */
export function timeoutArg(text: string): number {
  const seconds = Number(text);
  if (
    text.trim() === "" || Number.isNaN(seconds) || !Number.isFinite(seconds) ||
    seconds > MAX_TIMEOUT_SECONDS
  ) {
    throw new ReplyError("ERR timeout is not a float or out of range");
  }
  if (seconds < 0) throw new ReplyError("ERR timeout is negative");
  return Math.ceil(seconds * 1000);
}

/** The timeout in ms of a blocking command whose last argument it is, or null when invalid. */
function lastArgTimeout(argv: readonly string[]): number | null {
  try {
    return timeoutArg(argv[argv.length - 1]);
  } catch {
    return null;
  }
}

/** Parks the connection, or answers the null array when it cannot wait. */
function blockOrNull(
  ctx: CommandContext,
  argv: string[],
  keys: string[],
  timeoutMs: number,
): void {
  if (ctx.transaction.executing || ctx.server.block?.(ctx.client, keys, timeoutMs, argv) !== true) {
    ctx.out.nullArray();
  }
}

function bpop(end: "left" | "right") {
  return (ctx: CommandContext, argv: string[]): void => {
    const timeoutMs = timeoutArg(argv[argv.length - 1]);
    const keys = argv.slice(1, -1);
    for (const key of keys) {
      const entry = containerEntry(ctx.store, key, "list");
      if (entry === undefined) continue;
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

function endArg(text: string): "left" | "right" {
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
  from: "left" | "right",
  to: "left" | "right",
  timeoutText: string,
): void {
  const timeoutMs = timeoutArg(timeoutText);
  const value = moveElement(ctx, source, destination, from, to);
  if (value !== null) {
    ctx.propagate(["LMOVE", source, destination, from.toUpperCase(), to.toUpperCase()]);
    ctx.out.bulk(value);
    return;
  }
  const parked = !ctx.transaction.executing &&
    ctx.server.block?.(ctx.client, [source], timeoutMs, argv) === true;
  if (!parked) {
    ctx.out.nullReply();
  }
}

const listSpec = familySpec("list");
/** The keys of BLPOP and BRPOP: every argument but the name and the timeout. */
const KEYS_BEFORE_TIMEOUT: KeyPositions = [1, -2, 1];
const POP: CommandFlag[] = ["write", "noscript", "blocking"];
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
      { name: "lpop" },
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
      { name: "rpop" },
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
];
