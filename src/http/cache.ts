/**
 * The REST routes over the keyspace: `/api/cache/{key}` and `/api/stores/{store}/cache/{key}`
 * (PUT/POST, GET, DELETE), `/api/stores` and `/api/stores/{store}/stats`. Every read and write
 * runs through the command table (SET, GET, PTTL, DEL), as over RESP.
 *
 * Values:
 * - Keys are percent-decoded path segments; the key is the UTF-8 bytes of that text (a `/` in a
 *   key is sent as `%2F`).
 * - A JSON string value is stored as its UTF-8 bytes. Any other JSON value (number, boolean,
 *   null, object, array) is stored as its JSON text (`{"a":1}` is stored as those 7 bytes), the
 *   way `@upstash/redis` serialises values, so both read each other's values.
 * - Binary values: `{"value": "<base64>", "encoding": "base64"}`, or the raw bytes as the body
 *   with `Content-Type: application/octet-stream` (TTL then from `?ttl=`).
 * - GET returns `value` as text with `"encoding": "utf8"` when the bytes are valid UTF-8, and as
 *   base64 with `"encoding": "base64"` otherwise, so nothing is lost. `?encoding=base64` always
 *   gives base64; `?encoding=json` parses the stored text as JSON (`"encoding": "json"`), and
 *   falls back to the utf8/base64 rule when it is not JSON or nests deeper than
 *   `MAX_JSON_DEPTH`.
 * - `ttl` is in seconds: on write a positive number (fractions allowed, ms precision; absent, 0
 *   or null for none); on read the seconds remaining with ms precision, or null for no expiry.
 *
 * @module
 */
import type { Context, Hono, MiddlewareHandler } from "hono";
import type { ClientState } from "../commands/types.ts";
import type { NodeConfig } from "../config/config.ts";
import type { Store } from "../keyspace/store.ts";
import { RespError } from "../resp/decoder.ts";
import { errorStatus, type HttpEnv, jsonError, readJson, roleOf } from "./_env.ts";
import {
  base64ToBytes,
  bytesToBase64,
  bytesToUtf8,
  bytesToUtf8Strict,
  rawToBytes,
  utf8ToBytes,
} from "./_text.ts";
import { type HttpExecutor, whenDone } from "./executor.ts";
import { jsonDeeperThan, MAX_JSON_DEPTH } from "./limits.ts";

const JSON_HEADERS = { "Content-Type": "application/json" };

interface Located {
  store: Store;
  key: string;
  /** The key as bytes (latin1). */
  keyBytes: string;
}

/** A value to store, or why the body does not give one. */
type Written = { bytes: string; ttlMs: number } | { error: string };

function ttlMs(ttl: unknown): number | string {
  if (ttl === undefined || ttl === null || ttl === 0) return 0;
  const seconds = typeof ttl === "string" && ttl.trim() !== "" ? Number(ttl) : ttl;
  if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds < 0) {
    return `ERR ttl must be a non-negative number of seconds: current value is ${
      JSON.stringify(ttl)
    }`;
  }
  return seconds === 0 ? 0 : Math.max(1, Math.round(seconds * 1000));
}

async function writtenValue(c: Context): Promise<Written> {
  const type = c.req.header("content-type") ?? "";
  if (type.startsWith("application/octet-stream")) {
    const ttl = ttlMs(c.req.query("ttl"));
    if (typeof ttl === "string") return { error: ttl };
    return { bytes: rawToBytes(await c.req.arrayBuffer()), ttlMs: ttl };
  }
  const body = await readJson(c);
  if (!body.ok) return { error: body.error };
  const value = body.value as Record<string, unknown>;
  if (typeof value !== "object" || value === null || Array.isArray(value) || !("value" in value)) {
    return { error: 'ERR the body must be a JSON object with a "value" field' };
  }
  const ttl = ttlMs(value.ttl);
  if (typeof ttl === "string") return { error: ttl };
  const encoding = value.encoding ?? "utf8";
  if (encoding === "base64") {
    const bytes = typeof value.value === "string" ? base64ToBytes(value.value) : null;
    if (bytes === null) return { error: 'ERR "value" is not base64 text, as "encoding" says' };
    return { bytes, ttlMs: ttl };
  }
  if (encoding !== "utf8") {
    return {
      error: `ERR "encoding" must be "utf8" or "base64": current value is ${
        JSON.stringify(encoding)
      }`,
    };
  }
  const text = typeof value.value === "string" ? value.value : JSON.stringify(value.value);
  return { bytes: utf8ToBytes(text), ttlMs: ttl };
}

/** The value of a GET reply as JSON, with the encoding used. */
function readValue(
  bytes: string,
  wanted: string | undefined,
): { value: unknown; encoding: "utf8" | "base64" | "json" } {
  if (wanted === "base64") return { value: bytesToBase64(bytes), encoding: "base64" };
  const text = bytesToUtf8Strict(bytes);
  if (text === null) return { value: bytesToBase64(bytes), encoding: "base64" };
  // Text nested too deep to parse safely is returned as text, like text that is not JSON.
  if (wanted === "json" && !jsonDeeperThan(text, MAX_JSON_DEPTH)) {
    try {
      return { value: JSON.parse(text), encoding: "json" };
    } catch {
      // Not JSON: the text itself, as the default rule gives it.
    }
  }
  return { value: text, encoding: "utf8" };
}

