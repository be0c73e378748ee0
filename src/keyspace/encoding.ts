/**
 * Redis's encoding thresholds: past them a small container reports, and from then on keeps,
 * the large encoding (OBJECT ENCODING), and a small hash stops keeping insertion order. The node
 * keeps one layout per type whatever the size; these decide only what is reported and the order
 * Redis's compact encodings imply. `CONFIG SET hash-max-listpack-entries ...` changes them for
 * the whole process, as Redis's settings are its process's; a container converts at its next
 * write, as in Redis.
 *
 * @module
 */
export const encodingLimits = {
  /** `hash-max-listpack-entries` (`hash-max-ziplist-entries`). */
  hashMaxListpackEntries: 512,
  /** `hash-max-listpack-value` (`hash-max-ziplist-value`): bytes of a field or value. */
  hashMaxListpackValue: 64,
  /** `set-max-intset-entries`. */
  setMaxIntsetEntries: 512,
  /** `zset-max-listpack-entries` (`zset-max-ziplist-entries`). */
  zsetMaxListpackEntries: 128,
  /** `zset-max-listpack-value` (`zset-max-ziplist-value`): bytes of a member. */
  zsetMaxListpackValue: 64,
};
