/**
 * The composition root: config -> keyspace -> command table -> servers. `startNode` returns a
 * running node and `stop` shuts it down cleanly.
 *
 * @module
 */
import { join } from "./persistence/manifest.ts";
import { Dispatcher, type DispatchOutputs } from "./commands/dispatch.ts";
import { type CommandTable, createCommandTable } from "./commands/table.ts";
import {
  type ClientState,
  commandKeys,
  type CommandSpec,
  type ServerHooks,
  specFor,
} from "./commands/types.ts";
import type { NodeConfig } from "./config/config.ts";
import {
  ACTIVE_EXPIRE_INTERVAL_MS,
  effectiveMaxBulkBytes,
  MAX_PENDING_NEW_EVENTS,
} from "./constants.ts";
import { Keyspace } from "./keyspace/keyspace.ts";
import type { Store } from "./keyspace/store.ts";
import type { Runtime } from "./runtime/types.ts";
import { Client, RespServer } from "./server/server.ts";
import { ClientTracking } from "./server/tracking.ts";
import { KeyspaceNotifier, PubSub } from "./commands/pubsub.ts";
import { keyspaceEvents } from "./commands/events.ts";
import { streamRecords } from "./commands/stream.ts";
import { createHttpApp } from "./http/app.ts";
import type { HttpServer } from "./runtime/types.ts";
import { Persistence } from "./persistence/persistence.ts";
import { Auth } from "./server/auth.ts";
import { liveConfig } from "./config/live.ts";
import type { Durability } from "./server/server.ts";
import { infoText } from "./server/info.ts";
import { listening } from "./server/listen.ts";
import { ClusterControl } from "./cluster/control.ts";
import { latin1, type MigratingKey, migratingKey } from "./cluster/migration.ts";
import { restoreContainer } from "./keyspace/values.ts";
import { CLUSTERDOWN } from "./cluster/router.ts";
import { HERE, type Route, type Router } from "./commands/routing.ts";
import { HttpExecutor } from "./http/executor.ts";
import { ScriptEngine } from "./scripting/engine.ts";
import { ReplyWriter } from "./resp/writer.ts";

/** A running node. */
export interface HyperCacheNode {
  readonly config: NodeConfig;
  readonly keyspace: Keyspace;
  readonly dispatcher: Dispatcher;
  readonly resp: RespServer;
  /** The HTTP API server, when enabled. */
  readonly http: HttpServer | null;
  /** The AOF and snapshots, when `appendonly` is on. */
  readonly persistence: Persistence | null;
  /** The cluster control plane, when `cluster.enabled` is on. */
  readonly cluster: ClusterControl | null;
  /** Stops accepting, answers what is in flight, closes. */
  stop(): Promise<void>;
}

/** Reads the TLS certificate and key named in the config. */
async function readTls(
  runtime: Runtime,
  config: NodeConfig,
): Promise<{ certPem: string; keyPem: string }> {
  const read = async (path: string, what: string) => {
    const bytes = await runtime.fs.readFile(path);
    if (bytes === null) throw new Error(`tls.${what}: ${path} does not exist`);
    return new TextDecoder().decode(bytes);
  };
  return {
    certPem: await read(config.tls.certFile, "cert_file"),
    keyPem: await read(config.tls.keyFile, "key_file"),
  };
}

/** A node's parts, assembled and wired, before anything listens. */
export interface NodeParts {
  readonly config: NodeConfig;
  readonly runtime: Runtime;
  readonly startedMs: number;
  readonly keyspace: Keyspace;
  readonly dispatcher: Dispatcher;
  /** The RESP server, not yet listening (`resp.start()` opens its port). */
  readonly resp: RespServer;
  /** The AOF and snapshots, recovered, when `appendonly` is on. */
  readonly persistence: Persistence | null;
  /** Under `appendfsync always`: how replies wait until their writes are durable. */
  readonly durability: Durability | undefined;
  /** The routing step of a cluster node (its target is set once the control plane starts). */
  readonly router: LateRouter | null;
}

