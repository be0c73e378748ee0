/**
 * An in-process node for persistence tests: the parts `assembleNode` builds (keyspace, command
 * table, dispatcher, `Persistence` on a real data directory), nothing listening, with a clock
 * the test moves and a file system the test may wrap to inject faults.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Dispatcher } from "../../src/commands/dispatch.ts";
import { type ClientState, internalClient } from "../../src/commands/types.ts";
import { buildConfig } from "../../src/config/config.ts";
import type { Keyspace } from "../../src/keyspace/keyspace.ts";
import type { Persistence, PersistenceOptions } from "../../src/persistence/persistence.ts";
import { assembleNode } from "../../src/node.ts";
import { ReplyWriter } from "../../src/resp/writer.ts";
import { nodeFileSystem } from "../../src/runtime/node_fs.ts";
import type { Clock, FileSystem, Runtime } from "../../src/runtime/types.ts";

/** A clock that only moves when told. */
export class FakeClock implements Clock {
  constructor(public nowMs = 1_700_000_000_000) {}
  monotonicMs(): number {
    return this.nowMs;
  }
  realtimeMs(): number {
    return this.nowMs;
  }
}

export interface TestNode {
  keyspace: Keyspace;
  dispatcher: Dispatcher;
  persistence: Persistence;
  /** Runs a command as an admin client of store `db`; returns the RESP reply as text. */
  run(...argv: string[]): string;
  close(): Promise<void>;
}

export interface OpenOptions {
  clock?: FakeClock;
  fs?: FileSystem;
  /** Raw YAML-shaped config (stores, persistence) as `buildConfig` takes it. */
  config?: Record<string, unknown>;
  persistence?: Partial<PersistenceOptions>;
}

export async function tempDir(): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), "hc-persist-"));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** Opens (recovers) a node on `dataDir`: assembled by `assembleNode`, as `src/node.ts` starts
 * one, with the AOF on (`appendfsync always`), no automatic snapshot, and nothing listening. */
export async function openNode(dataDir: string, options: OpenOptions = {}): Promise<TestNode> {
  const clock = options.clock ?? new FakeClock();
  const raw = options.config ?? {};
  const config = buildConfig({
    ...raw,
    data_dir: dataDir,
    persistence: {
      appendonly: "yes",
      appendfsync: "always",
      snapshot_every_writes: 0,
      snapshot_interval: 0,
      auto_rewrite_min_size: 2 ** 40,
      aof_load_truncated: options.persistence?.truncateCorrupt ? "yes" : "no",
      ...(raw.persistence as Record<string, unknown> | undefined),
    },
  });
  const runtime = { fs: options.fs ?? nodeFileSystem, clock } as unknown as Runtime;
  const { keyspace, dispatcher, persistence } = await assembleNode(config, runtime);
  const client: ClientState = internalClient({ id: 1, remoteAddress: "test" });
  const out = new ReplyWriter();
  return {
    keyspace,
    dispatcher,
    persistence: persistence!,
    run(...argv) {
      dispatcher.execute(client, out, argv);
      return new TextDecoder("latin1").decode(out.take());
    },
    close: () => persistence!.close(),
  };
}

/** Every key of every store as plain data: type, value (containers dumped, sorted), expiry. */
export function dumpData(keyspace: Keyspace): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  for (const store of keyspace.stores) {
    for (const entry of store.entries) {
      const value = typeof entry.value === "string"
        ? entry.value
        : { type: entry.value.type, elements: entry.value.dump() };
      data[`${store.index}/${entry.key}`] = { value, expiresAtMs: entry.expiresAtMs };
    }
  }
  return Object.fromEntries(Object.entries(data).sort(([a], [b]) => a < b ? -1 : 1));
}
