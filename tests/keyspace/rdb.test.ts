/**
 * The DUMP payload codec on its own: CRC-64 and LZF, every value type and encoding edge round
 * trip (empty and binary strings, integers at the 8/16/32-bit edges, strings past the LZF
 * threshold, listpack element encodings, collections past the listpack and intset limits,
 * quicklist nodes past 8 KB, infinite scores, streams with deletions and consumer groups), the
 * byte layouts Redis 7.0 writes, the older encodings Redis 7.0 still loads (ziplist, quicklist
 * of ziplists, plain list, text-score ZSET, stream v1), and corrupt payloads. (Bytes against a
 * real redis-server: tests/commands/dump.test.ts.)
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { describe, it } from "node:test";
import { mulberry32 } from "../_mulberry32.ts";
import {
  crc64,
  createDumpPayload,
  d2string,
  DumpPayloadError,
  loadDumpPayload,
  lzfCompress,
  lzfDecompress,
  RDB_TYPE,
  verifyDumpPayload,
} from "../../src/keyspace/rdb.ts";
import { HashValue } from "../../src/keyspace/hash.ts";
import { ListValue } from "../../src/keyspace/list.ts";
import { SetValue } from "../../src/keyspace/set.ts";
import { ZSetValue } from "../../src/keyspace/zset.ts";
import { streamId, StreamValue } from "../../src/keyspace/stream.ts";
import type { Value } from "../../src/keyspace/values.ts";

const latin1 = (bytes: Uint8Array) => Buffer.from(bytes).toString("latin1");

/** A payload around an RDB object (type byte and object) with a right footer. */
function withFooter(object: string, version = 10): string {
  const body = Buffer.from(object + String.fromCharCode(version & 0xff, version >> 8), "latin1");
  const tail = Buffer.alloc(8);
  tail.writeBigUInt64LE(crc64(body));
  return body.toString("latin1") + tail.toString("latin1");
}

/** The object part of a payload (without version and checksum). */
function objectOf(payload: string): string {
  return payload.slice(0, -10);
}

function roundTrip(value: Value): Value {
  const payload = createDumpPayload(value);
  assert.ok(verifyDumpPayload(Buffer.from(payload, "latin1")));
  return loadDumpPayload(payload);
}

function contents(value: Value): unknown {
  if (typeof value === "string") return value;
  if (value.type === "set") return [...(value as SetValue).members.keys].sort();
  if (value.type === "hash") {
    const hash = value as HashValue;
    return [...hash.fields.keys].sort().map((field) => [field, hash.get(field)]);
  }
  return value.dump();
}

function assertRoundTrip(value: Value): Value {
  const back = roundTrip(value);
  assert.equal(typeof back, typeof value);
  assert.deepEqual(contents(back), contents(value));
  if (typeof value !== "string" && typeof back !== "string") {
    assert.equal(back.type, value.type);
    assert.equal(back.encoding(), value.encoding());
    assert.equal(back.length, value.length);
  }
  return back;
}

function randomBytes(n: number, seed: number): string {
  const random = mulberry32(seed);
  let text = "";
  for (let i = 0; i < n; i++) text += String.fromCharCode(Math.floor(random() * 256));
  return text;
}

function list(elements: string[]): ListValue {
  const value = new ListValue();
  for (const element of elements) value.pushBack(element);
  return value;
}

function set(members: string[]): SetValue {
  const value = new SetValue();
  for (const member of members) value.add(member);
  return value;
}

function hash(pairs: [string, string][]): HashValue {
  const value = new HashValue();
  for (const [field, text] of pairs) value.set(field, text);
  return value;
}

function zset(pairs: [string, number][]): ZSetValue {
  const value = new ZSetValue();
  for (const [member, score] of pairs) value.set(member, score);
  return value;
}

function assertBad(payload: string, kind: "footer" | "format"): void {
  assert.throws(
    () => loadDumpPayload(payload),
    (error) => error instanceof DumpPayloadError && error.kind === kind,
  );
}

