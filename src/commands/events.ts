/**
 * The keyspace notifications a write command raises, with Redis 7's event names. By default a
 * command raises its own name on each of its keys, in its family's class, and `del` for a
 * list, set, hash or sorted set it emptied. A command that differs says so in its spec's
 * `events` (an {@link EventRule}): INCR raises `incrby`, MSET raises `set` per key, a `*STORE`
 * command notifies only its destination, an `EXPIRE` in the past raises `del`; and the commands
 * whose events follow their arguments (RENAME, COPY, LMOVE, SMOVE, GETEX, SET ... EX, ZADD INCR)
 * name one of the functions here.
 *
 * @module
 */
import type { CommandSpec } from "./types.ts";
import { commandKeys } from "./types.ts";

/** One notification: class letter of `notify-keyspace-events`, event name and key, and the store
 * it happened in when not the command's (MOVE's `move_to`). */
export type KeyspaceEvent = [eventClass: string, event: string, key: string, db?: number];

/** Whether a key still exists after the command (to tell a removal). */
export type Exists = (key: string) => boolean;

/** How a command's notifications differ from the default. */
export interface EventRule {
  /** The event's name, when not the command's (INCR raises `incrby`). */
  readonly name?: string;
  /**
   * `expire`: generic class, and `del` for a key the command removed (a time in the past);
   * `delete`: generic class; `destination`: only the first key, or `del` when it ended empty.
   */
  readonly kind?: "expire" | "delete" | "destination";
  /** The events of a command whose events follow its arguments, or the record it logged
   * (`record`: BLPOP's `LPOP key`, which names the key it popped). */
  readonly custom?: (
    argv: readonly string[],
    exists: Exists,
    record: readonly string[],
  ) => KeyspaceEvent[];
  /**
   * Redis raises each key's events as it writes that key (MSET), so a created key's `new` goes
   * just before that key's own events; otherwise every `new` precedes the command's events.
   */
  readonly perKey?: boolean;
}

const CLASSES: Record<string, string> = {
  string: "$",
  list: "l",
  set: "s",
  hash: "h",
  "sorted-set": "z",
  stream: "t",
  generic: "g",
};

/** RENAME and RENAMENX. */
export const renameEvents = (argv: readonly string[]): KeyspaceEvent[] => [
  ["g", "rename_from", argv[1]],
  ["g", "rename_to", argv[2]],
];

/** MOVE: `move_from` in the command's store, `move_to` in the destination (argv[2]). */
export const moveKeyEvents = (argv: readonly string[]): KeyspaceEvent[] => [
  ["g", "move_from", argv[1]],
  ["g", "move_to", argv[1], Number(argv[2])],
];

/** COPY. */
export const copyEvents = (argv: readonly string[]): KeyspaceEvent[] => [
  ["g", "copy_to", argv[2]],
];

/** LMOVE and BLMOVE (`wherefrom`, `whereto` at 3 and 4), RPOPLPUSH and BRPOPLPUSH. */
export function moveEvents(rpoplpush: boolean) {
  return (argv: readonly string[], exists: Exists): KeyspaceEvent[] => {
    const from = rpoplpush ? "RIGHT" : argv[3].toUpperCase();
    const to = rpoplpush ? "LEFT" : argv[4].toUpperCase();
    const events: KeyspaceEvent[] = [
      ["l", to === "LEFT" ? "lpush" : "rpush", argv[2]],
      ["l", from === "LEFT" ? "lpop" : "rpop", argv[1]],
    ];
    if (!exists(argv[1])) events.push(["g", "del", argv[1]]);
    return events;
  };
}

/** SMOVE. */
export const smoveEvents = (argv: readonly string[], exists: Exists): KeyspaceEvent[] => {
  const events: KeyspaceEvent[] = [["s", "srem", argv[1]]];
  if (!exists(argv[1])) events.push(["g", "del", argv[1]]);
  events.push(["s", "sadd", argv[2]]);
  return events;
};

/** GETEX (it changed data only by setting or removing the expiry). */
export const getexEvents = (argv: readonly string[]): KeyspaceEvent[] => [
  ["g", argv[2]?.toUpperCase() === "PERSIST" ? "persist" : "expire", argv[1]],
];

/** SET, SETEX and PSETEX: `set`, and `expire` when the key got a time to live. */
export function setEvents(alwaysExpires: boolean) {
  return (argv: readonly string[]): KeyspaceEvent[] =>
    alwaysExpires || hasExpiry(argv)
      ? [["$", "set", argv[1]], ["g", "expire", argv[1]]]
      : [["$", "set", argv[1]]];
}

/** ZADD: `zincr` with the INCR option, else `zadd`. */
export const zaddEvents = (argv: readonly string[], exists: Exists): KeyspaceEvent[] => {
  const events: KeyspaceEvent[] = [["z", zaddIncr(argv) ? "zincr" : "zadd", argv[1]]];
  if (!exists(argv[1])) events.push(["g", "del", argv[1]]);
  return events;
};

/** Whether a SET gives the key a time to live (EX, PX, EXAT or PXAT). */
function hasExpiry(argv: readonly string[]): boolean {
  for (let i = 3; i < argv.length; i++) {
    const option = argv[i].toUpperCase();
    if (option === "EX" || option === "PX" || option === "EXAT" || option === "PXAT") return true;
  }
  return false;
}

const ZADD_OPTIONS = new Set(["NX", "XX", "GT", "LT", "CH"]);

/** Whether a ZADD has the INCR option (options come before the first score). */
function zaddIncr(argv: readonly string[]): boolean {
  for (let i = 2; i < argv.length; i++) {
    const option = argv[i].toUpperCase();
    if (option === "INCR") return true;
    if (!ZADD_OPTIONS.has(option)) return false;
  }
  return false;
}

/**
 * A pop from one of several keys (BLPOP, BZPOPMIN, LMPOP, ZMPOP, ...), logged as the plain pop
 * of the key it took from (`LPOP key`, `ZPOPMIN key count`): that pop's event in `eventClass`,
 * and `del` when the key ended empty.
 */
export function poppedEvents(eventClass: string) {
  return (_argv: readonly string[], exists: Exists, record: readonly string[]): KeyspaceEvent[] => {
    const key = record[1];
    if (key === undefined) return [];
    const events: KeyspaceEvent[] = [[eventClass, record[0].toLowerCase(), key]];
    if (!exists(key)) events.push(["g", "del", key]);
    return events;
  };
}

/** The notifications of `argv` after it ran and changed data; `exists` tells which keys remain,
 * `record` is what it logged (`argv` unless it logged another command). */
export function keyspaceEvents(
  spec: CommandSpec,
  argv: readonly string[],
  exists: Exists,
  record: readonly string[] = argv,
): KeyspaceEvent[] {
  const rule = spec.events;
  if (rule?.custom !== undefined) return rule.custom(argv, exists, record);
  const typeClass = CLASSES[spec.group] ?? "g";
  const event = rule?.name ?? spec.name;
  const kind = rule?.kind;
  if (kind === "destination") {
    return exists(argv[1]) ? [[typeClass, event, argv[1]]] : [["g", "del", argv[1]]];
  }
  const events: KeyspaceEvent[] = [];
  const eventClass = kind === "expire" || kind === "delete" ? "g" : typeClass;
  for (const key of commandKeys(spec, argv)) {
    if (kind === "expire" && !exists(key)) {
      events.push(["g", "del", key]);
      continue;
    }
    events.push([eventClass, event, key]);
    if (kind !== "delete" && typeClass !== "$" && typeClass !== "g" && !exists(key)) {
      events.push(["g", "del", key]);
    }
  }
  return events;
}
