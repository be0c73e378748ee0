/**
 * The timing formulas of SWIM with Lifeguard, with the same results as HashiCorp memberlist's
 * (`suspicionTimeout`, `retransmitLimit`, `remainingSuspicionTime`, `pushPullScale`), so that a
 * cluster tuned like memberlist behaves like it.
 *
 * @module
 */

/**
 * Minimum suspicion timeout: `suspicionMult x max(1, log10(n)) x probeIntervalMs`, with the
 * log truncated to three decimals as memberlist does.
 *
 * @example
 * ```ts
 * import { suspicionTimeoutMs } from "./timing.ts";
 * suspicionTimeoutMs(4, 5, 1000); // 4000
 * ```
 */
export function suspicionTimeoutMs(
  suspicionMult: number,
  n: number,
  probeIntervalMs: number,
): number {
  const nodeScale = Math.max(1, Math.log10(Math.max(1, n)));
  return Math.floor((suspicionMult * Math.trunc(nodeScale * 1000) * probeIntervalMs) / 1000);
}

/**
 * How many times a broadcast is sent before it is dropped from the queue:
 * `retransmitMult x ceil(log10(n + 1))`.
 *
 * @example
 * ```ts
 * import { retransmitLimit } from "./timing.ts";
 * retransmitLimit(4, 20); // 8
 * ```
 */
export function retransmitLimit(retransmitMult: number, n: number): number {
  return retransmitMult * Math.ceil(Math.log10(n + 1));
}

/**
 * Lifeguard's dynamic suspicion timeout: after `confirmations` independent confirmations out of the
 * `k` wanted, the timeout falls from `maxMs` towards `minMs` as log(n + 1) / log(k + 1). Returns
 * what is left of it after `elapsedMs` (negative when it is already over).
 *
 * @example
 * ```ts
 * import { remainingSuspicionTimeMs } from "./timing.ts";
 * remainingSuspicionTimeMs({ confirmations: 1, k: 3, elapsedMs: 2000, minMs: 2000, maxMs: 30000 }); // 14000
 * ```
 */
export function remainingSuspicionTimeMs(options: {
  confirmations: number;
  k: number;
  elapsedMs: number;
  minMs: number;
  maxMs: number;
}): number {
  const { confirmations, k, elapsedMs, minMs, maxMs } = options;
  const fraction = Math.log(confirmations + 1) / Math.log(k + 1);
  const rawSeconds = maxMs / 1000 - fraction * (maxMs / 1000 - minMs / 1000);
  const timeoutMs = Math.max(minMs, Math.floor(1000 * rawSeconds));
  return timeoutMs - elapsedMs;
}

/** Cluster size up to which the push-pull interval is not stretched (memberlist's threshold). */
export const PUSH_PULL_SCALE_THRESHOLD = 32;

/**
 * The push-pull interval stretched for large clusters, so that full-state syncs do not saturate
 * the network: one more interval for every doubling above 32 members.
 *
 * @example
 * ```ts
 * import { pushPullScaleMs } from "./timing.ts";
 * pushPullScaleMs(30_000, 64); // 60000
 * ```
 */
export function pushPullScaleMs(intervalMs: number, n: number): number {
  if (n <= PUSH_PULL_SCALE_THRESHOLD) return intervalMs;
  const multiplier = Math.ceil(Math.log2(n) - Math.log2(PUSH_PULL_SCALE_THRESHOLD)) + 1;
  return multiplier * intervalMs;
}
