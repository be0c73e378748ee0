import type { Clock } from "../src/clock.ts";

/** A clock that only moves when a test moves it. */
export class FakeClock implements Clock {
  /** Added to the monotonic time on every read, to simulate work taking time. */
  tickPerReadMs = 0;

  constructor(private monotonic = 1_000, private realtime = 1_700_000_000_000) {}

  monotonicMs(): number {
    const now = this.monotonic;
    this.monotonic += this.tickPerReadMs;
    return now;
  }

  realtimeMs(): number {
    return this.realtime;
  }

  advance(ms: number): void {
    this.monotonic += ms;
    this.realtime += ms;
  }
}
