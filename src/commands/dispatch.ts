/**
 * Runs commands from any front door (RESP, HTTP, AOF replay) through the one table: lookup,
 * arity, authentication, memory limits, the handler, and propagation of writes.
 *
 * @module
 */
import type { Keyspace } from "../keyspace/keyspace.ts";
import type { ReplyWriter } from "../resp/writer.ts";
import { busyError, NOAUTH, OOM, ReplyError, unknownCommand, wrongArity } from "./errors.ts";
import type { CommandTable } from "./table.ts";
import { allowedBy, ROLE_RULES } from "./acl.ts";
import { HERE, type Route, type Router, SPLIT_NODE } from "./routing.ts";
import { SUBSCRIBED_MODE_COMMANDS } from "./pubsub.ts";
import type { Store } from "../keyspace/store.ts";
import type { KeyWatcher } from "../keyspace/store.ts";
import {
  type ClientState,
  type CommandContext,
  type CommandSpec,
  type DeferredReply,
  keyIndices,
  REPLY_MUTED,
  type ServerHooks,
  specFor,
  type TransactionControl,
  type UserRole,
} from "./types.ts";

/** Counters for INFO stats. */
export interface DispatchStats {
  commandsProcessed: number;
  /** Calls and errors per command name. */
  /** Per command: calls that ran, of them those that failed, and calls refused before running
   * (arity, ACL, OOM, MISCONF, -BUSY: Redis's `rejected_calls`). */
  perCommand: Map<string, { calls: number; errors: number; rejected: number }>;
  errorReplies: number;
  /** Error replies by their code (`ERR`, `WRONGTYPE`, ...). */
  errorCodes: Map<string, number>;
  /** Handlers that threw something other than a `ReplyError` (each answered `-ERR`). */
  unexpectedErrors: number;
}

/** Distinct unexpected failures logged before the dispatcher only counts them. */
const MAX_LOGGED_UNEXPECTED = 100;

/**
 * What a call hands on: every write that changed data, as the record to log and replicate, and
 * as the command that ran (keyspace notifications). They are outputs of the call, given once when
 * the node is assembled and never swapped: the dispatcher collects a top-level call's records
 * and hands them on after it (a transaction's inside MULTI/EXEC), and a replayed call (AOF load)
 * hands on nothing.
 */
export interface DispatchOutputs {
  /** A record to log and replicate, in execution order. */
  propagate?(db: number, argv: string[]): void;
  /** A write command that changed data in store `db` (keyspace notifications); `record` is
   * what it logged (BLPOP logs the `LPOP key` it did). */
  written?(db: number, spec: CommandSpec, argv: string[], record: string[]): void;
  /** When it returns an error text, write commands are refused with it (persistence failing). */
  writeGate?(): string | null;
}

/** How a top-level call runs: for a client, or replayed from the AOF (`loading`: no memory
 * limit, no write gate, nothing handed on, as Redis loads). */
export type CallMode = "client" | "loading";

/** Whether a role may run a command (or subcommand): its ACL rules over the categories. */
export function permitted(spec: CommandSpec, role: UserRole): boolean {
  return allowedBy(ROLE_RULES[role], spec);
}

/** Which roles other than admin may run a command, worked out once from the rules. */
interface Permission {
  readonly: boolean;
  readwrite: boolean;
}

function permission(spec: CommandSpec): Permission {
  return { readonly: permitted(spec, "readonly"), readwrite: permitted(spec, "readwrite") };
}

/** The answer to a command another node would run, where nothing forwards it yet. */
const NO_FORWARDING = "TRYAGAIN the key lives on another node and this node cannot forward";
/** The answer to a connection-state command (WATCH) for keys another node owns. */
const notForwardable = (name: string) =>
  `ERR '${name}' of a key on another node needs a connection to that node (cluster clients make one)`;
/** A transaction's keys on two nodes (or split across slots): Redis Cluster's answer. */
const CROSS_NODE = "CROSSSLOT Keys in request don't hash to the same slot";

/** The MULTI/EXEC/WATCH commands' view of a connection's transaction state. */
class Transaction implements TransactionControl {
  constructor(private readonly ctx: Context, private readonly dispatcher: Dispatcher) {}

  get open(): boolean {
    return this.ctx.queue !== null;
  }

