/**
 * A tiny raw RESP client for a reference `redis-server`, so tests can assert that our reply
 * bytes equal Redis's for the same commands.
 */
import { Buffer } from "node:buffer";
import process from "node:process";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { connect, createServer, type Socket } from "node:net";
import { onTimeLimit } from "../_time_limit.ts";

export const REDIS_SERVER = "/usr/bin/redis-server";
export const HAVE_REDIS = existsSync(REDIS_SERVER);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

/** Length of the first complete RESP reply in `text`, or -1 when it is incomplete. */
export function replyLength(text: string, at = 0): number {
  const end = text.indexOf("\r\n", at);
  if (end === -1) return -1;
  const kind = text[at];
  const header = text.slice(at + 1, end);
  if (kind === "$" || kind === "=" || kind === "!") {
    const size = Number(header);
    if (size < 0) return end + 2 - at;
    return text.length >= end + 2 + size + 2 ? end + 2 + size + 2 - at : -1;
  }
  if (kind === "*" || kind === "%" || kind === "~" || kind === ">") {
    let count = Number(header);
    if (count < 0) return end + 2 - at;
    if (kind === "%") count *= 2;
    let position = end + 2;
    for (let i = 0; i < count; i++) {
      const length = replyLength(text, position);
      if (length === -1) return -1;
      position += length;
    }
    return position - at;
  }
  return end + 2 - at;
}

export class ReferenceRedis {
  private buffer = "";
  private waiting: (() => void) | null = null;
  private closed = false;

  private constructor(
    private readonly child: ChildProcess,
    private readonly socket: Socket,
    /** Its port, for tests that open connections of their own. */
    readonly port: number,
  ) {
    socket.on("data", (chunk: Buffer) => {
      this.buffer += chunk.toString("latin1");
      this.waiting?.();
    });
    socket.on("close", () => {
      this.closed = true;
      this.waiting?.();
    });
    child.once("exit", onTimeLimit(() => child.kill("SIGKILL")));
  }

  /** Starts a redis-server; `args` are more of its settings (`--enable-debug-command yes`). */
  static async start(args: string[] = []): Promise<ReferenceRedis> {
    const port = await freePort();
    const child = spawn(REDIS_SERVER, [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      // SAVE, DEBUG RELOAD and SHUTDOWN SAVE write dump.rdb: into the temp dir, not the repo.
      "--dir",
      tmpdir(),
      ...args,
    ], { stdio: "ignore" });
    for (let attempt = 0; attempt < 100; attempt++) {
      try {
        const socket = await new Promise<Socket>((resolve, reject) => {
          const socket = connect(port, "127.0.0.1", () => resolve(socket));
          socket.on("error", reject);
        });
        return new ReferenceRedis(child, socket, port);
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    child.kill("SIGKILL");
    throw new Error(`redis-server did not listen on port ${port}`);
  }

  /** Sends one command and resolves with its raw reply. */
  async run(...argv: string[]): Promise<string> {
    let payload = `*${argv.length}\r\n`;
    for (const arg of argv) payload += `$${arg.length}\r\n${arg}\r\n`;
    this.socket.write(Buffer.from(payload, "latin1"));
    for (;;) {
      const length = replyLength(this.buffer);
      if (length !== -1) {
        const reply = this.buffer.slice(0, length);
        this.buffer = this.buffer.slice(length);
        return reply;
      }
      if (this.closed) throw new Error(`redis-server closed the connection during ${argv[0]}`);
      await new Promise<void>((resolve) => (this.waiting = resolve));
      this.waiting = null;
    }
  }

  async stop(): Promise<void> {
    this.socket.destroy();
    const exited = new Promise((resolve) => this.child.on("exit", resolve));
    this.child.kill("SIGKILL");
    await exited;
  }
}

/**
 * A reference redis-server for the tests of a `describe`: started in `before`, stopped in
 * `after`. The getter returns undefined when redis-server is not installed (the test then skips),
 * except under CI, where that is a failure.
 */
export function referenceRedis(
  before: (fn: () => unknown) => void,
  after: (fn: () => unknown) => void,
): () => ReferenceRedis | undefined {
  let redis: ReferenceRedis | undefined;
  before(async () => {
    if (HAVE_REDIS) redis = await ReferenceRedis.start();
    else if (process.env.CI === "true") throw new Error("redis-server is not installed");
  });
  after(async () => {
    await redis?.stop();
  });
  return () => redis;
}
