/**
 * The keyspace: named stores of binary-safe keys with millisecond TTLs (lazy and active expiry),
 * memory accounting, Redis's eviction policies plus `session`, and an optional cuckoo filter.
 *
 * @example
 * ```ts
 * import { Keyspace } from "@hypercache/hypercache/keyspace";
 * const clock = { monotonicMs: () => performance.now(), realtimeMs: () => Date.now() };
 * const keyspace = new Keyspace([
 *   { name: "default", maxMemoryBytes: 0, evictionPolicy: "noeviction", defaultTtlMs: 0 },
 *   { name: "sessions", maxMemoryBytes: 64 << 20, evictionPolicy: "session", defaultTtlMs: 30_000 },
 * ], clock);
 * keyspace.find("sessions")!.set("s:1", "alice"); // expires 30 s after its last read
 * ```
 *
 * @module
 */
export { Keyspace } from "./keyspace.ts";
export {
  Entry,
  EVICTION_POLICIES,
  type EvictionPolicy,
  type KeyWatcher,
  type RemovalCause,
  Store,
  type StoreOptions,
  type StoreStats,
} from "./store.ts";
export { type Container, typeName, type Value } from "./values.ts";
export { type Keyed, KeyTable } from "./_table.ts";
export type { Clock } from "../runtime/types.ts";