  get executing(): boolean {
    return this.ctx.executing;
  }

  begin(): void {
    const ctx = this.ctx;
    if (ctx.queue !== null) throw new ReplyError("ERR MULTI calls can not be nested");
    ctx.queue = [];
    ctx.queueFailed = false;
    ctx.queueNode = null;
    ctx.queueHere = false;
    ctx.out.ok();
  }

  discard(): void {
    const ctx = this.ctx;
    if (ctx.queue === null) throw new ReplyError("ERR DISCARD without MULTI");
    ctx.queue = null;
    ctx.unwatchAll();
    ctx.out.ok();
  }

  exec(): void {
    this.dispatcher.exec(this.ctx);
  }

  watch(keys: string[]): void {
    const ctx = this.ctx;
    if (ctx.queue !== null) throw new ReplyError("ERR WATCH inside MULTI is not allowed");
    for (const key of keys) {
      // Expire it now if due, so a key already gone at WATCH time does not abort EXEC later.
      ctx.store.lookup(key, false);
      ctx.store.watch(key, ctx);
      ctx.watched.push({ store: ctx.store, key });
    }
    ctx.out.ok();
  }

  unwatch(): void {
    this.ctx.unwatchAll();
    this.ctx.out.ok();
  }

  reset(): void {
    this.ctx.queue = null;
    this.ctx.unwatchAll();
  }
}

class Context implements CommandContext, KeyWatcher {
  propagated: string[] | null = null;
  /** Several records for one call (`propagateAll`), else null. */
  propagatedAll: string[][] | null = null;
  /** Queued commands while MULTI is open, else null. */
  queue: string[][] | null = null;
  /** A command failed to queue: EXEC must abort. */
  queueFailed = false;
  /**
   * The node a plain client's queued keyed commands are forwarded to (a cluster node serves its
   * transaction there, whole), or null; `queueHere` when some run here. A transaction is one or
   * the other.
   */
  queueNode: string | null = null;
  queueHere = false;
  watched: { store: Store; key: string }[] = [];
  watchTouched = false;
  executing = false;
  readonly transaction: TransactionControl;

  constructor(
    readonly keyspace: Keyspace,
    public store: CommandContext["store"],
    readonly client: ClientState,
    public out: ReplyWriter,
    readonly server: ServerHooks,
    private readonly dispatcher: Dispatcher,
  ) {
    this.transaction = new Transaction(this, dispatcher);
  }

  unwatchAll(): void {
    for (const { store, key } of this.watched) store.unwatch(key, this);
    this.watched = [];
    this.watchTouched = false;
  }

  propagate(argv: string[]): void {
    this.propagated = argv;
  }

  propagateAll(records: string[][]): void {
    this.propagated = records.length === 1 ? records[0] : [];
    this.propagatedAll = records.length === 1 ? null : records;
  }

  defer(): DeferredReply {
    if (this.executing || this.dispatcher.inTransaction || this.dispatcher.isLoading) {
      throw new ReplyError("ERR this command cannot wait inside a transaction or while loading");
    }
    const deferred = this.client.defer?.();
    if (deferred === undefined) throw new ReplyError("ERR this connection cannot wait for a reply");
    return deferred;
  }
}

/** A table entry with its flags resolved once, so the hot path tests booleans. */
interface Compiled {
  spec: CommandSpec;
  write: boolean;
  denyoom: boolean;
  noauth: boolean;
  counters: { calls: number; errors: number; rejected: number };
  allowed: Permission;
  /** A container's subcommands that write (`xgroup|create` under `create`), or null. */
  subWrite: Set<string> | null;
  /** Per subcommand (`client|kill` under `kill`), for containers whose subcommands differ. */
  subAllowed: Map<string, { name: string; allowed: Permission }> | null;
  /** Where the command's one key is, when the table puts exactly one at a fixed position (and
   * no subcommand or key finder decides); else 0. Routing then makes no key list. */
  keyAt: number;
}

