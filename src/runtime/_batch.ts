/**
 * What both TCP adapters share for writing: replies are sent once every connection with input in
 * this turn of the event loop has been served, as Redis writes its replies before it waits for
 * events again. A peer woken by the first write is still busy reading when the next ones arrive;
 * writing each connection's replies at once woke an idle peer every time (on loopback the wakeup
 * is paid inside our send: 12% of a node's CPU in perf under `redis-benchmark -P 16`).
 *
 * @module
 */
import { setImmediate } from "node:timers";

/**
 * A queue whose items are handed to `flush` together, once, at the end of the current turn
 * (`setImmediate`: after the I/O callbacks and microtasks of this turn).
 */
export function endOfTurn<T>(flush: (item: T) => void): (item: T) => void {
  let queued: T[] = [];
  const run = () => {
    const items = queued;
    queued = [];
    for (const item of items) flush(item);
  };
  return (item: T) => {
    if (queued.length === 0) setImmediate(run);
    queued.push(item);
  };
}
