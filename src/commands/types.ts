/**
 * The shape of the command table: every command is one `CommandSpec`, read by the RESP server,
 * the HTTP API, AOF logging and replay, ACL checks and `COMMAND`.
 *
 * @module
 */
import type { Keyspace } from "../keyspace/keyspace.ts";
import type { Store } from "../keyspace/store.ts";
import type { ReplyWriter, RespVersion } from "../resp/writer.ts";
import type { PubSub, Subscriber } from "./pubsub.ts";
import { type AclCategory, deriveCategories } from "./acl.ts";
import type { EventRule } from "./events.ts";
import type { ScriptEngine } from "../scripting/engine.ts";
import type { ClientTracking } from "../server/tracking.ts";

/** Redis's command flags, as far as HyperCache uses them. */
export type CommandFlag =
  | "write"
  | "readonly"
  | "denyoom"
  | "admin"
  | "fast"
  | "noauth"
  | "loading"
  | "stale"
  | "pubsub"
  | "blocking"
  | "noscript"
  | "no_multi"
  /** Has key positions but may be given no key (EVAL with numkeys 0). */
  | "no_mandatory_keys"
  /** Runs while a script is busy (past busy-reply-threshold); others get -BUSY. */
  | "allow_busy";

/** What a handler needs to run. */
export interface CommandContext {
  readonly keyspace: Keyspace;
  /** The connection's selected store. */
  store: Store;
  readonly client: ClientState;
  readonly out: ReplyWriter;
  readonly server: ServerHooks;
  /**
   * Replaces what is written to the AOF for this command (relative times become absolute ones).
   * Without a call, a write command that changed data is logged as it came in.
   */
  propagate(argv: string[]): void;
  /**
   * Like `propagate`, with several records that replay as this one command did (XREADGROUP's
   * claims and its group's new last ID); they are written together, inside MULTI/EXEC.
   */
  propagateAll(records: string[][]): void;
  /** MULTI/EXEC/WATCH state of the connection. */
  readonly transaction: TransactionControl;
  /**
   * Keeps this command's place in the connection's reply order for a reply that completes
   * later (a forwarded command, a quorum wait); the handler then writes nothing now. Throws a
   * `ReplyError` where a reply cannot wait: inside a transaction, during AOF replay, or for a
   * connection that cannot hold one.
   */
  defer(): DeferredReply;
}

/** A command's reply that completes later, in its place in the connection's reply order. */
export interface DeferredReply {
  /** Writes the reply (once); it leaves when every reply ahead of it has. */
  complete(write: (out: ReplyWriter) => void): void;
  /**
   * Registers what to do if the client goes away before the reply completes (the last one
   * registered counts): a command forwarded or parked for it is cancelled rather than served to
   * nobody; null unregisters it (the command no longer waits). Absent where a client cannot go
   * away.
   */
  onAbandon?(cancel: (() => void) | null): void;
}

/** What the transaction commands do to a connection, implemented by the dispatcher. */
export interface TransactionControl {
  /** Whether MULTI is open (commands are being queued). */
  readonly open: boolean;
  /** Whether EXEC is running the queue now (blocking commands must not wait then). */
  readonly executing: boolean;
  begin(): void;
  /** Runs the queued commands, replying with their replies in one array. */
  exec(): void;
  discard(): void;
  watch(keys: string[]): void;
  unwatch(): void;
  /** Drops the queue and the watches without a reply (RESET). */
  reset(): void;
}

/** Authentication: `requirepass` and named users. */
export interface AuthHooks {
  /** Whether connections must authenticate. */
  readonly required: boolean;
  /** The user's role when the password is right, else null (compared in constant time). */
  check(user: string, password: string): UserRole | null;
  /** Failed attempts, for INFO. */
  failures: number;
  users(): { name: string; role: UserRole }[];
}

/** CONFIG GET/SET over the settings a node has. */
export interface ConfigHooks {
  /** Settings whose name matches the glob `pattern`, as name/value pairs. */
  get(pattern: string): [string, string][];
  /** Changes a setting; returns an error text, or null. */
  set(name: string, value: string): string | null;
  resetStats(): void;
}

/** Which connections CLIENT KILL closes. */
export interface ClientKillFilter {
  id?: number;
  addr?: string;
  user?: string;
  skipMe?: boolean;
  self?: number;
}

