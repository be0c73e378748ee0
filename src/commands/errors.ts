/**
 * Redis's error texts, in one place, so every front door answers with the same words.
 *
 * @module
 */

export const WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value";
export const NOT_INTEGER = "ERR value is not an integer or out of range";
export const NOT_FLOAT = "ERR value is not a valid float";
export const SYNTAX = "ERR syntax error";
export const OVERFLOW = "ERR increment or decrement would overflow";
export const DB_OUT_OF_RANGE = "ERR DB index is out of range";
export const NOAUTH = "NOAUTH Authentication required.";
export const OOM = "OOM command not allowed when used memory > 'maxmemory'.";
export const NO_SUCH_KEY = "ERR no such key";

export function wrongArity(name: string): string {
  return `ERR wrong number of arguments for '${name}' command`;
}

export function invalidExpire(name: string): string {
  return `ERR invalid expire time in '${name}' command`;
}

/** Redis quotes at most 128 bytes of the name and of each argument. */
export function unknownCommand(argv: readonly string[]): string {
  const args = argv.slice(1).map((arg) => `'${arg.slice(0, 128)}' `).join("");
  return `ERR unknown command '${argv[0].slice(0, 128)}', with args beginning with: ${args}`;
}

export function unknownSubcommand(argv: readonly string[]): string {
  return `ERR unknown subcommand '${argv[1]?.slice(0, 128)}'. Try ${argv[0].toUpperCase()} HELP.`;
}

/** A reply error thrown from deep inside a handler, turned into `-text` by the dispatcher. */
export class ReplyError extends Error {
  override name = "ReplyError";
}

/** What every other command gets while a script (or a function) runs past busy-reply-threshold. */
export function busyError(kind: "script" | "function"): string {
  const kill = kind === "function" ? "FUNCTION KILL" : "SCRIPT KILL";
  return `BUSY Redis is busy running a script. You can only call ${kill} or SHUTDOWN NOSAVE.`;
}
