/**
 * The stream value, as Redis 7.0 keeps one: entries ordered by ID in nodes (Redis's listpacks
 * in a radix tree), the last generated ID, the count of entries ever added, the largest deleted
 * ID, and consumer groups with their pending entries lists.
 *
 * An ID is one 128-bit `bigint`: the milliseconds in the high 64 bits, the sequence number in
 * the low 64, so that IDs compare as numbers and the next ID is `id + 1n` (a sequence that
 * overflows carries into the milliseconds, as Redis's increment does).
 *
 * Nodes follow Redis's rules for where one ends, so that approximate trimming (`MAXLEN ~`),
 * which removes whole nodes only, and `XINFO STREAM`'s radix tree figures come out as Redis's:
 * a node holds at most `stream-node-max-entries` (100) entries, deleted ones included, and a new
 * node starts when the entry would take the node's listpack to `stream-node-max-bytes` (4096);
 * the listpack's size is worked out from Redis 7.0's layout (master entry, per-entry flags, ID
 * deltas, same-fields compression, integer encodings). A deleted entry stays in its node, as in
 * Redis, until the whole node is removed.
 *
 * Sans-I/O: the caller passes the time (`now`) where one is needed.
 *
 * @module
 */
import { type Container, ELEMENT_OVERHEAD_BYTES, registerContainer } from "./values.ts";

/** A stream ID: milliseconds in the high 64 bits, sequence in the low 64. */
export type StreamId = bigint;

const U64_MAX = (1n << 64n) - 1n;
/** The largest ID, `18446744073709551615-18446744073709551615`. */
export const MAX_ID: StreamId = (1n << 128n) - 1n;
/** Group entries-read that cannot be known (Redis's `SCG_INVALID_ENTRIES_READ`). */
export const INVALID_ENTRIES_READ = -1n;

/** Redis 7.0's `stream-node-max-entries` and `stream-node-max-bytes` defaults. */
export const NODE_MAX_ENTRIES = 100;
export const NODE_MAX_BYTES = 4096;

/** Bytes of JS bookkeeping per entry, pending entry, consumer and group (memory accounting). */
const ENTRY_OVERHEAD_BYTES = 64;
const PENDING_OVERHEAD_BYTES = 96;
const CONSUMER_OVERHEAD_BYTES = 96;
const GROUP_OVERHEAD_BYTES = 160;

export function streamId(ms: bigint, seq: bigint): StreamId {
  return (ms << 64n) | seq;
}

export function idMs(id: StreamId): bigint {
  return id >> 64n;
}

export function idSeq(id: StreamId): bigint {
  return id & U64_MAX;
}

/** `ms-seq`, as Redis writes an ID. */
export function formatId(id: StreamId): string {
  return `${id >> 64n}-${id & U64_MAX}`;
}

/** Reads an ID as `formatId` wrote it. */
export function parseFormattedId(text: string): StreamId {
  const dash = text.indexOf("-");
  if (dash <= 0) throw new TypeError(`bad stream ID '${text}'`);
  return streamId(BigInt(text.slice(0, dash)), BigInt(text.slice(dash + 1)));
}

// Listpack sizes (Redis 7.0's layout), for where a node ends.

/** Bytes of an element's encoding and data when it holds the integer `value`. */
function integerLength(value: bigint | number): number {
  const v = typeof value === "number" ? value : value;
  if (v >= 0 && v <= 127) return 1;
  if (v >= -4096 && v <= 4095) return 2;
  if (v >= -32768 && v <= 32767) return 3;
  if (v >= -8388608 && v <= 8388607) return 4;
  if (v >= -2147483648 && v <= 2147483647) return 5;
  return 9;
}

/** Bytes of a whole element whose encoding and data take `length` (the back-length added). */
function withBacklen(length: number): number {
  if (length <= 127) return length + 1;
  if (length < 16383) return length + 2;
  if (length < 2097151) return length + 3;
  if (length < 268435455) return length + 4;
  return length + 5;
}

const CANONICAL_INTEGER = /^(0|-?[1-9][0-9]{0,18})$/;
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