/** Adds the REST routes to `app`. */
export function addCacheRoutes(
  app: Hono<HttpEnv>,
  executor: HttpExecutor,
  config: NodeConfig,
  bodyLimit: MiddlewareHandler<HttpEnv>,
): void {
  const keyspace = executor.dispatcher.keyspace;
  const placement = { node: config.nodeId, primary: config.nodeId, local: true, forwarded: false };
  // The tail of every GET reply, serialised once.
  const placementJson = JSON.stringify(placement).slice(1);

  /** The store and key of a request, or a 404 response for an unknown store. */
  const locate = (c: Context<HttpEnv>): Located | Response => {
    const storeName = c.req.param("store");
    const store = storeName === undefined ? keyspace.store(0) : keyspace.find(storeName);
    if (store === undefined) {
      return jsonError(c, 404, `ERR no such store '${storeName}'`, { store: storeName });
    }
    const key = c.req.param("key") ?? "";
    return { store, key, keyBytes: utf8ToBytes(key) };
  };

  const client = (c: Context<HttpEnv>, store: Store): ClientState =>
    executor.client(roleOf(c), store.index);

  const commandError = (c: Context<HttpEnv>, at: Located, error: RespError) =>
    jsonError(c, errorStatus(error.message), bytesToUtf8(error.message), {
      key: at.key,
      store: at.store.name,
    });

  const put = async (c: Context<HttpEnv>) => {
    const at = locate(c);
    if (at instanceof Response) return at;
    const written = await writtenValue(c);
    if ("error" in written) return jsonError(c, 400, written.error);
    const argv = ["SET", at.keyBytes, written.bytes];
    if (written.ttlMs > 0) argv.push("PX", String(written.ttlMs));
    const reply = await executor.run(client(c, at.store), argv);
    if (reply.value instanceof RespError) return commandError(c, at, reply.value);
    return c.json({
      key: at.key,
      store: at.store.name,
      ttl: written.ttlMs > 0 ? written.ttlMs / 1000 : null,
      stored: true,
      ...placement,
    });
  };

  const get = (c: Context<HttpEnv>) => {
    const at = locate(c);
    if (at instanceof Response) return at;
    const as = client(c, at.store);
    return whenDone(executor.run(as, ["GET", at.keyBytes]), (reply) => {
      if (reply.value instanceof RespError) return commandError(c, at, reply.value);
      if (reply.value === null) {
        return jsonError(c, 404, "ERR no such key", { key: at.key, store: at.store.name });
      }
      const found = reply.value as string;
      return whenDone(
        executor.run(as, ["PTTL", at.keyBytes]),
        (pttl) => foundReply(c, at, found, pttl.value),
      );
    });
  };

  const foundReply = (c: Context<HttpEnv>, at: Located, found: string, pttl: unknown) => {
    const { value, encoding } = readValue(found, c.req.query("encoding"));
    const ttl = typeof pttl === "number" && pttl >= 0 ? pttl / 1000 : null;
    // The hot path: the reply text is put together directly instead of c.json on a new object.
    return c.body(
      `{"key":${JSON.stringify(at.key)},"value":${
        JSON.stringify(value)
      },"encoding":"${encoding}",` +
        `"ttl":${ttl},"store":${JSON.stringify(at.store.name)},${placementJson}`,
      200,
      JSON_HEADERS,
    );
  };

  const del = (c: Context<HttpEnv>) => {
    const at = locate(c);
    if (at instanceof Response) return at;
    return whenDone(executor.run(client(c, at.store), ["DEL", at.keyBytes]), (reply) => {
      if (reply.value instanceof RespError) return commandError(c, at, reply.value);
      return c.json({
        key: at.key,
        store: at.store.name,
        deleted: reply.value === 1,
        ...placement,
      });
    });
  };

  for (const prefix of ["/api/cache", "/api/stores/:store/cache"]) {
    app.on(["PUT", "POST"], `${prefix}/:key`, bodyLimit, put);
    app.get(`${prefix}/:key`, get);
    app.delete(`${prefix}/:key`, del);
  }

  app.get("/api/stores", (c) => c.json({ stores: keyspace.stores.map(storeSummary) }));

  app.get("/api/stores/:store/stats", (c) => {
    const name = c.req.param("store");
    const store = keyspace.find(name);
    if (store === undefined) {
      return jsonError(c, 404, `ERR no such store '${name}'`, { store: name });
    }
    return c.json(storeStats(store));
  });

  app.all("/api/*", (c) => jsonError(c, 404, "Not Found", { path: c.req.path }));
}

function storeSummary(store: Store) {
  return {
    name: store.name,
    index: store.index,
    keys: store.size,
    expires: store.volatileCount,
    used_memory_bytes: store.usedMemoryBytes,
    max_memory_bytes: store.options.maxMemoryBytes,
    eviction_policy: store.options.evictionPolicy,
    default_ttl_ms: store.options.defaultTtlMs,
    persist: store.options.persist,
  };
}

function storeStats(store: Store) {
  const filter = store.filter;
  return {
    ...storeSummary(store),
    hits: store.stats.hits,
    misses: store.stats.misses,
    evictions: store.stats.evictions,
    expirations: store.stats.expirations,
    filter: filter === null ? null : {
      items: filter.count,
      slots: filter.slotCount,
      load: filter.load,
      size_bytes: filter.sizeBytes,
      estimated_false_positive_rate: filter.estimatedFalsePositiveRate,
      negatives: store.stats.filterNegatives,
    },
  };
}
