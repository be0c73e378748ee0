/**
 * HyperCache: a distributed, Redis-compatible cache runtime for Deno and Bun. This module is its
 * library: the building blocks a node is made of, each usable on its own.
 *
 * - `CuckooFilter`: a growing cuckoo filter with deletion.
 * - `Keyspace`, `Store`: named stores with TTLs, memory accounting and eviction policies.
 * - `RespParser`, `ReplyWriter`, `RespDecoder`: the RESP2/RESP3 codec.
 * - `keySlot`, `HashRing`, `SlotMap`: Redis Cluster key slots and consistent-hash placement.
 * - `raft`: a sans-I/O Raft core (etcd's model) with durable storage and a TCP transport; also
 *   importable as `@hypercache/hypercache/raft`.
 * - `gossip`: SWIM membership with Lifeguard over UDP; also `@hypercache/hypercache/gossip`.
 *
 * @example
 * ```ts
 * import { CuckooFilter, keySlot } from "@hypercache/hypercache";
 * const filter = new CuckooFilter({ capacity: 1000 });
 * filter.add("k");
 * filter.mayContain("k"); // true
 * keySlot("{user1}.name") === keySlot("{user1}.email"); // true: same hash tag
 * ```
 *
 * @module
 */
export * from "./src/filter/mod.ts";
export * from "./src/keyspace/mod.ts";
export * from "./src/resp/mod.ts";
export * from "./src/ring/mod.ts";
export * as raft from "./src/raft/mod.ts";
export * as gossip from "./src/gossip/mod.ts";
export {
  type Cache,
  type CacheOptions,
  type CacheValue,
  createCache,
  type HttpApp,
} from "./src/embedded/cache.ts";
