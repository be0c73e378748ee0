import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { encode } from "cborg";
import {
  BusFrameType,
  decodePayload,
  encodeFrame,
  type Frame,
  FRAME_HEADER_BYTES,
  FRAME_TYPES,
  frameBytes,
  FrameDecoder,
  FrameError,
  frameTypeInfo,
  frameTypeName,
  MAC_BYTES,
} from "../../src/bus/mod.ts";
import { FrameType as RaftFrameType } from "../../src/raft/codec.ts";

const SECRET = new TextEncoder().encode("cluster-secret");
const OTHER = new TextEncoder().encode("another-secret");

function reason(error: unknown): string {
  assert.ok(error instanceof FrameError, `expected a FrameError, got ${String(error)}`);
  return error.reason;
}

function throwsFrameError(fn: () => unknown, expected: FrameError["reason"]): void {
  assert.throws(fn, (error: unknown) => reason(error) === expected);
}

function summary(frames: Frame[]): [number, number[], boolean][] {
  return frames.map((f) => [f.type, [...f.payload], f.authentic]);
}

/** A few frames of different types and sizes, concatenated. */
function stream(
  secret?: Uint8Array,
): { bytes: Uint8Array; expected: [number, number[], boolean][] } {
  const payloads: [number, Uint8Array][] = [
    [BusFrameType.raftAppend, encode({ index: 1 })],
    [BusFrameType.forwardRequest, encode(["SET", "k", new Uint8Array([0, 255])])],
    [BusFrameType.replicaWrite, encode(new Uint8Array(40).fill(7))],
  ];
  const frames = payloads.map(([type, payload]) => encodeFrame(type, payload, secret));
  const bytes = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  let at = 0;
  for (const frame of frames) {
    bytes.set(frame, at);
    at += frame.length;
  }
  return { bytes, expected: payloads.map(([type, payload]) => [type, [...payload], true]) };
}

