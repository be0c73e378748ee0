/**
 * The one seeded simulator: a world of simulated hosts, each of which runs real HyperCache code
 * (the Raft and gossip drivers, the Raft transport) against a simulated `Runtime`. One seed
 * drives every decision of a run, as TigerBeetle's VOPR does:
 *
 * - time: one simulated clock; each host's monotonic clock runs at its own rate (drift) and its
 *   wall clock has its own offset (skew); timers fire on the host's clock;
 * - the network: datagrams (UDP, and any message-level traffic) are delayed, lost, duplicated and
 *   so reordered; TCP streams are delayed and split into arbitrary reads but stay ordered and
 *   lossless, as TCP is, until a partition or a crash resets them;
 * - faults: partitions (groups and one-way cuts), crashes (a process stops at once: its timers,
 *   sockets and pending I/O vanish) and restarts, pauses (a stopped process: its timers and
 *   deliveries wait, then come late), slow hosts (everything they receive waits longer).
 *
 * Events run one at a time in (time, order) order. Code that awaits promises runs with the async
 * runner (`run`), which lets promise continuations finish after each event before time moves on;
 * code that only uses callbacks can use the synchronous runner (`runUntil` and friends).
 *
 * Set `SIM_TRACE=1` to print what the world does.
 */
import process from "node:process";
import type {
  FileHandle,
  FileSystem,
  HttpServer,
  Runtime,
  TcpConnection,
  TcpConnectOptions,
  TcpHandlers,
  TcpListener,
  TcpListenOptions,
  TimerHandle,
  Timers,
  UdpBindOptions,
  UdpSocket,
} from "../../src/runtime/types.ts";
import { Heap, type Scheduled } from "./heap.ts";
import { Random } from "./random.ts";

/** Timers are one kind of event; deliveries and disk completions are the other ("io"). */
export type EventKind = "timer" | "io";

interface SimEvent extends Scheduled {
  kind: EventKind;
  /** The process it belongs to: skipped once that process has crashed. */
  life: Life | null;
  /** The host it runs on: deferred while that host is paused. */
  host: Host | null;
  /** What it is, for `dropIo` and tracing ("datagram", "tcp", "disk", ...). */
  tag: string;
  run: () => void;
  cancelled: boolean;
}

/** The network's behaviour. Delays are one way, in simulated milliseconds. */
export interface NetworkOptions {
  /** Probability that a datagram is lost. */
  lossRate: number;
  /** Probability that a datagram arrives twice. */
  duplicateRate: number;
  minDelayMs: number;
  maxDelayMs: number;
  /** Probability that a TCP write arrives in several reads. */
  splitRate: number;
  /** How long a TCP connect to an unreachable host takes to fail. */
  connectTimeoutMs: number;
}

export interface WorldOptions {
  seed: number;
  network?: Partial<NetworkOptions>;
}

/** What the world counted. */
export interface WorldStats {
  datagramsSent: number;
  datagramsDelivered: number;
  datagramsLost: number;
  datagramsDuplicated: number;
  datagramBytesDelivered: number;
  maxDatagramBytes: number;
  tcpConnects: number;
  tcpRefused: number;
  tcpTimeouts: number;
  tcpResets: number;
  tcpBytes: number;
  crashes: number;
  restarts: number;
  pauses: number;
  partitions: number;
}

/** One process's life on a host, from start to crash: what dies with it. */
export class Life {
  dead = false;
  readonly connections = new Set<SimConnection>();
  constructor(readonly host: Host, readonly incarnation: number) {}
}

interface SimTimer {
  /** Its next run, or null once it ran (a timeout) or was cleared. */
  event: SimEvent | null;
  callback: () => void;
  /** Local (host clock) interval, for intervals. */
  intervalMs: number | undefined;
}

const EPOCH_MS = Date.UTC(2030, 0, 1);

/** A simulated machine: an address, a clock, and at most one running process at a time. */
export class Host {
  readonly random: Random;
  life: Life | null = null;
  incarnation = 0;
  /** While the simulated time is below this, the host runs nothing (a stopped process). */
  pausedUntilMs = 0;
  /** Everything this host receives waits up to this much longer (an overloaded host). */
  slowMs = 0;
  /** Wall-clock offset from the true time (clock skew). */
  skewMs = 0;
  readonly udp = new Map<number, SimUdpSocket>();
  readonly listeners = new Map<number, SimListener>();
  #rate = 1;
  #monoAnchorMs: number;
  #monoAtAnchor: number;
  #nextPort = 40_000;

