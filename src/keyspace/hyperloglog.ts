/**
 * HyperLogLog sketches in Redis's own string format, so that a value PFADD builds here has the
 * bytes redis-server builds for the same elements, and a value copied from redis-server counts
 * the same here. Pure: bytes in, bytes and numbers out.
 *
 * The format (Redis 7.0):
 *
 * - A 16-byte header: `HYLL`, the encoding (0 dense, 1 sparse), three unused bytes, and the
 *   cached cardinality as 8 bytes little-endian, whose top bit set means "not valid, count again".
 * - 16384 registers (the low 14 bits of an element's 64-bit MurmurHash64A, seed 0xadc83b19, pick
 *   the register; the run of zero bits above them, plus one, is the value, at most 51).
 * - Dense: the registers as 6-bit fields, packed from the least significant bit of each byte:
 *   12288 bytes after the header, 12304 in all.
 * - Sparse: run-length opcodes after the header. `00xxxxxx` ZERO: 1 to 64 zero registers;
 *   `01xxxxxx yyyyyyyy` XZERO: 1 to 16384 zero registers (14 bits); `1vvvvvxx` VAL: 1 to 4
 *   registers of value 1 to 32. A register set past 32, or a sparse value that would grow past
 *   `hll-sparse-max-bytes`, makes the sketch dense.
 *
 * Updating a sparse value splits the opcode that covers the register into at most three (the
 * zero or value run before it, one VAL, the run after), then joins VAL opcodes of equal value
 * that now touch, scanning at most five opcodes from the one before the split: the same steps
 * redis-server takes, which is what makes the bytes equal.
 *
 * The count is Otmar Ertl's estimator ("New cardinality estimation algorithms for HyperLogLog
 * sketches", arXiv:1702.01284) over the histogram of register values, as Redis 7.0 computes it.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { readLatin1 } from "../_latin1.ts";
import { HLL_SPARSE_MAX_BYTES } from "../constants.ts";

/** Bits of the hash that pick the register. */
export const HLL_P = 14;
/** Bits left for the run of zeros: a register holds at most `HLL_Q + 1`. */
export const HLL_Q = 64 - HLL_P;
export const HLL_REGISTERS = 1 << HLL_P;
export const HLL_HEADER_BYTES = 16;
/** The length of every dense value. */
export const HLL_DENSE_BYTES = HLL_HEADER_BYTES + (HLL_REGISTERS * 6) / 8;
export const HLL_DENSE = 0;
export const HLL_SPARSE = 1;
/** Redis's seed of MurmurHash64A for HyperLogLog elements. */
export const HLL_HASH_SEED = 0xadc83b19;

const REGISTER_MASK = HLL_REGISTERS - 1;
const REGISTER_MAX = 63;
/** Largest value a sparse VAL opcode holds, and longest run it covers. */
const VAL_MAX_VALUE = 32;
const VAL_MAX_RUN = 4;
/** Longest run of a ZERO opcode, and of an XZERO one. */
const ZERO_MAX_RUN = 64;
const XZERO_MAX_RUN = 16384;
/** Header offset of the byte that holds the cache's validity bit (bit 7). */
const CACHE_FLAG_BYTE = 15;
/** The opcodes of a sparse value, starting right after the header. */
const OPCODES = HLL_HEADER_BYTES;
/** 1/(2 ln 2): the estimator's constant for m -> infinity. */
const ALPHA_INF = 0.721347520444481703680;
/** 2^63: an estimate this large has no signed 64-bit value (Redis gives the lowest one). */
const TWO_63 = 2 ** 63;

// MurmurHash64A's multiplier, and the result of the 64-bit helpers, in 32-bit halves: the hash
// runs on every PFADD element, and BigInt arithmetic would allocate for each step.
const M_HI = 0xc6a4a793;
const M_LO = 0x5bd1e995;
let outHi = 0;
let outLo = 0;

/** (hi, lo) * M modulo 2^64, into outHi/outLo. */
function mulM(hi: number, lo: number): void {
  const a0 = lo & 0xffff;
  const a1 = lo >>> 16;
  const b0 = M_LO & 0xffff;
  const b1 = M_LO >>> 16;
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  outLo = ((mid << 16) | (p00 & 0xffff)) >>> 0;
  const carry = a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16);
  outHi = (carry + Math.imul(lo, M_HI) + Math.imul(hi, M_LO)) >>> 0;
}

