/**
 * The HyperLogLog format and estimator on their own: the hash, the sparse and dense encodings
 * against each other, promotion at hll-sparse-max-bytes, corrupt opcodes, and the estimate's
 * error against Redis's documented standard error. (Byte equality with redis-server is in
 * tests/commands/hyperloglog.test.ts.)
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { mulberry32 } from "../_mulberry32.ts";
import { HLL_SPARSE_MAX_BYTES } from "../../src/constants.ts";
import {
  cardinalityReply,
  countRegisters,
  HLL_DENSE,
  HLL_DENSE_BYTES,
  HLL_REGISTERS,
  HLL_SPARSE,
  hllEstimate,
  hllPosition,
  HyperLogLog,
  murmurHash64A,
} from "../../src/keyspace/hyperloglog.ts";

const MASK64 = (1n << 64n) - 1n;

/** MurmurHash64A written out with BigInt, straight from the published algorithm. */
function referenceMurmur64A(bytes: number[], seed: bigint): bigint {
  const m = 0xc6a4a7935bd1e995n;
  const r = 47n;
  let h = (seed ^ (BigInt(bytes.length) * m)) & MASK64;
  const blocks = bytes.length - (bytes.length % 8);
  for (let i = 0; i < blocks; i += 8) {
    let k = 0n;
    for (let j = 7; j >= 0; j--) k = (k << 8n) | BigInt(bytes[i + j]);
    k = (k * m) & MASK64;
    k ^= k >> r;
    k = (k * m) & MASK64;
    h ^= k;
    h = (h * m) & MASK64;
  }
  const rest = bytes.length % 8;
  if (rest > 0) {
    for (let j = rest - 1; j >= 0; j--) h ^= BigInt(bytes[blocks + j]) << BigInt(8 * j);
    h = (h * m) & MASK64;
  }
  h ^= h >> r;
  h = (h * m) & MASK64;
  h ^= h >> r;
  return h;
}

function randomBytes(random: () => number, length: number): number[] {
  return Array.from({ length }, () => Math.floor(random() * 256));
}

const latin1 = (bytes: number[]) => String.fromCharCode(...bytes);

/** A new, empty sketch. */
function empty(sparseMaxBytes?: number): HyperLogLog {
  const sketch = new HyperLogLog(sparseMaxBytes);
  sketch.loadEmpty();
  return sketch;
}

/** Every register of a sketch (made dense on a copy, so the sketch itself is unchanged). */
function registers(sketch: HyperLogLog): number[] {
  const copy = new HyperLogLog(sketch.sparseMaxBytes);
  copy.loadString(sketch.toLatin1());
  assert.ok(copy.toDense());
  return Array.from({ length: HLL_REGISTERS }, (_, i) => copy.register(i));
}

describe("HyperLogLog hash", () => {
  it("MurmurHash64A equals a BigInt transcription of the algorithm, for every tail length and any bytes", () => {
    const random = mulberry32(1);
    for (let length = 0; length <= 40; length++) {
      for (let round = 0; round < 20; round++) {
        const bytes = randomBytes(random, length);
        const seed = BigInt(Math.floor(random() * 2 ** 32));
        assert.equal(
          murmurHash64A(latin1(bytes), Number(seed)),
          referenceMurmur64A(bytes, seed),
          `length ${length}`,
        );
      }
    }
  });

  it("puts an element in the register of the low 14 hash bits, valued one more than the zeros above them", () => {
    const random = mulberry32(2);
    for (let round = 0; round < 2000; round++) {
      const element = latin1(randomBytes(random, Math.floor(random() * 24)));
      const hash = referenceMurmur64A([...element].map((c) => c.charCodeAt(0)), 0xadc83b19n);
      let rest = (hash >> 14n) | (1n << 50n);
      let value = 1;
      while ((rest & 1n) === 0n) {
        value++;
        rest >>= 1n;
      }
      const position = hllPosition(element);
      assert.equal(position >>> 6, Number(hash & 16383n));
      assert.equal(position & 63, value);
    }
  });

  it("sets the registers redis-server 7.0 sets for a, b and c", () => {
    // PFADD k a b c on redis-server 7.0.15, then PFDEBUG DECODE k:
    // "Z:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603".
    const sketch = empty();
    for (const element of ["a", "b", "c"]) assert.equal(sketch.add(element), 1);
    assert.equal(sketch.decodeSparse(), "Z:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603");
  });
});

