/**
 * A named store: a map of binary-safe keys (latin1 strings) to values, with millisecond TTLs
 * (lazy expiry on access plus an active cycle), memory accounting, an eviction policy and an
 * optional cuckoo filter that answers misses without a map lookup.
 *
 * @module
 */
import {
  ACTIVE_EXPIRE_REPEAT_RATIO,
  ACTIVE_EXPIRE_SAMPLE_COUNT,
  DEFAULT_EVICTION_SAMPLES,
  ENTRY_OVERHEAD_BYTES,
} from "../constants.ts";
import { CuckooFilter } from "../filter/cuckoo.ts";
import { xorshift32 } from "../_random.ts";
import type { Clock } from "../clock.ts";
import type { Container, Value } from "./values.ts";
import { RecordArena, recordArena } from "./_arena.ts";
import { hashBytes, hashString } from "../_hash.ts";
import { writeLatin1 } from "../_latin1.ts";
import { KeyTable, randomSeed } from "./_table.ts";
import {
  MAX_VERSION,
  MIN_VERSION,
  slotAndWeight,
  TYPE_TAGS,
  typeTag,
  weightHigh,
  weightLow,
} from "./digest.ts";
import { SLOT_COUNT } from "../ring/constants.ts";

/** Eviction policies with Redis's names and meaning, plus `session` (sliding idle timeout). */
export const EVICTION_POLICIES = [
  "noeviction",
  "allkeys-lru",
  "allkeys-lfu",
  "allkeys-random",
  "volatile-lru",
  "volatile-lfu",
  "volatile-random",
  "volatile-ttl",
  "session",
] as const;
/** One of `EVICTION_POLICIES`. */
export type EvictionPolicy = typeof EVICTION_POLICIES[number];

/** Settings of one store. */
export interface StoreOptions {
  /** Store name, for `SELECT <name>` and the HTTP API. */
  name: string;
  /** 0 means no limit. */
  maxMemoryBytes: number;
  /** What to evict when `maxMemoryBytes` is reached. */
  evictionPolicy: EvictionPolicy;
  /** TTL given to keys written without one; 0 for none. For `session`, the idle timeout. */
  defaultTtlMs: number;
  /** Keys sampled per eviction (Redis's `maxmemory-samples`). @default 5 */
  evictionSamples?: number;
  /** Cuckoo filter in front of the map; omitted for none. */
  filter?: { capacity: number; errorRate: number };
  /** Whether the store is written to the AOF and snapshots. @default true */
  persist?: boolean;
  /** Redis's `lfu-log-factor`. @default 10 */
  lfuLogFactor?: number;
  /** Redis's `lfu-decay-time` in minutes. @default 1 */
  lfuDecayMinutes?: number;
  /** Seed of the key table's hash function. @default a random one */
  hashSeed?: number;
  /**
   * Index of an earlier store whose `maxMemoryBytes` this store's keys count against, together
   * with it and every other store naming it (Redis's one maxmemory over its numbered
   * databases); eviction then picks among all of them. Omitted: the store's own limit.
   */
  memoryOf?: number;
}

/** Why a key left the store without a command deleting it. */
export type RemovalCause = "expired" | "evicted";

/** A key and value kept as JavaScript values: containers, and strings too long for a record. */
class HeapRecord {
  constructor(readonly key: string, public value: Value) {}
}

/**
 * A key's entry. Kept small: a store holds millions. A key with a string value lives in the
 * record arena (`_arena.ts`), key and value bytes side by side, and the entry holds the record's
 * integer handle; a container (or a record too long for the arena) is a `HeapRecord`. Accounted
 * memory is computed from the record ({@linkcode Store.sizeOf}), and the entry's position in the
 * key table is the table's business.
 */
export class Entry {
  /** The arena handle of the key and string value, or both as JavaScript values. */
  #record: number | HeapRecord;
  /** Absolute expiry time in Unix ms; 0 for none. */
  expiresAtMs = 0;
  /**
   * What the eviction policy knows of past accesses, in one small integer as Redis keeps it in
   * its object's 24 LRU bits. Under an LFU policy, `minutes * 256 + counter`: Redis's logarithmic
   * counter and the minute (since the store's `epochMs`) it was last decayed. Otherwise the last
   * access in ms since `epochMs` (LRU, OBJECT IDLETIME). Relative, so V8 stores it unboxed.
   */
  access: number;
  /** Index in `Store.volatile`, or -1 without a TTL: O(1) removal from it. */
  volatileIndex: number = -1;

  /** A new entry; `access` is what the store's eviction policy starts a key with. */
  constructor(key: string, value: Value, access: number) {
    this.#record = recordOf(key, value);
    this.access = access;
  }

  /** The key. From the arena it is read out anew on each access: hot paths use `hasKey`. */
  get key(): string {
    const record = this.#record;
    return typeof record === "number" ? recordArena.key(record) : record.key;
  }

  /** Whether the key is `key` (compared in place in the arena). */
  hasKey(key: string): boolean {
    const record = this.#record;
    return typeof record === "number" ? recordArena.keyEquals(record, key) : record.key === key;
  }

  /** The key's length in bytes. */
  keyLength(): number {
    const record = this.#record;
    return typeof record === "number" ? recordArena.keyLength(record) : record.key.length;
  }