  constructor(
    readonly world: World,
    readonly name: string,
    readonly ip: string,
    options: { rate?: number; monotonicOriginMs?: number; skewMs?: number },
  ) {
    this.random = world.random.fork();
    this.#rate = options.rate ?? 1;
    this.#monoAnchorMs = world.nowMs;
    this.#monoAtAnchor = options.monotonicOriginMs ?? world.nowMs;
    this.skewMs = options.skewMs ?? 0;
  }

  /** True while a process runs on it. */
  get up(): boolean {
    return this.life !== null;
  }

  /** The host's monotonic clock: true time scaled by its rate. */
  monotonicMs(): number {
    return this.#monoAtAnchor + (this.world.nowMs - this.#monoAnchorMs) * this.#rate;
  }

  /** The host's wall clock: true time plus its skew. */
  realtimeMs(): number {
    return EPOCH_MS + this.world.nowMs + this.skewMs;
  }

  /** How fast the host's clock runs: 1 is true time, 1.05 is 5% fast. */
  get rate(): number {
    return this.#rate;
  }

  /** Changes the clock's rate from now on; pending timers keep their remaining local time. */
  set rate(rate: number) {
    if (!(rate > 0)) throw new RangeError(`a clock rate must be positive: ${rate}`);
    this.#monoAtAnchor = this.monotonicMs();
    this.#monoAnchorMs = this.world.nowMs;
    const old = this.#rate;
    this.#rate = rate;
    if (this.life !== null) this.world.retime(this.life, old / rate);
  }

  /**
   * Starts a process: the runtime its code runs on. `fs` is the host's disk (it outlives the
   * process); each fsync on it takes up to `fsyncDelayMs` of simulated time, so that a crash can
   * land between a write and its fsync.
   */
  start(options: { fs?: FileSystem; fsyncDelayMs?: number } = {}): SimRuntime {
    if (this.life !== null) throw new Error(`host ${this.name} is already running`);
    this.incarnation++;
    if (this.incarnation > 1) this.world.stats.restarts++;
    this.life = new Life(this, this.incarnation);
    this.world.trace(`start ${this.name} (life ${this.incarnation})`);
    return new SimRuntime(this.world, this, this.life, options.fs, options.fsyncDelayMs ?? 0);
  }

  /** Kills the process at once: its timers, sockets and pending work vanish; peers see resets. */
  crash(): void {
    const life = this.life;
    if (life === null) return;
    this.world.stats.crashes++;
    this.world.trace(`crash ${this.name}`);
    life.dead = true;
    this.life = null;
    for (const [port, socket] of this.udp) if (socket.life === life) this.udp.delete(port);
    for (const [port, listener] of this.listeners) {
      if (listener.life === life) this.listeners.delete(port);
    }
    for (const conn of life.connections) conn.vanish();
    life.connections.clear();
  }

  /** Stops the process for `durationMs` (a long GC pause, SIGSTOP, a VM migration). */
  pause(durationMs: number): void {
    this.world.stats.pauses++;
    this.world.trace(`pause ${this.name} for ${durationMs} ms`);
    this.pausedUntilMs = Math.max(this.pausedUntilMs, this.world.nowMs + durationMs);
  }

  get paused(): boolean {
    return this.pausedUntilMs > this.world.nowMs;
  }

  /** @internal */
  ephemeralPort(): number {
    return this.#nextPort++;
  }
}

