import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Outbox } from "../../src/runtime/_batch.ts";

const bytes = (...values: number[]) => new Uint8Array(values);

describe("Outbox: the bytes a connection has yet to send", () => {
  it("keeps a copy: the caller may reuse what it pushed", () => {
    const outbox = new Outbox();
    const reply = bytes(1, 2, 3);
    outbox.push(reply);
    reply.fill(9);
    outbox.push(bytes(4));
    assert.deepEqual([...outbox.peek()], [1, 2, 3, 4]);
    assert.equal(outbox.size, 4);
  });

  it("keeps what a partial send left, in order, ahead of later pushes", () => {
    const outbox = new Outbox();
    outbox.push(bytes(1, 2, 3, 4, 5));
    outbox.consume(2);
    outbox.push(bytes(6));
    assert.deepEqual([...outbox.peek()], [3, 4, 5, 6]);
    outbox.consume(4);
    assert.equal(outbox.size, 0);
  });

  it("grows past its first buffer for a large reply, byte-exact", () => {
    const outbox = new Outbox();
    const large = Uint8Array.from({ length: 200_000 }, (_, i) => i % 251);
    outbox.push(bytes(7));
    outbox.push(large);
    const queued = outbox.peek();
    assert.equal(queued.length, 200_001);
    assert.equal(queued[0], 7);
    assert.deepEqual(queued.subarray(1), large);
  });

  it("does not touch detached bytes while more are pushed, and reuses them once recycled", () => {
    const outbox = new Outbox();
    outbox.push(bytes(1, 2));
    const first = outbox.detach();
    assert.equal(outbox.size, 0);
    outbox.push(bytes(3, 4, 5)); // while `first` is being sent
    assert.deepEqual([...first], [1, 2]);
    outbox.recycle(first);
    const second = outbox.detach();
    assert.deepEqual([...second], [3, 4, 5]);
    assert.notEqual(second.buffer, first.buffer);
    outbox.push(bytes(6));
    // The recycled buffer now takes the writes; `second`, still being sent, is left alone.
    assert.equal(outbox.peek().buffer, first.buffer);
    assert.deepEqual([...second], [3, 4, 5]);
  });

  it("clears everything queued", () => {
    const outbox = new Outbox();
    outbox.push(bytes(1));
    outbox.clear();
    assert.equal(outbox.size, 0);
    assert.equal(outbox.peek().length, 0);
  });
});
