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

/** A table entry with its flags resolved once, so the hot path tests booleans. */
interface Compiled {
  spec: CommandSpec;
  write: boolean;
  denyoom: boolean;
  noauth: boolean;
  counters: { calls: number; errors: number };
}

export class Dispatcher {
  readonly stats: DispatchStats = { commandsProcessed: 0, perCommand: new Map(), errorReplies: 0 };
  onPropagate: PropagateHook | null = null;
  /** When it returns an error text, write commands are refused with it (persistence failing). */
  writeGate: (() => string | null) | null = null;
  private readonly contexts = new WeakMap<ClientState, Context>();
  private readonly compiled = new Map<string, Compiled>();
  private readonly bySpec = new Map<CommandSpec, Compiled>();

  constructor(
    readonly table: CommandTable,
    readonly keyspace: Keyspace,
    readonly server: ServerHooks,
  ) {
    for (const spec of table.specs) {
      const counters = { calls: 0, errors: 0 };
      this.stats.perCommand.set(spec.name, counters);
      const entry: Compiled = {
        spec,
        write: spec.flags.includes("write"),
        denyoom: spec.flags.includes("denyoom"),
        noauth: spec.flags.includes("noauth"),
        counters,
      };
      this.bySpec.set(spec, entry);
      // Clients send upper or lower case; both are keys so the hot path skips toLowerCase.
      this.compiled.set(spec.name, entry);
      this.compiled.set(spec.name.toUpperCase(), entry);
    }
  }

  private lookup(name: string): Compiled | undefined {
    return this.compiled.get(name) ?? this.compiled.get(name.toLowerCase());
  }

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
    const entry = spec === undefined ? undefined : this.bySpec.get(spec);
    return this.checkEntry(entry, argv, client);
  }

  private checkEntry(
    entry: Compiled | undefined,
    argv: string[],
    client: ClientState,
  ): string | null {
    if (entry === undefined) return client.authenticated ? unknownCommand(argv) : NOAUTH;
    if (!client.authenticated && !entry.noauth) return NOAUTH;
    const spec = entry.spec;
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
    const entry = this.lookup(argv[0]);
    out.protocol = client.protocol;
    this.stats.commandsProcessed++;
    const failure = this.checkEntry(entry, argv, client);
    if (failure !== null) {
      this.stats.errorReplies++;
      out.error(failure);
      return;
    }
    this.runEntry(entry!, client, out, argv);
  }

  /** Runs a command that passed `check`. */
  run(spec: CommandSpec, client: ClientState, out: ReplyWriter, argv: string[]): void {
    this.runEntry(this.bySpec.get(spec)!, client, out, argv);
  }

  private runEntry(entry: Compiled, client: ClientState, out: ReplyWriter, argv: string[]): void {
    const spec = entry.spec;
    const ctx = this.context(client, out);
    const store = ctx.store;
    const isWrite = entry.write;
    if (isWrite && this.writeGate !== null) {
      const refusal = this.writeGate();
      if (refusal !== null) {
        this.countCall(entry, true);
        out.error(refusal);
        return;
      }
    }
    if (entry.denyoom && !store.ensureMemory()) {
      this.countCall(entry, true);
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
    this.countCall(entry, failed);
    if (isWrite && this.onPropagate !== null && this.dirtyTotal() !== dirtyBefore) {
      this.onPropagate(store.index, ctx.propagated ?? argv);
    }
  }

  private dirtyTotal(): number {
    let total = 0;
    for (const store of this.keyspace.stores) total += store.dirty;
    return total;
  }

  private countCall(entry: Compiled, failed: boolean): void {
    entry.counters.calls++;
    if (failed) {
      entry.counters.errors++;
      this.stats.errorReplies++;
    }
  }
}
