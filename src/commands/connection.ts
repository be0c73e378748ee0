/**
 * Connection commands: HELLO, AUTH, CLIENT, RESET, ACL (WHOAMI, USERS, LIST), and the server
 * commands that read node state: CONFIG, TIME, MEMORY USAGE, STORES, HSTATS, HFILTER.
 *
 * @module
 */
import { trimRecordMemory } from "../keyspace/memory.ts";
import { integerArg, parseInt64 } from "./args.ts";
import { NOT_INTEGER, ReplyError, SYNTAX, unknownSubcommand, wrongArity } from "./errors.ts";
import {
  type ClientKillFilter,
  command,
  type CommandContext,
  type CommandSpec,
  REPLY_OFF,
  REPLY_SKIP,
  REPLY_SKIP_NEXT,
  type ServerHooks,
  subcommandSpecs,
} from "./types.ts";
import type { ClientTracking, TrackingOptions } from "../server/tracking.ts";
import { type AclCategory, ROLE_RULES } from "./acl.ts";

const WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled.";

function authenticate(ctx: CommandContext, user: string, password: string): void {
  const auth = ctx.server.auth;
  if (auth === undefined || !auth.required) {
    if (user === "default") {
      throw new ReplyError(
        "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
      );
    }
    throw new ReplyError(WRONGPASS);
  }
  const role = auth.check(user, password);
  if (role === null) {
    auth.failures++;
    throw new ReplyError(WRONGPASS);
  }
  ctx.client.authenticated = true;
  ctx.client.user = user;
  ctx.client.role = role;
}

function auth(ctx: CommandContext, argv: string[]): void {
  if (argv.length > 3) throw new ReplyError(SYNTAX);
  const [user, password] = argv.length === 3 ? [argv[1], argv[2]] : ["default", argv[1]];
  authenticate(ctx, user, password);
  ctx.out.ok();
}

function hello(ctx: CommandContext, argv: string[]): void {
  let protocol = ctx.client.protocol;
  let i = 1;
  if (argv.length > 1) {
    const version = Number(argv[1]);
    if (!/^\d+$/.test(argv[1]) || (version !== 2 && version !== 3)) {
      throw new ReplyError("NOPROTO unsupported protocol version");
    }
    protocol = version as 2 | 3;
    i = 2;
  }
  let name: string | null = null;
  let credentials: [string, string] | null = null;
  // Every option is checked before any takes effect: a HELLO that fails changes nothing.
  for (; i < argv.length; i++) {
    const option = argv[i].toUpperCase();
    if (option === "AUTH" && i + 2 < argv.length) {
      credentials = [argv[i + 1], argv[i + 2]];
      i += 2;
    } else if (option === "SETNAME" && i + 1 < argv.length) {
      name = argv[++i];
      validateName(name);
    } else {
      throw new ReplyError(`ERR Syntax error in HELLO option '${argv[i]}'`);
    }
  }
  if (credentials !== null) authenticate(ctx, credentials[0], credentials[1]);
  if (!ctx.client.authenticated) {
    throw new ReplyError(
      "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
    );
  }
  if (name !== null) ctx.client.name = name;
  ctx.client.protocol = protocol;
  ctx.out.protocol = protocol;
  const out = ctx.out;
  out.mapHeader(7);
  out.bulk("server");
  out.bulk("redis");
  out.bulk("version");
  out.bulk("7.2.0");
  out.bulk("proto");
  out.integer(protocol);
  out.bulk("id");
  out.integer(ctx.client.id);
  out.bulk("mode");
  out.bulk("standalone");
  out.bulk("role");
  out.bulk("master");
  out.bulk("modules");
  out.arrayHeader(0);
}

function validateName(name: string): void {
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    if (code < 33 || code > 126) {
      throw new ReplyError(
        "ERR Client names cannot contain spaces, newlines or special characters.",
      );
    }
  }
}

function clientInfoLine(server: ServerHooks, ctx: CommandContext, id: number): string {
  return server.clientInfo?.(id) ?? `id=${ctx.client.id} addr=${ctx.client.remoteAddress}`;
}