/** MurmurHash64A of the latin1 bytes of `text`, into outHi/outLo. */
function murmur64(text: string, seed: number): void {
  const length = text.length;
  mulM(0, length);
  let hHi = outHi;
  let hLo = (outLo ^ seed) >>> 0;
  const blocks = length & ~7;
  for (let i = 0; i < blocks; i += 8) {
    const kLo = (text.charCodeAt(i) | (text.charCodeAt(i + 1) << 8) |
      (text.charCodeAt(i + 2) << 16) | (text.charCodeAt(i + 3) << 24)) >>> 0;
    const kHi = (text.charCodeAt(i + 4) | (text.charCodeAt(i + 5) << 8) |
      (text.charCodeAt(i + 6) << 16) | (text.charCodeAt(i + 7) << 24)) >>> 0;
    mulM(kHi, kLo);
    mulM(outHi, (outLo ^ (outHi >>> 15)) >>> 0);
    mulM((hHi ^ outHi) >>> 0, (hLo ^ outLo) >>> 0);
    hHi = outHi;
    hLo = outLo;
  }
  const rest = length & 7;
  if (rest !== 0) {
    switch (rest) {
      case 7:
        hHi ^= text.charCodeAt(blocks + 6) << 16;
      // falls through
      case 6:
        hHi ^= text.charCodeAt(blocks + 5) << 8;
      // falls through
      case 5:
        hHi ^= text.charCodeAt(blocks + 4);
      // falls through
      case 4:
        hLo ^= text.charCodeAt(blocks + 3) << 24;
      // falls through
      case 3:
        hLo ^= text.charCodeAt(blocks + 2) << 16;
      // falls through
      case 2:
        hLo ^= text.charCodeAt(blocks + 1) << 8;
      // falls through
      case 1:
        hLo ^= text.charCodeAt(blocks);
    }
    mulM(hHi >>> 0, hLo >>> 0);
    hHi = outHi;
    hLo = outLo;
  }
  hLo = (hLo ^ (hHi >>> 15)) >>> 0;
  mulM(hHi, hLo);
  outLo = (outLo ^ (outHi >>> 15)) >>> 0;
}

/** MurmurHash64A (Austin Appleby's 64-bit hash for 64-bit machines) of the latin1 bytes of
 * `text`, as an unsigned 64-bit number. */
export function murmurHash64A(text: string, seed: number = HLL_HASH_SEED): bigint {
  murmur64(text, seed >>> 0);
  return (BigInt(outHi) << 32n) | BigInt(outLo);
}

/**
 * Where `element` lands in a sketch: `register << 6 | value`, the register its hash picks and
 * the value it offers there (the run of zeros above the register bits, plus one; 1 to 51).
 */
export function hllPosition(element: string): number {
  murmur64(element, HLL_HASH_SEED);
  const register = outLo & REGISTER_MASK;
  // The hash without its register bits, with bit HLL_Q set so that the run ends by 51.
  const lo = ((outLo >>> HLL_P) | (outHi << (32 - HLL_P))) >>> 0;
  const hi = (outHi >>> HLL_P) | (1 << (HLL_Q - 32));
  const value = lo !== 0 ? 32 - Math.clz32(lo & -lo) : 64 - Math.clz32(hi & -hi);
  return (register << 6) | value;
}

/** σ(x) of Ertl's estimator: the correction for registers still zero. */
function sigma(x: number): number {
  if (x === 1) return Infinity;
  let y = 1;
  let z = x;
  let previous: number;
  do {
    x *= x;
    previous = z;
    z += x * y;
    y += y;
  } while (previous !== z);
  return z;
}

/** τ(x) of Ertl's estimator: the correction for registers at the largest value. */
function tau(x: number): number {
  if (x === 0 || x === 1) return 0;
  let y = 1;
  let z = 1 - x;
  let previous: number;
  do {
    x = Math.sqrt(x);
    previous = z;
    y *= 0.5;
    const d = 1 - x;
    z -= d * d * y;
  } while (previous !== z);
  return z / 3;
}

/**
 * The cardinality estimate from a histogram of register values (`histogram[v]` registers hold
 * `v`; values above `HLL_Q + 1` are not counted, as in Redis): a non-negative integer, maybe
 * above 2^53 or infinite for a crafted value (see {@linkcode cardinalityReply}).
 */