describe("CRC-64 and LZF", () => {
  it("computes Redis's CRC-64 (Jones, reflected) check value", () => {
    assert.equal(crc64(Buffer.from("123456789")), 0xe9c6d914c4b8d9can);
    assert.equal(crc64(new Uint8Array(0)), 0n);
  });

  it("compresses and decompresses back to the same bytes, repetitive or random", () => {
    const samples = [
      "a".repeat(40),
      "abc".repeat(1000),
      randomBytes(5000, 1),
      Array.from({ length: 3000 }, (_, i) => String(i % 97)).join(","),
      "x".repeat(100_000),
    ];
    for (const text of samples) {
      const input = Buffer.from(text, "latin1");
      const limit = input.length + (input.length >> 4) + 16; // random bytes grow by 1/32
      const output = new Uint8Array(limit + 8);
      const length = lzfCompress(input, input.length, output, limit);
      assert.ok(length > 0, `${text.slice(0, 10)}: compressed`);
      const back = lzfDecompress(output, 0, length, input.length);
      assert.ok(back !== null);
      assert.equal(back.toString("latin1"), text);
    }
  });

  it("gives up when the output would not fit, and refuses corrupt input", () => {
    const random = Buffer.from(randomBytes(200, 2), "latin1");
    assert.equal(lzfCompress(random, random.length, new Uint8Array(300), random.length - 4), 0);
    // A back-reference before the start, a run past the end, a wrong length.
    assert.equal(lzfDecompress(Uint8Array.of(0x20, 0x05), 0, 2, 3), null);
    assert.equal(lzfDecompress(Uint8Array.of(0x05, 0x61), 0, 2, 6), null);
    assert.equal(lzfDecompress(Uint8Array.of(0x00, 0x61), 0, 2, 2), null);
  });

  it("writes liblzf's bytes for a run of one byte", () => {
    const input = Buffer.from("a".repeat(40));
    const output = new Uint8Array(64);
    const length = lzfCompress(input, 40, output, 36);
    assert.equal(latin1(output.subarray(0, length)), "\x01aa\xe0\x1b\x00\x01aa");
  });
});

describe("strings", () => {
  it("writes Redis's layouts: 8/16/32-bit integers, raw, LZF past 20 bytes", () => {
    const cases: [string, string][] = [
      ["", "\x00\x00"],
      ["5", "\x00\xc0\x05"],
      ["-128", "\x00\xc0\x80"],
      ["127", "\x00\xc0\x7f"],
      ["128", "\x00\xc1\x80\x00"],
      ["-129", "\x00\xc1\x7f\xff"],
      ["32767", "\x00\xc1\xff\x7f"],
      ["32768", "\x00\xc2\x00\x80\x00\x00"],
      ["-32769", "\x00\xc2\xff\x7f\xff\xff"],
      ["2147483647", "\x00\xc2\xff\xff\xff\x7f"],
      ["-2147483648", "\x00\xc2\x00\x00\x00\x80"],
      ["2147483648", "\x00\x0a2147483648"],
      ["12345678901", "\x00\x0b12345678901"],
      ["01", "\x00\x0201"],
      ["-0", "\x00\x02-0"],
      ["+1", "\x00\x02+1"],
      ["hello", "\x00\x05hello"],
      ["a".repeat(20), "\x00\x14" + "a".repeat(20)],
      ["a".repeat(40), "\x00\xc3\x09\x28\x01aa\xe0\x1b\x00\x01aa"],
    ];
    for (const [value, object] of cases) {
      assert.equal(objectOf(createDumpPayload(value)), object, JSON.stringify(value));
      assert.equal(roundTrip(value), value);
    }
    // The footer: version 10, then the CRC-64 of everything before it.
    assert.equal(createDumpPayload("hello"), "\x00\x05hello\n\x00cr\xdfve4 \n");
  });

  it("round-trips integers at every encoding edge and the 64-bit ones", () => {
    for (
      const n of [
        0,
        1,
        -1,
        127,
        128,
        -128,
        -129,
        255,
        256,
        32767,
        32768,
        -32768,
        -32769,
        65535,
        65536,
        2147483647,
        2147483648,
        -2147483648,
        -2147483649,
      ]
    ) {
      assert.equal(roundTrip(String(n)), String(n));
    }
    for (const text of ["9223372036854775807", "-9223372036854775808", "9223372036854775808"]) {
      assert.equal(roundTrip(text), text);
    }
  });

  it("round-trips binary bytes, and long strings compressed or not", () => {
    let all = "";
    for (let i = 0; i < 256; i++) all += String.fromCharCode(i);
    const samples = [
      all,
      "\x00",
      "\r\n",
      all.repeat(50),
      randomBytes(21, 3),
      "b".repeat(21),
      randomBytes(10_000, 4),
      "xyz".repeat(300_000),
    ];
    for (const text of samples) assert.equal(roundTrip(text), text);
    // Compressible strings shrink; random ones are stored raw.
    assert.ok(createDumpPayload("xyz".repeat(300_000)).length < 20_000);
    assert.equal(createDumpPayload(randomBytes(10_000, 4)).length, 1 + 2 + 10_000 + 10);
  });
});

