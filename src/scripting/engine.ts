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
import { ReplyError } from "../commands/errors.ts";
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
  setBusy(busy: boolean): void;
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

/** A script suspended past busy-reply-threshold. */
interface Suspended {
  reply: DeferredReply;
  protocol: 2 | 3;
  /** Whether it opened the top-level atomic call. */
  top: boolean;
}

/** The SHA-1 of `text`'s bytes, as 40 lower-case hex digits. */
export function sha1Hex(text: string): string {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytesToHex(sha1(bytes));
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
  /** Where a script's result is converted to RESP text. */
  readonly #out = new ReplyWriter();
  /** The running script's state; null between scripts. */
  #client: ClientState | null = null;
  #readOnly = false;
  #sha = "";
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
    vm.pushFunction((v) => this.#call(v));
    vm.setGlobal("__hc_call");
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
    vm.setHook(() => {
      if (this.#client === null) return;
      if (this.#killed) throw new LuaRaiseReply(KILLED);
      if (this.#host.nowMs() >= this.#yieldAtMs) return "yield";
    });
  }

  /** Whether a script is suspended past busy-reply-threshold now. */
  get busy(): boolean {
    return this.#suspended !== null;
  }

  /** SCRIPT KILL: stops the suspended script at its next count, unless it has written. */
  kill(): void {
    if (this.#suspended === null) {
      throw new ReplyError("NOTBUSY No scripts in execution right now.");
    }
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
    this.#sha = sha;
    this.#wrote = false;
    this.#killed = false;
    const threshold = host.busyThresholdMs();
    this.#yieldAtMs = threshold > 0 ? host.nowMs() + threshold : Infinity;
    const top = host.beginAtomic();
    vm.enterCoroutine();
    vm.pushRef(script.ref);
    this.#pushList(argv, 3, 3 + numkeys);
    vm.rawSetGlobal("KEYS");
    this.#pushList(argv, 3 + numkeys, argv.length);
    vm.rawSetGlobal("ARGV");
    let result = vm.resume(0);
    if ("yielded" in result) {
      // Inside EXEC (or another atomic call) the reply is part of one being built now: the
      // script runs to its end in this turn.
      const reply = top ? host.suspend(ctx.client) : undefined;
      if (reply !== undefined) {
        this.#suspended = { reply, protocol: caller.protocol, top };
        host.setBusy(true);
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
      this.#host.setBusy(true);
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
      const at = /^user_script:(\d+): /.exec(raw);
      if (at !== null) line = at[1];
      if (!/^[A-Z]+ /.test(raw)) text = `ERR ${raw}`;
    }
    return `${text} script: ${this.#sha}, on @user_script:${line}.`.replace(/[\r\n]+/g, " ");
  }

  /** `redis.call`/`redis.pcall`: runs the command; pushes its reply and whether it failed. */
  #call(vm: LuaVm): number {
    const client = this.#client;
    if (client === null) throw new LuaRaise("redis.call is only available inside a script");
    const count = vm.top();
    if (count === 0) {
      return this.#fail(vm, "ERR Please specify at least one argument for this redis lib call");
    }
    const argv: string[] = [];
    for (let i = 1; i <= count; i++) {
      const type = vm.type(i);
      if (type === LuaType.STRING) argv.push(vm.toString(i));
      else if (type === LuaType.NUMBER) {
        argv.push(vm.isInteger(i) ? vm.toString(i) : numberText(vm.toNumber(i)));
      } else {
        return this.#fail(vm, "ERR Lua redis lib command arguments must be strings or integers");
      }
    }
    const flags = this.#host.flags(argv[0]);
    if (flags === undefined) return this.#fail(vm, "ERR Unknown Redis command called from script");
    if (flags.includes("noscript")) {
      return this.#fail(vm, "ERR This Redis command is not allowed from script");
    }
    if (this.#readOnly && flags.includes("write")) {
      return this.#fail(vm, "ERR Write commands are not allowed from read-only scripts.");
    }
    if (flags.includes("write")) this.#wrote = true;
    const text = this.#host.run(client, argv);
    vm.setTop(0);
    const end = this.#pushReply(vm, text, 0, 0);
    if (end !== text.length) throw new LuaRaise("internal error: a reply did not parse");
    vm.pushBoolean(text.charCodeAt(0) === 45); // '-': an error reply
    return 2;
  }

  /** Pushes `{err = text}` and true, as a failed call returns. */
  #fail(vm: LuaVm, text: string): number {
    vm.setTop(0);
    pushTagged(vm, "err", text);
    vm.pushBoolean(true);
    return 2;
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