const DOWN: Route = { kind: "redirect", error: CLUSTERDOWN };

/**
 * A cluster node's router before its control plane runs (it needs the ports the listeners got):
 * keyless commands run here, keyed ones answer `-CLUSTERDOWN`.
 */
export class LateRouter implements Router {
  target: Router | undefined;
  route(
    spec: CommandSpec,
    argv: readonly string[],
    keys: readonly string[] | null,
    client: ClientState,
  ): Route {
    if (this.target !== undefined) return this.target.route(spec, argv, keys, client);
    return keys === null || keys.length === 0 ? HERE : DOWN;
  }
  routeKey(spec: CommandSpec, key: string, client: ClientState): Route {
    return this.target === undefined ? DOWN : this.target.routeKey(spec, key, client);
  }
  forward(...args: Parameters<NonNullable<Router["forward"]>>): void {
    this.target!.forward!(...args);
  }
  forwardTransaction(...args: Parameters<NonNullable<Router["forwardTransaction"]>>): void {
    this.target!.forwardTransaction!(...args);
  }
}

/** Read-only commands whose keys client-side caching does not remember (Redis 7.0's). */
const UNTRACKED_READS = new Set(["eval_ro", "evalsha_ro", "fcall_ro"]);

/** Where a node with persistence keeps its function libraries (FUNCTION LOAD). */
const FUNCTIONS_FILE = "functions.json";

/**
 * The Lua engine over the dispatcher: a script's commands run as its caller's, one by one. With
 * persistence on, function libraries live in `data_dir/functions.json`, written whole (atomically)
 * on every change and loaded at start; a file that cannot be loaded stops the start, naming it.
 */
async function openScripting(
  dispatcher: Dispatcher,
  table: CommandTable,
  runtime: Runtime,
  config: NodeConfig,
): Promise<ScriptEngine> {
  const out = new ReplyWriter();
  const levels = ["debug", "verbose", "notice", "warning"];
  const path = join(config.dataDir, FUNCTIONS_FILE);
  const persist = config.persistence.appendonly;
  // Changes are written in order, one at a time.
  let writing: Promise<void> = Promise.resolve();
  const engine = await ScriptEngine.open({
    run: (client, argv) => {
      dispatcher.execute(client, out, argv);
      return out.cut(0);
    },
    flags: (name) => table.lookup(name)?.flags,
    beginAtomic: () => dispatcher.beginAtomic(),
    endAtomic: (top) => dispatcher.endAtomic(top),
    suspend: (client) => dispatcher.server.suspend?.(client) ?? client.defer?.(),
    setBusy: (busy, kind = "script") => (dispatcher.scriptBusy = busy ? kind : false),
    later: (task) => runtime.timers.setTimeout(task, 0),
    log: (level, message) => console.log(`hypercache: script ${levels[level]}: ${message}`),
    nowMs: () => runtime.clock.monotonicMs(),
    busyThresholdMs: () => config.limits.busyReplyThresholdMs,
    librariesChanged: persist
      ? (codes) => {
        const bytes = new TextEncoder().encode(JSON.stringify(codes));
        writing = writing.then(async () => {
          await runtime.fs.mkdirp(config.dataDir);
          await runtime.fs.writeFileAtomic(path, bytes);
        }).catch((error) => {
          console.error(`hypercache: cannot write ${path}: ${(error as Error).message}`);
        });
        return writing;
      }
      : undefined,
  });
  const saved = persist ? await runtime.fs.readFile(path) : null;
  if (saved !== null) {
    try {
      const codes = JSON.parse(new TextDecoder().decode(saved));
      if (!Array.isArray(codes) || !codes.every((code) => typeof code === "string")) {
        throw new Error("not a list of library codes");
      }
      engine.restoreSaved(codes);
    } catch (error) {
      throw new Error(
        `${path}: the function libraries cannot be loaded (${
          (error as Error).message
        }); the node does not start rather than lose them. Move the file away to start without them.`,
      );
    }
  }
  return engine;
}

export interface AssembleOptions {
  /** Another command table (tests add commands of their own). */
  table?: CommandTable;
}