describe("lists", () => {
  it("writes a quicklist 2 of one listpack node, integers as listpack integers", () => {
    const payload = createDumpPayload(list(["a", "b", "1", "2"]));
    assert.equal(
      objectOf(payload),
      "\x12\x01\x02\x11\x11\x00\x00\x00\x04\x00\x81a\x02\x81b\x02\x01\x01\x02\x01\xff",
    );
  });

  it("round-trips every listpack element encoding", () => {
    const elements = [
      "",
      "x".repeat(63),
      "x".repeat(64),
      "y".repeat(4095),
      "y".repeat(4096),
      "z".repeat(20_000),
      "0",
      "127",
      "128",
      "-1",
      "4095",
      "4096",
      "-4096",
      "-4097",
      "32767",
      "32768",
      "-32768",
      "-32769",
      "8388607",
      "8388608",
      "-8388608",
      "-8388609",
      "2147483647",
      "2147483648",
      "-2147483648",
      "-2147483649",
      "9223372036854775807",
      "-9223372036854775808",
      "9223372036854775808",
      "007",
      "-0",
      "1.5",
      "\x00\xff",
    ];
    assertRoundTrip(list(elements));
    for (const element of elements) assertRoundTrip(list([element]));
  });

  it("cuts nodes at 8 KB, and gives an element over 8 KB a node of its own", () => {
    const elements = Array.from({ length: 2000 }, (_, i) => `element-${i}`);
    const payload = createDumpPayload(list(elements));
    assert.equal(payload.charCodeAt(0), RDB_TYPE.LIST_QUICKLIST_2);
    assert.equal(payload.charCodeAt(1), 4); // four nodes, as redis-server makes them
    assertRoundTrip(list(elements));
    const big = list(["x".repeat(9000), "y", "z".repeat(300)]);
    assert.equal(createDumpPayload(big).charCodeAt(1), 2);
    assertRoundTrip(big);
    assertRoundTrip(list(Array.from({ length: 300 }, (_, i) => "v".repeat(i))));
  });
});

describe("sets", () => {
  it("writes an intset in the narrowest width, in order", () => {
    assert.equal(
      objectOf(createDumpPayload(set(["3", "1", "2"]))),
      "\x0b\x0e\x02\x00\x00\x00\x03\x00\x00\x00\x01\x00\x02\x00\x03\x00",
    );
    for (
      const members of [["1", "70000", "-5"], ["1", "9999999999"], ["-9223372036854775808", "0"]]
    ) {
      assert.equal(createDumpPayload(set(members)).charCodeAt(0), RDB_TYPE.SET_INTSET);
      assertRoundTrip(set(members));
    }
  });

  it("writes a plain set past 512 integers or with any other member", () => {
    const ints = set(Array.from({ length: 513 }, (_, i) => String(i)));
    assert.equal(ints.encoding(), "hashtable");
    assert.equal(createDumpPayload(ints).charCodeAt(0), RDB_TYPE.SET);
    assertRoundTrip(ints);
    const small = set(Array.from({ length: 512 }, (_, i) => String(i * 1000)));
    assert.equal(createDumpPayload(small).charCodeAt(0), RDB_TYPE.SET_INTSET);
    assertRoundTrip(small);
    const mixed = set(["1", "a", "", "\x00\xff", "007", "x".repeat(100)]);
    assert.equal(createDumpPayload(mixed).charCodeAt(0), RDB_TYPE.SET);
    assertRoundTrip(mixed);
  });

  it("dumps and loads a set of 100,000 members in well under a second", () => {
    const members = Array.from({ length: 100_000 }, (_, i) => `member:${i}`);
    const value = set(members);
    const start = performance.now();
    const payload = createDumpPayload(value);
    const back = loadDumpPayload(payload) as SetValue;
    const elapsed = performance.now() - start;
    assert.equal(back.length, 100_000);
    assert.ok(back.has("member:99999"));
    assert.ok(elapsed < 1000, `${elapsed.toFixed(0)} ms`);
  });
});

