/**
 * Lua scripting commands: EVAL, EVALSHA, their read-only forms, SCRIPT, and Redis 7 functions
 * (FUNCTION, FCALL, FCALL_RO). The engine lives in
 * `src/scripting/`; a node without it (an embedded keyspace) answers that scripting is off.
 *
 * @module
 */
import { ReplyError, unknownSubcommand } from "./errors.ts";
import { globMatch } from "./glob.ts";
import {
  type CommandContext,
  type CommandSpec,
  familySpec,
  type KeyFinder,
  numkeysAt,
  subcommandSpecs,
} from "./types.ts";
import type { ScriptEngine } from "../scripting/engine.ts";

function engineOf(ctx: CommandContext): ScriptEngine {
  const engine = ctx.server.scripting;
  if (engine === undefined) throw new ReplyError("ERR scripting is not available on this node");
  return engine;
}

const evaluate = (bySha: boolean, readOnly: boolean) => (ctx: CommandContext, argv: string[]) =>
  engineOf(ctx).eval(ctx, argv, bySha, readOnly);

function script(ctx: CommandContext, argv: string[]): void {
  const engine = engineOf(ctx);
  const sub = argv[1].toLowerCase();
  if (sub === "load" && argv.length === 3) {
    ctx.out.bulk(engine.load(argv[2]));
  } else if (sub === "exists" && argv.length >= 3) {
    ctx.out.arrayHeader(argv.length - 2);
    for (const sha of argv.slice(2)) ctx.out.integer(engine.exists(sha) ? 1 : 0);
  } else if (sub === "flush" && argv.length <= 3) {
    if (argv.length === 3 && !/^(ASYNC|SYNC)$/i.test(argv[2])) {
      throw new ReplyError("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
    }
    engine.flush();
    ctx.out.ok();
  } else if (sub === "kill" && argv.length === 2) {
    engine.kill("script");
    ctx.out.ok();
  } else {
    throw new ReplyError(unknownSubcommand(argv));
  }
}

/** FUNCTION LOAD | LIST | DELETE | FLUSH | DUMP | RESTORE | STATS | KILL. A change is answered
 * once it is durable (the libraries' file written), where the client can wait. */
function functionCommand(ctx: CommandContext, argv: string[]): void {
  const engine = engineOf(ctx);
  engine.takeSaved();
  const mark = ctx.out.size;
  functionSubcommand(ctx, engine, argv);
  const saved = engine.takeSaved();
  // Inside EXEC the reply is part of EXEC's, written now.
  if (saved === null || ctx.client.defer === undefined || ctx.transaction.executing) return;
  // Taken out before `defer`, which sends what the writer holds for the commands before it.
  const text = ctx.out.cut(mark);
  const reply = ctx.client.defer();
  if (reply === undefined) {
    ctx.out.rawText(text);
    return;
  }
  saved.then(() => reply.complete((out) => out.rawText(text)));
}

function functionSubcommand(ctx: CommandContext, engine: ScriptEngine, argv: string[]): void {
  const out = ctx.out;
  const sub = argv[1].toLowerCase();
  if (sub === "load") {
    const replace = argv.length === 4 && argv[2].toUpperCase() === "REPLACE";
    if (argv.length !== 3 && !replace) {
      throw new ReplyError(`ERR Unknown option given: ${argv[2]}`);
    }
    out.bulk(engine.loadLibrary(argv[argv.length - 1], replace));
  } else if (sub === "delete" && argv.length === 3) {
    engine.deleteLibrary(argv[2]);
    out.ok();
  } else if (sub === "flush" && argv.length <= 3) {
    if (argv.length === 3 && !/^(ASYNC|SYNC)$/i.test(argv[2])) {
      throw new ReplyError("ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
    }
    engine.flushLibraries();
    out.ok();
  } else if (sub === "list") {
    listFunctions(ctx, engine, argv);
  } else if (sub === "dump" && argv.length === 2) {
    out.bulk(engine.dumpLibraries());
  } else if (sub === "restore" && (argv.length === 3 || argv.length === 4)) {
    const policy = (argv[3] ?? "APPEND").toUpperCase();
    if (policy !== "APPEND" && policy !== "REPLACE" && policy !== "FLUSH") {
      throw new ReplyError(
        "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
      );
    }
    engine.restoreLibraries(argv[2], policy);
    out.ok();
  } else if (sub === "stats" && argv.length === 2) {
    const running = engine.running();
    out.mapHeader(2);
    out.bulk("running_script");
    if (running === null || running.name === "") out.nullReply();
    else {
      out.mapHeader(3);
      out.bulk("name");
      out.bulk(running.name);
      out.bulk("command");
      out.bulkArray(running.argv);
      out.bulk("duration_ms");
      out.integer(running.durationMs);
    }
    out.bulk("engines");
    out.mapHeader(1);
    out.bulk("LUA");
    out.mapHeader(2);
    out.bulk("libraries_count");
    out.integer(engine.counts.libraries);
    out.bulk("functions_count");
    out.integer(engine.counts.functions);
  } else if (sub === "kill" && argv.length === 2) {
    engine.kill("function");
    out.ok();
  } else {
    throw new ReplyError(unknownSubcommand(argv));
  }
}

/** FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE]. */
function listFunctions(ctx: CommandContext, engine: ScriptEngine, argv: string[]): void {
  let pattern: string | null = null;
  let withCode = false;
  for (let i = 2; i < argv.length; i++) {
    const option = argv[i].toUpperCase();
    if (option === "WITHCODE" && !withCode) withCode = true;
    else if (option === "LIBRARYNAME" && pattern === null) {
      if (i + 1 >= argv.length) throw new ReplyError("ERR library name argument was not given");
      pattern = argv[++i];
    } else throw new ReplyError(`ERR Unknown argument ${argv[i]}`);
  }
  const out = ctx.out;
  const libraries = engine.libraries((name) => pattern === null || globMatch(pattern, name));
  out.arrayHeader(libraries.length);
  for (const library of libraries) {
    out.mapHeader(withCode ? 4 : 3);
    out.bulk("library_name");
    out.bulk(library.name);
    out.bulk("engine");
    out.bulk("LUA");
    out.bulk("functions");
    out.arrayHeader(library.functions.length);
    for (const fn of library.functions) {
      out.mapHeader(3);
      out.bulk("name");
      out.bulk(fn.name);
      out.bulk("description");
      out.bulk(fn.description);
      out.bulk("flags");
      out.setHeader(fn.flags.length);
      for (const flag of fn.flags) out.bulk(flag);
    }
    if (withCode) {
      out.bulk("library_code");
      out.bulk(library.code);
    }
  }
}

const spec = familySpec("scripting");
const EVAL_FLAGS = ["noscript", "stale", "no_mandatory_keys"] as const;

/**
 * EVAL's keys: `numkeys key [key ...]` at argv[2], where Redis finds none (rather than failing)
 * when numkeys is 0 or not a number, and fails when it names more keys than there are.
 */
const evalKeys: KeyFinder = Object.assign((argv: readonly string[]) => {
  const text = argv[2];
  if (text === undefined || !/^\d{1,10}$/.test(text) || Number(text) === 0) return [];
  return numkeysAt(2)(argv);
}, { keySpec: numkeysAt(2).keySpec });

function fcallSpec(name: string, readOnly: boolean): CommandSpec {
  const flags = readOnly ? [...EVAL_FLAGS, "readonly" as const] : [...EVAL_FLAGS];
  return {
    ...spec(
      name,
      -3,
      flags,
      [0, 0, 0],
      `Runs a function${readOnly ? " that does not write" : ""}.`,
      (ctx, argv) => engineOf(ctx).fcall(ctx, argv, readOnly),
    ),
    keyFinder: evalKeys,
    categories: ["slow", "scripting"],
  };
}

function evalSpec(name: string, bySha: boolean, readOnly: boolean): CommandSpec {
  const flags = readOnly ? [...EVAL_FLAGS, "readonly" as const] : [...EVAL_FLAGS];
  return {
    ...spec(
      name,
      -3,
      flags,
      [0, 0, 0],
      `Runs a Lua script${bySha ? " cached by its SHA-1" : ""}.`,
      evaluate(bySha, readOnly),
    ),
    keyFinder: evalKeys,
    // Redis gives the read-only forms no @read: what they read is up to the script.
    categories: ["slow", "scripting"],
  };
}

export const scriptingCommands: CommandSpec[] = [
  evalSpec("eval", false, false),
  evalSpec("evalsha", true, false),
  evalSpec("eval_ro", false, true),
  evalSpec("evalsha_ro", true, true),
  {
    ...spec("script", -2, ["noscript"], [0, 0, 0], "SCRIPT LOAD, EXISTS, FLUSH and KILL.", script),
    categories: ["slow"],
    subcommands: subcommandSpecs("script", "scripting", script, [
      ["load", 3, ["noscript", "stale"], ["slow", "scripting"]],
      ["exists", -3, ["noscript"], ["slow", "scripting"]],
      ["flush", -2, ["noscript"], ["slow", "scripting"]],
      ["kill", 2, ["noscript", "allow_busy"], ["slow", "scripting"]],
    ]),
  },
  fcallSpec("fcall", false),
  fcallSpec("fcall_ro", true),
  {
    ...spec("function", -2, [], [0, 0, 0], "Redis 7 function libraries.", functionCommand),
    categories: ["slow"],
    subcommands: subcommandSpecs("function", "scripting", functionCommand, [
      ["load", -3, ["write", "denyoom", "noscript"], ["write", "slow", "scripting"]],
      ["delete", 3, ["write", "noscript"], ["write", "slow", "scripting"]],
      ["flush", -2, ["write", "noscript"], ["write", "slow", "scripting"]],
      ["restore", -3, ["write", "denyoom", "noscript"], ["write", "slow", "scripting"]],
      ["list", -2, ["noscript"], ["slow", "scripting"]],
      ["dump", 2, ["noscript"], ["slow", "scripting"]],
      ["stats", 2, ["noscript", "allow_busy"], ["slow", "scripting"]],
      ["kill", 2, ["noscript", "allow_busy"], ["slow", "scripting"]],
    ]),
  },
];
