/**
 * Stream commands, as Redis 7.0 has them: XADD, XRANGE, XREVRANGE, XLEN, XDEL, XTRIM, XSETID,
 * XREAD, XREADGROUP, XGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM and XINFO, on `StreamValue`.
 *
 * What goes to the AOF replays to the same stream: an ID that `*` or `ms-*` generated is logged
 * explicitly, approximate trimming as the exact MAXLEN or MINID it came to; XREADGROUP is logged
 * as what it did to the group (an `XCLAIM ... TIME t RETRYCOUNT n FORCE JUSTID LASTID id` per
 * entry delivered, `XGROUP CREATECONSUMER` for a consumer no claim creates, and `XGROUP SETID
 * ... ENTRIESREAD n` for the group's new last ID), and XCLAIM and XAUTOCLAIM as the claims they
 * made, with absolute times. Keyspace events are Redis's (`xadd`, `xtrim`, `xdel`, `xsetid`,
 * `xgroup-create`, `xgroup-createconsumer`, `xgroup-delconsumer`, `xgroup-destroy`,
 * `xgroup-setid`), gathered by the handler as it changes the stream.
 *
 * XREAD and XREADGROUP with BLOCK park the connection (`ServerHooks.block`) with `$` replaced by
 * the ID it stood for, and run again when an XADD makes a key ready; a blocked XREADGROUP whose
 * key is deleted or overwritten, or whose group is destroyed, is woken with Redis's error.
 *
 * @module
 */
import type { Entry, KeyWatcher, Store } from "../keyspace/store.ts";
import {
  type Consumer,
  type ConsumerGroup,
  formatId,
  type IdMap,
  idMs,
  INVALID_ENTRIES_READ,
  MAX_ID,
  type PendingEntry,
  restoreStream,
  type StreamId,
  streamId,
  StreamValue,
  type TrimSpec,
} from "../keyspace/stream.ts";
import { containerEntry } from "./_container.ts";
import { parseInt64 } from "./args.ts";
import {
  NO_SUCH_KEY,
  NOT_INTEGER,
  ReplyError,
  SYNTAX,
  unknownSubcommand,
  wrongArity,
} from "./errors.ts";
import type { KeyspaceEvent } from "./events.ts";
import type { AclCategory } from "./acl.ts";
import {
  type ClientState,
  command,
  type CommandContext,
  type CommandFlag,
  type CommandHandler,
  type CommandSpec,
  familySpec,
  KEY_ONE,
  type KeyFinder,
  type ServerHooks,
} from "./types.ts";

const U64_MAX = (1n << 64n) - 1n;
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

const INVALID_ID = "ERR Invalid stream ID specified as stream command argument";
const XADD_SMALLER =
  "ERR The ID specified in XADD is equal or smaller than the target stream top item";
const EXHAUSTED = "ERR The stream has exhausted the last possible ID, unable to add more items";
const NEEDS_KEY =
  "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.";
/** Approximate trimming's default LIMIT: 100 times `stream-node-max-entries`. */
const APPROX_LIMIT = 10_000;
/** Timeouts past what a timer can wait (about 24.8 days) wait forever. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/**
 * XAUTOCLAIM's COUNT beyond which Redis cannot allocate its list of deleted IDs (16 bytes each,
 * past a 47-bit address space); where exactly depends on the machine.
 */
const XAUTOCLAIM_ALLOC_LIMIT = 2n ** 43n;

// Keyspace events: the handler records them as it changes the stream, the dispatcher reads
// them (through the spec's `events.custom`) right after the call.

let events: KeyspaceEvent[] = [];

function emit(event: string, key: string): void {
  events.push(["t", event, key]);
}

const STREAM_EVENTS = {
  custom: (): KeyspaceEvent[] => {
    const taken = events;
    events = [];
    return taken;
  },
};

// Argument parsing, with Redis's rules.

/**
 * An unsigned 64-bit number as Redis's `string2ull` reads one: a canonical integer (not
 * negative), else what C's `strtoull` accepts in full (leading spaces, a sign, leading zeros;
 * a minus sign wraps around).
 */
function parseU64(text: string): bigint | null {
  if (text.length <= 20 && /^(0|-?[1-9][0-9]*)$/.test(text)) {
    const value = BigInt(text);
    if (value >= INT64_MIN && value <= INT64_MAX) return value < 0n ? null : value;
  }
  const match = /^[ \t\n\v\f\r]*([+-]?)([0-9]+)$/.exec(text);
  if (match === null) return null;
  const value = BigInt(match[2]);
  if (value > U64_MAX) return null;
  return match[1] === "-" ? (U64_MAX + 1n - value) & U64_MAX : value;
}

interface ParsedId {
  id: StreamId;
  /** False for `ms-*` (XADD's sequence to be generated). */
  seqGiven: boolean;
}

/**
 * Redis's stream ID argument: `ms-seq`, `ms` (the sequence is `missingSeq`), and unless `strict`
 * `-` and `+`; with `seqStar`, `ms-*`. Null when it is not one.
 */
function parseIdText(
  text: string,
  missingSeq: bigint,
  strict: boolean,
  seqStar = false,
): ParsedId | null {
  if (text.length > 127) return null;
  const nul = text.indexOf("\0");
  if (nul !== -1) text = text.slice(0, nul); // Redis reads the argument as a C string
  if (text === "-" || text === "+") {
    if (strict) return null;
    return { id: text === "-" ? 0n : MAX_ID, seqGiven: true };
  }
  const dash = text.indexOf("-");
  const ms = parseU64(dash === -1 ? text : text.slice(0, dash));
  if (ms === null) return null;
  if (dash === -1) return { id: streamId(ms, missingSeq), seqGiven: true };
  const seqText = text.slice(dash + 1);
  if (seqStar && seqText === "*") return { id: streamId(ms, 0n), seqGiven: false };
  const seq = parseU64(seqText);
  return seq === null ? null : { id: streamId(ms, seq), seqGiven: true };
}

function idArg(text: string, missingSeq = 0n, strict = false): StreamId {
  const parsed = parseIdText(text, missingSeq, strict);
  if (parsed === null) throw new ReplyError(INVALID_ID);
  return parsed.id;
}

const strictIdArg = (text: string, missingSeq = 0n) => idArg(text, missingSeq, true);

/** A range's start: `(id` is exclusive (and strict), else as `idArg`. */
function rangeStart(text: string): StreamId {
  if (text.length > 1 && text[0] === "(") {
    const id = strictIdArg(text.slice(1), 0n);
    if (id === MAX_ID) throw new ReplyError("ERR invalid start ID for the interval");
    return id + 1n;
  }
  return idArg(text, 0n);
}

/** A range's end: a missing sequence is the largest. */
function rangeEnd(text: string): StreamId {
  if (text.length > 1 && text[0] === "(") {
    const id = strictIdArg(text.slice(1), U64_MAX);
    if (id === 0n) throw new ReplyError("ERR invalid end ID for the interval");
    return id - 1n;
  }
  return idArg(text, U64_MAX);
}

/** A 64-bit integer argument, with Redis's error (or `message`). */
function int64Arg(text: string, message = NOT_INTEGER): bigint {
  const value = parseInt64(text);
  if (value === null) throw new ReplyError(message);
  return value;
}

/** A count as a JS number (0 when negative); beyond 2^53 it is as good as unlimited. */
function countArg(text: string): number {
  const value = int64Arg(text);
  return value <= 0n ? 0 : Number(value);
}

const isOption = (arg: string, upper: string) =>
  arg.length === upper.length && arg.toUpperCase() === upper;

// Lookup and bookkeeping.

function streamEntry(store: Store, key: string): Entry | undefined {
  return containerEntry(store, key, "stream");
}