export function hllEstimate(histogram: ArrayLike<number>): number {
  const m = HLL_REGISTERS;
  let z = m * tau((m - histogram[HLL_Q + 1]) / m);
  for (let j = HLL_Q; j >= 1; j--) {
    z += histogram[j];
    z *= 0.5;
  }
  z += m * sigma(histogram[0] / m);
  return Math.round((ALPHA_INF * m * m) / z);
}

/**
 * An estimate as Redis replies with it: its unsigned 64-bit value read as a signed one. An
 * estimate of 2^63 or more (only crafted registers give one) has no 64-bit integer value, and
 * Redis's conversion gives 2^63, which reads as the lowest signed number.
 */
export function cardinalityReply(estimate: number): number | bigint {
  if (!(estimate < TWO_63)) return -(2n ** 63n);
  return estimate <= Number.MAX_SAFE_INTEGER ? estimate : BigInt(estimate);
}

/** The register values of `registers` (one per byte) counted, into `histogram`. */
function rawHistogram(registers: Uint8Array, histogram: Int32Array): void {
  histogram.fill(0);
  for (let i = 0; i < HLL_REGISTERS; i++) histogram[registers[i]]++;
}

const unionHistogram = new Int32Array(64);

/** The estimate of a union: `registers` holds one register per byte (see `mergeInto`). */
export function countRegisters(registers: Uint8Array): number {
  rawHistogram(registers, unionHistogram);
  return hllEstimate(unionHistogram);
}

/** A dense register of `bytes`. */
function denseGet(bytes: Uint8Array, index: number): number {
  const bit = index * 6;
  const at = HLL_HEADER_BYTES + (bit >>> 3);
  const shift = bit & 7;
  return ((bytes[at] >>> shift) | (bytes[at + 1] << (8 - shift))) & REGISTER_MAX;
}

/** Sets a dense register of `bytes` to `value` (0 to 63). */
function denseWrite(bytes: Uint8Array, index: number, value: number): void {
  const bit = index * 6;
  const at = HLL_HEADER_BYTES + (bit >>> 3);
  const shift = bit & 7;
  bytes[at] = (bytes[at] & ~(REGISTER_MAX << shift)) | (value << shift);
  if (shift > 2) {
    const high = 8 - shift;
    bytes[at + 1] = (bytes[at + 1] & ~(REGISTER_MAX >>> high)) | (value >>> high);
  }
}

/** Sparse VAL opcode: `value` (1 to 32) over `run` (1 to 4) registers. */
function valOpcode(value: number, run: number): number {
  return 0x80 | ((value - 1) << 2) | (run - 1);
}

/**
 * One HyperLogLog value being read or changed: its bytes, in a buffer reused from one command to
 * the next (a dense value is 12 KB; PFADD is a hot path). Load a value, check it with
 * `isValid`, then read or change it; `toLatin1` gives the value to store.
 */
export class HyperLogLog {
  /** The value is `bytes[0, length)`; `bytes[length]` is kept 0 (a truncated XZERO reads it). */
  bytes: Buffer;
  length = 0;
  /** Where a sparse value becomes dense. */
  private spare: Buffer;
  /** The opcodes that replace one split opcode (at most five bytes). */
  private readonly sequence = new Uint8Array(5);
  private readonly histogram = new Int32Array(64);

  constructor(readonly sparseMaxBytes: number = HLL_SPARSE_MAX_BYTES) {
    // Room for a dense value, and for a sparse one grown to its limit (plus a split's bytes).
    const size = Math.max(HLL_DENSE_BYTES, sparseMaxBytes) + 8;
    this.bytes = Buffer.alloc(size);
    this.spare = Buffer.alloc(size);
  }

  /**
   * Makes room for a value of `length` bytes and returns the buffer to copy it into, at 0 (the
   * bytes past it are zeroed for the sparse opcodes that grow into them).
   */
  prepare(length: number): Buffer {
    // A longer value than any sparse one made here (copied from a server with a larger
    // hll-sparse-max-bytes) never grows: a split that would lengthen it makes it dense.
    if (this.bytes.length < length + 8) this.bytes = Buffer.alloc(length + 8);
    this.bytes.fill(0, length, length + 8);
    this.length = length;
    return this.bytes;
  }