export type UserRole = "readonly" | "readwrite" | "admin";

/** Per-connection state. */
export interface ClientState {
  readonly id: number;
  db: number;
  protocol: RespVersion;
  name: string;
  authenticated: boolean;
  user: string;
  /** What the user may run: `readonly` only commands flagged readonly, `admin` everything. */
  role: UserRole;
  /** Channels and patterns the connection is subscribed to (RESP2 then allows few commands). */
  subscriptions?: number;
  /** Set by QUIT: close after the reply is written. */
  closeAfterReply: boolean;
  /**
   * CLIENT REPLY's state, bits of `REPLY_OFF`, `REPLY_SKIP` (this command's reply is dropped)
   * and `REPLY_SKIP_NEXT`; absent for a client that always gets its replies.
   */
  replyFlags?: number;
  /** CLIENT NO-EVICT on (shown in CLIENT LIST; the node evicts no clients). */
  noEvict?: boolean;
  /** A place in this connection's reply order for a reply that completes later; absent for a
   * connection that cannot hold one (AOF replay). */
  defer?(): DeferredReply | undefined;
  /**
   * A client that is not a connection but can wait in a blocking command on its deferred reply:
   * a command forwarded from another node, which blocks here, on the key's owner.
   */
  parkable?: boolean;
  readonly createdMs: number;
  lastCommand: string;
  readonly remoteAddress: string;
}

/** `ClientState.replyFlags`: CLIENT REPLY OFF. */
export const REPLY_OFF = 1;
/** `ClientState.replyFlags`: the running command's reply is dropped (CLIENT REPLY SKIP before). */
export const REPLY_SKIP = 2;
/** `ClientState.replyFlags`: CLIENT REPLY SKIP ran; the next command's reply is dropped. */
export const REPLY_SKIP_NEXT = 4;
/** The bits of `ClientState.replyFlags` under which replies are dropped now. */
export const REPLY_MUTED = REPLY_OFF | REPLY_SKIP;

/**
 * A connection that is not a socket (AOF replay, the HTTP API, tests): authenticated, RESP2, the
 * default store, with `overrides` applied.
 */
export function internalClient(overrides: Partial<ClientState> = {}): ClientState {
  return {
    id: 0,
    db: 0,
    protocol: 2,
    name: "",
    authenticated: true,
    user: "default",
    role: "admin",
    closeAfterReply: false,
    createdMs: 0,
    lastCommand: "",
    remoteAddress: "internal",
    ...overrides,
  };
}

/** Node-level facilities the server commands reach through. */
export interface ServerHooks {
  /** The INFO text for the given sections (all when empty). */
  info(sections: string[], client: ClientState): string;
  /**
   * Called after a command added elements to a list at `key`, so clients blocked on it (BLPOP,
   * BRPOP, BLMOVE) can be served.
   */
  keyReady?(store: Store, key: string): void;
  /** Keys of store `db` that clients are blocked on (SWAPDB wakes those that now exist). */
  blockedKeys?(db: number): string[];
  /**
   * Stops the node as SIGTERM does (replies in flight go out, the AOF is made durable) and ends
   * the process with status 0 (SHUTDOWN, once it has saved what it was asked to).
   */
  shutdown?(): void;
  /** Blocks the whole node for `ms`, as Redis's DEBUG SLEEP stops its server. */
  sleep?(ms: number): void;
  /** Redis's `enable-debug-command`: who may run DEBUG (absent: nobody, Redis's default). */
  enableDebugCommand?: "no" | "yes" | "local";
  /** Snapshots and AOF rewrite, when persistence is on. */
  persistence?: PersistenceHooks;
  auth?: AuthHooks;
  config?: ConfigHooks;
  /** Ids of the open connections (CLIENT LIST). */
  clientIds?(): number[];
  /** The CLIENT LIST line of a connection. */
  clientInfo?(id: number): string | undefined;
  /** Closes matching connections; returns how many. */
  killClients?(filter: ClientKillFilter): number;
  /** Forgets per-connection server state (subscriptions) on RESET. */
  resetClient?(client: ClientState): void;
  /**
   * Parks a connection whose blocking command found nothing, until one of `keys` (in its
   * current store) gets data or `timeoutMs` passes (0 = forever). False when it cannot wait.
   */
  block?(client: ClientState, keys: string[], timeoutMs: number, argv: string[]): boolean;
  /**
   * The running command's reply completes later, and the client's later commands wait behind it
   * (a script suspended past busy-reply-threshold). Undefined for a client that cannot wait.
   */
  suspend?(client: ClientState): DeferredReply | undefined;
  /** The longest string value a command may build (APPEND, SETRANGE): `proto-max-bulk-len`,
   * capped by the runtime's string limit. */
  maxStringBytes?: number;
  /** Runs a full garbage collection where the runtime allows it (MEMORY PURGE). */
  purgeMemory?(): void;
  /** The cluster this node belongs to; absent on a single node (CLUSTER then answers that
   * cluster support is disabled, as redis-server does). */
  cluster?: ClusterHooks;
  /** Lua scripting (EVAL, SCRIPT); absent where no Lua state was opened. */
  scripting?: ScriptEngine;
  /** Client-side caching (CLIENT TRACKING); absent where connections cannot be told. */
  tracking?: ClientTracking;
  /** Pub/sub: the hub, and the subscriber that stands for a connection. */
  pubsub?: {
    hub: PubSub;
    subscriber(client: ClientState): Subscriber | undefined;
    /** Called after a connection's subscription count changed. */
    changed(client: ClientState, count: number): void;
  };
}