/** Records an in-place change (a stream stays when empty, unlike other containers). */
function changed(store: Store, entry: Entry): void {
  store.resize(entry);
  store.dirty++;
}

/** Integer Unix ms of the command (stream times are whole milliseconds). */
function nowMs(ctx: CommandContext): number {
  return Math.floor(ctx.store.now());
}

function entryReply(ctx: CommandContext, id: StreamId, fields: string[]): void {
  ctx.out.arrayHeader(2);
  ctx.out.bulk(formatId(id));
  ctx.out.bulkArray(fields);
}

/** Writes live entries in [start, end] (at most `count`, 0 for all); returns how many. */
function rangeReply(
  ctx: CommandContext,
  stream: StreamValue,
  start: StreamId,
  end: StreamId,
  count: number,
  reverse: boolean,
): number {
  const items: [StreamId, string[]][] = [];
  stream.range(start, end, reverse, (id, fields) => {
    items.push([id, fields]);
    return count === 0 || items.length < count;
  });
  ctx.out.arrayHeader(items.length);
  for (const [id, fields] of items) entryReply(ctx, id, fields);
  return items.length;
}

// XADD and XTRIM.

interface AddOrTrimArgs {
  /** Where the ID is (XADD), or the end of the options. */
  index: number;
  trim: TrimSpec | null;
  /** The threshold's position, the `~` or `=` before it and LIMIT's (-1 when none). */
  thresholdAt: number;
  modifierAt: number;
  limitAt: number;
  noMkStream: boolean;
  /** XADD's ID: null for `*`. */
  id: ParsedId | null;
}

/** XADD's and XTRIM's options, in Redis's order and with its errors. */
function parseAddOrTrim(argv: string[], xadd: boolean): AddOrTrimArgs {
  const args: AddOrTrimArgs = {
    index: argv.length,
    trim: null,
    thresholdAt: -1,
    modifierAt: -1,
    limitAt: -1,
    noMkStream: false,
    id: null,
  };
  let strategy: "maxlen" | "minid" | null = null;
  let threshold = 0n;
  let approx = false;
  let limit = 0n;
  let limitGiven = false;
  let i = 2;
  for (; i < argv.length; i++) {
    const more = argv.length - 1 - i;
    const option = argv[i];
    if (xadd && option === "*") break;
    const upper = option.toUpperCase();
    if ((upper === "MAXLEN" || upper === "MINID") && more > 0) {
      if (strategy !== null) {
        throw new ReplyError(
          "ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
        );
      }
      approx = false;
      args.modifierAt = -1;
      const next = argv[i + 1];
      if (more >= 2 && (next === "~" || next === "=")) {
        approx = next === "~";
        args.modifierAt = ++i;
      }
      if (upper === "MAXLEN") {
        threshold = int64Arg(argv[i + 1]);
        if (threshold < 0n) throw new ReplyError("ERR The MAXLEN argument must be >= 0.");
      } else {
        threshold = strictIdArg(argv[i + 1]);
      }
      args.thresholdAt = ++i;
      strategy = upper === "MAXLEN" ? "maxlen" : "minid";
    } else if (upper === "LIMIT" && more > 0) {
      limit = int64Arg(argv[i + 1]);
      if (limit < 0n) throw new ReplyError("ERR The LIMIT argument must be >= 0.");
      limitGiven = true;
      args.limitAt = i++;
    } else if (xadd && upper === "NOMKSTREAM") {
      args.noMkStream = true;
    } else if (xadd) {
      const id = parseIdText(option, 0n, true, true);
      if (id === null) throw new ReplyError(INVALID_ID);
      args.id = id;
      break;
    } else {
      throw new ReplyError(SYNTAX);
    }
  }
  args.index = i;
  if (limit !== 0n && strategy === null) {
    throw new ReplyError(
      "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
    );
  }
  if (!xadd && strategy === null) {
    throw new ReplyError("ERR syntax error, XTRIM must be called with a trimming strategy");
  }
  if (limitGiven && !approx) {
    throw new ReplyError("ERR syntax error, LIMIT cannot be used without the special ~ option");
  }
  if (strategy !== null) {
    const effective = limitGiven ? Number(limit) : approx ? APPROX_LIMIT : 0;
    args.trim = { strategy, threshold, approx, limit: effective };
  }
  return args;
}

/**
 * `record` (a copy of the command) made exact where it trimmed approximately: `~` becomes `=`,
 * the threshold what the stream came to (its length, or its first ID; the largest ID once
 * empty) and LIMIT goes, so a replay trims exactly as much.
 */
function exactTrim(record: string[], args: AddOrTrimArgs, stream: StreamValue): string[] {
  if (args.trim === null || !args.trim.approx) return record;
  record[args.modifierAt] = "=";
  record[args.thresholdAt] = args.trim.strategy === "maxlen"
    ? String(stream.length)
    : formatId(stream.length === 0 ? MAX_ID : stream.firstId());
  if (args.limitAt !== -1) record.splice(args.limitAt, 2);
  return record;
}

function xadd(ctx: CommandContext, argv: string[]): void {
  const args = parseAddOrTrim(argv, true);
  const fieldsAt = args.index + 1;
  const fieldCount = argv.length - fieldsAt;
  if (fieldCount < 2 || fieldCount % 2 === 1) throw new ReplyError(wrongArity("xadd"));
  const given = args.id;
  if (given !== null && given.seqGiven && given.id === 0n) {
    throw new ReplyError("ERR The ID specified in XADD must be greater than 0-0");
  }
  const store = ctx.store;
  const key = argv[1];
  let entry = streamEntry(store, key);
  if (entry === undefined && args.noMkStream) return ctx.out.nullReply();
  // A new stream is stored once its first entry has an ID.
  const stream = (entry?.value as StreamValue | undefined) ?? new StreamValue();
  if (stream.lastId === MAX_ID) throw new ReplyError(EXHAUSTED);
  let id: StreamId | null;
  if (given === null) id = stream.autoId(nowMs(ctx));
  else if (!given.seqGiven) id = stream.idWithSeqFor(idMs(given.id));
  else id = given.id > stream.lastId ? given.id : null;
  if (id === null) throw new ReplyError(XADD_SMALLER);
  entry ??= store.set(key, stream, 0);
  stream.append(id, argv.slice(fieldsAt));
  emit("xadd", key);
  if (args.trim !== null && stream.trim(args.trim) > 0) emit("xtrim", key);
  changed(store, entry);
  const text = formatId(id);
  const record = [...argv];
  record[args.index] = text;
  ctx.propagate(exactTrim(record, args, stream));
  ctx.out.bulk(text);
  ctx.server.keyReady?.(store, key);
}

function xtrim(ctx: CommandContext, argv: string[]): void {
  const args = parseAddOrTrim(argv, false);
  const entry = streamEntry(ctx.store, argv[1]);
  if (entry === undefined) return ctx.out.integer(0);
  const stream = entry.value as StreamValue;
  const removed = stream.trim(args.trim!);
  if (removed > 0) {
    emit("xtrim", argv[1]);
    changed(ctx.store, entry);
    ctx.propagate(exactTrim([...argv], args, stream));
  }
  ctx.out.integer(removed);
}

// XRANGE, XREVRANGE, XLEN, XDEL, XSETID.