  /** Loads `value` (latin1 bytes). */
  loadString(value: string): void {
    const bytes = this.prepare(value.length);
    bytes.write(value, 0, "latin1");
  }

  /** Loads a new, empty sketch: sparse, one XZERO over every register, cached count 0. */
  loadEmpty(): void {
    const bytes = this.prepare(HLL_HEADER_BYTES + 2);
    bytes.fill(0, 0, HLL_HEADER_BYTES);
    bytes.write("HYLL", 0, "latin1");
    bytes[4] = HLL_SPARSE;
    bytes[OPCODES] = 0x40 | ((XZERO_MAX_RUN - 1) >>> 8);
    bytes[OPCODES + 1] = (XZERO_MAX_RUN - 1) & 0xff;
  }

  /** Whether the loaded bytes are a HyperLogLog as Redis checks it: the header, a known
   * encoding and, for a dense one, the exact length. (Opcodes are checked as they are read.) */
  isValid(): boolean {
    const b = this.bytes;
    if (this.length < HLL_HEADER_BYTES) return false;
    if (b[0] !== 0x48 || b[1] !== 0x59 || b[2] !== 0x4c || b[3] !== 0x4c) return false;
    if (b[4] > HLL_SPARSE) return false;
    return b[4] !== HLL_DENSE || this.length === HLL_DENSE_BYTES;
  }

  get encoding(): number {
    return this.bytes[4];
  }

  /** The loaded value as a latin1 string. */
  toLatin1(): string {
    return readLatin1(this.bytes, 0, this.length);
  }