  /** `hashString(key, seed)`, without making a string of an arena key. */
  keyHash(seed: number): number {
    const record = this.#record;
    return typeof record === "number"
      ? recordArena.hashKey(record, seed)
      : hashString(record.key, seed);
  }

  /** The value. A string from the arena is read out anew on each access. */
  get value(): Value {
    const record = this.#record;
    return typeof record === "number" ? recordArena.value(record) : record.value;
  }

  /** Replaces the value, moving the record into or out of the arena as the value needs. */
  set value(value: Value) {
    const record = this.#record;
    if (typeof record === "number") {
      if (typeof value === "string") {
        const handle = recordArena.replaceValue(record, value);
        if (handle !== -1) {
          this.#record = handle;
          return;
        }
      }
      const key = recordArena.key(record);
      recordArena.free(record);
      this.#record = new HeapRecord(key, value);
    } else if (typeof value === "string" && RecordArena.takes(record.key.length, value.length)) {
      this.#record = recordOf(record.key, value);
    } else {
      record.value = value;
    }
  }

  /**
   * Bytes the key and a string value take where they are kept: the arena slot (known from the
   * handle, so accounting never touches the bytes), or their lengths; -1 for a container.
   */
  recordBytes(): number {
    const record = this.#record;
    if (typeof record === "number") return recordArena.slotBytes(record);
    return typeof record.value === "string" ? record.key.length + record.value.length : -1;
  }

  /** The type tag of the value (`digest.ts`), without reading a string out of the arena. */
  typeTag(): number {
    const record = this.#record;
    if (typeof record === "number") return 0;
    const value = record.value;
    return typeof value === "string" ? 0 : TYPE_TAGS[value.type];
  }

  /** The length of a string value without reading it out; -1 for a container. */
  stringLength(): number {
    const record = this.#record;
    if (typeof record === "number") return recordArena.valueLength(record);
    return typeof record.value === "string" ? record.value.length : -1;
  }

  /**
   * Copies a string value's bytes to `target` at `at` and returns their count, or -1 for a
   * container (replies and snapshots write values without making strings of them).
   */
  copyString(target: Uint8Array, at: number): number {
    const record = this.#record;
    if (typeof record === "number") return recordArena.copyValue(record, target, at);
    const value = record.value;
    return typeof value === "string" ? writeLatin1(target, value, at) : -1;
  }

  /** Copies the key's bytes to `target` at `at` and returns their count (snapshots). */
  copyKey(target: Uint8Array, at: number): number {
    const record = this.#record;
    if (typeof record === "number") return recordArena.copyKey(record, target, at);
    return writeLatin1(target, record.key, at);
  }

  /** Reads the start of the entry's arena record, if it has one (see `Store.prefetch`). */
  touchRecord(): number {
    const record = this.#record;
    return typeof record === "number" ? recordArena.firstByte(record) : 0;
  }

  /** Frees the arena slot once the entry has left its store; key and value are then "". A
   * caller that needs the key after the removal reads it first. */
  release(): void {
    const record = this.#record;
    if (typeof record === "number") recordArena.free(record);
    this.#record = new HeapRecord("", "");
  }
}

/** How an entry holds `key` and `value`: in an arena record when they fit one. */
function recordOf(key: string, value: Value): number | HeapRecord {
  if (typeof value === "string" && RecordArena.takes(key.length, value.length)) {
    const handle = recordArena.store(key, value);
    if (handle !== -1) return handle;
  }
  return new HeapRecord(key, value);
}

/** Whether `policy` evicts by access frequency (and so keeps counters in `Entry.access`). */
function isLfu(policy: EvictionPolicy): boolean {
  return policy === "allkeys-lfu" || policy === "volatile-lfu";
}

/** Redis's LFU_INIT_VAL: a new key is not evicted before it had a chance to be used. */
const LFU_INIT_VALUE = 5;

/** Most keys one `Store.prefetch` call reads ahead. */
export const PREFETCH_KEYS = 64;

/** A client watching keys: set to true when one of them changes (WATCH / EXEC). */
export interface KeyWatcher {
  /** Set when a watched key changed. */
  watchTouched: boolean;
}

/** Counters reported by `INFO` and `HSTATS`. */
export interface StoreStats {
  /** Reads that found their key. */
  hits: number;
  /** Reads that did not. */
  misses: number;
  /** Keys removed by the eviction policy. */
  evictions: number;
  /** Keys removed because their TTL passed. */
  expirations: number;
  /** Lookups the cuckoo filter answered "absent" without touching the map. */
  filterNegatives: number;
}

/**
 * One named store: its keys, TTLs, memory accounting, eviction and filter.
 *
 * @example
 * ```ts
 * import { Store } from "@hypercache/hypercache/keyspace";
 * const clock = { monotonicMs: () => performance.now(), realtimeMs: () => Date.now() };
 * const store = new Store(0, { name: "default", maxMemoryBytes: 0, evictionPolicy: "allkeys-lru", defaultTtlMs: 0 }, clock);
 * store.set("k", "v", Date.now() + 60_000);
 * store.read("k")?.value; // "v"
 * ```
 */
