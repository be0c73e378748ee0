/**
 * Value types. A string value is a latin1 string (one char per byte); containers are classes that
 * keep their own byte count so memory accounting stays O(1) per change.
 *
 * @module
 */

/** Bytes a container element costs beyond its own bytes (map or array slot). */
export const ELEMENT_OVERHEAD_BYTES = 16;

/** A container value: hash, list, set or sorted set. */
export interface Container {
  readonly type: "hash" | "list" | "set" | "zset";
  /** Bytes of the elements, with per-element overhead. */
  sizeBytes: number;
  /** Element count (HLEN, LLEN, SCARD, ZCARD). */
  readonly length: number;
  /** A deep copy (COPY). */
  clone(): Container;
  /** The encoding Redis 7.0 would report for the same contents (OBJECT ENCODING). */
  encoding(): string;
}

export type Value = string | Container;

/** The name TYPE replies with. */
export function typeName(value: Value): string {
  return typeof value === "string" ? "string" : value.type;
}

export function valueSizeBytes(value: Value): number {
  return typeof value === "string" ? value.length : value.sizeBytes;
}