function xrangeGeneric(reverse: boolean) {
  return (ctx: CommandContext, argv: string[]): void => {
    const start = rangeStart(reverse ? argv[3] : argv[2]);
    const end = rangeEnd(reverse ? argv[2] : argv[3]);
    let count = -1;
    for (let i = 4; i < argv.length; i++) {
      if (isOption(argv[i], "COUNT") && i + 1 < argv.length) count = countArg(argv[++i]);
      else throw new ReplyError(SYNTAX);
    }
    const entry = streamEntry(ctx.store, argv[1]);
    if (entry === undefined) return ctx.out.arrayHeader(0);
    if (count === 0) return ctx.out.nullArray();
    rangeReply(ctx, entry.value as StreamValue, start, end, count === -1 ? 0 : count, reverse);
  };
}

function xlen(ctx: CommandContext, argv: string[]): void {
  const entry = streamEntry(ctx.store, argv[1]);
  ctx.out.integer(entry === undefined ? 0 : (entry.value as StreamValue).length);
}

function xdel(ctx: CommandContext, argv: string[]): void {
  const ids = argv.slice(2).map((text) => strictIdArg(text));
  const entry = streamEntry(ctx.store, argv[1]);
  if (entry === undefined) return ctx.out.integer(0);
  const stream = entry.value as StreamValue;
  let deleted = 0;
  for (const id of ids) if (stream.delete(id)) deleted++;
  if (deleted > 0) {
    emit("xdel", argv[1]);
    changed(ctx.store, entry);
  }
  ctx.out.integer(deleted);
}

function xsetid(ctx: CommandContext, argv: string[]): void {
  const id = strictIdArg(argv[2]);
  let entriesAdded = -1n;
  let maxDeleted: StreamId | null = null;
  for (let i = 3; i < argv.length; i++) {
    const more = argv.length - 1 - i;
    if (isOption(argv[i], "ENTRIESADDED") && more > 0) {
      entriesAdded = int64Arg(argv[++i]);
      if (entriesAdded < 0n) throw new ReplyError("ERR entries_added must be positive");
    } else if (isOption(argv[i], "MAXDELETEDID") && more > 0) {
      maxDeleted = strictIdArg(argv[++i]);
      if (id < maxDeleted) {
        throw new ReplyError(
          "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
        );
      }
    } else {
      throw new ReplyError(SYNTAX);
    }
  }
  const entry = streamEntry(ctx.store, argv[1]);
  if (entry === undefined) throw new ReplyError(NO_SUCH_KEY);
  const stream = entry.value as StreamValue;
  if (stream.length > 0 && id < stream.lastLiveId()) {
    throw new ReplyError(
      "ERR The ID specified in XSETID is smaller than the target stream top item",
    );
  }
  if (entriesAdded !== -1n && BigInt(stream.length) > entriesAdded) {
    throw new ReplyError(
      "ERR The entries_added specified in XSETID is smaller than the target stream length",
    );
  }
  stream.lastId = id;
  if (entriesAdded !== -1n) stream.entriesAdded = entriesAdded;
  if (maxDeleted !== null) stream.maxDeletedId = maxDeleted;
  emit("xsetid", argv[1]);
  changed(ctx.store, entry);
  ctx.out.ok();
}

// Consumer groups: what every group command shares.

/** Records that replay what group commands did to a group (`ctx.propagateAll`). */
class GroupRecords {
  constructor(
    readonly records: string[][],
    readonly key: string,
    readonly group: ConsumerGroup,
  ) {}

  /** The XCLAIM that sets a pending entry as it is now (or drops it, for a deleted entry). */
  claim(entry: PendingEntry): void {
    this.records.push([
      "XCLAIM",
      this.key,
      this.group.name,
      entry.consumer.name,
      "0",
      formatId(entry.id),
      "TIME",
      String(entry.deliveryTime),
      "RETRYCOUNT",
      String(entry.deliveryCount),
      "FORCE",
      "JUSTID",
      "LASTID",
      formatId(this.group.lastId),
    ]);
  }

  claimAll(entries: PendingEntry[]): void {
    for (const entry of entries) this.claim(entry);
  }

  setId(): void {
    this.records.push([
      "XGROUP",
      "SETID",
      this.key,
      this.group.name,
      formatId(this.group.lastId),
      "ENTRIESREAD",
      String(this.group.entriesRead),
    ]);
  }

  createConsumer(name: string): void {
    this.records.push(["XGROUP", "CREATECONSUMER", this.key, this.group.name, name]);
  }
}

/** Hands a call's records to the AOF (nothing when there are none). */
function propagateRecords(ctx: CommandContext, records: string[][]): void {
  if (records.length > 0) ctx.propagateAll(records);
}

function noGroup(key: string, group: string, suffix = ""): ReplyError {
  return new ReplyError(`NOGROUP No such key '${key}' or consumer group '${group}'${suffix}`);
}

/** The stream and group a command names; NOGROUP when either is missing. */
function streamAndGroup(
  ctx: CommandContext,
  key: string,
  name: string,
): { entry: Entry; stream: StreamValue; group: ConsumerGroup } {
  const entry = streamEntry(ctx.store, key);
  const stream = entry?.value as StreamValue | undefined;
  const group = stream?.groups.get(name);
  if (entry === undefined || group === undefined) throw noGroup(key, name);
  return { entry, stream: stream!, group };
}

/** A consumer by name (its seen time now), created with its event when it does not exist. */
function consumerFor(
  ctx: CommandContext,
  key: string,
  stream: StreamValue,
  group: ConsumerGroup,
  name: string,
): { consumer: Consumer; created: boolean } {
  const found = group.consumers.get(name);
  if (found !== undefined) {
    found.seenTime = nowMs(ctx);
    return { consumer: found, created: false };
  }
  emit("xgroup-createconsumer", key);
  return { consumer: stream.createConsumer(group, name, nowMs(ctx)), created: true };
}

/** The pending entries of a PEL, ascending. */
function pendingList(pel: IdMap<PendingEntry>, from = 0n): PendingEntry[] {
  const items: PendingEntry[] = [];
  pel.walk(from, (_, entry) => {
    items.push(entry);
    return true;
  });
  return items;
}

// XREAD and XREADGROUP.

/** A blocked read that runs again when woken: its client and the argv it was parked with. */
const parkedReads = new WeakMap<ClientState, string[]>();

/** Whether this call is a parked read run again after a wake-up. */
function isRetry(ctx: CommandContext, argv: string[]): boolean {
  const parked = parkedReads.get(ctx.client);
  if (parked === undefined) return false;
  parkedReads.delete(ctx.client);
  if (parked === argv) return true;
  // A command forwarded from another node is parked with a copy of its argv.
  return ctx.client.parkable === true && parked.length === argv.length &&
    parked.every((arg, i) => arg === argv[i]);
}

/**
 * Wakes the readers blocked on a key when it changes in any way (deleted, overwritten, expired),
 * so that a blocked XREADGROUP learns its stream is gone. One per blocked-on key, dropped when
 * it fires; it stands in the store's watch list as a WATCH of the key would.
 */
class KeyChangeWaker implements KeyWatcher {
  constructor(
    private readonly store: Store,
    private readonly key: string,
    private readonly server: ServerHooks,
  ) {}

  get watchTouched(): boolean {
    return false;
  }

  set watchTouched(touched: boolean) {
    if (!touched) return;
    this.store.unwatch(this.key, this);
    wakers.get(this.store)?.delete(this.key);
    this.server.keyReady?.(this.store, this.key);
  }
}

const wakers = new WeakMap<Store, Map<string, KeyChangeWaker>>();

function wakeOnChange(ctx: CommandContext, key: string): void {
  let byKey = wakers.get(ctx.store);
  if (byKey === undefined) wakers.set(ctx.store, byKey = new Map());
  if (byKey.has(key)) return;
  const waker = new KeyChangeWaker(ctx.store, key, ctx.server);
  byKey.set(key, waker);
  ctx.store.watch(key, waker);
}