/** Bytes of an element holding `text` (a listpack stores a canonical 64-bit integer as one). */
function stringElement(text: string): number {
  const n = text.length;
  if (n <= 20 && CANONICAL_INTEGER.test(text)) {
    const value = n <= 15 ? Number(text) : BigInt(text);
    if (typeof value === "number" || (value >= INT64_MIN && value <= INT64_MAX)) {
      return withBacklen(integerLength(value));
    }
  }
  return withBacklen(n < 64 ? 1 + n : n < 4096 ? 2 + n : 5 + n);
}

function integerElement(value: bigint | number): number {
  return withBacklen(integerLength(value));
}

/** A 64-bit difference as Redis stores it (wrapped to a signed 64-bit integer). */
function delta(a: bigint, b: bigint): bigint {
  return BigInt.asIntN(64, a - b);
}

/** One node: Redis's listpack of entries, keyed in the radix tree by its master ID. */
export class StreamNode {
  /** IDs of the node's entries, deleted ones included, ascending. */
  readonly ids: StreamId[] = [];
  /** Each entry's fields and values (`field, value, ...`), null once deleted. */
  readonly entries: (string[] | null)[] = [];
  live = 0;
  deleted = 0;
  /** Listpack bytes apart from the master entry's two counters. */
  baseBytes: number;

  constructor(
    /** The ID of the node's first entry (Redis's master entry ID, the radix tree key). */
    readonly master: StreamId,
    /** The master entry's field names. */
    readonly masterFields: readonly string[],
    baseBytes?: number,
  ) {
    if (baseBytes !== undefined) {
      this.baseBytes = baseBytes;
      return;
    }
    // Header (total bytes, element count), terminator, field count, fields, the master's 0.
    let bytes = 6 + 1 + integerElement(masterFields.length) + integerElement(0);
    for (const field of masterFields) bytes += stringElement(field);
    this.baseBytes = bytes;
  }

  /** The listpack's size in bytes. */
  get bytes(): number {
    return this.baseBytes + integerElement(this.live) + integerElement(this.deleted);
  }

  /** Appends an entry (its ID above every ID here) and returns the bytes it took. */
  append(id: StreamId, fields: string[]): number {
    const same = this.sameFields(fields);
    const pairs = fields.length / 2;
    let bytes = 2; // flags
    bytes += integerElement(delta(idMs(id), idMs(this.master)));
    bytes += integerElement(delta(idSeq(id), idSeq(this.master)));
    if (same) {
      for (let i = 1; i < fields.length; i += 2) bytes += stringElement(fields[i]);
      bytes += integerElement(pairs + 3);
    } else {
      bytes += integerElement(pairs);
      for (const text of fields) bytes += stringElement(text);
      bytes += integerElement(2 * pairs + 4);
    }
    this.baseBytes += bytes;
    this.ids.push(id);
    this.entries.push(fields);
    this.live++;
    return bytes;
  }

  private sameFields(fields: string[]): boolean {
    const master = this.masterFields;
    if (master.length * 2 !== fields.length) return false;
    for (let i = 0; i < master.length; i++) if (master[i] !== fields[2 * i]) return false;
    return true;
  }

  /** Index of the first entry with an ID >= `id` (deleted ones included). */
  lowerBound(id: StreamId): number {
    const ids = this.ids;
    let lo = 0;
    let hi = ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ids[mid] < id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private hexKey: string | undefined;

  /** The master ID as 32 hex digits (the radix tree key's 16 bytes), worked out once. */
  get key(): string {
    return this.hexKey ??= this.master.toString(16).padStart(32, "0");
  }

  /** The ID of the node's last entry, deleted or not (what MINID trimming looks at). */
  get lastId(): StreamId {
    return this.ids[this.ids.length - 1];
  }
}

/** An entry of a pending entries list: delivered to `consumer`, not acknowledged yet. */
export interface PendingEntry {
  readonly id: StreamId;
  consumer: Consumer;
  /** Unix ms of the last delivery. */
  deliveryTime: number;
  deliveryCount: bigint;
}

/** A sorted map from stream IDs to values: a consumer group's or a consumer's PEL. */
export class IdMap<T> {
  private ids: StreamId[] = [];
  /** Removed IDs at the front of `ids` not yet cut away (acknowledging oldest first is O(1)). */
  private head = 0;
  private readonly values = new Map<StreamId, T>();

  get size(): number {
    return this.values.size;
  }

