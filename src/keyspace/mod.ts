/**
 * The keyspace: named stores of binary-safe keys with millisecond TTLs (lazy and active expiry),
 * memory accounting, Redis's eviction policies plus `session`, an optional cuckoo filter, and an
 * index by hash slot.
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
 * keyspace.store(0).countKeysInSlot(12739); // keys in one Redis Cluster hash slot
 * ```
 *
 * Each store indexes its keys by hash slot (`keySlot`): it counts a slot's keys in O(1), lists
 * and deletes them in time proportional to their number, and keeps a 64-bit digest per slot for
 * anti-entropy between replicas (what it covers: `digest.ts`).
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
export { addDigests, entryDigest, MAX_VERSION, TYPE_TAGS } from "./digest.ts";
export type { Clock } from "../clock.ts";