/**
 * Builds every part of a node from its config and a runtime, and wires them, without opening a
 * port: the keyspace, the command table and dispatcher with its outputs, persistence (recovered
 * through the runtime's files), and the RESP server. `startNode` adds the listeners and timers;
 * tests and in-process clusters drive the parts directly.
 */
export async function assembleNode(
  config: NodeConfig,
  runtime: Runtime,
  options: AssembleOptions = {},
): Promise<NodeParts> {
  const startedMs = runtime.clock.realtimeMs();
  const keyspace = new Keyspace(config.stores, runtime.clock);
  const table = options.table ?? createCommandTable();
  // Set once the RESP server exists (after AOF replay).
  const late: { server?: RespServer } = {};
  const hooks: ServerHooks = {
    info: (sections: string[], _client: ClientState) =>
      infoText(
        { config, keyspace, dispatcher, resp: late.server!, persistence, auth: hooks.auth },
        runtime,
        startedMs,
        sections,
      ),
  };
  const auth = new Auth(config.requirePass, config.users);
  hooks.auth = auth;
  hooks.clientIds = () => [...resp.clients.keys()];
  hooks.clientInfo = (id) => resp.clientInfo(id);
  hooks.killClients = (filter) => resp.kill(filter);
  const hub = new PubSub();
  const notifier = new KeyspaceNotifier(hub);
  // Keys the running command created, for their `new` events (sent with the command's own, in
  // Redis's order); past a bound they go out at once (a slot import adds keys with no command).
  const created: [db: number, key: string][] = [];
  const flushCreated = () => {
    for (const [db, key] of created) notifier.notify("n", "new", db, key);
    created.length = 0;
  };
  const onCreated = (store: Store, key: string) => {
    created.push([store.index, key]);
    if (created.length >= MAX_PENDING_NEW_EVENTS) flushCreated();
  };
  hooks.pubsub = {
    hub,
    subscriber: (client) => (client instanceof Client ? client : undefined),
    changed: (client, count) => (client.subscriptions = count),
  };
  hooks.purgeMemory = () => runtime.collectGarbage();
  hooks.enableDebugCommand = config.enableDebugCommand;
  // DEBUG SLEEP stops the whole node, as Redis's stops its server: nothing else runs meanwhile.
  hooks.sleep = (ms) => {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  };
  hooks.maxStringBytes = effectiveMaxBulkBytes(config.limits.maxBulkBytes);
  hooks.block = (client, keys, timeoutMs, argv) => resp.block(client, keys, timeoutMs, argv);
  hooks.suspend = (client) => resp.suspend(client);
  // No client can wait on a key before the server exists (AOF replay runs before it).
  hooks.keyReady = (store, key) => late.server?.keyReady(store.index, key);
  hooks.blockedKeys = (db) => late.server?.blockedKeys(db) ?? [];
  // Client-side caching: key changes reach the table through the stores' signals and reads
  // through the dispatcher, only while a client tracks keys (or the table still holds some).
  const tracking = new ClientTracking({
    peer: (id) => late.server?.clients.get(id),
    push: (peer, text) => late.server?.push(peer as Client, text),
    schedule: () => queueMicrotask(() => tracking.broadcast()),
  });
  hooks.tracking = tracking;
  const invalidate = (key: string, byServer: boolean) => tracking.invalidate(key, byServer);
  const remember = (client: ClientState, spec: CommandSpec, argv: string[]) => {
    if (tracking.tracker(client.id) === undefined) return;
    const governing = specFor(spec, argv);
    // Redis leaves out the read-only scripts' keys, and shard channels (not keys).
    if (
      !governing.flags.includes("readonly") || governing.flags.includes("pubsub") ||
      UNTRACKED_READS.has(governing.name)
    ) return;
    tracking.remember(client.id, commandKeys(governing, argv));
  };
  tracking.onWatchingChanged = (watching) => {
    for (const store of keyspace.stores) store.onSignal = watching ? invalidate : null;
    dispatcher.tracked = watching ? remember : null;
  };
  hooks.resetClient = (client) => {
    if (!(client instanceof Client)) return;
    hub.drop(client);
    client.subscriptions = 0;
  };
  // The dispatcher's outputs: fixed here, they reach persistence once it is open.
  let persistence: Persistence | null = null;
  const persisted = keyspace.stores.map((store) => store.options.persist);
  const outputs: DispatchOutputs = {
    propagate: (db, argv) => {
      if (persisted[db]) persistence?.append(db, argv);
    },
    written: (db, spec, argv, record) => {
      // Client-side caching: FLUSHALL and FLUSHDB invalidate everything, with a null.
      if (spec.name === "flushall" || spec.name === "flushdb") tracking.flushed();
      if (!notifier.enabled) return;
      const store = keyspace.stores[db];
      const exists = (key: string) => store.lookup(key, false) !== undefined;
      const events = keyspaceEvents(spec, argv, exists, record);
      if (created.length > 0 && spec.events?.perKey === true) {
        for (const [eventClass, event, key] of events) {
          const at = created.findIndex(([c, k]) => c === db && k === key);
          if (at !== -1) notifier.notify("n", "new", db, created.splice(at, 1)[0][1]);
          notifier.notify(eventClass, event, db, key);
        }
        return flushCreated();
      }
      flushCreated();
      for (const [eventClass, event, key, at] of events) {
        notifier.notify(eventClass, event, at ?? db, key);
      }
    },
    writeGate: () => {
      const error = persistence?.aof.error ?? null;
      return error === null
        ? null
        : `MISCONF Errors writing to the AOF file: ${error}. Write commands are refused until it works again.`;
    },
  };
  const router = config.cluster.enabled ? new LateRouter() : null;
  const dispatcher = new Dispatcher(table, keyspace, hooks, outputs, router);
  hooks.scripting = await openScripting(dispatcher, table, runtime, config);
  persistence = config.persistence.appendonly
    ? await Persistence.open(runtime, keyspace, dispatcher, {
      dataDir: config.dataDir,
      snapshotHeld: () => dispatcher.scriptBusy !== false,
      appendfsync: config.persistence.appendfsync,
      snapshotEveryWrites: config.persistence.snapshotEveryWrites,
      snapshotIntervalMs: config.persistence.snapshotIntervalMs,
      autoRewritePercentage: config.persistence.autoRewritePercentage,
      autoRewriteMinBytes: config.persistence.autoRewriteMinBytes,
      truncateCorrupt: config.persistence.aofLoadTruncated,
    })
    : null;
  if (persistence !== null) hooks.persistence = persistence;
  let durability: Durability | undefined;
  if (persistence !== null) {
    const open = persistence;
    for (const warning of open.report.warnings) console.warn(`hypercache: ${warning}`);
    const { keysLoaded, commandsReplayed, timeMs } = open.report;
    console.log(
      `hypercache: loaded ${keysLoaded} keys (${commandsReplayed} AOF commands) in ${timeMs} ms`,
    );
    for (const store of keyspace.stores) {
      if (!store.options.persist) continue;
      store.onRemoved = (s, key, cause) => {
        open.append(s.index, ["DEL", key]);
        notifier.notify(cause === "expired" ? "x" : "e", cause, s.index, key);
      };
    }
    if (config.persistence.appendfsync === "always") {
      durability = {
        mark: () => open.aof.sequence,
        waitSince: (mark) => open.aof.sequence === mark ? null : open.aof.waitDurable(),
      };
    }
  }
  const resp = new RespServer(runtime, dispatcher, {
    hostname: config.bind,
    port: config.port,
    maxClients: config.maxClients,
    ...config.limits,
    maxBulkBytes: effectiveMaxBulkBytes(config.limits.maxBulkBytes),
    requireAuth: auth.required,
    tls: config.tls.enabled ? await readTls(runtime, config) : undefined,
    tlsPort: config.tls.port,
    durability,
  });
  resp.pubsub = hub;
  resp.tracking = tracking;
  late.server = resp;
  for (const store of keyspace.stores) {
    store.onRemoved ??= (s, key, cause) =>
      notifier.notify(cause === "expired" ? "x" : "e", cause, s.index, key);
  }
  hooks.config = liveConfig({
    config,
    keyspace,
    tracking,
    setMaxClients: (count) => resp.setMaxClients(count),
    setRequirePass: (password) => {
      hooks.auth = new Auth(password, config.users);
      resp.setRequireAuth(hooks.auth.required);
    },
    resetStats: () => {
      dispatcher.stats.commandsProcessed = 0;
      dispatcher.stats.errorReplies = 0;
      for (const counters of dispatcher.stats.perCommand.values()) {
        counters.calls = 0;
        counters.errors = 0;
        counters.rejected = 0;
      }
      for (const store of keyspace.stores) {
        Object.assign(store.stats, {
          hits: 0,
          misses: 0,
          evictions: 0,
          expirations: 0,
          filterNegatives: 0,
        });
      }
    },
    appendonly: config.persistence.appendonly,
    appendfsync: config.persistence.appendfsync,
    setNotifyKeyspaceEvents: (flags) => {
      notifier.configure(flags);
      for (const store of keyspace.stores) store.onCreated = notifier.wantsNew ? onCreated : null;
    },
  });
  return {
    config,
    runtime,
    startedMs,
    keyspace,
    dispatcher,
    resp,
    persistence,
    durability,
    router,
  };
}

