/**
 * A raw RESP connection for tests that must control every byte sent (pipelines in one write,
 * bare headers, garbage): replies are decoded with the project's decoder as they arrive, and a
 * reply stream that does not parse is noted rather than thrown.
 */
import { connect, type Socket } from "node:net";
import { RespDecoder, type RespValue } from "../../src/resp/decoder.ts";

/** `argv` as a RESP multibulk command. */
export function encodeCommand(argv: readonly string[]): string {
  let text = `*${argv.length}\r\n`;
  for (const arg of argv) text += `$${arg.length}\r\n${arg}\r\n`;
  return text;
}

export class RawClient {
  private readonly decoder = new RespDecoder();
  /** Replies not yet taken, in order. */
  replies: RespValue[] = [];
  closed = false;
  /** Why the reply stream stopped parsing, if it did (the connection is then closed). */
  malformed: string | null = null;
  private wake: (() => void) | null = null;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      try {
        for (const value of this.decoder.feed(chunk)) this.replies.push(value);
      } catch (error) {
        this.malformed ??= `${(error as Error).message} near ${JSON.stringify(chunk.slice(0, 80))}`;
        socket.destroy();
      }
      this.wake?.();
    });
    socket.on("close", () => {
      this.closed = true;
      this.wake?.();
    });
    socket.on("error", () => {});
  }

  static open(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, "127.0.0.1", () => resolve(new RawClient(socket)));
      socket.once("error", reject);
    });
  }

  /** Sends bytes exactly as given (latin1). */
  write(text: string): void {
    if (!this.closed) this.socket.write(text, "latin1");
  }

  send(...argv: string[]): void {
    this.write(encodeCommand(argv));
  }

  /** Waits until `count` replies are queued, the connection closes, or `ms` pass. */
  async waitFor(count: number, ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (this.replies.length < count && !this.closed && Date.now() < until) {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, Math.min(20, ms));
      });
    }
  }

  /** The next `count` replies (fewer if the connection closed or 10 s passed). */
  async take(count: number): Promise<RespValue[]> {
    await this.waitFor(count, 10_000);
    return this.replies.splice(0, count);
  }

  /** Whether the server closed the connection within 5 s. */
  async closedByServer(): Promise<boolean> {
    const until = Date.now() + 5_000;
    while (!this.closed && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    return this.closed;
  }

  close(): void {
    this.socket.destroy();
  }
}