describe("hashes", () => {
  it("writes a small hash as a listpack in insertion order", () => {
    assert.equal(
      objectOf(createDumpPayload(hash([["f", "v"], ["f2", "12"]]))),
      "\x10\x13\x13\x00\x00\x00\x04\x00\x81f\x02\x81v\x02\x82f2\x03\x0c\x01\xff",
    );
    assertRoundTrip(hash([["f", "v"], ["f2", "12"], ["", ""], ["\x00", "\xff"]]));
  });

  it("writes a plain hash past 512 fields or 64-byte values", () => {
    const many = hash(Array.from({ length: 513 }, (_, i) => [`f${i}`, String(i)]));
    assert.equal(createDumpPayload(many).charCodeAt(0), RDB_TYPE.HASH);
    assertRoundTrip(many);
    const long = hash([["f", "x".repeat(65)]]);
    assert.equal(createDumpPayload(long).charCodeAt(0), RDB_TYPE.HASH);
    assertRoundTrip(long);
    const edge = hash([["f", "x".repeat(64)]]);
    assert.equal(createDumpPayload(edge).charCodeAt(0), RDB_TYPE.HASH_LISTPACK);
    assertRoundTrip(edge);
  });
});

describe("sorted sets", () => {
  it("writes scores into a listpack as Redis 7.0's %.17g does", () => {
    assert.equal(d2string(1), "1");
    assert.equal(d2string(-0), "0");
    assert.equal(d2string(2.5), "2.5");
    assert.equal(d2string(0.1), "0.10000000000000001");
    assert.equal(d2string(1e20), "1e+20");
    assert.equal(d2string(1e-7), "9.9999999999999995e-08");
    assert.equal(d2string(123456789), "123456789");
    assert.equal(d2string(4503599627370496), "4503599627370496");
    assert.equal(d2string(1.5e300), "1.5000000000000001e+300");
    assert.equal(d2string(Infinity), "inf");
    assert.equal(d2string(-Infinity), "-inf");
    // A tie at the 18th digit rounds to even, as glibc does.
    assert.equal(d2string(1234567890123456.25), "1234567890123456.2");
    assert.equal(d2string(1234567890123456.75), "1234567890123456.8");
    assert.equal(
      objectOf(createDumpPayload(zset([["a", 1], ["b", 2.5]]))),
      "\x11\x14\x14\x00\x00\x00\x04\x00\x81a\x02\x01\x01\x81b\x02\x832.5\x04\xff",
    );
  });

  it("round-trips scores exactly: infinities, fractions, huge and tiny ones", () => {
    const scores = [0, 1, -1, 0.1, 1 / 3, -2.5, 1e20, 1e-300, 5e-324, 1.7976931348623157e308];
    const pairs: [string, number][] = scores.map((score, i) => [`m${i}`, score]);
    pairs.push(["inf", Infinity], ["-inf", -Infinity]);
    const small = zset(pairs);
    assert.equal(small.encoding(), "listpack");
    const back = assertRoundTrip(small) as ZSetValue;
    for (const [member, score] of pairs) assert.equal(back.score(member), score);
  });

  it("writes a ZSET_2 (binary scores, highest first) past 128 members or 64-byte members", () => {
    const pairs: [string, number][] = Array.from({ length: 200 }, (_, i) => [`m${i}`, i / 3]);
    pairs.push(["inf", Infinity], ["-inf", -Infinity]);
    const large = zset(pairs);
    const payload = createDumpPayload(large);
    assert.equal(payload.charCodeAt(0), RDB_TYPE.ZSET_2);
    // Redis writes its skiplist from the tail: the highest score comes first.
    assert.equal(payload.slice(1, 7), "\x40\xca\x03inf");
    const back = assertRoundTrip(large) as ZSetValue;
    for (const [member, score] of pairs) assert.equal(back.score(member), score);
    const long = zset([["x".repeat(65), 1]]);
    assert.equal(createDumpPayload(long).charCodeAt(0), RDB_TYPE.ZSET_2);
    assertRoundTrip(long);
  });
});

