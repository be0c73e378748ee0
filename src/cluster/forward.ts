/**
 * Forwarding: a plain client's command whose slot another node owns travels over the cluster bus
 * to the owner, runs there as a client of that node (same store, protocol and role), and the
 * reply's bytes come back and take the command's place in the client's reply order.
 *
 * Requests to one owner leave in order on one link and run in order there, so a pipeline of
 * writes and reads to one key keeps its meaning. A request whose owner fails (gossip), whose link
 * drops it, or that gets no reply within its deadline completes with `-TRYAGAIN`: the command may
 * or may not have run, as with any lost connection.
 *
 * @module
 */
import { decode as decodeCbor } from "cborg";
import type { Bus } from "../bus/bus.ts";
import { BusFrameType } from "../bus/frame_types.ts";
import type { ClientState, DeferredReply, UserRole } from "../commands/types.ts";
import type { HttpExecutor } from "../http/executor.ts";
import type { TimerHandle, Timers } from "../runtime/types.ts";
import type { ClusterClient } from "./router.ts";
import { runTransaction } from "./transaction.ts";

/**
 * A forwarded command: `[id, fromRaftId, db, protocol, role, argv, asking, transaction?]`.
 * Arguments and replies travel as CBOR text of their latin1 strings (one character per byte,
 * which UTF-8 carries exactly): one allocation per frame rather than one per argument; `asking` runs it as after ASKING (its slot is moving to the receiver). With
 * `transaction` (the commands queued between MULTI and EXEC), argv is `EXEC` and the receiver
 * runs them as one transaction.
 */
type RequestWire = [
  number,
  number,
  number,
  2 | 3,
  UserRole,
  string[],
  boolean,
  string[][]?,
];
/** Its reply: `[id, reply bytes]`. */
type ReplyWire = [number, string];

/** How often requests past their deadline are failed (a deadline is kept within this). */
const SWEEP_MS = 100;

/** Counters for INFO and /metrics. */
export interface ForwardStats {
  /** Commands this node forwarded to owners. */
  forwarded: number;
  /** Commands other nodes forwarded here. */
  served: number;
  /** Forwarded commands that failed (owner down, link lost, deadline). */
  failed: number;
  /** Forwarded commands waiting for their reply now. */
  pending: number;
}

interface Pending {
  owner: number;
  reply: DeferredReply;
  /** When it fails unanswered (monotonic ms); Infinity for a command that blocks forever. */
  deadline: number;
}

/** Sends commands to owners and serves the ones sent here. */
export class Forwarder {
  readonly stats: ForwardStats = { forwarded: 0, served: 0, failed: 0, pending: 0 };
  readonly #pending = new Map<number, Pending>();
  /** The interval that fails requests past their deadline, while any is pending. */
  #sweep: TimerHandle | undefined;
  #nextId = 1;

  constructor(
    private readonly bus: Bus,
    private readonly selfRaftId: number,
    private readonly executor: HttpExecutor,
    private readonly timers: Timers,
    private readonly now: () => number,
    /** Longest wait for a reply; blocking commands wait as long as they block, plus this. */
    private readonly timeoutMs: number,
  ) {
    bus.register<RequestWire>(BusFrameType.forwardRequest, {
      decode: decodeRequest,
      receive: (request) => this.#serve(request),
    });
    bus.register<ReplyWire>(BusFrameType.forwardReply, {
      decode: decodeReply,
      receive: ([id, text]) => this.#settle(id, text),
      undelivered: (peer) => this.failOwner(Number(peer), "the link to it dropped the request"),
    });
  }

  /** Runs `argv` on the node with Raft id `owner` for `client`; `reply` gets its reply. */
  forward(
    owner: number,
    client: ClientState,
    argv: string[],
    reply: DeferredReply,
    blockMs: number | null,
    asking = false,
    transaction?: string[][],
  ): void {
    const id = this.#nextId++;
    const wire: RequestWire = [
      id,
      this.selfRaftId,
      client.db,
      client.protocol,
      client.role,
      argv,
      asking,
    ];
    if (transaction !== undefined) wire.push(transaction);
    const sent = this.bus.send(owner, BusFrameType.forwardRequest, wire);
    this.stats.forwarded++;
    if (sent !== "queued") {
      this.stats.failed++;
      reply.complete((out) => out.error(`TRYAGAIN cannot reach the slot's owner (${sent})`));
      return;
    }
    // A blocking command with no timeout (0) waits as long as the owner holds it.
    // Deadlines are swept, not timed one by one: a timer per request cost more than the rest
    // of forwarding it on Deno.
    const deadline = blockMs === 0 ? Infinity : this.now() + (blockMs ?? 0) + this.timeoutMs;
    this.#pending.set(id, { owner, reply, deadline });
    this.#sweep ??= this.timers.setInterval(() => this.#expire(), SWEEP_MS);
    this.stats.pending = this.#pending.size;
  }