function client(ctx: CommandContext, argv: string[]): void {
  const sub = argv[1].toUpperCase();
  const arity = (n: number) => {
    if (argv.length !== n) throw new ReplyError(wrongArity(`client|${sub.toLowerCase()}`));
  };
  switch (sub) {
    case "ID":
      arity(2);
      return ctx.out.integer(ctx.client.id);
    case "SETNAME":
      arity(3);
      validateName(argv[2]);
      ctx.client.name = argv[2];
      return ctx.out.ok();
    case "GETNAME":
      arity(2);
      return ctx.out.bulk(ctx.client.name === "" ? null : ctx.client.name);
    case "INFO":
      arity(2);
      return ctx.out.verbatim(clientInfoLine(ctx.server, ctx, ctx.client.id) + "\n");
    case "LIST": {
      const ids = ctx.server.clientIds?.() ?? [ctx.client.id];
      const lines = ids.map((id) => clientInfoLine(ctx.server, ctx, id) + "\n").join("");
      return ctx.out.verbatim(lines);
    }
    case "KILL":
      return clientKill(ctx, argv);
    case "SETINFO": {
      arity(4);
      const attribute = argv[2].toUpperCase();
      if (attribute !== "LIB-NAME" && attribute !== "LIB-VER") {
        throw new ReplyError(`ERR Unrecognized option '${argv[2]}'`);
      }
      return ctx.out.ok();
    }
    case "NO-EVICT":
    case "NO-TOUCH":
      arity(3);
      if (!/^(ON|OFF)$/i.test(argv[2])) throw new ReplyError(SYNTAX);
      // The node evicts no clients (Redis's maxmemory-clients): NO-EVICT is only remembered,
      // for CLIENT LIST's `e` flag.
      if (sub === "NO-EVICT") ctx.client.noEvict = argv[2].toUpperCase() === "ON";
      return ctx.out.ok();
    case "REPLY":
      arity(3);
      return clientReply(ctx, argv[2]);
    case "TRACKING":
      if (argv.length < 3) throw new ReplyError(wrongArity("client|tracking"));
      return clientTracking(ctx, argv);
    case "CACHING": {
      arity(3);
      const tracking = trackingOf(ctx);
      const answer = argv[2].toUpperCase();
      const tracker = tracking.tracker(ctx.client.id);
      if (tracker !== undefined && answer !== "YES" && answer !== "NO") {
        throw new ReplyError(SYNTAX);
      }
      const error = tracking.caching(ctx.client.id, answer === "YES");
      if (error !== null) throw new ReplyError(error);
      return ctx.out.ok();
    }
    case "GETREDIR":
      arity(2);
      return ctx.out.integer(trackingOf(ctx).tracker(ctx.client.id)?.redirect ?? -1);
    case "TRACKINGINFO": {
      arity(2);
      const tracker = trackingOf(ctx).tracker(ctx.client.id);
      const out = ctx.out;
      out.mapHeader(3);
      out.bulk("flags");
      const flags = tracker?.flags() ?? ["off"];
      out.setHeader(flags.length);
      for (const flag of flags) out.bulk(flag);
      out.bulk("redirect");
      out.integer(tracker?.redirect ?? -1);
      out.bulk("prefixes");
      return out.bulkArray(tracker === undefined ? [] : [...tracker.prefixes].sort());
    }
    default:
      throw new ReplyError(unknownSubcommand(argv));
  }
}

/**
 * CLIENT REPLY ON|OFF|SKIP. OFF and SKIP have no reply of their own; the connection drops the
 * replies while `REPLY_OFF`, or `REPLY_SKIP` (set for the command after a SKIP), is set. Pushes
 * (pub/sub messages and confirmations, invalidations) still go out, as Redis sends them.
 */
