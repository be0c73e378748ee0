import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { formatDouble, ReplyWriter, type RespVersion } from "../../src/resp/writer.ts";
import { RespParser } from "../../src/resp/parser.ts";

const latin1 = (bytes: Uint8Array) => {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return text;
};

/** What `write` produces on a writer speaking `protocol`, as a latin1 string. */
function encoded(protocol: RespVersion, write: (out: ReplyWriter) => void): string {
  const out = new ReplyWriter();
  out.protocol = protocol;
  write(out);
  return latin1(out.take());
}

const ALL_BYTES = String.fromCharCode(...Array.from({ length: 256 }, (_, i) => i));

describe("ReplyWriter: RESP2 and RESP3 encodings", () => {
  const cases: [string, (out: ReplyWriter) => void, string, string][] = [
    ["simple string", (o) => o.simple("PONG"), "+PONG\r\n", "+PONG\r\n"],
    ["ok", (o) => o.ok(), "+OK\r\n", "+OK\r\n"],
    ["error", (o) => o.error("ERR bad"), "-ERR bad\r\n", "-ERR bad\r\n"],
    ["integer", (o) => o.integer(-42), ":-42\r\n", ":-42\r\n"],
    [
      "bigint",
      (o) => o.integer(2n ** 63n - 1n),
      ":9223372036854775807\r\n",
      ":9223372036854775807\r\n",
    ],
    ["bulk", (o) => o.bulk("hi"), "$2\r\nhi\r\n", "$2\r\nhi\r\n"],
    ["empty bulk", (o) => o.bulk(""), "$0\r\n\r\n", "$0\r\n\r\n"],
    ["null bulk", (o) => o.bulk(null), "$-1\r\n", "_\r\n"],
    ["null", (o) => o.nullReply(), "$-1\r\n", "_\r\n"],
    ["null array", (o) => o.nullArray(), "*-1\r\n", "_\r\n"],
    ["array", (o) => o.arrayHeader(2), "*2\r\n", "*2\r\n"],
    ["map", (o) => o.mapHeader(2), "*4\r\n", "%2\r\n"],
    ["set", (o) => o.setHeader(3), "*3\r\n", "~3\r\n"],
    ["push", (o) => o.pushHeader(3), "*3\r\n", ">3\r\n"],
    ["double", (o) => o.double(1.5), "$3\r\n1.5\r\n", ",1.5\r\n"],
    ["integral double", (o) => o.double(3), "$1\r\n3\r\n", ",3\r\n"],
    ["infinite double", (o) => o.double(-Infinity), "$4\r\n-inf\r\n", ",-inf\r\n"],
    ["nan double", (o) => o.double(NaN), "$3\r\nnan\r\n", ",nan\r\n"],
    ["true", (o) => o.boolean(true), ":1\r\n", "#t\r\n"],
    ["false", (o) => o.boolean(false), ":0\r\n", "#f\r\n"],
    ["verbatim", (o) => o.verbatim("a\r\nb"), "$4\r\na\r\nb\r\n", "=8\r\ntxt:a\r\nb\r\n"],
    [
      "bulk array with a null",
      (o) => o.bulkArray(["a", null]),
      "*2\r\n$1\r\na\r\n$-1\r\n",
      "*2\r\n$1\r\na\r\n_\r\n",
    ],
  ];
  for (const [name, write, resp2, resp3] of cases) {
    it(`encodes a ${name} as ${JSON.stringify(resp2)} in RESP2 and ${JSON.stringify(resp3)} in RESP3`, () => {
      assert.equal(encoded(2, write), resp2);
      assert.equal(encoded(3, write), resp3);
    });
  }

  it("turns line breaks in an error into spaces so the reply stays one line", () => {
    assert.equal(encoded(2, (o) => o.error("ERR a\r\nb\nc")), "-ERR a b c\r\n");
  });

  it("formats doubles as Redis does", () => {
    assert.equal(formatDouble(Infinity), "inf");
    assert.equal(formatDouble(-Infinity), "-inf");
    assert.equal(formatDouble(NaN), "nan");
    // Redis 7.0 prints doubles with %.17g (and -0 as "-0").
    assert.equal(formatDouble(0.1), "0.10000000000000001");
    assert.equal(formatDouble(1.5), "1.5");
    assert.equal(formatDouble(-2), "-2");
    assert.equal(formatDouble(-0), "-0");
    assert.equal(formatDouble(1e21), "1e+21");
    assert.equal(formatDouble(1e-5), "1.0000000000000001e-05");
    assert.equal(formatDouble(1e16), "10000000000000000");
    assert.equal(formatDouble(1e17), "1e+17");
  });
});

