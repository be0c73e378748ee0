/**
 * Value types. A string value is a latin1 string (one char per byte); containers are classes that
 * keep their own byte count so memory accounting stays O(1) per change.
 *
 * @module
 */

/** Bytes a container element costs beyond its own bytes (map or array slot). */
export const ELEMENT_OVERHEAD_BYTES = 16;

/** A container value: hash, list, set, sorted set or stream. */
export interface Container {
  /** The Redis type name. */
  readonly type: "hash" | "list" | "set" | "zset" | "stream";
  /** Bytes of the elements, with per-element overhead. */
  sizeBytes: number;
  /** `sizeBytes` when its store last counted it (the store's business). */
  accountedBytes: number;
  /** Element count (HLEN, LLEN, SCARD, ZCARD, XLEN). */
  readonly length: number;
  /** A deep copy (COPY). */
  clone(): Container;
  /** The encoding Redis 7.0 would report for the same contents (OBJECT ENCODING). */
  encoding(): string;
  /**
   * The elements as a flat list of byte strings, for snapshots and AOF rewrite: a hash as
   * field, value, ...; a list in order; a set's members; a sorted set as member, score, ... in
   * rank order, scores formatted as Redis replies with them; a stream as `StreamValue.dump`
   * describes.
   */
  dump(): string[];
}

/** Rebuilds a container from `dump()`'s output; one per container type. */
export type ContainerRestore = (elements: string[]) => Container;

const restorers = new Map<Container["type"], ContainerRestore>();

/** Registers how a container type is rebuilt from a snapshot. */
export function registerContainer(type: Container["type"], restore: ContainerRestore): void {
  restorers.set(type, restore);
}

/** Rebuilds a container of `type` from its dumped elements. */
export function restoreContainer(type: string, elements: string[]): Container {
  const restore = restorers.get(type as Container["type"]);
  if (restore === undefined) throw new TypeError(`Cannot restore value: unknown type '${type}'`);
  return restore(elements);
}

/** A stored value: a latin1 string, or a container. */
export type Value = string | Container;

/** The name TYPE replies with. */
export function typeName(value: Value): string {
  return typeof value === "string" ? "string" : value.type;
}
