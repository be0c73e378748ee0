/**
 * The sans-I/O gossip membership core: SWIM (probes in randomized round-robin, indirect probes,
 * suspicion with incarnations and refutation, piggybacked dissemination, push-pull) with
 * Lifeguard (local health awareness, dynamic suspicion timeouts, suspect piggybacked on the probe).
 * It takes datagrams, stream messages and `now` as inputs and returns datagrams, streams and
 * events from `drain()`; it never touches sockets, timers or the clock.
 *
 * @module
 */
import { assert } from "../_assert.ts";
import { Awareness } from "./awareness.ts";
import { BroadcastQueue } from "./broadcast_queue.ts";
import {
  type GossipConfig,
  gossipConfig,
  MAX_ID_BYTES,
  MAX_META_BYTES,
  MAX_USER_EVENT_NAME_BYTES,
  MAX_USER_EVENT_PAYLOAD_BYTES,
  validateGossipConfig,
} from "./config.ts";
import {
  type AliveMessage,
  type DeadMessage,
  decodePacket,
  decodePushPull,
  encodeMessage,
  encodePacket,
  encodePushPull,
  type IndirectPingMessage,
  PACKET_OVERHEAD_BYTES,
  type PacketMessage,
  type PushPullEntry,
  type PushPullMessage,
  type SuspectMessage,
  type UserMessage,
} from "./messages.ts";
import { Suspicion } from "./suspicion.ts";
import { pushPullScaleMs, retransmitLimit, suspicionTimeoutMs } from "./timing.ts";
import type {
  Address,
  GossipEvent,
  GossipOutput,
  GossipStats,
  Member,
  MemberState,
  OutgoingStream,
} from "./types.ts";
import { LamportClock, UserEventBuffer } from "./user_events.ts";

/** Options of a `GossipNode`. */
export interface GossipNodeOptions {
  /** Unique, stable name of this node (at most 128 bytes). */
  id: string;
  /** Where peers reach this node (UDP, and TCP on the same port for push-pull). */
  address: Address;
  /** Application metadata (at most 512 bytes). @default empty */
  meta?: Uint8Array;
  /** The protocol settings. @default gossipConfig("lan") */
  config?: GossipConfig;
  /** Current time on the caller's monotonic clock. */
  nowMs: number;
  /** Source of randomness in [0, 1); seed it for reproducible simulations. @default Math.random */
  random?: () => number;
  /** Bytes that encryption adds to each datagram, taken off the datagram budget. @default 0 */
  packetOverheadBytes?: number;
}

interface Entry {
  id: string;
  host: string;
  port: number;
  meta: Uint8Array;
  incarnation: number;
  state: MemberState;
  stateChangeMs: number;
}

interface Probe {
  seq: number;
  targetId: string;
  directDeadlineMs: number;
  endMs: number;
  indirectSent: boolean;
  expectedNacks: number;
  nacks: number;
}

interface Relay {
  originSeq: number;
  origin: Address;
  deadlineMs: number;
  nack: boolean;
}

const textEncoder = new TextEncoder();
/**
 * User events of this many recent Lamport times ride on every push-pull, so a member that gossip's
 * bounded retransmissions missed still gets them (as serf does with its event buffer).
 */
const PUSH_PULL_EVENTS = 64;

/** Members told directly after a stall of this node: bounds the burst of datagrams it costs. */
const STALL_ANNOUNCE_MAX_NODES = 64;