  get(id: StreamId): T | undefined {
    return this.values.get(id);
  }

  has(id: StreamId): boolean {
    return this.values.has(id);
  }

  set(id: StreamId, value: T): void {
    const known = this.values.has(id);
    this.values.set(id, value);
    if (known) return;
    const ids = this.ids;
    if (ids.length === this.head || ids[ids.length - 1] < id) ids.push(id);
    else ids.splice(this.lowerBound(id), 0, id);
  }

  delete(id: StreamId): boolean {
    if (!this.values.delete(id)) return false;
    const at = this.lowerBound(id);
    if (at === this.head) {
      this.head++;
      if (this.head === this.ids.length) {
        this.ids = [];
        this.head = 0;
      } else if (this.head > 64 && this.head * 2 > this.ids.length) {
        this.ids = this.ids.slice(this.head);
        this.head = 0;
      }
    } else {
      this.ids.splice(at, 1);
    }
    return true;
  }

  private lowerBound(id: StreamId): number {
    const ids = this.ids;
    let lo = this.head;
    let hi = ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ids[mid] < id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Visits the entries from the first ID >= `from`, ascending, while `visit` returns true. */
  walk(from: StreamId, visit: (id: StreamId, value: T) => boolean): void {
    const ids = this.ids;
    for (let i = this.lowerBound(from); i < ids.length; i++) {
      const id = ids[i];
      if (!visit(id, this.values.get(id)!)) return;
    }
  }

  /** The smallest and largest IDs, or null when empty. */
  bounds(): [StreamId, StreamId] | null {
    if (this.values.size === 0) return null;
    return [this.ids[this.head], this.ids[this.ids.length - 1]];
  }
}

export class Consumer {
  /** Its pending entries (shared with the group's PEL). */
  readonly pel: IdMap<PendingEntry> = new IdMap();

  constructor(readonly name: string, public seenTime: number) {}
}

export class ConsumerGroup {
  readonly pel: IdMap<PendingEntry> = new IdMap();
  readonly consumers: Map<string, Consumer> = new Map();

  constructor(
    readonly name: string,
    public lastId: StreamId,
    /** Entries the group has read, counted from the stream's first ever; -1 when unknown. */
    public entriesRead: bigint,
  ) {}

  /** Consumers in Redis's order (by name, bytewise: its radix tree). */
  sortedConsumers(): Consumer[] {
    return [...this.consumers.values()].sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0
    );
  }
}

/** Why an ID cannot be added: not above the top item, or none is left after the last. */
export type AppendFailure = "smaller" | "exhausted";

/** How to trim: the strategy, its threshold, `~`, and the most entries to remove (0: any). */
export interface TrimSpec {
  strategy: "maxlen" | "minid";
  /** MAXLEN's length or MINID's ID. */
  threshold: bigint;
  approx: boolean;
  limit: number;
}

export class StreamValue implements Container {
  readonly type = "stream";
  sizeBytes = 0;
  /** See {@linkcode Container.accountedBytes}. */
  accountedBytes = 0;
  /** Nodes in ID order. */
  readonly nodes: StreamNode[] = [];
  /** Live entries. */
  length = 0;
  lastId: StreamId = 0n;
  entriesAdded = 0n;
  maxDeletedId: StreamId = 0n;
  /** Groups by name (in creation order; Redis lists them by name). */
  readonly groups: Map<string, ConsumerGroup> = new Map();

  /**
   * The ID `*` gives at `nowMs`, or null when the last possible ID was used: `nowMs-0` when the
   * clock is past the last ID's milliseconds, else the last ID plus one.
   */
  autoId(nowMs: number): StreamId | null {
    const ms = BigInt(Math.max(0, Math.floor(nowMs)));
    if (ms > idMs(this.lastId)) return streamId(ms, 0n);
    return this.lastId === MAX_ID ? null : this.lastId + 1n;
  }

  /** The ID `ms-*` gives, or null when it would not be above the last ID. */
  idWithSeqFor(ms: bigint): StreamId | null {
    const lastMs = idMs(this.lastId);
    if (ms > lastMs) return streamId(ms, 0n);
    if (ms < lastMs || idSeq(this.lastId) === U64_MAX) return null;
    return this.lastId + 1n;
  }

