/**
 * Limits and defaults of the hash ring and the slot map, in one place.
 *
 * @module
 */

/**
 * Number of hash slots. Fixed by Redis Cluster, so that cluster-aware Redis clients compute the
 * same slot for a key as we do.
 *
 * @example
 * ```ts
 * import { SLOT_COUNT } from "@hypercache/hypercache/ring";
 * console.log(SLOT_COUNT); // 16384
 * ```
 */
export const SLOT_COUNT = 16384;

/**
 * Virtual-node tokens per node of weight 1. With 256, the ring alone gives each node its share to
 * about 6% (standard deviation; see bench/ring_distribution.ts), so balancing moves few slots,
 * while a 100-node ring still builds in about 10 ms.
 *
 * @example
 * ```ts
 * import { DEFAULT_TOKENS_PER_NODE } from "@hypercache/hypercache/ring";
 * console.log(DEFAULT_TOKENS_PER_NODE); // 256
 * ```
 */
export const DEFAULT_TOKENS_PER_NODE = 256;

/**
 * Nodes holding each slot (the owner and its replicas) unless a slot map is built with another
 * `replicationFactor`: one copy can be lost while a majority of the copies stays readable.
 *
 * @example
 * ```ts
 * import { DEFAULT_REPLICATION_FACTOR } from "@hypercache/hypercache/ring";
 * console.log(DEFAULT_REPLICATION_FACTOR); // 3
 * ```
 */
export const DEFAULT_REPLICATION_FACTOR = 3;

/**
 * Most nodes in one ring. More nodes than slots would leave some owning nothing, and the slot
 * map stores owner indexes in 16 bits.
 *
 * @example
 * ```ts
 * import { MAX_NODE_COUNT } from "@hypercache/hypercache/ring";
 * console.log(MAX_NODE_COUNT); // 16384
 * ```
 */
export const MAX_NODE_COUNT = 16384;

/**
 * Most virtual-node tokens per node of weight 1. Beyond this, more tokens no longer improve the
 * spread noticeably and only cost build time.
 *
 * @example
 * ```ts
 * import { MAX_TOKENS_PER_NODE } from "@hypercache/hypercache/ring";
 * console.log(MAX_TOKENS_PER_NODE); // 4096
 * ```
 */
export const MAX_TOKENS_PER_NODE = 4096;

/**
 * Most tokens in one ring, all nodes together: bounds the memory (6 bytes per token, 14 while
 * building) and the build time (one SHA-256 per 8 tokens) of a ring.
 *
 * @example
 * ```ts
 * import { MAX_TOKEN_COUNT } from "@hypercache/hypercache/ring";
 * console.log(MAX_TOKEN_COUNT); // 2097152
 * ```
 */
export const MAX_TOKEN_COUNT = 2_097_152;

/**
 * Largest node weight. A weight scales a node's token count and its share of slots; 1000x the
 * smallest sensible node is already more than any real cluster mixes.
 *
 * @example
 * ```ts
 * import { MAX_WEIGHT } from "@hypercache/hypercache/ring";
 * console.log(MAX_WEIGHT); // 1000
 * ```
 */
export const MAX_WEIGHT = 1000;

/**
 * Longest node id or zone name, in UTF-8 bytes: both are stored with a one-byte length in the
 * encoded slot map.
 *
 * @example
 * ```ts
 * import { MAX_NAME_BYTES } from "@hypercache/hypercache/ring";
 * console.log(MAX_NAME_BYTES); // 255
 * ```
 */
export const MAX_NAME_BYTES = 255;

/**
 * Most copies of a slot. More than a handful of copies of a cache slot only multiplies write
 * traffic; the limit keeps replica tables small (slots x copies x 2 bytes).
 *
 * @example
 * ```ts
 * import { MAX_REPLICATION_FACTOR } from "@hypercache/hypercache/ring";
 * console.log(MAX_REPLICATION_FACTOR); // 16
 * ```
 */
export const MAX_REPLICATION_FACTOR = 16;
