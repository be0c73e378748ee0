/**
 * Gossip membership for HyperCache: SWIM with Lifeguard, after HashiCorp memberlist and serf.
 *
 * Nodes find each other through seeds, detect failures with randomized round-robin probes,
 * indirect probes and suspicion with incarnation numbers (refuted by the suspect itself), and
 * spread updates by piggybacking them on probes and gossip, with a periodic full-state push-pull
 * over TCP. Lifeguard makes a node that is slow for its own reasons (a stalled event loop)
 * stretch its own timeouts instead of accusing healthy peers.
 *
 * The core, {@link GossipNode}, is sans-I/O: feed it datagrams, stream messages and the time, and
 * send what `drain()` returns. {@link startGossip} runs it over UDP and TCP on Deno or Bun, with
 * optional AES-256-GCM encryption ({@link Keyring}).
 *
 * @example
 * ```ts
 * import { GossipNode, gossipConfig } from "./mod.ts";
 * const node = new GossipNode({
 *   id: "a",
 *   address: { host: "127.0.0.1", port: 7946 },
 *   config: gossipConfig("local"),
 *   nowMs: 0,
 * });
 * node.tick(1000);
 * const { packets, streams, events } = node.drain();
 * ```
 *
 * @module
 */
export { GossipNode, type GossipNodeOptions } from "./node.ts";
export {
  GOSSIP_PROFILES,
  type GossipConfig,
  gossipConfig,
  type GossipProfile,
  MAX_DATAGRAM_BYTES,
  MAX_ID_BYTES,
  MAX_META_BYTES,
  MAX_STREAM_BYTES,
  MAX_USER_EVENT_NAME_BYTES,
  MAX_USER_EVENT_PAYLOAD_BYTES,
  validateGossipConfig,
} from "./config.ts";
export type {
  Address,
  GossipEvent,
  GossipOutput,
  GossipStats,
  Member,
  MemberState,
  OutgoingPacket,
  OutgoingStream,
} from "./types.ts";
export {
  pushPullScaleMs,
  remainingSuspicionTimeMs,
  retransmitLimit,
  suspicionTimeoutMs,
} from "./timing.ts";
export { Awareness } from "./awareness.ts";
export { Suspicion } from "./suspicion.ts";
export { BroadcastQueue } from "./broadcast_queue.ts";
export {
  LamportClock,
  type RecentUserEvent,
  UserEventBuffer,
  type UserEventVerdict,
} from "./user_events.ts";
export {
  ENCRYPTED_MARKER,
  ENCRYPTION_OVERHEAD_BYTES,
  KEY_BYTES,
  Keyring,
  type KeyringJson,
} from "./keyring.ts";
export {
  GossipAgent,
  type GossipAgentOptions,
  type GossipAgentStats,
  startGossip,
} from "./driver.ts";
