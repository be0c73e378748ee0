/**
 * Pub/sub: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH, PUBSUB, the shard channels
 * of Redis 7 (SSUBSCRIBE, SUNSUBSCRIBE, SPUBLISH), and keyspace notifications
 * (`notify-keyspace-events`). The hub is protocol-agnostic: a RESP connection and an HTTP event
 * stream are both `Subscriber`s.
 *
 * A shard channel hashes to a slot like a key. In a cluster, SPUBLISH runs on the slot's owner
 * (a plain client's is forwarded there), which delivers it to its subscribers and relays it to
 * every other node's: a cluster client subscribes on the owner (`-MOVED` elsewhere), a plain
 * client on the node it is connected to, and neither loses messages when the slot moves.
 *
 * @module
 */
import { globMatch } from "./glob.ts";
import { ReplyError, unknownSubcommand } from "./errors.ts";
import { command, type CommandContext, type CommandSpec, subcommandSpecs } from "./types.ts";

/** Something that receives published messages. */
export interface Subscriber {
  readonly channels: Set<string>;
  readonly patterns: Set<string>;
  /** Shard channels (SSUBSCRIBE); absent where a subscriber cannot take them. */
  readonly shardChannels?: Set<string>;
  /**
   * Delivers a message; `pattern` is set for a pattern match (`pmessage`), `shard` for a shard
   * channel's (`smessage`).
   */
  deliver(channel: string, message: string, pattern: string | null, shard?: boolean): void;
}

/**
 * Channels and patterns to subscribers.
 *
 * @example
 * ```ts
 * import { PubSub } from "./pubsub.ts";
 * const hub = new PubSub();
 * const got: string[] = [];
 * const sub = { channels: new Set<string>(), patterns: new Set<string>(), deliver: (c: string, m: string) => got.push(`${c}:${m}`) };
 * hub.subscribe(sub, "news");
 * hub.publish("news", "hello"); // 1, and got is ["news:hello"]
 * ```
 */
export class PubSub {
  readonly channels: Map<string, Set<Subscriber>> = new Map();
  readonly patterns: Map<string, Set<Subscriber>> = new Map();
  readonly shardChannels: Map<string, Set<Subscriber>> = new Map();

  ssubscribe(subscriber: Subscriber, channel: string): void {
    add(this.shardChannels, subscriber.shardChannels!, subscriber, channel);
  }

  sunsubscribe(subscriber: Subscriber, channel: string): boolean {
    const own = subscriber.shardChannels;
    return own !== undefined && remove(this.shardChannels, own, subscriber, channel);
  }

  /** Sends `message` to every subscriber of shard channel `channel`; returns how many. */
  spublish(channel: string, message: string): number {
    const set = this.shardChannels.get(channel);
    if (set === undefined) return 0;
    for (const subscriber of set) subscriber.deliver(channel, message, null, true);
    return set.size;
  }

  subscribe(subscriber: Subscriber, channel: string): void {
    add(this.channels, subscriber.channels, subscriber, channel);
  }

  unsubscribe(subscriber: Subscriber, channel: string): boolean {
    return remove(this.channels, subscriber.channels, subscriber, channel);
  }

  psubscribe(subscriber: Subscriber, pattern: string): void {
    add(this.patterns, subscriber.patterns, subscriber, pattern);
  }

  punsubscribe(subscriber: Subscriber, pattern: string): boolean {
    return remove(this.patterns, subscriber.patterns, subscriber, pattern);
  }

  /** Removes every subscription of `subscriber` (a closed connection). */
  drop(subscriber: Subscriber): void {
    for (const channel of [...subscriber.channels]) this.unsubscribe(subscriber, channel);
    for (const pattern of [...subscriber.patterns]) this.punsubscribe(subscriber, pattern);
    for (const channel of [...subscriber.shardChannels ?? []]) {
      this.sunsubscribe(subscriber, channel);
    }
  }

  /** Sends `message` to every subscriber of `channel` and of matching patterns; returns how many. */
  publish(channel: string, message: string): number {
    let receivers = 0;
    const direct = this.channels.get(channel);
    if (direct !== undefined) {
      for (const subscriber of direct) subscriber.deliver(channel, message, null);
      receivers += direct.size;
    }
    for (const [pattern, set] of this.patterns) {
      if (!globMatch(pattern, channel)) continue;
      for (const subscriber of set) subscriber.deliver(channel, message, pattern);
      receivers += set.size;
    }
    return receivers;
  }
}

