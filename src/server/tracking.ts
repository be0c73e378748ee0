/**
 * Client-side caching as Redis 6+ serves it (`CLIENT TRACKING`): which connections cached which
 * keys, and the invalidation messages that a change of one of those keys sends them.
 *
 * - Default mode: the keys a tracking connection read (the key positions of its read-only
 *   commands) are remembered, one table for the node (a key is a name, whatever its store, as
 *   Redis's table is one for all databases); the first change of a key sends one invalidation to
 *   every connection that read it and forgets it. The table holds at most `maxKeys` keys
 *   (`tracking-table-max-keys`): past it, keys are forgotten, oldest first, each with an
 *   invalidation, as Redis evicts them.
 * - BCAST mode: connections name prefixes (none: every key); every change of a key under a prefix
 *   is collected, and `broadcast` sends each prefix's keys in one message.
 * - OPTIN / OPTOUT: the keys of the next command are remembered only after `CLIENT CACHING yes`,
 *   or not after `CLIENT CACHING no`. NOLOOP: a connection's own changes send it nothing.
 * - An invalidation is a RESP3 push `>2 invalidate [key ...]` to the tracking connection, or to
 *   the connection it redirects to (REDIRECT id): a RESP2 one in pub/sub mode gets it as a message
 *   on `__redis__:invalidate`. FLUSHALL/FLUSHDB send a null in place of the keys. A redirect to a
 *   connection that has gone sends the tracking connection (RESP3 only) `tracking-redir-broken`.
 * - The connection whose command is running gets its own invalidations after the command's reply
 *   (`beginCommand` / `endCommand`), as redis-server 7.0 orders them.
 *
 * Sans-I/O: connections are looked up and written to through {@linkcode TrackingIo}.
 *
 * @module
 */

/** Redis's default `tracking-table-max-keys`. */
export const DEFAULT_TRACKING_TABLE_MAX_KEYS = 1_000_000;

/** A connection as invalidations need it. */
export interface TrackingPeer {
  readonly id: number;
  readonly protocol: 2 | 3;
  /** Channels, patterns and shard channels it subscribed to: in pub/sub mode when above 0. */
  readonly subscriptions: number;
}

/** How the table reaches connections. */
export interface TrackingIo {
  /** The open connection with this id, or undefined. */
  peer(id: number): TrackingPeer | undefined;
  /** Writes an out-of-band message (latin1 RESP text) to a connection. */
  push(peer: TrackingPeer, text: string): void;
  /** `broadcast` has keys to send: call it once the replies of the running batch are out. */
  schedule(): void;
}

/** The options of `CLIENT TRACKING on`, as parsed. */
export interface TrackingOptions {
  /** The connection invalidations go to; 0 for the tracking connection itself. */
  redirect: number;
  bcast: boolean;
  optin: boolean;
  optout: boolean;
  noloop: boolean;
  prefixes: string[];
}

/** One tracking connection's state. */
export class Tracker {
  redirect = 0;
  bcast = false;
  optin = false;
  optout = false;
  noloop = false;
  /** `CLIENT CACHING` was given for the next command. */
  caching = false;
  /** The connection it redirects to has gone. */
  brokenRedirect = false;
  readonly prefixes: Set<string> = new Set();

  constructor(readonly id: number) {}

  /** `CLIENT TRACKINGINFO`'s flags, in Redis's order. */
  flags(): string[] {
    const flags = ["on"];
    if (this.bcast) flags.push("bcast");
    if (this.optin) flags.push("optin");
    if (this.optin && this.caching) flags.push("caching-yes");
    if (this.optout) flags.push("optout");
    if (this.optout && this.caching) flags.push("caching-no");
    if (this.noloop) flags.push("noloop");
    if (this.brokenRedirect) flags.push("broken_redirect");
    return flags;
  }
}

/** A BCAST prefix: its connections, and the keys changed under it since the last broadcast,
 * each with the id of the connection that changed it first (0: the server, as expiry). */
interface Prefix {
  readonly trackers: Set<Tracker>;
  readonly keys: Map<string, number>;
}

const INVALIDATE = ">2\r\n$10\r\ninvalidate\r\n";
const MESSAGE = "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n";
const OVERLAP = "Prefixes for a single client must not overlap.";

/** One key as an invalidation's array of keys. */
function oneKey(key: string): string {
  return `*1\r\n$${key.length}\r\n${key}\r\n`;
}

function keyArray(keys: readonly string[]): string {
  let text = `*${keys.length}\r\n`;
  for (const key of keys) text += `$${key.length}\r\n${key}\r\n`;
  return text;
}

