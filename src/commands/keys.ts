/**
 * Generic key commands: existence, deletion, TTLs, types.
 *
 * @module
 */
import { typeName } from "../keyspace/values.ts";
import { parseSafeInteger } from "./args.ts";
import { invalidExpire, NOT_INTEGER, ReplyError } from "./errors.ts";
import { command, type CommandContext, type CommandSpec } from "./types.ts";

function del(ctx: CommandContext, argv: string[]): void {
  let deleted = 0;
  for (let i = 1; i < argv.length; i++) if (ctx.store.delete(argv[i])) deleted++;
  ctx.out.integer(deleted);
}

function exists(ctx: CommandContext, argv: string[]): void {
  let count = 0;
  for (let i = 1; i < argv.length; i++) if (ctx.store.lookup(argv[i], false)) count++;
  ctx.out.integer(count);
}

type ExpireUnit = "s" | "ms" | "at-s" | "at-ms";

/** EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT with NX, XX, GT and LT (Redis 7). */
function expireGeneric(unit: ExpireUnit) {
  return (ctx: CommandContext, argv: string[]): void => {
    const [name, key, amount] = argv;
    const value = parseSafeInteger(amount);
    if (value === null) throw new ReplyError(NOT_INTEGER);
    let nx = false, xx = false, gt = false, lt = false;
    for (let i = 3; i < argv.length; i++) {
      const option = argv[i].toUpperCase();
      if (option === "NX") nx = true;
      else if (option === "XX") xx = true;
      else if (option === "GT") gt = true;
      else if (option === "LT") lt = true;
      else throw new ReplyError(`ERR Unsupported option ${argv[i]}`);
    }
    if (nx && (xx || gt || lt)) {
      throw new ReplyError("ERR NX and XX, GT or LT options at the same time are not compatible");
    }
    if (gt && lt) throw new ReplyError("ERR GT and LT options at the same time are not compatible");
    const store = ctx.store;
    const now = store.now();
    const ms = unit === "s" || unit === "at-s" ? value * 1000 : value;
    const at = unit === "s" || unit === "ms" ? now + ms : ms;
    if (!Number.isSafeInteger(ms) || !Number.isSafeInteger(at)) {
      throw new ReplyError(invalidExpire(name.toLowerCase()));
    }
    const entry = store.lookup(key, false);
    if (entry === undefined) return ctx.out.integer(0);
    const current = entry.expiresAtMs;
    // A key without a TTL counts as an infinite TTL for GT and LT, as in Redis.
    if (
      (nx && current !== 0) || (xx && current === 0) ||
      (gt && (current === 0 || at <= current)) || (lt && current !== 0 && at >= current)
    ) {
      return ctx.out.integer(0);
    }
    if (at <= now) {
      store.removeEntry(entry);
      ctx.propagate(["DEL", key]);
    } else {
      store.setExpiry(entry, at);
      store.dirty++;
      ctx.propagate(["PEXPIREAT", key, String(at)]);
    }
    ctx.out.integer(1);
  };
}

function ttlGeneric(ms: boolean) {
  return (ctx: CommandContext, argv: string[]): void => {
    const entry = ctx.store.lookup(argv[1], false);
    if (entry === undefined) return ctx.out.integer(-2);
    if (entry.expiresAtMs === 0) return ctx.out.integer(-1);
    const remaining = Math.max(0, entry.expiresAtMs - ctx.store.now());
    ctx.out.integer(ms ? remaining : Math.floor((remaining + 500) / 1000));
  };
}

function expireTimeGeneric(ms: boolean) {
  return (ctx: CommandContext, argv: string[]): void => {
    const entry = ctx.store.lookup(argv[1], false);
    if (entry === undefined) return ctx.out.integer(-2);
    if (entry.expiresAtMs === 0) return ctx.out.integer(-1);
    ctx.out.integer(ms ? entry.expiresAtMs : Math.floor(entry.expiresAtMs / 1000));
  };
}

function persist(ctx: CommandContext, argv: string[]): void {
  const entry = ctx.store.lookup(argv[1], false);
  if (entry === undefined || entry.expiresAtMs === 0) return ctx.out.integer(0);
  ctx.store.setExpiry(entry, 0);
  ctx.store.dirty++;
  ctx.out.integer(1);
}

function type(ctx: CommandContext, argv: string[]): void {
  const entry = ctx.store.lookup(argv[1], false);
  ctx.out.simple(entry === undefined ? "none" : typeName(entry.value));
}

const oneKey = { firstKey: 1, lastKey: 1, step: 1, group: "generic" } as const;
const allKeys = { firstKey: 1, lastKey: -1, step: 1, group: "generic" } as const;

function expireSpec(name: string, unit: ExpireUnit, summary: string): CommandSpec {
  return command({
    name,
    arity: -3,
    flags: ["write", "fast"],
    ...oneKey,
    summary,
    handler: expireGeneric(unit),
  });
}

export const keyCommands: CommandSpec[] = [
  command({
    name: "del",
    arity: -2,
    flags: ["write"],
    ...allKeys,
    summary: "Deletes one or more keys.",
    handler: del,
  }),
  command({
    name: "exists",
    arity: -2,
    flags: ["readonly", "fast"],
    ...allKeys,
    summary: "Determines whether one or more keys exist.",
    handler: exists,
  }),
  expireSpec("expire", "s", "Sets the expiration time of a key in seconds."),
  expireSpec("pexpire", "ms", "Sets the expiration time of a key in milliseconds."),
  expireSpec("expireat", "at-s", "Sets the expiration time of a key to a Unix timestamp."),
  expireSpec(
    "pexpireat",
    "at-ms",
    "Sets the expiration time of a key to a Unix milliseconds timestamp.",
  ),
  command({
    name: "ttl",
    arity: 2,
    flags: ["readonly", "fast"],
    ...oneKey,
    summary: "Returns the expiration time in seconds of a key.",
    handler: ttlGeneric(false),
  }),
  command({
    name: "pttl",
    arity: 2,
    flags: ["readonly", "fast"],
    ...oneKey,
    summary: "Returns the expiration time in milliseconds of a key.",
    handler: ttlGeneric(true),
  }),
  command({
    name: "expiretime",
    arity: 2,
    flags: ["readonly", "fast"],
    ...oneKey,
    summary: "Returns the expiration time of a key as a Unix timestamp.",
    handler: expireTimeGeneric(false),
  }),
  command({
    name: "pexpiretime",
    arity: 2,
    flags: ["readonly", "fast"],
    ...oneKey,
    summary: "Returns the expiration time of a key as a Unix milliseconds timestamp.",
    handler: expireTimeGeneric(true),
  }),
  command({
    name: "persist",
    arity: 2,
    flags: ["write", "fast"],
    ...oneKey,
    summary: "Removes the expiration time of a key.",
    handler: persist,
  }),
  command({
    name: "type",
    arity: 2,
    flags: ["readonly", "fast"],
    ...oneKey,
    summary: "Determines the type of value stored at a key.",
    handler: type,
  }),
];