describe("streams", () => {
  function stream(count: number, fields: (i: number) => string[]): StreamValue {
    const value = new StreamValue();
    for (let i = 0; i < count; i++) value.append(streamId(BigInt(i + 1), 0n), fields(i));
    return value;
  }

  it("round-trips entries across nodes, with the same node layout", () => {
    const samples = [
      stream(1, () => ["a", "1"]),
      stream(250, (i) => ["field", `value${i}`, "other", String(i)]),
      stream(50, (i) => (i % 3 === 0 ? ["a", "1"] : ["b", "x".repeat(i), "c", String(-i)])),
      stream(10, (i) => ["big", "y".repeat(3000 + i)]),
    ];
    for (const value of samples) {
      const back = roundTrip(value) as StreamValue;
      assert.equal(back.type, "stream");
      assert.deepEqual(back.dump(), value.dump());
    }
  });

  it("round-trips deleted entries, the largest deleted ID and the counters", () => {
    const value = stream(120, (i) => ["f", String(i)]);
    for (const i of [1, 5, 6, 110]) assert.ok(value.delete(streamId(BigInt(i), 0n)));
    value.lastId = streamId(500n, 7n);
    const back = roundTrip(value) as StreamValue;
    assert.equal(back.length, value.length);
    assert.equal(back.lastId, value.lastId);
    assert.equal(back.maxDeletedId, value.maxDeletedId);
    assert.equal(back.entriesAdded, value.entriesAdded);
    const live = (v: StreamValue) => {
      const entries: string[] = [];
      v.range(0n, (1n << 128n) - 1n, false, (id, fields) => {
        entries.push(`${id} ${fields.join(",")}`);
        return true;
      });
      return entries;
    };
    assert.deepEqual(live(back), live(value));
    assert.deepEqual(
      back.nodes.map((n) => [n.live, n.deleted]),
      value.nodes.map((n) => [n.live, n.deleted]),
    );
  });

  it("round-trips consumer groups, their pending entries and consumers", () => {
    const value = stream(5, (i) => ["f", String(i)]);
    const group = value.createGroup("g1", streamId(3n, 0n), 3n)!;
    value.createGroup("g0", 0n, -1n);
    const alice = value.createConsumer(group, "alice", 1_700_000_000_000);
    const bob = value.createConsumer(group, "bob", 1_700_000_000_500);
    value.addPending(group, alice, streamId(1n, 0n), 1_700_000_000_100, 1n);
    value.addPending(group, bob, streamId(2n, 0n), 1_700_000_000_200, 3n);
    value.addPending(group, alice, streamId(3n, 0n), 1_700_000_000_300, 2n);
    const empty = new StreamValue();
    empty.createGroup("g", 0n, 0n);
    for (const sample of [value, empty]) {
      const back = roundTrip(sample) as StreamValue;
      const canonical = (v: StreamValue) => {
        const copy = v.dump();
        return { copy, groups: v.sortedGroups().map((g) => g.name) };
      };
      assert.deepEqual(canonical(back).groups, canonical(sample).groups);
      for (const g of sample.groups.values()) {
        const other = back.groups.get(g.name)!;
        assert.equal(other.lastId, g.lastId);
        assert.equal(other.entriesRead, g.entriesRead);
        assert.deepEqual(
          other.sortedConsumers().map((c) => [c.name, c.seenTime, c.pel.size]),
          g.sortedConsumers().map((c) => [c.name, c.seenTime, c.pel.size]),
        );
        const pel = (m: typeof g.pel) => {
          const out: unknown[] = [];
          m.walk(0n, (id, e) => {
            out.push([id, e.consumer.name, e.deliveryTime, e.deliveryCount]);
            return true;
          });
          return out;
        };
        assert.deepEqual(pel(other.pel), pel(g.pel));
      }
    }
  });
});

