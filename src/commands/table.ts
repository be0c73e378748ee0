/**
 * The command table: every command declared once, looked up by name in any letter case.
 *
 * @module
 */
import { dumpCommands } from "./dump.ts";
import { hashCommands } from "./hash.ts";
import { hyperloglogCommands } from "./hyperloglog.ts";
import { keyCommands } from "./keys.ts";
import { sortCommands } from "./sort.ts";
import { debugCommands } from "./debug.ts";
import { listCommands } from "./list.ts";
import { persistenceCommands } from "./persistence.ts";
import { transactionCommands } from "./transactions.ts";
import { connectionCommands } from "./connection.ts";
import { pubsubCommands } from "./pubsub.ts";
import { bitmapCommands } from "./bitmap.ts";
import { blockingCommands } from "./blocking.ts";
import { clusterCommands } from "./cluster.ts";
import { serverCommands } from "./server.ts";
import { setCommands } from "./set.ts";
import { stringCommands } from "./strings.ts";
import { streamCommands } from "./stream.ts";
import type { CommandSpec } from "./types.ts";
import { zsetCommands } from "./zset.ts";
import { scriptingCommands } from "./scripting.ts";

export class CommandTable {
  readonly specs: CommandSpec[];
  private readonly byName = new Map<string, CommandSpec>();

  constructor(specs: CommandSpec[]) {
    this.specs = specs;
    for (const spec of specs) {
      if (this.byName.has(spec.name)) throw new Error(`command '${spec.name}' is declared twice`);
      // Clients send upper or lower case; both are stored so the hot path skips toLowerCase.
      this.byName.set(spec.name, spec);
      this.byName.set(spec.name.toUpperCase(), spec);
    }
  }

  lookup(name: string): CommandSpec | undefined {
    return this.byName.get(name) ?? this.byName.get(name.toLowerCase());
  }
}

/** The table of every command HyperCache serves. */
export function createCommandTable(): CommandTable {
  const table: CommandTable = new CommandTable([
    ...stringCommands,
    ...bitmapCommands,
    ...keyCommands,
    ...sortCommands,
    ...dumpCommands,
    ...hashCommands,
    ...listCommands,
    ...setCommands,
    ...zsetCommands,
    ...hyperloglogCommands,
    ...streamCommands,
    ...serverCommands(() => table),
    ...debugCommands,
    ...persistenceCommands,
    ...transactionCommands,
    ...connectionCommands,
    ...pubsubCommands,
    ...blockingCommands,
    ...clusterCommands,
    ...scriptingCommands,
  ]);
  return table;
}
