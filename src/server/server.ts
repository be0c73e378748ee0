/**
 * The RESP server over the runtime's TCP: one parser per connection, every complete command in a
 * read executed in order, all their replies sent in one write.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import type { Dispatcher } from "../commands/dispatch.ts";
import { encodePush, type PubSub, type Subscriber } from "../commands/pubsub.ts";
import {
  type ClientKillFilter,
  type ClientState,
  type DeferredReply,
  REPLY_MUTED,
  REPLY_SKIP,
  REPLY_SKIP_NEXT,
  type UserRole,
} from "../commands/types.ts";
import type { ClientTracking } from "./tracking.ts";
import { type ParserLimits, ProtocolError, RespParser } from "../resp/parser.ts";
import {
  DEFAULT_MAX_WAITING_REPLIES,
  MAX_COMMANDS_BEHIND_BLOCKED,
  PAUSE_READ_PENDING_BYTES,
  UNAUTHENTICATED_MAX_BULK_BYTES,
  UNAUTHENTICATED_MAX_MULTIBULK_LENGTH,
} from "../constants.ts";
import { scanKeys } from "../resp/scan.ts";
import { PREFETCH_KEYS } from "../keyspace/store.ts";
import { listening } from "./listen.ts";
import { ReplyWriter } from "../resp/writer.ts";
import { type PendingReply, ReplyQueue } from "./reply_queue.ts";
import type { Runtime, TcpConnection, TcpListener, TlsOptions } from "../runtime/types.ts";

/** Lets replies to writes wait until those writes are durable (`appendfsync always`). */
export interface Durability {
  /** A position in the write log, taken before a batch of commands runs. */
  mark(): number;
  /** Resolves when what was logged since `mark` is durable; null when nothing must be awaited. */
  waitSince(mark: number): Promise<void> | null;
}

export interface RespServerOptions {
  hostname: string;
  port: number;
  /** A second listener speaking TLS, on `tlsPort`. */
  tls?: TlsOptions;
  tlsPort?: number;
  maxClients: number;
  maxBulkBytes: number;
  maxMultibulkLength: number;
  maxQueryBufferBytes: number;
  maxOutputBufferBytes: number;
  maxPubsubOutputBytes: number;
  /** Replies one connection may have waiting behind a pending one (blocked, held for fsync). */
  maxWaitingReplies?: number;
  /** Whether a new connection must AUTH first. */
  requireAuth: boolean;
  durability?: Durability;
}

/** The parser limits of a connection that has not authenticated. */
function unauthenticatedLimits(options: RespServerOptions): ParserLimits {
  return {
    maxBulkBytes: Math.min(options.maxBulkBytes, UNAUTHENTICATED_MAX_BULK_BYTES),
    maxMultibulkLength: Math.min(options.maxMultibulkLength, UNAUTHENTICATED_MAX_MULTIBULK_LENGTH),
    maxQueryBufferBytes: options.maxQueryBufferBytes,
    unauthenticated: true,
  };
}

const REPLY_OVERFLOW = new TextEncoder().encode(
  "-ERR too many replies waiting behind a pending one; closing the connection\r\n",
);

/** A parked blocking command. */
interface Blocked {
  argv: string[];
  queueKeys: string[];
  timer: ReturnType<typeof setTimeout> | null;
  /** Its place in the connection's reply order (null if the queue had overflowed). */
  reply: PendingReply | null;
  /** Not a blocking command but one whose reply comes later (a suspended script): no keys,
   * no timeout, not counted in blocked_clients. */
  suspended?: boolean;
}

/**
 * A blocking command parked for a client that is not a connection (one forwarded from another
 * node): served or timed out as a connection's is, its reply completing the client's deferred one.
 */
interface Parked extends Blocked {
  readonly client: ClientState;
  readonly deferred: DeferredReply;
  /** Still waiting (not served, timed out or dropped). */
  active: boolean;
}

/** Who waits on a key: a connection, or a parked command of another node's client. */
type Waiter = Client | Parked;

