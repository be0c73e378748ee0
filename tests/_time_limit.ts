/**
 * A time limit for a test file that drives real processes. Deno's `node:test` ignores the
 * `timeout` option, so a hung server or client would hang the whole run: here every hook and step
 * races the file's deadline, and when it passes the step fails naming the file and the step it was
 * in, and every process registered with {@link onTimeLimit} is killed, so that whatever the step
 * was waiting on ends too.
 *
 * ```ts
 * const { describe, it, before, after } = timeLimited(import.meta.url, 120_000);
 * ```
 */
import * as nodeTest from "node:test";
import { setTimeout } from "node:timers";
import { basename } from "node:path";
import process from "node:process";

// deno-lint-ignore no-explicit-any
type Fn = (context: any) => unknown;
type Options = { skip?: boolean | string };

const kills = new Set<() => void>();

/** Registers what to kill when the file's time runs out; returns the function that unregisters. */
export function onTimeLimit(kill: () => void): () => void {
  kills.add(kill);
  return () => kills.delete(kill);
}

export interface TimeLimited {
  describe(name: string, fn: () => void): void;
  describe(name: string, options: Options, fn: () => void): void;
  it(name: string, fn: Fn): void;
  it(name: string, options: Options, fn: Fn): void;
  before(fn: Fn): void;
  after(fn: Fn): void;
  beforeEach(fn: Fn): void;
  afterEach(fn: Fn): void;
}

/**
 * `describe`/`it`/hooks of `node:test` under one deadline for the file, `limitMs` after its first
 * hook or step starts (`HYPERCACHE_FILE_LIMIT_SCALE` multiplies every limit, for slow machines).
 */
export function timeLimited(fileUrl: string, limitMs: number): TimeLimited {
  const file = basename(new URL(fileUrl).pathname);
  const limit = limitMs * Number(process.env.HYPERCACHE_FILE_LIMIT_SCALE ?? 1);
  const path: string[] = [];
  let current = "(not started)";
  let deadline: Promise<never> | undefined;

  function expiry(): Promise<never> {
    deadline ??= new Promise<never>((_, reject) => {
      setTimeout(() => {
        for (const kill of kills) kill();
        reject(
          new Error(`${file}: time limit of ${limit / 1000} s passed in step "${current}"`),
        );
      }, limit).unref();
    });
    deadline.catch(() => {}); // Seen by the racing step; between steps, by the next one.
    return deadline;
  }

  // deno-lint-ignore no-explicit-any
  function guarded(step: string, fn: Fn): (context: any) => Promise<void> {
    return async (context) => {
      current = step;
      await Promise.race([Promise.resolve(context).then(fn), expiry()]);
    };
  }

  const named = (name: string) => [...path, name].join(" > ");
  const split = <F>(a: Options | F, b?: F): [Options, F] =>
    b === undefined ? [{}, a as F] : [a as Options, b];

  return {
    describe(name: string, a: Options | (() => void), b?: () => void) {
      const [options, fn] = split(a, b);
      nodeTest.describe(name, options, () => {
        path.push(name);
        try {
          fn();
        } finally {
          path.pop();
        }
      });
    },
    it(name: string, a: Options | Fn, b?: Fn) {
      const [options, fn] = split(a, b);
      nodeTest.it(name, options, guarded(named(name), fn));
    },
    before: (fn: Fn) => nodeTest.before(guarded(named("before"), fn)),
    after: (fn: Fn) => nodeTest.after(guarded(named("after"), fn)),
    beforeEach: (fn: Fn) => nodeTest.beforeEach(guarded(named("beforeEach"), fn)),
    afterEach: (fn: Fn) => nodeTest.afterEach(guarded(named("afterEach"), fn)),
  } as TimeLimited;
}