describe("bus frame codec", () => {
  it("writes magic 'HCBS', version 1, the type and the big-endian body length", () => {
    const frame = encodeFrame(BusFrameType.forwardReply, new Uint8Array(300));
    assert.deepEqual(
      [...frame.subarray(0, FRAME_HEADER_BYTES)],
      [0x48, 0x43, 0x42, 0x53, 1, 0x11, 0, 0, 0x01, 0x2c],
    );
    const signed = encodeFrame(BusFrameType.forwardReply, new Uint8Array(300), SECRET);
    assert.equal(signed.length, frameBytes(300, true));
    assert.deepEqual([...signed.subarray(6, 10)], [0, 0, 0x01, 0x2c + MAC_BYTES]);
  });

  it("round-trips frames of every declared type, with and without a secret", () => {
    for (const secret of [undefined, SECRET]) {
      for (const type of FRAME_TYPES.keys()) {
        const payload = encode({ type, data: new Uint8Array([1, 2, 3]) });
        const decoder = new FrameDecoder({ maxFrameBytes: 1024, secret });
        const [frame, ...rest] = decoder.push(encodeFrame(type, payload, secret));
        assert.deepEqual(rest, []);
        assert.deepEqual(summary([frame]), [[type, [...payload], true]]);
        assert.deepEqual(decodePayload(frame.payload), { type, data: new Uint8Array([1, 2, 3]) });
        assert.equal(decoder.bufferedBytes, 0);
      }
    }
  });

  it("round-trips an empty body and a body of exactly maxFrameBytes", () => {
    const decoder = new FrameDecoder({ maxFrameBytes: 64 + MAC_BYTES, secret: SECRET });
    const frames = decoder.push(
      new Uint8Array([
        ...encodeFrame(5, new Uint8Array(0), SECRET),
        ...encodeFrame(6, new Uint8Array(64).fill(1), SECRET),
      ]),
    );
    assert.deepEqual(frames.map((f) => [f.payload.length, f.authentic]), [[0, true], [64, true]]);
  });

  it("reassembles a stream split at every byte boundary, and one byte at a time", () => {
    for (const secret of [undefined, SECRET]) {
      const { bytes, expected } = stream(secret);
      for (let cut = 0; cut <= bytes.length; cut++) {
        const decoder = new FrameDecoder({ maxFrameBytes: 1024, secret });
        const frames = [
          ...decoder.push(bytes.slice(0, cut)),
          ...decoder.push(bytes.slice(cut)),
        ];
        assert.deepEqual(summary(frames), expected, `cut at ${cut}`);
        decoder.finish();
      }
      const decoder = new FrameDecoder({ maxFrameBytes: 1024, secret });
      const frames = [...bytes].flatMap((b) => decoder.push(new Uint8Array([b])));
      assert.deepEqual(summary(frames), expected);
    }
  });

  it("reassembles a stream cut at every pair of byte boundaries", () => {
    const { bytes, expected } = stream(SECRET);
    for (let first = 0; first <= bytes.length; first++) {
      for (let second = first; second <= bytes.length; second++) {
        const decoder = new FrameDecoder({ maxFrameBytes: 1024, secret: SECRET });
        const frames = [
          ...decoder.push(bytes.slice(0, first)),
          ...decoder.push(bytes.slice(first, second)),
          ...decoder.push(bytes.slice(second)),
        ];
        assert.deepEqual(summary(frames), expected, `cuts at ${first} and ${second}`);
      }
    }
  });

  it("keeps a frame's payload intact after the chunk it came in is overwritten", () => {
    const frame = encodeFrame(7, new Uint8Array([1, 2, 3]));
    const chunk = frame.slice();
    const decoder = new FrameDecoder({ maxFrameBytes: 100 });
    const [got] = decoder.push(chunk);
    chunk.fill(0);
    assert.deepEqual([...got.payload], [1, 2, 3]);
    const half = frame.slice(0, 12);
    assert.deepEqual(decoder.push(half), []);
    half.fill(0);
    assert.deepEqual([...decoder.push(frame.slice(12))[0].payload], [1, 2, 3]);
  });

  it("assembles a large frame from many small chunks", () => {
    const payload = new Uint8Array(300_000).map((_, i) => i % 251);
    const bytes = encodeFrame(BusFrameType.migrateBatch, payload, SECRET);
    const decoder = new FrameDecoder({ maxFrameBytes: 1 << 20, secret: SECRET });
    const frames: Frame[] = [];
    for (let at = 0; at < bytes.length; at += 1000) {
      frames.push(...decoder.push(bytes.subarray(at, at + 1000)));
    }
    assert.equal(frames.length, 1);
    assert.equal(frames[0].authentic, true);
    assert.deepEqual(frames[0].payload, payload);
  });

  it("refuses a bad magic at its first wrong byte, before the header is complete", () => {
    const good = encodeFrame(5, new Uint8Array([0xa0]));
    for (let i = 0; i < 4; i++) {
      const bad = good.slice();
      bad[i] ^= 0xff;
      throwsFrameError(() => new FrameDecoder({ maxFrameBytes: 100 }).push(bad), "magic");
      throwsFrameError(
        () => new FrameDecoder({ maxFrameBytes: 100 }).push(bad.subarray(0, i + 1)),
        "magic",
      );
    }
    throwsFrameError(
      () =>
        new FrameDecoder({ maxFrameBytes: 100 }).push(
          new TextEncoder().encode("GET / HTTP/1.1\r\n"),
        ),
      "magic",
    );
  });

  it("refuses a frame of another version", () => {
    for (const version of [0, 2, 255]) {
      const bad = encodeFrame(5, new Uint8Array([0xa0]));
      bad[4] = version;
      throwsFrameError(() => new FrameDecoder({ maxFrameBytes: 100 }).push(bad), "version");
      throwsFrameError(
        () => new FrameDecoder({ maxFrameBytes: 100 }).push(bad.subarray(0, 5)),
        "version",
      );
    }
  });

  it("refuses a header announcing more than maxFrameBytes before any of the body arrives", () => {
    const header = encodeFrame(7, new Uint8Array(101)).subarray(0, FRAME_HEADER_BYTES);
    throwsFrameError(() => new FrameDecoder({ maxFrameBytes: 100 }).push(header), "oversized");
    const split = new FrameDecoder({ maxFrameBytes: 100 });
    assert.deepEqual(split.push(header.subarray(0, 7)), []);
    throwsFrameError(() => split.push(header.subarray(7)), "oversized");
    const huge = header.slice();
    huge.set([0xff, 0xff, 0xff, 0xff], 6);
    throwsFrameError(() => new FrameDecoder({ maxFrameBytes: 100 }).push(huge), "oversized");
    // The tag counts towards the limit.
    const signed = encodeFrame(7, new Uint8Array(100 - MAC_BYTES + 1), SECRET);
    throwsFrameError(
      () => new FrameDecoder({ maxFrameBytes: 100, secret: SECRET }).push(signed),
      "oversized",
    );
  });

  it("reports a stream that ends in the middle of a header or a body as truncated", () => {
    const frame = encodeFrame(5, new Uint8Array([1, 2, 3]), SECRET);
    for (const cut of [1, FRAME_HEADER_BYTES - 1, FRAME_HEADER_BYTES, frame.length - 1]) {
      const decoder = new FrameDecoder({ maxFrameBytes: 100, secret: SECRET });
      assert.deepEqual(decoder.push(frame.subarray(0, cut)), []);
      assert.equal(decoder.bufferedBytes, cut);
      throwsFrameError(() => decoder.finish(), "truncated");
    }
    const whole = new FrameDecoder({ maxFrameBytes: 100, secret: SECRET });
    whole.push(frame);
    whole.finish();
  });

  it("refuses a payload that is not exactly one CBOR item", () => {
    const cases = [
      new Uint8Array(0), // nothing
      new Uint8Array([0x82, 0x01]), // an array of 2 with 1 item
      new Uint8Array([0xff]), // a lone break
      new Uint8Array([0x01, 0x02]), // trailing bytes
      new Uint8Array([0x5a, 0xff, 0xff, 0xff, 0xff]), // 4 GiB of bytes announced
      new Uint8Array([0x1c]), // reserved additional information
    ];
    for (const payload of cases) {
      const [frame] = new FrameDecoder({ maxFrameBytes: 100 }).push(encodeFrame(0x10, payload));
      throwsFrameError(() => decodePayload(frame.payload), "cbor");
    }
    assert.deepEqual(decodePayload(encode({ a: [1, "b"] })), { a: [1, "b"] });
  });

  it("marks frames unauthentic under a wrong secret, and with a flipped bit anywhere but magic, version and length", () => {
    const frame = encodeFrame(7, encode({ data: "value" }), SECRET);
    assert.equal(
      new FrameDecoder({ maxFrameBytes: 100, secret: OTHER }).push(frame)[0].authentic,
      false,
    );
    for (let at = 5; at < frame.length; at++) {
      if (at >= 6 && at < FRAME_HEADER_BYTES) continue; // the length: misframing, tested above
      for (let bit = 0; bit < 8; bit++) {
        const bad = frame.slice();
        bad[at] ^= 1 << bit;
        const frames = new FrameDecoder({ maxFrameBytes: 100, secret: SECRET }).push(bad);
        assert.deepEqual(frames.map((f) => f.authentic), [false], `byte ${at} bit ${bit}`);
      }
    }
  });

  it("marks frames without a tag unauthentic when a secret is configured", () => {
    const decoder = new FrameDecoder({ maxFrameBytes: 1000, secret: SECRET });
    const short = encodeFrame(7, encode({ a: 1 }));
    const long = encodeFrame(7, encode(new Uint8Array(100)));
    assert.deepEqual(decoder.push(short).map((f) => f.authentic), [false]);
    assert.deepEqual(decoder.push(long).map((f) => f.authentic), [false]);
  });

  it("keeps refusing after an error, and refuses new bytes before the last ones were read", () => {
    const decoder = new FrameDecoder({ maxFrameBytes: 100 });
    throwsFrameError(() => decoder.push(new Uint8Array([0x00])), "magic");
    throwsFrameError(() => decoder.push(encodeFrame(5, new Uint8Array([0xa0]))), "magic");
    const lazy = new FrameDecoder({ maxFrameBytes: 100 });
    const two = new Uint8Array([
      ...encodeFrame(5, new Uint8Array([1])),
      ...encodeFrame(6, new Uint8Array([2])),
    ]);
    lazy.feed(two);
    assert.equal(lazy.next()?.type, 5);
    assert.throws(() => lazy.feed(new Uint8Array(1)), RangeError);
    assert.equal(lazy.next()?.type, 6);
    assert.equal(lazy.next(), undefined);
  });

  it("refuses to encode a type that is not a byte", () => {
    for (const type of [-1, 256, 1.5]) {
      assert.throws(() => encodeFrame(type, new Uint8Array(0)), RangeError);
    }
  });
});

