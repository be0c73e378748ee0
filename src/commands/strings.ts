/**
 * String commands.
 *
 * @module
 */
import type { Store } from "../keyspace/store.ts";
import { parseSafeInteger } from "./args.ts";
import { invalidExpire, ReplyError, SYNTAX, WRONGTYPE } from "./errors.ts";
import { command, type CommandContext, type CommandSpec } from "./types.ts";

/** The string value at `key`, null when absent; WRONGTYPE for another type. */
export function readString(store: Store, key: string): string | null {
  const entry = store.read(key);
  if (entry === undefined) return null;
  if (typeof entry.value !== "string") throw new ReplyError(WRONGTYPE);
  return entry.value;
}

/**
 * Turns a relative or absolute expiry argument into absolute Unix ms, with Redis's checks:
 * a non-positive or overflowing time is `invalid expire time`.
 */
export function absoluteExpiry(
  name: string,
  unit: "EX" | "PX" | "EXAT" | "PXAT",
  text: string,
  nowMs: number,
): number {
  const value = parseSafeInteger(text);
  if (value === null) throw new ReplyError("ERR value is not an integer or out of range");
  if (value <= 0) throw new ReplyError(invalidExpire(name));
  const ms = unit === "EX" || unit === "EXAT" ? value * 1000 : value;
  const absolute = unit === "EX" || unit === "PX" ? nowMs + ms : ms;
  if (!Number.isSafeInteger(absolute)) throw new ReplyError(invalidExpire(name));
  return absolute;
}

function get(ctx: CommandContext, argv: string[]): void {
  ctx.out.bulk(readString(ctx.store, argv[1]));
}

const EXPIRY_OPTIONS = new Set(["EX", "PX", "EXAT", "PXAT"]);

function set(ctx: CommandContext, argv: string[]): void {
  const [, key, value] = argv;
  let condition: "" | "NX" | "XX" = "";
  let returnOld = false;
  let keepTtl = false;
  let expiry: { unit: "EX" | "PX" | "EXAT" | "PXAT"; text: string } | null = null;
  for (let i = 3; i < argv.length; i++) {
    const option = argv[i].toUpperCase();
    if ((option === "NX" || option === "XX") && condition === "") condition = option;
    else if (option === "GET" && !returnOld) returnOld = true;
    else if (option === "KEEPTTL" && expiry === null && !keepTtl) keepTtl = true;
    else if (EXPIRY_OPTIONS.has(option) && expiry === null && !keepTtl && i + 1 < argv.length) {
      expiry = { unit: option as "EX", text: argv[++i] };
    } else throw new ReplyError(SYNTAX);
  }
  const store = ctx.store;
  const now = store.now();
  const expiresAtMs = expiry ? absoluteExpiry("set", expiry.unit, expiry.text, now) : 0;
  const existing = store.lookup(key);
  let old: string | null = null;
  if (returnOld && existing !== undefined) {
    if (typeof existing.value !== "string") throw new ReplyError(WRONGTYPE);
    old = existing.value;
  }
  const blocked = (condition === "NX" && existing !== undefined) ||
    (condition === "XX" && existing === undefined);
  if (!blocked) {
    store.set(key, value, keepTtl ? undefined : expiresAtMs);
    if (expiry !== null || returnOld) {
      const logged = ["SET", key, value];
      if (expiry !== null) logged.push("PXAT", String(expiresAtMs));
      else if (keepTtl) logged.push("KEEPTTL");
      ctx.propagate(logged);
    }
  }
  if (returnOld) ctx.out.bulk(old);
  else if (blocked) ctx.out.nullReply();
  else ctx.out.ok();
}

export const stringCommands: CommandSpec[] = [
  command({
    name: "get",
    arity: 2,
    flags: ["readonly", "fast"],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    group: "string",
    summary: "Returns the string value of a key.",
    handler: get,
  }),
  command({
    name: "set",
    arity: -3,
    flags: ["write", "denyoom"],
    firstKey: 1,
    lastKey: 1,
    step: 1,
    group: "string",
    summary:
      "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.",
    handler: set,
  }),
];