interface ReadArgs {
  count: number;
  /** BLOCK's ms (0 = forever), or -1 without BLOCK. */
  blockMs: number;
  streamsAt: number;
  streams: number;
  group: string | null;
  consumer: string;
  noack: boolean;
}

function parseRead(ctx: CommandContext, argv: string[], xreadgroup: boolean): ReadArgs {
  const args: ReadArgs = {
    count: 0,
    blockMs: -1,
    streamsAt: 0,
    streams: 0,
    group: null,
    consumer: "",
    noack: false,
  };
  for (let i = 1; i < argv.length; i++) {
    const more = argv.length - 1 - i;
    const option = argv[i].toUpperCase();
    if (option === "BLOCK" && more > 0) {
      if (ctx.server.scripting?.scriptClient === ctx.client) {
        throw new ReplyError(
          `ERR ${argv[0]} command is not allowed with BLOCK option from scripts`,
        );
      }
      const ms = int64Arg(argv[++i], "ERR timeout is not an integer or out of range");
      if (ms < 0n) throw new ReplyError("ERR timeout is negative");
      args.blockMs = ms > BigInt(MAX_TIMER_MS) ? 0 : Number(ms);
    } else if (option === "COUNT" && more > 0) {
      args.count = countArg(argv[++i]);
    } else if (option === "STREAMS" && more > 0) {
      args.streamsAt = i + 1;
      const rest = argv.length - args.streamsAt;
      if (rest % 2 !== 0) {
        throw new ReplyError(
          "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
        );
      }
      args.streams = rest / 2;
      break;
    } else if (option === "GROUP" && more >= 2) {
      if (!xreadgroup) {
        throw new ReplyError(
          "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
        );
      }
      args.group = argv[i + 1];
      args.consumer = argv[i + 2];
      i += 2;
    } else if (option === "NOACK") {
      if (!xreadgroup) {
        throw new ReplyError(
          "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
        );
      }
      args.noack = true;
    } else {
      throw new ReplyError(SYNTAX);
    }
  }
  if (args.streamsAt === 0) throw new ReplyError(SYNTAX);
  if (xreadgroup && args.group === null) {
    throw new ReplyError("ERR Missing GROUP option for XREADGROUP");
  }
  return args;
}

/** One stream of a read: its entry (if any), group (XREADGROUP), and the ID to read after. */
interface ReadTarget {
  key: string;
  entry: Entry | undefined;
  group: ConsumerGroup | undefined;
  /** Entries after this ID; MAX_ID for `>` (the group's new entries). */
  after: StreamId;
}

/** The stream at `key` for a woken read, or undefined when it is gone or no longer a stream. */
function liveStream(ctx: CommandContext, key: string): Entry | undefined {
  const found = ctx.store.lookup(key);
  if (found === undefined || typeof found.value === "string") return undefined;
  return found.value.type === "stream" ? found : undefined;
}

function readGeneric(xreadgroup: boolean) {
  return (ctx: CommandContext, argv: string[]): void => {
    const retry = isRetry(ctx, argv);
    const args = parseRead(ctx, argv, xreadgroup);
    const targets: ReadTarget[] = [];
    for (let k = 0; k < args.streams; k++) {
      const key = argv[args.streamsAt + k];
      const idText = argv[args.streamsAt + args.streams + k];
      // Woken, a key that is gone or is no stream now ends a group read, not a plain one.
      const entry = retry ? liveStream(ctx, key) : streamEntry(ctx.store, key);
      if (retry && entry === undefined && xreadgroup) {
        throw new ReplyError("UNBLOCKED the stream key no longer exists");
      }
      const stream = entry?.value as StreamValue | undefined;
      let group: ConsumerGroup | undefined;
      if (xreadgroup) {
        group = stream?.groups.get(args.group!);
        if (group === undefined) {
          if (retry) {
            throw new ReplyError(
              "NOGROUP the consumer group this client was blocked on no longer exists",
            );
          }
          throw noGroup(key, args.group!, " in XREADGROUP with GROUP option");
        }
      }
      let after: StreamId;
      if (idText === "$") {
        if (xreadgroup) {
          throw new ReplyError(
            "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.",
          );
        }
        after = stream?.lastId ?? 0n;
      } else if (idText === ">") {
        if (!xreadgroup) {
          throw new ReplyError(
            "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
          );
        }
        after = MAX_ID;
      } else {
        after = strictIdArg(idText);
      }
      targets.push({ key, entry, group, after });
    }
    // Served now: XREAD where entries follow the ID; XREADGROUP for a history ID, or for `>`
    // where entries follow the group's last delivered ID.
    const served = targets.filter((target) => {
      const stream = target.entry?.value as StreamValue | undefined;
      if (stream === undefined) return false;
      if (target.group !== undefined && target.after !== MAX_ID) return true;
      return stream.length > 0 && stream.lastLiveId() > (target.group?.lastId ?? target.after);
    });
    if (served.length > 0) {
      const out = ctx.out;
      if (out.protocol === 3) out.mapHeader(served.length);
      else out.arrayHeader(served.length);
      const records: string[][] = [];
      for (const target of served) {
        if (out.protocol === 2) out.arrayHeader(2);
        out.bulk(target.key);
        if (target.group === undefined) {
          const stream = target.entry!.value as StreamValue;
          rangeReply(ctx, stream, target.after + 1n, MAX_ID, args.count, false);
        } else {
          serveGroup(ctx, target, args, records);
        }
      }
      propagateRecords(ctx, records);
      return;
    }
    if (args.blockMs === -1 || ctx.transaction.executing) return ctx.out.nullArray();
    // Parked with `$` as the ID it stood for now, so a wake-up reads what came after it.
    let parkedArgv = argv;
    if (!retry) {
      parkedArgv = [...argv];
      targets.forEach((target, k) => {
        if (target.group === undefined) {
          parkedArgv[args.streamsAt + args.streams + k] = formatId(target.after);
        }
      });
    }
    const keys = targets.map((target) => target.key);
    if (ctx.server.block?.(ctx.client, keys, args.blockMs, parkedArgv) !== true) {
      return ctx.out.nullArray();
    }
    parkedReads.set(ctx.client, parkedArgv);
    if (xreadgroup) { for (const key of keys) wakeOnChange(ctx, key); }
  };
}

/** XREADGROUP on one stream: the consumer's history, or new entries for the group. */
function serveGroup(
  ctx: CommandContext,
  target: ReadTarget,
  args: ReadArgs,
  all: string[][],
): void {
  const entry = target.entry!;
  const stream = entry.value as StreamValue;
  const group = target.group!;
  const before = all.length;
  const records = new GroupRecords(all, target.key, group);
  const { consumer, created } = consumerFor(ctx, target.key, stream, group, args.consumer);
  const now = nowMs(ctx);
  const out = ctx.out;
  if (target.after !== MAX_ID) {
    // History: the consumer's pending entries after the ID; deleted ones with no fields.
    if (created) records.createConsumer(consumer.name);
    const pending: PendingEntry[] = [];
    consumer.pel.walk(target.after + 1n, (_, pel) => {
      pending.push(pel);
      return args.count === 0 || pending.length < args.count;
    });
    out.arrayHeader(pending.length);
    for (const pel of pending) {
      const fields = stream.get(pel.id);
      if (fields === undefined) {
        out.arrayHeader(2);
        out.bulk(formatId(pel.id));
        out.nullArray();
        continue;
      }
      pel.deliveryTime = now;
      pel.deliveryCount++;
      entryReply(ctx, pel.id, fields);
      records.claim(pel);
    }
  } else {
    const items: [StreamId, string[]][] = [];
    stream.range(group.lastId + 1n, MAX_ID, false, (id, fields) => {
      items.push([id, fields]);
      return args.count === 0 || items.length < args.count;
    });
    out.arrayHeader(items.length);
    for (const [id, fields] of items) {
      stream.advanceGroup(group, id);
      if (!args.noack) {
        const known = group.pel.get(id);
        if (known === undefined) records.claim(stream.addPending(group, consumer, id, now, 1n));
        else {
          // Delivered again after the group's ID moved back: it changes hands, counted afresh.
          stream.movePending(known, consumer);
          known.deliveryTime = now;
          known.deliveryCount = 1n;
          records.claim(known);
        }
      }
      entryReply(ctx, id, fields);
    }
    if (created && all.length === before) records.createConsumer(consumer.name);
    if (items.length > 0) records.setId();
  }
  if (all.length > before) changed(ctx.store, entry);
}

