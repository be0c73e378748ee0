/**
 * Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH. The dispatcher queues commands while MULTI
 * is open and runs them back to back on EXEC.
 *
 * @module
 */
import { command, type CommandSpec } from "./types.ts";

const flags = ["noscript", "loading", "stale", "fast"] as const;

export const transactionCommands: CommandSpec[] = [
  command({
    name: "multi",
    notQueued: true,
    needsConnection: true,
    arity: 1,
    flags: [...flags, "no_multi", "allow_busy"],
    group: "transactions",
    summary: "Starts a transaction.",
    handler: (ctx) => ctx.transaction.begin(),
  }),
  command({
    name: "exec",
    notQueued: true,
    needsConnection: true,
    arity: 1,
    flags: ["noscript", "loading", "stale"],
    group: "transactions",
    summary: "Executes all commands in a transaction.",
    handler: (ctx) => ctx.transaction.exec(),
  }),
  command({
    name: "discard",
    notQueued: true,
    needsConnection: true,
    arity: 1,
    flags: [...flags, "allow_busy"],
    group: "transactions",
    summary: "Discards a transaction.",
    handler: (ctx) => ctx.transaction.discard(),
  }),
  command({
    name: "watch",
    notQueued: true,
    needsConnection: true,
    arity: -2,
    flags: [...flags, "no_multi", "allow_busy"],
    firstKey: 1,
    lastKey: -1,
    step: 1,
    group: "transactions",
    summary: "Monitors changes to keys to determine the execution of a transaction.",
    handler: (ctx, argv) => ctx.transaction.watch(argv.slice(1)),
  }),
  command({
    name: "unwatch",
    needsConnection: true,
    arity: 1,
    flags: [...flags, "allow_busy"],
    group: "transactions",
    summary: "Forgets about watched keys of a transaction.",
    handler: (ctx) => ctx.transaction.unwatch(),
  }),
];