describe("encodings Redis 7.0 loads but no longer writes", () => {
  /** A ziplist of `entries` (strings and small integers). */
  function ziplist(entries: (string | number)[]): string {
    let body = "";
    let previous = 0;
    for (const entry of entries) {
      let encoded: string;
      if (typeof entry === "number") {
        encoded = entry >= 0 && entry <= 12
          ? String.fromCharCode(0xf1 + entry)
          : "\xc0" + String.fromCharCode(entry & 0xff, (entry >> 8) & 0xff);
      } else encoded = String.fromCharCode(entry.length) + entry;
      body += String.fromCharCode(previous) + encoded;
      previous = 1 + encoded.length;
    }
    const total = 10 + body.length + 1;
    const header = Buffer.alloc(10);
    header.writeUInt32LE(total, 0);
    header.writeUInt32LE(total - 1 - previous, 4);
    header.writeUInt16LE(entries.length, 8);
    return header.toString("latin1") + body + "\xff";
  }
  const rdbString = (s: string) => String.fromCharCode(s.length) + s;

  it("loads ziplist hashes, sorted sets and lists, and quicklists of ziplists", () => {
    const h = loadDumpPayload(withFooter("\x0d" + rdbString(ziplist(["f", "v", "n", 12])), 9));
    assert.deepEqual((h as HashValue).dump(), ["f", "v", "n", "12"]);
    const z = loadDumpPayload(withFooter("\x0c" + rdbString(ziplist(["a", 1, "b", "2.5"])), 9));
    assert.deepEqual((z as ZSetValue).dump(), ["a", "1", "b", "2.5"]);
    const l = loadDumpPayload(withFooter("\x0a" + rdbString(ziplist(["x", 300, "y"])), 6));
    assert.deepEqual((l as ListValue).toArray(), ["x", "300", "y"]);
    const q = loadDumpPayload(
      withFooter("\x0e\x02" + rdbString(ziplist(["a", 1])) + rdbString(ziplist(["b"])), 9),
    );
    assert.deepEqual((q as ListValue).toArray(), ["a", "1", "b"]);
  });

  it("loads plain lists, and sorted sets with text scores", () => {
    const l = loadDumpPayload(withFooter("\x01\x03\x01a\xc0\x07\x00"));
    assert.deepEqual((l as ListValue).toArray(), ["a", "7", ""]);
    const z = loadDumpPayload(withFooter("\x03\x03\x01a\x031.5\x01b\xfe\x01c\xff"));
    assert.deepEqual((z as ZSetValue).dump(), ["c", "-inf", "a", "1.5", "b", "inf"]);
  });

  it("loads a version 1 stream, counting entries added from its length", () => {
    const v2 = createDumpPayload((() => {
      const value = new StreamValue();
      value.append(streamId(1n, 1n), ["a", "1"]);
      value.append(streamId(1n, 2n), ["a", "2"]);
      return value;
    })());
    // Version 1 lacks the first ID, the largest deleted ID and the entries added.
    const object = objectOf(v2);
    const tail = "\x02\x01\x02\x01\x01\x00\x00\x02\x00"; // length, last ID, first ID, max deleted, added, groups
    assert.ok(object.endsWith(tail));
    const v1 = "\x0f" + object.slice(1, -tail.length) + "\x02\x01\x02\x00";
    const back = loadDumpPayload(withFooter(v1, 9)) as StreamValue;
    assert.equal(back.length, 2);
    assert.equal(back.entriesAdded, 2n);
    assert.equal(back.lastId, streamId(1n, 2n));
  });
});

describe("corrupt payloads", () => {
  it("refuses a wrong checksum, a newer RDB version and a payload too short", () => {
    const good = createDumpPayload("hello");
    assertBad(good.slice(0, -1) + "x", "footer");
    assertBad("\x00\x05hellO" + good.slice(7), "footer");
    assertBad(withFooter("\x00\x05hello", 11), "footer");
    assertBad("short", "footer");
    assertBad("", "footer");
    assert.equal(loadDumpPayload(withFooter("\x00\x05hello", 9)), "hello");
    assert.equal(loadDumpPayload(withFooter("\x00\x05hello", 0)), "hello");
  });

  it("refuses contents that are no RDB object, as Bad data format", () => {
    const cases = [
      "\xc8abc", // no such type
      "\x06\x00", // a module value
      "\x09\x00", // a zipmap
      "\x12\x00", // an empty list
      "\x02\x00", // an empty set
      "\x04\x00", // an empty hash
      "\x02\x02\x01a\x01a", // a member twice
      "\x04\x02\x01a\x01b\x01a\x01c", // a field twice
      "\x05\x01\x01a\x00\x00\x00\x00\x00\x00\xf8\x7f", // a NaN score
      "\x00\xc4abc", // no such string encoding
      "\x00\xc3\x05\x05\x10abcde", // LZF that does not decompress
      "\x0b\x08\x03\x00\x00\x00\x00\x00\x00\x00", // an intset shorter than it says
      "\x0b\x08\x05\x00\x00\x00\x00\x00\x00\x00", // an intset of width 5
      "\x00\x82abc", // no such length encoding
      "\x10\x07\x08\x00\x00\x00\x00\x00\xff", // a listpack whose size is wrong
      "\x12\x01\x03\x07\x07\x00\x00\x00\x00\x00\xff", // a quicklist node of no known container
      "\x02\x05\x01a", // fewer members than it says
    ];
    for (const object of cases) assertBad(withFooter(object), "format");
  });

  it("reads an object that runs past its end from the footer, as Redis does", () => {
    const payload = withFooter("\x00\x0aabc");
    assert.equal(loadDumpPayload(payload), payload.slice(2, 12));
  });
});