/** The keys of XREAD and XREADGROUP: half of what follows `STREAMS`, searched from `from`. */
function keysAfterStreams(from: number): KeyFinder {
  const find = (argv: readonly string[]): number[] | null => {
    for (let i = from; i < argv.length; i++) {
      if (!isOption(argv[i], "STREAMS")) continue;
      const count = Math.floor((argv.length - i - 1) / 2);
      return count === 0 ? null : Array.from({ length: count }, (_, k) => i + 1 + k);
    }
    return null;
  };
  return Object.assign(find, {
    keySpec: { keyword: "STREAMS", startfrom: from, lastkey: -1, keystep: 1, limit: 2 },
  });
}

/** BLOCK's wait in ms (0 = forever), or null without one. */
function blockOption(argv: readonly string[]): number | null {
  for (let i = 1; i + 1 < argv.length; i++) {
    const option = argv[i].toUpperCase();
    if (option === "STREAMS") return null;
    if (option === "BLOCK") {
      const ms = parseInt64(argv[i + 1]);
      if (ms === null || ms < 0n) return null;
      return ms > BigInt(MAX_TIMER_MS) ? 0 : Number(ms);
    }
  }
  return null;
}

// XACK, XPENDING, XCLAIM, XAUTOCLAIM.

function xack(ctx: CommandContext, argv: string[]): void {
  const ids = argv.slice(3).map((text) => strictIdArg(text));
  const entry = streamEntry(ctx.store, argv[1]);
  const stream = entry?.value as StreamValue | undefined;
  const group = stream?.groups.get(argv[2]);
  if (group === undefined) return ctx.out.integer(0);
  let acked = 0;
  for (const id of ids) if (stream!.ack(group, id)) acked++;
  if (acked > 0) changed(ctx.store, entry!);
  ctx.out.integer(acked);
}

function xpending(ctx: CommandContext, argv: string[]): void {
  if (argv.length !== 3 && (argv.length < 6 || argv.length > 9)) throw new ReplyError(SYNTAX);
  let minIdle = 0;
  let count = 0;
  let start = 0n;
  let end = MAX_ID;
  let consumerName: string | null = null;
  if (argv.length >= 6) {
    let at = 3;
    if (isOption(argv[3], "IDLE")) {
      minIdle = Number(int64Arg(argv[4]));
      if (argv.length < 8) throw new ReplyError(SYNTAX);
      at += 2;
    }
    count = countArg(argv[at + 2]);
    start = rangeStart(argv[at]);
    end = rangeEnd(argv[at + 1]);
    if (at + 3 < argv.length) consumerName = argv[at + 3];
  }
  const { group } = streamAndGroup(ctx, argv[1], argv[2]);
  const out = ctx.out;
  if (argv.length === 3) {
    const bounds = group.pel.bounds();
    out.arrayHeader(4);
    out.integer(group.pel.size);
    if (bounds === null) {
      out.nullReply();
      out.nullReply();
      out.nullArray();
      return;
    }
    out.bulk(formatId(bounds[0]));
    out.bulk(formatId(bounds[1]));
    const owners = group.sortedConsumers().filter((consumer) => consumer.pel.size > 0);
    out.arrayHeader(owners.length);
    for (const consumer of owners) {
      out.arrayHeader(2);
      out.bulk(consumer.name);
      out.bulk(String(consumer.pel.size));
    }
    return;
  }
  const consumer = consumerName === null ? null : group.consumers.get(consumerName);
  if (consumer === undefined) return out.arrayHeader(0);
  const pel = consumer === null ? group.pel : consumer.pel;
  const now = nowMs(ctx);
  const items: PendingEntry[] = [];
  if (count > 0) {
    pel.walk(start, (id, entry) => {
      if (id > end) return false;
      if (minIdle <= 0 || now - entry.deliveryTime >= minIdle) items.push(entry);
      return items.length < count;
    });
  }
  out.arrayHeader(items.length);
  for (const entry of items) {
    out.arrayHeader(4);
    out.bulk(formatId(entry.id));
    out.bulk(entry.consumer.name);
    out.integer(now - entry.deliveryTime);
    out.integer(entry.deliveryCount);
  }
}

function xclaim(ctx: CommandContext, argv: string[]): void {
  const key = argv[1];
  const { entry, stream, group } = streamAndGroup(ctx, key, argv[2]);
  let minIdle = Number(int64Arg(argv[4], "ERR Invalid min-idle-time argument for XCLAIM"));
  if (minIdle < 0) minIdle = 0;
  const ids: StreamId[] = [];
  let j = 5;
  for (; j < argv.length; j++) {
    const parsed = parseIdText(argv[j], 0n, true);
    if (parsed === null) break;
    ids.push(parsed.id);
  }
  const now = nowMs(ctx);
  let deliveryTime = -1;
  let retryCount = -1n;
  let force = false;
  let justId = false;
  let lastId = 0n;
  for (; j < argv.length; j++) {
    const more = argv.length - 1 - j;
    const option = argv[j].toUpperCase();
    if (option === "FORCE") force = true;
    else if (option === "JUSTID") justId = true;
    else if (option === "IDLE" && more > 0) {
      deliveryTime = now -
        Number(int64Arg(argv[++j], "ERR Invalid IDLE option argument for XCLAIM"));
    } else if (option === "TIME" && more > 0) {
      deliveryTime = Number(int64Arg(argv[++j], "ERR Invalid TIME option argument for XCLAIM"));
    } else if (option === "RETRYCOUNT" && more > 0) {
      retryCount = int64Arg(argv[++j], "ERR Invalid RETRYCOUNT option argument for XCLAIM");
    } else if (option === "LASTID" && more > 0) {
      lastId = strictIdArg(argv[++j]);
    } else {
      throw new ReplyError(`ERR Unrecognized XCLAIM option '${argv[j]}'`);
    }
  }
  const records = new GroupRecords([], key, group);
  let moved = false;
  if (lastId > group.lastId) {
    group.lastId = lastId;
    moved = true;
  }
  // A time in the future (or before 1970) is taken as now, as Redis does.
  if (deliveryTime < 0 || deliveryTime > now) deliveryTime = now;
  let consumer: Consumer | null = null;
  const claimed: [StreamId, string[]][] = [];
  for (const id of ids) {
    let pel = group.pel.get(id);
    const fields = stream.get(id);
    if (fields === undefined) {
      // Gone from the stream: gone from the PEL too.
      if (pel !== undefined) {
        records.claim(pel);
        stream.ack(group, id);
      }
      continue;
    }
    if (pel === undefined) {
      if (!force) continue;
      consumer ??= consumerFor(ctx, key, stream, group, argv[3]).consumer;
      pel = stream.addPending(group, consumer, id, now, 1n);
    } else {
      if (minIdle > 0 && now - pel.deliveryTime < minIdle) continue;
      consumer ??= consumerFor(ctx, key, stream, group, argv[3]).consumer;
      stream.movePending(pel, consumer);
    }
    pel.deliveryTime = deliveryTime;
    if (retryCount >= 0n) pel.deliveryCount = retryCount;
    else if (!justId) pel.deliveryCount++;
    claimed.push([id, fields]);
    records.claim(pel);
  }
  if (moved && records.records.length === 0) records.setId();
  if (moved || records.records.length > 0) changed(ctx.store, entry);
  propagateRecords(ctx, records.records);
  const out = ctx.out;
  out.arrayHeader(claimed.length);
  for (const [id, fields] of claimed) {
    if (justId) out.bulk(formatId(id));
    else entryReply(ctx, id, fields);
  }
}

