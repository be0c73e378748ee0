/**
 * Public data types of the gossip membership: addresses, members, events and the outputs of the
 * sans-I/O core.
 *
 * @module
 */

/** A UDP (and TCP, for push-pull) endpoint. */
export interface Address {
  host: string;
  port: number;
}

/**
 * `alive` answers probes; `suspect` missed one and may still refute; `dead` was declared failed;
 * `left` announced a graceful leave.
 */
export type MemberState = "alive" | "suspect" | "dead" | "left";

/** A member as this node currently sees it. */
export interface Member {
  id: string;
  address: Address;
  /** Application metadata, at most 512 bytes. */
  meta: Uint8Array;
  incarnation: number;
  state: MemberState;
  /** When this node last saw the state change (its own clock). */
  stateChangeMs: number;
}

/** What subscribers are told. */
export type GossipEvent =
  | { type: "join"; member: Member }
  | { type: "leave"; member: Member }
  | { type: "fail"; member: Member }
  | { type: "update"; member: Member }
  | { type: "user"; name: string; payload: Uint8Array; ltime: number; originId: string }
  /** A node at another address claims the id of a live member (or of this node): refused. */
  | { type: "conflict"; id: string; host: string; port: number };

/** A datagram to send. `bytes` is the plaintext: the driver encrypts it when a keyring is set. */
export interface OutgoingPacket {
  to: Address;
  bytes: Uint8Array;
}

/**
 * A push-pull state transfer to send over a stream (TCP). Hand the peer's reply to
 * `GossipNode.receiveStreamReply(requestId, ...)`, or report `GossipNode.streamFailed(requestId)`.
 */
export interface OutgoingStream {
  requestId: number;
  to: Address;
  bytes: Uint8Array;
  /** True for a join or rejoin (seeds, failed members), false for a periodic sync. */
  join: boolean;
}

/** Everything the core asks its driver to do since the last `drain()`. */
export interface GossipOutput {
  packets: OutgoingPacket[];
  streams: OutgoingStream[];
  events: GossipEvent[];
}

/** Counters for tests, benchmarks and metrics. */
export interface GossipStats {
  packetsSent: number;
  bytesSent: number;
  packetsReceived: number;
  bytesReceived: number;
  malformedDropped: number;
  wrongTargetPings: number;
  addressConflicts: number;
  probes: number;
  probesFailed: number;
  suspicionsRaised: number;
  refutations: number;
  stallsDetected: number;
  longestStallMs: number;
  streamsStarted: number;
  streamsFailed: number;
  broadcastsDropped: number;
  userEventsDuplicate: number;
  userEventsTooOld: number;
}
