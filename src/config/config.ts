/**
 * Node configuration: the YAML file, then `HYPERCACHE_*` environment variables, then command-line
 * flags, each overriding the one before. Validation names the field, the value and what was
 * expected, and fails the start with exit status 2.
 *
 * @module
 */
import { parse as parseYaml } from "yaml";
import {
  DEFAULT_AUTO_REWRITE_MIN_BYTES,
  DEFAULT_AUTO_REWRITE_PERCENTAGE,
  DEFAULT_DATABASES,
  DEFAULT_HTTP_MAX_BODY_BYTES,
  DEFAULT_MAX_BULK_BYTES,
  DEFAULT_MAX_CLIENTS,
  DEFAULT_MAX_MULTIBULK_LENGTH,
  DEFAULT_MAX_OUTPUT_BUFFER_BYTES,
  DEFAULT_MAX_PUBSUB_OUTPUT_BYTES,
  DEFAULT_MAX_QUERY_BUFFER_BYTES,
  DEFAULT_MAX_WAITING_REPLIES,
  DEFAULT_SNAPSHOT_EVERY_WRITES,
  DEFAULT_SNAPSHOT_INTERVAL_MS,
  MAX_AOF_ARG_BYTES,
  MAX_AOF_RECORD_ARGS,
  MAX_DATABASES,
} from "../constants.ts";

import { passwordDigest } from "../server/auth.ts";
import { EVICTION_POLICIES, type StoreOptions } from "../keyspace/store.ts";

/** A configuration that cannot be used; the message names the field. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

export type AppendFsync = "always" | "everysec" | "no";

/** The validated configuration of a node. */
export interface NodeConfig {
  nodeId: string;
  bind: string;
  port: number;
  dataDir: string;
  requirePass: string;
  maxClients: number;
  /** Who may run DEBUG (Redis's `enable-debug-command`): nobody, everyone, or local clients. */
  enableDebugCommand: "no" | "yes" | "local";
  limits: {
    maxBulkBytes: number;
    maxMultibulkLength: number;
    maxQueryBufferBytes: number;
    /** Replies queued for a client that does not read, before it is disconnected. */
    maxOutputBufferBytes: number;
    /** Messages queued for a subscriber that does not read, before it is disconnected. */
    maxPubsubOutputBytes: number;
    /** Replies one connection may have waiting behind a pending one (a blocked command, a
     * write held for fsync), before it is disconnected; their bytes count against
     * `maxOutputBufferBytes`. */
    maxWaitingReplies: number;
    /** A script running longer is suspended and other clients get -BUSY until it ends or SCRIPT
     * KILL stops it (Redis's `busy-reply-threshold`, `lua-time-limit`); 0: never. */
    busyReplyThresholdMs: number;
  };
  stores: StoreOptions[];
  /** Named RESP users (besides `requirepass`, the default user). */
  users: UserEntry[];
  /** A TLS listener beside the plain one (Redis's `tls-port`). */
  tls: { enabled: boolean; port: number; certFile: string; keyFile: string };
  http: {
    enabled: boolean;
    port: number;
    /** Bearer tokens of the HTTP API; empty means no token is asked for. */
    tokens: HttpToken[];
    /** Origins allowed by CORS (`*` for any); empty sends no CORS headers. */
    corsOrigins: string[];
    /** Largest request body the HTTP API reads. */
    maxBodyBytes: number;
  };
  /** Membership of a cluster; off for a single node. */
  cluster: ClusterConfig;
  persistence: {
    appendonly: boolean;
    appendfsync: AppendFsync;
    /** Automatic snapshot after this many writes (0 = never by count). */
    snapshotEveryWrites: number;
    /** Least time between automatic snapshots; also a snapshot every this long after writes. */
    snapshotIntervalMs: number;
    /** Rewrite when the AOF grew by this percentage over its size after the last rewrite. */
    autoRewritePercentage: number;
    /** ... and is at least this large. */
    autoRewriteMinBytes: number;
    /** Start with an AOF corrupt before its tail, truncating it there (with a warning). */
    aofLoadTruncated: boolean;
  };
}

