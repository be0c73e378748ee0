/**
 * DEBUG, behind `enable-debug-command` as in Redis 7.0 (default `no`: refused before anything
 * else, with Redis's error), with the subcommands test suites and tools use: SLEEP (the whole
 * node stops, as Redis's server does), OBJECT (Redis's fields, from what this node knows of the
 * value), RELOAD (save, then load the stores back from the snapshot), SET-ACTIVE-EXPIRE (stops
 * and restarts the active expiry cycle) and HELP. Any other subcommand gets Redis's
 * unknown-subcommand error.
 *
 * @module
 */
import { hashString } from "../_hash.ts";
import { encodeRdbObject } from "../keyspace/rdb.ts";
import type { Entry, Store } from "../keyspace/store.ts";
import { encodeSnapshot, loadSnapshot } from "../persistence/snapshot.ts";
import { ReplyError } from "./errors.ts";
import { refcount, stringEncoding } from "./keys.ts";
import {
  type ClientState,
  command,
  type CommandContext,
  type CommandSpec,
  type ServerHooks,
} from "./types.ts";

/** Redis's refusal while `enable-debug-command` does not let the client run DEBUG. */
export const DEBUG_NOT_ALLOWED =
  `ERR DEBUG command not allowed. If the enable-debug-command option is set to "local", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.`;

/** Whether `client` connects from this machine (Redis's `islocalClient`: a loopback address). */
function isLocal(client: ClientState): boolean {
  const address = client.remoteAddress;
  const colon = address.lastIndexOf(":");
  const host = (colon > 0 ? address.slice(0, colon) : address).replace(/^\[(.*)\]$/, "$1");
  return host.startsWith("127.") || host === "::1" || host.startsWith("::ffff:127.");
}

/** The gate of DEBUG: `yes` lets everyone run it, `local` loopback clients, `no` nobody. */
function debugGate(server: ServerHooks, client: ClientState): string | null {
  const setting = server.enableDebugCommand ?? "no";
  if (setting === "yes" || (setting === "local" && isLocal(client))) return null;
  return DEBUG_NOT_ALLOWED;
}

/** Redis's answer to a subcommand it does not have, or one given the wrong arguments. */
function syntaxError(argv: string[]): ReplyError {
  const nul = argv[1].indexOf("\0");
  const name = (nul === -1 ? argv[1] : argv[1].slice(0, nul)).slice(0, 128).replace(/[\r\n]/g, " ");
  return new ReplyError(
    `ERR unknown subcommand or wrong number of arguments for '${name}'. Try DEBUG HELP.`,
  );
}

const HELP = [
  "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "OBJECT <key>",
  "    Show low level info about `key` and associated value.",
  "RELOAD [option ...]",
  "    Save the data and load it back to memory. Valid <option> values:",
  "    * MERGE: keys loaded replace the keys already there.",
  "    * NOFLUSH: keep the keys that are there (with no MERGE, refused when there are any).",
  "    * NOSAVE: do not write a snapshot first.",
  "SET-ACTIVE-EXPIRE <0|1>",
  "    Setting it to 0 stops expiring keys in background when they are not accessed;",
  "    1 starts it again (the default).",
  "SLEEP <seconds>",
  "    Stop the server for <seconds>. Decimals allowed.",
  "HELP",
  "    Prints this help.",
];