export class Dispatcher {
  readonly stats: DispatchStats = {
    commandsProcessed: 0,
    perCommand: new Map(),
    errorReplies: 0,
    errorCodes: new Map(),
    unexpectedErrors: 0,
  };
  /** Where unexpected handler failures are reported (once each). */
  log: (message: string) => void = (message) => console.error(message);
  private readonly loggedUnexpected = new Set<string>();
  /**
   * A script past busy-reply-threshold is suspended between its slices: every command but those
   * flagged `allow_busy` gets -BUSY, and nothing else may change the keyspace (the script is
   * atomic). Set by the script engine (what runs: a script or a function); false while the
   * script itself runs.
   */
  scriptBusy: false | "script" | "function" = false;
  /** Nesting of calls (EXEC's commands, `atomically`): outputs go out when it is back to 0. */
  private depth = 0;
  private loading = false;
  /** The current top-level call must apply all or none of its records (EXEC, /multi-exec). */
  private transactional = false;
  /** The current top-level call's records, in order (reused, not reallocated). */
  private readonly recordDbs: number[] = [];
  private readonly recordArgvs: string[][] = [];
  private readonly contexts = new WeakMap<ClientState, Context>();
  /**
   * Told every command that ran (failed or not), for client-side caching to remember the keys of
   * a tracking client's reads; null while no client tracks keys (one comparison per command).
   */
  tracked: ((client: ClientState, spec: CommandSpec, argv: string[]) => void) | null = null;
  private readonly compiled = new Map<string, Compiled>();
  private readonly bySpec = new Map<CommandSpec, Compiled>();

  constructor(
    readonly table: CommandTable,
    readonly keyspace: Keyspace,
    readonly server: ServerHooks,
    private readonly outputs: DispatchOutputs = {},
    /** Where commands run; none on a single node (everything runs here, at no cost). */
    private readonly router: Router | null = null,
  ) {
    for (const spec of table.specs) {
      const counters = { calls: 0, errors: 0, rejected: 0 };
      this.stats.perCommand.set(spec.name, counters);
      const entry: Compiled = {
        spec,
        write: spec.flags.includes("write"),
        subWrite: spec.subcommands?.some((sub) => sub.flags.includes("write"))
          ? new Set(
            spec.subcommands.filter((sub) => sub.flags.includes("write"))
              .map((sub) => sub.name.slice(sub.name.indexOf("|") + 1)),
          )
          : null,
        denyoom: spec.flags.includes("denyoom"),
        noauth: spec.flags.includes("noauth"),
        counters,
        allowed: permission(spec),
        subAllowed: spec.subcommands === undefined ? null : new Map(
          spec.subcommands.map((sub) => [
            sub.name.slice(sub.name.indexOf("|") + 1),
            { name: sub.name, allowed: permission(sub) },
          ]),
        ),
        keyAt: spec.subcommands === undefined && spec.keyFinder === undefined &&
            spec.firstKey > 0 && spec.lastKey === spec.firstKey
          ? spec.firstKey
          : 0,
      };
      this.bySpec.set(spec, entry);
      // Clients send upper or lower case; both are keys so the hot path skips toLowerCase.
      this.compiled.set(spec.name, entry);
      this.compiled.set(spec.name.toUpperCase(), entry);
    }
  }

  private lookup(name: string): Compiled | undefined {
    return this.compiled.get(name) ?? this.compiled.get(name.toLowerCase());
  }

  private context(client: ClientState, out: ReplyWriter): Context {
    let ctx = this.contexts.get(client);
    if (ctx === undefined) {
      ctx = new Context(
        this.keyspace,
        this.keyspace.store(client.db),
        client,
        out,
        this.server,
        this,
      );
      this.contexts.set(client, ctx);
    }
    ctx.out = out;
    ctx.store = this.keyspace.store(client.db);
    return ctx;
  }

  /** Forgets a connection that closed: its watched keys and any open MULTI. */
  release(client: ClientState): void {
    const ctx = this.contexts.get(client);
    if (ctx === undefined) return;
    ctx.unwatchAll();
    ctx.queue = null;
    this.contexts.delete(client);
  }

  /** Checks that let a command run; returns the error text, or null. */
  check(spec: CommandSpec | undefined, argv: string[], client: ClientState): string | null {
    const entry = spec === undefined ? undefined : this.bySpec.get(spec);
    return this.checkEntry(entry, argv, client);
  }

