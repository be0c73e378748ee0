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

/** Redis's `maxclients` default. */
export const DEFAULT_MAX_CLIENTS = 10_000;

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
