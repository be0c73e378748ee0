/**
 * CONFIG GET and CONFIG SET: the node's settings under Redis's names, with the ones that can
 * change at run time applied at once.
 *
 * @module
 */
import { globMatch } from "../commands/glob.ts";
import type { ConfigHooks } from "../commands/types.ts";
import type { Keyspace } from "../keyspace/keyspace.ts";
import { EVICTION_POLICIES, type EvictionPolicy } from "../keyspace/store.ts";
import type { NodeConfig } from "./config.ts";
import { canonicalKeyspaceEvents } from "../commands/pubsub.ts";
import { encodingLimits } from "../keyspace/encoding.ts";

/** What a setting change may reach beyond the config object. */
export interface LiveTargets {
  config: NodeConfig;
  keyspace: Keyspace;
  setMaxClients(count: number): void;
  setRequirePass(password: string): void;
  resetStats(): void;
  setNotifyKeyspaceEvents(flags: string): void;
  /** Client-side caching's table (`tracking-table-max-keys`). */
  tracking?: { maxKeys: number };
  /** Whether AOF is on, and how it syncs (fixed at start). */
  appendonly: boolean;
  appendfsync: string;
}

interface Setting {
  get(): string;
  /** Applies a value; returns an error text, or null. Absent for read-only settings. */
  set?(value: string): string | null;
}

function parseMemory(value: string): number | null {
  const match = /^(\d+)(b|k|kb|m|mb|g|gb)?$/i.exec(value.trim());
  if (match === null) return null;
  const units: Record<string, number> = {
    b: 1,
    k: 1e3,
    kb: 1024,
    m: 1e6,
    mb: 1024 ** 2,
    g: 1e9,
    gb: 1024 ** 3,
  };
  return Number(match[1]) * units[(match[2] ?? "b").toLowerCase()];
}

const INT64_MAX = 2n ** 63n - 1n;
const INT32_MAX = 2n ** 31n - 1n;

/**
 * A numeric setting as Redis's numeric configs parse it: an integer (or, for `memory`, a size
 * with a unit) between `min` and `max`, with Redis's error texts.
 */
function numeric(
  read: () => number,
  write: (value: number) => void,
  min: bigint,
  max: bigint,
  memory = false,
): Setting {
  return {
    get: () => String(read()),
    set: (value) => {
      let parsed: bigint | null = null;
      if (memory) {
        const bytes = /^-?\d+$/.test(value) ? null : parseMemory(value);
        parsed = bytes !== null ? BigInt(bytes) : /^-?\d{1,19}$/.test(value) ? BigInt(value) : null;
        if (parsed === null || parsed < 0n) return "argument must be a memory value";
      } else {
        parsed = /^-?\d{1,19}$/.test(value) ? BigInt(value) : null;
        if (parsed === null || parsed > INT64_MAX || parsed < -INT64_MAX - 1n) {
          return "argument couldn't be parsed into an integer";
        }
      }
      if (parsed < min || parsed > max) {
        return `argument must be between ${min} and ${max} inclusive`;
      }
      write(Number(parsed));
      return null;
    },
  };
}

/** A setting kept only to be read back (the node has no such mechanism; see the README). */
function stored(initial: string, check: (value: string) => string | null = () => null): Setting {
  let current = initial;
  return {
    get: () => current,
    set: (value) => {
      const error = check(value);
      if (error === null) current = value;
      return error;
    },
  };
}

/** Redis's `save`: empty, or pairs of seconds and changes. */
function checkSave(value: string): string | null {
  const parts = value.trim() === "" ? [] : value.trim().split(/\s+/);
  if (parts.length % 2 !== 0 || parts.some((part) => !/^\d{1,18}$/.test(part))) {
    return "Invalid save parameters";
  }
  return null;
}

