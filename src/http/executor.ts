/**
 * Runs commands for the HTTP API through the one dispatcher, as RESP2 clients (Upstash replies
 * are RESP2-shaped), and decodes each reply into a JS value.
 *
 * Commands run synchronously, so a pipeline or a transaction is never interleaved with another
 * client's commands: the node is single-threaded and nothing awaits between them.
 *
 * @module
 */
import type { Dispatcher } from "../commands/dispatch.ts";
import type { ClientState, CommandSpec, UserRole } from "../commands/types.ts";
import { RespDecoder, type RespValue } from "../resp/decoder.ts";
import { ReplyWriter } from "../resp/writer.ts";

/** Commands that need a connection (state across requests, blocking, pushes): TCP only. */
const CONNECTION_COMMANDS = new Set([
  "auth",
  "hello",
  "quit",
  "reset",
  "multi",
  "exec",
  "discard",
  "watch",
  "unwatch",
  "monitor",
  "sync",
  "psync",
  "client",
  "subscribe",
  "psubscribe",
  "ssubscribe",
  "unsubscribe",
  "punsubscribe",
  "sunsubscribe",
]);

/** The client state of HTTP requests of one role. */
class HttpClient implements ClientState {
  db = 0;
  protocol: 2 | 3 = 2;
  readonly name = "http";
  readonly authenticated = true;
  readonly user: string;
  closeAfterReply = false;
  lastCommand = "";
  readonly remoteAddress = "http";

  constructor(readonly id: number, readonly role: UserRole, readonly createdMs: number) {
    this.user = `http-${role}`;
  }
}

/** One decoded reply plus whether it was the `+OK` status (Upstash never base64-encodes it). */
export interface Reply {
  value: RespValue;
  ok: boolean;
}

export class HttpExecutor {
  private readonly out = new ReplyWriter();
  private readonly decoder = new RespDecoder();
  private readonly clients = new Map<UserRole, HttpClient>();

  constructor(readonly dispatcher: Dispatcher, private readonly nowMs: () => number) {}

  /** The client of `role`, reset to RESP2 and to store `db`. */
  client(role: UserRole, db: number): ClientState {
    let client = this.clients.get(role);
    if (client === undefined) {
      client = new HttpClient(-1 - this.clients.size, role, this.nowMs());
      this.clients.set(role, client);
    }
    client.db = db;
    client.protocol = 2;
    client.closeAfterReply = false;
    return client;
  }

  /** Why `argv` cannot run for `client` (Redis's error text), or null when it can. */
  check(client: ClientState, argv: string[]): string | null {
    if (argv.length === 0) return "ERR empty command";
    const spec = this.dispatcher.table.lookup(argv[0]);
    if (spec !== undefined && tcpOnly(spec)) {
      return `ERR '${spec.name}' is not supported over HTTP: it needs a connection (use RESP)`;
    }
    return this.dispatcher.check(spec, argv, client);
  }

  /**
   * Why the dispatcher would refuse `argv` for `client` (arity, permissions), without refusing
   * the connection commands: for the routes that stand for one, such as `/subscribe` (SSE).
   */
  checkAsConnection(client: ClientState, argv: string[]): string | null {
    return this.dispatcher.check(this.dispatcher.table.lookup(argv[0]), argv, client);
  }

  /** Runs one command and returns its decoded reply. */
  run(client: ClientState, argv: string[]): Reply {
    const failure = this.check(client, argv);
    if (failure !== null) {
      this.dispatcher.stats.commandsProcessed++;
      this.dispatcher.stats.errorReplies++;
      return { value: this.decode(`-${failure}\r\n`), ok: false };
    }
    this.dispatcher.execute(client, this.out, argv);
    const text = this.out.cut(0);
    return { value: this.decode(text), ok: text === "+OK\r\n" };
  }

  private decode(text: string): RespValue {
    const values = this.decoder.feed(text);
    if (values.length !== 1 || this.decoder.pendingBytes !== 0) {
      throw new Error(
        `Cannot decode a command reply: expected one reply, got ${values.length} and ${this.decoder.pendingBytes} bytes`,
      );
    }
    return values[0];
  }
}

function tcpOnly(spec: CommandSpec): boolean {
  // PUBLISH and PUBSUB need no connection state; subscribing over HTTP is /subscribe (SSE).
  if (spec.name === "publish" || spec.name === "pubsub") return false;
  return CONNECTION_COMMANDS.has(spec.name) || spec.flags.includes("blocking") ||
    spec.flags.includes("pubsub");
}
