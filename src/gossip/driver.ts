/**
 * Runs a `GossipNode` over real sockets through the `Runtime` interface: UDP datagrams for probes
 * and gossip, TCP on the same port for push-pull, a steady tick, optional AES-256-GCM. Its clock,
 * timers and randomness come from the runtime too, so a simulated runtime runs this very driver. It also
 * watches its own event loop: a tick that comes late is a stall, which the core turns into slower
 * local timeouts (Lifeguard) and an immediate refutation, so a node that was blocked neither
 * accuses healthy peers nor waits to be declared dead.
 *
 * @module
 */
import { concat } from "../_bytes.ts";
import type {
  Runtime,
  TcpConnection,
  TcpListener,
  TimerHandle,
  UdpSocket,
} from "../runtime/types.ts";
import { type GossipConfig, gossipConfig, type GossipProfile, MAX_STREAM_BYTES } from "./config.ts";
import { ENCRYPTED_MARKER, ENCRYPTION_OVERHEAD_BYTES, Keyring } from "./keyring.ts";
import { GossipNode } from "./node.ts";
import type { Address, GossipEvent, GossipStats, Member, OutgoingStream } from "./types.ts";

/** Options of `startGossip`. */
export interface GossipAgentOptions {
  /** Unique, stable name of this node. */
  id: string;
  /** UDP and TCP port; 0 picks a free one. */
  port: number;
  /** Interface to bind. @default "127.0.0.1" */
  bindHost?: string;
  /** Host that peers use to reach this node. @default bindHost */
  advertiseHost?: string;
  /** @default "lan" */
  profile?: GossipProfile;
  /** Overrides of the profile's settings. @default {} */
  config?: Partial<GossipConfig>;
  /** Addresses to join through (also retried periodically while none is a live member). @default [] */
  seeds?: Address[];
  /** @default empty */
  meta?: Uint8Array;
  /** Encrypts every datagram and stream; peers without a matching key are refused. @default none */
  keyring?: Keyring;
  /** Where the keyring is persisted (JSON) when keys are installed, used or removed. @default none */
  keyringPath?: string;
  /** @default currentRuntime() */
  runtime?: Runtime;
}

/** Driver-side counters, on top of the core's. */
export interface GossipAgentStats extends GossipStats {
  /** Datagrams or streams that no installed key opened (or plaintext while encryption is on). */
  undecryptableDropped: number;
  /** Largest delay of a tick behind its schedule: the event loop's worst stall. */
  maxLoopLagMs: number;
  datagramsSent: number;
  datagramBytesSent: number;
}

const FRAME_HEADER_BYTES = 4;
/** Tries to find a port free for both UDP and TCP when asked for port 0. */
const BIND_ATTEMPTS = 20;

/**
 * A running gossip member.
 *
 * @example
 * ```ts ignore
 * import { startGossip } from "./driver.ts";
 * const agent = await startGossip({ id: "a", port: 7946, profile: "local" });
 * agent.subscribe((event) => console.log(event.type));
 * await agent.join([{ host: "127.0.0.1", port: 7947 }]);
 * await agent.leave();
 * await agent.close();
 * ```
 */
export class GossipAgent {
  readonly node: GossipNode;
  readonly address: Address;
  readonly #runtime: Runtime;
  readonly #udp: UdpSocket;
  readonly #tcpClose: () => Promise<void>;
  readonly #keyring: Keyring | undefined;
  readonly #keyringPath: string | undefined;
  readonly #listeners = new Set<(event: GossipEvent) => void>();
  readonly #streamWaiters = new Map<number, (ok: boolean) => void>();
  readonly #tickMs: number;
  #timer: TimerHandle | undefined;
  #lastTickMs: number;
  #closed = false;
  #extra = { undecryptableDropped: 0, maxLoopLagMs: 0, datagramsSent: 0, datagramBytesSent: 0 };

