/**
 * `GET /metrics`: Prometheus text format. Node-wide figures use redis_exporter's metric names
 * (so existing Redis dashboards work); per-store figures are `hypercache_*`.
 *
 * @module
 */
import type { ClientState } from "../commands/types.ts";
import type { Dispatcher } from "../commands/dispatch.ts";
import { type AofStats, FSYNC_BUCKETS_MS } from "../persistence/aof.ts";

/** One metric family: name, type, help and its samples (label text -> value). */
class Family {
  readonly samples: [string, number][] = [];
  constructor(
    readonly name: string,
    readonly type: "counter" | "gauge",
    readonly help: string,
  ) {}

  add(value: number, labels: Record<string, string> = {}): this {
    const text = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",");
    this.samples.push([text === "" ? "" : `{${text}}`, value]);
    return this;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`];
    for (const [labels, value] of this.samples) lines.push(`${this.name}${labels} ${value}`);
    return lines.join("\n");
  }
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

/** INFO's `field:value` lines as a map. */
function infoFields(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0 && !line.startsWith("#")) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

/** `hypercache_aof_fsync_seconds`: a cumulative Prometheus histogram of AOF fsync latency. */
export function fsyncHistogramText(stats: AofStats): string {
  const name = "hypercache_aof_fsync_seconds";
  const lines = [
    `# HELP ${name} Duration of AOF fsyncs.`,
    `# TYPE ${name} histogram`,
  ];
  let cumulative = 0;
  FSYNC_BUCKETS_MS.forEach((boundMs, index) => {
    cumulative += stats.fsyncBucketCounts[index];
    lines.push(`${name}_bucket{le="${boundMs / 1000}"} ${cumulative}`);
  });
  cumulative += stats.fsyncBucketCounts[FSYNC_BUCKETS_MS.length];
  lines.push(`${name}_bucket{le="+Inf"} ${cumulative}`);
  lines.push(`${name}_sum ${stats.fsyncTotalMs / 1000}`, `${name}_count ${cumulative}`);
  return lines.join("\n") + "\n";
}

/** The metrics text of the node. `client` is the one INFO is asked for. */
export function metricsText(
  dispatcher: Dispatcher,
  client: ClientState,
  aof: AofStats | null = null,
): string {
  const info = infoFields(dispatcher.server.info(["server", "clients", "stats", "memory"], client));
  const field = (name: string) => Number(info.get(name) ?? 0);
  const stores = dispatcher.keyspace.stores;
  const sum = (pick: (s: typeof stores[number]) => number) =>
    stores.reduce((total, s) => total + pick(s), 0);
  const families: Family[] = [
    new Family("redis_up", "gauge", "Whether the node is up.").add(1),
    new Family("redis_uptime_in_seconds", "gauge", "Seconds since the node started.")
      .add(field("uptime_in_seconds")),
    new Family("redis_connected_clients", "gauge", "RESP clients connected.")
      .add(field("connected_clients")),
    new Family("redis_max_clients", "gauge", "Most RESP clients allowed.").add(field("maxclients")),
    new Family("redis_connections_received_total", "counter", "RESP connections accepted.")
      .add(field("total_connections_received")),
    new Family("redis_rejected_connections_total", "counter", "RESP connections refused.")
      .add(field("rejected_connections")),
    new Family("redis_commands_processed_total", "counter", "Commands run, from every front door.")
      .add(dispatcher.stats.commandsProcessed),
    new Family("redis_total_error_replies", "counter", "Error replies sent.")
      .add(dispatcher.stats.errorReplies),
    new Family("redis_keyspace_hits_total", "counter", "Reads that found their key.")
      .add(sum((s) => s.stats.hits)),
    new Family("redis_keyspace_misses_total", "counter", "Reads that missed their key.")
      .add(sum((s) => s.stats.misses)),
    new Family("redis_expired_keys_total", "counter", "Keys removed because they expired.")
      .add(sum((s) => s.stats.expirations)),
    new Family("redis_evicted_keys_total", "counter", "Keys evicted by a memory limit.")
      .add(sum((s) => s.stats.evictions)),
    new Family("redis_memory_used_bytes", "gauge", "Bytes accounted to keys and values.")
      .add(dispatcher.keyspace.usedMemoryBytes),
    new Family("redis_memory_max_bytes", "gauge", "Sum of the stores' memory limits (0: none).")
      .add(sum((s) => s.options.maxMemoryBytes)),
    new Family("redis_memory_used_rss_bytes", "gauge", "Resident set size of the process.")
      .add(field("used_memory_rss")),
  ];
  const commands = new Family("redis_commands_total", "counter", "Calls per command.");
  const failed = new Family("redis_commands_failed_calls_total", "counter", "Failed calls.");
  for (const [name, counters] of dispatcher.stats.perCommand) {
    commands.add(counters.calls, { cmd: name });
    failed.add(counters.errors, { cmd: name });
  }
  families.push(commands, failed);
  const dbKeys = new Family("redis_db_keys", "gauge", "Keys per store.");
  const dbExpiring = new Family("redis_db_keys_expiring", "gauge", "Keys with a TTL per store.");
  const perStore = {
    memory: new Family("hypercache_store_memory_used_bytes", "gauge", "Bytes used per store."),
    maxMemory: new Family("hypercache_store_memory_max_bytes", "gauge", "Memory limit per store."),
    hits: new Family("hypercache_store_hits_total", "counter", "Read hits per store."),
    misses: new Family("hypercache_store_misses_total", "counter", "Read misses per store."),
    evictions: new Family("hypercache_store_evictions_total", "counter", "Evictions per store."),
    expirations: new Family(
      "hypercache_store_expired_keys_total",
      "counter",
      "Expiries per store.",
    ),
    filterLoad: new Family(
      "hypercache_filter_load_ratio",
      "gauge",
      "Share of cuckoo filter slots in use, per store with a filter.",
    ),
    filterItems: new Family("hypercache_filter_items", "gauge", "Items in the cuckoo filter."),
    filterNegatives: new Family(
      "hypercache_filter_negatives_total",
      "counter",
      "Lookups the cuckoo filter answered as misses without touching the map.",
    ),
  };
  for (const store of stores) {
    const db = { db: `db${store.index}`, store: store.name };
    const labels = { store: store.name };
    dbKeys.add(store.size, db);
    dbExpiring.add(store.volatileCount, db);
    perStore.memory.add(store.usedMemoryBytes, labels);
    perStore.maxMemory.add(store.options.maxMemoryBytes, labels);
    perStore.hits.add(store.stats.hits, labels);
    perStore.misses.add(store.stats.misses, labels);
    perStore.evictions.add(store.stats.evictions, labels);
    perStore.expirations.add(store.stats.expirations, labels);
    if (store.filter !== null) {
      perStore.filterLoad.add(store.filter.load, labels);
      perStore.filterItems.add(store.filter.count, labels);
      perStore.filterNegatives.add(store.stats.filterNegatives, labels);
    }
  }
  families.push(dbKeys, dbExpiring, ...Object.values(perStore));
  // A cluster node's routing, forwarding, migration and bus counters (INFO cluster's).
  for (const [name, value] of dispatcher.server.cluster?.counters() ?? []) {
    if (typeof value !== "number") continue;
    families.push(new Family(`hypercache_${name}`, "gauge", `INFO cluster ${name}.`).add(value));
  }
  const text = families.filter((f) => f.samples.length > 0).map((f) => f.render()).join("\n") +
    "\n";
  return aof === null ? text : text + fsyncHistogramText(aof);
}