function utf8Length(s: string): number {
  return textEncoder.encode(s).length;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function newStats(): GossipStats {
  return {
    packetsSent: 0,
    bytesSent: 0,
    packetsReceived: 0,
    bytesReceived: 0,
    malformedDropped: 0,
    wrongTargetPings: 0,
    addressConflicts: 0,
    probes: 0,
    probesFailed: 0,
    suspicionsRaised: 0,
    refutations: 0,
    stallsDetected: 0,
    longestStallMs: 0,
    streamsStarted: 0,
    streamsFailed: 0,
    broadcastsDropped: 0,
    userEventsDuplicate: 0,
    userEventsTooOld: 0,
  };
}

/**
 * One member of a gossip cluster, as a state machine.
 *
 * @example
 * ```ts
 * import { GossipNode } from "./node.ts";
 * import { gossipConfig } from "./config.ts";
 * const a = new GossipNode({ id: "a", address: { host: "10.0.0.1", port: 7946 }, config: gossipConfig("lan"), nowMs: 0 });
 * a.join([{ host: "10.0.0.2", port: 7946 }], 0);
 * const { streams } = a.drain(); // one push-pull to send to the seed over TCP
 * ```
 */
export class GossipNode {
  readonly id: string;
  readonly config: GossipConfig;
  readonly stats: GossipStats = newStats();
  readonly #random: () => number;
  readonly #packetBudgetBytes: number;
  readonly #self: Entry;
  readonly #members = new Map<string, Entry>();
  readonly #awareness: Awareness;
  readonly #queue: BroadcastQueue;
  readonly #suspicions = new Map<string, Suspicion>();
  readonly #relays = new Map<number, Relay>();
  readonly #pendingStreams = new Map<number, { to: Address; join: boolean }>();
  readonly #clock = new LamportClock();
  readonly #eventBuffer: UserEventBuffer;
  #probeOrder: string[] = [];
  #probeIndex = 0;
  #probe: Probe | null = null;
  #seq = 0;
  #streamSeq = 0;
  #userSeq = 0;
  /** Events older than this happened before this node joined and are not delivered. */
  #eventMinLtime = 0;
  #seeds: Address[] = [];
  #left = false;
  #lastTickMs: number;
  #nextProbeMs: number;
  #nextGossipMs: number;
  #nextPushPullMs: number;
  #nextReconnectMs: number;
  #nextReapMs: number;
  #out: GossipOutput = { packets: [], streams: [], events: [] };

  constructor(options: GossipNodeOptions) {
    const config = options.config ?? gossipConfig("lan");
    validateGossipConfig(config);
    const meta = options.meta ?? new Uint8Array(0);
    checkId(options.id);
    checkMeta(meta);
    this.id = options.id;
    this.config = config;
    this.#random = options.random ?? Math.random;
    this.#packetBudgetBytes = config.maxDatagramBytes - (options.packetOverheadBytes ?? 0) -
      PACKET_OVERHEAD_BYTES;
    assert(this.#packetBudgetBytes >= 900, "a datagram has room for an alive message");
    this.#awareness = new Awareness(config.awarenessMaxMultiplier);
    this.#queue = new BroadcastQueue(config.broadcastQueueMaxEntries);
    this.#eventBuffer = new UserEventBuffer(config.userEventBufferSize);
    const now = options.nowMs;
    this.#self = {
      id: options.id,
      host: options.address.host,
      port: options.address.port,
      meta,
      incarnation: 1,
      state: "alive",
      stateChangeMs: now,
    };
    this.#members.set(this.id, this.#self);
    this.#broadcastAliveSelf();
    this.#lastTickMs = now;
    this.#nextProbeMs = now + Math.floor(this.#random() * config.probeIntervalMs);
    this.#nextGossipMs = now + Math.floor(this.#random() * config.gossipIntervalMs);
    this.#nextPushPullMs = now + this.#jittered(config.pushPullIntervalMs);
    this.#nextReconnectMs = now + this.#jittered(config.reconnectIntervalMs);
    this.#nextReapMs = now + config.gossipIntervalMs;
  }

  // ---------------------------------------------------------------- public inputs

  /**
   * Starts a push-pull with each seed (the driver then reports each reply or failure). Seeds are
   * remembered and retried every `reconnectIntervalMs` while none of them is a live member.
   */
  join(seeds: Address[], nowMs: number): void {
    this.#seeds = seeds.filter((s) => !(s.host === this.#self.host && s.port === this.#self.port));
    for (const seed of this.#seeds) this.#startStream(seed, true);
    this.#lastTickMs = Math.max(this.#lastTickMs, nowMs);
  }

  /**
   * Announces a graceful leave: peers will mark this node `left`, not `dead`. Keep calling `tick`
   * and answering packets until `leaveSpread()` is true or `leaveTimeoutMs` passed, then stop.
   */
  leave(nowMs: number): void {
    if (this.#left) return;
    this.#left = true;
    this.#probe = null;
    this.#handleDead(
      { type: "dead", incarnation: this.#self.incarnation, id: this.id, fromId: this.id },
      nowMs,
    );
  }

  /** True once the leave announcement has been sent its full number of times (or no one is left). */
  leaveSpread(): boolean {
    if (!this.#left) return false;
    if (this.#liveCount() <= 1) return true;
    const transmits = this.#queue.transmits(memberKey(this.id));
    return transmits === -1 || transmits >= this.config.gossipNodes;
  }

  /** Replaces this node's metadata and spreads it (peers get an `update` event). */
  setMeta(meta: Uint8Array): void {
    checkMeta(meta);
    this.#self.meta = meta;
    this.#self.incarnation++;
    this.#broadcastAliveSelf();
  }

  /**
   * Sends a user event to every member (and to this node's own subscribers). Throws a
   * `RangeError` when the name or payload is too large.
   */
  sendUserEvent(name: string, payload: Uint8Array): number {
    if (utf8Length(name) > MAX_USER_EVENT_NAME_BYTES) {
      throw new RangeError(
        `Cannot send user event: name must be at most ${MAX_USER_EVENT_NAME_BYTES} bytes: current value is ${
          utf8Length(name)
        } bytes`,
      );
    }
    if (payload.length > MAX_USER_EVENT_PAYLOAD_BYTES) {
      throw new RangeError(
        `Cannot send user event: payload must be at most ${MAX_USER_EVENT_PAYLOAD_BYTES} bytes: current value is ${payload.length} bytes`,
      );
    }
    const ltime = this.#clock.next();
    const message: UserMessage = { type: "user", ltime, name, payload, originId: this.id };
    this.#eventBuffer.offer({ ...message, currentLtime: this.#clock.time });
    this.#queue.push(`u:${this.id}:${this.#userSeq++}`, encodeMessage(message));
    this.#out.events.push({ type: "user", name, payload, ltime, originId: this.id });
    return ltime;
  }

  /** Feeds a datagram (already decrypted) received from `from`. */
  receivePacket(from: Address, bytes: Uint8Array, nowMs: number): void {
    this.stats.packetsReceived++;
    this.stats.bytesReceived += bytes.length;
    let messages: PacketMessage[];
    try {
      messages = decodePacket(bytes);
    } catch {
      this.stats.malformedDropped++;
      return;
    }
    for (const message of messages) this.#handleMessage(from, message, nowMs);
  }

  /**
   * Answers a push-pull stream from a peer: returns the reply to send back (this node's state
   * before merging), or `null` when the request was malformed.
   */
  receiveStream(_from: Address, bytes: Uint8Array, nowMs: number): Uint8Array | null {
    let request;
    try {
      request = decodePushPull(bytes);
    } catch {
      this.stats.malformedDropped++;
      return null;
    }
    const reply = this.#encodeState(false);
    this.#mergeState(request, nowMs);
    return reply;
  }

  /** Feeds the peer's reply to a push-pull this node started. */
  receiveStreamReply(requestId: number, bytes: Uint8Array, nowMs: number): void {
    const pending = this.#pendingStreams.get(requestId);
    if (pending === undefined) return;
    this.#pendingStreams.delete(requestId);
    let reply;
    try {
      reply = decodePushPull(bytes);
    } catch {
      this.stats.malformedDropped++;
      return;
    }
    // Events from before this node joined are not replayed to it (serf's ignoreOld).
    if (pending.join) this.#eventMinLtime = Math.max(this.#eventMinLtime, reply.eventLtime);
    this.#mergeState(reply, nowMs);
  }

  /** Reports that a push-pull this node started failed (refused, timed out, closed). */
  streamFailed(requestId: number): void {
    if (this.#pendingStreams.delete(requestId)) this.stats.streamsFailed++;
  }

  /** Runs the timers due at `nowMs`: probes, gossip, push-pull, suspicions, reconnects, reaping. */
  tick(nowMs: number): void {
    const gapMs = nowMs - this.#lastTickMs;
    this.#lastTickMs = nowMs;
    if (gapMs > this.config.stallThresholdMs) this.#onStall(gapMs);
    this.#tickSuspicions(nowMs);
    this.#tickRelays(nowMs);
    if (!this.#left) this.#tickProbe(nowMs);
    if (nowMs >= this.#nextGossipMs) {
      this.#nextGossipMs = nowMs + this.config.gossipIntervalMs;
      this.#gossip(nowMs);
    }
    if (!this.#left) this.#tickStreams(nowMs);
    if (nowMs >= this.#nextReapMs) {
      this.#nextReapMs = nowMs + this.config.gossipIntervalMs * 5;
      this.#reap(nowMs);
    }
  }

  /**
   * Reports a stall of the event loop measured by the driver: it stretches this node's own
   * timeouts (Lifeguard's local health), as a missed nack would.
   */
  reportLoopLag(lagMs: number): void {
    if (lagMs <= this.config.stallThresholdMs) return;
    this.#awareness.applyDelta(Math.max(1, Math.floor(lagMs / this.config.probeIntervalMs)));
  }

  // ---------------------------------------------------------------- public outputs and queries

  /** Takes everything to do since the last call. */
  drain(): GossipOutput {
    const out = this.#out;
    this.#out = { packets: [], streams: [], events: [] };
    return out;
  }

  /** Every known member, this node included, dead and left ones until they are forgotten. */
  members(): Member[] {
    return [...this.#members.values()].map(toMember);
  }

  /** One member, or undefined when unknown. */
  member(id: string): Member | undefined {
    const entry = this.#members.get(id);
    return entry === undefined ? undefined : toMember(entry);
  }

  /** Members alive or suspect, this node included. */
  liveMembers(): Member[] {
    return this.members().filter((m) => m.state === "alive" || m.state === "suspect");
  }

  /** Lifeguard's local health score: 0 is healthy, up to `awarenessMaxMultiplier - 1`. */
  healthScore(): number {
    return this.#awareness.healthScore();
  }

  /** This node's incarnation number. */
  get incarnation(): number {
    return this.#self.incarnation;
  }

  /** True after `leave()`. */
  get hasLeft(): boolean {
    return this.#left;
  }

  /** Broadcasts waiting to be piggybacked. */
  get queuedBroadcasts(): number {
    return this.#queue.size;
  }

  // ---------------------------------------------------------------- message handling

  #handleMessage(from: Address, message: PacketMessage, nowMs: number): void {
    switch (message.type) {
      case "ping":
        if (message.targetId !== this.id) {
          this.stats.wrongTargetPings++;
          return;
        }
        this.#send(from, [encodeMessage({ type: "ack", seq: message.seq })]);
        return;
      case "indirectPing":
        return this.#handleIndirectPing(from, message, nowMs);
      case "ack":
        return this.#handleAck(message.seq);
      case "nack":
        if (this.#probe !== null && this.#probe.seq === message.seq) this.#probe.nacks++;
        return;
      case "suspect":
        return this.#handleSuspect(message, nowMs);
      case "alive":
        return this.#handleAlive(message, nowMs);
      case "dead":
        return this.#handleDead(message, nowMs);
      case "user":
        return this.#handleUser(message);
    }
  }

  #handleIndirectPing(from: Address, message: IndirectPingMessage, nowMs: number): void {
    if (this.#relays.size >= this.config.maxRelays) return;
    const seq = ++this.#seq;
    this.#relays.set(seq, {
      originSeq: message.seq,
      origin: from,
      deadlineMs: nowMs + this.config.probeTimeoutMs,
      nack: message.nack,
    });
    this.#send({ host: message.host, port: message.port }, [
      encodeMessage({ type: "ping", seq, targetId: message.targetId, fromId: this.id }),
    ]);
  }

  #handleAck(seq: number): void {
    const probe = this.#probe;
    if (probe !== null && probe.seq === seq) {
      this.#probe = null;
      this.#awareness.applyDelta(-1);
      return;
    }
    const relay = this.#relays.get(seq);
    if (relay !== undefined) {
      this.#relays.delete(seq);
      this.#send(relay.origin, [encodeMessage({ type: "ack", seq: relay.originSeq })]);
    }
  }

  #handleAlive(message: AliveMessage, nowMs: number): void {
    if (message.id === this.id && this.#left) return;
    if (utf8Length(message.id) > MAX_ID_BYTES || message.meta.length > MAX_META_BYTES) {
      this.stats.malformedDropped++;
      return;
    }
    let entry = this.#members.get(message.id);
    let takesNewAddress = false;
    if (entry === undefined) {
      if (this.#members.size >= this.config.maxMembers) return;
      entry = {
        id: message.id,
        host: message.host,
        port: message.port,
        meta: message.meta,
        incarnation: 0,
        state: "dead",
        stateChangeMs: nowMs,
      };
      this.#members.set(entry.id, entry);
      this.#addToProbeOrder(entry.id);
    } else if (entry.host !== message.host || entry.port !== message.port) {
      const reclaimable = this.config.deadNodeReclaimMs > 0 &&
        nowMs - entry.stateChangeMs > this.config.deadNodeReclaimMs;
      if (entry.state === "left" || (entry.state === "dead" && reclaimable)) {
        takesNewAddress = true;
      } else {
        this.stats.addressConflicts++;
        this.#emit({ type: "conflict", id: message.id, host: message.host, port: message.port });
        return;
      }
    }
    const isSelf = entry === this.#self;
    if (message.incarnation <= entry.incarnation && !isSelf && !takesNewAddress) return;
    if (message.incarnation < entry.incarnation && isSelf) return;
    this.#suspicions.delete(entry.id);
    if (isSelf) {
      const same = message.incarnation === entry.incarnation && sameBytes(message.meta, entry.meta);
      if (!same) this.#refute(message.incarnation);
      return;
    }
    this.#queue.push(memberKey(entry.id), encodeMessage(message));
    const oldState = entry.state;
    const metaChanged = !sameBytes(entry.meta, message.meta);
    entry.incarnation = message.incarnation;
    entry.meta = message.meta;
    entry.host = message.host;
    entry.port = message.port;
    if (entry.state !== "alive") {
      entry.state = "alive";
      entry.stateChangeMs = nowMs;
    }
    if (oldState === "dead" || oldState === "left") {
      this.#addToProbeOrder(entry.id);
      this.#emit({ type: "join", member: toMember(entry) });
    } else if (metaChanged) {
      this.#emit({ type: "update", member: toMember(entry) });
    }
  }

  #handleSuspect(message: SuspectMessage, nowMs: number): void {
    const entry = this.#members.get(message.id);
    if (entry === undefined) return;
    if (message.incarnation < entry.incarnation) return;
    const existing = this.#suspicions.get(entry.id);
    if (existing !== undefined) {
      if (existing.confirm(message.fromId, nowMs)) {
        this.#queue.push(memberKey(entry.id), encodeMessage(message));
      }
      return;
    }
    if (entry.state !== "alive") return;
    if (entry === this.#self) {
      this.#refute(message.incarnation);
      return;
    }
    this.#queue.push(memberKey(entry.id), encodeMessage(message));
    this.stats.suspicionsRaised++;
    entry.incarnation = message.incarnation;
    entry.state = "suspect";
    entry.stateChangeMs = nowMs;
    const n = this.#liveCount();
    let k = this.config.suspicionMult - 2;
    if (n - 2 < k) k = 0;
    const minMs = suspicionTimeoutMs(this.config.suspicionMult, n, this.config.probeIntervalMs);
    const maxMs = this.config.suspicionMaxTimeoutMult * minMs;
    this.#suspicions.set(
      entry.id,
      new Suspicion({ from: message.fromId, k, minMs, maxMs, startMs: nowMs }),
    );
  }

  #handleDead(message: DeadMessage, nowMs: number): void {
    const entry = this.#members.get(message.id);
    if (entry === undefined) return;
    if (message.incarnation < entry.incarnation) return;
    this.#suspicions.delete(entry.id);
    if (entry.state === "dead" || entry.state === "left") return;
    if (entry === this.#self && !this.#left) {
      this.#refute(message.incarnation);
      return;
    }
    this.#queue.push(memberKey(entry.id), encodeMessage(message));
    entry.incarnation = message.incarnation;
    entry.state = message.fromId === message.id ? "left" : "dead";
    entry.stateChangeMs = nowMs;
    if (entry === this.#self) return;
    this.#emit({ type: entry.state === "left" ? "leave" : "fail", member: toMember(entry) });
  }

  #handleUser(message: UserMessage): void {
    if (
      message.payload.length > MAX_USER_EVENT_PAYLOAD_BYTES ||
      utf8Length(message.name) > MAX_USER_EVENT_NAME_BYTES
    ) {
      this.stats.malformedDropped++;
      return;
    }
    this.#clock.witness(message.ltime);
    if (message.ltime < this.#eventMinLtime) {
      this.stats.userEventsTooOld++;
      return;
    }
    const verdict = this.#eventBuffer.offer({ ...message, currentLtime: this.#clock.time });
    if (verdict === "duplicate") {
      this.stats.userEventsDuplicate++;
      return;
    }
    if (verdict === "too-old") {
      this.stats.userEventsTooOld++;
      return;
    }
    this.#queue.push(`u:${this.id}:${this.#userSeq++}`, encodeMessage(message));
    this.#emit({
      type: "user",
      name: message.name,
      payload: message.payload,
      ltime: message.ltime,
      originId: message.originId,
    });
  }

  #refute(accusedIncarnation: number): void {
    let incarnation = this.#self.incarnation + 1;
    if (accusedIncarnation >= incarnation) incarnation = accusedIncarnation + 1;
    this.#self.incarnation = incarnation;
    this.#awareness.applyDelta(1);
    this.stats.refutations++;
    this.#broadcastAliveSelf();
  }

  #broadcastAliveSelf(): void {
    const s = this.#self;
    this.#queue.push(
      memberKey(s.id),
      encodeMessage({
        type: "alive",
        incarnation: s.incarnation,
        id: s.id,
        host: s.host,
        port: s.port,
        meta: s.meta,
      }),
    );
  }

  // ---------------------------------------------------------------- probing

  #tickProbe(nowMs: number): void {
    const probe = this.#probe;
    if (probe !== null) {
      if (!probe.indirectSent && nowMs >= probe.directDeadlineMs) this.#sendIndirect(probe);
      if (nowMs >= probe.endMs) this.#probeFailed(probe, nowMs);
    }
    if (this.#probe === null && nowMs >= this.#nextProbeMs) this.#startProbe(nowMs);
  }

  #startProbe(nowMs: number): void {
    const intervalMs = this.#awareness.scaleTimeoutMs(this.config.probeIntervalMs);
    this.#nextProbeMs = nowMs + intervalMs;
    const target = this.#nextProbeTarget();
    if (target === undefined) return;
    this.stats.probes++;
    const seq = ++this.#seq;
    const messages = [encodeMessage({ type: "ping", seq, targetId: target.id, fromId: this.id })];
    if (target.state === "suspect") {
      messages.push(encodeMessage({
        type: "suspect",
        incarnation: target.incarnation,
        id: target.id,
        fromId: this.id,
      }));
    }
    this.#send(addressOf(target), messages);
    this.#probe = {
      seq,
      targetId: target.id,
      directDeadlineMs: nowMs + this.config.probeTimeoutMs,
      endMs: nowMs + intervalMs,
      indirectSent: false,
      expectedNacks: 0,
      nacks: 0,
    };
  }

  #nextProbeTarget(): Entry | undefined {
    for (let scanned = 0; scanned <= this.#probeOrder.length; scanned++) {
      if (this.#probeIndex >= this.#probeOrder.length) this.#resetProbeOrder();
      if (this.#probeOrder.length === 0) return undefined;
      const entry = this.#members.get(this.#probeOrder[this.#probeIndex++]);
      if (entry !== undefined && (entry.state === "alive" || entry.state === "suspect")) {
        return entry;
      }
    }
    return undefined;
  }

  #resetProbeOrder(): void {
    const ids: string[] = [];
    for (const entry of this.#members.values()) {
      if (entry === this.#self) continue;
      if (entry.state === "alive" || entry.state === "suspect") ids.push(entry.id);
    }
    shuffle(ids, this.#random);
    this.#probeOrder = ids;
    this.#probeIndex = 0;
  }

  #addToProbeOrder(id: string): void {
    const from = this.#probeIndex;
    const at = from + Math.floor(this.#random() * (this.#probeOrder.length - from + 1));
    this.#probeOrder.splice(at, 0, id);
  }

  #sendIndirect(probe: Probe): void {
    probe.indirectSent = true;
    const target = this.#members.get(probe.targetId);
    if (target === undefined) return;
    const relays = this.#randomMembers(
      this.config.indirectChecks,
      (e) => e.state === "alive" && e.id !== probe.targetId,
    );
    const message = encodeMessage({
      type: "indirectPing",
      seq: probe.seq,
      targetId: target.id,
      host: target.host,
      port: target.port,
      nack: this.config.nacks,
      fromId: this.id,
    });
    for (const relay of relays) {
      if (this.config.nacks) probe.expectedNacks++;
      this.#send(addressOf(relay), [message]);
    }
  }

  #probeFailed(probe: Probe, nowMs: number): void {
    this.#probe = null;
    this.stats.probesFailed++;
    if (probe.expectedNacks > 0) {
      if (probe.nacks < probe.expectedNacks) {
        this.#awareness.applyDelta(probe.expectedNacks - probe.nacks);
      }
    } else {
      this.#awareness.applyDelta(1);
    }
    const target = this.#members.get(probe.targetId);
    if (target === undefined) return;
    this.#handleSuspect(
      { type: "suspect", incarnation: target.incarnation, id: target.id, fromId: this.id },
      nowMs,
    );
  }

  #tickRelays(nowMs: number): void {
    for (const [seq, relay] of this.#relays) {
      if (nowMs < relay.deadlineMs) continue;
      this.#relays.delete(seq);
      if (relay.nack) {
        this.#send(relay.origin, [encodeMessage({ type: "nack", seq: relay.originSeq })]);
      }
    }
  }

  #tickSuspicions(nowMs: number): void {
    for (const [id, suspicion] of this.#suspicions) {
      if (nowMs < suspicion.deadlineMs) continue;
      this.#suspicions.delete(id);
      const entry = this.#members.get(id);
      if (entry === undefined || entry.state !== "suspect") continue;
      this.#handleDead(
        { type: "dead", incarnation: entry.incarnation, id, fromId: this.id },
        nowMs,
      );
    }
  }

  /**
   * This node's own loop stalled for `gapMs`: peers could not refute to it meanwhile, so every
   * pending deadline moves later by the gap, and local health gets worse.
   */
  #onStall(gapMs: number): void {
    this.stats.stallsDetected++;
    this.stats.longestStallMs = Math.max(this.stats.longestStallMs, gapMs);
    for (const suspicion of this.#suspicions.values()) suspicion.postpone(gapMs);
    for (const relay of this.#relays.values()) relay.deadlineMs += gapMs;
    if (this.#probe !== null) {
      this.#probe.directDeadlineMs += gapMs;
      this.#probe.endMs += gapMs;
    }
    this.reportLoopLag(gapMs);
    if (gapMs >= this.config.probeTimeoutMs && !this.#left) this.#announceAfterStall();
  }

  /**
   * Peers have probably suspected this node while its loop was stalled: refute at once and tell
   * up to `STALL_ANNOUNCE_MAX_NODES` members directly, rather than waiting for them to gossip
   * their suspicion here first and the refutation back, which can take longer than the timeout.
   */
  #announceAfterStall(): void {
    this.#refute(this.#self.incarnation);
    const s = this.#self;
    const alive = encodeMessage({
      type: "alive",
      incarnation: s.incarnation,
      id: s.id,
      host: s.host,
      port: s.port,
      meta: s.meta,
    });
    const targets = this.#randomMembers(
      STALL_ANNOUNCE_MAX_NODES,
      (e) => e.state === "alive" || e.state === "suspect",
    );
    for (const target of targets) this.#emitPacket(addressOf(target), [alive]);
  }

  // ---------------------------------------------------------------- dissemination

  #gossip(nowMs: number): void {
    if (this.#queue.size === 0) return;
    const targets = this.#randomMembers(this.config.gossipNodes, (e) => {
      if (e.state === "alive" || e.state === "suspect") return true;
      return e.state === "dead" && nowMs - e.stateChangeMs < this.config.gossipToTheDeadMs;
    });
    for (const target of targets) {
      const broadcasts = this.#queue.take({
        budgetBytes: this.#packetBudgetBytes,
        transmitLimit: this.#transmitLimit(),
      });
      if (broadcasts.length === 0) return;
      this.#emitPacket(addressOf(target), broadcasts);
    }
  }

  /** Sends `messages` to `to` in one datagram, filling the rest of it with broadcasts. */
  #send(to: Address, messages: Uint8Array[]): void {
    let used = 0;
    for (const m of messages) used += m.length;
    assert(used <= this.#packetBudgetBytes, "primary messages fit in one datagram");
    const broadcasts = this.#queue.take({
      budgetBytes: this.#packetBudgetBytes - used,
      transmitLimit: this.#transmitLimit(),
    });
    this.#emitPacket(to, broadcasts.length === 0 ? messages : messages.concat(broadcasts));
  }

  #emitPacket(to: Address, messages: Uint8Array[]): void {
    const bytes = encodePacket(messages);
    assert(
      bytes.length <= this.#packetBudgetBytes + PACKET_OVERHEAD_BYTES,
      "a datagram fits its budget",
    );
    this.stats.packetsSent++;
    this.stats.bytesSent += bytes.length;
    this.#out.packets.push({ to, bytes });
  }

  #transmitLimit(): number {
    return Math.max(1, retransmitLimit(this.config.retransmitMult, this.#liveCount()));
  }

  // ---------------------------------------------------------------- push-pull, reconnect, reap

  #tickStreams(nowMs: number): void {
    if (this.config.pushPullIntervalMs > 0 && nowMs >= this.#nextPushPullMs) {
      const n = this.#liveCount();
      this.#nextPushPullMs = nowMs + pushPullScaleMs(this.config.pushPullIntervalMs, n);
      const [peer] = this.#randomMembers(1, (e) => e.state === "alive");
      if (peer !== undefined) this.#startStream(addressOf(peer), false);
    }
    if (this.config.reconnectIntervalMs > 0 && nowMs >= this.#nextReconnectMs) {
      this.#nextReconnectMs = nowMs + this.#jittered(this.config.reconnectIntervalMs);
      this.#reconnect();
    }
  }

  /** Rejoins a random failed member, or a seed when no seed is a live member: heals partitions. */
  #reconnect(): void {
    const candidates: Address[] = [];
    for (const entry of this.#members.values()) {
      if (entry.state === "dead") candidates.push(addressOf(entry));
    }
    const live = new Set<string>();
    for (const entry of this.#members.values()) {
      if (entry !== this.#self && (entry.state === "alive" || entry.state === "suspect")) {
        live.add(`${entry.host}:${entry.port}`);
      }
    }
    for (const seed of this.#seeds) {
      if (!live.has(`${seed.host}:${seed.port}`)) candidates.push(seed);
    }
    if (candidates.length === 0) return;
    this.#startStream(candidates[Math.floor(this.#random() * candidates.length)], true);
  }

  #startStream(to: Address, join: boolean): void {
    if (this.#pendingStreams.size >= this.config.maxRelays) return;
    const requestId = ++this.#streamSeq;
    this.#pendingStreams.set(requestId, { to, join });
    this.stats.streamsStarted++;
    const stream: OutgoingStream = { requestId, to, bytes: this.#encodeState(join), join };
    this.#out.streams.push(stream);
  }

  #encodeState(join: boolean): Uint8Array {
    const members: PushPullEntry[] = [];
    for (const e of this.#members.values()) {
      members.push({
        id: e.id,
        host: e.host,
        port: e.port,
        incarnation: e.incarnation,
        state: e.state,
        meta: e.meta,
      });
    }
    const time = this.#clock.time;
    const events = this.#eventBuffer.recent(time, PUSH_PULL_EVENTS)
      .map((e): UserMessage => ({ type: "user", ...e }));
    return encodePushPull({ type: "pushPull", join, members, eventLtime: time, events });
  }

  #mergeState(state: PushPullMessage, nowMs: number): void {
    for (const event of state.events) this.#handleUser(event);
    this.#clock.witness(state.eventLtime);
    for (const m of state.members) {
      switch (m.state) {
        case "alive":
          this.#handleAlive({ type: "alive", ...m }, nowMs);
          break;
        case "left":
          this.#handleDead(
            { type: "dead", incarnation: m.incarnation, id: m.id, fromId: m.id },
            nowMs,
          );
          break;
        default:
          // A member the peer thinks dead is only suspected here: it gets a chance to refute.
          this.#handleSuspect(
            { type: "suspect", incarnation: m.incarnation, id: m.id, fromId: this.id },
            nowMs,
          );
      }
    }
  }

  #reap(nowMs: number): void {
    for (const [id, entry] of this.#members) {
      if (entry.state !== "dead" && entry.state !== "left") continue;
      if (entry === this.#self) continue;
      if (nowMs - entry.stateChangeMs > this.config.tombstoneMs) this.#members.delete(id);
    }
    this.stats.broadcastsDropped = this.#queue.dropped;
  }

  // ---------------------------------------------------------------- helpers

  #emit(event: GossipEvent): void {
    this.#out.events.push(event);
  }

  #liveCount(): number {
    let n = 0;
    for (const e of this.#members.values()) if (e.state === "alive" || e.state === "suspect") n++;
    return n;
  }

  #randomMembers(k: number, accept: (e: Entry) => boolean): Entry[] {
    const pool: Entry[] = [];
    for (const e of this.#members.values()) if (e !== this.#self && accept(e)) pool.push(e);
    if (pool.length <= k) return pool;
    for (let i = 0; i < k; i++) {
      const j = i + Math.floor(this.#random() * (pool.length - i));
      [pool[i], pool[j]] = [pool[j], pool[i]];
    }
    return pool.slice(0, k);
  }

  #jittered(intervalMs: number): number {
    const jitter = this.config.reconnectJitter;
    return Math.floor(intervalMs * (1 - jitter + 2 * jitter * this.#random()));
  }
}

function memberKey(id: string): string {
  return `m:${id}`;
}

function addressOf(entry: Entry): Address {
  return { host: entry.host, port: entry.port };
}

function toMember(e: Entry): Member {
  return {
    id: e.id,
    address: addressOf(e),
    meta: e.meta,
    incarnation: e.incarnation,
    state: e.state,
    stateChangeMs: e.stateChangeMs,
  };
}

function shuffle<T>(items: T[], random: () => number): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
}

function checkId(id: string): void {
  const size = utf8Length(id);
  if (size === 0 || size > MAX_ID_BYTES) {
    throw new RangeError(
      `Cannot create gossip node: 'id' must be 1 to ${MAX_ID_BYTES} bytes: current value is ${size} bytes`,
    );
  }
}

function checkMeta(meta: Uint8Array): void {
  if (meta.length > MAX_META_BYTES) {
    throw new RangeError(
      `Cannot set gossip metadata: it must be at most ${MAX_META_BYTES} bytes: current value is ${meta.length} bytes`,
    );
  }
}
