import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { forgetSource, noteSource, readLatin1, writeLatin1 } from "../src/_latin1.ts";
import { RespParser } from "../src/resp/parser.ts";

const LIMITS = { maxBulkBytes: 1 << 20, maxMultibulkLength: 1024, maxQueryBufferBytes: 1 << 20 };
const ALL_BYTES = String.fromCharCode(...Array.from({ length: 256 }, (_, i) => i));
const latin1Bytes = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));
const multibulk = (argv: string[]) =>
  `*${argv.length}\r\n` + argv.map((a) => `$${a.length}\r\n${a}\r\n`).join("");

/** `text` written by `writeLatin1`, as a string again. */
function written(text: string): string {
  const target = new Uint8Array(text.length + 8);
  assert.equal(writeLatin1(target, text, 4), text.length);
  return String.fromCharCode(...target.subarray(4, 4 + text.length));
}

describe("writeLatin1 with a noted source", () => {
  it("copies the noted bytes for the noted text and for an equal string", () => {
    const source = Buffer.from(latin1Bytes("xx" + ALL_BYTES + "yy"));
    const text = readLatin1(source, 2, 258);
    noteSource(text, source, 2);
    try {
      assert.equal(written(text), ALL_BYTES);
      assert.equal(written(ALL_BYTES.slice(0, 128) + ALL_BYTES.slice(128)), ALL_BYTES);
      // Another string of the same length is encoded from its own chars.
      const other = ALL_BYTES.split("").reverse().join("");
      assert.equal(written(other), other);
    } finally {
      forgetSource();
    }
  });

  it("encodes from the string once the source is forgotten, whatever the bytes became", () => {
    const source = Buffer.from(latin1Bytes("v".repeat(100)));
    const text = readLatin1(source, 0, 100);
    noteSource(text, source, 0);
    forgetSource();
    source.fill(0);
    assert.equal(written(text), "v".repeat(100));
  });
});

describe("RespParser notes a long argument only while its command runs", () => {
  it("lets the command copy its value byte-exact from the input, all 256 byte values", () => {
    const parser = new RespParser(LIMITS);
    const value = ALL_BYTES + ALL_BYTES;
    const seen: string[] = [];
    parser.feed(
      latin1Bytes(multibulk(["SET", "k", value]) + multibulk(["SET", "k2", "z".repeat(64)])),
      (argv) => {
        seen.push(written(argv[2]));
      },
    );
    assert.deepEqual(seen, [value, "z".repeat(64)]);
  });

  it("forgets the input after feed returns: a later write of the value ignores changed input", () => {
    const parser = new RespParser(LIMITS);
    const input = latin1Bytes(multibulk(["SET", "k", "a".repeat(100)]));
    let value = "";
    parser.feed(input, (argv) => value = argv[2]);
    input.fill(66);
    assert.equal(written(value), "a".repeat(100));
  });

  it("forgets the input when the command throws", () => {
    const parser = new RespParser(LIMITS);
    const input = latin1Bytes(multibulk(["SET", "k", "b".repeat(100)]));
    let value = "";
    assert.throws(() =>
      parser.feed(input, (argv) => {
        value = argv[2];
        throw new Error("handler failed");
      }), /handler failed/);
    input.fill(67);
    assert.equal(written(value), "b".repeat(100));
  });

  it("forgets an argument of a command that is still incomplete", () => {
    const parser = new RespParser(LIMITS);
    const whole = multibulk(["SET", "k", "c".repeat(100), "EX", "100"]);
    const first = latin1Bytes(whole.slice(0, whole.indexOf("EX")));
    let value = "";
    parser.feed(first, () => {});
    first.fill(68);
    parser.feed(latin1Bytes(whole.slice(whole.indexOf("EX"))), (argv) => value = argv[2]);
    assert.equal(value, "c".repeat(100));
    assert.equal(written(value), "c".repeat(100));
  });
});