/** One node as the CLUSTER commands describe it. */
export interface ClusterNodeInfo {
  /** 40 hex digits, as Redis Cluster's node ids. */
  readonly hexId: string;
  /** The node's `node_id`. */
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly busPort: number;
  readonly self: boolean;
  /** Gossip holds it failed. */
  readonly failed: boolean;
  /** Its slots, as inclusive ranges. */
  readonly ranges: readonly (readonly [number, number])[];
}

/** What the CLUSTER commands read. */
export interface ClusterHooks {
  /** Every member of the applied configuration. */
  nodes(): ClusterNodeInfo[];
  /** The epoch of the applied configuration. */
  readonly epoch: number;
  /** Whether every slot has an owner and this node is in touch with the quorum. */
  readonly ok: boolean;
  /** Marks a client as one that follows redirects (it asked for the slot map). */
  aware(client: ClientState): void;
  /** Counters for INFO cluster: routing, forwarding, migration, the bus. */
  counters(): [string, string | number][];
  /** Relays a PUBLISH to every other node's subscribers. */
  publish(channel: string, message: string, shard?: boolean): void;
}

/** What SAVE, BGSAVE, BGREWRITEAOF and LASTSAVE reach. */
export interface PersistenceHooks {
  /** Starts a snapshot plus new AOF; false when one is already running. */
  rewrite(): Promise<boolean>;
  readonly rewriting: boolean;
  /** Unix ms of the last successful snapshot (or start-up). */
  readonly lastSaveMs: number;
}

export type CommandHandler = (ctx: CommandContext, argv: string[]) => void;