describe("ReplyWriter: bytes and buffers", () => {
  it("round-trips every byte value 0-255 in a bulk reply", () => {
    const text = encoded(2, (o) => o.bulk(ALL_BYTES));
    assert.equal(text, `$256\r\n${ALL_BYTES}\r\n`);
  });

  it("encodes a batch mixing ASCII and high bytes as latin1 byte for byte", () => {
    const out = new ReplyWriter();
    out.simple("OK");
    out.bulk("\xff\x80\x00");
    const bytes = out.take();
    assert.deepEqual(
      Array.from(bytes),
      [...Array.from("+OK\r\n$3\r\n", (c) => c.charCodeAt(0)), 0xff, 0x80, 0, 13, 10],
    );
  });

  it("writes a pipeline of replies as one batch and resets after take", () => {
    const out = new ReplyWriter();
    for (let i = 0; i < 1000; i++) out.integer(i);
    assert.ok(out.size > 0);
    const text = latin1(out.take());
    assert.ok(text.startsWith(":0\r\n:1\r\n"));
    assert.ok(text.endsWith(":999\r\n"));
    assert.equal(out.size, 0);
    assert.equal(latin1(out.take()), "");
  });

  it("grows past its initial buffer for a large reply and shrinks back afterwards", () => {
    const out = new ReplyWriter();
    const big = "x".repeat(5 * 1024 * 1024);
    out.bulk(big);
    const bytes = out.take();
    assert.equal(bytes.length, big.length + `$${big.length}\r\n\r\n`.length);
    out.ok();
    assert.equal(latin1(out.take()), "+OK\r\n");
  });

  it("cuts and re-appends already-encoded replies (queued replies)", () => {
    const out = new ReplyWriter();
    out.ok();
    const mark = out.size;
    out.integer(1);
    out.bulk("x");
    const queued = out.cut(mark);
    assert.equal(queued, ":1\r\n$1\r\nx\r\n");
    out.rawText(queued);
    assert.equal(latin1(out.take()), "+OK\r\n:1\r\n$1\r\nx\r\n");
  });

  /** A ByteSource over a latin1 string, as a stored value is one over its bytes. */
  const source = (text: string) => ({
    stringLength: () => text.length,
    copyString(target: Uint8Array, at: number) {
      for (let i = 0; i < text.length; i++) target[at + i] = text.charCodeAt(i);
      return text.length;
    },
  });

  it("copies byte sources in order with the text around them, across take and growth", () => {
    const out = new ReplyWriter();
    const big = ALL_BYTES.repeat(1024); // 256 KiB: past the initial buffer, after bytes copied
    out.arrayHeader(3);
    out.bulkFrom(source(ALL_BYTES));
    out.bulk("\xffmiddle");
    out.bulkFrom(source(big));
    const expected =
      `*3\r\n$256\r\n${ALL_BYTES}\r\n$7\r\n\xffmiddle\r\n$${big.length}\r\n${big}\r\n`;
    assert.equal(out.size, expected.length);
    assert.equal(latin1(out.take()), expected);
    out.bulkFrom(source("again"));
    assert.equal(latin1(out.take()), "$5\r\nagain\r\n", "take resets the copied bytes too");
  });

  it("gives back a buffer grown for a huge batch of copied bytes once batches are small again", () => {
    const out = new ReplyWriter();
    for (let i = 0; i < 400; i++) out.bulkFrom(source("v".repeat(16 * 1024)));
    out.take();
    assert.ok(out.bufferBytes > 4 * 1024 * 1024);
    out.bulkFrom(source("small value"));
    assert.equal(latin1(out.take()), "$11\r\nsmall value\r\n");
    assert.ok(out.bufferBytes <= 64 * 1024, `kept ${out.bufferBytes} bytes`);
  });

  it("cuts replies that include copied bytes", () => {
    const out = new ReplyWriter();
    out.ok();
    const mark = out.size;
    out.bulkFrom(source("stored value"));
    out.integer(7);
    const queued = out.cut(mark);
    assert.equal(queued, "$12\r\nstored value\r\n:7\r\n");
    assert.equal(out.size, mark);
    out.rawText(queued);
    assert.equal(latin1(out.take()), "+OK\r\n$12\r\nstored value\r\n:7\r\n");
  });

  it("produces bulk replies the parser reads back unchanged", () => {
    const out = new ReplyWriter();
    out.bulkArray(["SET", ALL_BYTES, ""]);
    const parser = new RespParser({
      maxBulkBytes: 1 << 20,
      maxMultibulkLength: 16,
      maxQueryBufferBytes: 1 << 20,
    });
    const seen: string[][] = [];
    parser.feed(out.take(), (argv) => seen.push(argv));
    assert.deepEqual(seen, [["SET", ALL_BYTES, ""]]);
  });
});
