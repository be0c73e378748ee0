/**
 * An in-process node for persistence tests: keyspace, command table, dispatcher and
 * `Persistence` on a real data directory, wired as `src/node.ts` wires them, with a clock the
 * test moves and a file system the test may wrap to inject faults.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Dispatcher } from "../../src/commands/dispatch.ts";
import { createCommandTable } from "../../src/commands/table.ts";
import { type ClientState, internalClient } from "../../src/commands/types.ts";
import { buildConfig } from "../../src/config/config.ts";
import { Keyspace } from "../../src/keyspace/keyspace.ts";
import { Persistence, type PersistenceOptions } from "../../src/persistence/persistence.ts";
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

/** Opens (recovers) a node on `dataDir`. */
export async function openNode(dataDir: string, options: OpenOptions = {}): Promise<TestNode> {
  const clock = options.clock ?? new FakeClock();
  const config = buildConfig(options.config ?? {});
  const keyspace = new Keyspace(config.stores, clock);
  // The dispatcher's outputs reach persistence once it is open, as in src/node.ts.
  const late: { persistence?: Persistence } = {};
  const persisted = keyspace.stores.map((store) => store.options.persist);
  const dispatcher = new Dispatcher(createCommandTable(), keyspace, {
    info: () => "",
  }, {
    propagate: (db, argv) => {
      if (persisted[db]) late.persistence?.append(db, argv);
    },
  });
  const runtime = { fs: options.fs ?? nodeFileSystem, clock } as unknown as Runtime;
  const persistence = await Persistence.open(runtime, keyspace, dispatcher, {
    dataDir,
    appendfsync: "always",
    snapshotEveryWrites: 0,
    snapshotIntervalMs: 0,
    autoRewritePercentage: 100,
    autoRewriteMinBytes: 2 ** 40,
    truncateCorrupt: false,
    ...options.persistence,
  });
  dispatcher.server.persistence = persistence;
  late.persistence = persistence;
  for (const store of keyspace.stores) {
    if (store.options.persist) {
      store.onRemoved = (s, key) => persistence.append(s.index, ["DEL", key]);
    }
  }
  const client: ClientState = internalClient({ id: 1, remoteAddress: "test" });
  const out = new ReplyWriter();
  return {
    keyspace,
    dispatcher,
    persistence,
    run(...argv) {
      dispatcher.execute(client, out, argv);
      return new TextDecoder("latin1").decode(out.take());
    },
    close: () => persistence.close(),
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
