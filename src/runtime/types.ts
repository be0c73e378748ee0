/**
 * The one interface between HyperCache and the runtime it runs on. Everything in `src/` outside
 * `src/runtime/` reaches sockets, files, signals, clocks, timers, randomness and the process only
 * through it, so the cores stay portable (Deno and Bun) and tests can swap in fakes with fault
 * injection, up to a whole simulated world (`tests/sim/`).
 *
 * @module
 */

import type { Clock } from "../clock.ts";

export type { Clock } from "../clock.ts";

declare const timerBrand: unique symbol;

/** A pending timeout or interval, as returned by {@linkcode Timers}: only good for clearing it. */
export type TimerHandle = { readonly [timerBrand]: true };

/**
 * Scheduling: every timer and deferred call outside `src/runtime/` goes through this, so that a
 * simulator can run time forward deterministically (and so can a test with a fake clock).
 */
export interface Timers {
  /** Calls `callback` once, `delayMs` from now (on the runtime's monotonic clock). */
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  /** Cancels a timeout; `undefined` and an already fired or cleared handle are ignored. */
  clearTimeout(handle: TimerHandle | undefined): void;
  /** Calls `callback` every `intervalMs` until cleared. A late run is not repeated to catch up. */
  setInterval(callback: () => void, intervalMs: number): TimerHandle;
  /** Cancels an interval; `undefined` and a cleared handle are ignored. */
  clearInterval(handle: TimerHandle | undefined): void;
  /**
   * Calls `callback` once the code running now has returned, before any timer or I/O callback
   * (a microtask): for work batched within one turn.
   */
  queueMicrotask(callback: () => void): void;
}

/** One accepted or dialled TCP (or TLS) connection. */
export interface TcpConnection {
  /** `host:port` of the peer. */
  readonly remoteAddress: string;
  /**
   * Queues bytes for the peer. The caller may reuse `data` as soon as this returns: adapters copy
   * what they cannot write at once.
   */
  write(data: Uint8Array): void;
  /** Bytes queued but not yet handed to the kernel. Used for output-buffer limits. */
  pendingBytes(): number;
  /** Stops delivering `onData` until `resume()`; used for backpressure. */
  pause(): void;
  resume(): void;
  /** Flushes what is queued, then closes. Idempotent. */
  close(): void;
  /** Application data attached to the connection (the RESP client state, for instance). */
  data: unknown;
}

/** Callbacks for the life of a connection. `onData`'s bytes are only valid during the call. */
export interface TcpHandlers {
  onOpen?(conn: TcpConnection): void;
  onData(conn: TcpConnection, bytes: Uint8Array): void;
  /** Called when queued output has been written and `pendingBytes()` is back to 0. */
  onDrain?(conn: TcpConnection): void;
  onClose?(conn: TcpConnection): void;
}

/** TLS material for a listener, as PEM text. */
export interface TlsOptions {
  certPem: string;
  keyPem: string;
}

export interface TcpListenOptions {
  hostname: string;
  /** 0 picks a free port; read it back from `TcpListener.port`. */
  port: number;
  tls?: TlsOptions;
}

export interface TcpListener {
  readonly port: number;
  /** Stops accepting; open connections are left to their owner. */
  close(): Promise<void>;
}

export interface TcpConnectOptions {
  hostname: string;
  port: number;
  /** Dial with TLS, trusting the given CA certificate (PEM). */
  tls?: { caPem?: string };
}

/** A bound UDP socket. */
export interface UdpSocket {
  readonly port: number;
  send(data: Uint8Array, hostname: string, port: number): void;
  close(): Promise<void>;
}

export interface UdpBindOptions {
  hostname: string;
  port: number;
  onMessage(data: Uint8Array, from: { hostname: string; port: number }): void;
}

/** An open file for appending or random reads. Writes go to the end when opened with "a". */
export interface FileHandle {
  write(data: Uint8Array): Promise<void>;
  /** Flushes the file's data to stable storage (fdatasync). */
  datasync(): Promise<void>;
  /** Current size of the file in bytes. */
  size(): Promise<number>;
  truncate(sizeBytes: number): Promise<void>;
  close(): Promise<void>;
}

/** File-system operations, portable across runtimes and replaceable by a faulty fake in tests. */
export interface FileSystem {
  /** Opens `path`: "a" appends (creating it), "w" truncates (creating it), "r+" reads and writes. */
  open(path: string, mode: "a" | "w" | "r+"): Promise<FileHandle>;
  /** Whole file, or `null` when it does not exist. */
  readFile(path: string): Promise<Uint8Array | null>;
  /** Writes a whole file durably: temporary name, fsync, rename, fsync of the directory. */
  writeFileAtomic(path: string, data: Uint8Array): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  remove(path: string): Promise<void>;
  mkdirp(path: string): Promise<void>;
  readDir(path: string): Promise<string[]>;
  /** fsyncs a directory so that renames and creations in it are durable. */
  syncDir(path: string): Promise<void>;
  /**
   * Blocking variants for what must finish before a synchronous caller returns (SAVE replies
   * only once its snapshot is on disk, as in Redis). Optional: a fake may leave them out.
   */
  sync?: SyncFileSystem;
}

/** The blocking file operations of {@linkcode FileSystem.sync}. */
export interface SyncFileSystem {
  /** Opens `path` now, as `FileSystem.open`; the handle's own methods stay asynchronous. */
  open(path: string, mode: "a" | "w" | "r+"): FileHandle;
  /** `FileSystem.writeFileAtomic`, returning once the file and its directory entry are durable. */
  writeFileAtomic(path: string, data: Uint8Array): void;
}

/** The options of an HTTP server: a fetch handler in the web-standard shape Hono produces. */
export interface HttpServeOptions {
  hostname: string;
  port: number;
  /** The largest body the app takes: a runtime limit of its own must let larger ones through,
   * so that the app, not the runtime, answers them (with its JSON 413). */
  maxBodyBytes?: number;
  fetch(request: Request): Response | Promise<Response>;
}

export interface HttpServer {
  readonly port: number;
  close(): Promise<void>;
}

export type SignalName = "SIGINT" | "SIGTERM";

/** Everything HyperCache needs from Deno or Bun. */
export interface Runtime {
  readonly name: "deno" | "bun";
  readonly version: string;
  readonly clock: Clock;
  /** Timeouts, intervals and deferred calls. */
  readonly timers: Timers;
  /** A uniformly distributed number in [0, 1): for jitter, election timeouts, random peers. Not
   * for secrets (keys come from `node:crypto`). */
  random(): number;
  readonly fs: FileSystem;
  listenTcp(options: TcpListenOptions, handlers: TcpHandlers): Promise<TcpListener>;
  connectTcp(options: TcpConnectOptions, handlers: TcpHandlers): Promise<TcpConnection>;
  bindUdp(options: UdpBindOptions): Promise<UdpSocket>;
  serveHttp(options: HttpServeOptions): Promise<HttpServer>;
  onSignal(signal: SignalName, handler: () => void): void;
  env(name: string): string | undefined;
  args(): string[];
  /** Resident set size of this process in bytes. */
  memoryRssBytes(): number;
  /** Runs a full, compacting garbage collection if the runtime exposes one (Deno needs
   * `--v8-flags=--expose-gc`); false when it cannot. */
  collectGarbage(): boolean;
  /** CPU time this process has used, in microseconds (INFO cpu). */
  cpuUsageMicros(): { user: number; system: number };
  pid(): number;
  exit(code: number): never;
}