export class Client implements ClientState, Subscriber {
  db = 0;
  protocol: 2 | 3 = 2;
  name = "";
  #authenticated: boolean;
  user = "default";
  role: UserRole = "admin";
  closeAfterReply = false;
  /** CLIENT REPLY's bits (`REPLY_OFF`, ...); 0 while replies are on. */
  replyFlags = 0;
  noEvict = false;
  lastCommand = "";
  lastActiveMs: number;
  /** Channels and patterns subscribed to. */
  subscriptions = 0;
  /** The parked blocking command, or null. */
  blocked: Blocked | null = null;
  /** Commands received while blocked, run once it is served. */
  pending: string[][] = [];
  /** The command being run (a blocking command parks it). */
  currentArgv: string[] = [];
  readonly channels = new Set<string>();
  readonly patterns = new Set<string>();
  readonly shardChannels = new Set<string>();
  /** Pending output above which a subscriber that does not read is disconnected. */
  maxPubsubOutputBytes = Infinity;
  /** Set when the connection went over its pub/sub output limit. */
  onOverflow: (() => void) | null = null;
  /** Set when more replies wait behind a pending one than the bounds allow. */
  onReplyOverflow: (() => void) | null = null;
  readonly parser: RespParser;
  /** Its replies in command order; pending ones (blocked, waiting for fsync) hold later ones. */
  readonly replies: ReplyQueue;

  constructor(
    readonly id: number,
    readonly conn: TcpConnection,
    readonly createdMs: number,
    requireAuth: boolean,
    private readonly options: RespServerOptions,
  ) {
    this.#authenticated = !requireAuth;
    this.lastActiveMs = createdMs;
    this.parser = new RespParser(requireAuth ? unauthenticatedLimits(options) : options);
    this.replies = new ReplyQueue((bytes) => conn.write(bytes), {
      maxWaitingReplies: options.maxWaitingReplies ?? DEFAULT_MAX_WAITING_REPLIES,
      maxWaitingBytes: options.maxOutputBufferBytes,
    }, () => this.onReplyOverflow?.());
  }

  get authenticated(): boolean {
    return this.#authenticated;
  }

