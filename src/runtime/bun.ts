/**
 * The Bun adapter: `Bun.listen`/`Bun.connect` for TCP (callback sockets, the fastest option
 * measured on Bun), `Bun.serve` for HTTP, `node:fs/promises` and `node:dgram` for files and UDP.
 *
 * @module
 */
import { endOfTurn, Outbox } from "./_batch.ts";
import { nodeFileSystem } from "./node_fs.ts";
import { systemClock, systemRandom, systemTimers } from "./system.ts";
import { bindNodeUdp } from "./node_udp.ts";
import type { Runtime, SignalName, TcpConnection, TcpHandlers, TcpListenOptions } from "./types.ts";

/** The part of Bun's socket API this adapter uses. */
interface BunSocket {
  data: BunConnection;
  remoteAddress: string;
  write(data: Uint8Array): number;
  end(): void;
  flush?(): void;
  pause?(): void;
  resume?(): void;
  setNoDelay?(noDelay: boolean): void;
}

interface BunSocketHandlers {
  open(socket: BunSocket): void;
  data(socket: BunSocket, data: Uint8Array): void;
  drain(socket: BunSocket): void;
  close(socket: BunSocket): void;
  error(socket: BunSocket, error: Error): void;
  connectError?(socket: BunSocket, error: Error): void;
}

interface BunGlobal {
  version: string;
  gc(force: boolean): void;
  listen(options: {
    hostname: string;
    port: number;
    tls?: { cert: string; key: string };
    socket: BunSocketHandlers;
  }): { port: number; stop(closeActive?: boolean): void };
  connect(options: {
    hostname: string;
    port: number;
    tls?: boolean | { ca?: string };
    socket: BunSocketHandlers;
  }): Promise<BunSocket>;
  serve(options: {
    hostname: string;
    port: number;
    maxRequestBodySize?: number;
    fetch(request: Request): Response | Promise<Response>;
  }): { port: number; stop(closeActive?: boolean): Promise<void> | void };
}

declare const Bun: BunGlobal;

const queueFlush = endOfTurn((conn: BunConnection) => conn.flush());

class BunConnection implements TcpConnection {
  data: unknown = undefined;
  readonly remoteAddress: string;
  private readonly outbox = new Outbox();
  /** Queued (`queueFlush`) to write at the end of this turn. */
  private flushWaiting = false;
  /** The kernel buffer was full; Bun calls `drain` when it has room. */
  private blocked = false;
  private closing = false;
  closed = false;
  private paused = false;
  private held: Uint8Array[] = [];

  constructor(readonly socket: BunSocket, readonly handlers: TcpHandlers) {
    this.remoteAddress = socket.remoteAddress;
  }

  write(data: Uint8Array): void {
    if (this.closed || this.closing) return;
    // Copied: replies go out at the end of the turn, and the caller reuses `data`.
    this.outbox.push(data);
    if (!this.flushWaiting && !this.blocked) {
      this.flushWaiting = true;
      queueFlush(this);
    }
  }

  /** Writes what is queued (at the end of the turn). */
  flush(): void {
    this.flushWaiting = false;
    if (!this.closed && !this.blocked) this.drain();
  }

  pendingBytes(): number {
    return this.outbox.size;
  }

  pause(): void {
    this.paused = true;
    this.socket.pause?.();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.socket.resume?.();
    // Without native pause, data that arrived meanwhile was held here.
    const held = this.held;
    this.held = [];
    for (const chunk of held) {
      if (this.closed) return;
      this.handlers.onData(this, chunk);
    }
  }

  deliver(bytes: Uint8Array): void {
    if (this.paused) {
      this.held.push(Uint8Array.prototype.slice.call(bytes));
      return;
    }
    this.handlers.onData(this, bytes);
  }

  drain(): void {
    this.blocked = false;
    if (this.outbox.size > 0) {
      const queued = this.outbox.size;
      // Bun's write is synchronous: what it returns has been copied out of the outbox.
      const written = this.socket.write(this.outbox.peek());
      if (written < 0) {
        // The socket is closed: nothing queued will go out.
        this.outbox.clear();
        return;
      }
      this.outbox.consume(written);
      if (written < queued) {
        this.blocked = true;
        return;
      }
    }
    if (this.closing) {
      this.socket.end();
      return;
    }
    this.handlers.onDrain?.(this);
  }

  close(): void {
    if (this.closing || this.closed) return;
    this.closing = true;
    if (this.outbox.size === 0 && !this.flushWaiting) this.socket.end();
  }
}

function socketHandlers(handlers: TcpHandlers): BunSocketHandlers {
  return {
    open(socket) {
      socket.setNoDelay?.(true);
      socket.data = new BunConnection(socket, handlers);
      handlers.onOpen?.(socket.data);
    },
    data(socket, data) {
      socket.data.deliver(data);
    },
    drain(socket) {
      socket.data.drain();
    },
    close(socket) {
      const connection = socket.data;
      if (!connection || connection.closed) return;
      connection.closed = true;
      handlers.onClose?.(connection);
    },
    error() {
      // `close` follows; a reset connection ends like a closed one.
    },
  };
}

function listen(options: TcpListenOptions, handlers: TcpHandlers) {
  const listener = Bun.listen({
    hostname: options.hostname,
    port: options.port,
    tls: options.tls ? { cert: options.tls.certPem, key: options.tls.keyPem } : undefined,
    socket: socketHandlers(handlers),
  });
  return Promise.resolve({
    port: listener.port,
    close() {
      listener.stop(false);
      return Promise.resolve();
    },
  });
}

declare const process: {
  pid: number;
  env: Record<string, string | undefined>;
  argv: string[];
  exit(code: number): never;
  on(signal: SignalName, handler: () => void): void;
  memoryUsage(): { rss: number };
  cpuUsage(): { user: number; system: number };
};

/** The runtime as Bun provides it. */
export const bunRuntime: Runtime = {
  name: "bun",
  version: Bun.version,
  clock: systemClock,
  timers: systemTimers,
  random: systemRandom,
  fs: nodeFileSystem,
  listenTcp: listen,
  async connectTcp(options, handlers) {
    const tls = options.tls ? (options.tls.caPem ? { ca: options.tls.caPem } : true) : undefined;
    const socket = await Bun.connect({
      hostname: options.hostname,
      port: options.port,
      tls,
      socket: socketHandlers(handlers),
    });
    return socket.data;
  },
  bindUdp: bindNodeUdp,
  serveHttp(options) {
    const server = Bun.serve({
      hostname: options.hostname,
      port: options.port,
      // Bun answers a bare 413 past its own limit (128 MiB by default); above the app's limit it
      // leaves the answer to the app.
      ...(options.maxBodyBytes === undefined
        ? {}
        : { maxRequestBodySize: options.maxBodyBytes + 1024 * 1024 }),
      fetch: options.fetch,
    });
    return Promise.resolve({
      port: server.port,
      close: async () => {
        await server.stop(true);
      },
    });
  },
  onSignal(signal, handler) {
    process.on(signal, handler);
  },
  env: (name) => process.env[name],
  args: () => process.argv.slice(2),
  memoryRssBytes: () => process.memoryUsage().rss,
  cpuUsageMicros: () => process.cpuUsage(),
  collectGarbage: () => {
    Bun.gc(true);
    return true;
  },
  pid: () => process.pid,
  exit: (code) => process.exit(code),
};
