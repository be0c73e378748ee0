/**
 * The Deno adapter: `Deno.listen` for TCP (the fastest option measured on Deno), `Deno.serve` for
 * HTTP, `node:fs/promises` and `node:dgram` for files and UDP.
 *
 * @module
 */
import process from "node:process";
import { endOfTurn, Outbox } from "./_batch.ts";
import { nodeFileSystem } from "./node_fs.ts";
import { systemClock, systemRandom, systemTimers } from "./system.ts";
import { bindNodeUdp } from "./node_udp.ts";
import type {
  HttpServer,
  Runtime,
  TcpConnection,
  TcpHandlers,
  TcpListener,
  TcpListenOptions,
} from "./types.ts";

/** Size of the per-connection read buffer: large enough for deep pipelines in one read. */
const READ_BUFFER_BYTES = 64 * 1024;

const queueFlush = endOfTurn((conn: DenoConnection) => conn.startFlush());

class DenoConnection implements TcpConnection {
  data: unknown = undefined;
  readonly remoteAddress: string;
  private readonly outbox = new Outbox();
  /** Bytes handed to a write that has not completed. */
  private sendingBytes = 0;
  private writing = false;
  /** Queued (`queueFlush`) to write at the end of this turn. */
  private flushWaiting = false;
  private closing = false;
  private closed = false;
  private paused = false;
  private wakeReader: (() => void) | null = null;

  constructor(private readonly conn: Deno.Conn, private readonly handlers: TcpHandlers) {
    const address = conn.remoteAddr as Deno.NetAddr;
    this.remoteAddress = `${address.hostname}:${address.port}`;
  }

  write(data: Uint8Array): void {
    if (this.closed || this.closing) return;
    // Deno has no synchronous socket write, so the bytes are copied before the caller reuses them.
    this.outbox.push(data);
    if (!this.writing && !this.flushWaiting) {
      this.flushWaiting = true;
      queueFlush(this);
    }
  }

  /** Starts writing what is queued (at the end of the turn). */
  startFlush(): void {
    this.flushWaiting = false;
    if (!this.writing && !this.closed) void this.flush();
  }

  pendingBytes(): number {
    return this.outbox.size + this.sendingBytes;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    const wake = this.wakeReader;
    this.wakeReader = null;
    wake?.();
  }

  close(): void {
    if (this.closing || this.closed) return;
    this.closing = true;
    if (!this.writing && !this.flushWaiting) this.destroy();
  }

  private async flush(): Promise<void> {
    this.writing = true;
    try {
      while (this.outbox.size > 0 && !this.closed) {
        const chunk = this.outbox.detach();
        this.sendingBytes = chunk.length;
        let offset = 0;
        while (offset < chunk.length) {
          offset += await this.conn.write(chunk.subarray(offset));
        }
        this.sendingBytes = 0;
        this.outbox.recycle(chunk);
      }
    } catch {
      this.destroy();
      return;
    } finally {
      this.writing = false;
    }
    if (this.closing) this.destroy();
    else this.handlers.onDrain?.(this);
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.outbox.clear();
    this.sendingBytes = 0;
    try {
      this.conn.close();
    } catch {
      // Already closed by the peer.
    }
    this.resume();
  }

  async readLoop(): Promise<void> {
    const buffer = new Uint8Array(READ_BUFFER_BYTES);
    this.handlers.onOpen?.(this);
    try {
      while (!this.closed) {
        if (this.paused) await new Promise<void>((wake) => (this.wakeReader = wake));
        if (this.closed || this.closing) break;
        const n = await this.conn.read(buffer);
        if (n === null) break;
        this.handlers.onData(this, buffer.subarray(0, n));
      }
    } catch {
      // A reset connection ends like a closed one.
    }
    // Let the last replies go out first: after our close, or after the peer closed its side
    // only (`printf 'PING\r\n' | nc -N`), replies of this turn are still queued.
    while (this.writing || this.flushWaiting) await new Promise((r) => setTimeout(r, 1));
    this.destroy();
    this.handlers.onClose?.(this);
  }
}

async function acceptLoop(listener: Deno.Listener, handlers: TcpHandlers): Promise<void> {
  try {
    for await (const conn of listener) {
      try {
        if (conn.remoteAddr.transport === "tcp") (conn as Deno.TcpConn).setNoDelay(true);
      } catch {
        // TLS connections may not expose the option; latency only.
      }
      void new DenoConnection(conn, handlers).readLoop();
    }
  } catch {
    // The listener was closed.
  }
}

function listen(options: TcpListenOptions, handlers: TcpHandlers): Promise<TcpListener> {
  const listener = options.tls
    ? Deno.listenTls({
      hostname: options.hostname,
      port: options.port,
      cert: options.tls.certPem,
      key: options.tls.keyPem,
    })
    : Deno.listen({ hostname: options.hostname, port: options.port });
  void acceptLoop(listener, handlers);
  const port = (listener.addr as Deno.NetAddr).port;
  return Promise.resolve({
    port,
    close() {
      try {
        listener.close();
      } catch {
        // Already closed.
      }
      return Promise.resolve();
    },
  });
}

/** The runtime as Deno provides it. */
export const denoRuntime: Runtime = {
  name: "deno",
  version: Deno.version.deno,
  clock: systemClock,
  timers: systemTimers,
  random: systemRandom,
  fs: nodeFileSystem,
  listenTcp: listen,
  async connectTcp(options, handlers) {
    const conn = options.tls
      ? await Deno.connectTls({
        hostname: options.hostname,
        port: options.port,
        caCerts: options.tls.caPem ? [options.tls.caPem] : undefined,
      })
      : await Deno.connect({ hostname: options.hostname, port: options.port });
    // As on accepted connections: a small frame (a forwarded command, a Raft message) must not
    // wait for Nagle's algorithm to pair it with the next.
    if (!options.tls) (conn as Deno.TcpConn).setNoDelay(true);
    const connection = new DenoConnection(conn, handlers);
    void connection.readLoop();
    return connection;
  },
  bindUdp: bindNodeUdp,
  serveHttp(options) {
    return new Promise<HttpServer>((resolve, reject) => {
      try {
        const server = Deno.serve({
          hostname: options.hostname,
          port: options.port,
          onListen: ({ port }) =>
            resolve({
              port,
              close: () => server.shutdown(),
            }),
        }, options.fetch);
      } catch (error) {
        reject(error);
      }
    });
  },
  onSignal(signal, handler) {
    Deno.addSignalListener(signal, handler);
  },
  env: (name) => Deno.env.get(name),
  args: () => Deno.args,
  memoryRssBytes: () => Deno.memoryUsage().rss,
  cpuUsageMicros: () => process.cpuUsage(),
  collectGarbage: () => {
    const gc = (globalThis as { gc?: (options?: { type: string }) => void }).gc;
    if (gc === undefined) return false;
    gc({ type: "major" });
    return true;
  },
  pid: () => Deno.pid,
  exit: (code) => Deno.exit(code),
};