/** The `cluster` section. */
export interface ClusterConfig {
  enabled: boolean;
  /** Host that clients and peers use to reach this node (default: `bind`). */
  announceHost: string;
  /** Cluster bus port, TCP (default: `port` + 10000, as Redis Cluster's). */
  busPort: number;
  /** Gossip port, UDP and TCP (default: `port` + 20000). */
  gossipPort: number;
  /** Gossip addresses (`host:port`) of other nodes to join through. */
  seeds: { host: string; port: number }[];
  /** Nodes that must have found each other before the first configuration is made. */
  bootstrapExpect: number;
  /** Raft voters at most (the others are learners): 1, 3 or 5. */
  voters: number;
  /** Authenticates the bus (HMAC-SHA-256) and encrypts gossip; empty for none. */
  secret: string;
  /** How long a node must stay failed before the leader gives its slots to the others. */
  failureTimeoutMs: number;
  zone: string;
  weight: number;
}

/** A bearer token of the HTTP API and what it may run. */
export interface HttpToken {
  token: string;
  role: "readonly" | "readwrite" | "admin";
}

type Raw = Record<string, unknown>;

const SIZE = /^(\d+(?:\.\d+)?)\s*(b|k|kb|m|mb|g|gb)?$/i;
const SIZE_UNITS: Record<string, number> = {
  b: 1,
  k: 1000,
  kb: 1024,
  m: 1000 ** 2,
  mb: 1024 ** 2,
  g: 1000 ** 3,
  gb: 1024 ** 3,
};
const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/i;
const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

