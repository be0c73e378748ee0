/**
 * The cache inside a function: a node's parts (stores, TTLs, eviction, the whole command table,
 * scripting, keyspace events, optional persistence) built in process with no socket, a typed API
 * for the common operations, `command()` for every other, and the HTTP API as a `fetch` handler
 * that `deno serve`, Bun's `serve` or a Hono app can serve.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import type { Hono } from "hono";
import { buildConfig } from "../config/config.ts";
import { ACTIVE_EXPIRE_INTERVAL_MS } from "../constants.ts";
import type { EvictionPolicy } from "../keyspace/store.ts";
import { createHttpApp } from "../http/app.ts";
import { HttpExecutor } from "../http/executor.ts";
import { assembleNode } from "../node.ts";
import { RespDecoder, RespError, type RespValue } from "../resp/decoder.ts";
import { currentRuntime } from "../runtime/mod.ts";

/** How an embedded cache is built; every field is optional. */
export interface CacheOptions {
  /** Memory limit in bytes, or with a unit (`"64mb"`); 0 (the default) for none. */
  maxMemory?: number | string;
  /** Redis's eviction policies (`allkeys-lru`, ...), or `session`. @default "noeviction" */
  evictionPolicy?: EvictionPolicy;
  /** TTL in ms given to keys written without one; 0 (the default) for none. */
  defaultTtlMs?: number;
  /** Numbered databases, as Redis's `databases`. @default 16 */
  databases?: number;
  /** Keeps the data in this directory (append-only file and snapshots); absent: memory only. */
  dataDir?: string;
  /** Bearer tokens of the HTTP API, each with its role; none: every request is readwrite. */
  tokens?: { token: string; role: "readonly" | "readwrite" | "admin" }[];
}

/**
 * The node's HTTP API as an app of Hono (`app.route("/cache", cache.http)` mounts it), the type
 * Hono's own documentation describes. Its context variables are the node's own business, hence
 * `any` here.
 *
 * @ignore
 */
// deno-lint-ignore no-explicit-any
export type HttpApp = Hono<any>;

/** A value as given to `set`: text (stored as its UTF-8 bytes) or bytes. */
export type CacheValue = string | Uint8Array;

/** An embedded cache; see {@linkcode createCache}. */
export interface Cache {
  /** The value of `key` as text (its bytes read as UTF-8), or null when there is none. */
  get(key: string): Promise<string | null>;
  /** The value of `key` as bytes, or null. */
  getBytes(key: string): Promise<Uint8Array | null>;
  /** Sets `key`; `ttlMs` gives it a time to live. */
  set(key: string, value: CacheValue, options?: { ttlMs?: number }): Promise<void>;
  /** Deletes keys; how many existed. */
  del(...keys: string[]): Promise<number>;
  /** Adds `by` (default 1) to the integer at `key`; the new value. */
  incr(key: string, by?: number): Promise<number>;
  /** Gives `key` a time to live; false when there is no such key. */
  expire(key: string, ttlMs: number): Promise<boolean>;
  /** The values of several keys, null where there is none. */
  mget(...keys: string[]): Promise<(string | null)[]>;
  /** Sets fields of the hash at `key`; how many were new. */
  hset(key: string, fields: Record<string, CacheValue>): Promise<number>;
  /** One field of the hash at `key`, or null. */
  hget(key: string, field: string): Promise<string | null>;
  /** Every field of the hash at `key` (an empty object when there is none). */
  hgetall(key: string): Promise<Record<string, string>>;
  /**
   * The value cached under `key`, or `loader`'s, stored for `ttlMs`. One loader per key runs at a
   * time in the process (concurrent callers share its result). Within `graceMs` after the TTL a
   * stale value is returned at once while one caller refreshes it in the background; a loader
   * that fails is answered with the stale value when there is one. The entry is a hash of its
   * own (`v` the value, `f` when it stops being fresh), so it persists with the store.
   */
  getOrSet(
    key: string,
    loader: () => CacheValue | Promise<CacheValue>,
    options: { ttlMs: number; graceMs?: number },
  ): Promise<string>;
  /**
   * Runs any command of the table, as a Redis client would send it; resolves with the reply
   * (bulk strings as text read as UTF-8) or rejects with the error reply.
   */
  command(...argv: (CacheValue | number)[]): Promise<RespValue>;
  /** The HTTP API (REST routes, the Upstash-compatible API, metrics) as a Hono app, to mount. */
  readonly http: HttpApp;
  /** The HTTP API as a fetch handler (`export default { fetch: cache.fetch }`). */
  readonly fetch: (request: Request) => Response | Promise<Response>;
  /** Stops its timers and, with `dataDir`, makes the data durable and closes the files. */
  close(): Promise<void>;
}