  private checkEntry(
    entry: Compiled | undefined,
    argv: string[],
    client: ClientState,
  ): string | null {
    if (entry === undefined) return client.authenticated ? unknownCommand(argv) : NOAUTH;
    const spec = entry.spec;
    // A protected command (DEBUG) is refused before authentication, as Redis refuses it.
    if (
      spec.gate !== undefined &&
      (spec.arity > 0 ? argv.length === spec.arity : argv.length >= -spec.arity)
    ) {
      const refusal = spec.gate(this.server, client);
      if (refusal !== null) return refusal;
    }
    if (!client.authenticated && !entry.noauth) return NOAUTH;
    if (spec.arity > 0 ? argv.length !== spec.arity : argv.length < -spec.arity) {
      return wrongArity(spec.name);
    }
    if (
      client.protocol === 2 && (client.subscriptions ?? 0) > 0 &&
      !SUBSCRIBED_MODE_COMMANDS.has(spec.name)
    ) {
      return `ERR Can't execute '${spec.name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context`;
    }
    if (client.role !== "admin") {
      let name = spec.name;
      let allowed = entry.allowed;
      if (entry.subAllowed !== null && argv.length > 1) {
        const sub = entry.subAllowed.get(argv[1].toLowerCase());
        if (sub !== undefined) ({ name, allowed } = sub);
      }
      if (!allowed[client.role]) {
        return `NOPERM User ${client.user} has no permissions to run the '${name}' command`;
      }
    }
    return null;
  }

  /** Whether the current call must run whole (EXEC, `atomically`): no reply may wait. */
  get inTransaction(): boolean {
    return this.transactional;
  }

  /** Whether MULTI is open for `client` (its commands are being queued). */
  transactionOpen(client: ClientState): boolean {
    const ctx = this.contexts.get(client);
    return ctx !== undefined && ctx.queue !== null;
  }

  /** Whether the current call is an AOF replay. */
  get isLoading(): boolean {
    return this.loading;
  }

  /** Runs one command and writes its reply to `out`; hands on its outputs after it. */
  execute(client: ClientState, out: ReplyWriter, argv: string[], mode: CallMode = "client"): void {
    // Inside `atomically`: one of its commands; it hands on the records when it ends.
    if (this.depth !== 0) return this.call(client, out, argv);
    this.loading = mode === "loading";
    this.call(client, out, argv);
    // EXEC buffered its commands' records (no try/finally on this hot path: a handler's throw
    // is caught in runEntry, and a flag left set would only wrap the next call's records).
    if (this.transactional) this.handOn();
  }

  /**
   * Runs `body` (commands through `execute`) as one call: its records go out together, inside
   * MULTI/EXEC when there are several, as EXEC's do (the HTTP API's /multi-exec).
   */
  atomically<T>(body: () => T): T {
    const top = this.beginAtomic();
    try {
      return body();
    } finally {
      this.endAtomic(top);
    }
  }

  /**
   * Opens an `atomically` call that ends with `endAtomic(top)`, maybe turns of the event loop
   * later (a script suspended past busy-reply-threshold, while everything else gets -BUSY).
   */
  beginAtomic(): boolean {
    // Inside EXEC (a script it runs), EXEC hands the records on when it ends.
    const top = this.depth === 0 && !this.transactional;
    if (top) this.loading = false;
    this.depth++;
    this.transactional = true;
    return top;
  }

  endAtomic(top: boolean): void {
    if (--this.depth === 0 && top) this.handOn();
  }

  /** Hands on what the top-level transaction that just ended wrote. */
  private handOn(): void {
    const count = this.recordDbs.length;
    const transaction = this.transactional && count > 1;
    this.transactional = false;
    if (count === 0) return;
    const propagate = this.outputs.propagate!; // records are kept only when there is one
    if (transaction) propagate(this.recordDbs[0], ["MULTI"]);
    for (let i = 0; i < count; i++) propagate(this.recordDbs[i], this.recordArgvs[i]);
    if (transaction) propagate(this.recordDbs[count - 1], ["EXEC"]);
    this.recordDbs.length = 0;
    this.recordArgvs.length = 0;
  }

  private record(db: number, argv: string[]): void {
    const propagate = this.outputs.propagate;
    if (propagate === undefined || this.loading) return;
    // Outside a transaction nothing wraps the records: they go out at once, in order.
    if (!this.transactional) return propagate(db, argv);
    this.recordDbs.push(db);
    this.recordArgvs.push(argv);
  }