  /** The parser's limits follow: small ones until the client authenticates (Redis's too). */
  set authenticated(value: boolean) {
    if (value === this.#authenticated) return;
    this.#authenticated = value;
    this.parser.setLimits(value ? this.options : unauthenticatedLimits(this.options));
  }

  /** Set by the server: a pending reply in this connection's order. */
  deferHook: (() => DeferredReply) | null = null;

  defer(): DeferredReply | undefined {
    return this.deferHook?.();
  }

  get remoteAddress(): string {
    return this.conn.remoteAddress;
  }

  deliver(channel: string, message: string, pattern: string | null, shard = false): void {
    if (this.closeAfterReply) return;
    const items = pattern !== null
      ? ["pmessage", pattern, channel, message]
      : [shard ? "smessage" : "message", channel, message];
    this.conn.write(Buffer.from(encodePush(this.protocol, items), "latin1"));
    if (this.conn.pendingBytes() > this.maxPubsubOutputBytes) this.onOverflow?.();
  }

  /** Writes an out-of-band message now (an invalidation), bounded as pub/sub messages are. */
  pushText(text: string): void {
    if (this.closeAfterReply) return;
    this.conn.write(Buffer.from(text, "latin1"));
    if (this.conn.pendingBytes() > this.maxPubsubOutputBytes) this.onOverflow?.();
  }
}

/** The commands whose replies are pushes (confirmations), which CLIENT REPLY OFF lets out. */
const SUBSCRIPTION_COMMANDS = new Set([
  "subscribe",
  "unsubscribe",
  "psubscribe",
  "punsubscribe",
  "ssubscribe",
  "sunsubscribe",
]);

/** A place in `client`'s reply order; one that completes with nothing while its replies are
 * off (a blocking command run under CLIENT REPLY OFF or SKIP). */
function deferFor(client: Client): PendingReply | null {
  const reply = client.replies.defer();
  if (reply !== null && (client.replyFlags & REPLY_MUTED) !== 0) reply.muted = true;
  return reply;
}

/** After a command: a SKIP applied to it ends, and a SKIP it asked for applies to the next. */
function nextReplyFlags(client: Client): void {
  let flags = client.replyFlags & ~REPLY_SKIP;
  if ((flags & REPLY_SKIP_NEXT) !== 0) flags = (flags & ~REPLY_SKIP_NEXT) | REPLY_SKIP;
  client.replyFlags = flags;
}

/** Counters for INFO clients and stats. */
export interface ServerStats {
  connectionsReceived: number;
  rejectedConnections: number;
  protocolErrors: number;
  outputLimitDisconnections: number;
  /** Connections closed because serving them threw outside any command. */
  internalErrors: number;
}

export class RespServer {
  readonly clients = new Map<number, Client>();
  readonly stats: ServerStats = {
    connectionsReceived: 0,
    rejectedConnections: 0,
    protocolErrors: 0,
    outputLimitDisconnections: 0,
    internalErrors: 0,
  };
  private listener: TcpListener | null = null;
  private tlsListener: TcpListener | null = null;
  private nextId = 1;
  private readonly out = new ReplyWriter();
  /** Writes deferred replies as they complete (not `out`: one may complete mid-batch). */
  private readonly deferredOut = new ReplyWriter();
  /** Where `scanKeys` notes a read's keys, for `Store.prefetch`. */
  private readonly keyStarts = new Int32Array(PREFETCH_KEYS);
  private readonly keyEnds = new Int32Array(PREFETCH_KEYS);
  private stopping = false;
  /** Where closed connections' subscriptions are dropped. */
  pubsub: PubSub | null = null;
  /** Client-side caching: closed connections stop tracking; commands are framed for it. */
  tracking: ClientTracking | null = null;
  /** The connection whose command runs now with tracking on, for invalidations sent to it. */
  private serving: Client | null = null;
  /** Invalidations for `serving` sent while its command ran: they go before its reply. */
  private beforeReply = "";
  /** Set while `serving`'s reply is complete: invalidations for it then follow the reply. */
  private replyWritten = false;
  /** Bumped whenever `out` is handed to a reply queue (a command that blocks or waits). */
  private handedOn = 0;
  /** Clients waiting on each `db NUL key`, in arrival order. */
  private readonly waiting = new Map<string, Waiter[]>();
  /** Keys that got data during the current command. */
  private readonly ready = new Set<string>();
  /** The write-log position before the batch being run (its replies wait for what follows). */
  private batchMark = 0;
  private retrying: ClientState | null = null;
  private retryState: Blocked | null = null;
  /** Set when a parked command run again still found nothing (it keeps its place). */
  private reparked = false;
  /** A serving of ready keys is queued (a push that came from outside a connection's batch). */
  private serveQueued = false;
  /** Connections parked in a blocking command (INFO blocked_clients). */
  blockedCount = 0;

  constructor(
    private readonly runtime: Runtime,
    private readonly dispatcher: Dispatcher,
    private readonly options: RespServerOptions,
  ) {}

  get port(): number {
    return this.listener?.port ?? 0;
  }

  async start(): Promise<void> {
    const handlers = {
      onOpen: (conn: TcpConnection) => this.open(conn),
      onData: (conn: TcpConnection, bytes: Uint8Array) => this.data(conn, bytes),
      onDrain: (conn: TcpConnection) => {
        if (conn.data instanceof Client) conn.resume();
      },
      onClose: (conn: TcpConnection) => {
        if (!(conn.data instanceof Client)) return;
        this.clients.delete(conn.data.id);
        this.pubsub?.drop(conn.data);
        this.tracking?.disable(conn.data.id);
        this.unblock(conn.data);
        conn.data.replies.clear();
        // Its WATCHes would otherwise keep the whole connection reachable from the stores.
        this.dispatcher.release(conn.data);
      },
    };
    const { hostname, port, tls, tlsPort = 0 } = this.options;
    this.listener = await listening(
      hostname,
      port,
      () => this.runtime.listenTcp({ hostname, port }, handlers),
    );
    if (tls !== undefined) {
      try {
        this.tlsListener = await listening(
          hostname,
          tlsPort,
          () => this.runtime.listenTcp({ hostname, port: tlsPort, tls }, handlers),
        );
      } catch (error) {
        await this.listener.close();
        throw error;
      }
    }
  }