function xautoclaim(ctx: CommandContext, argv: string[]): void {
  const key = argv[1];
  let minIdle = Number(int64Arg(argv[4], "ERR Invalid min-idle-time argument for XAUTOCLAIM"));
  if (minIdle < 0) minIdle = 0;
  const start = rangeStart(argv[5]);
  let count = 100n;
  let justId = false;
  for (let j = 6; j < argv.length;) {
    const more = argv.length - 1 - j;
    if (isOption(argv[j], "COUNT") && more > 0) {
      const value = parseInt64(argv[j + 1]);
      // Redis's bound: LONG_MAX over the bytes of an ID.
      if (value === null || value < 1n || value > INT64_MAX / 16n) {
        throw new ReplyError("ERR COUNT must be > 0");
      }
      count = value;
      j += 2;
    } else if (isOption(argv[j], "JUSTID")) {
      justId = true;
      j++;
    } else {
      throw new ReplyError(SYNTAX);
    }
  }
  const { entry, stream, group } = streamAndGroup(ctx, key, argv[2]);
  if (count > XAUTOCLAIM_ALLOC_LIMIT) {
    throw new ReplyError(
      "ERR Insufficient memory, failed allocating transient memory, COUNT too high.",
    );
  }
  let left = Number(count);
  let attempts = left * 10;
  // The entries it may look at, and one more for the cursor.
  const pending: PendingEntry[] = [];
  group.pel.walk(start, (_, pel) => {
    pending.push(pel);
    return pending.length <= attempts;
  });
  const now = nowMs(ctx);
  const records = new GroupRecords([], key, group);
  const claimed: [StreamId, string[]][] = [];
  const deleted: StreamId[] = [];
  let consumer: Consumer | null = null;
  let i = 0;
  while (attempts > 0 && left > 0 && i < pending.length) {
    attempts--;
    const pel = pending[i++];
    const fields = stream.get(pel.id);
    if (fields === undefined) {
      records.claim(pel);
      stream.ack(group, pel.id);
      deleted.push(pel.id);
      left--;
      continue;
    }
    if (minIdle > 0 && now - pel.deliveryTime < minIdle) continue;
    consumer ??= consumerFor(ctx, key, stream, group, argv[3]).consumer;
    stream.movePending(pel, consumer);
    pel.deliveryTime = now;
    if (!justId) pel.deliveryCount++;
    claimed.push([pel.id, fields]);
    left--;
    records.claim(pel);
  }
  const cursor = i < pending.length ? pending[i].id : 0n;
  if (records.records.length > 0) changed(ctx.store, entry);
  propagateRecords(ctx, records.records);
  const out = ctx.out;
  out.arrayHeader(3);
  out.bulk(formatId(cursor));
  out.arrayHeader(claimed.length);
  for (const [id, fields] of claimed) {
    if (justId) out.bulk(formatId(id));
    else entryReply(ctx, id, fields);
  }
  out.arrayHeader(deleted.length);
  for (const id of deleted) out.bulk(formatId(id));
}

// XGROUP and XINFO.

const XGROUP_HELP = [
  "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "CREATE <key> <groupname> <id|$> [option]",
  "    Create a new consumer group. Options are:",
  "    * MKSTREAM",
  "      Create the empty stream if it does not exist.",
  "    * ENTRIESREAD entries_read",
  "      Set the group's entries_read counter (internal use).",
  "CREATECONSUMER <key> <groupname> <consumer>",
  "    Create a new consumer in the specified group.",
  "DELCONSUMER <key> <groupname> <consumer>",
  "    Remove the specified consumer.",
  "DESTROY <key> <groupname>",
  "    Remove the specified group.",
  "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
  "    Set the current group ID and entries_read counter.",
  "HELP",
  "    Prints this help.",
];

const XINFO_HELP = [
  "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "CONSUMERS <key> <groupname>",
  "    Show consumers of <groupname>.",
  "GROUPS <key>",
  "    Show the stream consumer groups.",
  "STREAM <key> [FULL [COUNT <count>]",
  "    Show information about the stream.",
  "HELP",
  "    Prints this help.",
];

function helpReply(ctx: CommandContext, lines: readonly string[]): void {
  ctx.out.arrayHeader(lines.length);
  for (const line of lines) ctx.out.simple(line);
}

function subcommandSyntax(argv: string[]): ReplyError {
  return new ReplyError(
    `ERR unknown subcommand or wrong number of arguments for '${argv[1].slice(0, 128)}'. Try ${
      argv[0].toUpperCase()
    } HELP.`,
  );
}

function entriesReadArg(text: string): bigint {
  const value = int64Arg(text);
  if (value < 0n && value !== INVALID_ENTRIES_READ) {
    throw new ReplyError("ERR value for ENTRIESREAD must be positive or -1");
  }
  return value;
}

/** Runs a container's subcommand after Redis's checks of its name and arity. */
function container(subcommands: () => readonly CommandSpec[]): CommandHandler {
  return (ctx, argv) => {
    const name = `${argv[0].toLowerCase()}|${argv[1].toLowerCase()}`;
    const spec = subcommands().find((sub) => sub.name === name);
    if (spec === undefined) throw new ReplyError(unknownSubcommand(argv));
    if (spec.arity > 0 ? argv.length !== spec.arity : argv.length < -spec.arity) {
      throw new ReplyError(wrongArity(spec.name));
    }
    spec.handler(ctx, argv);
  };
}

