/**
 * Redis Cluster's commands for clients: CLUSTER SLOTS, SHARDS, NODES, INFO, MYID, KEYSLOT,
 * COUNTKEYSINSLOT, GETKEYSINSLOT, and READONLY / READWRITE / ASKING. The replies have Redis 7's
 * shapes, so cluster-aware clients (ioredis `Cluster`, node-redis `createCluster`, `redis-cli -c`)
 * read them unchanged. Asking for the slot map, or READONLY, marks the connection as one that
 * follows redirects.
 *
 * @module
 */
import { keySlot } from "../ring/key_slot.ts";
import { SLOT_COUNT } from "../ring/constants.ts";
import { ReplyError } from "./errors.ts";
import { unknownSubcommand } from "./errors.ts";
import {
  type ClusterHooks,
  type ClusterNodeInfo,
  command,
  type CommandContext,
  subcommandSpecs,
} from "./types.ts";

const DISABLED = "ERR This instance has cluster support disabled";

function hooks(ctx: CommandContext): ClusterHooks {
  const cluster = ctx.server.cluster;
  if (cluster === undefined) throw new ReplyError(DISABLED);
  return cluster;
}

function slotArg(text: string): number {
  const slot = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(slot >= 0 && slot < SLOT_COUNT)) throw new ReplyError("ERR Invalid slot");
  return slot;
}

function nodeEntry(ctx: CommandContext, node: ClusterNodeInfo): void {
  ctx.out.arrayHeader(4);
  ctx.out.bulk(node.host);
  ctx.out.integer(node.port);
  ctx.out.bulk(node.hexId);
  ctx.out.arrayHeader(0);
}

function slots(ctx: CommandContext, cluster: ClusterHooks): void {
  const ranges: [number, number, ClusterNodeInfo][] = [];
  for (const node of cluster.nodes()) {
    for (const [start, end] of node.ranges) ranges.push([start, end, node]);
  }
  ranges.sort((a, b) => a[0] - b[0]);
  ctx.out.arrayHeader(ranges.length);
  for (const [start, end, node] of ranges) {
    ctx.out.arrayHeader(3);
    ctx.out.integer(start);
    ctx.out.integer(end);
    nodeEntry(ctx, node);
  }
}

function shards(ctx: CommandContext, cluster: ClusterHooks): void {
  const nodes = cluster.nodes();
  const out = ctx.out;
  out.arrayHeader(nodes.length);
  for (const node of nodes) {
    out.mapHeader(2);
    out.bulk("slots");
    out.arrayHeader(node.ranges.length * 2);
    for (const [start, end] of node.ranges) {
      out.integer(start);
      out.integer(end);
    }
    out.bulk("nodes");
    out.arrayHeader(1);
    out.mapHeader(7);
    out.bulk("id");
    out.bulk(node.hexId);
    out.bulk("port");
    out.integer(node.port);
    out.bulk("ip");
    out.bulk(node.host);
    out.bulk("endpoint");
    out.bulk(node.host);
    out.bulk("role");
    out.bulk("master");
    out.bulk("replication-offset");
    out.integer(0);
    out.bulk("health");
    out.bulk(node.failed ? "fail" : "online");
  }
}

/** CLUSTER NODES: one line per node, Redis's format. */
export function nodesText(cluster: ClusterHooks): string {
  return cluster.nodes().map((node) => {
    const flags = [node.self ? "myself" : "", "master", node.failed ? "fail" : ""]
      .filter((f) => f !== "").join(",");
    const slotList = node.ranges.map(([s, e]) => (s === e ? `${s}` : `${s}-${e}`));
    return [
      node.hexId,
      `${node.host}:${node.port}@${node.busPort}`,
      flags,
      "-",
      0,
      0,
      cluster.epoch,
      node.failed ? "disconnected" : "connected",
      ...slotList,
    ].join(" ") + "\n";
  }).join("");
}