  /** Appends an entry with an ID above the last one. */
  append(id: StreamId, fields: string[]): void {
    let node = this.nodes.length === 0 ? undefined : this.nodes[this.nodes.length - 1];
    if (node !== undefined) {
      let raw = 0;
      for (const text of fields) raw += text.length;
      if (node.bytes + raw >= NODE_MAX_BYTES || node.live + node.deleted >= NODE_MAX_ENTRIES) {
        node = undefined;
      }
    }
    if (node === undefined) {
      const names: string[] = [];
      for (let i = 0; i < fields.length; i += 2) names.push(fields[i]);
      node = new StreamNode(id, names);
      this.nodes.push(node);
      this.sizeBytes += node.baseBytes;
    }
    this.sizeBytes += node.append(id, fields) + ENTRY_OVERHEAD_BYTES +
      fields.length * ELEMENT_OVERHEAD_BYTES;
    this.length++;
    this.lastId = id;
    this.entriesAdded++;
  }

  /** Index of the node that would hold `id`: the last whose master ID is <= `id`, or -1. */
  private nodeFor(id: StreamId): number {
    const nodes = this.nodes;
    let lo = 0;
    let hi = nodes.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (nodes[mid].master <= id) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
  }

  /** The fields of the live entry `id`, or undefined. */
  get(id: StreamId): string[] | undefined {
    const at = this.nodeFor(id);
    if (at < 0) return undefined;
    const node = this.nodes[at];
    const i = node.lowerBound(id);
    return i < node.ids.length && node.ids[i] === id ? node.entries[i] ?? undefined : undefined;
  }

  /**
   * Visits live entries with IDs in [start, end], ascending (or descending when `reverse`),
   * while `visit` returns true.
   */
  range(
    start: StreamId,
    end: StreamId,
    reverse: boolean,
    visit: (id: StreamId, fields: string[]) => boolean,
  ): void {
    if (start > end) return;
    const nodes = this.nodes;
    if (!reverse) {
      let n = Math.max(0, this.nodeFor(start));
      let i = n < nodes.length ? nodes[n].lowerBound(start) : 0;
      for (; n < nodes.length; n++, i = 0) {
        const node = nodes[n];
        for (; i < node.ids.length; i++) {
          const id = node.ids[i];
          if (id > end) return;
          const fields = node.entries[i];
          if (fields !== null && !visit(id, fields)) return;
        }
      }
      return;
    }
    let n = this.nodeFor(end);
    if (n < 0) return;
    let i = nodes[n].lowerBound(end);
    if (i === nodes[n].ids.length || nodes[n].ids[i] > end) i--;
    for (; n >= 0; n--, i = n >= 0 ? nodes[n].ids.length - 1 : 0) {
      const node = nodes[n];
      for (; i >= 0; i--) {
        const id = node.ids[i];
        if (id < start) return;
        const fields = node.entries[i];
        if (fields !== null && !visit(id, fields)) return;
      }
    }
  }

  /** The first (or last) live entry, or null when the stream is empty. */
  edge(last: boolean): [StreamId, string[]] | null {
    let found: [StreamId, string[]] | null = null;
    this.range(0n, MAX_ID, last, (id, fields) => {
      found = [id, fields];
      return false;
    });
    return found;
  }

  /** The first live entry's ID, 0-0 when empty (Redis's recorded first entry ID). */
  firstId(): StreamId {
    return this.edge(false)?.[0] ?? 0n;
  }

  /** The last live entry's ID, 0-0 when empty. */
  lastLiveId(): StreamId {
    return this.edge(true)?.[0] ?? 0n;
  }

  /** Deletes the live entry `id` (XDEL); false when there is none. */
  delete(id: StreamId): boolean {
    const at = this.nodeFor(id);
    if (at < 0) return false;
    const node = this.nodes[at];
    const i = node.lowerBound(id);
    if (i === node.ids.length || node.ids[i] !== id || node.entries[i] === null) return false;
    this.markDeleted(at, i);
    if (id > this.maxDeletedId) this.maxDeletedId = id;
    return true;
  }

  /** Marks entry `i` of node `at` deleted; a node left with no live entry goes. */
  private markDeleted(at: number, i: number): void {
    const node = this.nodes[at];
    const fields = node.entries[i]!;
    node.entries[i] = null;
    node.live--;
    node.deleted++;
    this.length--;
    this.sizeBytes -= fields.length * ELEMENT_OVERHEAD_BYTES;
    if (node.live === 0) this.removeNode(at);
  }

