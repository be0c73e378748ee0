/**
 * Picks the adapter for the runtime this process runs on. Called once, at start-up; everything
 * else receives the `Runtime` it returns.
 *
 * @module
 */
import type { Runtime } from "./types.ts";

export type * from "./types.ts";

let cached: Promise<Runtime> | undefined;

/** The adapter for the current runtime: Deno or Bun. */
export function currentRuntime(): Promise<Runtime> {
  cached ??= load();
  return cached;
}

async function load(): Promise<Runtime> {
  const globals = globalThis as { Bun?: unknown; Deno?: unknown };
  if (globals.Bun !== undefined) return (await import("./bun.ts")).bunRuntime;
  if (globals.Deno !== undefined) return (await import("./deno.ts")).denoRuntime;
  throw new Error("Cannot start HyperCache: this runtime is neither Deno nor Bun");
}