/** How a started node hands on what only its process can do. */
export interface StartOptions {
  /**
   * Called by SHUTDOWN once it has saved what it was asked to: `main.ts` stops the node and
   * exits with status 0, as on SIGTERM. Without one, SHUTDOWN stops the node.
   */
  onShutdown?: () => void;
}

/** Assembles a node and starts serving: the RESP (and TLS) port, the HTTP API, active expiry. */
export async function startNode(
  config: NodeConfig,
  runtime: Runtime,
  options: StartOptions = {},
): Promise<HyperCacheNode> {
  const parts = await assembleNode(config, runtime);
  const { keyspace, dispatcher, resp, persistence, durability, startedMs } = parts;
  await resp.start();
  // A node started on port 0 is known by the port it got.
  if (config.port === 0 && config.nodeId === `${config.bind}:0`) {
    config.nodeId = `${config.bind}:${resp.port}`;
  }
  let http: HttpServer | null = null;
  if (config.http.enabled) {
    const app = createHttpApp({ config, dispatcher, runtime, startedMs, persistence, durability });
    try {
      http = await listening(
        config.bind,
        config.http.port,
        () =>
          runtime.serveHttp({
            hostname: config.bind,
            port: config.http.port,
            maxBodyBytes: config.http.maxBodyBytes,
            fetch: app.fetch,
          }),
      );
    } catch (error) {
      await resp.stop();
      throw error;
    }
  }
  let cluster: ClusterControl | null = null;
  if (parts.router !== null) {
    try {
      cluster = await startCluster(parts, resp.port, http?.port ?? 0);
    } catch (error) {
      await resp.stop();
      await http?.close();
      throw error;
    }
  }
  // A suspended script is atomic: no key expires under it.
  const expiry = setInterval(() => {
    if (dispatcher.scriptBusy === false) keyspace.activeExpireCycle();
    // Redis's cron also brings the client-side caching table back under its bound.
    dispatcher.server.tracking?.limit();
  }, ACTIVE_EXPIRE_INTERVAL_MS);
  const node: HyperCacheNode = {
    config,
    keyspace,
    dispatcher,
    resp,
    http,
    persistence,
    cluster,
    async stop() {
      clearInterval(expiry);
      await cluster?.stop();
      await resp.stop();
      await http?.close();
      await persistence?.close();
    },
  };
  // After the SHUTDOWN's own connection has closed (the rest of its batch is not run).
  dispatcher.server.shutdown = () =>
    queueMicrotask(() => {
      if (options.onShutdown !== undefined) options.onShutdown();
      else void node.stop();
    });
  return node;
}