export class Store {
  /** Keys to entries (SWAPDB exchanges it with another store's). */
  map: KeyTable<Entry>;
  /** Every entry, densely (the key table's items), for random sampling: eviction, SCAN order,
   * RANDOMKEY. */
  entries: readonly Entry[];
  /** Entries with a TTL, for active expiry and volatile policies. */
  volatile: Entry[] = [];
  /** Memory accounted for the store's keys and values. */
  usedMemoryBytes = 0;
  /** The cuckoo filter in front of `map`, or null. */
  readonly filter: CuckooFilter | null;
  /** Counters for INFO, HSTATS and /metrics. */
  readonly stats: StoreStats = {
    hits: 0,
    misses: 0,
    evictions: 0,
    expirations: 0,
    filterNegatives: 0,
  };
  /** Called when a key expires or is evicted (AOF propagation, keyspace notifications). */
  onRemoved: ((store: Store, key: string, cause: RemovalCause) => void) | null = null;
  /** Told every key a write creates (keyspace notifications' `new` event); null: nobody asks. */
  onCreated: ((store: Store, key: string) => void) | null = null;
  /**
   * Told every key that changes, as WATCH is (client-side caching's invalidations); `byServer`
   * for a key the store removed itself (expired, evicted). Null while no client tracks keys:
   * the common case costs one comparison per change.
   */
  onSignal: ((key: string, byServer: boolean) => void) | null = null;
  /** Set while the store removes an expired or evicted key (for `onSignal`). */
  private removing = false;
  /**
   * Keys the current command gave the store's default TTL. A replay of the command would count
   * that TTL from the replay, so the dispatcher logs their absolute expiry after the command; a
   * command whose own log entry carries it (SET ... PXAT) empties the list.
   */
  readonly defaultTtlKeys: string[] = [];
  /** Bumped by every change; WATCH and the snapshot trigger read it. */
  dirty = 0;
  /** Origin of the times in `Entry.access` (it moves with the keys at SWAPDB). */
  epochMs: number;
  /** Settings with their defaults filled in; CONFIG SET changes some at run time. */
  readonly options:
    & Required<Omit<StoreOptions, "filter" | "hashSeed" | "memoryOf">>
    & Pick<StoreOptions, "filter" | "memoryOf">;
  /**
   * The stores sharing one memory limit with this one, the limit's owner first (set by the
   * keyspace from `memoryOf`); null when the store's limit is its own.
   */
  memoryPool: Store[] | null = null;

