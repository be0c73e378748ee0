/**
 * A Lua 5.4 state (wasmoon's WebAssembly build of the reference interpreter), driven through the
 * raw C API so strings cross as bytes: a Redis value is a JS string of one character per byte
 * (latin1), and it reaches Lua byte for byte, NULs and bytes >= 0x80 included. wasmoon's own
 * wrappers convert through UTF-8, which would corrupt binary values, so they are used only to
 * load the module.
 *
 * Why this VM: fengari (Lua 5.3 in JS) keeps integers in 32 bits, so `2000000000 + 2000000000`
 * wraps and millisecond timestamps overflow; wasmoon has 64-bit integers and ran a 3M-iteration
 * loop ten times faster in a one-off comparison (README, "Lua scripting").
 *
 * @module
 */
import { LuaFactory } from "wasmoon";

type LuaWasm = Awaited<ReturnType<LuaFactory["getLuaModule"]>>;
// deno-lint-ignore no-explicit-any
type Raw = any;

/** Lua's type tags. */
export const LuaType = {
  NIL: 0,
  BOOLEAN: 1,
  LIGHTUSERDATA: 2,
  NUMBER: 3,
  STRING: 4,
  TABLE: 5,
  FUNCTION: 6,
  USERDATA: 7,
  THREAD: 8,
} as const;

const REGISTRY_INDEX = -1001000;
const LUA_MULTRET = -1;
/** The registry slot of the globals table (`LUA_RIDX_GLOBALS`). */
const GLOBALS_REF = 2;
/** `lua_sethook`'s count event. */
const MASK_COUNT = 8;

/** A JS function Lua calls: it reads its arguments from the stack and returns how many results
 * it pushed. */
export type LuaFunction = (vm: LuaVm) => number;

/** Thrown out of a `LuaFunction` to raise a Lua error with this value (a string). */
export class LuaRaise {
  constructor(readonly message: string) {}
}

/**
 * Thrown out of a hook check or a `LuaFunction` to raise an error as Redis raises a reply error
 * (`{err = text}`), which `call` and `resume` report as `text NUL line`: the line the hook stopped
 * at, or that of the Lua code that called the function.
 */
export class LuaRaiseReply {
  constructor(readonly text: string) {}
}

/** What a hook check asks for: nothing, or that the coroutine yield (when it can). */
export type HookRequest = void | "yield";

/** How `resume` ended: the function returned (its first result on the stack), it was suspended
 * by the hook, or it failed (the error's text; the coroutine is reset). */
export type ResumeResult = { done: true } | { yielded: true } | { error: string };

let shared: Promise<LuaWasm> | undefined;

/** One Lua state with binary-safe stack helpers. */
export class LuaVm {
  /** The state the API calls act on: the main state, or the coroutine while it runs. */
  L: number;
  readonly #main: number;
  /** The coroutine scripts run on, so that the hook can suspend one (replaced after an error). */
  #thread = 0;
  #threadRef = 0;
  /** Four bytes for lua_resume's result count. */
  readonly #resultsSlot: number;
  readonly #m: Raw;
  readonly #lua: LuaWasm;
  /** A scratch buffer in the module's memory for strings going in (grown as needed). */
  #buffer = 0;
  #bufferSize = 0;
  /** Four bytes for out-parameters (string lengths). */
  readonly #lengthSlot: number;
  readonly #names = new Map<string, number>();
  /** Keeps the function table's entries alive: wasm may not collect them. */
  readonly #functions: number[] = [];
  #hook = 0;
  #hookCheck: (() => HookRequest) | null = null;

  private constructor(lua: LuaWasm) {
    this.#lua = lua;
    this.#m = lua.module;
    this.L = this.#main = lua.luaL_newstate();
    lua.luaL_openlibs(this.L);
    this.#lengthSlot = this.#m._malloc(8);
    this.#resultsSlot = this.#m._malloc(4);
    this.#newThread();
  }

  /** A fresh coroutine (the registry keeps it alive), the old one left to the collector. */
  #newThread(): void {
    const main = this.#main;
    if (this.#threadRef !== 0) this.#m._luaL_unref(main, REGISTRY_INDEX, this.#threadRef);
    // It takes the main state's hook as it is now.
    this.#thread = this.#m._lua_newthread(main);
    this.#threadRef = this.#m._luaL_ref(main, REGISTRY_INDEX);
  }

  /** Makes the API act on the coroutine (to push a function and its arguments, read results). */
  enterCoroutine(): void {
    this.L = this.#thread;
  }

