import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { RecordBuffer } from "../../src/persistence/_records.ts";
import { encodeCommand } from "./_resp.ts";

const latin1 = (bytes: Uint8Array) => String.fromCharCode(...bytes);
const ALL_BYTES = String.fromCharCode(...Array.from({ length: 256 }, (_, i) => i));

describe("RecordBuffer", () => {
  it("encodes commands exactly as encodeCommand does, any byte included", () => {
    const buffer = new RecordBuffer();
    const commands = [["SET", "k", "v\r\n"], ["SET", ALL_BYTES, ALL_BYTES.repeat(3)], ["PING"]];
    for (const argv of commands) buffer.appendCommand(argv);
    assert.equal(latin1(buffer.view()), commands.map(encodeCommand).join(""));
  });

  it("writes multi-digit counts and lengths", () => {
    const buffer = new RecordBuffer();
    const argv = ["RPUSH", "list", ...Array.from({ length: 12 }, (_, i) => "x".repeat(i * 10))];
    buffer.appendCommand(argv);
    assert.equal(latin1(buffer.view()), encodeCommand(argv));
  });

  it("never changes the bytes of a view held by a write, even when it grows", () => {
    const buffer = new RecordBuffer();
    buffer.appendCommand(["SET", "a", "1"]);
    const held = buffer.view();
    const before = latin1(held);
    // Far past the initial 64 KiB: the buffer is replaced, the held view keeps the old one.
    for (let i = 0; i < 2000; i++) buffer.appendCommand(["SET", `key${i}`, "v".repeat(100)]);
    assert.equal(latin1(held), before);
    buffer.consume(held.length);
    assert.equal(
      latin1(buffer.view().subarray(0, 30)),
      encodeCommand(["SET", "key0", "v".repeat(100)]).slice(0, 30),
    );
  });

  it("consume drops the written prefix and keeps what came after", () => {
    const buffer = new RecordBuffer();
    buffer.appendCommand(["SET", "a", "1"]);
    const written = buffer.length;
    buffer.appendCommand(["SET", "b", "2"]);
    buffer.consume(written);
    assert.equal(latin1(buffer.view()), encodeCommand(["SET", "b", "2"]));
    buffer.consume(buffer.length);
    assert.equal(buffer.length, 0);
  });

  it("prepend puts records back in front, for a retry", () => {
    const buffer = new RecordBuffer();
    buffer.appendCommand(["SET", "late", "2"]);
    const early = new TextEncoder().encode(encodeCommand(["SET", "early", "1"]));
    buffer.prepend(early);
    assert.equal(
      latin1(buffer.view()),
      encodeCommand(["SET", "early", "1"]) + encodeCommand(["SET", "late", "2"]),
    );
  });
});
