/**
 * A minimal RESP2 client for tests that need to know exactly which replies arrived before a
 * crash (redis-cli cannot say which of its commands were acknowledged).
 */
import { connect, type Socket } from "node:net";

export type Reply = string | number | null | Error | Reply[];

export class RespClient {
  private buffer = "";
  private waiting: ((reply: Reply) => void)[] = [];
  private closedError: Error | null = null;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      this.buffer += chunk;
      this.drain();
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

  private drain(): void {
    while (this.waiting.length > 0) {
      const parsed = parseReply(this.buffer, 0);
      if (parsed === null) return;
      this.buffer = this.buffer.slice(parsed.end);
      this.waiting.shift()!(parsed.reply);
    }
  }
}

function parseReply(text: string, start: number): { reply: Reply; end: number } | null {
  const lineEnd = text.indexOf("\r\n", start);
  if (lineEnd === -1) return null;
  const type = text[start];
  const line = text.slice(start + 1, lineEnd);
  switch (type) {
    case "+":
      return { reply: line, end: lineEnd + 2 };
    case "-":
      return { reply: new Error(line), end: lineEnd + 2 };
    case ":":
      return { reply: Number(line), end: lineEnd + 2 };
    case "$": {
      const length = Number(line);
      if (length < 0) return { reply: null, end: lineEnd + 2 };
      const end = lineEnd + 2 + length + 2;
      if (text.length < end) return null;
      return { reply: text.slice(lineEnd + 2, lineEnd + 2 + length), end };
    }
    case "*": {
      const count = Number(line);
      if (count < 0) return { reply: null, end: lineEnd + 2 };
      const items: Reply[] = [];
      let position = lineEnd + 2;
      for (let i = 0; i < count; i++) {
        const item = parseReply(text, position);
        if (item === null) return null;
        items.push(item.reply);
        position = item.end;
      }
      return { reply: items, end: position };
    }
    default:
      throw new Error(`unexpected reply type '${type}'`);
  }
}
