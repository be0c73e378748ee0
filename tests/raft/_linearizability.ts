/**
 * A linearizability checker for a key-value register history, in the style of Wing & Gong with
 * Lowe's just-in-time linearization and memoization (as Porcupine does), partitioned by key:
 * a history is linearizable when each key's sub-history is (P-compositionality).
 */

/** One client operation: invoked at `callMs`, answered at `returnMs` (Infinity: never answered). */
export interface Operation {
  id: number;
  kind: "put" | "get";
  key: string;
  /** The value a put writes. */
  input?: string;
  /** The value a get returned; `null` for a missing key. */
  output?: string | null;
  callMs: number;
  returnMs: number;
  /** The node that served it (for diagnostics). */
  target?: number;
}

export interface CheckResult {
  ok: boolean;
  /** The first key whose history is not linearizable. */
  key?: string;
  /** Set when the search gave up before deciding. */
  unknown?: boolean;
}

interface Event {
  op: Operation;
  index: number;
  isCall: boolean;
  time: number;
  prev: Event | null;
  next: Event | null;
  match: Event | null;
}

function step(state: string | null, op: Operation): [boolean, string | null] {
  if (op.kind === "put") return [true, op.input ?? null];
  return [op.output === state, state];
}

/** Builds the doubly linked event list: calls before returns at equal times (both concurrent). */
function buildEvents(ops: Operation[]): Event {
  const events: Event[] = [];
  ops.forEach((op, index) => {
    const call: Event = {
      op,
      index,
      isCall: true,
      time: op.callMs,
      prev: null,
      next: null,
      match: null,
    };
    const ret: Event = {
      op,
      index,
      isCall: false,
      time: op.returnMs,
      prev: null,
      next: null,
      match: null,
    };
    call.match = ret;
    events.push(call, ret);
  });
  events.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? 0 : a.isCall ? -1 : 1));
  const head: Event = {
    op: ops[0],
    index: -1,
    isCall: false,
    time: -Infinity,
    prev: null,
    next: null,
    match: null,
  };
  let last = head;
  for (const event of events) {
    last.next = event;
    event.prev = last;
    last = event;
  }
  return head;
}

function lift(call: Event): void {
  call.prev!.next = call.next;
  if (call.next) call.next.prev = call.prev;
  const ret = call.match!;
  ret.prev!.next = ret.next;
  if (ret.next) ret.next.prev = ret.prev;
}

function unlift(call: Event): void {
  const ret = call.match!;
  ret.prev!.next = ret;
  if (ret.next) ret.next.prev = ret;
  call.prev!.next = call;
  if (call.next) call.next.prev = call;
}

/** Checks one key's operations; `maxSteps` bounds the search. */
export function checkRegister(
  ops: Operation[],
  maxSteps = 2_000_000,
): { ok: boolean; unknown?: boolean } {
  if (ops.length === 0) return { ok: true };
  const head = buildEvents(ops);
  const linearized = new Uint8Array(ops.length);
  const cache = new Set<string>();
  const stack: { call: Event; state: string | null }[] = [];
  let state: string | null = null;
  let entry = head.next;
  let steps = 0;
  while (head.next !== null) {
    if (++steps > maxSteps) return { ok: false, unknown: true };
    if (entry === null) return { ok: false };
    if (entry.isCall) {
      const [ok, next] = step(state, entry.op);
      if (ok) {
        linearized[entry.index] = 1;
        const key = linearizedKey(linearized) + "|" + next;
        if (!cache.has(key)) {
          cache.add(key);
          stack.push({ call: entry, state });
          state = next;
          lift(entry);
          entry = head.next;
          continue;
        }
        linearized[entry.index] = 0;
      }
      entry = entry.next;
    } else {
      // A return reached before its call was linearized: undo the last choice.
      const top = stack.pop();
      if (!top) return { ok: false };
      state = top.state;
      linearized[top.call.index] = 0;
      unlift(top.call);
      entry = top.call.next;
    }
  }
  return { ok: true };
}

function linearizedKey(bits: Uint8Array): string {
  let key = "";
  let word = 0;
  for (let i = 0; i < bits.length; i++) {
    word = (word << 1) | bits[i];
    if ((i & 15) === 15) {
      key += String.fromCharCode(word);
      word = 0;
    }
  }
  return key + String.fromCharCode(word);
}

/**
 * Checks a whole history, key by key.
 *
 * @example
 * ```ts
 * checkHistory([
 *   { id: 1, kind: "put", key: "x", input: "1", callMs: 0, returnMs: 5 },
 *   { id: 2, kind: "get", key: "x", output: "1", callMs: 6, returnMs: 8 },
 * ]).ok; // true
 * ```
 */
export function checkHistory(ops: Operation[]): CheckResult {
  const byKey = new Map<string, Operation[]>();
  for (const op of ops) {
    const list = byKey.get(op.key) ?? [];
    list.push(op);
    byKey.set(op.key, list);
  }
  let unknown = false;
  for (const [key, list] of byKey) {
    const result = checkRegister(list);
    if (result.unknown) unknown = true;
    else if (!result.ok) return { ok: false, key };
  }
  return unknown ? { ok: true, unknown } : { ok: true };
}
