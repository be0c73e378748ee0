/**
 * Gossip configuration, its limits and the three profiles: `lan` (HashiCorp memberlist's LAN
 * defaults), `local` (fast timings for nodes on one machine) and `wan`.
 *
 * @module
 */

/** Largest datagram on the wire, after encryption: fits a 1500-byte Ethernet MTU with headers. */
export const MAX_DATAGRAM_BYTES = 1400;
/** Largest per-member metadata: small enough for an alive message to fit one datagram. */
export const MAX_META_BYTES = 512;
/** Largest user event payload: small enough for the event to fit one datagram. */
export const MAX_USER_EVENT_PAYLOAD_BYTES = 512;
/** Largest user event name. */
export const MAX_USER_EVENT_NAME_BYTES = 128;
/** Largest member id, in UTF-8 bytes. */
export const MAX_ID_BYTES = 128;
/** Largest push-pull stream message: 10,000 members with full metadata fit. */
export const MAX_STREAM_BYTES = 8 * 1024 * 1024;

/** Every knob of the protocol. Times are in milliseconds. */
export interface GossipConfig {
  /** Time between two probes of members (stretched by local health). */
  probeIntervalMs: number;
  /** Time to wait for a direct ack before asking other members to probe indirectly. */
  probeTimeoutMs: number;
  /** Members asked to probe indirectly when a direct probe fails. */
  indirectChecks: number;
  /** Broadcasts are retransmitted `retransmitMult x ceil(log10(n + 1))` times. */
  retransmitMult: number;
  /** Minimum suspicion timeout is `suspicionMult x max(1, log10(n)) x probeIntervalMs`. */
  suspicionMult: number;
  /** Maximum suspicion timeout is this times the minimum (1 turns Lifeguard's dynamic timeout off). */
  suspicionMaxTimeoutMult: number;
  /** Local health stretches probe timings up to this many times (1 turns awareness off). */
  awarenessMaxMultiplier: number;
  /** Whether indirect probes ask for nacks (Lifeguard), which feed local health. */
  nacks: boolean;
  /** Time between two gossip rounds. */
  gossipIntervalMs: number;
  /** Members gossiped to in each round. */
  gossipNodes: number;
  /** A dead member is still gossiped to for this long, so it can learn it was declared dead. */
  gossipToTheDeadMs: number;
  /** Time between two full-state push-pull syncs with a random member (0 disables them). */
  pushPullIntervalMs: number;
  /** Time between two attempts to rejoin a seed or a failed member (0 disables them). */
  reconnectIntervalMs: number;
  /** The reconnect interval varies by up to this fraction either way, so nodes do not align. */
  reconnectJitter: number;
  /** After this long dead, a member's id may come back at another address (0: never). */
  deadNodeReclaimMs: number;
  /** Dead and left members are forgotten after this long. */
  tombstoneMs: number;
  /** A push-pull stream that takes longer than this fails. */
  tcpTimeoutMs: number;
  /** Longest wait for a leave to spread before shutting down. */
  leaveTimeoutMs: number;
  /** A gap between two ticks longer than this is a stall of this node's own event loop. */
  stallThresholdMs: number;
  /** Largest datagram, after encryption. */
  maxDatagramBytes: number;
  /** Pending broadcasts kept at most; the most retransmitted are dropped first beyond it. */
  broadcastQueueMaxEntries: number;
  /** Recent user events remembered (by Lamport time) for de-duplication. */
  userEventBufferSize: number;
  /** Members (including dead ones not yet forgotten) kept at most. */
  maxMembers: number;
  /** Indirect probes relayed for others at once at most. */
  maxRelays: number;
}

/** Names of the built-in profiles. */
export type GossipProfile = "lan" | "local" | "wan";

const LAN: GossipConfig = {
  probeIntervalMs: 1000,
  probeTimeoutMs: 500,
  indirectChecks: 3,
  retransmitMult: 4,
  suspicionMult: 4,
  suspicionMaxTimeoutMult: 6,
  awarenessMaxMultiplier: 8,
  nacks: true,
  gossipIntervalMs: 200,
  gossipNodes: 3,
  gossipToTheDeadMs: 30_000,
  pushPullIntervalMs: 30_000,
  reconnectIntervalMs: 30_000,
  reconnectJitter: 0.25,
  deadNodeReclaimMs: 30_000,
  tombstoneMs: 24 * 3600_000,
  tcpTimeoutMs: 10_000,
  leaveTimeoutMs: 2_000,
  stallThresholdMs: 500,
  maxDatagramBytes: MAX_DATAGRAM_BYTES,
  broadcastQueueMaxEntries: 4096,
  userEventBufferSize: 512,
  maxMembers: 10_000,
  maxRelays: 1024,
};