  /** One call's several records, handed on together (inside MULTI/EXEC) as EXEC's are. */
  private recordAll(db: number, records: string[][]): void {
    const propagate = this.outputs.propagate;
    if (propagate === undefined || this.loading) return;
    if (this.transactional) {
      for (const argv of records) this.record(db, argv);
      return;
    }
    propagate(db, ["MULTI"]);
    for (const argv of records) propagate(db, argv);
    propagate(db, ["EXEC"]);
  }

  private call(client: ClientState, out: ReplyWriter, argv: string[]): void {
    const entry = this.lookup(argv[0]);
    out.protocol = client.protocol;
    this.stats.commandsProcessed++;
    let failure = this.checkEntry(entry, argv, client);
    if (
      this.scriptBusy !== false && failure === null &&
      !specFor(entry!.spec, argv).flags.includes("allow_busy")
    ) {
      failure = busyError(this.scriptBusy);
    }
    const ctx = this.contexts.get(client);
    if (ctx !== undefined && ctx.queue !== null && entry?.spec.notQueued !== true) {
      this.enqueue(ctx, entry, argv, failure, out);
      return;
    }
    if (failure !== null) {
      if (entry !== undefined) entry.counters.rejected++;
      this.replyError(out, failure);
      return;
    }
    // AOF replay runs everything here: the log holds only what this node served.
    if (this.router !== null && !this.loading) {
      const route = this.routeOf(entry!, argv, client);
      if (
        route.kind !== "here" && !(route.kind === "forward" && entry!.spec.servedWhereConnected)
      ) {
        // State of this connection (WATCH) cannot live on another node.
        if (route.kind === "forward" && entry!.spec.needsConnection === true) {
          this.replyError(out, notForwardable(entry!.spec.name));
          return;
        }
        if (route.kind === "forward" && this.forward(route.node, client, argv)) return;
        this.replyError(out, route.kind === "redirect" ? route.error : NO_FORWARDING);
        return;
      }
    }
    this.runEntry(entry!, client, out, argv);
  }

  /**
   * Hands `argv` to the router to run on `node`, its reply taking this command's place in the
   * client's reply order. False where a reply cannot wait: inside `atomically`, or for a client
   * that cannot hold one (AOF replay).
   */
  private forward(node: string, client: ClientState, argv: string[]): boolean {
    const router = this.router!;
    if (router.forward === undefined || this.depth !== 0 || this.loading) return false;
    const reply = client.defer?.();
    if (reply === undefined) return false;
    router.forward(node, client, argv, reply);
    return true;
  }

  /**
   * Where a transaction's `commands` run for `client`: here when every keyed one runs here, else
   * the first other route (the whole EXEC is redirected, as Redis Cluster answers it).
   */
  routeTransaction(client: ClientState, commands: readonly string[][]): Route {
    if (this.router === null) return HERE;
    for (const argv of commands) {
      const entry = this.lookup(argv[0]);
      if (entry === undefined) continue;
      const route = this.routeOf(entry, argv, client);
      if (route.kind !== "here") return route;
    }
    return HERE;
  }

  /** The routing step: where `argv` runs, from its keys as the table finds them. */
  private routeOf(entry: Compiled, argv: string[], client: ClientState): Route {
    const spec = entry.spec;
    const keyAt = entry.keyAt;
    if (keyAt !== 0 && keyAt < argv.length) return this.router!.routeKey(spec, argv[keyAt], client);
    const governing = specFor(spec, argv);
    const indices = keyIndices(governing, argv);
    const keys = indices === null ? null : indices.map((i) => argv[i]);
    return this.router!.route(governing, argv, keys, client);
  }

  /** Queues a command inside MULTI; a command that cannot run makes EXEC abort. */
  private enqueue(
    ctx: Context,
    entry: Compiled | undefined,
    argv: string[],
    failure: string | null,
    out: ReplyWriter,
  ): void {
    if (failure === null && entry!.spec.flags.includes("no_multi")) {
      failure = `ERR Command not allowed inside a transaction`;
    }
    // As Redis Cluster does, a command that would not run here cannot be queued here, unless
    // the router forwards the whole transaction for a plain client: then every keyed command
    // must go to the same node.
    if (failure === null && this.router !== null && !this.loading) {
      const route = this.routeOf(entry!, argv, ctx.client);
      const keyed = (keyIndices(specFor(entry!.spec, argv), argv)?.length ?? 0) > 0;
      failure = this.queueRoute(ctx, route, keyed);
    }
    if (failure !== null) {
      ctx.queueFailed = true;
      this.replyError(out, failure);
      return;
    }
    ctx.queue!.push(argv);
    out.simple("QUEUED");
  }

