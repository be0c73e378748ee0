/**
 * The keyspace: the node's named stores (store 0 is the default), the active expiry cycle and
 * memory totals.
 *
 * @module
 */
import { ACTIVE_EXPIRE_CYCLE_MS } from "../constants.ts";
import type { Clock } from "../clock.ts";
import { Store, type StoreOptions } from "./store.ts";

/**
 * All stores of a node.
 *
 * @example
 * ```ts
 * import { Keyspace } from "@hypercache/hypercache/keyspace";
 * const clock = { monotonicMs: () => performance.now(), realtimeMs: () => Date.now() };
 * const keyspace = new Keyspace([{ name: "default", maxMemoryBytes: 0, evictionPolicy: "noeviction", defaultTtlMs: 0 }], clock);
 * keyspace.store(0).set("greeting", "hello");
 * keyspace.store(0).read("greeting")?.value; // "hello"
 * ```
 */
export class Keyspace {
  /** The stores, by index (store 0 is the default). */
  readonly stores: Store[];
  private readonly byName = new Map<string, Store>();
  /** The store the next active-expiry cycle starts with. */
  private nextExpireStoreIndex = 0;
  /** Whether the active expiry cycle runs (DEBUG SET-ACTIVE-EXPIRE); lazy expiry always does. */
  activeExpireEnabled = true;

  /** Creates the stores; names must be unique and at least one store is needed. */
  constructor(options: StoreOptions[], readonly clock: Clock) {
    if (options.length === 0) {
      throw new RangeError("Cannot create keyspace: it needs at least one store");
    }
    this.stores = options.map((store, index) => new Store(index, store, clock));
    for (const store of this.stores) {
      if (this.byName.has(store.name)) {
        throw new RangeError(`Cannot create keyspace: store name '${store.name}' is used twice`);
      }
      this.byName.set(store.name, store);
    }
    for (const store of this.stores) {
      const of = store.options.memoryOf;
      if (of === undefined) continue;
      const owner = this.stores[of];
      if (owner === undefined || of >= store.index || owner.options.memoryOf !== undefined) {
        throw new RangeError(
          `Cannot create keyspace: store '${store.name}' shares the memory of store ${of}, which is not an earlier store with a limit of its own`,
        );
      }
      owner.memoryPool ??= [owner];
      owner.memoryPool.push(store);
      store.memoryPool = owner.memoryPool;
    }
  }

  /** The store at `index` (callers validate the index). */
  store(index: number): Store {
    return this.stores[index];
  }

  /** A store by index (`"0"`) or by name; undefined when there is none. */
  find(indexOrName: string): Store | undefined {
    if (/^\d+$/.test(indexOrName)) return this.stores[Number(indexOrName)];
    return this.byName.get(indexOrName);
  }

  /** Memory accounted across every store. */
  get usedMemoryBytes(): number {
    let total = 0;
    for (const store of this.stores) total += store.usedMemoryBytes;
    return total;
  }

  /** Keys across every store. */
  get keyCount(): number {
    let total = 0;
    for (const store of this.stores) total += store.size;
    return total;
  }

  /**
   * Fixes the time all stores see until `unpinTime`, so a batch of commands reads the clock once
   * (a clock read costs as much as a whole key lookup on Deno).
   */
  pinTime(): void {
    const now = this.clock.realtimeMs();
    for (const store of this.stores) store.pinnedNowMs = now;
  }

  /** Back to reading the clock on every access. */
  unpinTime(): void {
    for (const store of this.stores) store.pinnedNowMs = 0;
  }

  /**
   * Deletes expired keys in every store, Redis-style: rounds of samples while a quarter or more
   * of a round was expired, within `budgetMs` so the event loop is never held long.
   */
  activeExpireCycle(budgetMs = ACTIVE_EXPIRE_CYCLE_MS): void {
    if (!this.activeExpireEnabled) return;
    const deadline = this.clock.monotonicMs() + budgetMs;
    const count = this.stores.length;
    for (let visited = 0; visited < count; visited++) {
      const store = this.stores[this.nextExpireStoreIndex];
      // Each cycle starts one store further, as Redis's `current_db`, so a store full of expired
      // keys that spends every budget does not starve the stores after it.
      this.nextExpireStoreIndex = (this.nextExpireStoreIndex + 1) % count;
      while (store.activeExpireRound()) {
        if (this.clock.monotonicMs() >= deadline) return;
      }
    }
  }
}