// deno-lint-ignore no-control-regex -- ASCII is exactly the range 0x00-0x7f, controls included.
const ASCII = /^[\x00-\x7f]*$/;

/** Text or bytes as the keyspace keeps them: a latin1 byte string. */
function toBytes(value: CacheValue | number): string {
  if (typeof value === "number") return String(value);
  if (typeof value !== "string") return Buffer.from(value).toString("latin1");
  return ASCII.test(value) ? value : Buffer.from(value, "utf8").toString("latin1");
}

/** A byte string read as UTF-8 text. */
function toText(bytes: string): string {
  return ASCII.test(bytes) ? bytes : Buffer.from(bytes, "latin1").toString("utf8");
}

/** A reply with its bulk strings as text; an error reply rejects. */
function decode(value: RespValue): RespValue {
  if (value instanceof RespError) throw new Error(value.message);
  if (typeof value === "string") return toText(value);
  if (Array.isArray(value)) {
    return value.map((item) => (item instanceof RespError ? item : decode(item)));
  }
  return value;
}

/** getOrSet's entry, written whole: the value, when it stops being fresh, and its expiry (TTL
 * plus grace). */
const STORE_ENTRY =
  "redis.call('hset', KEYS[1], 'v', ARGV[1], 'f', ARGV[2]) redis.call('pexpire', KEYS[1], ARGV[3])";

/**
 * Builds an embedded cache: no socket is opened; with `dataDir` it recovers that directory's
 * data first.
 *
 * @example
 * ```ts
 * import { createCache } from "@hypercache/hypercache";
 * const cache = await createCache({ maxMemory: "64mb", evictionPolicy: "allkeys-lru" });
 * await cache.set("greeting", "hello", { ttlMs: 60_000 });
 * await cache.get("greeting"); // "hello"
 * await cache.command("LPUSH", "jobs", "a", "b"); // 2
 * await cache.close();
 * ```
 *
 * @example Serving the HTTP API with `deno serve` (on Bun: its `serve` with `{ fetch: cache.fetch }`)
 * ```ts ignore
 * import { createCache } from "@hypercache/hypercache";
 * const cache = await createCache();
 * export default { fetch: cache.fetch };
 * ```
 */