/** Adds `subscriber` under `name` in the hub's `index` and `name` to its own set. */
function add(
  index: Map<string, Set<Subscriber>>,
  own: Set<string>,
  subscriber: Subscriber,
  name: string,
): void {
  own.add(name);
  let set = index.get(name);
  if (set === undefined) index.set(name, set = new Set());
  set.add(subscriber);
}

/** Undoes `add`; false when `subscriber` was not under `name`. */
function remove(
  index: Map<string, Set<Subscriber>>,
  own: Set<string>,
  subscriber: Subscriber,
  name: string,
): boolean {
  if (!own.delete(name)) return false;
  const set = index.get(name)!;
  set.delete(subscriber);
  if (set.size === 0) index.delete(name);
  return true;
}

/** Encodes pub/sub pushes for a RESP connection: arrays in RESP2, push types in RESP3. */
export function encodePush(protocol: 2 | 3, items: (string | number | null)[]): string {
  let text = `${protocol === 3 ? ">" : "*"}${items.length}\r\n`;
  for (const item of items) {
    if (item === null) text += protocol === 3 ? "_\r\n" : "$-1\r\n";
    else if (typeof item === "number") text += `:${item}\r\n`;
    else text += `$${item.length}\r\n${item}\r\n`;
  }
  return text;
}

function subscriberOf(ctx: CommandContext): Subscriber {
  const subscriber = ctx.server.pubsub?.subscriber(ctx.client);
  if (subscriber === undefined) {
    throw new ReplyError(
      `ERR ${ctx.client.lastCommand.toUpperCase()} is not available on this connection`,
    );
  }
  return subscriber;
}

/** The count SUBSCRIBE and PSUBSCRIBE replies carry (shard channels are counted apart). */
function count(subscriber: Subscriber): number {
  return subscriber.channels.size + subscriber.patterns.size;
}

/** Every subscription: a RESP2 connection with any is in subscribed mode. */
function total(subscriber: Subscriber): number {
  return count(subscriber) + (subscriber.shardChannels?.size ?? 0);
}

function confirm(
  ctx: CommandContext,
  kind: string,
  name: string | null,
  subscriber: Subscriber,
): void {
  const shard = kind === "ssubscribe" || kind === "sunsubscribe";
  const n = shard ? subscriber.shardChannels!.size : count(subscriber);
  ctx.out.rawText(encodePush(ctx.client.protocol, [kind, name, n]));
}

function subscribe(patterns: boolean) {
  return (ctx: CommandContext, argv: string[]): void => {
    const subscriber = subscriberOf(ctx);
    const hub = ctx.server.pubsub!.hub;
    for (const name of argv.slice(1)) {
      if (patterns) hub.psubscribe(subscriber, name);
      else hub.subscribe(subscriber, name);
      confirm(ctx, patterns ? "psubscribe" : "subscribe", name, subscriber);
    }
    ctx.server.pubsub!.changed(ctx.client, total(subscriber));
  };
}

function unsubscribe(patterns: boolean) {
  return (ctx: CommandContext, argv: string[]): void => {
    const subscriber = subscriberOf(ctx);
    const hub = ctx.server.pubsub!.hub;
    const kind = patterns ? "punsubscribe" : "unsubscribe";
    const names = argv.length > 1
      ? argv.slice(1)
      : [...(patterns ? subscriber.patterns : subscriber.channels)];
    if (names.length === 0) confirm(ctx, kind, null, subscriber);
    for (const name of names) {
      if (patterns) hub.punsubscribe(subscriber, name);
      else hub.unsubscribe(subscriber, name);
      confirm(ctx, kind, name, subscriber);
    }
    ctx.server.pubsub!.changed(ctx.client, total(subscriber));
  };
}

function shardSubscriberOf(ctx: CommandContext): Subscriber {
  const subscriber = subscriberOf(ctx);
  if (subscriber.shardChannels === undefined) {
    throw new ReplyError(`ERR shard channels are not available on this connection`);
  }
  return subscriber;
}