/** The simulated world. */
export class World {
  readonly seed: number;
  readonly random: Random;
  readonly network: NetworkOptions;
  /** Loss, duplication, random delays and split reads apply only while true. */
  faulty = true;
  nowMs = 0;
  /** Events run so far. */
  eventCount = 0;
  /** Bumped by everything code does to the world: the async runner waits until it stops. */
  activity = 0;
  /** Called after every event: the place for invariant checks. */
  afterEvent: (() => void) | undefined;
  readonly hosts: Host[] = [];
  readonly stats: WorldStats = {
    datagramsSent: 0,
    datagramsDelivered: 0,
    datagramsLost: 0,
    datagramsDuplicated: 0,
    datagramBytesDelivered: 0,
    maxDatagramBytes: 0,
    tcpConnects: 0,
    tcpRefused: 0,
    tcpTimeouts: 0,
    tcpResets: 0,
    tcpBytes: 0,
    crashes: 0,
    restarts: 0,
    pauses: 0,
    partitions: 0,
  };
  readonly #byIp = new Map<string, Host>();
  readonly #timers = new Heap<SimEvent>();
  readonly #io = new Heap<SimEvent>();
  #seq = 0;
  #deferred: { life: Life | null; run: () => void }[] = [];
  #groups: Map<Host, number> | null = null;
  /** One-way cuts: from a host to the hosts it cannot reach. */
  readonly #cut = new Map<Host, Set<Host>>();
  readonly #tracing = process.env.SIM_TRACE === "1";

  constructor(options: WorldOptions) {
    this.seed = options.seed;
    this.random = new Random(options.seed);
    this.network = {
      lossRate: 0,
      duplicateRate: 0,
      minDelayMs: 1,
      maxDelayMs: 5,
      splitRate: 0.1,
      connectTimeoutMs: 1000,
      ...options.network,
    };
  }