function clientReply(ctx: CommandContext, mode: string): void {
  const flags = ctx.client.replyFlags ?? 0;
  switch (mode.toUpperCase()) {
    case "ON":
      ctx.client.replyFlags = flags & ~(REPLY_OFF | REPLY_SKIP);
      return ctx.out.ok();
    case "OFF":
      ctx.client.replyFlags = flags | REPLY_OFF;
      return;
    case "SKIP":
      if ((flags & REPLY_OFF) === 0) ctx.client.replyFlags = flags | REPLY_SKIP_NEXT;
      return;
    default:
      throw new ReplyError(SYNTAX);
  }
}

function trackingOf(ctx: CommandContext): ClientTracking {
  const tracking = ctx.server.tracking;
  if (tracking === undefined) {
    throw new ReplyError("ERR client-side caching is not available on this connection");
  }
  return tracking;
}

/**
 * CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]: the
 * options are read (and a redirect checked) first, for ON and OFF alike, as Redis does.
 */
function clientTracking(ctx: CommandContext, argv: string[]): void {
  const tracking = trackingOf(ctx);
  const options: TrackingOptions = {
    redirect: 0,
    bcast: false,
    optin: false,
    optout: false,
    noloop: false,
    prefixes: [],
  };
  for (let i = 3; i < argv.length; i++) {
    const option = argv[i].toUpperCase();
    const more = i + 1 < argv.length;
    if (option === "REDIRECT" && more) {
      i++;
      if (options.redirect !== 0) {
        throw new ReplyError("ERR A client can only redirect to a single other client");
      }
      const id = parseInt64(argv[i]);
      if (id === null) throw new ReplyError(NOT_INTEGER);
      if (id <= 0n || id > BigInt(Number.MAX_SAFE_INTEGER) || !tracking.connected(Number(id))) {
        throw new ReplyError("ERR The client ID you want redirect to does not exist");
      }
      options.redirect = Number(id);
    } else if (option === "BCAST") options.bcast = true;
    else if (option === "OPTIN") options.optin = true;
    else if (option === "OPTOUT") options.optout = true;
    else if (option === "NOLOOP") options.noloop = true;
    else if (option === "PREFIX" && more) options.prefixes.push(argv[++i]);
    else throw new ReplyError(SYNTAX);
  }
  const mode = argv[2].toUpperCase();
  if (mode === "ON") {
    const error = tracking.enable(ctx.client.id, options);
    if (error !== null) throw new ReplyError(error);
  } else if (mode === "OFF") {
    tracking.disable(ctx.client.id);
  } else {
    throw new ReplyError(SYNTAX);
  }
  ctx.out.ok();
}

function clientKill(ctx: CommandContext, argv: string[]): void {
  const kill = ctx.server.killClients;
  if (argv.length === 3) {
    // The old form: CLIENT KILL addr:port.
    if ((kill?.({ addr: argv[2] }) ?? 0) === 0) throw new ReplyError("ERR No such client");
    return ctx.out.ok();
  }
  if (argv.length < 4 || argv.length % 2 !== 0) throw new ReplyError(SYNTAX);
  const filter: ClientKillFilter = {
    skipMe: true,
    self: ctx.client.id,
  };
  for (let i = 2; i < argv.length; i += 2) {
    const option = argv[i].toUpperCase();
    const value = argv[i + 1];
    if (option === "ID") filter.id = integerArg(value);
    else if (option === "ADDR") filter.addr = value;
    else if (option === "USER") filter.user = value;
    else if (option === "SKIPME") filter.skipMe = !/^no$/i.test(value);
    else throw new ReplyError(SYNTAX);
  }
  ctx.out.integer(kill?.(filter) ?? 0);
}

function reset(ctx: CommandContext): void {
  ctx.transaction.reset();
  ctx.client.db = 0;
  ctx.store = ctx.keyspace.store(0);
  ctx.client.protocol = 2;
  ctx.out.protocol = 2;
  ctx.client.name = "";
  // Tracking off and replies on; a SKIP already in effect still drops RESET's reply (Redis
  // clears OFF and a SKIP to come).
  ctx.server.tracking?.disable(ctx.client.id);
  if (ctx.client.replyFlags !== undefined) {
    ctx.client.replyFlags &= ~(REPLY_OFF | REPLY_SKIP_NEXT);
  }
  ctx.server.resetClient?.(ctx.client);
  if (ctx.server.auth?.required) {
    ctx.client.authenticated = false;
    ctx.client.user = "default";
  }
  ctx.out.simple("RESET");
}