function infoText(cluster: ClusterHooks): string {
  const nodes = cluster.nodes();
  const assigned = nodes.reduce(
    (sum, n) => sum + n.ranges.reduce((s, [a, b]) => s + b - a + 1, 0),
    0,
  );
  const failing = nodes.filter((n) => n.failed)
    .reduce((sum, n) => sum + n.ranges.reduce((s, [a, b]) => s + b - a + 1, 0), 0);
  const lines: [string, string | number][] = [
    ["cluster_state", cluster.ok && failing === 0 ? "ok" : "fail"],
    ["cluster_slots_assigned", assigned],
    ["cluster_slots_ok", assigned - failing],
    ["cluster_slots_pfail", 0],
    ["cluster_slots_fail", failing],
    ["cluster_known_nodes", nodes.length],
    ["cluster_size", nodes.filter((n) => n.ranges.length > 0).length],
    ["cluster_current_epoch", cluster.epoch],
    ["cluster_my_epoch", cluster.epoch],
  ];
  return lines.map(([k, v]) => `${k}:${v}\r\n`).join("");
}

function cluster(ctx: CommandContext, argv: string[]): void {
  const sub = argv[1].toLowerCase();
  if (sub === "keyslot") return ctx.out.integer(keySlot(argv[2]));
  const view = hooks(ctx);
  switch (sub) {
    case "slots":
      view.aware(ctx.client);
      return slots(ctx, view);
    case "shards":
      view.aware(ctx.client);
      return shards(ctx, view);
    case "nodes":
      view.aware(ctx.client);
      return ctx.out.verbatim(nodesText(view));
    case "info":
      return ctx.out.verbatim(infoText(view));
    case "myid":
      return ctx.out.bulk(view.nodes().find((n) => n.self)?.hexId ?? "");
    case "countkeysinslot":
      return ctx.out.integer(ctx.store.countKeysInSlot(slotArg(argv[2])));
    case "getkeysinslot": {
      const slot = slotArg(argv[2]);
      const count = /^\d+$/.test(argv[3]) ? Number(argv[3]) : -1;
      if (count < 0) throw new ReplyError("ERR Invalid number of keys");
      return ctx.out.bulkArray(ctx.store.getKeysInSlot(slot, count));
    }
    default:
      throw new ReplyError(unknownSubcommand(argv));
  }
}

const SLOW_NONDETERMINISTIC = ["slow"] as const;

/** The cluster commands clients use. */
export const clusterCommands = [
  command({
    name: "cluster",
    arity: -2,
    flags: [],
    group: "cluster",
    categories: ["slow"],
    summary: "A container for Redis Cluster commands (SLOTS, SHARDS, NODES, INFO, ...).",
    handler: cluster,
    subcommands: subcommandSpecs("cluster", "cluster", cluster, [
      ["slots", 2, ["stale"], [...SLOW_NONDETERMINISTIC]],
      ["shards", 2, ["stale"], [...SLOW_NONDETERMINISTIC]],
      ["nodes", 2, ["stale"], [...SLOW_NONDETERMINISTIC]],
      ["info", 2, ["stale"], [...SLOW_NONDETERMINISTIC]],
      ["myid", 2, ["stale"], ["slow"]],
      ["keyslot", 3, ["stale"], ["slow"]],
      ["countkeysinslot", 3, ["stale"], ["slow"]],
      ["getkeysinslot", 4, ["stale"], ["slow"]],
    ]),
  }),
  command({
    name: "readonly",
    arity: 1,
    flags: ["loading", "stale", "fast"],
    group: "cluster",
    categories: ["fast", "connection"],
    summary: "Marks the connection as a cluster client that follows redirects (reads of replicas).",
    handler: (ctx) => {
      hooks(ctx).aware(ctx.client);
      ctx.out.ok();
    },
  }),
  command({
    name: "readwrite",
    arity: 1,
    flags: ["loading", "stale", "fast"],
    group: "cluster",
    categories: ["fast", "connection"],
    summary: "Ends READONLY.",
    handler: (ctx) => {
      hooks(ctx);
      ctx.out.ok();
    },
  }),
  command({
    name: "asking",
    arity: 1,
    flags: ["fast"],
    group: "cluster",
    categories: ["fast", "connection"],
    summary: "Lets the next command run on a slot being imported (after -ASK).",
    handler: (ctx) => {
      hooks(ctx);
      (ctx.client as { asking?: boolean }).asking = true;
      ctx.out.ok();
    },
  }),
];