/** Starts the cluster control plane of an assembled node whose listeners have their ports. */
async function startCluster(
  parts: NodeParts,
  port: number,
  httpPort: number,
): Promise<ClusterControl> {
  const { config, runtime, keyspace, dispatcher, persistence, durability } = parts;
  const stores = keyspace.stores;
  const control = await ClusterControl.start(config, runtime, {
    executor: new HttpExecutor(dispatcher, () => runtime.clock.realtimeMs(), durability),
    hasKeysIn: (slot) => stores.some((store) => store.countKeysInSlot(slot) > 0),
    dropSlot: (slot) =>
      stores.reduce(
        (sum, store) =>
          sum + store.deleteSlot(slot, (key) => {
            if (store.options.persist) persistence?.append(store.index, ["DEL", key]);
          }),
        0,
      ),
    exists: (db, key) => stores[db]?.lookup(key, false) !== undefined,
    deliver: (channel, message, shard) => {
      const hub = dispatcher.server.pubsub?.hub;
      if (shard) hub?.spublish(channel, message);
      else hub?.publish(channel, message);
    },
    stores: {
      held: () => dispatcher.scriptBusy !== false,
      take: (slot, count) => {
        const keys: MigratingKey[] = [];
        for (const store of stores) {
          if (keys.length >= count) break;
          // Expired keys are collected here rather than sent.
          store.expireSlot(slot);
          const taken = store.slotEntries(slot, count - keys.length).map((entry) => {
            const value = entry.value;
            return typeof value === "string"
              ? migratingKey(store.index, entry.key, entry.expiresAtMs, "string", [value])
              : migratingKey(store.index, entry.key, entry.expiresAtMs, value.type, value.dump());
          });
          // Removed in the same step they are taken: each key lives on one node at a time.
          for (const [, keyBytes] of taken) {
            const key = latin1(keyBytes);
            store.delete(key);
            if (store.options.persist) persistence?.append(store.index, ["DEL", key]);
          }
          keys.push(...taken);
        }
        return keys;
      },
      put: (keys) => {
        for (const [db, keyBytes, expiresAtMs, type, elements] of keys) {
          const store = stores[db];
          if (store === undefined) continue;
          const key = latin1(keyBytes);
          const values = elements.map(latin1);
          store.delete(key);
          store.restore(
            key,
            type === "string" ? values[0] : restoreContainer(type, values),
            expiresAtMs,
          );
          if (!store.options.persist || persistence === null) continue;
          for (const argv of recreate(key, type, values, expiresAtMs)) {
            persistence.append(db, argv);
          }
        }
      },
    },
    log: (line) => console.log(`hypercache: ${line}`),
  }, { port, httpPort });
  parts.router!.target = control.router;
  dispatcher.server.cluster = control;
  return control;
}