  /** Why a queued command routed to `route` cannot join the transaction, or null. */
  private queueRoute(ctx: Context, route: Route, keyed: boolean): string | null {
    if (route.kind === "redirect") return route.error;
    if (route.kind === "here") {
      // A keyless command runs wherever the transaction does.
      if (!keyed) return null;
      if (ctx.queueNode !== null) return CROSS_NODE;
      ctx.queueHere = true;
      return null;
    }
    if (this.router!.forwardTransaction === undefined || route.node === SPLIT_NODE) {
      return route.node === SPLIT_NODE ? CROSS_NODE : NO_FORWARDING;
    }
    if (ctx.queueHere || (ctx.queueNode !== null && ctx.queueNode !== route.node)) {
      return CROSS_NODE;
    }
    ctx.queueNode = route.node;
    return null;
  }

  /** EXEC: runs the queued commands back to back (nothing else runs in between), unless a
   * watched key changed or a command failed to queue. Writes are logged inside MULTI/EXEC so a
   * replay applies all of them or none. */
  exec(ctx: Context): void {
    const queue = ctx.queue;
    if (queue === null) throw new ReplyError("ERR EXEC without MULTI");
    ctx.queue = null;
    const out = ctx.out;
    if (ctx.queueFailed) {
      ctx.unwatchAll();
      throw new ReplyError("EXECABORT Transaction discarded because of previous errors.");
    }
    // A watched key that expired since WATCH counts as changed, as in Redis 7.
    for (const { store, key } of ctx.watched) store.lookup(key, false);
    const touched = ctx.watchTouched;
    ctx.unwatchAll();
    if (touched) {
      out.nullArray();
      return;
    }
    const node = ctx.queueNode;
    if (node !== null) {
      // Served whole by the node that owns its keys; its EXEC reply takes this one's place.
      ctx.queueNode = null;
      this.router!.forwardTransaction!(node, ctx.client, queue, ctx.defer());
      return;
    }
    // The queued commands' records go out after EXEC, inside MULTI/EXEC when there are several.
    this.transactional = true;
    const client = ctx.client;
    // Under CLIENT REPLY OFF (or SKIP) each reply is dropped as it is written, as Redis drops
    // them: a CLIENT REPLY inside the transaction changes that for the replies after it.
    if (((client.replyFlags ?? 0) & REPLY_MUTED) === 0) out.arrayHeader(queue.length);
    ctx.executing = true;
    try {
      for (const argv of queue) {
        const entry = this.lookup(argv[0])!;
        const mark = out.size;
        const failure = this.checkEntry(entry, argv, client);
        if (failure !== null) this.replyError(out, failure);
        else this.runEntry(entry, client, out, argv);
        if (((client.replyFlags ?? 0) & REPLY_MUTED) !== 0) out.cut(mark);
      }
    } finally {
      ctx.executing = false;
    }
  }

  /** Runs a command that passed `check`. */
  run(spec: CommandSpec, client: ClientState, out: ReplyWriter, argv: string[]): void {
    this.runEntry(this.bySpec.get(spec)!, client, out, argv);
  }