  /** Port of the TLS listener, or 0 without one. */
  get tlsPort(): number {
    return this.tlsListener?.port ?? 0;
  }

  private open(conn: TcpConnection): void {
    this.stats.connectionsReceived++;
    if (this.stopping || this.clients.size >= this.options.maxClients) {
      this.stats.rejectedConnections++;
      this.out.error("ERR max number of clients reached");
      conn.write(this.out.take());
      conn.close();
      return;
    }
    const client = new Client(
      this.nextId++,
      conn,
      this.runtime.clock.realtimeMs(),
      this.options.requireAuth,
      this.options,
    );
    conn.data = client;
    client.maxPubsubOutputBytes = this.options.maxPubsubOutputBytes;
    client.onOverflow = () => {
      this.stats.outputLimitDisconnections++;
      client.closeAfterReply = true;
      this.pubsub?.drop(client);
      conn.close();
    };
    client.deferHook = () => this.deferReply(client);
    client.onReplyOverflow = () => {
      // Out of order, but the last thing it gets: memory stays bounded, nothing more is read.
      this.stats.outputLimitDisconnections++;
      client.closeAfterReply = true;
      conn.write(REPLY_OVERFLOW);
      conn.close();
    };
    this.clients.set(client.id, client);
  }

  private data(conn: TcpConnection, bytes: Uint8Array): void {
    const client = conn.data;
    if (!(client instanceof Client) || client.closeAfterReply) return;
    const out = this.out;
    // Replies in the shared writer belong to the client being served; none may be left here.
    if (out.size > 0) out.take();
    const mark = this.batchMark = this.options.durability?.mark() ?? 0;
    const keyspace = this.dispatcher.keyspace;
    keyspace.pinTime();
    client.lastActiveMs = keyspace.store(0).pinnedNowMs;
    // A pipelined batch: fetch its keys together before running it (one command gains nothing).
    if (client.parser.bufferedBytes === 0) {
      const count = scanKeys(bytes, this.keyStarts, this.keyEnds);
      if (count > 1) keyspace.store(client.db).prefetch(bytes, this.keyStarts, this.keyEnds, count);
    }
    try {
      client.parser.feed(bytes, (argv) => this.command(client, argv));
    } catch (error) {
      if (error instanceof ProtocolError) {
        this.stats.protocolErrors++;
        out.error(`ERR ${error.message}`);
      } else {
        // Not a command's failure (the dispatcher answers those): the parser's state is unknown,
        // so this connection ends, with an error after the replies it was owed.
        this.stats.internalErrors++;
        const text = error instanceof Error ? error.message : String(error);
        out.error(`ERR internal error: ${text.replace(/[\r\n]+/g, " ")}`);
        console.error("hypercache: internal error serving a connection:", error);
      }
      client.closeAfterReply = true;
    } finally {
      keyspace.unpinTime();
    }
    this.send(client, mark);
    this.serveReady();
  }

  /** Runs one command of a connection, or queues it behind a blocked one. */
  private command(client: Client, argv: string[]): void {
    if (client.closeAfterReply) return;
    if (client.blocked !== null || client.pending.length > 0) {
      if (client.pending.length >= MAX_COMMANDS_BEHIND_BLOCKED) {
        this.out.error("ERR too many commands queued behind a blocked command");
        client.closeAfterReply = true;
        return;
      }
      client.pending.push(argv);
      return;
    }
    client.currentArgv = argv;
    const tracking = this.tracking;
    const flags = client.replyFlags;
    // The common case: nobody tracks keys and replies are on.
    if (flags === 0 && (tracking === null || tracking.clients === 0)) {
      this.dispatcher.execute(client, this.out, argv);
      // CLIENT REPLY SKIP: the reply of the next command is dropped.
      if (client.replyFlags !== 0) nextReplyFlags(client);
      return;
    }
    this.framedCommand(client, argv, flags, tracking);
  }