/** One entry of the command table. */
export interface CommandSpec {
  /** Lower-case name. */
  readonly name: string;
  /** Redis arity: N means exactly N arguments (with the name), -N at least N. */
  readonly arity: number;
  readonly flags: readonly CommandFlag[];
  /** Key positions: first, last (-1 = last argument), step; 0,0,0 for none. */
  readonly firstKey: number;
  readonly lastKey: number;
  readonly step: number;
  /**
   * For a command whose keys are not at fixed positions (SINTERCARD's `numkeys`, ...): the
   * indices of its keys in `argv`, or null when the arguments cannot hold them. Routing, WATCH
   * of a slot, `COMMAND GETKEYS` and replication read keys through `keyIndices` only.
   */
  readonly keyFinder?: KeyFinder;
  readonly group: string;
  /** Redis's ACL categories of the command (without the `@`); roles are defined by them. */
  readonly categories: readonly AclCategory[];
  readonly summary: string;
  readonly handler: CommandHandler;
  /** Runs at once inside MULTI instead of being queued (EXEC, DISCARD, MULTI, WATCH, QUIT,
   * RESET), as Redis's processCommand lets them. */
  readonly notQueued?: boolean;
  /** Needs a connection (state across requests, blocking, pushes): not over the HTTP API. */
  readonly needsConnection?: boolean;
  /**
   * Its key positions name shard channels (Redis's `not_key` key specs): they route like keys
   * (a channel hashes to a slot), but COMMAND GETKEYS leaves them out.
   */
  readonly channelKeys?: boolean;
  /**
   * In a cluster, runs for a plain client on the node it is connected to, whoever owns its keys
   * (SSUBSCRIBE: the node's subscribers get every node's SPUBLISH).
   */
  readonly servedWhereConnected?: boolean;
  /** What a blocking command answers when its timeout passes: a null array (BLPOP, the
   * default) or a null bulk string (BLMOVE, BRPOPLPUSH). */
  readonly timeoutReply?: "null-array" | "null-bulk";
  /**
   * A blocking command's longest wait as `argv` gives it (ms, 0 = forever), or null when the
   * arguments hold none: a node forwarding it to the key's owner waits that long for the reply.
   */
  readonly blockTimeoutMs?: (argv: readonly string[]) => number | null;
  /** How its keyspace notifications differ from the default (its name on each key). */
  readonly events?: EventRule;
  /** Subcommands (`COMMAND COUNT`), each a full spec named `parent|sub`. */
  readonly subcommands?: readonly CommandSpec[];
  /**
   * Refuses the command before authentication and queueing, as Redis refuses its protected
   * commands (DEBUG behind `enable-debug-command`): the error text, or null to let it run.
   */
  readonly gate?: (server: ServerHooks, client: ClientState) => string | null;
}

/** Builds a spec with Redis's defaults for the fields a command leaves out (no keys, the
 * categories its family and flags give). */
export function command(
  spec: Omit<CommandSpec, "firstKey" | "lastKey" | "step" | "categories"> & Partial<CommandSpec>,
): CommandSpec {
  return {
    firstKey: 0,
    lastKey: 0,
    step: 0,
    categories: deriveCategories(spec.group, spec.flags),
    ...spec,
  };
}

/**
 * The subcommand specs of a container command whose own handler reads the subcommand (CLIENT,
 * CONFIG, ...): each is `parent|name` with Redis's arity, flags and ACL categories, for ACL
 * checks and COMMAND INFO. `entries` are `[name, arity, flags, categories]`.
 */
export function subcommandSpecs(
  parent: string,
  group: string,
  handler: CommandHandler,
  entries: [string, number, CommandFlag[], AclCategory[], KeyPositions?][],
): CommandSpec[] {
  return entries.map(([name, arity, flags, categories, keys = [0, 0, 0]]) =>
    command({
      name: `${parent}|${name}`,
      arity,
      flags,
      group,
      categories,
      firstKey: keys[0],
      lastKey: keys[1],
      step: keys[2],
      summary: `${parent.toUpperCase()} ${name.toUpperCase()}.`,
      handler,
    })
  );
}

/** `spec` with the keyspace notifications it raises, where they differ from the default. */
export function withEvents(spec: CommandSpec, events: EventRule): CommandSpec {
  return { ...spec, events };
}

/** `spec` with other ACL categories than its family and flags give (Redis's exceptions). */
export function withCategories(spec: CommandSpec, categories: AclCategory[]): CommandSpec {
  return { ...spec, categories };
}

/** Key positions: first, last (-1 = the last argument), step. */
export type KeyPositions = readonly [number, number, number];
/** The one key at argv[1]. */
export const KEY_ONE: KeyPositions = [1, 1, 1];
/** Two keys, argv[1] and argv[2] (source and destination). */
export const KEY_TWO: KeyPositions = [1, 2, 1];
/** Every argument after the name is a key. */
export const KEY_ALL: KeyPositions = [1, -1, 1];

/** A spec builder for one command family (`group`), positional for compact tables. */
export function familySpec(group: string) {
  return (
    name: string,
    arity: number,
    flags: CommandFlag[],
    keys: KeyPositions,
    summary: string,
    handler: CommandHandler,
  ): CommandSpec => {
    const [firstKey, lastKey, step] = keys;
    const categories = deriveCategories(group, flags);
    return { name, arity, flags, firstKey, lastKey, step, group, categories, summary, handler };
  };
}

/** `familySpec` for a family whose every command has its one key at argv[1]. */
export function oneKeySpec(group: string) {
  const spec = familySpec(group);
  return (
    name: string,
    arity: number,
    flags: CommandFlag[],
    summary: string,
    handler: CommandHandler,
  ): CommandSpec => spec(name, arity, flags, KEY_ONE, summary, handler);
}

