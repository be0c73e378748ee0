/** A connection's reply order under deferred completion, checked against a model. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type PendingReply, ReplyQueue } from "../../src/server/reply_queue.ts";
import { mulberry32 } from "../_mulberry32.ts";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const bytes = (s: string) => new TextEncoder().encode(s);

describe("ReplyQueue", () => {
  it("writes replies in command order whatever order pending ones complete in (model, 2000 seeds)", () => {
    for (let seed = 1; seed <= 2000; seed++) {
      const random = mulberry32(seed);
      const written: string[] = [];
      const queue = new ReplyQueue((b) => written.push(text(b)), {
        maxWaitingReplies: 1_000,
        maxWaitingBytes: 1 << 20,
      }, () => assert.fail(`seed ${seed}: overflow`));
      // A reused buffer, as the server's writer is: a reply that waits must have been copied.
      const shared = new Uint8Array(64);
      const view = (s: string) => {
        shared.fill(0x3f);
        shared.set(bytes(s));
        return shared.subarray(0, s.length);
      };
      const open: [PendingReply, string][] = [];
      const expected: string[] = [];
      for (let step = 0; step < 60; step++) {
        const roll = random();
        const reply = `r${step};`;
        if (roll < 0.45) {
          queue.push(view(reply));
          expected.push(reply);
        } else if (roll < 0.75) {
          open.push([queue.defer()!, reply]);
          expected.push(reply);
        } else if (open.length > 0) {
          const [pending, value] = open.splice(Math.floor(random() * open.length), 1)[0];
          pending.complete(view(value));
        }
      }
      for (const [pending, value] of open.splice(0)) pending.complete(view(value));
      assert.equal(written.join(""), expected.join(""), `seed ${seed}`);
      assert.ok(queue.idle, `seed ${seed}: drained`);
      assert.equal(queue.bytes, 0, `seed ${seed}: waiting bytes back to 0`);
    }
  });

  it("writes at once, without queueing, while nothing is pending", () => {
    const written: string[] = [];
    const queue = new ReplyQueue((b) => written.push(text(b)), {
      maxWaitingReplies: 1,
      maxWaitingBytes: 1,
    }, () => assert.fail("overflow"));
    for (let i = 0; i < 100; i++) queue.push(bytes(`+OK${i}\r\n`));
    assert.equal(written.length, 100);
    assert.ok(queue.idle);
  });

  it("reports once and takes nothing more past the bound on waiting replies", () => {
    let overflows = 0;
    const written: string[] = [];
    const queue = new ReplyQueue((b) => written.push(text(b)), {
      maxWaitingReplies: 3,
      maxWaitingBytes: 1 << 20,
    }, () => overflows++);
    const head = queue.defer()!;
    queue.push(bytes("a"));
    queue.push(bytes("b"));
    queue.push(bytes("c")); // the fourth waiting reply
    assert.equal(overflows, 1);
    assert.equal(queue.defer(), null);
    queue.push(bytes("d"));
    assert.equal(overflows, 1);
    assert.equal(queue.size, 3);
    head.complete(bytes("h"));
    assert.deepEqual(written, ["h", "a", "b"]);
  });

  it("reports past the bound on waiting bytes, and holds no more than it", () => {
    let overflows = 0;
    const queue = new ReplyQueue(() => {}, {
      maxWaitingReplies: 1_000,
      maxWaitingBytes: 100,
    }, () => overflows++);
    queue.defer();
    for (let i = 0; i < 50; i++) queue.push(new Uint8Array(30));
    assert.equal(overflows, 1);
    assert.ok(queue.bytes <= 100, `${queue.bytes} bytes waiting`);
  });

  it("tells when everything queued so far went out", async () => {
    const queue = new ReplyQueue(() => {}, {
      maxWaitingReplies: 10,
      maxWaitingBytes: 100,
    }, () => {});
    const pending = queue.defer()!;
    let drained = false;
    const done = queue.drained().then(() => (drained = true));
    await Promise.resolve();
    assert.equal(drained, false);
    pending.complete(bytes("x"));
    await done;
    assert.equal(drained, true);
  });

  it("abandons the replies still pending when the connection closes, and only those", () => {
    const queue = new ReplyQueue(
      () => {},
      { maxWaitingReplies: 10, maxWaitingBytes: 100 },
      () => {},
    );
    const abandoned: string[] = [];
    const first = queue.defer()!;
    first.onAbandon = () => abandoned.push("first");
    const done = queue.defer()!;
    done.onAbandon = () => abandoned.push("done");
    done.complete(bytes("+OK\r\n")); // complete, waiting behind the first
    const unregistered = queue.defer()!;
    const last = queue.defer()!;
    last.onAbandon = () => abandoned.push("last");
    assert.equal(unregistered.done, false);
    queue.clear();
    assert.deepEqual(abandoned, ["first", "last"]);
    assert.ok(queue.idle);
  });
});