  /**
   * A command of a connection with CLIENT REPLY OFF or SKIP, or while some connection tracks
   * keys: its reply is dropped if replies were off before and after it (CLIENT REPLY ON's own
   * +OK goes out); invalidations sent to it while it ran go before the reply, its own tracked
   * keys' after it, as redis-server 7.0 orders them.
   */
  private framedCommand(
    client: Client,
    argv: string[],
    flags: number,
    tracking: ClientTracking | null,
  ): void {
    const out = this.out;
    const tracked = tracking !== null && tracking.clients > 0;
    if (tracked) {
      this.serving = client;
      this.replyWritten = false;
      tracking.beginCommand(client.id);
    }
    const handedOn = this.handedOn;
    const mark = out.size;
    this.dispatcher.execute(client, out, argv);
    // A command that blocked or waits handed what came before it on: nothing of it is left.
    const start = this.handedOn === handedOn ? mark : 0;
    const muted = (flags & REPLY_MUTED) !== 0 && (client.replyFlags & REPLY_MUTED) !== 0;
    const before = this.beforeReply;
    if (muted || before !== "") {
      this.beforeReply = "";
      let reply = out.cut(start);
      // Subscription confirmations are pushes: they go out (an error does not).
      if (muted && !(SUBSCRIPTION_COMMANDS.has(argv[0].toLowerCase()) && reply[0] !== "-")) {
        reply = "";
      }
      out.rawText(before);
      out.rawText(reply);
    }
    if (tracked) {
      this.replyWritten = true;
      // A CLIENT CACHING still applies after a CLIENT command, or while MULTI is open.
      const keepCaching = tracking.cachingGiven() &&
        (argv[0].toLowerCase() === "client" || this.dispatcher.transactionOpen(client));
      tracking.endCommand(keepCaching);
      this.serving = null;
    }
    if (client.replyFlags !== 0) nextReplyFlags(client);
  }

  /**
   * `TrackingIo.push`: an invalidation for `client`, written where Redis puts it: into the
   * running command's output when it is the connection being served (before the reply while the
   * command runs, after it once it ran), else at once.
   */
  push(client: Client, text: string): void {
    if (client !== this.serving) return client.pushText(text);
    if (this.replyWritten) this.out.rawText(text);
    else this.beforeReply += text;
  }

  /**
   * Hands what the writer holds for `client` to its reply queue: complete now, or pending until
   * the writes since `mark` are durable (`appendfsync always`).
   */
  private send(client: Client, mark: number): void {
    const out = this.out;
    if (out.size > 0) {
      const wait = this.options.durability?.waitSince(mark) ?? null;
      this.handedOn++;
      if (wait === null) client.replies.push(out.take());
      else this.completeWhen(client, client.replies.defer(), out.take(), wait);
    }
    this.afterWrite(client);
  }

  /** Completes `reply` with `bytes` once `wait` resolves (a copy: `bytes` is the reused buffer). */
  private completeWhen(
    client: Client,
    reply: PendingReply | null,
    bytes: Uint8Array,
    wait: Promise<void>,
  ): void {
    if (reply === null) return;
    const copy = Uint8Array.prototype.slice.call(bytes);
    wait.then(() => {
      reply.complete(copy);
      this.afterWrite(client);
    });
  }

  /** `ServerHooks.block`: parks the connection running a blocking command. */
  block(client: ClientState, keys: string[], timeoutMs: number, argv?: string[]): boolean {
    if (!(client instanceof Client)) return this.park(client, keys, timeoutMs, argv);
    if (this.retrying === client) {
      // Run again after a push and still nothing: keep waiting where it was in the queues.
      client.blocked = this.retryState;
      return true;
    }
    // The replies of the commands before it go ahead of its own, which completes later.
    this.send(client, this.batchMark);
    const blocked: Blocked = {
      // The command as it runs again (XREAD's `$` made the ID it stood for), else as it came.
      argv: argv ?? client.currentArgv,
      queueKeys: keys.map((key) => `${client.db}\u0000${key}`),
      timer: null,
      reply: deferFor(client),
    };
    this.enqueueWaiter(client, blocked.queueKeys);
    if (timeoutMs > 0) blocked.timer = setTimeout(() => this.timeout(client), timeoutMs);
    client.blocked = blocked;
    this.blockedCount++;
    return true;
  }

