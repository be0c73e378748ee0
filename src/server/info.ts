/**
 * The INFO reply: Redis's sections and field names, from the node's parts.
 *
 * @module
 */
import type { Dispatcher } from "../commands/dispatch.ts";
import type { NodeConfig } from "../config/config.ts";
import { recordMemory } from "../keyspace/memory.ts";
import type { Keyspace } from "../keyspace/keyspace.ts";
import type { Persistence } from "../persistence/persistence.ts";
import type { Runtime } from "../runtime/types.ts";
import { VERSION } from "../version.ts";
import { sha1 } from "@noble/hashes/legacy.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import type { RespServer } from "./server.ts";

/** A replication ID as Redis shows one (40 hex digits), new for each start of the node. */
function replicationId(nodeId: string, startedMs: number): string {
  return bytesToHex(sha1(new TextEncoder().encode(`${nodeId}@${startedMs}`)));
}

/** The INFO reply for `sections` (all of them when empty). */
export function infoText(
  node: {
    config: NodeConfig;
    keyspace: Keyspace;
    dispatcher: Dispatcher;
    resp: RespServer;
    persistence: Persistence | null;
    auth?: { failures: number };
  },
  runtime: Runtime,
  startedMs: number,
  sections: string[],
): string {
  const { config, keyspace, dispatcher, resp } = node;
  const wanted = new Set(sections.map((s) => s.toLowerCase()));
  const all = wanted.size === 0 || wanted.has("all") || wanted.has("everything") ||
    wanted.has("default");
  const now = runtime.clock.realtimeMs();
  const parts: string[] = [];
  const section = (name: string, lines: [string, string | number][]) => {
    if (!all && !wanted.has(name.toLowerCase())) return;
    parts.push(`# ${name}\r\n${lines.map(([k, v]) => `${k}:${v}`).join("\r\n")}\r\n`);
  };
  const uptimeSeconds = Math.floor((now - startedMs) / 1000);
  section("Server", [
    ["redis_version", "7.2.0"],
    ["hypercache_version", VERSION],
    ["redis_mode", dispatcher.server.cluster ? "cluster" : "standalone"],
    ["os", `${runtime.name} ${runtime.version}`],
    ["arch_bits", 64],
    ["process_id", runtime.pid()],
    ["run_id", config.nodeId],
    ["tcp_port", resp.port],
    ["uptime_in_seconds", uptimeSeconds],
    ["uptime_in_days", Math.floor(uptimeSeconds / 86400)],
    ["executable", runtime.name],
  ]);
  section("Clients", [
    ["connected_clients", resp.clients.size],
    ["maxclients", config.maxClients],
    ["blocked_clients", resp.blockedCount],
    ["tracking_clients", resp.tracking?.clients ?? 0],
    ["total_watched_keys", keyspace.stores.reduce((sum, s) => sum + s.watchedKeyCount, 0)],
  ]);
  const used = keyspace.usedMemoryBytes;
  const maxMemory = config.stores.reduce((sum, s) => sum + s.maxMemoryBytes, 0);
  const arena = recordMemory();
  section("Memory", [
    ["used_memory", used],
    ["used_memory_human", humanBytes(used)],
    ["used_memory_rss", runtime.memoryRssBytes()],
    ["maxmemory", maxMemory],
    ["maxmemory_human", humanBytes(maxMemory)],
    ["maxmemory_policy", config.stores[0].evictionPolicy],
    // Keys with string values kept as bytes outside the JS heap: slabs held, slots in use,
    // records.
    ["record_arena_bytes", arena.slabBytes],
    ["record_arena_used_bytes", arena.slotBytes],
    ["record_arena_records", arena.records],
  ]);
  section(
    "Persistence",
    node.persistence?.info() ??
      [["loading", 0], ["aof_enabled", 0], ["rdb_changes_since_last_save", 0]],
  );
  const totals = { hits: 0, misses: 0, evictions: 0, expirations: 0 };
  for (const store of keyspace.stores) {
    totals.hits += store.stats.hits;
    totals.misses += store.stats.misses;
    totals.evictions += store.stats.evictions;
    totals.expirations += store.stats.expirations;
  }
  section("Stats", [
    ["total_connections_received", resp.stats.connectionsReceived],
    ["total_commands_processed", dispatcher.stats.commandsProcessed],
    ["rejected_connections", resp.stats.rejectedConnections],
    ["expired_keys", totals.expirations],
    ["evicted_keys", totals.evictions],
    ["keyspace_hits", totals.hits],
    ["keyspace_misses", totals.misses],
    ["tracking_total_keys", resp.tracking?.keyCount ?? 0],
    ["tracking_total_items", resp.tracking?.itemCount ?? 0],
    ["tracking_total_prefixes", resp.tracking?.prefixCount ?? 0],
    ["total_error_replies", dispatcher.stats.errorReplies],
    ["unexpected_error_replies", dispatcher.stats.unexpectedErrors],
    ["acl_access_denied_auth", node.auth?.failures ?? 0],
    ["client_protocol_errors", resp.stats.protocolErrors],
    ["client_output_buffer_limit_disconnections", resp.stats.outputLimitDisconnections],
  ]);
  // Redis's fields; a node has no replicas yet, so its offsets stay 0 and it has no backlog.
  section("Replication", [
    ["role", "master"],
    ["connected_slaves", 0],
    ["master_failover_state", "no-failover"],
    ["master_replid", replicationId(config.nodeId, startedMs)],
    ["master_replid2", "0".repeat(40)],
    ["master_repl_offset", 0],
    ["second_repl_offset", -1],
    ["repl_backlog_active", 0],
    ["repl_backlog_size", 1048576],
    ["repl_backlog_first_byte_offset", 0],
    ["repl_backlog_histlen", 0],
  ]);
  const cpu = runtime.cpuUsageMicros();
  section("CPU", [
    ["used_cpu_sys", (cpu.system / 1e6).toFixed(6)],
    ["used_cpu_user", (cpu.user / 1e6).toFixed(6)],
  ]);
  section("Modules", []);
  const errorLines: [string, string][] = [];
  for (const [code, count] of dispatcher.stats.errorCodes) {
    errorLines.push([`errorstat_${code}`, `count=${count}`]);
  }
  section("Errorstats", errorLines);
  const cluster = dispatcher.server.cluster;
  section(
    "Cluster",
    cluster === undefined ? [["cluster_enabled", 0]] : [
      ["cluster_enabled", 1],
      ["cluster_state", cluster.ok ? "ok" : "fail"],
      ["cluster_epoch", cluster.epoch],
      ["cluster_known_nodes", cluster.nodes().length],
      ...cluster.counters(),
    ],
  );
  const commandLines: [string, string][] = [];
  for (const [name, counters] of dispatcher.stats.perCommand) {
    if (counters.calls === 0 && counters.rejected === 0) continue;
    commandLines.push([
      `cmdstat_${name}`,
      `calls=${counters.calls},usec=0,usec_per_call=0.00,rejected_calls=${counters.rejected},failed_calls=${counters.errors}`,
    ]);
  }
  // In `INFO all` and `everything`, not in the default sections, as in Redis.
  if (wanted.has("commandstats") || wanted.has("all") || wanted.has("everything")) {
    section("Commandstats", commandLines);
  }
  const keyspaceLines: [string, string][] = [];
  for (const store of keyspace.stores) {
    if (store.size === 0) continue;
    let ttlSum = 0;
    for (const entry of store.volatile) ttlSum += Math.max(0, entry.expiresAtMs - now);
    const avgTtl = store.volatileCount === 0 ? 0 : Math.round(ttlSum / store.volatileCount);
    keyspaceLines.push([
      `db${store.index}`,
      `keys=${store.size},expires=${store.volatileCount},avg_ttl=${avgTtl}`,
    ]);
  }
  section("Keyspace", keyspaceLines);
  return parts.join("\r\n");
}

/** Bytes as Redis prints them in INFO (`1.50M`). */
export function humanBytes(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(2)}G`;
  if (bytes >= 1024 ** 2) return `${(bytes / 1024 ** 2).toFixed(2)}M`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(2)}K`;
  return `${bytes}B`;
}