/** The indices of the keys in `argv` (a subcommand's spec for a container), or null when the
 * arguments cannot hold the keys the command needs. */
export function keyIndices(spec: CommandSpec, argv: readonly string[]): number[] | null {
  if (spec.keyFinder !== undefined) return spec.keyFinder(argv);
  if (spec.firstKey === 0) return [];
  const last = spec.lastKey < 0 ? argv.length + spec.lastKey : spec.lastKey;
  const indices: number[] = [];
  for (let i = spec.firstKey; i <= last && i < argv.length; i += spec.step) indices.push(i);
  return indices;
}

/** The keys of `argv` (none when the arguments cannot hold them). */
export function commandKeys(spec: CommandSpec, argv: readonly string[]): string[] {
  return (keyIndices(spec, argv) ?? []).map((i) => argv[i]);
}

/** Where a command's keys are, when not at fixed positions, with the shape of a Redis key
 * spec (`COMMAND INFO`): the count at `begin`, then that many keys; or after a keyword. */
export interface KeyFinder {
  (argv: readonly string[]): number[] | null;
  /** Redis's `keynum` key spec: search begins at argument `begin`; the count is `keynumidx`
   * after it, the first key `firstkey` after it, each `keystep` apart. Or its `keyword` search
   * (XREAD's `STREAMS`, looked for from `startfrom`) with a `range` of keys after it: to
   * `lastkey`, each `keystep` apart, `limit` 2 meaning half of them. */
  readonly keySpec:
    | {
      begin: number;
      keynumidx: number;
      firstkey: number;
      keystep: number;
      /** A key before the count (ZUNIONSTORE's destination), a key spec of its own. */
      destination?: number;
    }
    | { keyword: string; startfrom: number; lastkey: number; keystep: number; limit: number }
    /** A `range` from index `begin` (SORT's sorted key: its STORE key no key spec gives). */
    | { begin: number; lastkey: number; keystep: number };
}

/** C's `atoi` as glibc has it: leading spaces, a sign, the digits up to the first other
 * character; clamped to a long, then cut to an int. */
function atoi(text: string): number {
  const match = /^[ \t\n\v\f\r]*([+-]?\d+)/.exec(text);
  if (match === null) return 0;
  let value = BigInt(match[1]);
  const limit = 2n ** 63n;
  if (value >= limit) value = limit - 1n;
  else if (value < -limit) value = -limit;
  return Number(BigInt.asIntN(32, value));
}

/**
 * A key finder for `numkeys key [key ...]` at `at` (SINTERCARD, ZUNION, LMPOP, ...), after a
 * `destination` key when there is one (ZUNIONSTORE's argv[1]). As Redis's: a strict 64-bit
 * count, cut to an int, that fits finds the keys from its key specs (the destination first);
 * any other count is read as `atoi` reads it, by the command's own key finder, which puts the
 * destination last.
 */
export function numkeysAt(at: number, destination?: number): KeyFinder {
  const keys = (count: number) => Array.from({ length: count }, (_, i) => at + 1 + i);
  const find = (argv: readonly string[]) => {
    const text = argv[at];
    if (text === undefined) return null;
    if (/^[1-9]\d{0,18}$/.test(text) && BigInt(text) < 2n ** 63n) {
      const strict = Number(BigInt.asIntN(32, BigInt(text)));
      if (strict >= 1 && at + strict < argv.length) {
        const found = keys(strict);
        return destination === undefined ? found : [destination, ...found];
      }
    }
    const count = atoi(text);
    if (count < 1 || count > argv.length - at - 1) return null;
    return destination === undefined ? keys(count) : [...keys(count), destination];
  };
  return Object.assign(find, {
    keySpec: { begin: at, keynumidx: 0, firstkey: 1, keystep: 1, destination },
  });
}

/** The spec that governs `argv`: a container's subcommand when it has one by that name. */
export function specFor(spec: CommandSpec, argv: readonly string[]): CommandSpec {
  if (spec.subcommands === undefined || argv.length < 2) return spec;
  const name = `${spec.name}|${argv[1].toLowerCase()}`;
  return spec.subcommands.find((sub) => sub.name === name) ?? spec;
}