export function liveConfig(targets: LiveTargets): ConfigHooks {
  const { config, keyspace } = targets;
  const store0 = keyspace.store(0);
  let notifyKeyspaceEvents = "";
  // Redis keeps one value under both names (lua-time-limit is the old one).
  const hashEntries = numeric(
    () => encodingLimits.hashMaxListpackEntries,
    (n) => (encodingLimits.hashMaxListpackEntries = n),
    0n,
    INT64_MAX,
  );
  const hashValue = numeric(
    () => encodingLimits.hashMaxListpackValue,
    (n) => (encodingLimits.hashMaxListpackValue = n),
    0n,
    INT64_MAX,
    true,
  );
  const zsetEntries = numeric(
    () => encodingLimits.zsetMaxListpackEntries,
    (n) => (encodingLimits.zsetMaxListpackEntries = n),
    0n,
    INT64_MAX,
  );
  const zsetValue = numeric(
    () => encodingLimits.zsetMaxListpackValue,
    (n) => (encodingLimits.zsetMaxListpackValue = n),
    0n,
    INT64_MAX,
    true,
  );
  let listSize_ = -2;
  const listSize = numeric(() => listSize_, (n) => (listSize_ = n), -(2n ** 31n), INT32_MAX);
  let listCompressDepth = 0;
  let streamNodeBytes = 4096;
  let streamNodeEntries = 100;
  let hllSparseBytes = 3000;
  const busyReplyThreshold: Setting = {
    get: () => String(config.limits.busyReplyThresholdMs),
    set: (value) => {
      if (!/^\d{1,15}$/.test(value)) {
        return "argument must be between 0 and 9223372036854775807 inclusive";
      }
      config.limits.busyReplyThresholdMs = Number(value);
      return null;
    },
  };
  // Kept as given: a bound past 2^53 would not read back exactly as a number.
  let trackingMaxKeys = String(targets.tracking?.maxKeys ?? 1_000_000);
  const trackingMaxKeysCheck = numeric(
    () => 0,
    (n) => {
      if (targets.tracking !== undefined) targets.tracking.maxKeys = n;
    },
    0n,
    INT64_MAX,
  );
  const settings: Record<string, Setting> = {
    "tracking-table-max-keys": {
      get: () => trackingMaxKeys,
      set: (value) => {
        const error = trackingMaxKeysCheck.set!(value);
        if (error === null) trackingMaxKeys = String(BigInt(value));
        return error;
      },
    },
    "maxmemory": {
      get: () => String(store0.options.maxMemoryBytes),
      set: (value) => {
        const bytes = parseMemory(value);
        if (bytes === null) return "argument must be a memory value";
        store0.options.maxMemoryBytes = bytes;
        config.stores[0].maxMemoryBytes = bytes;
        return null;
      },
    },
    "maxmemory-policy": {
      get: () => store0.options.evictionPolicy,
      set: (value) => {
        const policy = value.toLowerCase() as EvictionPolicy;
        if (!EVICTION_POLICIES.includes(policy)) {
          return "argument(s) must be one of the following: " + EVICTION_POLICIES.join(", ");
        }
        if (policy === "session" && store0.options.defaultTtlMs === 0) {
          return "session needs the store's default_ttl";
        }
        // The numbered databases sharing store 0's memory follow its policy.
        for (const store of store0.memoryPool ?? [store0]) store.setEvictionPolicy(policy);
        return null;
      },
    },
    "maxmemory-samples": {
      get: () => String(store0.options.evictionSamples),
      set: (value) => {
        const count = Number(value);
        if (!/^\d+$/.test(value) || count < 1 || count > 64) {
          return "argument must be between 1 and 64 inclusive";
        }
        for (const store of store0.memoryPool ?? [store0]) store.options.evictionSamples = count;
        return null;
      },
    },
    "maxclients": {
      get: () => String(config.maxClients),
      set: (value) => {
        const count = Number(value);
        if (!/^\d+$/.test(value) || count < 1) {
          return "argument must be between 1 and 4294967295 inclusive";
        }
        config.maxClients = count;
        targets.setMaxClients(count);
        return null;
      },
    },
    "requirepass": {
      get: () => config.requirePass,
      set: (value) => {
        config.requirePass = value;
        targets.setRequirePass(value);
        return null;
      },
    },
    "notify-keyspace-events": {
      get: () => notifyKeyspaceEvents,
      set: (value) => {
        if (!/^[KEg$lshzxetmdnA]*$/.test(value)) {
          return "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.";
        }
        notifyKeyspaceEvents = canonicalKeyspaceEvents(value);
        targets.setNotifyKeyspaceEvents(value);
        return null;
      },
    },
    "busy-reply-threshold": busyReplyThreshold,
    "lua-time-limit": busyReplyThreshold,
    "appendonly": { get: () => (targets.appendonly ? "yes" : "no") },
    "appendfsync": { get: () => targets.appendfsync },
    "save": stored(targets.appendonly ? "60 10000" : "", checkSave),
    // Encoding thresholds: what OBJECT ENCODING reports and when a small hash keeps order.
    "hash-max-listpack-entries": hashEntries,
    "hash-max-ziplist-entries": hashEntries,
    "hash-max-listpack-value": hashValue,
    "hash-max-ziplist-value": hashValue,
    "set-max-intset-entries": numeric(
      () => encodingLimits.setMaxIntsetEntries,
      (n) => (encodingLimits.setMaxIntsetEntries = n),
      0n,
      INT64_MAX,
    ),
    "zset-max-listpack-entries": zsetEntries,
    "zset-max-ziplist-entries": zsetEntries,
    "zset-max-listpack-value": zsetValue,
    "zset-max-ziplist-value": zsetValue,
    // Tuning of layouts the node does not have: accepted and read back.
    "list-max-listpack-size": listSize,
    "list-max-ziplist-size": listSize,
    "list-compress-depth": numeric(
      () => listCompressDepth,
      (n) => (listCompressDepth = n),
      0n,
      INT32_MAX,
    ),
    "stream-node-max-bytes": numeric(
      () => streamNodeBytes,
      (n) => (streamNodeBytes = n),
      0n,
      INT64_MAX,
      true,
    ),
    "stream-node-max-entries": numeric(
      () => streamNodeEntries,
      (n) => (streamNodeEntries = n),
      0n,
      INT64_MAX,
    ),
    "hll-sparse-max-bytes": numeric(
      () => hllSparseBytes,
      (n) => (hllSparseBytes = n),
      0n,
      INT64_MAX,
      true,
    ),
    "activerehashing": stored(
      "yes",
      (v) => (v === "yes" || v === "no" ? null : "argument must be 'yes' or 'no'"),
    ),
    "databases": { get: () => String(keyspace.stores.length) },
    // Fixed at start, as Redis's is (only its config file sets it).
    "enable-debug-command": {
      get: () => config.enableDebugCommand,
      set: () => "can't set immutable config",
    },
    "port": { get: () => String(config.port) },
    "bind": { get: () => config.bind },
    "dir": { get: () => config.dataDir },
    "proto-max-bulk-len": { get: () => String(config.limits.maxBulkBytes) },
    "client-query-buffer-limit": { get: () => String(config.limits.maxQueryBufferBytes) },
    "timeout": { get: () => "0" },
    "tcp-keepalive": { get: () => "0" },
    "hz": { get: () => "10" },
    "lfu-log-factor": { get: () => String(store0.options.lfuLogFactor) },
    "lfu-decay-time": { get: () => String(store0.options.lfuDecayMinutes) },
  };
  return {
    get(pattern) {
      const lower = pattern.toLowerCase();
      return Object.entries(settings)
        .filter(([name]) => globMatch(lower, name))
        .map(([name, setting]) => [name, setting.get()] as [string, string]);
    },
    set(name, value) {
      const setting = settings[name];
      if (setting === undefined) return "Unknown option or number of arguments for CONFIG SET";
      if (setting.set === undefined) return `setting '${name}' cannot be changed at run time`;
      return setting.set(value);
    },
    resetStats: targets.resetStats,
  };
}