  /** Creates an empty store; `index` is its position in the keyspace. */
  constructor(readonly index: number, options: StoreOptions, readonly clock: Clock) {
    this.options = {
      evictionSamples: DEFAULT_EVICTION_SAMPLES,
      persist: true,
      lfuLogFactor: 10,
      lfuDecayMinutes: 1,
      ...options,
    };
    const seed = options.hashSeed ?? randomSeed();
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new RangeError(
        `Cannot create store '${options.name}': 'hashSeed' must be a 32-bit unsigned integer: current value is ${seed}`,
      );
    }
    // One seed for both, so one hash of a key serves the table and the filter.
    this.map = new KeyTable(seed);
    this.filter = options.filter ? new CuckooFilter({ ...options.filter, seed }) : null;
    this.entries = this.map.items;
    this.epochMs = clock.realtimeMs();
  }

  /** The store's name. */
  get name(): string {
    return this.options.name;
  }

  /** Keys in the store (expired ones not yet collected included). */
  get size(): number {
    return this.map.size;
  }

  /** Keys with a TTL. */
  get volatileCount(): number {
    return this.volatile.length;
  }

  /** Wall-clock Unix ms from the store's clock. */
  now(): number {
    return this.pinnedNowMs !== 0 ? this.pinnedNowMs : this.clock.realtimeMs();
  }

  /**
   * While non-zero, the time every command of the current batch sees (`Keyspace.pinTime`): one
   * clock read per batch instead of one per key access, as Redis snapshots the time per command.
   */
  pinnedNowMs = 0;

  /**
   * The live entry for `key`, or undefined. Expires it lazily, and counts the access for the
   * eviction policy unless `touch` is false (commands like TYPE and TTL do not count).
   */
  lookup(key: string, touch = true): Entry | undefined {
    const hash = this.map.hash(key);
    if (this.filter !== null && !this.filter.mayContainHash(hash)) {
      this.stats.filterNegatives++;
      return undefined;
    }
    const entry = this.map.get(key, hash);
    if (entry === undefined) return undefined;
    if (entry.expiresAtMs !== 0 || touch) {
      const now = this.now();
      if (this.expireIfDue(entry, now)) return undefined;
      if (touch) this.touch(entry, now);
    }
    return entry;
  }

  /**
   * Brings what looking up these keys will read into the cache, for the keys a batch of commands
   * is about to use: key `i` is the latin1 text of `bytes[starts[i], ends[i])`. Each stage (index
   * slot and entry, then the entry's arena record and its key-table record, which a write reads
   * for the version) reads every key before the next stage starts, so the cache misses overlap
   * instead of queueing one behind another as a lookup's dependent reads do. Changes nothing;
   * returns a value only so that the reads are not optimised away.
   */
  prefetch(bytes: Uint8Array, starts: Int32Array, ends: Int32Array, count: number): number {
    const found = this.prefetched;
    const positions = this.prefetchedPositions;
    const map = this.map;
    const seed = map.seed;
    count = Math.min(count, found.length);
    let sink = 0;
    for (let i = 0; i < count; i++) {
      const position = positions[i] = map.peekPosition(hashBytes(bytes, starts[i], ends[i], seed));
      found[i] = position === -1 ? undefined : this.entries[position];
    }
    for (let i = 0; i < count; i++) {
      const entry = found[i];
      if (entry !== undefined) sink += entry.touchRecord() + map.touchRecord(positions[i]);
    }
    found.fill(undefined, 0, count);
    return sink;
  }
  private readonly prefetched: (Entry | undefined)[] = new Array(PREFETCH_KEYS).fill(undefined);
  private readonly prefetchedPositions: Int32Array = new Int32Array(PREFETCH_KEYS);

  /** Removes `entry` when its TTL has passed at `now` (lazy expiry); true when it did. */
  private expireIfDue(entry: Entry, now: number): boolean {
    if (entry.expiresAtMs === 0 || entry.expiresAtMs > now) return false;
    this.removeFor(entry, "expired");
    return true;
  }

  /** Evicts `entry` (for a memory limit shared with other stores). */
  evict(entry: Entry): void {
    this.removeFor(entry, "evicted");
  }

  /** Removes `entry` because it expired or was evicted: counts it and tells `onRemoved`. */
  private removeFor(entry: Entry, cause: RemovalCause): void {
    // The key must be read before the removal frees it.
    const key = this.onRemoved === null ? "" : entry.key;
    this.removing = true;
    this.removeEntry(entry);
    this.removing = false;
    if (cause === "expired") this.stats.expirations++;
    else this.stats.evictions++;
    this.onRemoved?.(this, key, cause);
  }

  /** `lookup` that also counts keyspace hits and misses, for commands that read a value. */
  read(key: string): Entry | undefined {
    const entry = this.lookup(key);
    if (entry === undefined) this.stats.misses++;
    else this.stats.hits++;
    return entry;
  }

  /** Counts an access for the eviction policy; `session` slides the TTL. */
  private touch(entry: Entry, now: number): void {
    const policy = this.options.evictionPolicy;
    if (isLfu(policy)) {
      const counter = this.lfuIncremented(this.lfuDecayed(entry, now));
      entry.access = this.minutes(now) * 256 + counter;
      return;
    }
    if (policy === "session" && entry.expiresAtMs !== 0 && this.options.defaultTtlMs > 0) {
      entry.expiresAtMs = now + this.options.defaultTtlMs;
    }
    entry.access = now - this.epochMs;
  }

  /**
   * Switches the eviction policy (CONFIG SET maxmemory-policy). Between the LFU and the other
   * policies `Entry.access` changes meaning, so every entry is carried over: to LFU with the
   * initial counter as of its last access, back with its last decay time as its last access.
   */
  setEvictionPolicy(policy: EvictionPolicy): void {
    const wasLfu = isLfu(this.options.evictionPolicy);
    this.options.evictionPolicy = policy;
    if (wasLfu !== isLfu(policy)) this.convertAccess(wasLfu);
  }

  /** `Entry.access` for a key written at `now`. */
  private initialAccess(now: number): number {
    return isLfu(this.options.evictionPolicy)
      ? this.minutes(now) * 256 + LFU_INIT_VALUE
      : now - this.epochMs;
  }

  /** Whole minutes from `epochMs` to `now`. */
  private minutes(now: number): number {
    return Math.floor((now - this.epochMs) / 60_000);
  }

  /** The LFU counter after one point of decay per `lfuDecayMinutes` since its last decay. */
  private lfuDecayed(entry: Entry, now: number): number {
    const counter = entry.access & 0xff;
    const decayMinutes = this.options.lfuDecayMinutes;
    if (decayMinutes === 0) return counter; // Redis: lfu-decay-time 0 never decays.
    const periods = Math.floor((this.minutes(now) - Math.floor(entry.access / 256)) / decayMinutes);
    return periods > 0 ? Math.max(0, counter - periods) : counter;
  }

  /** Redis's logarithmic increment: likelier the smaller the counter. */
  private lfuIncremented(counter: number): number {
    if (counter >= 255) return 255;
    const base = Math.max(0, counter - LFU_INIT_VALUE);
    const probability = 1 / (base * this.options.lfuLogFactor + 1);
    return this.random() < probability ? counter + 1 : counter;
  }

  /** Deterministic sampling for eviction, expiry and the LFU increment. */
  private readonly random: () => number = xorshift32(0x2545f491);

  /**
   * Stores `value` under `key`. `expiresAtMs` 0 means no TTL of its own (the store's default TTL
   * then applies), `undefined` keeps the current one (KEEPTTL, or a container changed in place).
   */
  set(key: string, value: Value, expiresAtMs?: number): Entry {
    return this.put(key, value, expiresAtMs, false);
  }

  /**
   * `set` for a write that did not look its key up first (a plain SET): overwriting a key also
   * counts as an access for the eviction policy, as the lookup of a Redis write does. (Commands
   * that read the key first have counted that access already.)
   */
  write(key: string, value: Value, expiresAtMs?: number): Entry {
    return this.put(key, value, expiresAtMs, true);
  }

  /** `set` and `write`: `access` says whether an overwrite counts as an access. */
  private put(key: string, value: Value, expiresAtMs: number | undefined, access: boolean): Entry {
    const now = this.now();
    const hash = this.map.hash(key);
    const position = this.map.find(key, hash);
    let entry = position === -1 ? undefined : this.entries[position];
    // A key whose TTL passed is gone first, as a lookup would have it: a new key, not an update.
    if (entry !== undefined && this.expireIfDue(entry, now)) entry = undefined;
    if (entry === undefined) {
      // The slot first: a key that is not a byte string throws before anything changes.
      const tag = typeTag(value);
      const slot = slotAndWeight(key, tag);
      const low = weightLow();
      const high = weightHigh();
      entry = new Entry(key, value, this.initialAccess(now));
      this.map.insert(entry, hash, key, slot, low, high);
      this.filter?.addHash(hash);
      this.signal(key);
      this.count(entry);
      this.dirty++;
      this.onCreated?.(this, key);
      expiresAtMs ??= 0;
    } else {
      this.overwrite(entry, position, value, now, access);
    }
    if (expiresAtMs === 0 && this.options.defaultTtlMs > 0) {
      expiresAtMs = now + this.options.defaultTtlMs;
      this.defaultTtlKeys.push(key);
    }
    if (expiresAtMs !== undefined) this.applyExpiry(entry, expiresAtMs);
    return entry;
  }

  /**
   * Gives a live entry at `position` a new value; `access` says whether that counts as an access.
   * A write: the entry's version goes up by one.
   */
  private overwrite(
    entry: Entry,
    position: number,
    value: Value,
    now: number,
    access: boolean,
  ): void {
    this.usedMemoryBytes -= this.sizeOf(entry);
    this.map.bumpVersion(position, entry.typeTag(), typeTag(value));
    entry.value = value;
    // Under LFU the counter stays, as Redis's does when a value is replaced.
    if (access) this.touch(entry, now);
    else if (!isLfu(this.options.evictionPolicy)) entry.access = now - this.epochMs;
    this.signalEntry(entry);
    this.count(entry);
    this.dirty++;
  }

  /**
   * Adds a key loaded from a snapshot exactly as it was saved: no default TTL, nobody to signal,
   * and one probe of the key table where `set` needs two (recovery time is mostly this call). The
   * key must be new: a duplicate throws and changes nothing.
   */
  restore(key: string, value: Value, expiresAtMs: number): void {
    const tag = typeTag(value);
    const slot = slotAndWeight(key, tag);
    const low = weightLow();
    const high = weightHigh();
    const entry = new Entry(key, value, this.initialAccess(this.now()));
    const hash = this.map.hash(key);
    if (this.map.insert(entry, hash, key, slot, low, high) !== undefined) {
      throw new Error(`duplicate key in store ${this.index}`);
    }
    this.filter?.addHash(hash);
    if (expiresAtMs !== 0) {
      entry.volatileIndex = this.volatile.length;
      this.volatile.push(entry);
      entry.expiresAtMs = expiresAtMs;
    }
    this.count(entry);
    this.dirty++;
  }

  /**
   * `set` with the TTL kept, for a key whose live entry the command has just looked up (INCR):
   * the same change, without hashing and probing for the key again.
   */
  replace(entry: Entry, value: Value): void {
    this.overwrite(entry, this.positionOf(entry), value, this.now(), false);
  }

  /** Counts the change of a container that changed in place (a write: its version goes up). */
  resize(entry: Entry): void {
    this.map.bumpVersion(this.positionOf(entry), 0, 0);
    this.signalEntry(entry);
    this.usedMemoryBytes -= this.sizeOf(entry);
    this.count(entry);
  }

  /**
   * Bytes `entry` is counted for in `usedMemoryBytes` (MEMORY USAGE). A container counts as of
   * its last `count`, since it changes in place before the store hears of it.
   */
  sizeOf(entry: Entry): number {
    const bytes = entry.recordBytes();
    return ENTRY_OVERHEAD_BYTES +
      (bytes >= 0 ? bytes : entry.keyLength() + (entry.value as Container).accountedBytes);
  }

  /** Adds `entry`, with its value as it is now, to `usedMemoryBytes`. */
  private count(entry: Entry): void {
    let bytes = entry.recordBytes();
    if (bytes < 0) {
      const container = entry.value as Container;
      bytes = entry.keyLength() + (container.accountedBytes = container.sizeBytes);
    }
    this.usedMemoryBytes += ENTRY_OVERHEAD_BYTES + bytes;
  }

  /** Sets (or with 0 clears) the absolute expiry time: a write, so the entry's version goes up. */
  setExpiry(entry: Entry, expiresAtMs: number): void {
    this.map.bumpVersion(this.positionOf(entry), 0, 0);
    this.applyExpiry(entry, expiresAtMs);
  }

  /** `setExpiry` as part of a write that has counted its version already. */
  private applyExpiry(entry: Entry, expiresAtMs: number): void {
    if (expiresAtMs !== 0 && entry.volatileIndex === -1) {
      entry.volatileIndex = this.volatile.length;
      this.volatile.push(entry);
    } else if (expiresAtMs === 0 && entry.volatileIndex !== -1) {
      removeAt(this.volatile, entry.volatileIndex, (moved, index) => (moved.volatileIndex = index));
      entry.volatileIndex = -1;
    }
    entry.expiresAtMs = expiresAtMs;
    this.signalEntry(entry);
  }

  /** Deletes `key`; false when it did not exist (or had expired). */
  delete(key: string): boolean {
    const entry = this.lookup(key, false);
    if (entry === undefined) return false;
    this.removeEntry(entry);
    return true;
  }

  /** Removes a live entry from every index and the filter. */
  removeEntry(entry: Entry): void {
    this.removeEntryAt(entry, this.positionOf(entry));
  }

  /**
   * `removeEntry` of the entry at `position`: the table has its hash, so a key is not hashed
   * again (after a lookup, `positionOf` is free).
   */
  private removeEntryAt(entry: Entry, position: number): void {
    const hash = this.map.hashAt(position);
    this.map.removeAt(position);
    if (entry.volatileIndex !== -1) {
      removeAt(this.volatile, entry.volatileIndex, (moved, index) => (moved.volatileIndex = index));
    }
    this.filter?.removeHash(hash);
    this.usedMemoryBytes -= this.sizeOf(entry);
    this.signalEntry(entry);
    entry.release();
    this.dirty++;
  }

  /** The position of a live entry in `entries`: free right after the lookup that found it. */
  private positionOf(entry: Entry): number {
    const last = this.map.lastPosition;
    if (last >= 0 && last < this.entries.length && this.entries[last] === entry) return last;
    const position = this.map.positionOf(entry, entry.keyHash(this.map.seed));
    if (position === -1) throw new Error("Store: the entry is not in the store");
    return position;
  }

  // Hash slots: each store indexes its keys by Redis Cluster hash slot (`keySlot`), for
  // CLUSTER COUNTKEYSINSLOT / GETKEYSINSLOT, migration and anti-entropy. Keys that have expired
  // but are not yet collected count, as in DBSIZE and Redis (`expireSlot` collects them).

  /** The hash slot of a live entry's key (kept with it, not recomputed). O(1). */
  slotOf(entry: Entry): number {
    return this.map.slotAt(this.positionOf(entry));
  }

  /** Keys in hash slot `slot` (`CLUSTER COUNTKEYSINSLOT`). O(1). */
  countKeysInSlot(slot: number): number {
    return this.map.slotCount(checkSlot(slot));
  }

  /**
   * Up to `count` keys of hash slot `slot` (`CLUSTER GETKEYSINSLOT`), in no particular order.
   * O(the keys returned).
   */
  getKeysInSlot(slot: number, count: number): string[] {
    return this.slotEntries(slot, count).map((entry) => entry.key);
  }

  /** Up to `count` entries of hash slot `slot`, in no particular order. O(the entries returned). */
  slotEntries(slot: number, count: number): Entry[] {
    checkSlot(slot);
    if (!Number.isSafeInteger(count) || count < 0) {
      throw new RangeError(`Cannot list slot ${slot}: count must be an integer >= 0: ${count}`);
    }
    const found: Entry[] = [];
    const map = this.map;
    for (let p = map.slotFirst(slot); p !== -1 && found.length < count; p = map.slotNext(p)) {
      found.push(this.entries[p]);
    }
    return found;
  }

  /**
   * Deletes every key of hash slot `slot` (a slot this node no longer serves, after migration)
   * and returns how many there were; `deleted` hears each key, to log or replicate the deletion.
   * Watchers are told, as for DEL. O(the slot's keys).
   */
  deleteSlot(slot: number, deleted?: (key: string) => void): number {
    checkSlot(slot);
    const map = this.map;
    let count = 0;
    for (let p = map.slotFirst(slot); p !== -1; p = map.slotFirst(slot)) {
      const entry = this.entries[p];
      // The key must be read before the removal frees it.
      const key = deleted === undefined ? "" : entry.key;
      this.removeEntryAt(entry, p);
      count++;
      deleted?.(key);
    }
    return count;
  }

  /**
   * Deletes the keys of hash slot `slot` whose TTL has passed, as lazy expiry would (counted,
   * and told to `onRemoved`), so that its count and digest are those of its live keys; returns
   * how many it deleted. O(the slot's keys).
   */
  expireSlot(slot: number): number {
    checkSlot(slot);
    const map = this.map;
    const now = this.now();
    let expired = 0;
    for (let p = map.slotFirst(slot); p !== -1;) {
      let next = map.slotNext(p);
      const entry = this.entries[p];
      if (entry.expiresAtMs !== 0 && entry.expiresAtMs <= now) {
        // The removal moves the last entry into position `p`: if that was the next one, it is
        // now at `p`.
        const last = this.entries.length - 1;
        this.removeFor(entry, "expired");
        expired++;
        if (next === last) next = p;
      }
      p = next;
    }
    return expired;
  }

  /**
   * The digest of hash slot `slot`, an unsigned 64-bit number: a sum over its keys of a hash of
   * (key, type, write version); `digest.ts` says what it covers. Equal on two stores that hold
   * the same keys at the same versions, whatever the order of their writes. O(1).
   */
  slotDigest(slot: number): bigint {
    return this.map.slotDigest(checkSlot(slot));
  }

  /**
   * A live entry's write version: 1 when its key was created, plus one per write since (a value
   * or TTL change through this store), unless set by {@linkcode Store.setEntryVersion}. O(1).
   */
  entryVersion(entry: Entry): number {
    return this.map.versionAt(this.positionOf(entry));
  }

  /**
   * Sets a live entry's write version (replication and repair carry the writer's version); its
   * slot's digest follows. An integer from 1 to 2^50 - 1 (`MAX_VERSION`). O(1).
   */
  setEntryVersion(entry: Entry, version: number): void {
    if (!Number.isSafeInteger(version) || version < MIN_VERSION || version > MAX_VERSION) {
      throw new RangeError(
        `Cannot set version: it must be an integer from 1 to 2^50 - 1: ${version}`,
      );
    }
    this.map.setVersion(this.positionOf(entry), version);
  }

  /** Clients watching keys (WATCH), or null while nobody watches: the common case costs one
   * comparison per change. */
  private watchers: Map<string, Set<KeyWatcher>> | null = null;

  /** Marks `watcher` touched when `key` changes, expires or is deleted. */
  watch(key: string, watcher: KeyWatcher): void {
    this.watchers ??= new Map();
    let set = this.watchers.get(key);
    if (set === undefined) this.watchers.set(key, set = new Set());
    set.add(watcher);
  }

  /** Keys some client is watching (INFO `total_watched_keys`). */
  get watchedKeyCount(): number {
    return this.watchers?.size ?? 0;
  }

  /** Stops watching `key` for `watcher`. */
  unwatch(key: string, watcher: KeyWatcher): void {
    const set = this.watchers?.get(key);
    if (set === undefined) return;
    set.delete(watcher);
    if (set.size === 0) this.watchers!.delete(key);
    if (this.watchers!.size === 0) this.watchers = null;
  }

  /** `signal` for an entry, whose key is read only when somebody watches. */
  private signalEntry(entry: Entry): void {
    if (this.watchers !== null || this.onSignal !== null) this.signal(entry.key);
  }

  /** Tells the watchers of `key` that it changed. */
  private signal(key: string): void {
    if (this.onSignal !== null) this.onSignal(key, this.removing);
    if (this.watchers === null) return;
    const set = this.watchers.get(key);
    if (set !== undefined) { for (const watcher of set) watcher.watchTouched = true; }
  }

  /**
   * Exchanges every key with `other` (SWAPDB): keys, values, TTLs, access data and memory
   * accounting move whole; settings, filters, watchers, callbacks and counters stay with each
   * store. A client watching a key that either store holds is told, as Redis touches it. O(1),
   * but for a store with a filter (rebuilt for its new keys) and for stores whose eviction
   * policies keep access data differently (LRU and LFU: converted).
   */
  swapData(other: Store): void {
    if (other === this) return;
    this.touchWatchedIn(other);
    other.touchWatchedIn(this);
    [this.map, other.map] = [other.map, this.map];
    [this.entries, other.entries] = [other.entries, this.entries];
    [this.volatile, other.volatile] = [other.volatile, this.volatile];
    [this.usedMemoryBytes, other.usedMemoryBytes] = [other.usedMemoryBytes, this.usedMemoryBytes];
    [this.epochMs, other.epochMs] = [other.epochMs, this.epochMs];
    if (isLfu(this.options.evictionPolicy) !== isLfu(other.options.evictionPolicy)) {
      // Each store's entries are as the other's policy kept them: convert to its own.
      this.convertAccess(isLfu(other.options.evictionPolicy));
      other.convertAccess(isLfu(this.options.evictionPolicy));
    }
    this.rebuildFilter();
    other.rebuildFilter();
    this.dirty++;
    other.dirty++;
  }

  /** Marks the watchers of keys this store or `other` holds (SWAPDB changes them all). */
  private touchWatchedIn(other: Store): void {
    if (this.watchers === null) return;
    for (const [key, set] of this.watchers) {
      if (!this.map.has(key) && !other.map.has(key)) continue;
      for (const watcher of set) watcher.watchTouched = true;
    }
  }

  /** Converts every entry's access data from LFU (`wasLfu`) or LRU to the other. */
  private convertAccess(wasLfu: boolean): void {
    for (const entry of this.entries) {
      entry.access = wasLfu
        ? Math.floor(entry.access / 256) * 60_000
        : Math.floor(entry.access / 60_000) * 256 + LFU_INIT_VALUE;
    }
  }

  /** Refills the filter from the keys the store holds now. */
  private rebuildFilter(): void {
    const filter = this.filter;
    if (filter === null) return;
    filter.clear();
    for (let position = 0; position < this.entries.length; position++) {
      filter.addHash(this.map.hashAt(position));
    }
  }

  /** Removes every key. */
  flush(): void {
    if (this.watchers !== null) {
      for (const [key, set] of this.watchers) {
        if (this.map.has(key)) { for (const watcher of set) watcher.watchTouched = true; }
      }
    }
    for (const entry of this.entries) entry.release();
    recordArena.trim();
    this.map.clear();
    this.volatile.length = 0;
    this.filter?.clear();
    this.usedMemoryBytes = 0;
    this.dirty++;
  }

  /** A random live entry, or undefined when the store is empty. */
  randomEntry(): Entry | undefined {
    while (this.entries.length > 0) {
      const entry = this.entries[Math.floor(this.random() * this.entries.length)];
      if (!this.expireIfDue(entry, this.now())) return entry;
    }
    return undefined;
  }

  /**
   * One active-expiry round as Redis does it: sample keys with a TTL, delete the expired ones,
   * and report whether more than a quarter were expired (the caller then repeats, within its time
   * budget).
   */
  activeExpireRound(): boolean {
    const count = Math.min(ACTIVE_EXPIRE_SAMPLE_COUNT, this.volatile.length);
    if (count === 0) return false;
    const now = this.now();
    let expired = 0;
    for (let i = 0; i < count && this.volatile.length > 0; i++) {
      const entry = this.volatile[Math.floor(this.random() * this.volatile.length)];
      if (entry.expiresAtMs <= now) {
        this.removeFor(entry, "expired");
        expired++;
      }
    }
    return expired > count * ACTIVE_EXPIRE_REPEAT_RATIO;
  }

  /** Whether a write that may grow memory can go ahead. Evicts as the policy allows. */
  ensureMemory(): boolean {
    if (this.memoryPool !== null) return ensurePoolMemory(this.memoryPool);
    const limit = this.options.maxMemoryBytes;
    if (limit === 0 || this.usedMemoryBytes <= limit) return true;
    while (this.usedMemoryBytes > limit) {
      const victim = this.evictionCandidate();
      if (victim === undefined) return false;
      this.removeFor(victim, "evicted");
    }
    return true;
  }

  /**
   * The entry the policy evicts next, chosen among `evictionSamples` random candidates; its
   * score (higher: evict sooner, comparable across stores) is left in `candidateScore`.
   */
  evictionCandidate(): Entry | undefined {
    const policy = this.options.evictionPolicy;
    if (policy === "noeviction") return undefined;
    const pool = policy.startsWith("volatile-") ? this.volatile : this.entries;
    if (pool.length === 0) return undefined;
    if (policy === "allkeys-random" || policy === "volatile-random") {
      this.candidateScore = this.random();
      return pool[Math.floor(this.random() * pool.length)];
    }
    const now = this.now();
    const samples = Math.min(this.options.evictionSamples, pool.length);
    let best: Entry | undefined;
    let bestScore = -Infinity;
    for (let i = 0; i < samples; i++) {
      // With as many samples as keys, look at every key once: the choice is then exact.
      const entry = samples === pool.length
        ? pool[i]
        : pool[Math.floor(this.random() * pool.length)];
      const score = this.evictionScore(entry, policy, now);
      if (score > bestScore) {
        best = entry;
        bestScore = score;
      }
    }
    this.candidateScore = bestScore;
    return best;
  }

  /** The score of the entry `evictionCandidate` returned last. */
  candidateScore = 0;

  /** Higher means evict sooner. */
  private evictionScore(entry: Entry, policy: EvictionPolicy, now: number): number {
    switch (policy) {
      case "allkeys-lfu":
      case "volatile-lfu":
        return 255 - this.lfuDecayed(entry, now);
      case "volatile-ttl":
        return -entry.expiresAtMs;
      default:
        return now - this.epochMs - entry.access;
    }
  }

  /** Milliseconds since the entry was last accessed (OBJECT IDLETIME). */
  idleMs(entry: Entry): number {
    return Math.max(0, this.now() - this.epochMs - entry.access);
  }

  /** The LFU counter as OBJECT FREQ reports it (decayed to now). */
  frequency(entry: Entry): number {
    return this.lfuDecayed(entry, this.now());
  }
}