  /** Use `startGossip`. */
  constructor(parts: {
    node: GossipNode;
    address: Address;
    runtime: Runtime;
    udp: UdpSocket;
    tcpClose: () => Promise<void>;
    keyring?: Keyring;
    keyringPath?: string;
  }) {
    this.node = parts.node;
    this.address = parts.address;
    this.#runtime = parts.runtime;
    this.#udp = parts.udp;
    this.#tcpClose = parts.tcpClose;
    this.#keyring = parts.keyring;
    this.#keyringPath = parts.keyringPath;
    const c = this.node.config;
    this.#tickMs = Math.max(5, Math.floor(Math.min(c.gossipIntervalMs, c.probeTimeoutMs) / 5));
    this.#lastTickMs = this.#now();
    this.#timer = this.#runtime.timers.setInterval(() => this.#tick(), this.#tickMs);
  }

  /** Every known member. */
  members(): Member[] {
    return this.node.members();
  }

  /** Members alive or suspect, this node included. */
  liveMembers(): Member[] {
    return this.node.liveMembers();
  }

  /** Calls `listener` for every join, leave, fail, update and user event; returns an unsubscribe. */
  subscribe(listener: (event: GossipEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Joins through `seeds`; resolves with how many answered. */
  async join(seeds: Address[]): Promise<number> {
    this.node.join(seeds, this.#now());
    const results = await Promise.all(this.#flush());
    return results.filter((ok) => ok).length;
  }

  /** Sends a user event to every member. */
  sendUserEvent(name: string, payload: Uint8Array): void {
    this.node.sendUserEvent(name, payload);
    this.#flush();
  }

  /** Replaces this node's metadata. */
  setMeta(meta: Uint8Array): void {
    this.node.setMeta(meta);
    this.#flush();
  }

  /**
   * Leaves gracefully: announces it, waits (at most `leaveTimeoutMs`) for the announcement to
   * spread while still answering probes, then answers a little longer so late probes get acks.
   */
  async leave(): Promise<void> {
    const c = this.node.config;
    this.node.leave(this.#now());
    this.#flush();
    const deadline = this.#now() + c.leaveTimeoutMs;
    while (!this.node.leaveSpread() && this.#now() < deadline && !this.#closed) {
      await this.#sleep(this.#tickMs);
    }
    await this.#sleep(Math.min(c.leaveTimeoutMs, 2 * c.gossipIntervalMs));
  }

  /** Stops the timers and closes the sockets. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#runtime.timers.clearInterval(this.#timer);
    for (const done of this.#streamWaiters.values()) done(false);
    this.#streamWaiters.clear();
    await this.#udp.close();
    await this.#tcpClose();
  }

  /** Core and driver counters. */
  stats(): GossipAgentStats {
    return { ...this.node.stats, ...this.#extra };
  }

  /** Installs a key for decryption (rotation step 1), and persists the keyring. */
  async installKey(key: Uint8Array): Promise<void> {
    this.#requireKeyring().install(key);
    await this.#saveKeyring();
  }

  /** Makes an installed key the primary (rotation step 2), and persists the keyring. */
  async useKey(key: Uint8Array): Promise<void> {
    this.#requireKeyring().use(key);
    await this.#saveKeyring();
  }

  /** Removes a secondary key (rotation step 3), and persists the keyring. */
  async removeKey(key: Uint8Array): Promise<void> {
    this.#requireKeyring().remove(key);
    await this.#saveKeyring();
  }

  // ---------------------------------------------------------------- I/O

  #now(): number {
    return this.#runtime.clock.monotonicMs();
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.#runtime.timers.setTimeout(resolve, ms));
  }

  #tick(): void {
    if (this.#closed) return;
    const now = this.#now();
    const lagMs = now - this.#lastTickMs - this.#tickMs;
    if (lagMs > this.#extra.maxLoopLagMs) this.#extra.maxLoopLagMs = lagMs;
    this.#lastTickMs = now;
    this.node.tick(now);
    this.#flush();
  }

  /** Sends what the core asked for; returns the outcome of the streams it started. */
  #flush(): Promise<boolean>[] {
    const out = this.node.drain();
    for (const p of out.packets) {
      const bytes = this.#seal(p.bytes);
      this.#extra.datagramsSent++;
      this.#extra.datagramBytesSent += bytes.length;
      if (!this.#closed) this.#udp.send(bytes, p.to.host, p.to.port);
    }
    const streams = out.streams.map((s) => this.#startStream(s));
    for (const event of out.events) {
      for (const listener of this.#listeners) {
        try {
          listener(event);
        } catch {
          // A subscriber's error must not stop the membership.
        }
      }
    }
    return streams;
  }

  /** Feeds a received datagram (called by the UDP socket `startGossip` binds). */
  onDatagram(data: Uint8Array, from: { hostname: string; port: number }): void {
    if (this.#closed) return;
    const plain = this.#open(data);
    if (plain === null) return;
    this.node.receivePacket({ host: from.hostname, port: from.port }, plain, this.#now());
    this.#flush();
  }

  /** Answers one push-pull frame on an accepted connection (called by the TCP listener). */
  onStreamFrame(conn: TcpConnection, frame: Uint8Array): void {
    const plain = this.#open(frame);
    if (plain === null || this.#closed) return conn.close();
    const [host, port] = splitAddress(conn.remoteAddress);
    const reply = this.node.receiveStream({ host, port }, plain, this.#now());
    this.#flush();
    if (reply !== null) conn.write(frameOf(this.#seal(reply)));
    conn.close();
  }

  #startStream(stream: OutgoingStream): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      let settled = false;
      const finish = (reply: Uint8Array | null) => {
        if (settled) return;
        settled = true;
        this.#runtime.timers.clearTimeout(timer);
        this.#streamWaiters.delete(stream.requestId);
        const plain = reply === null ? null : this.#open(reply);
        if (plain === null || this.#closed) {
          this.node.streamFailed(stream.requestId);
          resolve(false);
        } else {
          this.node.receiveStreamReply(stream.requestId, plain, this.#now());
          resolve(true);
        }
        this.#flush();
      };
      const timer = this.#runtime.timers.setTimeout(
        () => finish(null),
        this.node.config.tcpTimeoutMs,
      );
      this.#streamWaiters.set(stream.requestId, () => finish(null));
      const reader = new FrameReader((frame) => finish(frame));
      this.#runtime.connectTcp({ hostname: stream.to.host, port: stream.to.port }, {
        onData: (conn, bytes) => {
          if (!reader.push(bytes)) conn.close();
        },
        onClose: () => finish(null),
      }).then(
        (conn) => {
          if (settled) return conn.close();
          conn.write(frameOf(this.#seal(stream.bytes)));
        },
        () => finish(null),
      );
    });
  }

  #seal(plain: Uint8Array): Uint8Array {
    return this.#keyring === undefined ? plain : this.#keyring.encrypt(plain);
  }

  #open(data: Uint8Array): Uint8Array | null {
    const encrypted = data.length > 0 && data[0] === ENCRYPTED_MARKER;
    if (this.#keyring === undefined) {
      if (!encrypted) return data;
      this.#extra.undecryptableDropped++;
      return null;
    }
    const plain = encrypted ? this.#keyring.decrypt(data) : null;
    if (plain === null) this.#extra.undecryptableDropped++;
    return plain;
  }

  #requireKeyring(): Keyring {
    if (this.#keyring === undefined) {
      throw new TypeError("Cannot change gossip keys: encryption is off (start with a keyring)");
    }
    return this.#keyring;
  }

  async #saveKeyring(): Promise<void> {
    if (this.#keyringPath === undefined || this.#keyring === undefined) return;
    const json = JSON.stringify(this.#keyring.toJson());
    await this.#runtime.fs.writeFileAtomic(this.#keyringPath, new TextEncoder().encode(json));
  }
}

/** Accumulates length-prefixed frames (4-byte big-endian length, then payload). */
class FrameReader {
  #chunks: Uint8Array[] = [];
  #size = 0;
  #done = false;
  constructor(readonly onFrame: (frame: Uint8Array) => void) {}

  /** Returns false when the frame is too large: the connection should be closed. */
  push(bytes: Uint8Array): boolean {
    if (this.#done) return true;
    this.#chunks.push(bytes.slice());
    this.#size += bytes.length;
    const all = this.#chunks.length === 1 ? this.#chunks[0] : concat(this.#chunks);
    this.#chunks = [all];
    if (all.length < FRAME_HEADER_BYTES) return true;
    const length = new DataView(all.buffer, all.byteOffset, 4).getUint32(0);
    if (length > MAX_STREAM_BYTES + ENCRYPTION_OVERHEAD_BYTES) return false;
    if (all.length < FRAME_HEADER_BYTES + length) return true;
    this.#done = true;
    this.onFrame(all.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + length));
    return true;
  }
}

function frameOf(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_BYTES + payload.length);
  new DataView(out.buffer).setUint32(0, payload.length);
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

function splitAddress(address: string): [string, number] {
  const at = address.lastIndexOf(":");
  return [address.slice(0, at), Number(address.slice(at + 1))];
}

/**
 * Binds UDP and TCP, starts the gossip member and joins the seeds, if any.
 *
 * @example
 * ```ts ignore
 * import { startGossip } from "./driver.ts";
 * import { Keyring } from "./keyring.ts";
 * const agent = await startGossip({
 *   id: "node-1",
 *   port: 7946,
 *   profile: "lan",
 *   seeds: [{ host: "127.0.0.1", port: 7947 }],
 *   keyring: new Keyring([Keyring.parseKey("...base64 of 32 bytes...")]),
 * });
 * ```
 */
export async function startGossip(options: GossipAgentOptions): Promise<GossipAgent> {
  const runtime = options.runtime ?? await (await import("../runtime/mod.ts")).currentRuntime();
  const bindHost = options.bindHost ?? "127.0.0.1";
  const config = gossipConfig(options.profile ?? "lan", options.config ?? {});
  let keyring = options.keyring;
  if (options.keyringPath !== undefined) {
    const saved = await runtime.fs.readFile(options.keyringPath);
    if (saved !== null) keyring = Keyring.fromJson(JSON.parse(new TextDecoder().decode(saved)));
  }
  const ref: { agent?: GossipAgent } = {};
  const early: [Uint8Array, { hostname: string; port: number }][] = [];
  const frames = new WeakMap<TcpConnection, FrameReader>();
  const idleTimers = new WeakMap<TcpConnection, TimerHandle>();
  const bindBoth = async (): Promise<[UdpSocket, TcpListener]> => {
    const udp = await runtime.bindUdp({
      hostname: bindHost,
      port: options.port,
      onMessage(data, from) {
        if (ref.agent !== undefined) ref.agent.onDatagram(data, from);
        else if (early.length < 64) early.push([data.slice(), from]);
      },
    });
    try {
      const tcp = await runtime.listenTcp({ hostname: bindHost, port: udp.port }, {
        onOpen(conn) {
          idleTimers.set(conn, runtime.timers.setTimeout(() => conn.close(), config.tcpTimeoutMs));
        },
        onClose(conn) {
          runtime.timers.clearTimeout(idleTimers.get(conn));
        },
        onData(conn, bytes) {
          let reader = frames.get(conn);
          if (reader === undefined) {
            reader = new FrameReader((frame) =>
              ref.agent?.onStreamFrame(conn, frame) ?? conn.close()
            );
            frames.set(conn, reader);
          }
          if (!reader.push(bytes)) conn.close();
        },
      });
      return [udp, tcp];
    } catch (error) {
      await udp.close();
      throw error;
    }
  };
  let udp: UdpSocket, tcp: TcpListener;
  for (let attempt = 1;; attempt++) {
    try {
      [udp, tcp] = await bindBoth();
      break;
    } catch (error) {
      // With port 0 the UDP port the kernel picked may be taken for TCP: pick again.
      if (options.port !== 0 || attempt >= BIND_ATTEMPTS) throw error;
    }
  }
  const address = { host: options.advertiseHost ?? bindHost, port: udp.port };
  const node = new GossipNode({
    id: options.id,
    address,
    meta: options.meta,
    config,
    nowMs: runtime.clock.monotonicMs(),
    random: () => runtime.random(),
    packetOverheadBytes: keyring === undefined ? 0 : ENCRYPTION_OVERHEAD_BYTES,
  });
  const agent = new GossipAgent({
    node,
    address,
    runtime,
    udp,
    tcpClose: () => tcp.close(),
    keyring,
    keyringPath: options.keyringPath,
  });
  ref.agent = agent;
  for (const [data, from] of early) agent.onDatagram(data, from);
  if (options.keyringPath !== undefined && keyring !== undefined) {
    await agent.installKey(keyring.primaryKey());
  }
  if ((options.seeds ?? []).length > 0) await agent.join(options.seeds ?? []);
  return agent;
}