describe("HyperLogLog encodings", () => {
  it("starts as an 18-byte sparse value: the header, a valid cached count of 0 and one XZERO", () => {
    const sketch = empty();
    assert.equal(sketch.toLatin1(), "HYLL\x01" + "\0".repeat(11) + "\x7f\xff");
    assert.ok(sketch.isValid());
    assert.equal(sketch.cachedCardinality(), 0);
    assert.equal(sketch.count(), 0);
  });

  it("holds the same registers sparse as dense after any adds, and counts the same", () => {
    const random = mulberry32(3);
    const sparse = empty(1 << 20); // never promoted
    const dense = empty();
    assert.ok(dense.toDense());
    assert.equal(dense.encoding, HLL_DENSE);
    assert.equal(dense.length, HLL_DENSE_BYTES);
    for (let batch = 0; batch < 30; batch++) {
      for (let i = 0; i < 100; i++) {
        const element = `e${Math.floor(random() * 1e9)}`;
        assert.equal(sparse.add(element), dense.add(element), element);
      }
      assert.equal(sparse.encoding, HLL_SPARSE);
      assert.deepEqual(registers(sparse), registers(dense), `batch ${batch}`);
      assert.equal(sparse.count(), dense.count());
    }
  });

  it("stays sparse up to hll-sparse-max-bytes and turns dense when a split would pass it", () => {
    const sketch = empty();
    let longest = 0;
    let i = 0;
    while (sketch.encoding === HLL_SPARSE) {
      longest = sketch.length;
      assert.ok(sketch.length <= HLL_SPARSE_MAX_BYTES, `${sketch.length} bytes`);
      sketch.add(`member:${i++}`);
    }
    assert.equal(sketch.length, HLL_DENSE_BYTES);
    // The value grew to within a split (at most 3 bytes) of the limit before it turned dense.
    assert.ok(longest > HLL_SPARSE_MAX_BYTES - 3, `${longest} bytes when promoted`);
  });

  it("lets a sparse value be exactly hll-sparse-max-bytes long", () => {
    const sketch = empty();
    for (let i = 0; i <= 1698; i++) sketch.add(`z${i}`);
    assert.equal(sketch.encoding, HLL_SPARSE);
    assert.equal(sketch.length, HLL_SPARSE_MAX_BYTES);
  });

  it("turns dense for a register value above 32, which a VAL opcode cannot hold", () => {
    const sketch = empty();
    assert.equal(sketch.set(100, 32), 1);
    assert.equal(sketch.encoding, HLL_SPARSE);
    assert.equal(sketch.set(101, 33), 1);
    assert.equal(sketch.encoding, HLL_DENSE);
    assert.equal(sketch.register(100), 32);
    assert.equal(sketch.register(101), 33);
    assert.equal(sketch.set(101, 20), 0);
  });

  it("joins touching VAL opcodes of one value into runs of up to four registers", () => {
    const sketch = empty();
    for (let i = 0; i < 6; i++) sketch.set(10 + i, 3);
    assert.equal(sketch.decodeSparse(), "z:10 v:3,4 v:3,2 Z:16368");
  });

  it("reports opcodes that cover too few or too many registers as corrupt", () => {
    const header = "HYLL\x01" + "\0".repeat(10) + "\x80";
    for (const opcodes of ["\x7f\xfe", "\x7f\xff\x00", "", "\x7f\xfe\x83"]) {
      const sketch = new HyperLogLog();
      sketch.loadString(header + opcodes);
      assert.ok(sketch.isValid());
      assert.equal(sketch.count(), -1);
      assert.equal(sketch.mergeInto(new Uint8Array(HLL_REGISTERS)), false);
      assert.equal(sketch.toDense(), false);
    }
  });

  it("tells HyperLogLog strings from others by magic, encoding and dense length", () => {
    const check = (value: string) => {
      const sketch = new HyperLogLog();
      sketch.loadString(value);
      return sketch.isValid();
    };
    const dense = "HYLL\x00" + "\0".repeat(11) + "\0".repeat(12288);
    assert.equal(check(dense), true);
    assert.equal(check(dense + "x"), false);
    assert.equal(check("HYLL\x02" + "\0".repeat(13)), false);
    assert.equal(check("HYLX\x01" + "\0".repeat(13)), false);
    assert.equal(check("HYLL\x01"), false);
    assert.equal(check("12"), false);
  });
});