  private removeNode(at: number): void {
    const node = this.nodes[at];
    this.sizeBytes -= node.baseBytes + node.ids.length * ENTRY_OVERHEAD_BYTES;
    for (const fields of node.entries) {
      if (fields !== null) this.sizeBytes -= fields.length * ELEMENT_OVERHEAD_BYTES;
    }
    this.length -= node.live;
    this.nodes.splice(at, 1);
  }

  /**
   * Trims from the oldest entry (XTRIM, XADD's MAXLEN and MINID); returns how many entries went.
   * Whole nodes go while that keeps the stream at or above the threshold (and within the
   * limit); with `~` it stops there, else it deletes entries of the next node one by one.
   */
  trim(spec: TrimSpec): number {
    const maxlen = spec.strategy === "maxlen";
    const threshold = spec.threshold;
    let removed = 0;
    while (this.nodes.length > 0) {
      if (maxlen && BigInt(this.length) <= threshold) break;
      const node = this.nodes[0];
      const entries = node.live;
      const whole = maxlen ? BigInt(this.length - entries) >= threshold : node.lastId < threshold;
      if (whole) {
        if (spec.limit !== 0 && removed + entries > spec.limit) break;
        this.removeNode(0);
        removed += entries;
        continue;
      }
      if (spec.approx) break;
      for (let i = 0; i < node.ids.length; i++) {
        if (node.entries[i] === null) continue;
        if (maxlen ? BigInt(this.length) <= threshold : node.ids[i] >= threshold) break;
        this.markDeleted(0, i);
        removed++;
      }
      break;
    }
    return removed;
  }

  // Consumer groups.

  /** Creates a group; null when one has that name. */
  createGroup(name: string, lastId: StreamId, entriesRead: bigint): ConsumerGroup | null {
    if (this.groups.has(name)) return null;
    const group = new ConsumerGroup(name, lastId, entriesRead);
    this.groups.set(name, group);
    this.sizeBytes += GROUP_OVERHEAD_BYTES + name.length;
    return group;
  }

  destroyGroup(name: string): boolean {
    const group = this.groups.get(name);
    if (group === undefined) return false;
    this.groups.delete(name);
    this.sizeBytes -= GROUP_OVERHEAD_BYTES + name.length +
      group.pel.size * PENDING_OVERHEAD_BYTES;
    for (const consumer of group.consumers.values()) {
      this.sizeBytes -= CONSUMER_OVERHEAD_BYTES + consumer.name.length;
    }
    return true;
  }

  /** Groups in Redis's order (by name, bytewise). */
  sortedGroups(): ConsumerGroup[] {
    return [...this.groups.values()].sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  }

  createConsumer(group: ConsumerGroup, name: string, nowMs: number): Consumer {
    const consumer = new Consumer(name, nowMs);
    group.consumers.set(name, consumer);
    this.sizeBytes += CONSUMER_OVERHEAD_BYTES + name.length;
    return consumer;
  }

  /** Deletes a consumer and its pending entries; returns how many were pending. */
  deleteConsumer(group: ConsumerGroup, consumer: Consumer): number {
    const pending: StreamId[] = [];
    consumer.pel.walk(0n, (id) => {
      pending.push(id);
      return true;
    });
    for (const id of pending) group.pel.delete(id);
    group.consumers.delete(consumer.name);
    this.sizeBytes -= CONSUMER_OVERHEAD_BYTES + consumer.name.length +
      pending.length * PENDING_OVERHEAD_BYTES;
    return pending.length;
  }

  /** Adds a pending entry for `consumer` (the ID must not be pending in the group). */
  addPending(
    group: ConsumerGroup,
    consumer: Consumer,
    id: StreamId,
    deliveryTime: number,
    deliveryCount: bigint,
  ): PendingEntry {
    const entry: PendingEntry = { id, consumer, deliveryTime, deliveryCount };
    group.pel.set(id, entry);
    consumer.pel.set(id, entry);
    this.sizeBytes += PENDING_OVERHEAD_BYTES;
    return entry;
  }