function show(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

/** Reads values out of a raw object, naming the path of each in errors. */
class Reader {
  constructor(private readonly raw: Raw, private readonly path: string) {}

  private field(key: string): string {
    return this.path ? `${this.path}.${key}` : key;
  }

  private value(key: string): unknown {
    return this.raw[key];
  }

  section(key: string): Reader {
    const value = this.value(key);
    if (value === undefined || value === null) return new Reader({}, this.field(key));
    if (typeof value !== "object" || Array.isArray(value)) {
      throw new ConfigError(`${this.field(key)}: ${show(value)} is not a mapping`);
    }
    return new Reader(value as Raw, this.field(key));
  }

  string(key: string, fallback: string): string {
    const value = this.value(key);
    if (value === undefined || value === null) return fallback;
    if (typeof value !== "string" && typeof value !== "number") {
      throw new ConfigError(`${this.field(key)}: ${show(value)} is not a string`);
    }
    return String(value);
  }

  integer(key: string, fallback: number, min: number, max: number): number {
    const value = this.value(key);
    if (value === undefined || value === null) return fallback;
    const number = typeof value === "string" && /^-?\d+$/.test(value) ? Number(value) : value;
    if (typeof number !== "number" || !Number.isInteger(number) || number < min || number > max) {
      throw new ConfigError(
        `${this.field(key)}: ${show(value)} is not an integer between ${min} and ${max}`,
      );
    }
    return number;
  }

  number(key: string, fallback: number, min: number, max: number): number {
    const value = this.value(key);
    if (value === undefined || value === null) return fallback;
    const number = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
    if (typeof number !== "number" || Number.isNaN(number) || number <= min || number >= max) {
      throw new ConfigError(
        `${this.field(key)}: ${show(value)} is not a number between ${min} and ${max}`,
      );
    }
    return number;
  }

  boolean(key: string, fallback: boolean): boolean {
    const value = this.value(key);
    if (value === undefined || value === null) return fallback;
    if (typeof value === "boolean") return value;
    if (typeof value === "string" && /^(yes|true|on|1)$/i.test(value)) return true;
    if (typeof value === "string" && /^(no|false|off|0)$/i.test(value)) return false;
    throw new ConfigError(`${this.field(key)}: ${show(value)} is not a boolean (use yes or no)`);
  }

  size(key: string, fallback: number): number {
    const value = this.value(key);
    if (value === undefined || value === null) return fallback;
    if (typeof value === "number" && Number.isInteger(value) && value >= 0) return value;
    const match = typeof value === "string" ? SIZE.exec(value.trim()) : null;
    if (match === null) {
      throw new ConfigError(`${this.field(key)}: ${show(value)} is not a size (use e.g. 64mb)`);
    }
    return Math.floor(Number(match[1]) * SIZE_UNITS[(match[2] ?? "b").toLowerCase()]);
  }

  /** A duration in ms: a number of seconds, or text with a unit (`500ms`, `30s`, `5m`, `1h`). */
  durationMs(key: string, fallback: number): number {
    const value = this.value(key);
    if (value === undefined || value === null) return fallback;
    if (typeof value === "number" && value >= 0) return Math.round(value * 1000);
    const match = typeof value === "string" ? DURATION.exec(value.trim()) : null;
    if (match === null) {
      throw new ConfigError(
        `${this.field(key)}: ${show(value)} is not a duration (use e.g. 30s or 5m)`,
      );
    }
    return Math.round(Number(match[1]) * DURATION_UNITS[(match[2] ?? "s").toLowerCase()]);
  }

  oneOf<T extends string>(key: string, fallback: T, choices: readonly T[]): T {
    const value = this.value(key);
    if (value === undefined || value === null) return fallback;
    if (typeof value !== "string" || !choices.includes(value as T)) {
      throw new ConfigError(
        `${this.field(key)}: ${show(value)} is not one of ${choices.join(", ")}`,
      );
    }
    return value as T;
  }

  list(key: string): Reader[] | null {
    const value = this.value(key);
    if (value === undefined || value === null) return null;
    if (!Array.isArray(value)) {
      throw new ConfigError(`${this.field(key)}: ${show(value)} is not a list`);
    }
    return value.map((item, index) => {
      const path = `${this.field(key)}[${index}]`;
      if (typeof item !== "object" || item === null || Array.isArray(item)) {
        throw new ConfigError(`${path}: ${show(item)} is not a mapping`);
      }
      return new Reader(item as Raw, path);
    });
  }

  /** A list of strings; empty when absent. */
  stringList(key: string): string[] {
    const value = this.value(key);
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value) || value.some((item) => typeof item !== "string")) {
      throw new ConfigError(`${this.field(key)}: ${show(value)} is not a list of strings`);
    }
    return value as string[];
  }

  /** Fails on keys the schema does not know, so a typo is never silently ignored. */
  only(keys: string[]): void {
    for (const key of Object.keys(this.raw)) {
      if (!keys.includes(key)) {
        throw new ConfigError(`${this.field(key)}: unknown setting (known: ${keys.join(", ")})`);
      }
    }
  }
}

/** A RESP user: name, SHA-256 of the password (hex) and role. */
export interface UserEntry {
  name: string;
  passwordSha256: string;
  role: "readonly" | "readwrite" | "admin";
}

function readUsers(root: Reader): UserEntry[] {
  const names = new Set<string>();
  return (root.list("users") ?? []).map((reader, index) => {
    reader.only(["name", "password", "password_sha256", "role"]);
    const name = reader.string("name", "");
    if (!/^[A-Za-z0-9_.@-]{1,64}$/.test(name)) {
      throw new ConfigError(
        `users[${index}].name: ${show(name)} is not a user name (letters, digits, _ . @ -)`,
      );
    }
    if (names.has(name)) throw new ConfigError(`users[${index}].name: ${show(name)} is used twice`);
    names.add(name);
    const password = reader.string("password", "");
    const digest = reader.string("password_sha256", "").toLowerCase();
    if ((password === "") === (digest === "")) {
      throw new ConfigError(`users[${index}]: give exactly one of password or password_sha256`);
    }
    if (digest !== "" && !/^[0-9a-f]{64}$/.test(digest)) {
      throw new ConfigError(
        `users[${index}].password_sha256: ${show(digest)} is not 64 hex digits`,
      );
    }
    return {
      name,
      passwordSha256: digest !== "" ? digest : passwordDigest(password),
      role: reader.oneOf("role", "readwrite", ["readonly", "readwrite", "admin"] as const),
    };
  });
}

