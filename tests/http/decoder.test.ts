import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  decodeReply,
  RespDecodeError,
  RespDecoder,
  RespError,
  RespPush,
} from "../../src/resp/decoder.ts";
import { ReplyWriter } from "../../src/resp/writer.ts";

describe("RespDecoder", () => {
  it("decodes every RESP2 type", () => {
    assert.deepEqual(
      decodeReply("*6\r\n+OK\r\n:-42\r\n$4\r\na\r\nb\r\n$-1\r\n*-1\r\n*1\r\n$0\r\n\r\n"),
      ["OK", -42, "a\r\nb", null, null, [""]],
    );
    const error = decodeReply("-WRONGTYPE Operation against a key\r\n");
    assert.ok(error instanceof RespError);
    assert.equal(error.code, "WRONGTYPE");
  });

  it("decodes every RESP3 type", () => {
    assert.equal(decodeReply("_\r\n"), null);
    assert.equal(decodeReply(",3.5\r\n"), 3.5);
    assert.equal(decodeReply(",-inf\r\n"), -Infinity);
    assert.ok(Number.isNaN(decodeReply(",nan\r\n")));
    assert.equal(decodeReply("#t\r\n"), true);
    assert.equal(
      decodeReply("(123456789012345678901234567890\r\n"),
      123456789012345678901234567890n,
    );
    assert.equal(decodeReply("=8\r\ntxt:abcd\r\n"), "abcd");
    assert.deepEqual(decodeReply("%1\r\n+a\r\n:1\r\n"), new Map([["a", 1]]));
    assert.deepEqual(decodeReply("~2\r\n+a\r\n+b\r\n"), new Set(["a", "b"]));
    assert.deepEqual(decodeReply(">2\r\n+message\r\n+x\r\n"), new RespPush(["message", "x"]));
    assert.deepEqual(decodeReply("|1\r\n+ttl\r\n:3\r\n+value\r\n"), "value");
    const error = decodeReply("!9\r\nERR boom!\r\n");
    assert.ok(error instanceof RespError && error.message === "ERR boom!");
  });

  it("turns integers beyond 2^53 into bigints and keeps smaller ones as numbers", () => {
    assert.equal(decodeReply(":9007199254740991\r\n"), 9007199254740991);
    assert.equal(decodeReply(":9223372036854775807\r\n"), 9223372036854775807n);
  });

  it("keeps an incomplete reply until the rest arrives, byte by byte", () => {
    const text = "*3\r\n$5\r\nhello\r\n%1\r\n+k\r\n:7\r\n$-1\r\n+OK\r\n";
    const decoder = new RespDecoder();
    const values = [];
    for (const char of text) values.push(...decoder.feed(char));
    assert.deepEqual(values, [["hello", new Map([["k", 7]]), null], "OK"]);
    assert.equal(decoder.pendingBytes, 0);
  });

  it("decodes bytes as latin1, so binary bulk strings keep every byte", () => {
    const bytes = new Uint8Array([36, 51, 13, 10, 0, 0xff, 0x80, 13, 10]);
    assert.equal(decodeReply(bytes), "\x00\xff\x80");
  });

  it("reads what ReplyWriter writes, in both protocols", () => {
    for (const protocol of [2, 3] as const) {
      const out = new ReplyWriter();
      out.protocol = protocol;
      out.mapHeader(1);
      out.bulk("field");
      out.double(1.5);
      out.nullReply();
      const values = new RespDecoder().feed(out.take());
      assert.deepEqual(
        values,
        protocol === 2 ? [["field", "1.5"], null] : [new Map([["field", 1.5]]), null],
      );
    }
  });

  it("rejects malformed input and input beyond its limits with a clear error", () => {
    assert.throws(() => decodeReply("?1\r\n"), RespDecodeError);
    assert.throws(() => decodeReply("$abc\r\n"), /invalid bulk length "abc"/);
    assert.throws(() => decodeReply("$3\r\nabcd\r\n"), /lacks CRLF/);
    assert.throws(() => decodeReply("$10\r\n", { maxBulkBytes: 5 }), /exceeds the limit of 5/);
    assert.throws(() => decodeReply("*1\r\n*1\r\n:1\r\n", { maxDepth: 1 }), /nesting deeper/);
    assert.throws(() => decodeReply("+OK\r\n+OK\r\n"), /found 2 complete replies/);
  });
});
