/**
 * The keyspace notifications a write command raises, with Redis 7's event names: `INCR` raises
 * `incrby`, `MSET` raises `set` per key, `RENAME` raises `rename_from` and `rename_to`, a
 * `*STORE` command notifies only its destination, `SET ... EX` adds `expire`, and a command that empties a list, set, hash
 * or sorted set (or an `EXPIRE` in the past) also raises `del`.
 *
 * @module
 */
import type { CommandSpec } from "./types.ts";
import { commandKeys } from "./types.ts";

/** One notification: class letter of `notify-keyspace-events`, event name and key. */
export type KeyspaceEvent = [eventClass: string, event: string, key: string];

const CLASSES: Record<string, string> = {
  string: "$",
  list: "l",
  set: "s",
  hash: "h",
  "sorted-set": "z",
  generic: "g",
};

/** Commands whose event is not their own name (Redis's notifyKeyspaceEvent calls). */
const RENAMED: Record<string, string> = {
  incr: "incrby",
  decr: "incrby",
  decrby: "incrby",
  mset: "set",
  msetnx: "set",
  setnx: "set",
  setex: "set",
  psetex: "set",
  getset: "set",
  getdel: "del",
  unlink: "del",
  pexpire: "expire",
  expireat: "expire",
  pexpireat: "expire",
  hmset: "hset",
  hsetnx: "hset",
  zincrby: "zincr",
  blpop: "lpop",
  brpop: "rpop",
  bzpopmin: "zpopmin",
  bzpopmax: "zpopmax",
};

/** Commands that write only their first key, the destination, from the others. */
const STORE_TO_FIRST = new Set([
  "sinterstore",
  "sunionstore",
  "sdiffstore",
  "zinterstore",
  "zunionstore",
  "zdiffstore",
  "zrangestore",
]);

const EXPIRES = new Set(["expire", "pexpire", "expireat", "pexpireat"]);
const DELETES = new Set(["del", "unlink", "getdel"]);

/** Whether a SET gives the key a time to live (EX, PX, EXAT or PXAT). */
function hasExpiry(argv: readonly string[]): boolean {
  for (let i = 3; i < argv.length; i++) {
    const option = argv[i].toUpperCase();
    if (option === "EX" || option === "PX" || option === "EXAT" || option === "PXAT") return true;
  }
  return false;
}

/** Whether a ZADD has the INCR option (options come before the first score). */
function zaddIncr(argv: readonly string[]): boolean {
  for (let i = 2; i < argv.length; i++) {
    const option = argv[i].toUpperCase();
    if (option === "INCR") return true;
    if (!ZADD_OPTIONS.has(option)) return false;
  }
  return false;
}

const ZADD_OPTIONS = new Set(["NX", "XX", "GT", "LT", "CH"]);

/** The notifications of `argv` after it ran and changed data; `exists` tells which keys remain. */
export function keyspaceEvents(
  spec: CommandSpec,
  argv: readonly string[],
  exists: (key: string) => boolean,
): KeyspaceEvent[] {
  const name = spec.name;
  const typeClass = CLASSES[spec.group] ?? "g";
  const events: KeyspaceEvent[] = [];
  const emptied = (key: string) => {
    if (!exists(key)) events.push(["g", "del", key]);
  };
  if (name === "rename" || name === "renamenx") {
    return [["g", "rename_from", argv[1]], ["g", "rename_to", argv[2]]];
  }
  if (name === "copy") return [["g", "copy_to", argv[2]]];
  if (name === "lmove" || name === "blmove" || name === "rpoplpush" || name === "brpoplpush") {
    const rpoplpush = name === "rpoplpush" || name === "brpoplpush";
    const from = rpoplpush ? "RIGHT" : argv[3].toUpperCase();
    const to = rpoplpush ? "LEFT" : argv[4].toUpperCase();
    events.push(["l", to === "LEFT" ? "lpush" : "rpush", argv[2]]);
    events.push(["l", from === "LEFT" ? "lpop" : "rpop", argv[1]]);
    emptied(argv[1]);
    return events;
  }
  if (name === "smove") {
    events.push(["s", "srem", argv[1]]);
    emptied(argv[1]);
    events.push(["s", "sadd", argv[2]]);
    return events;
  }
  if (STORE_TO_FIRST.has(name)) {
    return exists(argv[1]) ? [[typeClass, name, argv[1]]] : [["g", "del", argv[1]]];
  }
  if (name === "getex") {
    const persist = argv[2]?.toUpperCase() === "PERSIST";
    return [["g", persist ? "persist" : "expire", argv[1]]];
  }
  if (name === "setex" || name === "psetex" || name === "set" && hasExpiry(argv)) {
    return [["$", "set", argv[1]], ["g", "expire", argv[1]]];
  }
  const incr = name === "zadd" && zaddIncr(argv);
  const event = incr ? "zincr" : RENAMED[name] ?? name;
  const eventClass = EXPIRES.has(name) || DELETES.has(name) ? "g" : typeClass;
  for (const key of commandKeys(spec, argv)) {
    if (EXPIRES.has(name) && !exists(key)) {
      events.push(["g", "del", key]);
      continue;
    }
    events.push([eventClass, event, key]);
    if (!DELETES.has(name) && typeClass !== "$" && typeClass !== "g") emptied(key);
  }
  return events;
}