function readHttpTokens(http: Reader): HttpToken[] {
  return (http.list("tokens") ?? []).map((reader, index) => {
    reader.only(["token", "role"]);
    const token = reader.string("token", "");
    if (!/^[A-Za-z0-9._~+/-]+=*$/.test(token)) {
      throw new ConfigError(
        `http.tokens[${index}].token: ${
          show(token)
        } is not a bearer token (letters, digits and -._~+/, then optional =)`,
      );
    }
    return { token, role: reader.oneOf("role", "readwrite", ["readonly", "readwrite", "admin"]) };
  });
}

function readStore(reader: Reader, index: number): StoreOptions {
  reader.only([
    "name",
    "max_memory",
    "eviction_policy",
    "default_ttl",
    "eviction_samples",
    "persist",
    "filter",
  ]);
  const filter = reader.section("filter");
  filter.only(["enabled", "capacity", "error_rate"]);
  const name = reader.string("name", index === 0 ? "default" : `store${index}`);
  if (!/^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/.test(name)) {
    throw new ConfigError(
      `stores[${index}].name: ${
        show(name)
      } is not a store name (letters, digits, _ . -, starting with a letter)`,
    );
  }
  const evictionPolicy = reader.oneOf("eviction_policy", "noeviction", EVICTION_POLICIES);
  const defaultTtlMs = reader.durationMs("default_ttl", 0);
  if (evictionPolicy === "session" && defaultTtlMs === 0) {
    throw new ConfigError(
      `stores[${index}].default_ttl: 0 must be above 0 with eviction_policy session ` +
        "(it is the idle timeout)",
    );
  }
  return {
    name,
    maxMemoryBytes: reader.size("max_memory", 0),
    evictionPolicy,
    defaultTtlMs,
    evictionSamples: reader.integer("eviction_samples", 5, 1, 1_000_000),
    persist: reader.boolean("persist", true),
    filter: filter.boolean("enabled", false)
      ? {
        capacity: filter.integer("capacity", 100_000, 1, 1_000_000_000),
        errorRate: filter.number("error_rate", 0.01, 0, 1),
      }
      : undefined,
  };
}

