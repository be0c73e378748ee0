/**
 * Clock, timers and randomness as both Deno and Bun provide them (the web-standard globals): the
 * adapters' `clock`, `timers` and `random`, and the default of the libraries (Raft, gossip) when
 * they run without an adapter.
 *
 * @module
 */
import type { Clock, Runtime, TimerHandle, Timers } from "./types.ts";

/** `performance.now()` and `Date.now()`. */
export const systemClock: Clock = {
  monotonicMs: () => performance.now(),
  realtimeMs: () => Date.now(),
};

/** The global timers and `queueMicrotask`. */
export const systemTimers: Timers = {
  setTimeout: (callback, delayMs) => setTimeout(callback, delayMs) as unknown as TimerHandle,
  clearTimeout: (handle) => clearTimeout(handle as unknown as number | undefined),
  setInterval: (callback, intervalMs) =>
    setInterval(callback, intervalMs) as unknown as TimerHandle,
  clearInterval: (handle) => clearInterval(handle as unknown as number | undefined),
  queueMicrotask: (callback) => queueMicrotask(callback),
};

/** `Math.random`. */
export function systemRandom(): number {
  return Math.random();
}

/** What a driver needs to keep time and draw random numbers. */
export type Scheduling = Pick<Runtime, "clock" | "timers" | "random">;

/** The system's clock, timers and randomness, for a driver given no runtime. */
export const systemScheduling: Scheduling = {
  clock: systemClock,
  timers: systemTimers,
  random: systemRandom,
};