  private runEntry(entry: Compiled, client: ClientState, out: ReplyWriter, argv: string[]): void {
    const spec = entry.spec;
    const ctx = this.context(client, out);
    const store = ctx.store;
    // A container's write is its subcommand's (XGROUP CREATE is one, XGROUP HELP is not).
    const isWrite = entry.write ||
      (entry.subWrite !== null && argv.length > 1 && entry.subWrite.has(argv[1].toLowerCase()));
    if (isWrite && !this.loading && this.outputs.writeGate !== undefined) {
      const refusal = this.outputs.writeGate();
      if (refusal !== null) {
        this.reject(entry);
        this.replyError(out, refusal, false);
        return;
      }
    }
    // Loading ignores the memory limit, as Redis does: what was acknowledged comes back.
    if (entry.denyoom && !this.loading && !store.ensureMemory()) {
      this.reject(entry);
      this.replyError(out, OOM, false);
      return;
    }
    const dirtyBefore = isWrite ? this.dirtyTotal() : 0;
    ctx.propagated = null;
    ctx.propagatedAll = null;
    if (store.defaultTtlKeys.length > 0) store.defaultTtlKeys.length = 0; // a failed command's
    client.lastCommand = spec.name;
    let failed = false;
    const mark = out.size;
    try {
      spec.handler(ctx, argv);
    } catch (error) {
      failed = true;
      // Whatever the handler wrote before it threw is dropped: the client gets one reply.
      out.cut(mark);
      const text = error instanceof ReplyError ? error.message : this.unexpected(spec, error);
      this.replyError(out, text, false);
    }
    this.countCall(entry, failed);
    if (this.tracked !== null) this.tracked(client, spec, argv);
    if (isWrite && this.dirtyTotal() !== dirtyBefore) {
      if (ctx.propagatedAll !== null) this.recordAll(store.index, ctx.propagatedAll);
      else this.record(store.index, ctx.propagated ?? argv);
      if (store.defaultTtlKeys.length > 0) this.propagateDefaultTtls(store);
      // Notifications see the keyspace right after the command, as Redis's do.
      if (!this.loading) this.outputs.written?.(store.index, spec, argv, ctx.propagated ?? argv);
    }
  }

  /**
   * Logs `PEXPIREAT` for the keys the command gave its store's default TTL, after the command
   * itself: replayed alone, the command would start that TTL at the replay. Only the command's
   * own store gives one: `COPY ... DB n`, the one command that writes to another, keeps the
   * source key's TTL.
   */
  private propagateDefaultTtls(store: Store): void {
    for (const key of store.defaultTtlKeys) {
      const entry = store.lookup(key, false);
      if (entry !== undefined && entry.expiresAtMs !== 0) {
        this.record(store.index, ["PEXPIREAT", key, String(entry.expiresAtMs)]);
      }
    }
    store.defaultTtlKeys.length = 0;
  }

  /**
   * A handler threw something other than a `ReplyError`: a bug, or a runtime limit such as V8's
   * string length. The command gets `-ERR` and nothing else is touched; each distinct failure is
   * logged once, every one is counted (INFO stats `unexpected_error_replies`).
   */
  private unexpected(spec: CommandSpec, error: unknown): string {
    this.stats.unexpectedErrors++;
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    const text = `ERR unexpected error in '${spec.name}': ${message}`.replace(/[\r\n]+/g, " ");
    if (this.loggedUnexpected.size < MAX_LOGGED_UNEXPECTED && !this.loggedUnexpected.has(text)) {
      this.loggedUnexpected.add(text);
      this.log(`${text}\n${error instanceof Error ? error.stack : ""}`);
    }
    return text;
  }

  /** Writes an error reply and counts it by its code (INFO errorstats). `count` is false when
   * `countCall` counts the reply itself. */
  private replyError(out: ReplyWriter, text: string, count = true): void {
    if (count) this.stats.errorReplies++;
    const space = text.indexOf(" ");
    const code = space === -1 ? text : text.slice(0, space);
    this.stats.errorCodes.set(code, (this.stats.errorCodes.get(code) ?? 0) + 1);
    out.error(text);
  }

  private dirtyTotal(): number {
    let total = 0;
    for (const store of this.keyspace.stores) total += store.dirty;
    return total;
  }

  /** Counts a command that a caller's own `check` refused (Redis's `rejected_calls`). */
  countRejected(name: string): void {
    const entry = this.lookup(name);
    if (entry !== undefined) entry.counters.rejected++;
    this.stats.commandsProcessed++;
    this.stats.errorReplies++;
  }

  /** A call refused before it ran (OOM, MISCONF). */
  private reject(entry: Compiled): void {
    entry.counters.rejected++;
    this.stats.errorReplies++;
  }

  private countCall(entry: Compiled, failed: boolean): void {
    entry.counters.calls++;
    if (failed) {
      entry.counters.errors++;
      this.stats.errorReplies++;
    }
  }
}