function readCluster(reader: Reader, port: number, bind: string): ClusterConfig {
  const seeds = reader.stringList("seeds").map((text, index) => {
    const match = /^(.+):(\d{1,5})$/.exec(text);
    const seedPort = match ? Number(match[2]) : NaN;
    if (match === null || !(seedPort >= 1 && seedPort <= 65535)) {
      throw new ConfigError(
        `cluster.seeds[${index}]: ${show(text)} is not host:port (the gossip port of another node)`,
      );
    }
    return { host: match[1], port: seedPort };
  });
  const config: ClusterConfig = {
    enabled: reader.boolean("enabled", false),
    announceHost: reader.string("announce_host", "") || bind,
    busPort: reader.integer("bus_port", 0, 0, 65535),
    gossipPort: reader.integer("gossip_port", 0, 0, 65535),
    seeds,
    bootstrapExpect: reader.integer("bootstrap_expect", 1, 1, 1000),
    voters: reader.integer("voters", 3, 1, 5),
    secret: reader.string("secret", ""),
    failureTimeoutMs: reader.durationMs("failure_timeout", 15_000),
    zone: reader.string("zone", ""),
    weight: reader.integer("weight", 1, 1, 1000),
  };
  if (config.busPort === 0 && port !== 0) config.busPort = port + 10000;
  if (config.gossipPort === 0 && port !== 0) config.gossipPort = port + 20000;
  if (config.enabled) {
    // The derived ports matter only to a cluster node: a single node on port 60000 is fine.
    for (
      const [field, offset, value] of [["bus_port", 10000, config.busPort], [
        "gossip_port",
        20000,
        config.gossipPort,
      ]] as const
    ) {
      if (value > 65535) {
        throw new ConfigError(
          `cluster.${field}: port ${port} + ${offset} is past 65535; set cluster.${field}`,
        );
      }
    }
    if (![1, 3, 5].includes(config.voters)) {
      throw new ConfigError(`cluster.voters: ${config.voters} must be 1, 3 or 5`);
    }
    if (config.failureTimeoutMs < 1000) {
      throw new ConfigError(
        `cluster.failure_timeout: ${config.failureTimeoutMs} ms is below 1s: a pause would move slots`,
      );
    }
    const ports = [port, config.busPort, config.gossipPort].filter((p) => p !== 0);
    if (new Set(ports).size !== ports.length) {
      throw new ConfigError(
        `cluster.bus_port: port, bus_port and gossip_port must differ (got ${port}, ${config.busPort}, ${config.gossipPort})`,
      );
    }
    config.seeds.forEach((seed, index) => {
      const self = [config.announceHost, bind, "127.0.0.1", "localhost"].includes(seed.host) &&
        seed.port === config.gossipPort;
      if (self) {
        throw new ConfigError(
          `cluster.seeds[${index}]: ${seed.host}:${seed.port} is this node's own gossip address`,
        );
      }
    });
  }
  return config;
}

/**
 * `enable_debug_command`: no, yes or local, as Redis spells them; YAML's `true` and `false`
 * (what an unquoted yes or no becomes under YAML 1.1 readers) count as yes and no.
 */
function readEnableDebug(value: unknown): "no" | "yes" | "local" {
  if (value === undefined || value === null || value === false) return "no";
  if (value === true) return "yes";
  const text = typeof value === "string" ? value.toLowerCase() : "";
  if (text === "no" || text === "yes" || text === "local") return text;
  throw new ConfigError(
    `enable_debug_command: ${show(value)} is not one of no, yes, local`,
  );
}

