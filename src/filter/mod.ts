/**
 * A cuckoo filter that grows instead of failing and supports deletion; HyperCache puts one in
 * front of a store to answer misses without a lookup.
 *
 * @example
 * ```ts
 * import { CuckooFilter } from "@hypercache/hypercache/filter";
 * const filter = new CuckooFilter({ capacity: 10_000, errorRate: 0.001 });
 * filter.add("session:42");
 * filter.mayContain("session:42"); // true
 * ```
 *
 * @module
 */
export { CuckooFilter, type CuckooFilterOptions } from "./cuckoo.ts";
