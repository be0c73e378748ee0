/**
 * Limits and defaults in one place, each with the reason for its number. Config values override
 * the defaults; `validateConfig` checks that they fit together.
 *
 * @module
 */

import { constants } from "node:buffer";

/** Redis's `proto-max-bulk-len` default: the largest single argument a client may send. */
export const DEFAULT_MAX_BULK_BYTES = 512 * 1024 * 1024;

/**
 * The longest string the runtime can make: arguments and values are latin1 strings, so no
 * argument or value may be longer, whatever `proto-max-bulk-len` says. V8 (Deno) stops at
 * 536,870,888 characters, 24 below 512 MiB; JavaScriptCore (Bun) at 2^31 - 1.
 */
export const MAX_STRING_BYTES: number = constants.MAX_STRING_LENGTH;

/** The largest argument or string value a node accepts: `proto-max-bulk-len`, capped by the
 * runtime's string limit. */
export function effectiveMaxBulkBytes(configured: number): number {
  return Math.min(configured, MAX_STRING_BYTES);
}

/** Redis's limits for a connection that has not authenticated yet (when a password is set):
 * a few small arguments, enough for AUTH and HELLO, so that nobody can fill memory unasked. */
export const UNAUTHENTICATED_MAX_MULTIBULK_LENGTH = 10;
export const UNAUTHENTICATED_MAX_BULK_BYTES = 16 * 1024;

/** Redis accepts up to INT_MAX arguments; a million is far beyond any real command and bounds
 * the argument array a header can make us build. */
export const DEFAULT_MAX_MULTIBULK_LENGTH = 1024 * 1024;

/** Redis's `client-query-buffer-limit` default: unparsed input kept per client. */
export const DEFAULT_MAX_QUERY_BUFFER_BYTES = 1024 * 1024 * 1024;

/** Redis's PROTO_INLINE_MAX_SIZE: an inline command or a RESP header line without a newline
 * after this many bytes is an attack or a bug, not a command. */
export const MAX_INLINE_BYTES = 64 * 1024;

/** Replies a connection may have waiting behind a pending one (blocked, held for fsync, later
 * forwarded): the bound of `limits.max_waiting_replies`, far above any real pipeline. */
export const DEFAULT_MAX_WAITING_REPLIES = 100_000;

/** Redis's `client-output-buffer-limit` for normal clients, as one hard limit: replies queued
 * for a client that does not read them. */
export const DEFAULT_MAX_OUTPUT_BUFFER_BYTES = 256 * 1024 * 1024;
/** Redis's `client-output-buffer-limit pubsub` hard limit: messages queued for a subscriber. */
export const DEFAULT_MAX_PUBSUB_OUTPUT_BYTES = 32 * 1024 * 1024;
/** Pending output above which a connection stops being read until its replies drain: a client
 * that pipelines faster than it reads cannot grow our memory past this plus one read. */
export const PAUSE_READ_PENDING_BYTES = 4 * 1024 * 1024;
/** Commands a client may pipeline behind a blocked command before it is disconnected. */
export const MAX_COMMANDS_BEHIND_BLOCKED = 100_000;

/** Most arguments an AOF record may have; a larger count is damage, not a command. No command
 * the node accepts may have more (`max_multibulk_length` is checked against it), or it could be
 * acknowledged and then never replayed. */
export const MAX_AOF_RECORD_ARGS = 1024 * 1024;
/** Largest argument an AOF record may hold (Redis's largest `proto-max-bulk-len`). */
export const MAX_AOF_ARG_BYTES = 2 ** 32;

/** Largest HTTP request body by default: a big pipeline fits, a runaway upload does not. */
export const DEFAULT_HTTP_MAX_BODY_BYTES = 16 * 1024 * 1024;
/** Commands in one HTTP pipeline or transaction; a bigger batch is a client bug. */
export const MAX_HTTP_BATCH_COMMANDS = 100_000;
/** The longest HTTP request target (path and query, in bytes) the API reads: below both
 * runtimes' own limits (Deno 64 KiB, Bun 16 KiB for the whole head), so ours answers in JSON. */
export const MAX_URL_BYTES = 8 * 1024;
/** The most bytes of HTTP header fields the API reads (under Bun's 16 KiB head with the URL). */
export const MAX_HEADER_BYTES = 7 * 1024;
/** The most HTTP header fields a request may have (Deno refuses past about 125). */
export const MAX_HEADER_COUNT = 100;
/** The deepest nesting of arrays and objects in JSON the API parses or re-encodes: JSON.parse
 * and JSON.stringify recurse, and JavaScriptCore's stack (Bun) overflows where V8's does not. */
export const MAX_JSON_DEPTH = 512;

/** Automatic snapshot after this many writes (Redis's `save 60 10000` count). */
export const DEFAULT_SNAPSHOT_EVERY_WRITES = 10_000;
/** Least time between automatic snapshots, and the period of one after any write (Redis's
 * `save 60 10000` time). */
export const DEFAULT_SNAPSHOT_INTERVAL_MS = 60_000;
/** Rewrite the AOF when it doubled since the last rewrite (Redis's `auto-aof-rewrite-percentage`
 * 100) and is at least 64 MB (`auto-aof-rewrite-min-size`). */
export const DEFAULT_AUTO_REWRITE_PERCENTAGE = 100;
export const DEFAULT_AUTO_REWRITE_MIN_BYTES = 64 * 1024 * 1024;

/** Redis's `maxclients` default. */
export const DEFAULT_MAX_CLIENTS = 10_000;

/** Redis's `databases` default: SELECT 0-15 works as tooling written for Redis expects. */
export const DEFAULT_DATABASES = 16;
/** Each store costs its tables even when empty, and snapshots keep a store's index in 16 bits;
 * 1024 is far past what anyone runs (Redis users rarely go beyond a few dozen). */
export const MAX_DATABASES = 1024;

/** `new` keyspace events held for the running command's own events, past which they are sent
 * at once (keys added with no command, a slot import, would otherwise pile up). */
export const MAX_PENDING_NEW_EVENTS = 4096;

/** Keys sampled per eviction step, as Redis's `maxmemory-samples`. */
export const DEFAULT_EVICTION_SAMPLES = 5;

/** Active expiry: keys sampled per round and the share of expired keys that makes it go on,
 * as in Redis (20 keys, more than 25% expired). */
export const ACTIVE_EXPIRE_SAMPLE_COUNT = 20;
export const ACTIVE_EXPIRE_REPEAT_RATIO = 0.25;
/** Time budget of one active-expiry cycle, so it never stalls the event loop. */
export const ACTIVE_EXPIRE_CYCLE_MS = 2;
/** How often the active-expiry cycle runs (Redis's `hz` 10). */
export const ACTIVE_EXPIRE_INTERVAL_MS = 100;

/** Approximate bytes a key costs beyond its key and value bytes (map slot, entry object). */
export const ENTRY_OVERHEAD_BYTES = 64;

/**
 * Redis's `hll-sparse-max-bytes` default: a HyperLogLog's sparse encoding (header included) may
 * grow to this many bytes before PFADD or PFMERGE make it dense (12304 bytes). Past a few KB a
 * sparse update, which scans and shifts the opcodes, costs more than the bytes it saves; the
 * node has no setting for it, and Redis's default keeps a value's bytes equal to redis-server's.
 */
export const HLL_SPARSE_MAX_BYTES = 3000;
