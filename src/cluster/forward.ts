/**
 * Forwarding: a plain client's command whose slot another node owns travels over the cluster bus
 * to the owner, runs there as a client of that node (same store, protocol and role), and the
 * reply's bytes come back and take the command's place in the client's reply order.
 *
 * Requests to one owner leave in order on one link and run in order there, so a pipeline of
 * writes and reads to one key keeps its meaning. A request that never left (its link could not
 * connect) completes with `-TRYAGAIN cannot reach ...`: it did not run. One whose owner fails
 * (gossip), whose connection closes after it was written, or that gets no reply within its
 * deadline completes with `-TRYAGAIN ... the command may have run`, as with any lost connection;
 * the caller repeats only what is safe to repeat.
 *
 * A client that goes away while its forwarded command waits cancels it: a blocking pop parked on
 * the owner stops waiting there, so no element is popped for nobody. The owner does the same for
 * the commands parked for a node that gossip reports failed, and answers them with the
 * "did not run" `-TRYAGAIN`, for the sender (if it is alive after all) to ask again.
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
/** A cancel: `[id, fromRaftId]` of a request whose client went away. */
type CancelWire = [number, number];

/** What a forwarding failure says when the command may have run (it is not repeated for a write). */
export const MAY_HAVE_RUN = "the command may have run";

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
  /** Forwarded blocking commands cancelled because their client went away. */
  cancelled: number;
}

interface Pending {
  owner: number;
  reply: DeferredReply;
  /** A blocking command: the owner may hold it parked, and is told when it is cancelled. */
  blocking: boolean;
  /** When it fails unanswered (monotonic ms); Infinity for a command that blocks forever. */
  deadline: number;
}

/** Sends commands to owners and serves the ones sent here. */
export class Forwarder {
  readonly stats: ForwardStats = {
    forwarded: 0,
    served: 0,
    failed: 0,
    pending: 0,
    cancelled: 0,
  };
  readonly #pending = new Map<number, Pending>();
  /** Requests served here whose reply waits (a parked blocking command), by `from:id`. */
  readonly #waiting = new Map<string, { from: number; client: ClientState }>();
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
      // Queued requests whose link could not connect: they never left.
      undelivered: (peer) => this.#failTo(Number(peer), "its link could not connect", false),
      linkLost: (peer) => this.#failTo(Number(peer), "the connection to it closed", true),
    });
    bus.register<ReplyWire>(BusFrameType.forwardReply, {
      decode: decodeReply,
      receive: ([id, text]) => this.#settle(id, text),
    });
    bus.register<CancelWire>(BusFrameType.forwardCancel, {
      decode: decodeCancel,
      receive: ([id, from]) => this.#cancelled(from, id),
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
    reply.onAbandon?.(() => this.#abandoned(id));
    // A blocking command with no timeout (0) waits as long as the owner holds it.
    // Deadlines are swept, not timed one by one: a timer per request cost more than the rest
    // of forwarding it on Deno.
    const deadline = blockMs === 0 ? Infinity : this.now() + (blockMs ?? 0) + this.timeoutMs;
    this.#pending.set(id, { owner, reply, blocking: blockMs !== null, deadline });
    this.#sweep ??= this.timers.setInterval(() => this.#expire(), SWEEP_MS);
    this.stats.pending = this.#pending.size;
  }

  /**
   * Gossip reports the node with Raft id `peer` failed: the requests waiting on it fail, and the
   * commands parked here for its clients stop waiting (answered "did not run", in case it is
   * alive after all and asks again).
   */
  peerFailed(peer: number): void {
    this.#failTo(peer, "it failed", true);
    for (const [key, { from, client }] of this.#waiting) {
      // A write waiting to be durable ran: its reply is sent as usual.
      if (from !== peer || !this.executor.abandon(client)) continue;
      this.#waiting.delete(key);
      const id = Number(key.slice(key.indexOf(":") + 1));
      this.bus.send(from, BusFrameType.forwardReply, [
        id,
        "-TRYAGAIN the slot's owner dropped the waiting command: it saw the sender fail\r\n",
      ]);
    }
  }

  /** Fails everything pending (the node is stopping). */
  close(): void {
    for (const id of [...this.#pending.keys()]) this.#fail(id, "this node is stopping", true);
    this.bus.unregister([
      BusFrameType.forwardRequest,
      BusFrameType.forwardReply,
      BusFrameType.forwardCancel,
    ]);
  }

  #failTo(owner: number, why: string, mayHaveRun: boolean): void {
    for (const [id, pending] of this.#pending) {
      if (pending.owner === owner) this.#fail(id, why, mayHaveRun);
    }
  }

  #expire(): void {
    const now = this.now();
    for (const [id, pending] of this.#pending) {
      if (pending.deadline <= now) this.#fail(id, "no reply in time", true);
    }
  }

  #fail(id: number, why: string, mayHaveRun: boolean): void {
    const pending = this.#take(id);
    if (pending === undefined) return;
    this.stats.failed++;
    const text = mayHaveRun
      ? `TRYAGAIN the slot's owner did not answer (${why}); ${MAY_HAVE_RUN}`
      : `TRYAGAIN cannot reach the slot's owner (${why})`;
    pending.reply.complete((out) => out.error(text));
  }

  /** The client of request `id` went away: its reply is not awaited, and a parked command is
   * cancelled on the owner. */
  #abandoned(id: number): void {
    const pending = this.#take(id);
    if (pending === undefined || !pending.blocking) return;
    this.stats.cancelled++;
    this.bus.send(pending.owner, BusFrameType.forwardCancel, [id, this.selfRaftId]);
  }

  /** A sender cancelled request `id`: the command parked for it stops waiting. */
  #cancelled(from: number, id: number): void {
    const key = `${from}:${id}`;
    const waiting = this.#waiting.get(key);
    if (waiting === undefined) return; // answered already: the reply is dropped there
    this.#waiting.delete(key);
    this.executor.abandon(waiting.client);
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
    const text = transaction === undefined
      ? this.executor.runText(client, args)
      : runTransaction(this.executor, client, transaction)!;
    if (typeof text === "string") {
      this.bus.send(from, BusFrameType.forwardReply, [id, text]);
      return;
    }
    const key = `${from}:${id}`;
    this.#waiting.set(key, { from, client });
    text.then((later) => {
      // Gone from the map: cancelled, or dropped with its sender (then answered already).
      if (!this.#waiting.delete(key)) return;
      this.bus.send(from, BusFrameType.forwardReply, [id, later]);
    });
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

function decodeCancel(payload: Uint8Array): CancelWire {
  const value = decodeCbor(payload);
  if (
    !Array.isArray(value) || value.length !== 2 || !Number.isSafeInteger(value[0]) ||
    !Number.isSafeInteger(value[1])
  ) {
    throw new TypeError("malformed forward cancel");
  }
  return value as CancelWire;
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
