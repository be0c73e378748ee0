/**
 * Runs commands for the HTTP API through the one dispatcher, as RESP2 clients (Upstash replies
 * are RESP2-shaped), and decodes each reply into a JS value.
 *
 * Each request has a client of its own. A command completes now, or later: a command whose
 * reply is deferred (forwarded, waiting for a quorum), or a write under `appendfsync always`,
 * which is acknowledged only once durable, as over RESP. `run` then returns a promise; the
 * common case stays synchronous. Commands start in the order they are run, so a pipeline or
 * a transaction whose commands are all started before anything is awaited is never interleaved
 * with another client's commands.
 *
 * @module
 */
import type { Dispatcher } from "../commands/dispatch.ts";
import type { ClientState, CommandSpec, DeferredReply, UserRole } from "../commands/types.ts";
import { RespDecoder, type RespValue } from "../resp/decoder.ts";
import { ReplyWriter } from "../resp/writer.ts";
import type { Durability } from "../server/server.ts";

/** The client state of one HTTP request. */
class HttpClient implements ClientState {
  protocol: 2 | 3 = 2;
  readonly name = "http";
  readonly authenticated = true;
  readonly user: string;
  closeAfterReply = false;
  lastCommand = "";
  readonly remoteAddress = "http";
  /** The reply text of the command that deferred its reply, once it completes. */
  deferred: Promise<string> | null = null;
  /** Cancels what waits on the deferred reply (a parked command), if anything registered. */
  #abandon: (() => void) | null = null;

  constructor(
    readonly id: number,
    readonly role: UserRole,
    public db: number,
    readonly createdMs: number,
  ) {
    this.user = `http-${role}`;
  }

  defer(): DeferredReply {
    let settle!: (text: string) => void;
    this.deferred = new Promise<string>((resolve) => (settle = resolve));
    return {
      complete: (write) => {
        this.#abandon = null;
        const out = new ReplyWriter();
        write(out);
        settle(out.cut(0));
      },
      onAbandon: (cancel) => (this.#abandon = cancel),
    };
  }

  /** The client is gone (another node's cancel): a command still waiting for it stops waiting,
   * and its reply never completes. */
  abandon(): boolean {
    const cancel = this.#abandon;
    if (cancel === null) return false;
    this.#abandon = null;
    cancel();
    return true;
  }
}

/** One decoded reply plus whether it was the `+OK` status (Upstash never base64-encodes it). */
export interface Reply {
  value: RespValue;
  ok: boolean;
}

/** `next(value)`, after `value` settles when it is a promise: the common path stays synchronous. */
export function whenDone<T, R>(
  value: T | Promise<T>,
  next: (value: T) => R | Promise<R>,
): R | Promise<R> {
  return value instanceof Promise ? value.then(next) : next(value);
}

/** Every reply, as one array: synchronously when none of them waits. */
export function allDone<T>(values: (T | Promise<T>)[]): T[] | Promise<T[]> {
  return values.some((value) => value instanceof Promise) ? Promise.all(values) : values as T[];
}

export class HttpExecutor {
  private readonly out = new ReplyWriter();
  private readonly decoder = new RespDecoder();
  /** Ids of HTTP clients count down from -1 (RESP connections count up from 1). */
  private nextId = -1;

  constructor(
    readonly dispatcher: Dispatcher,
    private readonly nowMs: () => number,
    /** Writes wait for this before they are acknowledged (`appendfsync always`). */
    private readonly durability?: Durability,
  ) {}

  /** A client for one request of `role`, in store `db`. */
  client(role: UserRole, db: number): ClientState {
    return new HttpClient(this.nextId--, role, db, this.nowMs());
  }

  /** `client` (one of `client()`) is gone: a command parked for it stops waiting. Whether one
   * did (its reply will never complete). */
  abandon(client: ClientState): boolean {
    return client instanceof HttpClient && client.abandon();
  }

  /** Why `argv` cannot run for `client` (Redis's error text), or null when it can. */
  check(client: ClientState, argv: string[]): string | null {
    if (argv.length === 0) return "ERR empty command";
    const spec = this.dispatcher.table.lookup(argv[0]);
    // A client that can park (a command forwarded from another node) may block here.
    const blocksHere = client.parkable === true && spec?.needsConnection !== true;
    if (spec !== undefined && tcpOnly(spec) && !blocksHere) {
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

  /**
   * Runs one command and returns its decoded reply: at once, or a promise when the reply is
   * deferred or must wait until the command's writes are durable. The command itself starts
   * now, before this returns.
   */
  run(client: ClientState, argv: string[]): Reply | Promise<Reply> {
    return whenDone(this.runText(client, argv), (text) => this.reply(text));
  }

  /**
   * Runs one command and returns its reply as RESP text (one character per byte): at once, or a
   * promise when the reply is deferred or waits until the command's writes are durable. For
   * commands run for another node's client (forwarded over the cluster bus).
   */
  runText(client: ClientState, argv: string[]): string | Promise<string> {
    const failure = this.check(client, argv);
    if (failure !== null) {
      this.dispatcher.countRejected(argv[0]);
      return `-${failure}\r\n`;
    }
    const mark = this.durability?.mark() ?? 0;
    this.dispatcher.execute(client, this.out, argv);
    const text = this.out.cut(0);
    const deferred = client instanceof HttpClient ? client.deferred : null;
    const wait = this.durability?.waitSince(mark) ?? null;
    if (deferred !== null) {
      (client as HttpClient).deferred = null;
      return deferred.then(async (later) => {
        if (wait !== null) await wait;
        return later;
      });
    }
    if (wait !== null) return wait.then(() => text);
    return text;
  }

  private reply(text: string): Reply {
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

/** Commands that need a connection (the table says so, and every blocking command does);
 * subscribing over HTTP is /subscribe (SSE). */
function tcpOnly(spec: CommandSpec): boolean {
  return spec.needsConnection === true || spec.flags.includes("blocking");
}