  /** Fails every request waiting on `owner` (it failed, or its link dropped them). */
  failOwner(owner: number, why: string): void {
    for (const [id, pending] of this.#pending) if (pending.owner === owner) this.#fail(id, why);
  }

  /** Fails everything pending (the node is stopping). */
  close(): void {
    for (const id of [...this.#pending.keys()]) this.#fail(id, "this node is stopping");
    this.bus.unregister([BusFrameType.forwardRequest, BusFrameType.forwardReply]);
  }

  #expire(): void {
    const now = this.now();
    for (const [id, pending] of this.#pending) {
      if (pending.deadline <= now) this.#fail(id, "no reply in time");
    }
  }

  #fail(id: number, why: string): void {
    const pending = this.#take(id);
    if (pending === undefined) return;
    this.stats.failed++;
    pending.reply.complete((out) => out.error(`TRYAGAIN forwarding to the slot's owner: ${why}`));
  }

  #settle(id: number, text: string): void {
    const pending = this.#take(id);
    pending?.reply.complete((out) => out.rawText(text));
  }

  #take(id: number): Pending | undefined {
    const pending = this.#pending.get(id);
    if (pending === undefined) return undefined;
    this.#pending.delete(id);
    if (this.#pending.size === 0 && this.#sweep !== undefined) {
      this.timers.clearInterval(this.#sweep);
      this.#sweep = undefined;
    }
    this.stats.pending = this.#pending.size;
    return pending;
  }

  #serve([id, from, db, protocol, role, args, asking, transaction]: RequestWire): void {
    this.stats.served++;
    const client = this.executor.client(role, db) as ClusterClient;
    client.protocol = protocol;
    // Routed again here by this node's map: if the slot moved meanwhile, the sender gets the
    // redirect rather than a second hop.
    client.clusterAware = true;
    client.forwarded = true;
    client.asking = asking;
    // A blocking command blocks here, on the key's owner; the sender waits as long.
    client.parkable = true;
    const answer = (text: string) => {
      this.bus.send(from, BusFrameType.forwardReply, [id, text]);
    };
    const text = transaction === undefined
      ? this.executor.runText(client, args)
      : runTransaction(this.executor, client, transaction)!;
    if (typeof text === "string") answer(text);
    else text.then(answer);
  }
}

/** A string of code units 0-255 (bytes); a peer's other text is refused, not mangled. */
function isLatin1(value: unknown): value is string {
  // deno-lint-ignore no-control-regex
  return typeof value === "string" && !/[^\u0000-\u00ff]/.test(value);
}

function decodeRequest(payload: Uint8Array): RequestWire {
  const value = decodeCbor(payload);
  const commands = (list: unknown) =>
    Array.isArray(list) && list.length > 0 && list.every((a: unknown) => isLatin1(a));
  if (
    !Array.isArray(value) || (value.length !== 7 && value.length !== 8) ||
    typeof value[6] !== "boolean" ||
    (value.length === 8 && (!Array.isArray(value[7]) || !value[7].every(commands))) ||
    !Number.isSafeInteger(value[0]) ||
    !Number.isSafeInteger(value[1]) || !Number.isSafeInteger(value[2]) ||
    (value[3] !== 2 && value[3] !== 3) ||
    !["readonly", "readwrite", "admin"].includes(value[4]) || !commands(value[5])
  ) {
    throw new TypeError("malformed forwarded command");
  }
  return value as RequestWire;
}

function decodeReply(payload: Uint8Array): ReplyWire {
  const value = decodeCbor(payload);
  if (
    !Array.isArray(value) || value.length !== 2 || !Number.isSafeInteger(value[0]) ||
    !isLatin1(value[1])
  ) {
    throw new TypeError("malformed forwarded reply");
  }
  return value as ReplyWire;
}