export async function createCache(options: CacheOptions = {}): Promise<Cache> {
  const persist = options.dataDir !== undefined;
  const config = buildConfig({
    port: 0,
    databases: options.databases ?? 16,
    data_dir: options.dataDir ?? ".",
    http: { tokens: options.tokens ?? [] },
    persistence: { appendonly: persist },
    stores: [{
      name: "default",
      max_memory: options.maxMemory ?? 0,
      eviction_policy: options.evictionPolicy ?? "noeviction",
      default_ttl: `${options.defaultTtlMs ?? 0}ms`,
      persist,
    }],
  });
  const runtime = await currentRuntime();
  const parts = await assembleNode(config, runtime);
  const { dispatcher, keyspace, persistence, durability } = parts;
  const executor = new HttpExecutor(dispatcher, () => runtime.clock.realtimeMs(), durability);
  const client = executor.client("admin", 0);
  const decoder = new RespDecoder();
  const expiry = setInterval(() => {
    if (dispatcher.scriptBusy === false) keyspace.activeExpireCycle();
  }, ACTIVE_EXPIRE_INTERVAL_MS);
  // A process may end with the cache open: the timer must not keep it alive.
  (expiry as unknown as { unref?: () => void }).unref?.();

  const run = async (argv: (CacheValue | number)[]): Promise<RespValue> => {
    const text = await executor.runText(client, argv.map(toBytes));
    const [value] = decoder.feed(text);
    return value;
  };
  const command = async (...argv: (CacheValue | number)[]) => decode(await run(argv));
  const bulk = async (argv: (CacheValue | number)[]) => {
    const value = await run(argv);
    if (value instanceof RespError) throw new Error(value.message);
    return value as string | null;
  };
  const http = createHttpApp({
    config,
    dispatcher,
    runtime,
    startedMs: parts.startedMs,
    persistence,
    durability,
  });
  // getOrSet: the loads under way, one per key.
  const loading = new Map<string, Promise<string>>();
  const now = () => runtime.clock.realtimeMs();
  const load = (
    key: string,
    loader: () => CacheValue | Promise<CacheValue>,
    ttlMs: number,
    graceMs: number,
  ): Promise<string> => {
    const running = loading.get(key);
    if (running !== undefined) return running;
    const promise = (async () => {
      try {
        const value = await loader();
        await command("EVAL", STORE_ENTRY, 1, key, value, now() + ttlMs, ttlMs + graceMs);
        return typeof value === "string" ? value : toText(toBytes(value));
      } finally {
        loading.delete(key);
      }
    })();
    loading.set(key, promise);
    return promise;
  };
  const getOrSet: Cache["getOrSet"] = async (key, loader, { ttlMs, graceMs = 0 }) => {
    // A TTL of 0 would store an entry that is gone at once: every call would load.
    if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) {
      throw new RangeError(`getOrSet: ttlMs must be a positive integer of ms, not ${ttlMs}`);
    }
    if (!Number.isSafeInteger(graceMs) || graceMs < 0) {
      throw new RangeError(`getOrSet: graceMs must be an integer of ms from 0, not ${graceMs}`);
    }
    const [value, freshUntil] = (await command("HMGET", key, "v", "f")) as (string | null)[];
    if (value === null) return await load(key, loader, ttlMs, graceMs);
    if (Number(freshUntil) > now()) return value;
    // Stale within its grace: answered now, refreshed once in the background, kept on failure.
    load(key, loader, ttlMs, graceMs).catch(() => {});
    return value;
  };

  return {
    getOrSet: async (key, loader, options) => {
      try {
        return await getOrSet(key, loader, options);
      } catch (error) {
        if (error instanceof RangeError) throw error;
        // A failed load with a stale value to give: the stale value.
        const [value] = (await command("HMGET", key, "v")) as (string | null)[];
        if (value !== null) return value;
        throw error;
      }
    },
    get: async (key) => {
      const value = await bulk(["GET", key]);
      return value === null ? null : toText(value);
    },
    getBytes: async (key) => {
      const value = await bulk(["GET", key]);
      return value === null ? null : new Uint8Array(Buffer.from(value, "latin1"));
    },
    set: async (key, value, setOptions) => {
      const ttl = setOptions?.ttlMs;
      await command("SET", key, value, ...(ttl !== undefined ? ["PX", ttl] : []));
    },
    del: async (...keys) => (await command("DEL", ...keys)) as number,
    incr: async (key, by = 1) => (await command("INCRBY", key, by)) as number,
    expire: async (key, ttlMs) => (await command("PEXPIRE", key, ttlMs)) === 1,
    mget: async (...keys) => (await command("MGET", ...keys)) as (string | null)[],
    hset: async (key, fields) =>
      (await command("HSET", key, ...Object.entries(fields).flat())) as number,
    hget: async (key, field) => (await command("HGET", key, field)) as string | null,
    hgetall: async (key) => {
      const flat = (await command("HGETALL", key)) as string[];
      const fields: Record<string, string> = {};
      for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]] = flat[i + 1];
      return fields;
    },
    command,
    http,
    fetch: (request) => http.fetch(request),
    close: async () => {
      clearInterval(expiry);
      await persistence?.close();
    },
  };
}