function xgroup(ctx: CommandContext, argv: string[]): void {
  const sub = argv[1].toLowerCase();
  if (sub === "help") return helpReply(ctx, XGROUP_HELP);
  let mkstream = false;
  let entriesRead = INVALID_ENTRIES_READ;
  if (sub === "create") {
    for (let i = 5; i < argv.length;) {
      if (isOption(argv[i], "MKSTREAM")) {
        mkstream = true;
        i++;
      } else if (isOption(argv[i], "ENTRIESREAD") && i + 1 < argv.length) {
        entriesRead = entriesReadArg(argv[i + 1]);
        i += 2;
      } else {
        throw subcommandSyntax(argv);
      }
    }
  }
  const store = ctx.store;
  const key = argv[2];
  let entry = streamEntry(store, key);
  let stream = entry?.value as StreamValue | undefined;
  const name = argv[3];
  if (stream === undefined && !mkstream) throw new ReplyError(NEEDS_KEY);
  const group = stream?.groups.get(name);
  if (
    group === undefined && (sub === "setid" || sub === "createconsumer" || sub === "delconsumer")
  ) {
    throw new ReplyError(`NOGROUP No such consumer group '${name}' for key name '${key}'`);
  }
  switch (sub) {
    case "create": {
      if (argv.length > 8) throw subcommandSyntax(argv);
      const id = argv[4] === "$" ? stream?.lastId ?? 0n : strictIdArg(argv[4]);
      if (stream === undefined) {
        stream = new StreamValue();
        entry = store.set(key, stream, 0);
      }
      if (stream.createGroup(name, id, entriesRead) === null) {
        throw new ReplyError("BUSYGROUP Consumer Group name already exists");
      }
      emit("xgroup-create", key);
      changed(store, entry!);
      return ctx.out.ok();
    }
    case "setid": {
      if (argv.length !== 5 && argv.length !== 7) throw subcommandSyntax(argv);
      const id = argv[4] === "$" ? stream!.lastId : idArg(argv[4]);
      if (argv.length === 7) {
        if (!isOption(argv[5], "ENTRIESREAD")) throw subcommandSyntax(argv);
        entriesRead = entriesReadArg(argv[6]);
      }
      group!.lastId = id;
      group!.entriesRead = entriesRead;
      emit("xgroup-setid", key);
      changed(store, entry!);
      return ctx.out.ok();
    }
    case "destroy": {
      if (!stream!.destroyGroup(name)) return ctx.out.integer(0);
      emit("xgroup-destroy", key);
      changed(store, entry!);
      ctx.out.integer(1);
      // Readers blocked on the group learn it is gone.
      ctx.server.keyReady?.(store, key);
      return;
    }
    case "createconsumer": {
      if (group!.consumers.has(argv[4])) return ctx.out.integer(0);
      stream!.createConsumer(group!, argv[4], nowMs(ctx));
      emit("xgroup-createconsumer", key);
      changed(store, entry!);
      return ctx.out.integer(1);
    }
    case "delconsumer": {
      const consumer = group!.consumers.get(argv[4]);
      if (consumer === undefined) return ctx.out.integer(0);
      const pending = stream!.deleteConsumer(group!, consumer);
      emit("xgroup-delconsumer", key);
      changed(store, entry!);
      return ctx.out.integer(pending);
    }
  }
}

function lagReply(ctx: CommandContext, stream: StreamValue, group: ConsumerGroup): void {
  const lag = stream.lag(group);
  if (lag === null) ctx.out.nullReply();
  else ctx.out.integer(lag);
}

function entriesReadReply(ctx: CommandContext, group: ConsumerGroup): void {
  if (group.entriesRead === INVALID_ENTRIES_READ) ctx.out.nullReply();
  else ctx.out.integer(group.entriesRead);
}

function edgeReply(ctx: CommandContext, edge: [StreamId, string[]] | null): void {
  if (edge === null) ctx.out.nullReply();
  else entryReply(ctx, edge[0], edge[1]);
}

function streamHeader(ctx: CommandContext, stream: StreamValue, fields: number): void {
  const out = ctx.out;
  out.mapHeader(fields);
  out.bulk("length");
  out.integer(stream.length);
  out.bulk("radix-tree-keys");
  out.integer(stream.nodes.length);
  out.bulk("radix-tree-nodes");
  out.integer(stream.radixTreeNodes());
  out.bulk("last-generated-id");
  out.bulk(formatId(stream.lastId));
  out.bulk("max-deleted-entry-id");
  out.bulk(formatId(stream.maxDeletedId));
  out.bulk("entries-added");
  out.integer(stream.entriesAdded);
  out.bulk("recorded-first-entry-id");
  out.bulk(formatId(stream.firstId()));
}

function readStream(ctx: CommandContext, key: string): StreamValue {
  const entry = streamEntry(ctx.store, key);
  if (entry === undefined) throw new ReplyError(NO_SUCH_KEY);
  return entry.value as StreamValue;
}

function xinfoStream(ctx: CommandContext, argv: string[]): void {
  const stream = readStream(ctx, argv[2]);
  let full = false;
  let count = 10;
  if (argv.length > 3) {
    if (argv.length > 6 || !isOption(argv[3], "FULL")) throw subcommandSyntax(argv);
    full = true;
    if (argv.length > 4) {
      if (argv.length !== 6 || !isOption(argv[4], "COUNT")) throw subcommandSyntax(argv);
      count = countArg(argv[5]);
    }
  }
  const out = ctx.out;
  if (!full) {
    streamHeader(ctx, stream, 10);
    out.bulk("groups");
    out.integer(stream.groups.size);
    out.bulk("first-entry");
    edgeReply(ctx, stream.edge(false));
    out.bulk("last-entry");
    edgeReply(ctx, stream.edge(true));
    return;
  }
  streamHeader(ctx, stream, 9);
  out.bulk("entries");
  rangeReply(ctx, stream, 0n, MAX_ID, count, false);
  out.bulk("groups");
  const groups = stream.sortedGroups();
  out.arrayHeader(groups.length);
  const limited = <T>(items: T[]) => count === 0 ? items : items.slice(0, count);
  for (const group of groups) {
    out.mapHeader(7);
    out.bulk("name");
    out.bulk(group.name);
    out.bulk("last-delivered-id");
    out.bulk(formatId(group.lastId));
    out.bulk("entries-read");
    entriesReadReply(ctx, group);
    out.bulk("lag");
    lagReply(ctx, stream, group);
    out.bulk("pel-count");
    out.integer(group.pel.size);
    out.bulk("pending");
    const pending = limited(pendingList(group.pel));
    out.arrayHeader(pending.length);
    for (const pel of pending) {
      out.arrayHeader(4);
      out.bulk(formatId(pel.id));
      out.bulk(pel.consumer.name);
      out.integer(pel.deliveryTime);
      out.integer(pel.deliveryCount);
    }
    out.bulk("consumers");
    const consumers = group.sortedConsumers();
    out.arrayHeader(consumers.length);
    for (const consumer of consumers) {
      out.mapHeader(4);
      out.bulk("name");
      out.bulk(consumer.name);
      out.bulk("seen-time");
      out.integer(consumer.seenTime);
      out.bulk("pel-count");
      out.integer(consumer.pel.size);
      out.bulk("pending");
      const own = limited(pendingList(consumer.pel));
      out.arrayHeader(own.length);
      for (const pel of own) {
        out.arrayHeader(3);
        out.bulk(formatId(pel.id));
        out.integer(pel.deliveryTime);
        out.integer(pel.deliveryCount);
      }
    }
  }
}

function xinfoGroups(ctx: CommandContext, argv: string[]): void {
  const stream = readStream(ctx, argv[2]);
  const out = ctx.out;
  const groups = stream.sortedGroups();
  out.arrayHeader(groups.length);
  for (const group of groups) {
    out.mapHeader(6);
    out.bulk("name");
    out.bulk(group.name);
    out.bulk("consumers");
    out.integer(group.consumers.size);
    out.bulk("pending");
    out.integer(group.pel.size);
    out.bulk("last-delivered-id");
    out.bulk(formatId(group.lastId));
    out.bulk("entries-read");
    entriesReadReply(ctx, group);
    out.bulk("lag");
    lagReply(ctx, stream, group);
  }
}

function xinfoConsumers(ctx: CommandContext, argv: string[]): void {
  const stream = readStream(ctx, argv[2]);
  const group = stream.groups.get(argv[3]);
  if (group === undefined) {
    throw new ReplyError(`NOGROUP No such consumer group '${argv[3]}' for key name '${argv[2]}'`);
  }
  const now = nowMs(ctx);
  const out = ctx.out;
  const consumers = group.sortedConsumers();
  out.arrayHeader(consumers.length);
  for (const consumer of consumers) {
    out.mapHeader(3);
    out.bulk("name");
    out.bulk(consumer.name);
    out.bulk("pending");
    out.integer(consumer.pel.size);
    out.bulk("idle");
    out.integer(now - consumer.seenTime);
  }
}

// The table.

/** Wraps a handler so that the events it records are its own. */
function tracked(handler: CommandHandler): CommandHandler {
  return (ctx, argv) => {
    events = [];
    handler(ctx, argv);
  };
}

const streamSpec = familySpec("stream");