function acl(ctx: CommandContext, argv: string[]): void {
  const sub = argv[1].toUpperCase();
  const users = ctx.server.auth?.users() ?? [{ name: "default", role: "admin" as const }];
  switch (sub) {
    case "WHOAMI":
      return ctx.out.bulk(ctx.client.user);
    case "USERS":
      return ctx.out.bulkArray(users.map((u) => u.name));
    case "LIST":
      return ctx.out.bulkArray(users.map((u) => {
        const password = ctx.server.auth?.required ? "#<sha256>" : "nopass";
        return `user ${u.name} on ${password} ~* &* ${ROLE_RULES[u.role]}`;
      }));
    default:
      throw new ReplyError(unknownSubcommand(argv));
  }
}

function config(ctx: CommandContext, argv: string[]): void {
  const sub = argv[1].toUpperCase();
  const hooks = ctx.server.config;
  if (hooks === undefined) throw new ReplyError("ERR CONFIG is not available");
  switch (sub) {
    case "GET": {
      if (argv.length < 3) throw new ReplyError(wrongArity("config|get"));
      const pairs = new Map<string, string>();
      for (const pattern of argv.slice(2)) {
        for (const [name, value] of hooks.get(pattern)) pairs.set(name, value);
      }
      ctx.out.mapHeader(pairs.size);
      for (const [name, value] of pairs) {
        ctx.out.bulk(name);
        ctx.out.bulk(value);
      }
      return;
    }
    case "SET": {
      if (argv.length < 4 || argv.length % 2 !== 0) throw new ReplyError(wrongArity("config|set"));
      for (let i = 2; i < argv.length; i += 2) {
        const error = hooks.set(argv[i].toLowerCase(), argv[i + 1]);
        if (error !== null) {
          throw new ReplyError(
            `ERR CONFIG SET failed (possibly related to argument '${argv[i]}') - ${error}`,
          );
        }
      }
      return ctx.out.ok();
    }
    case "RESETSTAT":
      hooks.resetStats();
      return ctx.out.ok();
    case "REWRITE":
      throw new ReplyError(
        "ERR The server is running without a config file that CONFIG REWRITE can change",
      );
    default:
      throw new ReplyError(unknownSubcommand(argv));
  }
}

function time(ctx: CommandContext): void {
  const nowUs = Math.floor(ctx.store.clock.realtimeMs() * 1000);
  ctx.out.bulkArray([String(Math.floor(nowUs / 1e6)), String(nowUs % 1e6)]);
}

function memory(ctx: CommandContext, argv: string[]): void {
  const sub = argv[1].toUpperCase();
  if (sub === "PURGE" && argv.length === 2) {
    // Redis asks jemalloc to return free pages; here a full collection lets the engine do so,
    // and the record arena gives back the slabs of its empty size classes.
    trimRecordMemory();
    ctx.server.purgeMemory?.();
    return ctx.out.ok();
  }
  if (sub !== "USAGE") throw new ReplyError(unknownSubcommand(argv));
  if (argv.length !== 3 && !(argv.length === 5 && argv[3].toUpperCase() === "SAMPLES")) {
    throw new ReplyError(SYNTAX);
  }
  const entry = ctx.store.lookup(argv[2], false);
  if (entry === undefined) return ctx.out.nullReply();
  ctx.out.integer(ctx.store.sizeOf(entry));
}