describe("HyperLogLog estimate", () => {
  /** Redis's documented standard error: 1.04 / sqrt(16384). */
  const STANDARD_ERROR = 0.0081;

  function estimateOf(count: number, prefix: string): number {
    const sketch = empty();
    for (let i = 0; i < count; i++) sketch.add(`${prefix}:${i}`);
    return sketch.count();
  }

  it("counts 100k and 1M distinct elements within three standard errors (0.81% each)", () => {
    for (const count of [1000, 10_000, 100_000, 1_000_000]) {
      const error = Math.abs(estimateOf(count, "element") - count) / count;
      assert.ok(error < 3 * STANDARD_ERROR, `${count}: ${(error * 100).toFixed(3)}%`);
    }
  });

  it("has a root-mean-square error near the standard error over twenty sets of 100k", () => {
    let squares = 0;
    const sets = 20;
    for (let set = 0; set < sets; set++) {
      const error = (estimateOf(100_000, `set${set}`) - 100_000) / 100_000;
      squares += error * error;
    }
    const rms = Math.sqrt(squares / sets);
    assert.ok(rms < 1.5 * STANDARD_ERROR, `${(rms * 100).toFixed(3)}%`);
  });

  it("counts small sets exactly or nearly, where the registers are mostly zero", () => {
    for (const count of [0, 1, 2, 5, 10, 50, 100]) {
      assert.ok(Math.abs(estimateOf(count, "small") - count) <= Math.max(1, count * 0.01));
    }
  });

  it("counts a union as the sketch of every element would", () => {
    const a = empty();
    const b = empty();
    const both = empty();
    for (let i = 0; i < 30_000; i++) {
      (i % 2 === 0 ? a : b).add(`u${i}`);
      both.add(`u${i}`);
    }
    const union = new Uint8Array(HLL_REGISTERS);
    assert.ok(a.mergeInto(union));
    assert.ok(b.mergeInto(union));
    assert.equal(countRegisters(union), both.count());
  });

  it("gives an estimate past 2^63, from crafted registers, as the lowest signed 64-bit number", () => {
    const histogram = new Int32Array(64);
    histogram[50] = HLL_REGISTERS;
    assert.ok(hllEstimate(histogram) >= 2 ** 63);
    assert.equal(cardinalityReply(hllEstimate(histogram)), -(2n ** 63n));
    histogram[50] = 0;
    histogram[0] = HLL_REGISTERS;
    assert.equal(hllEstimate(histogram), 0);
    assert.equal(cardinalityReply(2 ** 60), 2n ** 60n);
  });

  it("caches a count in the header's last 8 bytes and reads it back until invalidated", () => {
    const sketch = empty();
    sketch.cacheCardinality(123_456_789_012);
    assert.equal(sketch.cachedCardinality(), 123_456_789_012);
    assert.equal(sketch.toLatin1().slice(8, 16), "\x14\x1a\x99\xbe\x1c\0\0\0");
    sketch.invalidateCache();
    assert.equal(sketch.cachedCardinality(), -1);
  });
});