function keyed(
  name: string,
  arity: number,
  flags: CommandFlag[],
  summary: string,
  handler: CommandHandler,
): CommandSpec {
  const spec = streamSpec(name, arity, flags, KEY_ONE, summary, tracked(handler));
  return { ...spec, events: STREAM_EVENTS };
}

function sub(
  parent: "xgroup" | "xinfo",
  [name, arity, flags, categories, summary, handler]: [
    string,
    number,
    CommandFlag[],
    AclCategory[],
    string,
    CommandHandler,
  ],
): CommandSpec {
  const hasKey = name !== "help";
  return command({
    name: `${parent}|${name}`,
    arity,
    flags,
    group: "stream",
    categories,
    firstKey: hasKey ? 2 : 0,
    lastKey: hasKey ? 2 : 0,
    step: hasKey ? 1 : 0,
    summary,
    handler,
  });
}

const WRITE: AclCategory[] = ["write", "stream", "slow"];
const READ: AclCategory[] = ["read", "stream", "slow"];
const HELP: AclCategory[] = ["stream", "slow"];
const HELP_SUMMARY = "Returns helpful text about the different subcommands.";

const XGROUP_SUBCOMMANDS: CommandSpec[] = ([
  ["create", -5, ["write", "denyoom"], WRITE, "Creates a consumer group.", xgroup],
  [
    "createconsumer",
    5,
    ["write", "denyoom"],
    WRITE,
    "Creates a consumer in a consumer group.",
    xgroup,
  ],
  ["delconsumer", 5, ["write"], WRITE, "Deletes a consumer from a consumer group.", xgroup],
  ["destroy", 4, ["write"], WRITE, "Destroys a consumer group.", xgroup],
  ["help", 2, ["loading", "stale"], HELP, HELP_SUMMARY, xgroup],
  ["setid", -5, ["write"], WRITE, "Sets the last-delivered ID of a consumer group.", xgroup],
] as [string, number, CommandFlag[], AclCategory[], string, CommandHandler][]).map((entry) =>
  sub("xgroup", entry)
);

const XINFO_SUBCOMMANDS: CommandSpec[] = ([
  [
    "consumers",
    4,
    ["readonly"],
    READ,
    "Returns a list of the consumers in a consumer group.",
    xinfoConsumers,
  ],
  [
    "groups",
    3,
    ["readonly"],
    READ,
    "Returns a list of the consumer groups of a stream.",
    xinfoGroups,
  ],
  ["help", 2, ["loading", "stale"], HELP, HELP_SUMMARY, (ctx) => helpReply(ctx, XINFO_HELP)],
  ["stream", -3, ["readonly"], READ, "Returns information about a stream.", xinfoStream],
] as [string, number, CommandFlag[], AclCategory[], string, CommandHandler][]).map((entry) =>
  sub("xinfo", entry)
);

function readSpec(name: "xread" | "xreadgroup"): CommandSpec {
  const group = name === "xreadgroup";
  return {
    ...command({
      name,
      arity: group ? -7 : -4,
      flags: group ? ["write", "blocking"] : ["readonly", "blocking"],
      group: "stream",
      keyFinder: keysAfterStreams(group ? 4 : 1),
      summary: group
        ? "Returns new or historical messages from a stream for a consumer in a group. Blocks until a message is available otherwise."
        : "Returns messages from multiple streams with IDs greater than the ones requested. Blocks until a message is available otherwise.",
      handler: tracked(readGeneric(group)),
    }),
    events: STREAM_EVENTS,
    blockTimeoutMs: blockOption,
  };
}

export const streamCommands: CommandSpec[] = [
  keyed(
    "xadd",
    -5,
    ["write", "denyoom", "fast"],
    "Appends a new message to a stream. Creates the key if it doesn't exist.",
    xadd,
  ),
  keyed(
    "xrange",
    -4,
    ["readonly"],
    "Returns the messages from a stream within a range of IDs.",
    xrangeGeneric(false),
  ),
  keyed(
    "xrevrange",
    -4,
    ["readonly"],
    "Returns the messages from a stream within a range of IDs in reverse order.",
    xrangeGeneric(true),
  ),
  keyed("xlen", 2, ["readonly", "fast"], "Return the number of messages in a stream.", xlen),
  keyed(
    "xdel",
    -3,
    ["write", "fast"],
    "Returns the number of messages after removing them from a stream.",
    xdel,
  ),
  keyed("xtrim", -4, ["write"], "Deletes messages from the beginning of a stream.", xtrim),
  keyed(
    "xsetid",
    -3,
    ["write", "denyoom", "fast"],
    "An internal command for replicating stream values.",
    xsetid,
  ),
  readSpec("xread"),
  readSpec("xreadgroup"),
  keyed(
    "xack",
    -4,
    ["write", "fast"],
    "Returns the number of messages that were successfully acknowledged by the consumer group member of a stream.",
    xack,
  ),
  keyed(
    "xpending",
    -3,
    ["readonly"],
    "Returns the information and entries from a stream consumer group's pending entries list.",
    xpending,
  ),
  keyed(
    "xclaim",
    -6,
    ["write", "fast"],
    "Changes, or acquires, ownership of a message in a consumer group, as if the message was delivered a consumer group member.",
    xclaim,
  ),
  keyed(
    "xautoclaim",
    -6,
    ["write", "fast"],
    "Changes, or acquires, ownership of messages in a consumer group, as if the messages were delivered to as consumer group member.",
    xautoclaim,
  ),
  {
    ...command({
      name: "xgroup",
      arity: -2,
      flags: [],
      group: "stream",
      categories: ["slow"],
      summary: "A container for consumer groups commands.",
      handler: tracked(container(() => XGROUP_SUBCOMMANDS)),
      subcommands: XGROUP_SUBCOMMANDS,
    }),
    events: STREAM_EVENTS,
  },
  command({
    name: "xinfo",
    arity: -2,
    flags: [],
    group: "stream",
    categories: ["slow"],
    summary: "A container for stream introspection commands.",
    handler: container(() => XINFO_SUBCOMMANDS),
    subcommands: XINFO_SUBCOMMANDS,
  }),
];

/**
 * Commands that rebuild a stream from its `dump()` (an AOF record of a key received from another
 * node), as Redis's AOF rewrite writes one: each entry's XADD (an empty stream by XADD MAXLEN 0),
 * XSETID with the counters, each group's XGROUP CREATE and CREATECONSUMER, and an XCLAIM per
 * pending entry. Node boundaries, deleted entries still in their nodes and pending entries of
 * deleted entries are not carried; the snapshot keeps those.
 */
export function streamRecords(key: string, elements: string[]): string[][] {
  const stream = restoreStream(elements);
  const records: string[][] = [];
  stream.range(0n, MAX_ID, false, (id, fields) => {
    records.push(["XADD", key, formatId(id), ...fields]);
    return true;
  });
  if (stream.length === 0) records.push(["XADD", key, "MAXLEN", "0", "0-1", "x", "y"]);
  records.push([
    "XSETID",
    key,
    formatId(stream.lastId),
    "ENTRIESADDED",
    String(stream.entriesAdded),
    "MAXDELETEDID",
    formatId(stream.maxDeletedId),
  ]);
  for (const group of stream.groups.values()) {
    records.push([
      "XGROUP",
      "CREATE",
      key,
      group.name,
      formatId(group.lastId),
      "ENTRIESREAD",
      String(group.entriesRead),
    ]);
    for (const consumer of group.consumers.values()) {
      records.push(["XGROUP", "CREATECONSUMER", key, group.name, consumer.name]);
    }
    new GroupRecords(records, key, group).claimAll(pendingList(group.pel));
  }
  return records;
}
