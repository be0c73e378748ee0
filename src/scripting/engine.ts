/**
 * EVAL's engine: the script cache (by SHA-1), one Lua state, `redis.call` through the one
 * dispatcher, and Redis's conversions between replies and Lua values both ways.
 *
 * A script runs whole inside one atomic call of the dispatcher: its writes are logged (and later
 * replicated) as their effects, wrapped in MULTI/EXEC. It runs on a Lua coroutine, synchronously
 * while it is short. Past `busy-reply-threshold` the count hook suspends it, and it continues in
 * slices between turns of the event loop, as Redis serves events during a long script: in
 * between, every other command gets `-BUSY` (only `allow_busy` ones run, `SCRIPT KILL` among
 * them) and nothing else changes the keyspace, so the script stays atomic. `SCRIPT KILL` stops a
 * script that has not written; one that has is `UNKILLABLE`, as in Redis.
 *
 * @module
 */
import { sha1 } from "@noble/hashes/legacy.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { busyError, ReplyError } from "../commands/errors.ts";
import { crc32 } from "../_crc32.ts";
import type { ClientState, CommandContext, DeferredReply } from "../commands/types.ts";
import { ReplyWriter } from "../resp/writer.ts";
import { LuaRaise, LuaRaiseReply, LuaType, LuaVm, type ResumeResult } from "./lua.ts";
import { PRELUDE } from "./prelude.lua.ts";

/** What the engine reaches in the node. */
export interface ScriptHost {
  /** Runs one command for the script's client and returns its reply as RESP text. */
  run(client: ClientState, argv: string[]): string;
  /** The command's flags, or undefined for an unknown command. */
  flags(name: string): readonly string[] | undefined;
  /** Opens one atomic call (the script's writes are handed on together when it ends). */
  beginAtomic(): boolean;
  endAtomic(top: boolean): void;
  /** The caller's reply completes later, its later commands waiting (undefined: it cannot). */
  suspend(client: ClientState): DeferredReply | undefined;
  /** While true, other commands get -BUSY and background work leaves the keyspace alone. */
  setBusy(busy: boolean, kind?: "script" | "function"): void;
  /** The function libraries changed: keeps their codes (persistence); resolves once durable. */
  librariesChanged?(codes: string[]): Promise<void> | null;
  /** Runs `task` on a later turn of the event loop. */
  later(task: () => void): void;
  log(level: number, message: string): void;
  nowMs(): number;
  /** `busy-reply-threshold` (ms): a script running longer is suspended and others get -BUSY;
   * 0 never suspends it. */
  busyThresholdMs(): number;
}

/** How long a suspended script runs between turns of the event loop. */
const SLICE_MS = 20;
/** The error a script stopped by SCRIPT KILL ends with (Redis 7.0's text). */
const KILLED = "ERR Script killed by user with SCRIPT KILL...";

/** Longest a library's code may run at FUNCTION LOAD (Redis's limit). */
const LOAD_TIMEOUT_MS = 500;
/** FUNCTION DUMP's payload: this magic and version, the codes as JSON, a CRC-32. */
const DUMP_MAGIC = "HCFN\x01";
const LIBRARY_NAME = /^[A-Za-z0-9_]+$/;

/** A function a library registered. */
interface FunctionEntry {
  name: string;
  library: string;
  /** The callback, in the Lua registry. */
  ref: number;
  flags: string[];
  description: string | null;
}

/** A library of functions and its code (FUNCTION LOAD). */
export interface Library {
  readonly name: string;
  readonly code: string;
  readonly functions: readonly Readonly<FunctionEntry>[];
}

/** A script suspended past busy-reply-threshold. */
interface Suspended {
  reply: DeferredReply;
  protocol: 2 | 3;
  /** Whether it opened the top-level atomic call. */
  top: boolean;
}

/** The SHA-1 of `text`'s bytes, as 40 lower-case hex digits. */
export function sha1Hex(text: string): string {
  return bytesToHex(sha1(latin1Bytes(text)));
}

/** Nesting deeper than this in a script's reply is refused (a table that holds itself). */
const MAX_DEPTH = 1000;

/** Lua 5.1 formats numbers with `%.14g`; Redis scripts send numbers as those strings. */
function numberText(value: number): string {
  if (Number.isInteger(value) && Math.abs(value) < 1e15) return String(value);
  if (!Number.isFinite(value)) return value > 0 ? "inf" : value < 0 ? "-inf" : "nan";
  return String(Number(value.toPrecision(14)));
}