  private enqueueWaiter(waiter: Waiter, queueKeys: string[]): void {
    for (const queueKey of queueKeys) {
      let queue = this.waiting.get(queueKey);
      if (queue === undefined) this.waiting.set(queueKey, queue = []);
      queue.push(waiter);
    }
  }

  private dequeueWaiter(waiter: Waiter, queueKeys: string[]): void {
    for (const queueKey of queueKeys) {
      const queue = this.waiting.get(queueKey);
      if (queue === undefined) continue;
      const index = queue.indexOf(waiter);
      if (index !== -1) queue.splice(index, 1);
      if (queue.length === 0) this.waiting.delete(queueKey);
    }
  }

  /**
   * Parks a blocking command of a client that can wait on its deferred reply (`parkable`: one
   * forwarded from another node, which blocks here, on the key's owner).
   */
  private park(client: ClientState, keys: string[], timeoutMs: number, argv?: string[]): boolean {
    // Inside a transaction (a forwarded EXEC) nothing waits: the null reply comes at once.
    if (client.parkable !== true || argv === undefined || this.dispatcher.inTransaction) {
      return false;
    }
    if (this.retrying === client) {
      this.reparked = true;
      return true;
    }
    const deferred = client.defer?.();
    if (deferred === undefined) return false;
    const parked: Parked = {
      client,
      deferred,
      active: true,
      argv: [...argv],
      queueKeys: keys.map((key) => `${client.db}\u0000${key}`),
      timer: null,
      reply: null,
    };
    this.enqueueWaiter(parked, parked.queueKeys);
    if (timeoutMs > 0) parked.timer = setTimeout(() => this.expire(parked), timeoutMs);
    this.blockedCount++;
    // Its client went away (the sender cancelled it): nothing is popped for nobody.
    deferred.onAbandon?.(() => this.unpark(parked));
    return true;
  }

  /** Runs a parked command again after a push; completes it unless it still finds nothing. */
  private retryParked(parked: Parked): void {
    const mark = this.options.durability?.mark() ?? 0;
    const out = this.out;
    const start = out.size;
    this.retrying = parked.client;
    this.reparked = false;
    try {
      out.protocol = parked.client.protocol;
      this.dispatcher.execute(parked.client, out, parked.argv);
    } finally {
      this.retrying = null;
    }
    const text = out.cut(start);
    if (this.reparked) return;
    this.unpark(parked);
    const wait = this.options.durability?.waitSince(mark) ?? null;
    const complete = () => parked.deferred.complete((o) => o.rawText(text));
    if (wait === null) complete();
    else wait.then(complete);
  }

  private expire(parked: Parked): void {
    if (!parked.active) return;
    this.unpark(parked);
    const nullBulk = this.dispatcher.table.lookup(parked.argv[0])?.timeoutReply === "null-bulk";
    parked.deferred.complete((o) => {
      o.protocol = parked.client.protocol;
      if (nullBulk) o.nullReply();
      else o.nullArray();
    });
  }

  private unpark(parked: Parked): void {
    if (!parked.active) return;
    parked.active = false;
    parked.deferred.onAbandon?.(null);
    if (parked.timer !== null) clearTimeout(parked.timer);
    this.dequeueWaiter(parked, parked.queueKeys);
    this.blockedCount--;
  }

  /** `ServerHooks.keyReady`: a push made `key` non-empty; waiting clients are served after the
   * current command. */
  keyReady(db: number, key: string): void {
    if (this.waiting.size === 0) return; // the common case: nobody blocked, nothing to build
    const queueKey = `${db}\u0000${key}`;
    if (!this.waiting.has(queueKey)) return;
    this.ready.add(queueKey);
    // A push that no connection's batch ran (the HTTP API, a command forwarded from another
    // node) is followed by no serving of its own: one is queued for when it is done.
    if (!this.serveQueued) {
      this.serveQueued = true;
      queueMicrotask(() => {
        this.serveQueued = false;
        this.serveReady();
      });
    }
  }