  /** Gives a pending entry to another consumer. */
  movePending(entry: PendingEntry, consumer: Consumer): void {
    if (entry.consumer === consumer) return;
    entry.consumer.pel.delete(entry.id);
    entry.consumer = consumer;
    consumer.pel.set(entry.id, entry);
  }

  /** Removes a pending entry (XACK); false when it was not pending. */
  ack(group: ConsumerGroup, id: StreamId): boolean {
    const entry = group.pel.get(id);
    if (entry === undefined) return false;
    group.pel.delete(id);
    entry.consumer.pel.delete(id);
    this.sizeBytes -= PENDING_OVERHEAD_BYTES;
    return true;
  }

  // Entries-read bookkeeping (XINFO GROUPS' entries-read and lag).

  /**
   * Whether a deleted entry may lie between `start` and `end` (Redis's tombstone test: only the
   * largest deleted ID is known, and one before the first entry no longer counts).
   */
  hasTombstones(start: StreamId, end: StreamId = MAX_ID): boolean {
    if (this.length === 0 || this.maxDeletedId === 0n) return false;
    if (this.firstId() > this.maxDeletedId) return false;
    return start <= this.maxDeletedId && this.maxDeletedId <= end;
  }

  /**
   * How many entries were added up to and including `id`, where that can be known: exactly
   * at the ends, else only when no deletion fragments the stream; -1 otherwise.
   */
  entriesReadAt(id: StreamId): bigint {
    if (this.entriesAdded === 0n) return 0n;
    if (this.length === 0 && id <= this.lastId) return this.entriesAdded;
    if (id === this.lastId) return this.entriesAdded;
    if (id > this.lastId) return INVALID_ENTRIES_READ;
    const first = this.firstId();
    if (this.maxDeletedId === 0n || this.maxDeletedId < first) {
      if (id < first) return this.entriesAdded - BigInt(this.length);
      if (id === first) return this.entriesAdded - BigInt(this.length) + 1n;
    }
    return INVALID_ENTRIES_READ;
  }

  /** A group's lag (entries not yet delivered to it), or null when it cannot be known. */
  lag(group: ConsumerGroup): bigint | null {
    if (this.entriesAdded === 0n) return 0n;
    if (group.entriesRead !== INVALID_ENTRIES_READ && !this.hasTombstones(group.lastId)) {
      return this.entriesAdded - group.entriesRead;
    }
    const read = this.entriesReadAt(group.lastId);
    return read === INVALID_ENTRIES_READ ? null : this.entriesAdded - read;
  }

  /** A group's last delivered ID moves to `id` (a new entry delivered): its read count too. */
  advanceGroup(group: ConsumerGroup, id: StreamId): void {
    if (group.entriesRead !== INVALID_ENTRIES_READ && !this.hasTombstones(id)) {
      group.entriesRead++;
    } else if (this.entriesAdded !== 0n) {
      group.entriesRead = this.entriesReadAt(id);
    }
    group.lastId = id;
  }

  // Radix tree figures (XINFO STREAM).

  /** Nodes of Redis's radix tree over the nodes' master IDs (16 bytes each, big-endian). */
  radixTreeNodes(): number {
    // Each key as 32 hex digits: byte `depth` is digits 2 * depth and 2 * depth + 1.
    const keys = this.nodes.map((node) => node.key);
    if (keys.length === 0) return 1;
    const byteAt = (key: string, depth: number) => key.slice(2 * depth, 2 * depth + 2);
    const commonPrefix = (a: string, b: string, from: number) => {
      let digit = 2 * from;
      while (digit < 32 && a.charCodeAt(digit) === b.charCodeAt(digit)) digit++;
      return digit >> 1;
    };
    // A node at `depth` for keys[lo, hi): a leaf at 16, a branch where the keys' bytes differ,
    // else a compressed node over their common bytes.
    const count = (lo: number, hi: number, depth: number): number => {
      if (depth === 16) return 1;
      const shared = commonPrefix(keys[lo], keys[hi - 1], depth);
      if (shared > depth) return 1 + count(lo, hi, shared);
      let total = 1;
      let start = lo;
      while (start < hi) {
        const byte = byteAt(keys[start], depth);
        let end = start + 1;
        while (end < hi && byteAt(keys[end], depth) === byte) end++;
        total += count(start, end, depth + 1);
        start = end;
      }
      return total;
    };
    return count(0, keys.length, 0);
  }