function stores(ctx: CommandContext): void {
  const out = ctx.out;
  out.arrayHeader(ctx.keyspace.stores.length);
  for (const store of ctx.keyspace.stores) {
    const o = store.options;
    out.mapHeader(8);
    out.bulk("index");
    out.integer(store.index);
    out.bulk("name");
    out.bulk(store.name);
    out.bulk("max_memory");
    out.integer(o.maxMemoryBytes);
    out.bulk("eviction_policy");
    out.bulk(o.evictionPolicy);
    out.bulk("default_ttl_ms");
    out.integer(o.defaultTtlMs);
    out.bulk("persist");
    out.integer(o.persist ? 1 : 0);
    out.bulk("filter");
    out.integer(store.filter === null ? 0 : 1);
    out.bulk("keys");
    out.integer(store.size);
  }
}

function storeArg(ctx: CommandContext, name: string | undefined) {
  if (name === undefined) return ctx.store;
  const store = ctx.keyspace.find(name);
  if (store === undefined) throw new ReplyError(`ERR no such store '${name}'`);
  return store;
}

function hstats(ctx: CommandContext, argv: string[]): void {
  if (argv.length > 2) throw new ReplyError(wrongArity("hstats"));
  const store = storeArg(ctx, argv[1]);
  const s = store.stats;
  const filter = store.filter;
  const out = ctx.out;
  out.mapHeader(12);
  const pair = (name: string, value: number | string) => {
    out.bulk(name);
    if (typeof value === "number" && Number.isInteger(value)) out.integer(value);
    else out.bulk(String(value));
  };
  pair("store", store.name);
  pair("keys", store.size);
  pair("expires", store.volatileCount);
  pair("memory_bytes", store.usedMemoryBytes);
  pair("max_memory", store.options.maxMemoryBytes);
  pair("hits", s.hits);
  pair("misses", s.misses);
  pair("evictions", s.evictions);
  pair("expirations", s.expirations);
  pair("filter_items", filter?.count ?? 0);
  pair("filter_load", filter === null ? "0" : filter.load.toFixed(6));
  pair(
    "filter_fp_rate",
    filter === null ? "0" : filter.estimatedFalsePositiveRate.toExponential(3),
  );
}

function hfilter(ctx: CommandContext, argv: string[]): void {
  const store = storeArg(ctx, argv[1]);
  if (store.filter === null) throw new ReplyError(`ERR store '${store.name}' has no filter`);
  ctx.out.integer(store.filter.mayContain(argv[2]) ? 1 : 0);
}

/** Redis's categories of the CLIENT subcommands that act on other connections. */
const ADMIN_CONNECTION: AclCategory[] = ["admin", "slow", "dangerous", "connection"];

const connection = (spec: Omit<Parameters<typeof command>[0], "group">) =>
  command({ ...spec, group: "connection" });
const server = (spec: Omit<Parameters<typeof command>[0], "group">) =>
  command({ ...spec, group: "server" });