/** Pushes `{[field] = text}`: how Redis hands Lua a status, an error or a big number. */
function pushTagged(vm: LuaVm, field: string, text: string): void {
  vm.newTable(0, 1);
  vm.pushString(text);
  vm.setField(-2, field);
}

export class ScriptEngine {
  readonly #vm: LuaVm;
  readonly #host: ScriptHost;
  readonly #scripts = new Map<string, { body: string; ref: number }>();
  #libraries = new Map<string, Library>();
  #functions = new Map<string, FunctionEntry>();
  /** The prelude's `__hc_register`, which runs a library's code. */
  #registerRef = 0;
  /** The write of the last change to the libraries, until `takeSaved`. */
  #saved: Promise<void> | null = null;
  /** Set while a library's code runs at FUNCTION LOAD: when it must have ended. */
  #loadDeadline = 0;
  /** Where a script's result is converted to RESP text. */
  readonly #out = new ReplyWriter();
  /** The running script's state; null between scripts. */
  #client: ClientState | null = null;
  #readOnly = false;
  /** The running script's SHA-1, or the running function's name (for error texts, STATS). */
  #label = "";
  #kind: "script" | "function" = "script";
  #startedMs = 0;
  #argv: string[] = [];
  /** When the hook next suspends the running script (monotonic ms). */
  #yieldAtMs = Infinity;
  /** The running script has called a write command (SCRIPT KILL then refuses). */
  #wrote = false;
  #killed = false;
  #suspended: Suspended | null = null;

  private constructor(vm: LuaVm, host: ScriptHost) {
    this.#vm = vm;
    this.#host = host;
    this.#install();
  }

  /** Opens the Lua state (loading the WebAssembly module once per process). */
  static async open(host: ScriptHost): Promise<ScriptEngine> {
    return new ScriptEngine(await LuaVm.open(), host);
  }

