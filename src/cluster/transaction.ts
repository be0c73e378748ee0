/**
 * A plain client's MULTI/EXEC whose keys live on another node: the queued commands travel to the
 * owner together and run there as one EXEC, refused whole (`-MOVED`, `-TRYAGAIN`, ...) when a key
 * is not served there any more, as Redis Cluster refuses an EXEC, never run in part.
 *
 * @module
 */
import type { ClientState, DeferredReply } from "../commands/types.ts";
import { allDone, type HttpExecutor, whenDone } from "../http/executor.ts";

/** Redis's reply to EXEC after a command failed to queue. */
export const EXECABORT = "-EXECABORT Transaction discarded because of previous errors.\r\n";

/**
 * Runs `commands` as one transaction for `client` and returns EXEC's reply text. Where their
 * keys are on another node, `forward` sends the whole transaction there (completing `reply`
 * itself, and this returns null); without it such a transaction is refused with `-TRYAGAIN`.
 */
export function runTransaction(
  executor: HttpExecutor,
  client: ClientState,
  commands: string[][],
  forward?: (node: string) => void,
): string | Promise<string> | null {
  for (const argv of commands) {
    if (executor.check(client, argv) !== null) return EXECABORT;
  }
  const route = executor.dispatcher.routeTransaction(client, commands);
  if (route.kind === "redirect") return `-${route.error}\r\n`;
  if (route.kind === "forward") {
    if (forward === undefined) return "-TRYAGAIN the transaction's keys moved\r\n";
    forward(route.node);
    return null;
  }
  const texts = executor.dispatcher.atomically(() =>
    commands.map((argv) => executor.runText(client, argv))
  );
  return whenDone(allDone(texts), (all) => `*${all.length}\r\n${all.join("")}`);
}

/** Completes `reply` with `text` (now or once it settles). */
export function completeWith(reply: DeferredReply, text: string | Promise<string>): void {
  if (typeof text === "string") reply.complete((out) => out.rawText(text));
  else text.then((later) => reply.complete((out) => out.rawText(later)));
}