/** The leading number of `text` as C's `strtod` reads it (0 when there is none). */
function leadingNumber(text: string): number {
  const match = /^[ \t\n\v\f\r]*([+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)/i.exec(text);
  return match === null ? 0 : Number(match[1]);
}

/** C's `atoi`: the leading integer, 0 when there is none. */
function leadingInteger(text: string): number {
  const match = /^[ \t\n\v\f\r]*([+-]?\d+)/.exec(text);
  return match === null ? 0 : Number(match[1]);
}

/** Reads the RDB length at `at`: [value, next position], or null for a special encoding. */
function rdbLength(bytes: Uint8Array, at: number): [number, number, number | null] {
  const first = bytes[at];
  const kind = first >> 6;
  if (kind === 0) return [first & 0x3f, at + 1, null];
  if (kind === 1) return [((first & 0x3f) << 8) | bytes[at + 1], at + 2, null];
  if (kind === 2) {
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    if (first === 0x80) return [view.getUint32(at + 1), at + 5, null];
    return [Number(view.getBigUint64(at + 1)), at + 9, null];
  }
  return [0, at + 1, first & 0x3f];
}

/** Skips an RDB string at `at`; returns its uncompressed length and the next position. */
function rdbString(bytes: Uint8Array, at: number): [number, number] {
  const [length, next, special] = rdbLength(bytes, at);
  if (special === null) return [length, next + length];
  if (special === 3) {
    const [compressed, afterCompressed] = rdbLength(bytes, next);
    const [uncompressed, data] = rdbLength(bytes, afterCompressed);
    return [uncompressed, data + compressed];
  }
  // An integer encoding: 1, 2 or 4 bytes.
  const size = [1, 2, 4][special] ?? 0;
  return [size, next + size];
}

/** The quicklist fields of a list's DEBUG OBJECT line, from its RDB object. */
function quicklistFields(ctx: CommandContext, rdb: Uint8Array, count: number): string {
  let [nodes, at] = rdbLength(rdb, 1);
  let bytes = 0;
  for (let i = 0; i < nodes; i++) {
    at = rdbLength(rdb, at)[1];
    const [size, next] = rdbString(rdb, at);
    bytes += size;
    at = next;
  }
  nodes = Math.max(nodes, 1);
  const setting = (name: string, fallback: string) =>
    ctx.server.config?.get(name)[0]?.[1] ?? fallback;
  const fill = setting("list-max-listpack-size", "-2");
  const compressed = setting("list-compress-depth", "0") === "0" ? 0 : 1;
  return ` ql_nodes:${nodes} ql_avg_node:${(count / nodes).toFixed(2)} ql_listpack_max:${fill}` +
    ` ql_compressed:${compressed} ql_uncompressed_size:${bytes}`;
}

/** Redis's 24-bit LRU clock (seconds) at Unix ms `ms`. */
function lruClock(ms: number): number {
  return Math.floor(ms / 1000) & 0xffffff;
}

/**
 * DEBUG OBJECT's line. The address is made up (stable per key: there is no object to point
 * at); refcount, encoding and serializedlength (the value's RDB object, as DUMP writes it,
 * without its type byte) are Redis's where this node's value fixes them; `lru` is Redis's
 * 24-bit field for the access data the store keeps.
 */
function objectLine(ctx: CommandContext, store: Store, entry: Entry): string {
  const value = entry.value;
  const key = entry.key;
  const hash = (hashString(key, store.index) >>> 0).toString(16).padStart(8, "0");
  const address = `0x7f${hash}${(store.index & 0xf).toString(16)}0`;
  const encoding = typeof value === "string" ? stringEncoding(value) : value.encoding();
  const rdb = encodeRdbObject(value);
  const now = store.now();
  const lfu = store.options.evictionPolicy.endsWith("-lfu");
  let lru: number;
  if (lfu) {
    const minutes = Math.floor(store.epochMs / 60_000) + Math.floor(entry.access / 256);
    lru = ((minutes & 0xffff) << 8) | (entry.access & 0xff);
  } else {
    lru = lruClock(store.epochMs + entry.access);
  }
  const clock = lruClock(now);
  const idle = clock >= lru ? clock - lru : clock + (0xffffff - lru);
  let line = `Value at:${address} refcount:${refcount(store, value)} encoding:${encoding} ` +
    `serializedlength:${rdb.length - 1} lru:${lru} lru_seconds_idle:${idle}`;
  if (typeof value !== "string" && value.type === "list") {
    line += quicklistFields(ctx, rdb, value.length);
  }
  return line;
}

/**
 * DEBUG RELOAD: a snapshot of the stores that persist (written to disk first when persistence
 * is on and NOSAVE is not given: the SAVE path, a new AOF generation), the stores emptied, and
 * the snapshot loaded back. Redis's NOSAVE loads its RDB file as it is on disk; here there is
 * no file apart from the AOF, so NOSAVE reloads the data as it is now without writing anything.
 */
function reload(ctx: CommandContext, argv: string[]): void {
  let merge = false, noflush = false, nosave = false;
  for (let i = 2; i < argv.length; i++) {
    const option = argv[i].toUpperCase();
    if (option === "MERGE") merge = true;
    else if (option === "NOFLUSH") noflush = true;
    else if (option === "NOSAVE") nosave = true;
    else {
      throw new ReplyError("ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.");
    }
  }
  const stores = ctx.keyspace.stores.filter((store) => store.options.persist);
  // Redis dies on a key loaded twice (NOFLUSH without MERGE); here the reload is refused.
  if (noflush && !merge && stores.some((store) => store.size > 0)) {
    throw new ReplyError("ERR Error trying to load the RDB dump, check server logs.");
  }
  const snapshot = encodeSnapshot(ctx.keyspace);
  const persistence = ctx.server.persistence as { save?(): void } | undefined;
  if (!nosave && persistence?.save !== undefined) {
    try {
      persistence.save();
    } catch (error) {
      throw new ReplyError(`ERR ${(error as Error).message}`);
    }
  }
  // With MERGE every loaded key replaces the one there: the snapshot holds every live key of
  // these stores, so that is the stores emptied and loaded.
  for (const store of stores) store.flush();
  loadSnapshot(snapshot, ctx.keyspace, "DEBUG RELOAD");
  ctx.out.ok();
}

function debug(ctx: CommandContext, argv: string[]): void {
  const sub = argv[1].toUpperCase();
  const count = argv.length;
  if (sub === "HELP" && count === 2) {
    ctx.out.arrayHeader(HELP.length);
    for (const line of HELP) ctx.out.simple(line);
    return;
  }
  if (sub === "SLEEP" && count === 3) {
    const ms = leadingNumber(argv[2]) * 1000;
    if (Number.isFinite(ms) && ms > 0) ctx.server.sleep?.(ms);
    return ctx.out.ok();
  }
  if (sub === "OBJECT" && count === 3) {
    const entry = ctx.store.lookup(argv[2], false);
    if (entry === undefined) throw new ReplyError("ERR no such key");
    return ctx.out.simple(objectLine(ctx, ctx.store, entry));
  }
  if (sub === "RELOAD") return reload(ctx, argv);
  if (sub === "SET-ACTIVE-EXPIRE" && count === 3) {
    ctx.keyspace.activeExpireEnabled = leadingInteger(argv[2]) !== 0;
    return ctx.out.ok();
  }
  throw syntaxError(argv);
}

export const debugCommands: CommandSpec[] = [
  command({
    name: "debug",
    arity: -2,
    flags: ["admin", "noscript", "loading", "stale"],
    group: "server",
    categories: ["admin", "slow", "dangerous"],
    summary: "A container for debugging commands.",
    handler: debug,
    gate: debugGate,
  }),
];
