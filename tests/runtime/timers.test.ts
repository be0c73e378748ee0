import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { currentRuntime } from "../../src/runtime/mod.ts";
import type { Clock as RuntimeClock } from "../../src/runtime/types.ts";
import type { Clock } from "../../src/clock.ts";

describe("runtime clock, timers and randomness", () => {
  it("fires timeouts in order of their delay and never a cleared one", async () => {
    const { timers } = await currentRuntime();
    const fired: string[] = [];
    const done = Promise.withResolvers<void>();
    timers.setTimeout(() => fired.push("30"), 30);
    const cleared = timers.setTimeout(() => fired.push("cleared"), 5);
    timers.setTimeout(() => fired.push("10"), 10);
    timers.setTimeout(() => done.resolve(), 50);
    timers.clearTimeout(cleared);
    timers.clearTimeout(undefined);
    await done.promise;
    assert.deepEqual(fired, ["10", "30"]);
  });

  it("repeats an interval until it is cleared", async () => {
    const { timers } = await currentRuntime();
    let runs = 0;
    const done = Promise.withResolvers<void>();
    const handle = timers.setInterval(() => {
      if (++runs === 3) {
        timers.clearInterval(handle);
        timers.setTimeout(() => done.resolve(), 30);
      }
    }, 5);
    await done.promise;
    assert.equal(runs, 3);
  });

  it("runs a queued microtask after the current code and before any timer", async () => {
    const { timers } = await currentRuntime();
    const order: string[] = [];
    const done = Promise.withResolvers<void>();
    timers.setTimeout(() => {
      order.push("timer");
      done.resolve();
    }, 0);
    timers.queueMicrotask(() => order.push("microtask"));
    order.push("sync");
    await done.promise;
    assert.deepEqual(order, ["sync", "microtask", "timer"]);
  });

  it("draws random numbers in [0, 1) that are not all the same", async () => {
    const runtime = await currentRuntime();
    const draws = Array.from({ length: 1000 }, () => runtime.random());
    assert.ok(draws.every((x) => x >= 0 && x < 1));
    assert.ok(new Set(draws).size > 990);
  });

  it("keeps a monotonic clock that does not go backwards, and the Unix time", async () => {
    const runtime = await currentRuntime();
    // The clock type lives in src/clock.ts; the runtime layer re-exports the same type.
    const clock: Clock = runtime.clock satisfies RuntimeClock;
    let last = clock.monotonicMs();
    for (let i = 0; i < 1000; i++) {
      const now = clock.monotonicMs();
      assert.ok(now >= last);
      last = now;
    }
    assert.ok(Math.abs(clock.realtimeMs() - Date.now()) < 1000);
  });
});