  /** Makes the API act on the main state again. */
  leaveCoroutine(): void {
    this.L = this.#main;
  }

  /**
   * Starts the function under `args` arguments on the coroutine's stack, or continues it after a
   * yield (`args` 0). Done: the stack holds exactly its first result (nil when none).
   */
  resume(args: number): ResumeResult {
    const thread = this.#thread;
    this.L = thread;
    const status = this.#m._lua_resume(thread, this.#main, args, this.#resultsSlot);
    this.L = thread;
    if (status === 1) return { yielded: true };
    if (status === 0) {
      // A finished coroutine's stack holds its results alone: keep the first, as a call for one
      // result would.
      if (this.#m.HEAP32[this.#resultsSlot >> 2] === 0) this.pushNil();
      else this.#m._lua_settop(thread, 1);
      return { done: true };
    }
    const message = this.#errorText(-1);
    // Not reset but replaced: an error raised from the hook leaves hooks off on its state.
    this.L = this.#main;
    this.#newThread();
    return { error: message };
  }

  /** Loads the WebAssembly module (once per process) and opens a state with the standard
   * libraries. */
  static async open(): Promise<LuaVm> {
    shared ??= new LuaFactory().getLuaModule();
    return new LuaVm(await shared);
  }

  /** A NUL-terminated C string that lives as long as the VM (names of globals and fields). */
  name(text: string): number {
    let pointer = this.#names.get(text);
    if (pointer === undefined) {
      pointer = this.#m.stringToNewUTF8(text) as number;
      this.#names.set(text, pointer);
    }
    return pointer;
  }

  #reserve(size: number): number {
    if (size > this.#bufferSize) {
      if (this.#buffer !== 0) this.#m._free(this.#buffer);
      this.#bufferSize = Math.max(size, this.#bufferSize * 2, 256);
      this.#buffer = this.#m._malloc(this.#bufferSize);
      if (this.#buffer === 0) throw new Error("the Lua VM is out of memory");
    }
    return this.#buffer;
  }

  /** Pushes `text` (one character per byte) as a Lua string. */
  pushString(text: string): void {
    const length = text.length;
    const pointer = this.#reserve(length + 1);
    const heap: Uint8Array = this.#m.HEAPU8;
    for (let i = 0; i < length; i++) heap[pointer + i] = text.charCodeAt(i);
    this.#m._lua_pushlstring(this.L, pointer, length);
  }

  /** Pushes an integer as a Lua integer (through its digits: 64-bit values cannot cross the
   * module's C API as numbers). */
  pushInteger(value: number | bigint): void {
    const digits = typeof value === "bigint" ? value.toString() : String(Math.trunc(value));
    const pointer = this.#reserve(digits.length + 1);
    const heap: Uint8Array = this.#m.HEAPU8;
    for (let i = 0; i < digits.length; i++) heap[pointer + i] = digits.charCodeAt(i);
    heap[pointer + digits.length] = 0;
    if (this.#m._lua_stringtonumber(this.L, pointer) === 0) this.pushNumber(Number(value));
  }

  pushNumber(value: number): void {
    this.#m._lua_pushnumber(this.L, value);
  }

  pushBoolean(value: boolean): void {
    this.#m._lua_pushboolean(this.L, value ? 1 : 0);
  }

  pushNil(): void {
    this.#m._lua_pushnil(this.L);
  }

  newTable(arrayItems = 0, fields = 0): void {
    this.#m._lua_createtable(this.L, arrayItems, fields);
  }

  /** `t[i] = v` for the table at `table` and the value on top (popped). */
  setIndex(table: number, i: number): void {
    this.#m._lua_rawseti(this.L, table, BigInt(i)); // lua_Integer: i64, a BigInt
  }

  /** `t.name = v` for the table at `table` and the value on top (popped). */
  setField(table: number, name: string): void {
    this.#m._lua_setfield(this.L, table, this.name(name));
  }

  /** Pushes `t.name` of the table at `table`; returns its type. */
  getField(table: number, name: string): number {
    return this.#m._lua_getfield(this.L, table, this.name(name));
  }

  /** `t.name` of the table at `table` when it is a string (or a number, as text), else null;
   * leaves the stack as it was. */
  stringField(table: number, name: string): string | null {
    const type = this.getField(table, name);
    const text = type === LuaType.STRING || type === LuaType.NUMBER ? this.toString(-1) : null;
    this.setTop(-2);
    return text;
  }

  /** Pushes `t[i]` (raw) of the table at `table`; returns its type. */
  getIndex(table: number, i: number): number {
    return this.#m._lua_rawgeti(this.L, table, BigInt(i));
  }

  /** `t[k] = v` (raw) for the table at `table`, the key below the value on top (both popped). */
  setRaw(table: number): void {
    this.#m._lua_rawset(this.L, table);
  }

  rawEqual(a: number, b: number): boolean {
    return this.#m._lua_rawequal(this.L, a, b) !== 0;
  }

  /** `toString` of a copy: reading a number key in place would turn it into a string. */
  toStringCopy(index: number): string {
    this.#m._lua_pushvalue(this.L, index);
    const text = this.toString(-1);
    this.#m._lua_settop(this.L, -2);
    return text;
  }

  setGlobal(name: string): void {
    this.#m._lua_setglobal(this.L, this.name(name));
  }

  /** `_G[name] = v` for the value on top (popped), past the sandbox's `__newindex`. */
  rawSetGlobal(name: string): void {
    this.#m._lua_rawgeti(this.L, REGISTRY_INDEX, BigInt(GLOBALS_REF));
    this.pushString(name);
    this.#m._lua_pushvalue(this.L, -3);
    this.#m._lua_rawset(this.L, -3);
    this.#m._lua_settop(this.L, -3);
  }

  getGlobal(name: string): number {
    return this.#m._lua_getglobal(this.L, this.name(name));
  }

  /** The bytes of the string (or number) at `index`, one character per byte. */
  toString(index: number): string {
    const pointer = this.#m._lua_tolstring(this.L, index, this.#lengthSlot);
    if (pointer === 0) return "";
    const heap: Uint8Array = this.#m.HEAPU8;
    const length = this.#m.HEAPU32[this.#lengthSlot >> 2];
    let text = "";
    // Chunks keep fromCharCode's argument count bounded for long values.
    for (let at = 0; at < length; at += 8192) {
      const end = Math.min(length, at + 8192);
      text += String.fromCharCode.apply(null, heap.subarray(pointer + at, pointer + end) as never);
    }
    return text;
  }

  type(index: number): number {
    return this.#m._lua_type(this.L, index);
  }

  isInteger(index: number): boolean {
    return this.#m._lua_isinteger(this.L, index) !== 0;
  }

  toNumber(index: number): number {
    return this.#m._lua_tonumberx(this.L, index, 0);
  }

  toBoolean(index: number): boolean {
    return this.#m._lua_toboolean(this.L, index) !== 0;
  }

  /** The raw length of the table or string at `index` (`#t` without metamethods). */
  rawLength(index: number): number {
    return Number(this.#m._lua_rawlen(this.L, index)); // lua_Unsigned: a BigInt
  }

  /** Table traversal: pops a key, pushes the next key and value; false at the end. */
  next(table: number): boolean {
    return this.#m._lua_next(this.L, table) !== 0;
  }

  top(): number {
    return this.#m._lua_gettop(this.L);
  }

  setTop(index: number): void {
    this.#m._lua_settop(this.L, index);
  }

  pushValue(index: number): void {
    this.#m._lua_pushvalue(this.L, index);
  }

  checkStack(extra: number): boolean {
    return this.#m._lua_checkstack(this.L, extra) !== 0;
  }

  /** Pushes a JS function as a Lua C function. A `LuaRaise` it throws becomes a Lua error; any
   * other exception too (its message), so a bug never unwinds through the interpreter. */
  pushFunction(fn: LuaFunction): void {
    const pointer = this.#m.addFunction((state: number) => {
      // Called from the main state or the coroutine: its arguments are on that state's stack.
      this.L = state;
      try {
        return fn(this);
      } catch (error) {
        if (error instanceof LuaRaiseReply) {
          this.#pushReplyError(state, error.text, 1); // the line of the Lua code that called
          return this.#m._lua_error(state);
        }
        const message = error instanceof LuaRaise
          ? error.message
          : `internal error: ${error instanceof Error ? error.message : String(error)}`;
        this.pushString(message);
        return this.#m._lua_error(state);
      }
    }, "ii") as number;
    this.#functions.push(pointer);
    this.#m._lua_pushcclosure(this.L, pointer, 0);
  }

  /** Compiles `source` as a chunk named `name`; pushes the function and returns null, or returns
   * the compile error (nothing pushed). */
  load(source: string, name: string): string | null {
    const length = source.length;
    // The source needs its own buffer: the chunk name and the scratch buffer must not overlap.
    const pointer = this.#m._malloc(length + 1);
    const heap: Uint8Array = this.#m.HEAPU8;
    for (let i = 0; i < length; i++) heap[pointer + i] = source.charCodeAt(i);
    const status = this.#m._luaL_loadbufferx(this.L, pointer, length, this.name(name), 0);
    this.#m._free(pointer);
    if (status === 0) return null;
    const message = this.toString(-1);
    this.setTop(-2);
    return message;
  }

  /** Calls the function below `args` arguments in protected mode; returns null with the results
   * pushed, or the error value's text. */
  call(args: number, results = LUA_MULTRET): string | null {
    const status = this.#m._lua_pcallk(this.L, args, results, 0, 0, 0);
    if (status === 0) return null;
    const message = this.#errorText(-1);
    this.setTop(-2);
    return message;
  }

  /** The text of the error value at `index`. */
  #errorText(index: number): string {
    return this.type(index) === LuaType.STRING || this.type(index) === LuaType.NUMBER
      ? this.toString(index)
      : this.errorObject(index);
  }

  /** The text of an error value that is a table (`{err = ...}`), as Redis raises them. */
  private errorObject(index: number): string {
    if (this.type(index) !== LuaType.TABLE) return "(error object is not a string)";
    const text = this.stringField(index, "err") ?? "(error object is a table)";
    // Where the script raised it (`redis.call` records the line), after a NUL.
    return `${text}\0${this.stringField(index, "line") ?? "0"}`;
  }

  /** Stores the value on top (popped) in the registry; returns its reference. */
  ref(): number {
    return this.#m._luaL_ref(this.L, REGISTRY_INDEX);
  }

  /** Pushes the registry value `ref`. */
  pushRef(ref: number): void {
    this.#m._lua_rawgeti(this.L, REGISTRY_INDEX, BigInt(ref));
  }

  unref(ref: number): void {
    this.#m._luaL_unref(this.L, REGISTRY_INDEX, ref);
  }

  /**
   * Runs `check` every `instructions` VM instructions while set, on the main state and on the
   * coroutine. A `LuaRaise` it throws stops the running code with that error, a `LuaRaiseReply`
   * with a reply error at the current line; "yield" suspends the coroutine (`resume` returns
   * `yielded`) where it can yield (not inside a C call such as a `table.sort` comparator, nor in
   * a coroutine the script made: then it is asked again at the next count). Null removes the hook.
   */
  setHook(check: (() => HookRequest) | null, instructions = 100_000): void {
    this.#hookCheck = check;
    for (const state of [this.#main, this.#thread]) {
      if (check === null) {
        this.#m._lua_sethook(state, 0, 0, 0);
        continue;
      }
      if (this.#hook === 0) {
        this.#hook = this.#m.addFunction((at: number, _debug: number) => {
          this.L = at;
          let request: HookRequest;
          try {
            request = this.#hookCheck?.();
          } catch (error) {
            if (error instanceof LuaRaiseReply) this.#pushReplyError(at, error.text, 0);
            else this.pushString(error instanceof LuaRaise ? error.message : String(error));
            this.#m._lua_error(at);
            return;
          }
          // From a count hook in Lua code a yield returns here; Lua suspends once we return.
          // Only the script's own coroutine yields to us: one the script made (coroutine.wrap)
          // would hand the yield to the script as a return.
          if (request === "yield" && at === this.#thread && this.#m._lua_isyieldable(at) !== 0) {
            this.#m._lua_yieldk(at, 0, 0, 0);
          }
        }, "vii") as number;
      }
      this.#m._lua_sethook(state, this.#hook, MASK_COUNT, instructions);
    }
  }

  /** Pushes `{err = text, line = N}`: N is the current line of the function `level` up the
   * stack (0: the running Lua function, in a hook; 1: a C function's caller). */
  #pushReplyError(state: number, text: string, level: number): void {
    this.#m._luaL_where(state, level); // "user_script:7: "
    const where = /:(\d+): $/.exec(this.toString(-1));
    this.setTop(-2);
    this.newTable(0, 2);
    this.pushString(text);
    this.setField(-2, "err");
    this.pushString(where?.[1] ?? "0");
    this.setField(-2, "line");
  }

  /** Runs Lua source that defines things (the prelude); throws on a compile or run error. */
  run(source: string, name = "=prelude"): void {
    const error = this.load(source, name) ?? this.call(0, 0);
    if (error !== null) throw new Error(`Lua: ${error}`);
  }
}
