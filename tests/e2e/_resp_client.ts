/**
 * A minimal RESP2 client for tests that need to know exactly which replies arrived before a
 * crash (redis-cli cannot say which of its commands were acknowledged).
 */
import { connect, type Socket } from "node:net";
import { RespDecoder, RespError, type RespValue } from "../../src/resp/decoder.ts";

export type Reply = string | number | null | Error | Reply[];

export class RespClient {
  private readonly decoder = new RespDecoder();
  private waiting: ((reply: Reply) => void)[] = [];
  private closedError: Error | null = null;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      for (const value of this.decoder.feed(chunk)) this.deliver(value);
    });
    const onEnd = () => {
      this.closedError = new Error("connection closed");
      for (const waiter of this.waiting.splice(0)) waiter(this.closedError);
    };
    socket.on("close", onEnd);
    socket.on("error", onEnd);
  }

  static open(port: number): Promise<RespClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, "127.0.0.1", () => resolve(new RespClient(socket)));
      socket.once("error", reject);
    });
  }

  /** Sends a command; resolves with its reply, or an Error for an error reply or a lost connection. */
  send(...argv: string[]): Promise<Reply> {
    if (this.closedError) return Promise.resolve(this.closedError);
    let text = `*${argv.length}\r\n`;
    for (const arg of argv) text += `$${arg.length}\r\n${arg}\r\n`;
    this.socket.write(text, "latin1");
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  close(): void {
    this.socket.destroy();
  }

  /** Stops reading replies (they queue in the kernel, then in the server). */
  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  private deliver(value: RespValue): void {
    this.waiting.shift()?.(toReply(value));
  }
}

/** The project's own decoder does the parsing; error replies become `Error`s for the tests. */
function toReply(value: RespValue): Reply {
  if (value instanceof RespError) return new Error(value.message);
  if (Array.isArray(value)) return value.map(toReply);
  if (typeof value === "bigint") return Number(value);
  if (typeof value === "string" || typeof value === "number" || value === null) return value;
  throw new Error(`unexpected reply ${String(value)}`);
}
