import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { RecordBuffer } from "../../src/persistence/_records.ts";
import { encodeBatch, latin1Bytes } from "./_resp.ts";

const latin1 = (bytes: Uint8Array) => Buffer.from(bytes).toString("latin1");
const ALL_BYTES = String.fromCharCode(...Array.from({ length: 256 }, (_, i) => i));

describe("RecordBuffer", () => {
  it("encodes commands exactly as encodeBatch does, any byte included", () => {
    const buffer = new RecordBuffer();
    const commands = [["SET", "k", "v\r\n"], ["SET", ALL_BYTES, ALL_BYTES.repeat(3)], ["PING"]];
    for (const argv of commands) buffer.appendCommand(argv);
    assert.equal(latin1(buffer.view()), encodeBatch(commands));
  });

  it("writes multi-digit counts and lengths", () => {
    const buffer = new RecordBuffer();
    const argv = ["RPUSH", "list", ...Array.from({ length: 12 }, (_, i) => "x".repeat(i * 10))];
    buffer.appendCommand(argv);
    assert.equal(latin1(buffer.view()), encodeBatch([argv]));
  });

  it("seals a batch per view: records appended after it start the next batch", () => {
    const buffer = new RecordBuffer();
    buffer.appendCommand(["SET", "a", "1"]);
    const first = latin1(buffer.view());
    assert.equal(latin1(buffer.view()), first, "a second view adds nothing");
    buffer.appendCommand(["SET", "b", "2"]);
    buffer.appendCommand(["SET", "c", "3"]);
    assert.equal(
      latin1(buffer.view()),
      encodeBatch([["SET", "a", "1"]]) + encodeBatch([["SET", "b", "2"], ["SET", "c", "3"]]),
    );
  });

  it("never changes the bytes of a view held by a write, even when it grows", () => {
    const buffer = new RecordBuffer();
    buffer.appendCommand(["SET", "a", "1"]);
    const held = buffer.view();
    const before = latin1(held);
    // Far past the initial 64 KiB: the buffer is replaced, the held view keeps the old one.
    const later = Array.from({ length: 2000 }, (_, i) => ["SET", `key${i}`, "v".repeat(100)]);
    for (const argv of later) buffer.appendCommand(argv);
    assert.equal(latin1(held), before);
    buffer.consume(held.length);
    assert.equal(latin1(buffer.view()), encodeBatch(later));
  });

  it("consume drops the written prefix and keeps what came after", () => {
    const buffer = new RecordBuffer();
    buffer.appendCommand(["SET", "a", "1"]);
    const written = buffer.view().length;
    buffer.appendCommand(["SET", "b", "2"]);
    buffer.consume(written);
    assert.equal(latin1(buffer.view()), encodeBatch([["SET", "b", "2"]]));
    buffer.consume(buffer.length);
    assert.equal(buffer.length, 0);
  });

  it("prepend puts sealed batches back in front, for a retry", () => {
    const buffer = new RecordBuffer();
    buffer.appendCommand(["SET", "late", "2"]);
    const early = latin1Bytes(encodeBatch([["SET", "early", "1"]]));
    buffer.prepend(early);
    buffer.appendCommand(["SET", "later", "3"]);
    assert.equal(
      latin1(buffer.view()),
      encodeBatch([["SET", "early", "1"]]) +
        encodeBatch([["SET", "late", "2"], ["SET", "later", "3"]]),
    );
  });
});