/**
 * The built-in profiles. `lan` is memberlist's `DefaultLANConfig`; `wan` its `DefaultWANConfig`;
 * `local` is five times faster than `lan` for nodes on one machine (failures seen everywhere within
 * about 1.5 s at 20 nodes).
 */
export const GOSSIP_PROFILES: Readonly<Record<GossipProfile, Readonly<GossipConfig>>> = {
  lan: LAN,
  local: {
    ...LAN,
    probeIntervalMs: 200,
    probeTimeoutMs: 100,
    suspicionMult: 3,
    suspicionMaxTimeoutMult: 4,
    gossipIntervalMs: 50,
    gossipToTheDeadMs: 5_000,
    pushPullIntervalMs: 5_000,
    reconnectIntervalMs: 2_000,
    deadNodeReclaimMs: 2_000,
    tombstoneMs: 600_000,
    tcpTimeoutMs: 1_000,
    leaveTimeoutMs: 500,
    stallThresholdMs: 100,
  },
  wan: {
    ...LAN,
    probeIntervalMs: 5000,
    probeTimeoutMs: 3000,
    suspicionMult: 6,
    gossipIntervalMs: 500,
    gossipNodes: 4,
    gossipToTheDeadMs: 60_000,
    pushPullIntervalMs: 60_000,
    reconnectIntervalMs: 60_000,
    deadNodeReclaimMs: 60_000,
    tcpTimeoutMs: 30_000,
    leaveTimeoutMs: 5_000,
    stallThresholdMs: 2_500,
  },
};

/**
 * A profile with overrides, validated.
 *
 * @example
 * ```ts
 * import { gossipConfig } from "./config.ts";
 * const config = gossipConfig("local", { indirectChecks: 2 });
 * config.probeIntervalMs; // 200
 * ```
 */
export function gossipConfig(
  profile: GossipProfile = "lan",
  overrides: Partial<GossipConfig> = {},
): GossipConfig {
  const base = GOSSIP_PROFILES[profile];
  if (base === undefined) {
    throw new RangeError(
      `Cannot configure gossip: unknown profile: current value is '${profile}' (lan, local, wan)`,
    );
  }
  const config = { ...base, ...overrides };
  validateGossipConfig(config);
  return config;
}

/** Throws a `RangeError` naming the first setting that makes no sense. */
export function validateGossipConfig(config: GossipConfig): void {
  const positive: (keyof GossipConfig)[] = [
    "probeIntervalMs",
    "probeTimeoutMs",
    "retransmitMult",
    "suspicionMult",
    "suspicionMaxTimeoutMult",
    "awarenessMaxMultiplier",
    "gossipIntervalMs",
    "tcpTimeoutMs",
    "stallThresholdMs",
    "maxDatagramBytes",
    "broadcastQueueMaxEntries",
    "userEventBufferSize",
    "maxMembers",
    "maxRelays",
  ];
  for (const key of positive) {
    const value = config[key] as number;
    if (!(Number.isFinite(value) && value > 0)) {
      throw new RangeError(
        `Cannot configure gossip: '${key}' must be a positive number: current value is ${value}`,
      );
    }
  }
  const nonNegative: (keyof GossipConfig)[] = [
    "indirectChecks",
    "gossipNodes",
    "gossipToTheDeadMs",
    "pushPullIntervalMs",
    "reconnectIntervalMs",
    "deadNodeReclaimMs",
    "tombstoneMs",
    "leaveTimeoutMs",
  ];
  for (const key of nonNegative) {
    const value = config[key] as number;
    if (!(Number.isFinite(value) && value >= 0)) {
      throw new RangeError(
        `Cannot configure gossip: '${key}' must be a non-negative number: current value is ${value}`,
      );
    }
  }
  if (config.probeTimeoutMs >= config.probeIntervalMs) {
    throw new RangeError(
      `Cannot configure gossip: 'probeTimeoutMs' must be below 'probeIntervalMs' (${config.probeIntervalMs}): current value is ${config.probeTimeoutMs}`,
    );
  }
  if (config.maxDatagramBytes > 65_000 || config.maxDatagramBytes < 1000) {
    throw new RangeError(
      `Cannot configure gossip: 'maxDatagramBytes' must be between 1000 and 65000: current value is ${config.maxDatagramBytes}`,
    );
  }
  if (!(config.reconnectJitter >= 0 && config.reconnectJitter < 1)) {
    throw new RangeError(
      `Cannot configure gossip: 'reconnectJitter' must be in [0, 1): current value is ${config.reconnectJitter}`,
    );
  }
}