function ssubscribe(ctx: CommandContext, argv: string[]): void {
  const subscriber = shardSubscriberOf(ctx);
  const hub = ctx.server.pubsub!.hub;
  for (const name of argv.slice(1)) {
    hub.ssubscribe(subscriber, name);
    confirm(ctx, "ssubscribe", name, subscriber);
  }
  ctx.server.pubsub!.changed(ctx.client, total(subscriber));
}

function sunsubscribe(ctx: CommandContext, argv: string[]): void {
  const subscriber = shardSubscriberOf(ctx);
  const hub = ctx.server.pubsub!.hub;
  const names = argv.length > 1 ? argv.slice(1) : [...subscriber.shardChannels!];
  if (names.length === 0) confirm(ctx, "sunsubscribe", null, subscriber);
  for (const name of names) {
    hub.sunsubscribe(subscriber, name);
    confirm(ctx, "sunsubscribe", name, subscriber);
  }
  ctx.server.pubsub!.changed(ctx.client, total(subscriber));
}

function pubsub(ctx: CommandContext, argv: string[]): void {
  const hub = ctx.server.pubsub?.hub ?? new PubSub();
  const sub = argv[1].toUpperCase();
  if (sub === "NUMPAT") return ctx.out.integer(hub.patterns.size);
  // CHANNELS and NUMSUB, and their shard-channel forms, differ only in the index they read.
  const shard = sub.startsWith("SHARD");
  const index = shard ? hub.shardChannels : hub.channels;
  const kind = shard ? sub.slice(5) : sub;
  if (kind === "CHANNELS") {
    const pattern = argv[2] ?? null;
    const names = [...index.keys()].filter((c) => pattern === null || globMatch(pattern, c));
    return ctx.out.bulkArray(names);
  }
  if (kind === "NUMSUB") {
    // A flat array in RESP3 too, as Redis 7 sends it (clients pair it up themselves).
    ctx.out.arrayHeader((argv.length - 2) * 2);
    for (const channel of argv.slice(2)) {
      ctx.out.bulk(channel);
      ctx.out.integer(index.get(channel)?.size ?? 0);
    }
    return;
  }
  throw new ReplyError(unknownSubcommand(argv));
}

const flags = ["pubsub", "noscript", "loading", "stale"] as const;

export const pubsubCommands: CommandSpec[] = [
  command({
    name: "subscribe",
    needsConnection: true,
    arity: -2,
    flags,
    group: "pubsub",
    summary: "Listens for messages published to channels.",
    handler: subscribe(false),
  }),
  command({
    name: "unsubscribe",
    needsConnection: true,
    arity: -1,
    flags,
    group: "pubsub",
    summary: "Stops listening to messages posted to channels.",
    handler: unsubscribe(false),
  }),
  command({
    name: "psubscribe",
    needsConnection: true,
    arity: -2,
    flags,
    group: "pubsub",
    summary: "Listens for messages published to channels that match one or more patterns.",
    handler: subscribe(true),
  }),
  command({
    name: "punsubscribe",
    needsConnection: true,
    arity: -1,
    flags,
    group: "pubsub",
    summary: "Stops listening to messages published to channels that match one or more patterns.",
    handler: unsubscribe(true),
  }),
  command({
    name: "publish",
    arity: 3,
    flags: ["pubsub", "loading", "stale", "fast"],
    group: "pubsub",
    summary: "Posts a message to a channel.",
    // In a cluster the message reaches every node's subscribers; the count is this node's, as in
    // Redis Cluster.
    handler: (ctx, argv) => {
      ctx.out.integer(ctx.server.pubsub?.hub.publish(argv[1], argv[2]) ?? 0);
      ctx.server.cluster?.publish(argv[1], argv[2]);
    },
  }),
  command({
    name: "ssubscribe",
    needsConnection: true,
    // A plain client in a cluster subscribes on the node it is connected to (SPUBLISH reaches
    // every node); a cluster client is sent to the slot's owner, as Redis Cluster does.
    servedWhereConnected: true,
    arity: -2,
    flags,
    group: "pubsub",
    firstKey: 1,
    lastKey: -1,
    step: 1,
    channelKeys: true,
    summary: "Listens for messages published to shard channels.",
    handler: ssubscribe,
  }),
  command({
    name: "sunsubscribe",
    needsConnection: true,
    servedWhereConnected: true,
    arity: -1,
    flags,
    group: "pubsub",
    firstKey: 1,
    lastKey: -1,
    step: 1,
    channelKeys: true,
    summary: "Stops listening to messages posted to shard channels.",
    handler: sunsubscribe,
  }),
  command({
    name: "spublish",
    arity: 3,
    flags: ["pubsub", "loading", "stale", "fast"],
    group: "pubsub",
    firstKey: 1,
    lastKey: 1,
    step: 1,
    channelKeys: true,
    summary: "Post a message to a shard channel.",
    // Runs on the channel's slot owner, which relays it to every other node's subscribers; the
    // count is the owner's.
    handler: (ctx, argv) => {
      ctx.out.integer(ctx.server.pubsub?.hub.spublish(argv[1], argv[2]) ?? 0);
      ctx.server.cluster?.publish(argv[1], argv[2], true);
    },
  }),
  command({
    name: "pubsub",
    arity: -2,
    flags: ["pubsub", "loading", "stale"],
    group: "pubsub",
    categories: ["slow"],
    summary: "PUBSUB CHANNELS, NUMSUB, NUMPAT, SHARDCHANNELS and SHARDNUMSUB.",
    handler: pubsub,
    subcommands: subcommandSpecs("pubsub", "pubsub", pubsub, [
      ["channels", -2, ["pubsub", "loading", "stale"], ["pubsub", "slow"]],
      ["numsub", -2, ["pubsub", "loading", "stale"], ["pubsub", "slow"]],
      ["numpat", 2, ["pubsub", "loading", "stale"], ["pubsub", "slow"]],
      ["shardchannels", -2, ["pubsub", "loading", "stale"], ["pubsub", "slow"]],
      ["shardnumsub", -2, ["pubsub", "loading", "stale"], ["pubsub", "slow"]],
    ]),
  }),
];