  #install(): void {
    const vm = this.#vm;
    // C functions, not Lua wrappers: `return redis.call(...)` is a tail call, and only a C callee
    // leaves the caller's frame (and its line) in place for the error.
    vm.pushFunction((v) => this.#call(v, true));
    vm.setGlobal("__hc_call");
    vm.pushFunction((v) => this.#call(v, false));
    vm.setGlobal("__hc_pcall");
    vm.pushFunction((v) => {
      this.#host.log(v.toNumber(1), v.toString(2));
      return 0;
    });
    vm.setGlobal("__hc_log");
    vm.pushFunction((v) => {
      v.pushString(sha1Hex(v.toString(1)));
      return 1;
    });
    vm.setGlobal("__hc_sha1");
    vm.pushFunction((v) => {
      if (this.#client !== null) this.#client.protocol = v.toNumber(1) === 3 ? 3 : 2;
      return 0;
    });
    vm.setGlobal("__hc_setresp");
    vm.pushFunction((v) => {
      v.pushString(this.#json(v, 1, 0));
      return 1;
    });
    vm.setGlobal("__hc_json_encode");
    vm.pushFunction((v) => {
      let value: unknown;
      try {
        value = JSON.parse(v.toString(1));
      } catch (error) {
        throw new LuaRaise(`Expected value but found invalid token: ${(error as Error).message}`);
      }
      this.#pushJson(v, value);
      return 1;
    });
    vm.setGlobal("__hc_json_decode");
    vm.run(PRELUDE);
    // Kept out of scripts' reach: only FUNCTION LOAD runs library code.
    vm.getGlobal("__hc_register");
    this.#registerRef = vm.ref();
    vm.pushNil();
    vm.rawSetGlobal("__hc_register");
    vm.setHook(() => {
      if (this.#loadDeadline !== 0) {
        if (this.#host.nowMs() > this.#loadDeadline) throw new LuaRaise("FUNCTION LOAD timeout");
        return;
      }
      if (this.#client === null) return;
      if (this.#killed) throw new LuaRaiseReply(KILLED);
      if (this.#host.nowMs() >= this.#yieldAtMs) return "yield";
    });
  }

  /** The client a running script's commands run for, or null (commands that act differently
   * when a script calls them: XREAD BLOCK is refused). */
  get scriptClient(): ClientState | null {
    return this.#client;
  }

  /** Whether a script is suspended past busy-reply-threshold now. */
  get busy(): boolean {
    return this.#suspended !== null;
  }

  /** What runs now, for FUNCTION STATS: its name, its command and how long it has run. */
  running(): { name: string; argv: string[]; durationMs: number } | null {
    if (this.#suspended === null) return null;
    const name = this.#kind === "function" ? this.#label : "";
    return { name, argv: this.#argv, durationMs: this.#host.nowMs() - this.#startedMs };
  }

  /**
   * SCRIPT KILL (`kind` "script") or FUNCTION KILL ("function"): stops the suspended script or
   * function at its next count, unless it has written.
   */
  kill(kind: "script" | "function" = "script"): void {
    if (this.#suspended === null) {
      throw new ReplyError("NOTBUSY No scripts in execution right now.");
    }
    if (kind !== this.#kind) throw new ReplyError(busyError(this.#kind));
    if (this.#wrote) {
      throw new ReplyError(
        "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.",
      );
    }
    this.#killed = true;
  }

  /** Compiles and caches `body`; returns its SHA-1, or throws the compile error. */
  load(body: string): string {
    const sha = sha1Hex(body);
    if (this.#scripts.has(sha)) return sha;
    const error = this.#vm.load(body, "@user_script");
    if (error !== null) throw new ReplyError(`ERR Error compiling script (new function): ${error}`);
    this.#scripts.set(sha, { body, ref: this.#vm.ref() });
    return sha;
  }

  exists(sha: string): boolean {
    return this.#scripts.has(sha.toLowerCase());
  }

  flush(): void {
    for (const { ref } of this.#scripts.values()) this.#vm.unref(ref);
    this.#scripts.clear();
  }

  // ---------------------------------------------------------------- function libraries

  /** FUNCTION LOAD: compiles `code` and registers its functions; returns the library's name. */
  loadLibrary(code: string, replace: boolean): string {
    const release: number[] = [];
    const name = this.#transaction(release, () => this.#installLibrary(code, replace, release));
    this.#changed();
    return name;
  }

  /** FUNCTION DELETE. */
  deleteLibrary(name: string): void {
    const library = this.#libraries.get(name);
    if (library === undefined) throw new ReplyError("ERR Library not found");
    this.#remove(library, null);
    this.#changed();
  }

  /** FUNCTION FLUSH. */
  flushLibraries(): void {
    for (const library of [...this.#libraries.values()]) this.#remove(library, null);
    this.#changed();
  }

  /** FUNCTION LIST: the libraries whose names match `matches`, in load order. */
  libraries(matches: (name: string) => boolean = () => true): Library[] {
    return [...this.#libraries.values()].filter((library) => matches(library.name));
  }

  /** Libraries and functions, for FUNCTION STATS. */
  get counts(): { libraries: number; functions: number } {
    return { libraries: this.#libraries.size, functions: this.#functions.size };
  }

  /** FUNCTION DUMP: every library's code, as a payload for FUNCTION RESTORE (latin1 text). */
  dumpLibraries(): string {
    const json = JSON.stringify(this.libraries().map((library) => library.code));
    // JSON escapes nothing past 0xff here: the codes are latin1 text, one char per byte.
    const body = DUMP_MAGIC + json;
    return body + u32Text(crc32(latin1Bytes(body)));
  }

  /** FUNCTION RESTORE with its policy: all or nothing. */
  restoreLibraries(payload: string, policy: "APPEND" | "REPLACE" | "FLUSH"): void {
    const codes = parseDump(payload);
    const release: number[] = [];
    this.#transaction(release, () => {
      if (policy === "FLUSH") {
        for (const library of [...this.#libraries.values()]) this.#remove(library, release);
      }
      for (const code of codes) this.#installLibrary(code, policy === "REPLACE", release);
    });
    this.#changed();
  }

  /** Loads libraries kept by `librariesChanged` (at start-up); throws the first one's error. */
  restoreSaved(codes: string[]): void {
    const release: number[] = [];
    this.#transaction(release, () => {
      for (const code of codes) this.#installLibrary(code, false, release);
    });
  }

  /** Runs `body` on the libraries; if it throws, they are as before. `release` collects refs
   * to free once it succeeded (replaced functions); refs made by a failed body are freed. */
  #transaction<T>(release: number[], body: () => T): T {
    const libraries = new Map(this.#libraries);
    const functions = new Map(this.#functions);
    try {
      const result = body();
      for (const ref of release) this.#vm.unref(ref);
      return result;
    } catch (error) {
      for (const fn of this.#functions.values()) {
        if (functions.get(fn.name) !== fn) this.#vm.unref(fn.ref);
      }
      this.#libraries = libraries;
      this.#functions = functions;
      throw error;
    }
  }

  #changed(): void {
    this.#saved = this.#host.librariesChanged?.(this.libraries().map((l) => l.code)) ?? null;
  }

  /** Resolves once the last change to the libraries is durable; null when nothing waits. */
  takeSaved(): Promise<void> | null {
    const saved = this.#saved;
    this.#saved = null;
    return saved;
  }

  /** Compiles `code` and installs its library (replacing one of its name when `replace`). */
  #installLibrary(code: string, replace: boolean, release: number[]): string {
    const { name, body } = parseMetadata(code);
    const existing = this.#libraries.get(name);
    if (existing !== undefined && !replace) {
      throw new ReplyError(`ERR Library '${name}' already exists`);
    }
    const functions = this.#register(name, body);
    for (const fn of functions) {
      const other = this.#functions.get(fn.name);
      if (other !== undefined && other.library !== name) {
        for (const made of functions) this.#vm.unref(made.ref);
        throw new ReplyError(`ERR Function ${fn.name} already exists`);
      }
    }
    if (existing !== undefined) this.#remove(existing, release);
    this.#libraries.set(name, { name, code, functions });
    for (const fn of functions) this.#functions.set(fn.name, fn);
    return name;
  }

  /** Drops `library`; its callbacks are freed now, or later through `release`. */
  #remove(library: Library, release: number[] | null): void {
    this.#libraries.delete(library.name);
    for (const fn of library.functions) {
      if (this.#functions.get(fn.name) === fn) this.#functions.delete(fn.name);
      if (release === null) this.#vm.unref(fn.ref);
      else release.push(fn.ref);
    }
  }

  /** Runs a library's body with only the load API in sight; returns what it registered. */
  #register(library: string, body: string): FunctionEntry[] {
    const vm = this.#vm;
    vm.pushRef(this.#registerRef);
    const compileError = vm.load(body, "@user_function");
    if (compileError !== null) {
      vm.setTop(-2);
      throw new ReplyError(`ERR Error compiling function: ${compileError}`);
    }
    this.#loadDeadline = this.#host.nowMs() + LOAD_TIMEOUT_MS;
    let error: string | null;
    try {
      error = vm.call(1, 1);
    } finally {
      this.#loadDeadline = 0;
    }
    if (error !== null) {
      const nul = error.indexOf("\0");
      const text = nul !== -1
        ? error.slice(0, nul)
        : /^[A-Z]+ /.test(error)
        ? error
        : `ERR ${error}`;
      throw new ReplyError(`ERR Error registering functions: ${text.replace(/[\r\n]+/g, " ")}`);
    }
    const functions: FunctionEntry[] = [];
    const count = vm.rawLength(-1);
    for (let i = 1; i <= count; i++) {
      vm.getIndex(-1, i);
      const flags: string[] = [];
      vm.getField(-1, "flags");
      for (let f = 1; f <= vm.rawLength(-1); f++) {
        vm.getIndex(-1, f);
        flags.push(vm.toString(-1));
        vm.setTop(-2);
      }
      vm.setTop(-2);
      const name = vm.stringField(-1, "name")!;
      const description = vm.stringField(-1, "description");
      vm.getField(-1, "callback");
      functions.push({ name, library, ref: vm.ref(), flags, description });
      vm.setTop(-2);
    }
    vm.setTop(-2);
    if (functions.length === 0) throw new ReplyError("ERR No functions registered");
    return functions;
  }

  // ---------------------------------------------------------------- running

  /** EVAL and friends: `argv` is `[name, script-or-sha, numkeys, ...]`. */
  eval(ctx: CommandContext, argv: string[], bySha: boolean, readOnly: boolean): void {
    const count = argv[2];
    if (!/^-?\d+$/.test(count)) throw new ReplyError("ERR value is not an integer or out of range");
    const numkeys = Number(count);
    if (numkeys < 0) throw new ReplyError("ERR Number of keys can't be negative");
    if (numkeys > argv.length - 3) {
      throw new ReplyError("ERR Number of keys can't be greater than number of args");
    }
    let sha: string;
    if (bySha) {
      sha = argv[1].toLowerCase();
      if (!this.#scripts.has(sha)) {
        throw new ReplyError("NOSCRIPT No matching script. Please use EVAL.");
      }
    } else {
      sha = this.load(argv[1]);
    }
    const script = this.#scripts.get(sha)!;
    this.#run(ctx, argv, numkeys, script.ref, "script", sha, readOnly);
  }

  /** FCALL and FCALL_RO: `argv` is `[name, function, numkeys, ...]`. */
  fcall(ctx: CommandContext, argv: string[], readOnly: boolean): void {
    const count = argv[2];
    if (!/^-?\d+$/.test(count)) throw new ReplyError("ERR Bad number of keys provided");
    const numkeys = Number(count);
    if (numkeys < 0) throw new ReplyError("ERR Number of keys can't be negative");
    if (numkeys > argv.length - 3) {
      throw new ReplyError("ERR Number of keys can't be greater than number of args");
    }
    const fn = this.#functions.get(argv[1]);
    if (fn === undefined) throw new ReplyError("ERR Function not found");
    const noWrites = fn.flags.includes("no-writes");
    if (readOnly && !noWrites) {
      throw new ReplyError("ERR Can not execute a script with write flag using *_ro command.");
    }
    this.#run(ctx, argv, numkeys, fn.ref, "function", fn.name, noWrites);
  }

  /**
   * Runs a script (its chunk sees KEYS and ARGV as globals) or a function (called with them as
   * arguments) for `ctx`'s client, inside one atomic call; suspended past busy-reply-threshold.
   */
  #run(
    ctx: CommandContext,
    argv: string[],
    numkeys: number,
    ref: number,
    kind: "script" | "function",
    label: string,
    readOnly: boolean,
  ): void {
    const caller = ctx.client;
    const client: ClientState = {
      id: caller.id,
      db: caller.db,
      protocol: 2,
      name: caller.name,
      authenticated: true,
      user: caller.user,
      role: caller.role,
      closeAfterReply: false,
      createdMs: caller.createdMs,
      lastCommand: "",
      remoteAddress: caller.remoteAddress,
    };
    const vm = this.#vm;
    const host = this.#host;
    this.#client = client;
    this.#readOnly = readOnly;
    this.#label = label;
    this.#kind = kind;
    this.#startedMs = host.nowMs();
    this.#argv = argv;
    this.#wrote = false;
    this.#killed = false;
    const threshold = host.busyThresholdMs();
    this.#yieldAtMs = threshold > 0 ? host.nowMs() + threshold : Infinity;
    const top = host.beginAtomic();
    vm.enterCoroutine();
    vm.pushRef(ref);
    this.#pushList(argv, 3, 3 + numkeys);
    if (kind === "script") vm.rawSetGlobal("KEYS");
    this.#pushList(argv, 3 + numkeys, argv.length);
    if (kind === "script") vm.rawSetGlobal("ARGV");
    let result = vm.resume(kind === "script" ? 0 : 2);
    if ("yielded" in result) {
      // Inside EXEC (or another atomic call) the reply is part of one being built now: the
      // script runs to its end in this turn.
      const reply = top ? host.suspend(ctx.client) : undefined;
      if (reply !== undefined) {
        this.#suspended = { reply, protocol: caller.protocol, top };
        host.setBusy(true, kind);
        host.later(() => this.#continue());
        return;
      }
      // Or a client that cannot wait (none that reaches EVAL today).
      while ("yielded" in result) result = vm.resume(0);
    }
    const text = this.#finish(result, caller.protocol, top);
    if (text.charCodeAt(0) === 45) throw new ReplyError(text.slice(1, -2));
    ctx.out.rawText(text);
  }

  /** Runs the next slice of the suspended script; completes its reply when it ends. */
  #continue(): void {
    const suspended = this.#suspended!;
    this.#host.setBusy(false);
    this.#yieldAtMs = this.#host.nowMs() + SLICE_MS;
    const result = this.#vm.resume(0);
    if ("yielded" in result) {
      this.#host.setBusy(true, this.#kind);
      this.#host.later(() => this.#continue());
      return;
    }
    this.#suspended = null;
    const text = this.#finish(result, suspended.protocol, suspended.top);
    suspended.reply.complete((out) => out.rawText(text));
  }

  /**
   * The reply of a script that ended (RESP text), after closing its atomic call: its writes are
   * handed on, and the Lua state is ready for the next script.
   */
  #finish(result: ResumeResult, protocol: 2 | 3, top: boolean): string {
    const vm = this.#vm;
    try {
      if ("error" in result) return `-${this.#errorText(result.error)}\r\n`;
      const out = this.#out;
      out.protocol = protocol;
      try {
        this.#reply(out, -1, 0, protocol);
      } catch (error) {
        out.cut(0);
        if (error instanceof ReplyError) return `-${error.message}\r\n`;
        throw error;
      }
      return out.cut(0);
    } finally {
      vm.setTop(0);
      vm.leaveCoroutine();
      this.#client = null;
      this.#yieldAtMs = Infinity;
      this.#host.endAtomic(top);
    }
  }

  #pushList(argv: string[], from: number, to: number): void {
    const vm = this.#vm;
    vm.newTable(to - from, 0);
    for (let i = from; i < to; i++) {
      vm.pushString(argv[i]);
      vm.setIndex(-2, i - from + 1);
    }
  }

  /** A script error as Redis 7 words it: the message, then which script and line. */
  #errorText(raw: string): string {
    // A raised reply table comes as "text\0line"; a Lua error as "user_script:N: text".
    const nul = raw.indexOf("\0");
    let text = raw;
    let line = "0";
    if (nul !== -1) {
      text = raw.slice(0, nul);
      line = raw.slice(nul + 1);
    } else {
      const at = /^user_(?:script|function):(\d+): /.exec(raw);
      if (at !== null) line = at[1];
      if (!/^[A-Z]+ /.test(raw)) text = `ERR ${raw}`;
    }
    const chunk = this.#kind === "script" ? "user_script" : "user_function";
    return `${text} script: ${this.#label}, on @${chunk}:${line}.`.replace(/[\r\n]+/g, " ");
  }

  /**
   * `redis.call` (`raise`: an error reply raises it, with the caller's line) and `redis.pcall`
   * (an error reply is returned as `{err = ...}`): runs the command and pushes its reply.
   */
  #call(vm: LuaVm, raise: boolean): number {
    const text = this.#run1(vm);
    if (text.charCodeAt(0) === 45 && raise) { // '-': an error reply
      throw new LuaRaiseReply(text.slice(1, text.indexOf("\r\n")));
    }
    vm.setTop(0);
    const end = this.#pushReply(vm, text, 0, 0);
    if (end !== text.length) throw new LuaRaise("internal error: a reply did not parse");
    return 1;
  }

  /** Runs the command a script's call names, as its reply's RESP text. */
  #run1(vm: LuaVm): string {
    const client = this.#client;
    if (client === null) throw new LuaRaise("redis.call is only available inside a script");
    const count = vm.top();
    if (count === 0) return "-ERR Please specify at least one argument for this redis lib call\r\n";
    const argv: string[] = [];
    for (let i = 1; i <= count; i++) {
      const type = vm.type(i);
      if (type === LuaType.STRING) argv.push(vm.toString(i));
      else if (type === LuaType.NUMBER) {
        argv.push(vm.isInteger(i) ? vm.toString(i) : numberText(vm.toNumber(i)));
      } else {
        return "-ERR Lua redis lib command arguments must be strings or integers\r\n";
      }
    }
    const flags = this.#host.flags(argv[0]);
    if (flags === undefined) return "-ERR Unknown Redis command called from script\r\n";
    if (flags.includes("noscript")) return "-ERR This Redis command is not allowed from script\r\n";
    if (this.#readOnly && flags.includes("write")) {
      return "-ERR Write commands are not allowed from read-only scripts.\r\n";
    }
    if (flags.includes("write")) this.#wrote = true;
    return this.#host.run(client, argv);
  }

  /** Pushes the RESP reply at `at` of `text` as Redis gives it to Lua; returns where it ends. */
  #pushReply(vm: LuaVm, text: string, at: number, depth: number): number {
    if (depth > MAX_DEPTH || !vm.checkStack(4)) throw new LuaRaise("reply nested too deep");
    const lineEnd = text.indexOf("\r\n", at);
    const head = text.slice(at + 1, lineEnd);
    const next = lineEnd + 2;
    switch (text[at]) {
      case "+":
        pushTagged(vm, "ok", head);
        return next;
      case "-":
        pushTagged(vm, "err", head);
        return next;
      case ":":
        vm.pushInteger(BigInt(head));
        return next;
      case "$": {
        const length = Number(head);
        if (length < 0) {
          vm.pushBoolean(false);
          return next;
        }
        vm.pushString(text.slice(next, next + length));
        return next + length + 2;
      }
      case "*":
      case "~":
      case ">": {
        const length = Number(head);
        if (length < 0) {
          vm.pushBoolean(false);
          return next;
        }
        const set = text[at] === "~";
        vm.newTable(set ? 0 : length, set ? 1 : 0);
        if (set) vm.newTable(0, length);
        let pos = next;
        for (let i = 1; i <= length; i++) {
          pos = this.#pushReply(vm, text, pos, depth + 1);
          if (set) {
            vm.pushBoolean(true);
            vm.setRaw(-3);
          } else vm.setIndex(-2, i);
        }
        if (set) vm.setField(-2, "set");
        return pos;
      }
      case "%": {
        const length = Number(head);
        vm.newTable(0, 1);
        vm.newTable(0, length);
        let pos = next;
        for (let i = 0; i < length; i++) {
          pos = this.#pushReply(vm, text, pos, depth + 1);
          pos = this.#pushReply(vm, text, pos, depth + 1);
          vm.setRaw(-3);
        }
        vm.setField(-2, "map");
        return pos;
      }
      case "_":
        vm.pushNil();
        return next;
      case "#":
        vm.pushBoolean(head === "t");
        return next;
      case ",":
        vm.newTable(0, 1);
        vm.pushNumber(Number(head === "inf" ? Infinity : head === "-inf" ? -Infinity : head));
        vm.setField(-2, "double");
        return next;
      case "(":
        pushTagged(vm, "big_number", head);
        return next;
      default:
        throw new LuaRaise(`internal error: reply type '${text[at]}'`);
    }
  }

  /** Writes the Lua value at `index` as Redis converts a script's result. */
  #reply(out: ReplyWriter, index: number, depth: number, protocol: 2 | 3): void {
    const vm = this.#vm;
    if (depth > MAX_DEPTH) throw new ReplyError("ERR reached lua stack limit");
    switch (vm.type(index)) {
      case LuaType.NUMBER:
        if (vm.isInteger(index)) out.integer(BigInt(vm.toString(index)));
        else out.integer(Math.trunc(vm.toNumber(index)));
        return;
      case LuaType.STRING:
        out.bulk(vm.toString(index));
        return;
      case LuaType.BOOLEAN:
        if (vm.toBoolean(index)) out.integer(1);
        else out.nullReply();
        return;
      case LuaType.TABLE:
        return this.#replyTable(out, index, depth, protocol);
      default:
        out.nullReply();
    }
  }

  #replyTable(out: ReplyWriter, index: number, depth: number, protocol: 2 | 3): void {
    const vm = this.#vm;
    if (!vm.checkStack(4)) throw new ReplyError("ERR reached lua stack limit");
    const table = index < 0 ? vm.top() + index + 1 : index;
    // Redis's tagged tables: an error, a status (strings only, as Redis reads them), a double.
    const error = vm.getField(table, "err") === LuaType.STRING ? vm.toString(-1) : null;
    vm.setTop(-2);
    if (error !== null) return out.error(error);
    const status = vm.getField(table, "ok") === LuaType.STRING ? vm.toString(-1) : null;
    vm.setTop(-2);
    if (status !== null) return out.simple(status);
    if (vm.getField(table, "double") === LuaType.NUMBER) {
      const value = vm.toNumber(-1);
      vm.setTop(-2);
      return protocol === 3 ? out.double(value) : out.bulk(numberText(value));
    }
    vm.setTop(-2);
    // An array: its items up to the first nil, as Redis stops there.
    let length = 0;
    while (vm.getIndex(table, length + 1) !== LuaType.NIL) {
      vm.setTop(-2);
      length++;
    }
    vm.setTop(-2);
    out.arrayHeader(length);
    for (let i = 1; i <= length; i++) {
      vm.getIndex(table, i);
      this.#reply(out, -1, depth + 1, protocol);
      vm.setTop(-2);
    }
  }

  /** cjson.encode: a table with items 1..n is an array, any other table an object. */
  #json(vm: LuaVm, index: number, depth: number): string {
    if (depth > MAX_DEPTH) throw new LuaRaise("Cannot serialise, excessive nesting (1001)");
    const at = index < 0 ? vm.top() + index + 1 : index;
    switch (vm.type(at)) {
      case LuaType.NIL:
        return "null";
      case LuaType.BOOLEAN:
        return vm.toBoolean(at) ? "true" : "false";
      case LuaType.NUMBER:
        return vm.isInteger(at) ? vm.toString(at) : numberText(vm.toNumber(at));
      case LuaType.STRING:
        return JSON.stringify(vm.toString(at)).replace(/\//g, "\\/");
      case LuaType.TABLE: {
        if (vm.getGlobal("__hc_cjson_null") === LuaType.TABLE && vm.rawEqual(-1, at)) {
          vm.setTop(-2);
          return "null";
        }
        vm.setTop(-2);
        const length = vm.rawLength(at);
        let keys = 0;
        const parts: string[] = [];
        vm.pushNil();
        while (vm.next(at)) {
          keys++;
          if (length === 0) {
            const key = vm.type(-2) === LuaType.STRING || vm.type(-2) === LuaType.NUMBER
              ? JSON.stringify(vm.toStringCopy(-2))
              : null;
            if (key === null) {
              throw new LuaRaise("Cannot serialise table: table key must be a number or string");
            }
            parts.push(`${key}:${this.#json(vm, -1, depth + 1)}`);
          }
          vm.setTop(-2);
        }
        if (length > 0 && keys === length) {
          for (let i = 1; i <= length; i++) {
            vm.getIndex(at, i);
            parts.push(this.#json(vm, -1, depth + 1));
            vm.setTop(-2);
          }
          return `[${parts.join(",")}]`;
        }
        if (length > 0) throw new LuaRaise("Cannot serialise table: excessively sparse array");
        return `{${parts.join(",")}}`;
      }
      default:
        throw new LuaRaise(
          `Cannot serialise ${
            ["", "", "userdata", "", "", "", "function"][vm.type(at)] ?? "value"
          }: type not supported`,
        );
    }
  }

  #pushJson(vm: LuaVm, value: unknown): void {
    if (!vm.checkStack(4)) throw new LuaRaise("Found too many nested data structures");
    if (value === null) {
      vm.getGlobal("__hc_cjson_null");
    } else if (typeof value === "boolean") vm.pushBoolean(value);
    else if (typeof value === "number") {
      if (Number.isInteger(value) && Math.abs(value) <= Number.MAX_SAFE_INTEGER) {
        vm.pushInteger(value);
      } else vm.pushNumber(value);
    } else if (typeof value === "string") vm.pushString(value);
    else if (Array.isArray(value)) {
      vm.newTable(value.length, 0);
      value.forEach((item, i) => {
        this.#pushJson(vm, item);
        vm.setIndex(-2, i + 1);
      });
    } else {
      const entries = Object.entries(value as Record<string, unknown>);
      vm.newTable(0, entries.length);
      for (const [key, item] of entries) {
        vm.pushString(key);
        this.#pushJson(vm, item);
        vm.setRaw(-3);
      }
    }
  }
}

/** A library's name and its body (the shebang line left empty, so lines keep their numbers). */
function parseMetadata(code: string): { name: string; body: string } {
  if (!code.startsWith("#!")) throw new ReplyError("ERR Missing library metadata");
  const newline = code.indexOf("\n");
  if (newline === -1) throw new ReplyError("ERR Invalid library metadata");
  const [engine = "", ...fields] = code.slice(2, newline).replace(/\r$/, "").split(" ").filter(
    (part) => part !== "",
  );
  if (engine.toLowerCase() !== "lua") throw new ReplyError(`ERR Engine '${engine}' not found`);
  let name: string | null = null;
  for (const field of fields) {
    if (!field.startsWith("name=")) {
      throw new ReplyError(`ERR Invalid metadata value given: ${field}`);
    }
    name = field.slice(5);
  }
  if (name === null) throw new ReplyError("ERR Library name was not given");
  if (!LIBRARY_NAME.test(name)) {
    throw new ReplyError(
      "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long",
    );
  }
  return { name, body: "\n" + code.slice(newline + 1) };
}

function latin1Bytes(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

function u32Text(value: number): string {
  return String.fromCharCode(
    value >>> 24,
    (value >>> 16) & 0xff,
    (value >>> 8) & 0xff,
    value & 0xff,
  );
}

/** The codes in a FUNCTION DUMP payload, or Redis's error for one that is not ours or damaged. */
function parseDump(payload: string): string[] {
  const wrong = () => new ReplyError("ERR DUMP payload version or checksum are wrong");
  if (payload.length < DUMP_MAGIC.length + 4 || !payload.startsWith(DUMP_MAGIC)) throw wrong();
  const body = payload.slice(0, -4);
  if (u32Text(crc32(latin1Bytes(body))) !== payload.slice(-4)) throw wrong();
  let codes: unknown;
  try {
    codes = JSON.parse(body.slice(DUMP_MAGIC.length));
  } catch {
    throw wrong();
  }
  if (!Array.isArray(codes) || !codes.every((code) => typeof code === "string")) throw wrong();
  return codes;
}