  /** Adds a host; its address is `ip` or the next free 10.x.y.z. */
  addHost(
    name: string,
    options: { ip?: string; rate?: number; monotonicOriginMs?: number; skewMs?: number } = {},
  ): Host {
    const ip = options.ip ??
      `10.${(this.hosts.length >> 16) & 255}.${(this.hosts.length >> 8) & 255}.${
        (this.hosts.length & 255) + 1
      }`;
    if (this.#byIp.has(ip)) throw new Error(`address ${ip} is taken`);
    const host = new Host(this, name, ip, options);
    this.hosts.push(host);
    this.#byIp.set(ip, host);
    return host;
  }

  hostAt(ip: string): Host | undefined {
    return this.#byIp.get(ip);
  }

  trace(line: string): void {
    if (this.#tracing) console.log(`[${this.nowMs.toFixed(3)}ms] ${line}`);
  }

  // ------------------------------------------------------------------ partitions

  /** Splits the network into groups; a host in no group reaches nobody. */
  partition(groups: Host[][]): void {
    this.stats.partitions++;
    this.#groups = new Map();
    groups.forEach((group, i) => group.forEach((host) => this.#groups!.set(host, i)));
    this.trace(`partition ${groups.map((g) => g.map((h) => h.name).join(",")).join(" | ")}`);
  }

  /** Cuts the link from `a` to `b` (one way). */
  cutLink(a: Host, b: Host): void {
    let cut = this.#cut.get(a);
    if (cut === undefined) this.#cut.set(a, cut = new Set());
    cut.add(b);
  }

  /** Cuts every link between `group` and the other hosts, both ways. */
  isolate(group: Host[]): void {
    this.stats.partitions++;
    this.trace(`isolate ${group.map((h) => h.name).join(",")}`);
    for (const a of group) {
      for (const b of this.hosts) {
        if (group.includes(b)) continue;
        this.cutLink(a, b);
        this.cutLink(b, a);
      }
    }
  }

  /** Removes every partition and cut. */
  heal(): void {
    this.#groups = null;
    this.#cut.clear();
  }

  reachable(a: Host, b: Host): boolean {
    if (a === b) return true;
    if (this.#cut.size > 0 && this.#cut.get(a)?.has(b)) return false;
    if (this.#groups === null) return true;
    const ga = this.#groups.get(a);
    return ga !== undefined && ga === this.#groups.get(b);
  }

  // ------------------------------------------------------------------ scheduling

  /** Schedules `run` at `at` (never before now); `owner` is a process, a host or nothing. */
  schedule(
    kind: EventKind,
    at: number,
    owner: Life | Host | null,
    run: () => void,
    tag: string = kind,
  ): SimEvent {
    this.activity++;
    const life = owner instanceof Life ? owner : null;
    const host = owner instanceof Life ? owner.host : owner;
    const event: SimEvent = {
      at: Math.max(at, this.nowMs),
      seq: this.#seq++,
      kind,
      life,
      host,
      tag,
      run,
      cancelled: false,
    };
    (kind === "timer" ? this.#timers : this.#io).push(event);
    return event;
  }

  /** Puts an event that ran back in the queue, due at `at` (an interval's next run). */
  reschedule(event: SimEvent, at: number): void {
    this.activity++;
    event.at = Math.max(at, this.nowMs);
    event.seq = this.#seq++;
    (event.kind === "timer" ? this.#timers : this.#io).push(event);
  }

  /** Stretches the remaining time of a process's timers by `factor` (its clock's rate changed). */
  retime(life: Life, factor: number): void {
    for (const event of this.#timers.items()) {
      if (event.life === life) event.at = this.nowMs + Math.max(0, event.at - this.nowMs) * factor;
    }
    this.#timers.filter(() => true);
  }

  /** Runs `run` once the current event's code has returned (a microtask). */
  defer(life: Life | null, run: () => void): void {
    this.activity++;
    this.#deferred.push({ life, run });
  }

  /** Runs what was deferred, and what that defers in turn. */
  drainDeferred(): void {
    for (let i = 0; i < this.#deferred.length; i++) {
      const task = this.#deferred[i];
      if (task.life?.dead) continue;
      task.run();
    }
    this.#deferred.length = 0;
  }

  /** One simulated network delay from `from` to `to` (faults on: random; off: the minimum). */
  delayMs(to: Host | null): number {
    const { minDelayMs, maxDelayMs } = this.network;
    if (!this.faulty) return minDelayMs;
    const slow = to !== null && to.slowMs > 0 ? this.random.next() * to.slowMs : 0;
    return minDelayMs + this.random.next() * (maxDelayMs - minDelayMs) + slow;
  }

  /** The delays of the copies of one unreliable message: none when it is lost, two when it is
   * duplicated. */
  unreliableDelays(to: Host): number[] {
    if (!this.faulty) return [this.network.minDelayMs];
    if (this.random.chance(this.network.lossRate)) return [];
    if (this.random.chance(this.network.duplicateRate)) {
      this.stats.datagramsDuplicated++;
      return [this.delayMs(to), this.delayMs(to)];
    }
    return [this.delayMs(to)];
  }

  /**
   * Sends one unreliable message from `from` to `to`: lost, duplicated and delayed as the network
   * says, dropped if a partition cuts it on the way. `deliver` runs on `to` (late if it is paused).
   */
  sendUnreliable(from: Host, to: Host, deliver: () => void, tag = "message"): void {
    if (!this.reachable(from, to)) return;
    const delays = this.unreliableDelays(to);
    if (delays.length === 0) this.stats.datagramsLost++;
    for (const delay of delays) {
      this.schedule("io", this.nowMs + delay, to, () => {
        if (this.reachable(from, to)) deliver();
      }, tag);
    }
  }

  /** Runs the earliest event due by `untilMs` of the given kinds; false when there is none. */
  #step(untilMs: number, kinds: "all" | EventKind): boolean {
    for (;;) {
      const t = kinds === "io" ? undefined : this.#timers.peek();
      const i = kinds === "timer" ? undefined : this.#io.peek();
      let queue: Heap<SimEvent>;
      if (t !== undefined && (i === undefined || t.at < i.at || (t.at === i.at && t.seq < i.seq))) {
        queue = this.#timers;
      } else if (i !== undefined) queue = this.#io;
      else return false;
      const event = queue.peek()!;
      if (event.at > untilMs) return false;
      queue.pop();
      if (this.#dispatch(event, queue)) return true;
    }
  }

  /** Runs one event taken off `queue`; false when it was dropped or put back. */
  #dispatch(event: SimEvent, queue: Heap<SimEvent>): boolean {
    if (event.cancelled || event.life?.dead) return false;
    if (event.host !== null && event.host.pausedUntilMs > Math.max(this.nowMs, event.at)) {
      // A stopped process runs nothing: the event waits for the end of the pause.
      event.at = event.host.pausedUntilMs;
      event.seq = this.#seq++;
      queue.push(event);
      return false;
    }
    this.nowMs = Math.max(this.nowMs, event.at);
    this.eventCount++;
    event.run();
    this.drainDeferred();
    this.afterEvent?.();
    return true;
  }

  /** Runs every event up to `untilMs`, in order, then sets the time to `untilMs`. */
  runUntil(untilMs: number): void {
    while (this.#step(untilMs, "all"));
    this.nowMs = Math.max(this.nowMs, untilMs);
  }

  /** Runs only timers up to `untilMs` (deliveries wait), then sets the time to `untilMs`. */
  runTimersUntil(untilMs: number): void {
    while (this.#step(untilMs, "timer"));
    this.nowMs = Math.max(this.nowMs, untilMs);
  }

  /** Runs deliveries (and those they cause) until none is left, without firing timers. */
  runIo(maxEvents = 100_000): void {
    for (let i = 0; this.#step(Infinity, "io"); i++) {
      if (i > maxEvents) throw new Error(`seed=${this.seed}: the network did not settle`);
    }
  }

  /** Runs the deliveries pending now, in order; the ones they cause wait for the next round. */
  ioRound(): void {
    const round = [...this.#io.items()].sort((a, b) => a.at - b.at || a.seq - b.seq);
    this.#io.filter(() => false);
    for (const event of round) this.#dispatch(event, this.#io);
  }

  /** Forgets pending deliveries that `match` (all of them by default). */
  dropIo(match: (tag: string) => boolean = () => true): void {
    this.#io.filter((event) => !match(event.tag));
  }

  /** The time of the next pending event, or undefined. */
  nextEventAt(): number | undefined {
    const t = this.#timers.peek()?.at;
    const i = this.#io.peek()?.at;
    if (t === undefined) return i;
    if (i === undefined) return t;
    return Math.min(t, i);
  }

  // ------------------------------------------------------------------ async runner

  /**
   * Lets promise continuations of the last event run to their end (or to their next wait on the
   * world): microtasks, until a few in a row change nothing.
   */
  async settle(): Promise<void> {
    for (let quiet = 0; quiet < 3;) {
      const before = this.activity;
      this.drainDeferred();
      await null;
      quiet = this.activity === before && this.#deferred.length === 0 ? quiet + 1 : 0;
    }
  }

  /** Runs every event up to `untilMs` as `runUntil` does, settling promises after each one. */
  async run(untilMs: number): Promise<void> {
    await this.settle();
    while (this.#step(untilMs, "all")) await this.settle();
    this.nowMs = Math.max(this.nowMs, untilMs);
  }
}

// -------------------------------------------------------------------- the simulated runtime

/** A process's view of the world: the `Runtime` interface, on simulated time and network. */
export class SimRuntime implements Runtime {
  readonly name = "deno" as const;
  readonly version = "simulated";
  readonly clock;
  readonly timers: Timers;
  readonly fs: FileSystem;

  constructor(
    readonly world: World,
    readonly host: Host,
    readonly life: Life,
    fs?: FileSystem,
    fsyncDelayMs = 0,
  ) {
    this.clock = {
      monotonicMs: () => host.monotonicMs(),
      realtimeMs: () => host.realtimeMs(),
    };
    this.timers = new SimTimers(world, life);
    this.fs = fs === undefined ? noFileSystem : guardFileSystem(fs, world, life, fsyncDelayMs);
  }

  random(): number {
    return this.host.random.next();
  }

  listenTcp(options: TcpListenOptions, handlers: TcpHandlers): Promise<TcpListener> {
    const port = options.port === 0 ? this.host.ephemeralPort() : options.port;
    if (this.life.dead) return new Promise(() => {});
    if (this.host.listeners.has(port)) {
      return Promise.reject(new Error(`listen EADDRINUSE: ${this.host.ip}:${port}`));
    }
    const listener = new SimListener(this.host, this.life, port, handlers);
    this.host.listeners.set(port, listener);
    this.world.activity++;
    return Promise.resolve(listener);
  }

  connectTcp(options: TcpConnectOptions, handlers: TcpHandlers): Promise<TcpConnection> {
    return connect(this.world, this.life, options, handlers);
  }

  bindUdp(options: UdpBindOptions): Promise<UdpSocket> {
    const port = options.port === 0 ? this.host.ephemeralPort() : options.port;
    if (this.life.dead) return new Promise(() => {});
    if (this.host.udp.has(port)) {
      return Promise.reject(new Error(`bind EADDRINUSE: ${this.host.ip}:${port}`));
    }
    const socket = new SimUdpSocket(this.world, this.life, port, options.onMessage);
    this.host.udp.set(port, socket);
    this.world.activity++;
    return Promise.resolve(socket);
  }

  serveHttp(): Promise<HttpServer> {
    return Promise.reject(new Error("HTTP is not simulated"));
  }
  onSignal(): void {}
  env(): string | undefined {
    return undefined;
  }
  args(): string[] {
    return [];
  }
  memoryRssBytes(): number {
    return 0;
  }
  collectGarbage(): boolean {
    return false;
  }
  cpuUsageMicros(): { user: number; system: number } {
    return { user: 0, system: 0 };
  }
  pid(): number {
    return this.life.incarnation;
  }
  exit(code: number): never {
    this.host.crash();
    throw new Error(`simulated process exited with code ${code}`);
  }
}

class SimTimers implements Timers {
  constructor(private readonly world: World, private readonly life: Life) {}

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    return this.#arm(callback, delayMs, undefined) as unknown as TimerHandle;
  }

  setInterval(callback: () => void, intervalMs: number): TimerHandle {
    const every = Math.max(1, intervalMs);
    return this.#arm(callback, every, every) as unknown as TimerHandle;
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    const timer = handle as unknown as SimTimer | undefined;
    if (timer === undefined || timer.event === null) return;
    timer.event.cancelled = true;
    timer.event = null;
  }

  clearInterval(handle: TimerHandle | undefined): void {
    this.clearTimeout(handle);
  }

  queueMicrotask(callback: () => void): void {
    this.world.defer(this.life, callback);
  }

  #arm(callback: () => void, delayMs: number, intervalMs: number | undefined): SimTimer {
    const timer: SimTimer = { event: null, callback, intervalMs };
    if (this.life.dead) return timer;
    const world = this.world;
    const host = this.life.host;
    const event = world.schedule(
      "timer",
      world.nowMs + Math.max(0, delayMs) / host.rate,
      this.life,
      () => {
        // An interval runs again an interval after this run: a late run does not catch up.
        if (intervalMs !== undefined) world.reschedule(event, world.nowMs + intervalMs / host.rate);
        else timer.event = null;
        callback();
      },
    );
    timer.event = event;
    return timer;
  }
}

/**
 * The host's file system as one life sees it: once the process has crashed, what it had started
 * fails instead of writing on (a dead process writes nothing). Every call counts as activity, so
 * the async runner lets chains of file operations finish before time moves on.
 */
function guardFileSystem(
  fs: FileSystem,
  world: World,
  life: Life,
  fsyncDelayMs: number,
): FileSystem {
  const dead = () => Promise.reject(new Error("EIO: the process crashed"));
  /** An fsync takes time: the process's event, so it never completes once the process died. */
  const later = <T>(sync: () => Promise<T>): Promise<T> => {
    if (fsyncDelayMs <= 0 || !world.faulty) return sync();
    return new Promise<void>((resolve) => {
      world.schedule("io", world.nowMs + world.random.next() * fsyncDelayMs, life, resolve, "disk");
    }).then(() => life.dead ? dead() : sync());
  };
  const guardHandle = (handle: FileHandle): FileHandle => ({
    write: (data) => life.dead ? dead() : (world.activity++, handle.write(data)),
    datasync: () => life.dead ? dead() : (world.activity++, later(() => handle.datasync())),
    size: () => life.dead ? dead() : (world.activity++, handle.size()),
    truncate: (size) => life.dead ? dead() : (world.activity++, handle.truncate(size)),
    close: () => life.dead ? Promise.resolve() : (world.activity++, handle.close()),
  });
  return {
    open: async (path, mode) => {
      if (life.dead) return dead();
      world.activity++;
      return guardHandle(await fs.open(path, mode));
    },
    readFile: (path) => life.dead ? dead() : (world.activity++, fs.readFile(path)),
    writeFileAtomic: (path, data) =>
      life.dead ? dead() : (world.activity++, fs.writeFileAtomic(path, data)),
    rename: (from, to) => life.dead ? dead() : (world.activity++, fs.rename(from, to)),
    remove: (path) => life.dead ? dead() : (world.activity++, fs.remove(path)),
    mkdirp: (path) => life.dead ? dead() : (world.activity++, fs.mkdirp(path)),
    readDir: (path) => life.dead ? dead() : (world.activity++, fs.readDir(path)),
    syncDir: (path) => life.dead ? dead() : (world.activity++, later(() => fs.syncDir(path))),
  };
}

const noFileSystem: FileSystem = new Proxy({} as FileSystem, {
  get(_target, name) {
    if (name === "sync" || name === "then") return undefined;
    return () => Promise.reject(new Error(`no file system in this simulation (${String(name)})`));
  },
});

// -------------------------------------------------------------------- UDP

class SimUdpSocket implements UdpSocket {
  closed = false;
  constructor(
    private readonly world: World,
    readonly life: Life,
    readonly port: number,
    private readonly onMessage: UdpBindOptions["onMessage"],
  ) {}

  send(data: Uint8Array, hostname: string, port: number): void {
    if (this.closed || this.life.dead) return;
    const world = this.world;
    world.stats.datagramsSent++;
    world.stats.maxDatagramBytes = Math.max(world.stats.maxDatagramBytes, data.length);
    const to = world.hostAt(hostname);
    if (to === undefined) return;
    const bytes = data.slice();
    const from = { hostname: this.life.host.ip, port: this.port };
    world.sendUnreliable(this.life.host, to, () => {
      const socket = to.udp.get(port);
      if (socket === undefined || socket.closed) return;
      world.stats.datagramsDelivered++;
      world.stats.datagramBytesDelivered += bytes.length;
      socket.onMessage(bytes, from);
    }, "datagram");
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      const host = this.life.host;
      if (host.udp.get(this.port) === this) host.udp.delete(this.port);
    }
    return Promise.resolve();
  }
}

// -------------------------------------------------------------------- TCP

class SimListener implements TcpListener {
  closed = false;
  constructor(
    readonly host: Host,
    readonly life: Life,
    readonly port: number,
    readonly handlers: TcpHandlers,
  ) {}

  close(): Promise<void> {
    this.closed = true;
    if (this.host.listeners.get(this.port) === this) this.host.listeners.delete(this.port);
    return Promise.resolve();
  }
}

/** One end of a simulated TCP connection. */
export class SimConnection implements TcpConnection {
  data: unknown = undefined;
  peer!: SimConnection;
  /** "open", "closing" (our FIN is on its way), "closed" (onClose was called or is due). */
  state: "open" | "closing" | "closed" = "open";
  /** When the last byte this end sent reaches the peer: later bytes never overtake it. */
  lastArrivalAt = 0;
  #paused = false;
  #inbox: Uint8Array[] = [];
  #finPending = false;

  constructor(
    readonly world: World,
    readonly life: Life,
    readonly remoteAddress: string,
    readonly handlers: TcpHandlers,
  ) {
    life.connections.add(this);
  }

  write(data: Uint8Array): void {
    if (this.state !== "open" || this.life.dead || data.length === 0) return;
    const world = this.world;
    world.stats.tcpBytes += data.length;
    const bytes = data.slice();
    const peer = this.peer;
    for (const chunk of split(world, bytes)) {
      const at = Math.max(world.nowMs + world.delayMs(peer.life.host), this.lastArrivalAt);
      this.lastArrivalAt = at;
      world.schedule("io", at, peer.life, () => peer.#arrive(chunk), "tcp");
    }
  }

  pendingBytes(): number {
    return 0;
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    if (this.#inbox.length === 0 && !this.#finPending) return;
    this.world.schedule("io", this.world.nowMs, this.life, () => {
      const inbox = this.#inbox;
      this.#inbox = [];
      for (const chunk of inbox) {
        if (this.state !== "open") return;
        if (this.#paused) {
          this.#inbox.push(chunk);
          continue;
        }
        this.handlers.onData(this, chunk);
      }
      if (this.#finPending && !this.#paused && this.#inbox.length === 0) this.#closed();
    }, "tcp");
  }

  /** Sends what was written, then a FIN; this end's `onClose` follows. */
  close(): void {
    if (this.state !== "open") return;
    this.state = "closing";
    const world = this.world;
    const peer = this.peer;
    const at = Math.max(world.nowMs + world.delayMs(peer.life.host), this.lastArrivalAt);
    this.lastArrivalAt = at;
    world.schedule("io", at, peer.life, () => peer.#fin(), "tcp");
    world.schedule("io", world.nowMs, this.life, () => this.#closed(), "tcp");
  }

  #arrive(chunk: Uint8Array): void {
    if (this.state !== "open") return;
    if (!this.world.reachable(this.peer.life.host, this.life.host)) {
      this.reset();
      return;
    }
    if (this.#paused) this.#inbox.push(chunk);
    else this.handlers.onData(this, chunk);
  }

  #fin(): void {
    if (this.state === "closed") return;
    if (this.#paused && this.#inbox.length > 0) {
      this.#finPending = true;
      return;
    }
    this.#closed();
  }

  #closed(): void {
    if (this.state === "closed") return;
    this.state = "closed";
    this.life.connections.delete(this);
    this.handlers.onClose?.(this);
  }

  /** The connection broke (a partition): both ends see it close, the far one a little later. */
  reset(): void {
    if (this.state === "closed") return;
    this.world.stats.tcpResets++;
    this.world.trace(`reset ${this.life.host.name} <-> ${this.peer.life.host.name}`);
    this.#closed();
    this.#resetPeer();
  }

  #resetPeer(): void {
    const peer = this.peer;
    if (peer.state === "closed" || peer.life.dead) return;
    this.world.schedule(
      "io",
      this.world.nowMs + this.world.delayMs(peer.life.host),
      peer.life,
      () => peer.#closed(),
      "tcp",
    );
  }

  /** The process died: no callback here, and the peer sees a reset. */
  vanish(): void {
    if (this.state !== "closed") {
      this.state = "closed";
      this.#resetPeer();
    }
  }
}

/** Cuts a write into the reads the peer gets: usually one, sometimes several. */
function split(world: World, bytes: Uint8Array): Uint8Array[] {
  if (!world.faulty || bytes.length < 2 || !world.random.chance(world.network.splitRate)) {
    return [bytes];
  }
  const cuts = new Set<number>();
  const pieces = world.random.between(2, Math.min(4, bytes.length));
  while (cuts.size < pieces - 1) cuts.add(world.random.between(1, bytes.length - 1));
  const points = [0, ...[...cuts].sort((a, b) => a - b), bytes.length];
  const chunks: Uint8Array[] = [];
  for (let i = 0; i + 1 < points.length; i++) chunks.push(bytes.subarray(points[i], points[i + 1]));
  return chunks;
}

function connect(
  world: World,
  life: Life,
  options: TcpConnectOptions,
  handlers: TcpHandlers,
): Promise<TcpConnection> {
  return new Promise<TcpConnection>((resolve, reject) => {
    if (life.dead) return;
    const from = life.host;
    const to = world.hostAt(options.hostname);
    const localPort = from.ephemeralPort();
    const fail = (at: number, error: Error) => {
      world.schedule("io", at, life, () => reject(error), "tcp");
    };
    const timeout = () => {
      world.stats.tcpTimeouts++;
      fail(
        world.nowMs + world.network.connectTimeoutMs,
        new Error(`connect ETIMEDOUT ${options.hostname}:${options.port}`),
      );
    };
    if (to === undefined || !world.reachable(from, to)) return timeout();
    // The SYN travels to the far host; its kernel answers even when no process listens.
    world.schedule("io", world.nowMs + world.delayMs(to), to, () => {
      if (life.dead) return;
      if (!world.reachable(from, to)) return timeout();
      const listener = to.listeners.get(options.port);
      const back = world.nowMs + world.delayMs(from);
      if (listener === undefined || listener.closed || listener.life.dead) {
        world.stats.tcpRefused++;
        return fail(back, new Error(`connect ECONNREFUSED ${options.hostname}:${options.port}`));
      }
      world.stats.tcpConnects++;
      const client = new SimConnection(world, life, `${to.ip}:${options.port}`, handlers);
      const server = new SimConnection(
        world,
        listener.life,
        `${from.ip}:${localPort}`,
        listener.handlers,
      );
      client.peer = server;
      server.peer = client;
      // Nothing the server sends reaches the client before the handshake completes there.
      server.lastArrivalAt = back;
      listener.handlers.onOpen?.(server);
      world.schedule("io", back, life, () => {
        if (client.state === "closed") {
          reject(new Error(`connect ECONNRESET ${options.hostname}:${options.port}`));
          return;
        }
        handlers.onOpen?.(client);
        resolve(client);
      }, "tcp");
    }, "tcp");
  });
}