  /** `ServerHooks.blockedKeys`: the keys of store `db` that clients are blocked on. */
  blockedKeys(db: number): string[] {
    const prefix = `${db}\u0000`;
    const keys: string[] = [];
    for (const queueKey of this.waiting.keys()) {
      if (queueKey.startsWith(prefix)) keys.push(queueKey.slice(prefix.length));
    }
    return keys;
  }

  /** Runs parked commands whose keys got data, oldest first. */
  private serveReady(): void {
    while (this.ready.size > 0) {
      const keys = [...this.ready];
      this.ready.clear();
      for (const queueKey of keys) {
        for (const waiter of [...(this.waiting.get(queueKey) ?? [])]) {
          if (!(waiter instanceof Client)) {
            if (waiter.active) this.retryParked(waiter);
          } else if (waiter.blocked !== null) this.retry(waiter);
        }
      }
    }
  }

  private retry(client: Client): void {
    const blocked = client.blocked!;
    const mark = this.batchMark = this.options.durability?.mark() ?? 0;
    this.retrying = client;
    this.retryState = blocked;
    client.blocked = null;
    try {
      client.currentArgv = blocked.argv;
      this.dispatcher.execute(client, this.out, blocked.argv);
    } finally {
      this.retrying = null;
      this.retryState = null;
    }
    if (client.blocked !== null) return;
    client.blocked = blocked;
    this.unblock(client);
    this.finish(client, blocked.reply, mark);
    this.runPending(client);
  }

  /**
   * `ClientState.defer`: the replies of the commands before it go ahead; its own completes
   * later, written with the writer of completions (it may complete while another client is
   * served).
   */
  private deferReply(client: Client): DeferredReply {
    this.send(client, this.batchMark);
    const reply = deferFor(client);
    let done = false;
    return {
      complete: (write) => {
        if (done) throw new Error("a deferred reply completes once");
        done = true;
        // One writer for every completion: each is written and handed on (copied) at once.
        const out = this.deferredOut;
        out.protocol = client.protocol;
        write(out);
        reply?.complete(out.take());
        this.afterWrite(client);
      },
      onAbandon: (cancel) => {
        if (reply !== null) reply.onAbandon = cancel;
      },
    };
  }

  /** Completes a pending reply with what the writer holds: now, or once durable. */
  private finish(client: Client, reply: PendingReply | null, mark: number): void {
    const bytes = this.out.take();
    const wait = this.options.durability?.waitSince(mark) ?? null;
    if (reply !== null) {
      if (wait === null) reply.complete(bytes);
      else this.completeWhen(client, reply, bytes, wait);
    }
    this.afterWrite(client);
  }

  private timeout(client: Client): void {
    const blocked = client.blocked;
    if (blocked === null) return;
    this.unblock(client);
    this.out.protocol = client.protocol;
    if (this.dispatcher.table.lookup(blocked.argv[0])?.timeoutReply === "null-bulk") {
      this.out.nullReply();
    } else this.out.nullArray();
    this.finish(client, blocked.reply, this.options.durability?.mark() ?? 0);
    this.runPending(client);
  }

  /** Takes a client out of the wait queues. */
  private unblock(client: Client): void {
    const blocked = client.blocked;
    if (blocked === null) return;
    if (blocked.timer !== null) clearTimeout(blocked.timer);
    this.dequeueWaiter(client, blocked.queueKeys);
    client.blocked = null;
    if (blocked.suspended !== true) this.blockedCount--;
  }

  /** `ServerHooks.suspend`: the connection's later commands wait until `complete`. */
  suspend(client: ClientState): DeferredReply | undefined {
    if (!(client instanceof Client)) return client.defer?.();
    this.send(client, this.batchMark);
    const blocked: Blocked = {
      argv: client.currentArgv,
      queueKeys: [],
      timer: null,
      reply: deferFor(client),
      suspended: true,
    };
    client.blocked = blocked;
    return {
      complete: (write) => {
        if (client.blocked !== blocked) return; // the connection closed meanwhile
        client.blocked = null;
        const out = this.deferredOut;
        out.protocol = client.protocol;
        write(out);
        blocked.reply?.complete(out.take());
        this.afterWrite(client);
        this.runPending(client);
      },
    };
  }

