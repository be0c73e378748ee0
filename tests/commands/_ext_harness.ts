/**
 * Drives the `Dispatcher` directly for the command family tests: a keyspace on a fake clock,
 * the real command table, one client, and the raw RESP bytes of every reply.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { Dispatcher } from "../../src/commands/dispatch.ts";
import { createCommandTable } from "../../src/commands/table.ts";
import { type ClientState, internalClient, type ServerHooks } from "../../src/commands/types.ts";
import { Keyspace } from "../../src/keyspace/keyspace.ts";
import type { EvictionPolicy, Store } from "../../src/keyspace/store.ts";
import { ReplyWriter } from "../../src/resp/writer.ts";

export interface Harness {
  /** Runs one command; returns its reply as latin1 text. */
  run(...argv: string[]): string;
  /** What each changing write logged for the AOF, as `db argv...`. */
  readonly propagated: string[][];
  /** Keys passed to `keyReady`. */
  readonly ready: string[];
  readonly keyspace: Keyspace;
  readonly client: ClientState;
  store(index?: number): Store;
  /** Moves the fake clock forward. */
  advance(ms: number): void;
}

export interface HarnessOptions {
  policy?: EvictionPolicy;
  stores?: number;
  defaultTtlMs?: number;
  /** More server hooks (`enableDebugCommand`, ...). */
  hooks?: Partial<ServerHooks>;
}

/** Fake clock start: 2024-01-01T00:00:00Z, so absolute times in tests are readable. */
export const START_MS = 1_704_067_200_000;

export function harness(options: HarnessOptions = {}): Harness {
  let nowMs = START_MS;
  const clock = { monotonicMs: () => nowMs - START_MS, realtimeMs: () => nowMs };
  const stores = Array.from({ length: options.stores ?? 2 }, (_, index) => ({
    name: index === 0 ? "default" : `db${index}`,
    maxMemoryBytes: 0,
    evictionPolicy: options.policy ?? "noeviction",
    defaultTtlMs: options.defaultTtlMs ?? 0,
  }));
  const keyspace = new Keyspace(stores, clock);
  const ready: string[] = [];
  const hooks: ServerHooks = {
    info: () => "",
    keyReady: (_store, key) => ready.push(key),
    ...options.hooks,
  };
  const propagated: string[][] = [];
  const dispatcher = new Dispatcher(createCommandTable(), keyspace, hooks, {
    propagate: (db, argv) => propagated.push([String(db), ...argv]),
  });
  const client: ClientState = internalClient({
    id: 1,
    createdMs: nowMs,
    remoteAddress: "127.0.0.1:5000",
  });
  const out = new ReplyWriter();
  return {
    run(...argv: string[]): string {
      dispatcher.execute(client, out, argv);
      return Buffer.from(out.take()).toString("latin1");
    },
    propagated,
    ready,
    keyspace,
    client,
    store: (index = 0) => keyspace.store(index),
    advance(ms: number) {
      nowMs += ms;
    },
  };
}

/** RESP2 helpers for expected replies. */
export const bulk = (value: string | null): string =>
  value === null ? "$-1\r\n" : `$${value.length}\r\n${value}\r\n`;
export const int = (value: number | bigint | string): string => `:${value}\r\n`;
export const err = (text: string): string => `-${text}\r\n`;
export const OK = "+OK\r\n";
export const arr = (...items: string[]): string => `*${items.length}\r\n${items.join("")}`;
export const bulks = (...values: (string | null)[]): string => arr(...values.map(bulk));
export const WRONGTYPE = err("WRONGTYPE Operation against a key holding the wrong kind of value");
export const NOT_INTEGER = err("ERR value is not an integer or out of range");
export const arity = (name: string): string =>
  err(`ERR wrong number of arguments for '${name}' command`);

/** Arguments split at spaces; `''` is an empty one, `\xNN` a byte; a line starting `[` is JSON. */
export const argvOf = (line: string): string[] =>
  line.startsWith("[")
    ? JSON.parse(line)
    : line.split(" ").map((arg) =>
      arg === "''"
        ? ""
        : arg.replace(/\\x([0-9a-f]{2})/gi, (_, hex) => String.fromCharCode(parseInt(hex, 16)))
    );

/**
 * One test per case and protocol (RESP2, RESP3): each line runs on a harness and on the
 * reference redis-server from empty data, and their raw replies must be equal.
 */
export function compareCases(
  it: (name: string, fn: (t: { skip(reason: string): void }) => Promise<void>) => void,
  reference: () => { run(...argv: string[]): Promise<string> } | undefined,
  cases: Record<string, string[]>,
): void {
  for (const [name, lines] of Object.entries(cases)) {
    for (const protocol of ["2", "3"]) {
      it(`${name} (RESP${protocol})`, async (t) => {
        const redis = reference();
        if (redis === undefined) return t.skip("redis-server is not installed");
        await redis.run("FLUSHALL");
        await redis.run("HELLO", protocol);
        const ours = harness();
        ours.run("HELLO", protocol);
        try {
          for (const line of lines) {
            const argv = argvOf(line);
            assert.equal(
              JSON.stringify(ours.run(...argv)),
              JSON.stringify(await redis.run(...argv)),
              line,
            );
          }
        } finally {
          await redis.run("HELLO", "2");
        }
      });
    }
  }
}
