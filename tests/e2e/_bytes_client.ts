/**
 * A RESP connection that keeps the exact bytes it receives (latin1 text), for tests that compare
 * a node's bytes with redis-server's, push messages included, across several connections.
 */
import { Buffer } from "node:buffer";
import { connect, type Socket } from "node:net";
import { encodeCommand } from "./_raw_client.ts";

export class BytesClient {
  /** What arrived since the last `take`. */
  private text = "";
  /** When the last bytes arrived (ms). */
  lastDataMs = 0;
  closed = false;
  private wake: (() => void) | null = null;

  private constructor(private readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.text += chunk.toString("latin1");
      this.lastDataMs = Date.now();
      this.wake?.();
    });
    socket.on("close", () => {
      this.closed = true;
      this.wake?.();
    });
    socket.on("error", () => {});
  }

  static open(port: number): Promise<BytesClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, "127.0.0.1", () => resolve(new BytesClient(socket)));
      socket.once("error", reject);
    });
  }

  /** Sends the commands in one write (a pipeline). */
  send(...commands: string[][]): void {
    if (this.closed) return;
    this.socket.write(Buffer.from(commands.map(encodeCommand).join(""), "latin1"));
  }

  /** Everything received so far, taken. */
  take(): string {
    const text = this.text;
    this.text = "";
    return text;
  }

  /** What has arrived so far, not taken. */
  peek(): string {
    return this.text;
  }

  /** Waits until what arrived satisfies `done` (or `ms` pass), then takes it. */
  async until(done: (text: string) => boolean, ms = 5_000): Promise<string> {
    const deadline = Date.now() + ms;
    while (!done(this.text) && !this.closed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 10);
      });
      this.wake = null;
    }
    return this.take();
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once("close", () => resolve());
      this.socket.destroy();
    });
  }
}

/**
 * Waits until none of `clients` has received anything for `quietMs` (at most `maxMs`), and at
 * least `minMs` after the call: then every reply and push a step caused has arrived.
 */
export async function settle(
  clients: readonly BytesClient[],
  quietMs = 40,
  minMs = 40,
  maxMs = 3_000,
): Promise<void> {
  const start = Date.now();
  for (;;) {
    const now = Date.now();
    const last = Math.max(start, ...clients.map((c) => c.lastDataMs));
    if ((now - last >= quietMs && now - start >= minMs) || now - start >= maxMs) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