/** Builds a validated config from the parsed YAML document (already merged with overrides). */
export function buildConfig(raw: Raw): NodeConfig {
  const root = new Reader(raw, "");
  root.only([
    "node_id",
    "bind",
    "port",
    "data_dir",
    "requirepass",
    "maxclients",
    "databases",
    "enable_debug_command",
    "limits",
    "stores",
    "http",
    "persistence",
    "users",
    "tls",
    "cluster",
  ]);
  const tls = root.section("tls");
  tls.only(["enabled", "port", "cert_file", "key_file"]);
  const limits = root.section("limits");
  limits.only([
    "proto_max_bulk_len",
    "max_multibulk_length",
    "client_query_buffer_limit",
    "client_output_buffer_limit",
    "client_output_buffer_limit_pubsub",
    "max_waiting_replies",
    "busy_reply_threshold",
  ]);
  const http = root.section("http");
  http.only(["enabled", "port", "tokens", "cors_origins", "max_body_bytes"]);
  const persistence = root.section("persistence");
  persistence.only([
    "appendonly",
    "appendfsync",
    "snapshot_every_writes",
    "snapshot_interval",
    "auto_rewrite_percentage",
    "auto_rewrite_min_size",
    "aof_load_truncated",
  ]);
  const cluster = root.section("cluster");
  cluster.only([
    "enabled",
    "announce_host",
    "bus_port",
    "gossip_port",
    "seeds",
    "bootstrap_expect",
    "voters",
    "secret",
    "failure_timeout",
    "zone",
    "weight",
  ]);
  const storeReaders = root.list("stores") ?? [new Reader({}, "stores[0]")];
  if (storeReaders.length === 0) {
    throw new ConfigError("stores: the list is empty (define at least one store)");
  }
  const stores = storeReaders.map(readStore);
  const names = new Set<string>();
  stores.forEach((store, index) => {
    if (names.has(store.name)) {
      throw new ConfigError(`stores[${index}].name: ${show(store.name)} is used twice`);
    }
    names.add(store.name);
  });
  // Numbered databases past the listed stores: store 0's settings, and its memory limit shared
  // (Redis has one maxmemory over all its databases).
  const databases = root.integer("databases", DEFAULT_DATABASES, 1, MAX_DATABASES);
  for (let index = stores.length; index < databases; index++) {
    // Listed names start with a letter: a number never clashes with one.
    const name = String(index);
    const first = stores[0];
    stores.push({
      name,
      maxMemoryBytes: first.maxMemoryBytes,
      evictionPolicy: first.evictionPolicy,
      defaultTtlMs: first.defaultTtlMs,
      evictionSamples: first.evictionSamples,
      persist: first.persist,
      memoryOf: 0,
    });
  }
  const port = root.integer("port", 6379, 0, 65535);
  const config: NodeConfig = {
    nodeId: root.string("node_id", ""),
    bind: root.string("bind", "127.0.0.1"),
    port,
    dataDir: root.string("data_dir", "./data"),
    requirePass: root.string("requirepass", ""),
    maxClients: root.integer("maxclients", DEFAULT_MAX_CLIENTS, 1, 1_000_000),
    enableDebugCommand: readEnableDebug(raw.enable_debug_command),
    limits: {
      maxBulkBytes: limits.size("proto_max_bulk_len", DEFAULT_MAX_BULK_BYTES),
      maxMultibulkLength: limits.integer(
        "max_multibulk_length",
        DEFAULT_MAX_MULTIBULK_LENGTH,
        1,
        2 ** 31 - 1,
      ),
      maxQueryBufferBytes: limits.size("client_query_buffer_limit", DEFAULT_MAX_QUERY_BUFFER_BYTES),
      maxOutputBufferBytes: limits.size(
        "client_output_buffer_limit",
        DEFAULT_MAX_OUTPUT_BUFFER_BYTES,
      ),
      maxPubsubOutputBytes: limits.size(
        "client_output_buffer_limit_pubsub",
        DEFAULT_MAX_PUBSUB_OUTPUT_BYTES,
      ),
      maxWaitingReplies: limits.integer(
        "max_waiting_replies",
        DEFAULT_MAX_WAITING_REPLIES,
        1,
        2 ** 31 - 1,
      ),
      busyReplyThresholdMs: limits.durationMs("busy_reply_threshold", 5000),
    },
    stores,
    users: readUsers(root),
    tls: {
      enabled: tls.boolean("enabled", false),
      port: tls.integer("port", 6380, 0, 65535),
      certFile: tls.string("cert_file", ""),
      keyFile: tls.string("key_file", ""),
    },
    http: {
      enabled: http.boolean("enabled", true),
      port: http.integer("port", 8080, 0, 65535),
      tokens: readHttpTokens(http),
      corsOrigins: http.stringList("cors_origins"),
      maxBodyBytes: http.size("max_body_bytes", DEFAULT_HTTP_MAX_BODY_BYTES),
    },
    cluster: readCluster(cluster, port, root.string("bind", "127.0.0.1")),
    persistence: {
      appendonly: persistence.boolean("appendonly", false),
      appendfsync: persistence.oneOf(
        "appendfsync",
        "everysec",
        ["always", "everysec", "no"] as const,
      ),
      snapshotEveryWrites: persistence.integer(
        "snapshot_every_writes",
        DEFAULT_SNAPSHOT_EVERY_WRITES,
        0,
        2 ** 31 - 1,
      ),
      snapshotIntervalMs: persistence.durationMs("snapshot_interval", DEFAULT_SNAPSHOT_INTERVAL_MS),
      autoRewritePercentage: persistence.integer(
        "auto_rewrite_percentage",
        DEFAULT_AUTO_REWRITE_PERCENTAGE,
        0,
        1_000_000,
      ),
      autoRewriteMinBytes: persistence.size(
        "auto_rewrite_min_size",
        DEFAULT_AUTO_REWRITE_MIN_BYTES,
      ),
      aofLoadTruncated: persistence.boolean("aof_load_truncated", false),
    },
  };
  if (config.limits.maxBulkBytes < 1) {
    throw new ConfigError(
      `limits.proto_max_bulk_len: ${config.limits.maxBulkBytes} must be at least 1 byte`,
    );
  }
  if (config.limits.maxQueryBufferBytes < 1024 * 1024) {
    throw new ConfigError(
      `limits.client_query_buffer_limit: ${config.limits.maxQueryBufferBytes} is below the minimum of 1mb`,
    );
  }
  if (config.limits.maxBulkBytes > config.limits.maxQueryBufferBytes) {
    throw new ConfigError(
      `limits.proto_max_bulk_len: ${config.limits.maxBulkBytes} is above ` +
        `client_query_buffer_limit (${config.limits.maxQueryBufferBytes}): ` +
        "such a bulk could never be received",
    );
  }
  // What the node accepts must be what its AOF can replay: a longer command would be
  // acknowledged, logged, and then refused at the next start.
  if (config.limits.maxMultibulkLength > MAX_AOF_RECORD_ARGS) {
    throw new ConfigError(
      `limits.max_multibulk_length: ${config.limits.maxMultibulkLength} is above the most ` +
        `arguments an AOF record may hold (${MAX_AOF_RECORD_ARGS}): such a command could be ` +
        "acknowledged and never replayed",
    );
  }
  if (config.limits.maxBulkBytes > MAX_AOF_ARG_BYTES) {
    throw new ConfigError(
      `limits.proto_max_bulk_len: ${config.limits.maxBulkBytes} is above the largest argument ` +
        `an AOF record may hold (${MAX_AOF_ARG_BYTES}): such a value could be acknowledged and ` +
        "never replayed",
    );
  }
  if (config.tls.enabled && (config.tls.certFile === "" || config.tls.keyFile === "")) {
    throw new ConfigError(
      `tls: cert_file and key_file are required when tls.enabled is yes (got ${
        show(config.tls.certFile)
      } and ${show(config.tls.keyFile)})`,
    );
  }
  if (config.nodeId === "") config.nodeId = `${config.bind}:${config.port}`;
  return config;
}