  /** The cached cardinality, or -1 when the cache is not valid. */
  cachedCardinality(): number | bigint {
    const b = this.bytes;
    if ((b[CACHE_FLAG_BYTE] & 0x80) !== 0) return -1;
    const lo = (b[8] | (b[9] << 8) | (b[10] << 16) | (b[11] << 24)) >>> 0;
    const hi = (b[12] | (b[13] << 8) | (b[14] << 16) | (b[15] << 24)) >>> 0;
    if (hi < 0x200000) return hi * 2 ** 32 + lo;
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  /** Caches `estimate` (from `count`) in the header, as the unsigned 64-bit Redis makes of it. */
  cacheCardinality(estimate: number): void {
    const b = this.bytes;
    let value = estimate < TWO_63 ? estimate : TWO_63;
    for (let i = 8; i < 16; i++) {
      const byte = value % 256;
      b[i] = byte;
      value = (value - byte) / 256;
    }
  }

  invalidateCache(): void {
    this.bytes[CACHE_FLAG_BYTE] |= 0x80;
  }

  /** Adds `element`: 1 when a register grew, 0 when none did, -1 for corrupt opcodes. */
  add(element: string): number {
    const position = hllPosition(element);
    return this.set(position >>> 6, position & REGISTER_MAX);
  }

  /** Raises register `index` to `value` where it is lower: 1 when it was, 0 when not, -1 for
   * corrupt opcodes. */
  set(index: number, value: number): number {
    if (this.bytes[4] === HLL_DENSE) {
      const b = this.bytes;
      if (denseGet(b, index) >= value) return 0;
      denseWrite(b, index, value);
      return 1;
    }
    return this.sparseSet(index, value);
  }

  /** `set` on a sparse value (see the module comment for the steps). */
  private sparseSet(index: number, value: number): number {
    if (value > VAL_MAX_VALUE) return this.promoteAndSet(index, value);
    const b = this.bytes;
    let end = this.length;
    // Find the opcode that covers the register: `at` is where it starts, `first` the first
    // register it covers, `previous` the opcode before it (-1 for none).
    let at = OPCODES;
    let first = 0;
    let previous = -1;
    let run = 0;
    let width = 1;
    while (at < end) {
      const op = b[at];
      if ((op & 0xc0) === 0) {
        run = (op & 0x3f) + 1;
        width = 1;
      } else if ((op & 0x80) === 0) {
        run = (((op & 0x3f) << 8) | b[at + 1]) + 1;
        width = 2;
      } else {
        run = (op & 0x03) + 1;
        width = 1;
      }
      if (index <= first + run - 1) break;
      previous = at;
      at += width;
      first += run;
    }
    if (run === 0 || at >= end) return -1;
    const op = b[at];
    const isVal = (op & 0x80) !== 0;
    const isZero = (op & 0xc0) === 0;
    let simple = false;
    if (isVal) {
      const current = ((op >>> 2) & 0x1f) + 1;
      if (current >= value) return 0;
      simple = run === 1;
    } else simple = isZero && run === 1;
    if (simple) {
      b[at] = valOpcode(value, 1);
    } else {
      // Split the opcode: the run before the register, the register, the run after it.
      const sequence = this.sequence;
      let length = 0;
      const last = first + run - 1;
      const before = index - first;
      const after = last - index;
      if (isVal) {
        const current = ((op >>> 2) & 0x1f) + 1;
        if (before > 0) sequence[length++] = valOpcode(current, before);
        sequence[length++] = valOpcode(value, 1);
        if (after > 0) sequence[length++] = valOpcode(current, after);
      } else {
        if (before > 0) length = zeroRun(sequence, length, before);
        sequence[length++] = valOpcode(value, 1);
        if (after > 0) length = zeroRun(sequence, length, after);
      }
      const delta = length - width;
      if (delta > 0 && this.length + delta > this.sparseMaxBytes) {
        return this.promoteAndSet(index, value);
      }
      const next = at + width;
      if (delta !== 0 && next < end) b.copyWithin(next + delta, next, end);
      end += delta;
      this.length = end;
      for (let i = 0; i < length; i++) b[at + i] = sequence[i];
      b[end] = 0;
    }
    // Join VAL opcodes of one value that now touch, looking at five opcodes at most.
    let scan = previous === -1 ? OPCODES : previous;
    let budget = 5;
    while (scan < end && budget-- > 0) {
      const code = b[scan];
      if ((code & 0xc0) === 0x40) {
        scan += 2;
        continue;
      }
      if ((code & 0xc0) === 0) {
        scan++;
        continue;
      }
      if (scan + 1 < end && (b[scan + 1] & 0x80) !== 0) {
        const next = b[scan + 1];
        if (((code >>> 2) & 0x1f) === ((next >>> 2) & 0x1f)) {
          const joined = (code & 0x03) + (next & 0x03) + 2;
          if (joined <= VAL_MAX_RUN) {
            b[scan + 1] = valOpcode(((code >>> 2) & 0x1f) + 1, joined);
            b.copyWithin(scan, scan + 1, end + 1);
            end--;
            this.length = end;
            continue;
          }
        }
      }
      scan++;
    }
    b[end] = 0;
    this.invalidateCache();
    return 1;
  }

  /** Makes the sparse value dense, then sets the register; -1 when the opcodes are corrupt. */
  private promoteAndSet(index: number, value: number): number {
    if (!this.toDense()) return -1;
    denseWrite(this.bytes, index, value);
    return 1;
  }

  /**
   * Makes a sparse value dense (the header, cached count included, stays); true when it is
   * dense now, false when the opcodes do not cover exactly every register.
   */
  toDense(): boolean {
    const b = this.bytes;
    if (b[4] === HLL_DENSE) return true;
    const dense = this.spare;
    dense.fill(0, 0, HLL_DENSE_BYTES + 8);
    b.copy(dense, 0, 0, HLL_HEADER_BYTES);
    dense[4] = HLL_DENSE;
    const end = this.length;
    let index = 0;
    let at = OPCODES;
    while (at < end) {
      const op = b[at];
      if ((op & 0xc0) === 0) {
        index += (op & 0x3f) + 1;
        at++;
      } else if ((op & 0x80) === 0) {
        index += (((op & 0x3f) << 8) | b[at + 1]) + 1;
        at += 2;
      } else {
        const run = (op & 0x03) + 1;
        const value = ((op >>> 2) & 0x1f) + 1;
        if (index + run > HLL_REGISTERS) break;
        for (let i = 0; i < run; i++) denseWrite(dense, index++, value);
        at++;
      }
    }
    if (index !== HLL_REGISTERS) return false;
    this.spare = b;
    this.bytes = dense;
    this.length = HLL_DENSE_BYTES;
    return true;
  }

  /** The cardinality estimate (see `hllEstimate`), or -1 when sparse opcodes are corrupt. */
  count(): number {
    const histogram = this.histogram;
    histogram.fill(0);
    const b = this.bytes;
    if (b[4] === HLL_DENSE) {
      // Three bytes hold four registers.
      for (let at = HLL_HEADER_BYTES; at < HLL_DENSE_BYTES; at += 3) {
        const b0 = b[at];
        const b1 = b[at + 1];
        const b2 = b[at + 2];
        histogram[b0 & 0x3f]++;
        histogram[(b0 >>> 6) | ((b1 & 0x0f) << 2)]++;
        histogram[(b1 >>> 4) | ((b2 & 0x03) << 4)]++;
        histogram[b2 >>> 2]++;
      }
    } else {
      const end = this.length;
      let index = 0;
      let at = OPCODES;
      while (at < end) {
        const op = b[at];
        let run: number;
        if ((op & 0xc0) === 0) {
          run = (op & 0x3f) + 1;
          histogram[0] += run;
          at++;
        } else if ((op & 0x80) === 0) {
          run = (((op & 0x3f) << 8) | b[at + 1]) + 1;
          histogram[0] += run;
          at += 2;
        } else {
          run = (op & 0x03) + 1;
          histogram[((op >>> 2) & 0x1f) + 1] += run;
          at++;
        }
        index += run;
      }
      if (index !== HLL_REGISTERS) return -1;
    }
    return hllEstimate(histogram);
  }

  /**
   * Raises each register of `max` (one register per byte) to this sketch's where it is lower;
   * false when sparse opcodes do not cover exactly every register.
   */
  mergeInto(max: Uint8Array): boolean {
    const b = this.bytes;
    if (b[4] === HLL_DENSE) {
      let register = 0;
      for (let at = HLL_HEADER_BYTES; at < HLL_DENSE_BYTES; at += 3) {
        const b0 = b[at];
        const b1 = b[at + 1];
        const b2 = b[at + 2];
        const r0 = b0 & 0x3f;
        const r1 = (b0 >>> 6) | ((b1 & 0x0f) << 2);
        const r2 = (b1 >>> 4) | ((b2 & 0x03) << 4);
        const r3 = b2 >>> 2;
        if (r0 > max[register]) max[register] = r0;
        if (r1 > max[register + 1]) max[register + 1] = r1;
        if (r2 > max[register + 2]) max[register + 2] = r2;
        if (r3 > max[register + 3]) max[register + 3] = r3;
        register += 4;
      }
      return true;
    }
    const end = this.length;
    let index = 0;
    let at = OPCODES;
    while (at < end) {
      const op = b[at];
      if ((op & 0xc0) === 0) {
        index += (op & 0x3f) + 1;
        at++;
      } else if ((op & 0x80) === 0) {
        index += (((op & 0x3f) << 8) | b[at + 1]) + 1;
        at += 2;
      } else {
        const run = (op & 0x03) + 1;
        const value = ((op >>> 2) & 0x1f) + 1;
        if (index + run > HLL_REGISTERS) break;
        for (let i = 0; i < run; i++, index++) if (value > max[index]) max[index] = value;
        at++;
      }
    }
    return index === HLL_REGISTERS;
  }

  /** Register `index` of a dense value. */
  register(index: number): number {
    return denseGet(this.bytes, index);
  }

  /** The opcodes of a sparse value as PFDEBUG DECODE lists them: `Z:run` for XZERO, `z:run`
   * for ZERO, `v:value,run` for VAL, separated by spaces. */
  decodeSparse(): string {
    const b = this.bytes;
    const parts: string[] = [];
    let at = OPCODES;
    while (at < this.length) {
      const op = b[at];
      if ((op & 0xc0) === 0) {
        parts.push(`z:${(op & 0x3f) + 1}`);
        at++;
      } else if ((op & 0x80) === 0) {
        parts.push(`Z:${(((op & 0x3f) << 8) | b[at + 1]) + 1}`);
        at += 2;
      } else {
        parts.push(`v:${((op >>> 2) & 0x1f) + 1},${(op & 0x03) + 1}`);
        at++;
      }
    }
    return parts.join(" ");
  }
}

/** Writes the ZERO (up to 64) or XZERO opcode of a zero run at `at`; returns the next offset. */
function zeroRun(target: Uint8Array, at: number, run: number): number {
  if (run > ZERO_MAX_RUN) {
    target[at] = 0x40 | ((run - 1) >>> 8);
    target[at + 1] = (run - 1) & 0xff;
    return at + 2;
  }
  target[at] = run - 1;
  return at + 1;
}