describe("bus frame types", () => {
  it("declares each type once, in its user's range, never 0x00-0x04", () => {
    const ranges = {
      raft: [0x05, 0x0f],
      forwarding: [0x10, 0x1f],
      replication: [0x20, 0x2f],
      migration: [0x30, 0x3f],
    } as const;
    assert.equal(FRAME_TYPES.size, Object.keys(BusFrameType).length);
    for (const info of FRAME_TYPES.values()) {
      const [low, high] = ranges[info.user];
      assert.ok(info.type >= low && info.type <= high, `${info.name} 0x${info.type.toString(16)}`);
      assert.equal(BusFrameType[info.name], info.type);
    }
    for (let type = 0; type <= 4; type++) assert.equal(frameTypeInfo(type), undefined);
  });

  it("gives Raft the bus's raft types, numbered as before the bus was its own module", () => {
    assert.deepEqual(RaftFrameType, {
      heartbeat: 0x05,
      election: 0x06,
      append: 0x07,
      snapshot: 0x08,
      request: 0x09,
    });
    for (const type of Object.values(RaftFrameType)) {
      assert.equal(frameTypeInfo(type)?.user, "raft");
    }
    assert.equal(frameTypeName(0x07), "raftAppend");
    assert.equal(frameTypeName(0x9a), "0x9a");
  });
});