/** The commands that recreate a key received from another node, for the AOF. */
function recreate(
  key: string,
  type: string,
  values: string[],
  expiresAtMs: number,
): string[][] {
  const records: string[][] = [];
  if (type === "string") {
    records.push(["SET", key, values[0]]);
  } else if (type === "stream") {
    records.push(["DEL", key], ...streamRecords(key, values));
  } else {
    records.push(["DEL", key]);
    const add = { list: "RPUSH", hash: "HSET", set: "SADD", zset: "ZADD" }[type];
    if (add === undefined) throw new TypeError(`Cannot log a received key of type '${type}'`);
    const args = type === "zset" ? pairsSwapped(values) : values;
    // Long containers go in several records, each well under the AOF's argument limit.
    const step = type === "hash" || type === "zset" ? 1024 : 512;
    for (let i = 0; i < args.length; i += step) {
      records.push([add, key, ...args.slice(i, i + step)]);
    }
  }
  if (expiresAtMs !== 0) records.push(["PEXPIREAT", key, String(expiresAtMs)]);
  return records;
}

/** `[member, score, ...]` (a sorted set's dump) as ZADD's `[score, member, ...]`. */
function pairsSwapped(values: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < values.length; i += 2) out.push(values[i + 1], values[i]);
  return out;
}