/** Commands a RESP2 connection in subscribed mode may still run. */
export const SUBSCRIBED_MODE_COMMANDS = new Set([
  "subscribe",
  "unsubscribe",
  "psubscribe",
  "punsubscribe",
  "ssubscribe",
  "sunsubscribe",
  "ping",
  "quit",
  "reset",
]);

/** The classes `A` stands for (not `n` new keys nor `m` key misses, as in Redis). */
const ALL_CLASSES = "g$lshzxetd";

/**
 * `notify-keyspace-events` as CONFIG GET answers it: Redis's canonical order, `A` for all of
 * g$lshzxetd (a set `n` is then not shown, as Redis 7.0 does not show it), then K, E and m.
 */
export function canonicalKeyspaceEvents(flags: string): string {
  const set = new Set(flags.replaceAll("A", ALL_CLASSES));
  let text = [...ALL_CLASSES].every((c) => set.has(c))
    ? "A"
    : [...ALL_CLASSES, "n"].filter((c) => set.has(c)).join("");
  for (const c of "KEm") if (set.has(c)) text += c;
  return text;
}

/**
 * Keyspace notifications as Redis's `notify-keyspace-events` describes them: `K` keyspace and
 * `E` keyevent channels, for the classes g (generic), $ (string), l, s, h, z, x (expired),
 * e (evicted), t (stream), n (new key), or A for all of g$lshzxetd.
 */
export class KeyspaceNotifier {
  private flags = "";

  constructor(private readonly hub: PubSub) {}

  configure(flags: string): void {
    this.flags = flags.replaceAll("A", ALL_CLASSES);
  }

  /** Whether `new` events are asked for (stores then report the keys they create). */
  get wantsNew(): boolean {
    return this.enabled && this.flags.includes("n");
  }

  get enabled(): boolean {
    return this.flags.length > 0 && (this.flags.includes("K") || this.flags.includes("E"));
  }

  /** Publishes `event` on `key` of store `db` if the class is enabled. */
  notify(eventClass: string, event: string, db: number, key: string): void {
    if (!this.flags.includes(eventClass)) return;
    if (this.flags.includes("K")) this.hub.publish(`__keyspace@${db}__:${key}`, event);
    if (this.flags.includes("E")) this.hub.publish(`__keyevent@${db}__:${event}`, key);
  }
}