/** Whether one of two prefixes starts the other. */
function overlap(a: string, b: string): boolean {
  return a.length <= b.length ? b.startsWith(a) : a.startsWith(b);
}

/**
 * Redis keeps a key's tracking connections in a radix tree of their ids' 8 bytes in memory
 * (little-endian), so that is the order they hear of a change in: lowest byte first.
 */
function compareIds(a: number, b: number): number {
  for (let i = 0; i < 8; i++) {
    const byteA = Math.floor(a / 256 ** i) % 256;
    const byteB = Math.floor(b / 256 ** i) % 256;
    if (byteA !== byteB) return byteA - byteB;
  }
  return 0;
}

/** Byte order of latin1 strings (a radix tree's). */
function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export class ClientTracking {
  /** `tracking-table-max-keys`: most keys the default-mode table holds; 0 for no bound. */
  maxKeys = DEFAULT_TRACKING_TABLE_MAX_KEYS;
  /** Called when `watching` changes, so that key changes reach `invalidate` only while they
   * can matter. */
  onWatchingChanged: ((watching: boolean) => void) | null = null;
  private readonly trackers = new Map<number, Tracker>();
  /** Default mode: key -> ids of the connections that read it. */
  private readonly table = new Map<string, Set<number>>();
  private items = 0;
  private readonly prefixTable = new Map<string, Prefix>();
  /** The connection whose command is running (0: none), and whether it is running now. */
  private current = 0;
  private executing = false;
  /** Invalidations for the running connection, sent after its reply (null: a flush). */
  private pending: (string | null)[] = [];
  private broadcastQueued = false;
  /** Calls of `limit` in a row that ended still over the bound (each tries harder). */
  private overLimitRuns = 0;
  private wasWatching = false;

  constructor(private readonly io: TrackingIo) {}

  /** Connections with tracking on (INFO `tracking_clients`). */
  get clients(): number {
    return this.trackers.size;
  }

  /** Keys in the default-mode table (INFO `tracking_total_keys`). */
  get keyCount(): number {
    return this.table.size;
  }

  /** Connection-key pairs in it (INFO `tracking_total_items`). */
  get itemCount(): number {
    return this.items;
  }

  /** BCAST prefixes of all connections (INFO `tracking_total_prefixes`). */
  get prefixCount(): number {
    return this.prefixTable.size;
  }

  /** Whether a change of a key can matter: a connection tracks, or the table holds keys (a
   * change still forgets them, as Redis's does). */
  get watching(): boolean {
    return this.trackers.size > 0 || this.table.size > 0;
  }

  /** Whether a connection with this id is open (a REDIRECT must name one). */
  connected(id: number): boolean {
    return this.io.peer(id) !== undefined;
  }

  /** The tracking state of a connection, or undefined when its tracking is off. */
  tracker(id: number): Tracker | undefined {
    return this.trackers.get(id);
  }

  /**
   * `CLIENT TRACKING on` with `options` (already parsed, its redirect checked): Redis's checks
   * of the options against each other and the connection's state; returns the error text, or
   * null once tracking is on.
   */
  enable(id: number, options: TrackingOptions): string | null {
    const existing = this.trackers.get(id);
    if (!options.bcast && options.prefixes.length > 0) {
      return "ERR PREFIX option requires BCAST mode to be enabled";
    }
    if (existing !== undefined && existing.bcast !== options.bcast) {
      return "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.";
    }
    if (options.bcast && (options.optin || options.optout)) {
      return "ERR OPTIN and OPTOUT are not compatible with BCAST";
    }
    if (options.optin && options.optout) {
      return "ERR You can't specify both OPTIN mode and OPTOUT mode";
    }
    if (
      existing !== undefined &&
      ((options.optin && existing.optout) || (options.optout && existing.optin))
    ) {
      return "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.";
    }
    if (options.bcast) {
      const error = this.prefixCollision(existing, options.prefixes);
      if (error !== null) return error;
    }
    const tracker = existing ?? new Tracker(id);
    tracker.redirect = options.redirect;
    tracker.bcast = options.bcast;
    tracker.optin = options.optin;
    tracker.optout = options.optout;
    tracker.noloop = options.noloop;
    tracker.brokenRedirect = false;
    if (options.bcast) {
      // BCAST without a prefix is the empty prefix: every key.
      for (const prefix of options.prefixes.length === 0 ? [""] : options.prefixes) {
        this.addPrefix(tracker, prefix);
      }
    }
    this.trackers.set(id, tracker);
    this.changed();
    return null;
  }

  private prefixCollision(existing: Tracker | undefined, prefixes: string[]): string | null {
    const current = existing === undefined ? [] : [...existing.prefixes].sort(byteOrder);
    for (let i = 0; i < prefixes.length; i++) {
      const prefix = prefixes[i];
      for (const other of current) {
        if (overlap(prefix, other)) {
          return `ERR Prefix '${prefix}' overlaps with an existing prefix '${other}'. ${OVERLAP}`;
        }
      }
      for (let j = 0; j < prefixes.length; j++) {
        if (j !== i && overlap(prefix, prefixes[j])) {
          return `ERR Prefix '${prefix}' overlaps with another provided prefix '${
            prefixes[j]
          }'. ${OVERLAP}`;
        }
      }
    }
    return null;
  }

  private addPrefix(tracker: Tracker, prefix: string): void {
    tracker.prefixes.add(prefix);
    let entry = this.prefixTable.get(prefix);
    if (entry === undefined) {
      this.prefixTable.set(prefix, entry = { trackers: new Set(), keys: new Map() });
    }
    entry.trackers.add(tracker);
  }

  /**
   * `CLIENT TRACKING off`, RESET, or a closed connection. The keys it read stay in the table
   * (Redis forgets them lazily, on their next change), so turning tracking on again still
   * invalidates them.
   */
  disable(id: number): void {
    const tracker = this.trackers.get(id);
    if (tracker === undefined) return;
    for (const prefix of tracker.prefixes) {
      const entry = this.prefixTable.get(prefix)!;
      entry.trackers.delete(tracker);
      if (entry.trackers.size === 0) this.prefixTable.delete(prefix);
    }
    tracker.prefixes.clear();
    this.trackers.delete(id);
    this.changed();
  }

  /** `CLIENT CACHING yes|no`: the error text, or null. */
  caching(id: number, yes: boolean): string | null {
    const tracker = this.trackers.get(id);
    if (tracker === undefined) {
      return "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled";
    }
    if (yes && !tracker.optin) {
      return "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.";
    }
    if (!yes && !tracker.optout) {
      return "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.";
    }
    tracker.caching = true;
    return null;
  }

  /** The keys a read-only command of connection `id` read (after it ran, failed or not). */
  remember(id: number, keys: readonly string[]): void {
    const tracker = this.trackers.get(id);
    if (tracker === undefined || tracker.bcast || keys.length === 0) return;
    if (tracker.optin ? !tracker.caching : tracker.optout && tracker.caching) return;
    const table = this.table;
    const wasEmpty = table.size === 0;
    for (const key of keys) {
      let ids = table.get(key);
      if (ids === undefined) table.set(key, ids = new Set());
      if (!ids.has(id)) {
        ids.add(id);
        this.items++;
      }
    }
    if (wasEmpty) this.changed();
  }

  /**
   * `key` changed (written, deleted, expired, evicted): invalidates it for the connections that
   * read it, and collects it for the BCAST prefixes it is under. `byServer` for a removal the
   * server made (expiry, eviction), which Redis credits to no connection in BCAST mode.
   */
  invalidate(key: string, byServer = false): void {
    if (this.prefixTable.size > 0) this.collect(key, byServer ? 0 : this.current);
    this.invalidateTracked(key);
  }

  /** Sends the default-mode invalidation of `key` and forgets it. */
  private invalidateTracked(key: string): void {
    const ids = this.table.get(key);
    if (ids === undefined) return;
    this.table.delete(key);
    this.items -= ids.size;
    const order = ids.size === 1 ? ids : [...ids].sort(compareIds);
    for (const id of order) {
      const tracker = this.trackers.get(id);
      // A connection that turned tracking off, or on again in BCAST mode, hears nothing.
      if (tracker === undefined || tracker.bcast) continue;
      if (id === this.current) {
        if (tracker.noloop) continue;
        // Its own command changed the key: the invalidation follows the command's reply.
        if (this.executing) {
          this.pending.push(oneKey(key));
          continue;
        }
      }
      this.send(tracker, oneKey(key));
    }
    if (this.table.size === 0) this.changed();
  }

  private collect(key: string, by: number): void {
    for (const [prefix, entry] of this.prefixTable) {
      if (!key.startsWith(prefix) || entry.keys.has(key)) continue;
      entry.keys.set(key, by);
      if (!this.broadcastQueued) {
        this.broadcastQueued = true;
        this.io.schedule();
      }
    }
  }

  /** FLUSHALL or FLUSHDB: a null invalidation to every tracking connection, and the table is
   * emptied. */
  flushed(): void {
    for (const id of [...this.trackers.keys()].sort((a, b) => a - b)) {
      const tracker = this.trackers.get(id)!;
      if (id === this.current && this.executing) this.pending.push(null);
      else this.send(tracker, null);
    }
    if (this.table.size === 0) return;
    this.table.clear();
    this.items = 0;
    this.changed();
  }

  /**
   * Connection `id` is about to run a command: its NOLOOP and its own invalidations follow it
   * until `endCommand`. First, the table is brought back under `maxKeys`, as Redis does before
   * each command.
   */
  beginCommand(id: number): void {
    this.current = id;
    this.executing = false;
    if (this.maxKeys !== 0 && this.table.size > this.maxKeys) this.limit();
    this.executing = true;
  }

  /** Whether the connection whose command runs has a `CLIENT CACHING` in effect. */
  cachingGiven(): boolean {
    return this.trackers.get(this.current)?.caching === true;
  }

  /**
   * The command of `beginCommand` ran: its connection's own invalidations go out (after its
   * reply), and a `CLIENT CACHING` stops applying unless `keepCaching` (the command was a
   * CLIENT command, or MULTI is open: Redis keeps it for the whole transaction).
   */
  endCommand(keepCaching: boolean): void {
    const id = this.current;
    this.current = 0;
    this.executing = false;
    const tracker = this.trackers.get(id);
    if (this.pending.length > 0) {
      const pending = this.pending;
      this.pending = [];
      if (tracker !== undefined) { for (const keys of pending) this.send(tracker, keys); }
    }
    if (tracker !== undefined && !keepCaching) tracker.caching = false;
  }

  /**
   * Forgets keys past `maxKeys`, oldest first, each with its invalidation (Redis picks them at
   * random). Each call forgets at most 100 keys per call in a row that ended over the bound, as
   * Redis's effort grows, so that lowering the bound spreads the invalidations out.
   */
  limit(): void {
    if (this.maxKeys === 0 || this.table.size <= this.maxKeys) {
      this.overLimitRuns = 0;
      return;
    }
    let effort = 100 * (this.overLimitRuns + 1);
    for (const key of this.table.keys()) {
      if (effort-- === 0) break;
      this.invalidateTracked(key);
      if (this.table.size <= this.maxKeys) {
        this.overLimitRuns = 0;
        return;
      }
    }
    this.overLimitRuns++;
  }

  /** Sends the BCAST invalidations collected since the last call: one message per prefix, its
   * keys in byte order, prefixes in byte order (as Redis's radix trees give them). */
  broadcast(): void {
    this.broadcastQueued = false;
    if (this.prefixTable.size === 0) return;
    const prefixes = [...this.prefixTable.keys()].sort(byteOrder);
    for (const prefix of prefixes) {
      const entry = this.prefixTable.get(prefix)!;
      if (entry.keys.size === 0) continue;
      const keys = [...entry.keys.keys()].sort(byteOrder);
      let all: string | null = null;
      const trackers = [...entry.trackers].sort((a, b) => a.id - b.id);
      for (const tracker of trackers) {
        if (!tracker.noloop) {
          this.send(tracker, all ??= keyArray(keys));
          continue;
        }
        const others = keys.filter((key) => entry.keys.get(key) !== tracker.id);
        if (others.length > 0) this.send(tracker, keyArray(others));
      }
      entry.keys.clear();
    }
  }

  /**
   * Sends one invalidation (`keys`: the RESP array of keys; null for a flush, a null in the
   * tracking connection's protocol, as Redis sends it) where the tracker's connection wants it.
   */
  private send(tracker: Tracker, keys: string | null): void {
    const self = this.io.peer(tracker.id);
    if (self === undefined) return;
    let target = self;
    const redirected = tracker.redirect !== 0;
    if (redirected) {
      const redirect = this.io.peer(tracker.redirect);
      if (redirect === undefined) {
        tracker.brokenRedirect = true;
        if (self.protocol === 3) {
          this.io.push(self, `>2\r\n$21\r\ntracking-redir-broken\r\n:${tracker.redirect}\r\n`);
        }
        return;
      }
      target = redirect;
    }
    const body = keys ?? (self.protocol === 3 ? "_\r\n" : "$-1\r\n");
    if (target.protocol === 3) this.io.push(target, INVALIDATE + body);
    // RESP2 has no pushes: only a connection redirected to, in pub/sub mode, can be told.
    else if (redirected && target.subscriptions > 0) this.io.push(target, MESSAGE + body);
  }

  private changed(): void {
    const watching = this.watching;
    if (watching === this.wasWatching) return;
    this.wasWatching = watching;
    this.onWatchingChanged?.(watching);
  }
}