  /** Runs the commands that arrived while the client was blocked. */
  private runPending(client: Client): void {
    if (client.pending.length === 0 || client.closeAfterReply) return;
    const pending = client.pending;
    client.pending = [];
    const mark = this.batchMark = this.options.durability?.mark() ?? 0;
    for (let i = 0; i < pending.length; i++) {
      if (client.blocked !== null) {
        client.pending = pending.slice(i).concat(client.pending);
        break;
      }
      this.command(client, pending[i]);
    }
    this.send(client, mark);
    this.serveReady();
  }

  private afterWrite(client: Client): void {
    const conn = client.conn;
    if (client.closeAfterReply) {
      if (client.replies.idle) conn.close();
      return;
    }
    const pending = conn.pendingBytes();
    if (pending > this.options.maxOutputBufferBytes) {
      // A client that does not read its replies must not grow the server's memory without bound.
      this.stats.outputLimitDisconnections++;
      client.closeAfterReply = true;
      conn.close();
    } else if (pending > PAUSE_READ_PENDING_BYTES) {
      conn.pause();
    }
  }

  /** CONFIG SET maxclients. */
  setMaxClients(count: number): void {
    this.options.maxClients = count;
  }

  /** CONFIG SET requirepass: new connections must (or need not) authenticate. */
  setRequireAuth(required: boolean): void {
    this.options.requireAuth = required;
  }

  /** The CLIENT LIST line of a connection, in Redis's format. */
  clientInfo(id: number): string | undefined {
    const client = this.clients.get(id);
    if (client === undefined) return undefined;
    const now = this.runtime.clock.realtimeMs();
    const tracker = this.tracking?.tracker(client.id);
    // Redis's letters, in its order: P pub/sub, t tracking, R its redirect is broken, B BCAST,
    // e NO-EVICT; N for none.
    let flags = client.subscriptions > 0 ? "P" : "";
    if (tracker !== undefined) {
      flags += "t";
      if (tracker.brokenRedirect) flags += "R";
      if (tracker.bcast) flags += "B";
    }
    if (client.noEvict) flags += "e";
    if (flags === "") flags = "N";
    return `id=${client.id} addr=${client.remoteAddress} laddr=${this.options.hostname}:${this.port} ` +
      `fd=-1 name=${client.name} age=${Math.floor((now - client.createdMs) / 1000)} ` +
      `idle=${Math.floor((now - client.lastActiveMs) / 1000)} flags=${flags} db=${client.db} ` +
      `sub=${client.subscriptions} psub=0 ssub=0 multi=-1 qbuf=${client.parser.bufferedBytes} ` +
      `qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=${client.conn.pendingBytes()} ` +
      `tot-mem=0 events=r cmd=${client.lastCommand || "NULL"} user=${client.user} redir=${
        tracker?.redirect ?? -1
      } resp=${client.protocol}`;
  }

  /** Closes the connections a CLIENT KILL filter matches; returns how many. */
  kill(filter: ClientKillFilter): number {
    let killed = 0;
    for (const client of this.clients.values()) {
      if (filter.id !== undefined && client.id !== filter.id) continue;
      if (filter.addr !== undefined && client.remoteAddress !== filter.addr) continue;
      if (filter.user !== undefined && client.user !== filter.user) continue;
      if (filter.skipMe !== false && client.id === filter.self) continue;
      killed++;
      client.closeAfterReply = true;
      // A connection killed by itself still gets its reply first.
      if (client.id !== filter.self) client.conn.close();
    }
    return killed;
  }

  /** Stops accepting, lets in-flight replies go out, and closes every connection. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.listener?.close();
    await this.tlsListener?.close();
    // Replies waiting for an fsync go out before their connections close.
    await Promise.all([...this.clients.values()].map((client) => client.replies.drained()));
    for (const client of this.clients.values()) client.conn.close();
    // Commands parked for other nodes' clients end too: their nodes answer them -TRYAGAIN.
    for (const queue of [...this.waiting.values()]) {
      for (const waiter of [...queue]) {
        if (waiter instanceof Client || !waiter.active) continue;
        this.unpark(waiter);
        waiter.deferred.complete((o) => o.error("TRYAGAIN the slot's owner is stopping"));
      }
    }
  }
}
