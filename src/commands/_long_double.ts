/**
 * x87 80-bit `long double` arithmetic (64-bit mantissa, round to nearest even) on BigInt, so
 * INCRBYFLOAT and HINCRBYFLOAT give Redis's exact text: Redis parses with `strtold`, adds in
 * long double and prints with `%.17Lf` minus trailing zeros (`0.1 + 0.2` is `0.3` there).
 *
 * @module
 */

/** `sign * mantissa * 2^exponent`; the mantissa has at most 64 bits. */
interface LongDouble {
  negative: boolean;
  mantissa: bigint;
  exponent: number;
}

const MANTISSA_BITS = 64;
/** Redis's MAX_LONG_DOUBLE_CHARS: longer input is not a float. */
const MAX_CHARS = 5 * 1024;
/** Long double's largest binary exponent (values at or above 2^16384 are infinite). */
const MAX_BINARY_EXPONENT = 16384;
const MIN_BINARY_EXPONENT = -16445;
const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

function bitLength(value: bigint): number {
  return value === 0n ? 0 : value.toString(2).length;
}

/** Rounds `value * 2^exponent` (value >= 0) to a 64-bit mantissa, ties to even. */
function normalize(negative: boolean, value: bigint, exponent: number, sticky = false): LongDouble {
  const excess = bitLength(value) - MANTISSA_BITS;
  if (excess > 0) {
    const shift = BigInt(excess);
    const kept = value >> shift;
    const rest = value - (kept << shift);
    const half = 1n << (shift - 1n);
    const roundUp = rest > half || (rest === half && (sticky || (kept & 1n) === 1n));
    value = roundUp ? kept + 1n : kept;
    exponent += excess;
    if (bitLength(value) > MANTISSA_BITS) {
      value >>= 1n;
      exponent++;
    }
  }
  return { negative, mantissa: value, exponent };
}

/** The long double nearest to `numerator / denominator` (both positive). */
function fromRatio(negative: boolean, numerator: bigint, denominator: bigint): LongDouble {
  // Scale so the quotient has 66 bits or more: two guard bits plus an exact sticky remainder.
  const shift = Math.max(0, MANTISSA_BITS + 2 - (bitLength(numerator) - bitLength(denominator)));
  const scaled = numerator << BigInt(shift);
  const quotient = scaled / denominator;
  const remainder = scaled - quotient * denominator;
  return normalize(negative, quotient, -shift, remainder !== 0n);
}

/** Whether the value is beyond long double's range (infinite). */
function isInfinite(value: LongDouble): boolean {
  return value.mantissa !== 0n && bitLength(value.mantissa) + value.exponent > MAX_BINARY_EXPONENT;
}

/**
 * Parses text as Redis's `string2ld` does (decimal notation and `inf`), or null when it is not a
 * float. Infinity is returned as a JS number so callers can reject it.
 */
export function parseLongDouble(text: string): LongDouble | number | null {
  if (text.length === 0 || text.length >= MAX_CHARS) return null;
  const lower = text.toLowerCase();
  const unsigned = lower.replace(/^[+-]/, "");
  if (unsigned === "inf" || unsigned === "infinity") return lower[0] === "-" ? -Infinity : Infinity;
  const match = DECIMAL.exec(text);
  if (match === null) return null;
  const [, sign, whole, fraction = "", exponentText = "0"] = match;
  if (whole === "" && fraction === "") return null;
  const digits = BigInt(whole + fraction || "0");
  const exponent10 = Number(exponentText) - fraction.length;
  if (!Number.isFinite(exponent10) || Math.abs(exponent10) > 100_000) {
    return digits === 0n ? { negative: sign === "-", mantissa: 0n, exponent: 0 } : null;
  }
  let value: LongDouble;
  if (digits === 0n) value = { negative: sign === "-", mantissa: 0n, exponent: 0 };
  else if (exponent10 >= 0) value = normalize(sign === "-", digits * 10n ** BigInt(exponent10), 0);
  else value = fromRatio(sign === "-", digits, 10n ** BigInt(-exponent10));
  if (isInfinite(value)) return null;
  // strtold reports underflow to zero as ERANGE, which string2ld rejects.
  if (value.mantissa !== 0n && bitLength(value.mantissa) + value.exponent < MIN_BINARY_EXPONENT) {
    return null;
  }
  return value;
}

/** `a + b`, rounded once, as the x87 FPU adds; null when the sum overflows to infinity. */
export function addLongDouble(a: LongDouble, b: LongDouble): LongDouble | null {
  const exponent = Math.min(a.exponent, b.exponent);
  const signed = (x: LongDouble) =>
    (x.negative ? -x.mantissa : x.mantissa) << BigInt(x.exponent - exponent);
  const sum = signed(a) + signed(b);
  if (sum === 0n) return { negative: a.negative && b.negative, mantissa: 0n, exponent: 0 };
  const result = normalize(sum < 0n, sum < 0n ? -sum : sum, exponent);
  return isInfinite(result) ? null : result;
}

/** Formats with `%.17Lf`, then drops trailing zeros and the point, and `-0` becomes `0`. */
export function formatLongDouble(value: LongDouble): string {
  const DIGITS = 17n;
  const scale = 10n ** DIGITS;
  let scaled: bigint;
  if (value.exponent >= 0) {
    scaled = (value.mantissa << BigInt(value.exponent)) * scale;
  } else {
    const denominator = 1n << BigInt(-value.exponent);
    const numerator = value.mantissa * scale;
    scaled = numerator / denominator;
    const twice = (numerator - scaled * denominator) * 2n;
    if (twice > denominator || (twice === denominator && (scaled & 1n) === 1n)) scaled++;
  }
  const whole = scaled / scale;
  const fraction = (scaled % scale).toString().padStart(Number(DIGITS), "0").replace(/0+$/, "");
  const text = fraction === "" ? whole.toString() : `${whole}.${fraction}`;
  return value.negative && text !== "0" ? `-${text}` : text;
}
