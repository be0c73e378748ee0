/**
 * Time as HyperCache's cores see it. It lives outside `src/runtime/` so that the pure cores (the
 * keyspace, for instance) can take a clock without depending on the runtime layer; the runtime
 * adapters provide one, and tests and the simulator provide their own.
 *
 * @module
 */

/** Time as the runtime sees it. Injected everywhere so tests can move a fake clock. */
export interface Clock {
  /** Milliseconds from an arbitrary origin; never goes backwards. For timeouts and durations. */
  monotonicMs(): number;
  /** Milliseconds since the Unix epoch. For TTLs that must survive a restart. */
  realtimeMs(): number;
}