/** One setting that flags and environment variables can override. */
interface Override {
  flag: string;
  path: string[];
  boolean?: boolean;
}

/** Settings settable as `--flag value` and `HYPERCACHE_FLAG` (dashes become underscores). */
const OVERRIDES: Override[] = [
  { flag: "node-id", path: ["node_id"] },
  { flag: "bind", path: ["bind"] },
  { flag: "port", path: ["port"] },
  { flag: "data-dir", path: ["data_dir"] },
  { flag: "requirepass", path: ["requirepass"] },
  { flag: "maxclients", path: ["maxclients"] },
  { flag: "enable-debug-command", path: ["enable_debug_command"] },
  { flag: "maxmemory", path: ["stores", "0", "max_memory"] },
  { flag: "maxmemory-policy", path: ["stores", "0", "eviction_policy"] },
  { flag: "proto-max-bulk-len", path: ["limits", "proto_max_bulk_len"] },
  { flag: "client-query-buffer-limit", path: ["limits", "client_query_buffer_limit"] },
  { flag: "http-port", path: ["http", "port"] },
  { flag: "http", path: ["http", "enabled"] },
  { flag: "appendonly", path: ["persistence", "appendonly"] },
  { flag: "appendfsync", path: ["persistence", "appendfsync"] },
  { flag: "snapshot-every-writes", path: ["persistence", "snapshot_every_writes"] },
  { flag: "snapshot-interval", path: ["persistence", "snapshot_interval"] },
  { flag: "auto-rewrite-percentage", path: ["persistence", "auto_rewrite_percentage"] },
  { flag: "auto-rewrite-min-size", path: ["persistence", "auto_rewrite_min_size"] },
  { flag: "aof-load-truncated", path: ["persistence", "aof_load_truncated"] },
  { flag: "cluster", path: ["cluster", "enabled"] },
  { flag: "cluster-bus-port", path: ["cluster", "bus_port"] },
  { flag: "cluster-gossip-port", path: ["cluster", "gossip_port"] },
  { flag: "cluster-bootstrap-expect", path: ["cluster", "bootstrap_expect"] },
  { flag: "cluster-secret", path: ["cluster", "secret"] },
  { flag: "cluster-failure-timeout", path: ["cluster", "failure_timeout"] },
  { flag: "tls", path: ["tls", "enabled"] },
  { flag: "tls-port", path: ["tls", "port"] },
  { flag: "tls-cert-file", path: ["tls", "cert_file"] },
  { flag: "tls-key-file", path: ["tls", "key_file"] },
];