  clone(): StreamValue {
    return restoreStream(this.dump());
  }

  encoding(): string {
    return "stream";
  }

  /**
   * Everything, as flat strings: last ID, entries added, largest deleted ID, node count and
   * group count; each node as master ID, listpack bytes, master field count and names, entry
   * count and each entry (ID, then its field count and fields and values, or `-1` if deleted);
   * each group as name, last ID, entries read, pending count and each pending entry (ID,
   * consumer, delivery time, delivery count), consumer count and each consumer (name, seen
   * time).
   */
  dump(): string[] {
    const out: string[] = [
      formatId(this.lastId),
      String(this.entriesAdded),
      formatId(this.maxDeletedId),
      String(this.nodes.length),
      String(this.groups.size),
    ];
    for (const node of this.nodes) {
      out.push(formatId(node.master), String(node.baseBytes), String(node.masterFields.length));
      out.push(...node.masterFields);
      out.push(String(node.ids.length));
      for (let i = 0; i < node.ids.length; i++) {
        out.push(formatId(node.ids[i]));
        const fields = node.entries[i];
        if (fields === null) out.push("-1");
        else out.push(String(fields.length), ...fields);
      }
    }
    for (const group of this.groups.values()) {
      out.push(group.name, formatId(group.lastId), String(group.entriesRead));
      out.push(String(group.pel.size));
      group.pel.walk(0n, (id, entry) => {
        out.push(
          formatId(id),
          entry.consumer.name,
          String(entry.deliveryTime),
          String(entry.deliveryCount),
        );
        return true;
      });
      out.push(String(group.consumers.size));
      for (const consumer of group.consumers.values()) {
        out.push(consumer.name, String(consumer.seenTime));
      }
    }
    return out;
  }
}

/** Rebuilds a stream from `StreamValue.dump()`'s output. */
export function restoreStream(elements: string[]): StreamValue {
  let at = 0;
  const next = () => {
    if (at >= elements.length) throw new TypeError("truncated stream value");
    return elements[at++];
  };
  const count = () => {
    const n = Number(next());
    if (!Number.isSafeInteger(n) || n < -1) throw new TypeError("bad count in stream value");
    return n;
  };
  const stream = new StreamValue();
  stream.lastId = parseFormattedId(next());
  stream.entriesAdded = BigInt(next());
  stream.maxDeletedId = parseFormattedId(next());
  const nodeCount = count();
  const groupCount = count();
  for (let n = 0; n < nodeCount; n++) {
    const master = parseFormattedId(next());
    const baseBytes = count();
    const names = Array.from({ length: count() }, next);
    const node = new StreamNode(master, names, baseBytes);
    stream.sizeBytes += baseBytes;
    const entryCount = count();
    for (let i = 0; i < entryCount; i++) {
      node.ids.push(parseFormattedId(next()));
      const fieldCount = count();
      stream.sizeBytes += ENTRY_OVERHEAD_BYTES;
      if (fieldCount < 0) {
        node.entries.push(null);
        node.deleted++;
        continue;
      }
      const fields = Array.from({ length: fieldCount }, next);
      node.entries.push(fields);
      node.live++;
      stream.sizeBytes += fields.length * ELEMENT_OVERHEAD_BYTES;
    }
    stream.length += node.live;
    stream.nodes.push(node);
  }
  for (let g = 0; g < groupCount; g++) {
    const group = stream.createGroup(next(), parseFormattedId(next()), BigInt(next()))!;
    const pending: [StreamId, string, number, bigint][] = [];
    const pendingCount = count();
    for (let i = 0; i < pendingCount; i++) {
      pending.push([parseFormattedId(next()), next(), Number(next()), BigInt(next())]);
    }
    const consumerCount = count();
    for (let i = 0; i < consumerCount; i++) {
      const name = next();
      stream.createConsumer(group, name, Number(next()));
    }
    for (const [id, name, time, deliveries] of pending) {
      const consumer = group.consumers.get(name) ?? stream.createConsumer(group, name, time);
      stream.addPending(group, consumer, id, time, deliveries);
    }
  }
  return stream;
}

registerContainer("stream", restoreStream);