export const connectionCommands: CommandSpec[] = [
  connection({
    name: "hello",
    needsConnection: true,
    arity: -1,
    flags: ["noscript", "loading", "stale", "fast", "noauth", "no_multi", "allow_busy"],
    summary: "Handshakes with the server: protocol version, authentication, client name.",
    handler: hello,
  }),
  connection({
    name: "auth",
    needsConnection: true,
    arity: -2,
    flags: ["noscript", "loading", "stale", "fast", "noauth", "no_multi", "allow_busy"],
    summary: "Authenticates the connection.",
    handler: auth,
  }),
  connection({
    name: "client",
    needsConnection: true,
    arity: -2,
    flags: ["noscript", "loading", "stale"],
    categories: ["slow"],
    summary:
      "A container for client connection commands (ID, SETNAME, GETNAME, LIST, INFO, KILL, REPLY, TRACKING, ...).",
    handler: client,
    subcommands: subcommandSpecs("client", "connection", client, [
      ["id", 2, ["noscript", "loading", "stale"], ["slow", "connection"]],
      ["setname", 3, ["noscript", "loading", "stale"], ["slow", "connection"]],
      ["getname", 2, ["noscript", "loading", "stale"], ["slow", "connection"]],
      ["info", 2, ["noscript", "loading", "stale"], ["slow", "connection"]],
      ["setinfo", 4, ["noscript", "loading", "stale"], ["slow", "connection"]],
      ["no-touch", 3, ["noscript", "loading", "stale"], ["slow", "connection"]],
      ["reply", 3, ["noscript", "loading", "stale"], ["slow", "connection"]],
      ["tracking", -3, ["noscript", "loading", "stale"], ["slow", "connection"]],
      ["caching", 3, ["noscript", "loading", "stale"], ["slow", "connection"]],
      ["getredir", 2, ["noscript", "loading", "stale"], ["slow", "connection"]],
      ["trackinginfo", 2, ["noscript", "loading", "stale"], ["slow", "connection"]],
      ["list", -2, ["admin", "noscript", "loading", "stale"], ADMIN_CONNECTION],
      ["kill", -3, ["admin", "noscript", "loading", "stale"], ADMIN_CONNECTION],
      ["no-evict", 3, ["admin", "noscript", "loading", "stale"], ADMIN_CONNECTION],
    ]),
  }),
  connection({
    name: "reset",
    notQueued: true,
    needsConnection: true,
    arity: 1,
    flags: ["noscript", "loading", "stale", "fast", "noauth", "no_multi", "allow_busy"],
    summary: "Resets the connection.",
    handler: reset,
  }),
  server({
    name: "acl",
    arity: -2,
    flags: ["noscript", "loading", "stale"],
    summary: "ACL WHOAMI, USERS and LIST.",
    handler: acl,
    subcommands: subcommandSpecs("acl", "server", acl, [
      ["whoami", 2, ["noscript", "loading", "stale"], ["slow"]],
      ["users", 2, ["admin", "noscript", "loading", "stale"], ["admin", "slow", "dangerous"]],
      ["list", 2, ["admin", "noscript", "loading", "stale"], ["admin", "slow", "dangerous"]],
    ]),
  }),
  server({
    name: "config",
    arity: -2,
    flags: ["admin", "noscript", "loading", "stale"],
    categories: ["slow"],
    summary: "CONFIG GET, SET and RESETSTAT for the settings HyperCache has.",
    handler: config,
    subcommands: subcommandSpecs("config", "server", config, [
      ["get", -3, ["admin", "noscript", "loading", "stale"], ["admin", "slow", "dangerous"]],
      ["set", -4, ["admin", "noscript", "loading", "stale"], ["admin", "slow", "dangerous"]],
      ["resetstat", 2, ["admin", "noscript", "loading", "stale"], ["admin", "slow", "dangerous"]],
      ["rewrite", 2, ["admin", "noscript", "loading", "stale"], ["admin", "slow", "dangerous"]],
    ]),
  }),
  server({
    name: "time",
    arity: 1,
    flags: ["loading", "stale", "fast"],
    summary: "Returns the server time.",
    handler: time,
  }),
  server({
    name: "memory",
    arity: -2,
    flags: ["readonly"],
    categories: ["slow"],
    summary: "MEMORY USAGE (the bytes a key is accounted for) and MEMORY PURGE.",
    handler: memory,
    subcommands: subcommandSpecs("memory", "server", memory, [
      ["usage", -3, ["readonly"], ["read", "slow"], [2, 2, 1]],
      ["purge", 2, [], ["slow"]],
    ]),
  }),
  server({
    name: "stores",
    arity: 1,
    flags: ["loading", "stale"],
    categories: ["keyspace", "read", "slow"],
    summary: "Lists the stores with their settings (HyperCache).",
    handler: stores,
  }),
  server({
    name: "hstats",
    arity: -1,
    flags: ["loading", "stale"],
    categories: ["keyspace", "read", "slow"],
    summary: "Statistics of a store: keys, memory, hits, misses, evictions, filter (HyperCache).",
    handler: hstats,
  }),
  server({
    name: "hfilter",
    arity: 3,
    flags: ["readonly", "fast"],
    categories: ["keyspace", "read", "fast"],
    summary: "Whether the store's cuckoo filter says the key may exist (HyperCache).",
    handler: hfilter,
  }),
];
