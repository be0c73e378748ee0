/**
 * Strict argument parsing with Redis's rules: integers have no sign other than '-', no spaces
 * and no leading zeros, as Redis's `string2ll` requires.
 *
 * @module
 */
import { NOT_FLOAT, NOT_INTEGER, ReplyError } from "./errors.ts";

const INTEGER = /^(0|-?[1-9][0-9]{0,18})$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** A 64-bit signed integer, or null when `text` is not one. */
export function parseInt64(text: string): bigint | null {
  if (!INTEGER.test(text)) return null;
  const value = BigInt(text);
  return value < INT64_MIN || value > INT64_MAX ? null : value;
}

/**
 * An expiry argument as absolute Unix ms, with Redis's 64-bit overflow checks: null where Redis
 * answers `invalid expire time` (a time whose ms, or ms plus `nowMs`, pass a signed 64-bit
 * integer), undefined where the text is not a 64-bit integer. A time past 2^53 ms (285,000
 * years) is kept as the nearest double.
 */
export function expiryMs(
  text: string,
  seconds: boolean,
  relative: boolean,
  nowMs: number,
): number | null | undefined {
  const small = parseSafeInteger(text);
  // Most times: no product or sum can leave the safe range.
  if (small !== null && Math.abs(small) < 2 ** 42) {
    return (seconds ? small * 1000 : small) + (relative ? nowMs : 0);
  }
  let when = parseInt64(text);
  if (when === null) return undefined;
  if (seconds) {
    if (when > INT64_MAX / 1000n || when < INT64_MIN / 1000n) return null;
    when *= 1000n;
  }
  if (relative) {
    const base = BigInt(nowMs);
    if ((when > 0n && base > INT64_MAX - when) || (when < 0n && base < INT64_MIN - when)) {
      return null;
    }
    when += base;
  }
  return Number(when);
}

/** An integer small enough for a JS number (|n| < 2^53), or null. */
export function parseSafeInteger(text: string): number | null {
  if (text.length > 16 || !INTEGER.test(text)) return null;
  return Number(text);
}

/** `parseSafeInteger`, throwing Redis's integer error. */
export function integerArg(text: string): number {
  const value = parseSafeInteger(text);
  if (value === null) throw new ReplyError(NOT_INTEGER);
  return value;
}

/** A finite or infinite double as Redis's `strtold` accepts it (`inf`, `-inf`, `1e3`), or null. */
export function parseDouble(text: string): number | null {
  if (text.length === 0 || text !== text.trim()) return null;
  const lower = text.toLowerCase();
  if (lower === "inf" || lower === "+inf" || lower === "infinity" || lower === "+infinity") {
    return Infinity;
  }
  if (lower === "-inf" || lower === "-infinity") return -Infinity;
  const value = Number(text);
  return Number.isNaN(value) || !/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text) ? null : value;
}

export function doubleArg(text: string): number {
  const value = parseDouble(text);
  if (value === null) throw new ReplyError(NOT_FLOAT);
  return value;
}

/** Case-insensitive comparison against an upper-case option name. */
export function isOption(arg: string, upper: string): boolean {
  return arg.length === upper.length && arg.toUpperCase() === upper;
}

/**
 * Redis's index range of LRANGE, LTRIM and the rank commands: `start` and `end` counted from the
 * end when negative, clamped to `length`; the inclusive range, or null when it is empty.
 */
export function rangeOf(start: number, end: number, length: number): [number, number] | null {
  if (start < 0) start = length + start;
  if (end < 0) end = length + end;
  if (start < 0) start = 0;
  if (start > end || start >= length) return null;
  if (end >= length) end = length - 1;
  return [start, end];
}
