/**
 * HyperCache: a distributed, Redis-compatible cache runtime for Deno and Bun. This module is its
 * library: the building blocks a node is made of, each usable on its own.
 *
 * - `CuckooFilter`: a growing cuckoo filter with deletion.
 * - `Keyspace`, `Store`: named stores with TTLs, memory accounting and eviction policies.
 * - `RespParser`, `ReplyWriter`: the RESP2/RESP3 codec.
 *
 * @example
 * ```ts
 * import { CuckooFilter } from "@hypercache/hypercache";
 * const filter = new CuckooFilter({ capacity: 1000 });
 * filter.add("k");
 * filter.mayContain("k"); // true
 * ```
 *
 * @module
 */
export * from "./src/filter/mod.ts";
export * from "./src/keyspace/mod.ts";
export * from "./src/resp/mod.ts";
export * from "./src/ring/mod.ts";