/**
 * `ensureMemory` for stores sharing one limit (the first store's): evicts, while the stores'
 * total is over it, the best candidate among each store's samples.
 */
function ensurePoolMemory(pool: Store[]): boolean {
  const limit = pool[0].options.maxMemoryBytes;
  if (limit === 0) return true;
  let used = 0;
  for (const store of pool) used += store.usedMemoryBytes;
  while (used > limit) {
    let victim: Entry | undefined;
    let owner: Store | undefined;
    let best = -Infinity;
    for (const store of pool) {
      const candidate = store.evictionCandidate();
      if (candidate !== undefined && store.candidateScore > best) {
        victim = candidate;
        owner = store;
        best = store.candidateScore;
      }
    }
    if (owner === undefined) return false;
    const before = owner.usedMemoryBytes;
    owner.evict(victim!);
    used -= before - owner.usedMemoryBytes;
  }
  return true;
}

/** `slot`, checked to be a hash slot (0-16383). */
function checkSlot(slot: number): number {
  if (!Number.isInteger(slot) || slot < 0 || slot >= SLOT_COUNT) {
    throw new RangeError(`Invalid hash slot: it must be an integer from 0 to 16383: ${slot}`);
  }
  return slot;
}

/** Swap-removes `array[index]`, telling `moved` where the former last element went. */
function removeAt<T>(array: T[], index: number, moved: (item: T, index: number) => void): void {
  const last = array.pop()!;
  if (index < array.length) {
    array[index] = last;
    moved(last, index);
  }
}
