/**
 * Lua scripting commands: EVAL, EVALSHA, their read-only forms, and SCRIPT. The engine lives in
 * `src/scripting/`; a node without it (an embedded keyspace) answers that scripting is off.
 *
 * @module
 */
import { ReplyError, unknownSubcommand } from "./errors.ts";
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
    engine.kill();
    ctx.out.ok();
  } else {
    throw new ReplyError(unknownSubcommand(argv));
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
];
