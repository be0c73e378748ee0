/**
 * Runs commands from any front door (RESP, HTTP, AOF replay) through the one table: lookup,
 * arity, authentication, memory limits, the handler, and propagation of writes.
 *
 * @module
 */
import type { Keyspace } from "../keyspace/keyspace.ts";
import type { ReplyWriter } from "../resp/writer.ts";
import { NOAUTH, OOM, ReplyError, unknownCommand, wrongArity } from "./errors.ts";
import type { CommandTable } from "./table.ts";
import type { ClientState, CommandContext, CommandSpec, ServerHooks, UserRole } from "./types.ts";

/** Counters for INFO stats. */
export interface DispatchStats {
  commandsProcessed: number;
  /** Calls and errors per command name. */
  perCommand: Map<string, { calls: number; errors: number }>;
  errorReplies: number;
}

/** Receives every write that changed data, in execution order, as the argv to log. */
export type PropagateHook = (db: number, argv: string[]) => void;

/** Whether a role may run a command: readonly users only read; only admins run admin commands. */
export function permitted(spec: CommandSpec, role: UserRole): boolean {
  if (spec.flags.includes("admin")) return role === "admin";
  if (role === "readonly") return !spec.flags.includes("write");
  return true;
}

class Context implements CommandContext {
  propagated: string[] | null = null;
  constructor(
    readonly keyspace: Keyspace,
    public store: CommandContext["store"],
    readonly client: ClientState,
    readonly out: ReplyWriter,
    readonly server: ServerHooks,
  ) {}

  propagate(argv: string[]): void {
    this.propagated = argv;
  }
}

export class Dispatcher {
  readonly stats: DispatchStats = { commandsProcessed: 0, perCommand: new Map(), errorReplies: 0 };
  onPropagate: PropagateHook | null = null;
  /** When it returns an error text, write commands are refused with it (persistence failing). */
  writeGate: (() => string | null) | null = null;
  private readonly contexts = new WeakMap<ClientState, Context>();

  constructor(
    readonly table: CommandTable,
    readonly keyspace: Keyspace,
    readonly server: ServerHooks,
  ) {}

  private context(client: ClientState, out: ReplyWriter): Context {
    let ctx = this.contexts.get(client);
    if (ctx === undefined || ctx.out !== out) {
      ctx = new Context(this.keyspace, this.keyspace.store(client.db), client, out, this.server);
      this.contexts.set(client, ctx);
    }
    ctx.store = this.keyspace.store(client.db);
    return ctx;
  }

  /** Checks that let a command run; returns the error text, or null. */
  check(spec: CommandSpec | undefined, argv: string[], client: ClientState): string | null {
    if (spec === undefined) return client.authenticated ? unknownCommand(argv) : NOAUTH;
    if (!client.authenticated && !spec.flags.includes("noauth")) return NOAUTH;
    if (spec.arity > 0 ? argv.length !== spec.arity : argv.length < -spec.arity) {
      return wrongArity(spec.name);
    }
    if (client.role !== "admin" && !permitted(spec, client.role)) {
      return `NOPERM User ${client.user} has no permissions to run the '${spec.name}' command`;
    }
    return null;
  }

  /** Runs one command and writes its reply to `out`. */
  execute(client: ClientState, out: ReplyWriter, argv: string[]): void {
    const spec = this.table.lookup(argv[0]);
    out.protocol = client.protocol;
    this.stats.commandsProcessed++;
    const failure = this.check(spec, argv, client);
    if (failure !== null) {
      this.stats.errorReplies++;
      out.error(failure);
      return;
    }
    this.run(spec!, client, out, argv);
  }

  /** Runs a command that passed `check`. */
  run(spec: CommandSpec, client: ClientState, out: ReplyWriter, argv: string[]): void {
    const ctx = this.context(client, out);
    const store = ctx.store;
    const isWrite = spec.flags.includes("write");
    if (isWrite && this.writeGate !== null) {
      const refusal = this.writeGate();
      if (refusal !== null) {
        this.countCall(spec, true);
        out.error(refusal);
        return;
      }
    }
    if (spec.flags.includes("denyoom") && !store.ensureMemory()) {
      this.countCall(spec, true);
      out.error(OOM);
      return;
    }
    const dirtyBefore = isWrite ? this.dirtyTotal() : 0;
    ctx.propagated = null;
    client.lastCommand = spec.name;
    let failed = false;
    try {
      spec.handler(ctx, argv);
    } catch (error) {
      if (!(error instanceof ReplyError)) throw error;
      failed = true;
      out.error(error.message);
    }
    this.countCall(spec, failed);
    if (isWrite && this.onPropagate !== null && this.dirtyTotal() !== dirtyBefore) {
      this.onPropagate(store.index, ctx.propagated ?? argv);
    }
  }

  private dirtyTotal(): number {
    let total = 0;
    for (const store of this.keyspace.stores) total += store.dirty;
    return total;
  }

  private countCall(spec: CommandSpec, failed: boolean): void {
    let counters = this.stats.perCommand.get(spec.name);
    if (counters === undefined) {
      counters = { calls: 0, errors: 0 };
      this.stats.perCommand.set(spec.name, counters);
    }
    counters.calls++;
    if (failed) {
      counters.errors++;
      this.stats.errorReplies++;
    }
  }
}