/** The usage text for `--help`. */
export function usage(): string {
  const flags = OVERRIDES.map((o) => `  --${o.flag} <value>`).join("\n");
  return `Usage: hypercache [--config <file.yaml>] [flags]\n\nFlags (each also as HYPERCACHE_<FLAG> in the environment):\n${flags}\n  --help`;
}

function setPath(raw: Raw, path: string[], value: string): void {
  let node: Raw = raw;
  for (let i = 0; i < path.length - 1; i++) {
    const key = path[i];
    if (node[key] === undefined || node[key] === null) {
      node[key] = /^\d+$/.test(path[i + 1]) ? [] : {};
    }
    node = node[key] as Raw;
    if (Array.isArray(node) && node[Number(path[i + 1])] === undefined) {
      node[Number(path[i + 1])] = {};
    }
  }
  node[path[path.length - 1]] = value;
}

/** Parsed command line: the config file path and the overrides. */
export interface CommandLine {
  configPath: string | null;
  help: boolean;
  overrides: Map<string, string>;
}

export function parseArgs(args: string[]): CommandLine {
  const line: CommandLine = { configPath: null, help: false, overrides: new Map() };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--help" || arg === "-h") {
      line.help = true;
      continue;
    }
    if (!arg.startsWith("--")) {
      throw new ConfigError(`${arg}: unexpected argument (flags start with --)`);
    }
    const eq = arg.indexOf("=");
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const value = eq === -1 ? args[++i] : arg.slice(eq + 1);
    if (value === undefined) throw new ConfigError(`--${name}: missing value`);
    if (name === "config") line.configPath = value;
    else if (OVERRIDES.some((o) => o.flag === name)) line.overrides.set(name, value);
    else throw new ConfigError(`--${name}: unknown flag (see --help)`);
  }
  return line;
}

/**
 * Merges the YAML text, the environment and the flags, then validates.
 * `env` returns a variable's value or undefined.
 */
export function loadConfig(
  yamlText: string | null,
  line: CommandLine,
  env: (name: string) => string | undefined,
): NodeConfig {
  let raw: Raw = {};
  if (yamlText !== null) {
    let parsed: unknown;
    try {
      parsed = parseYaml(yamlText);
    } catch (error) {
      throw new ConfigError(
        `${line.configPath}: not valid YAML: ${(error as Error).message.split("\n")[0]}`,
      );
    }
    if (parsed !== null && parsed !== undefined) {
      if (typeof parsed !== "object" || Array.isArray(parsed)) {
        throw new ConfigError(`${line.configPath}: the document is not a mapping`);
      }
      raw = parsed as Raw;
    }
  }
  for (const override of OVERRIDES) {
    const name = `HYPERCACHE_${override.flag.toUpperCase().replaceAll("-", "_")}`;
    const value = env(name);
    if (value !== undefined) setPath(raw, override.path, value);
  }
  for (const [flag, value] of line.overrides) {
    setPath(raw, OVERRIDES.find((o) => o.flag === flag)!.path, value);
  }
  return buildConfig(raw);
}
