// The simulator itself: what a seed drives, and that each simulated part behaves as the real one
// does where HyperCache relies on it (timers, clocks, datagrams, TCP streams, crashes, pauses).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import type { TcpConnection } from "../../src/runtime/types.ts";
import { type SimRuntime, World } from "./world.ts";

const SEED = Number(process.env.SIM_SEED ?? 1);

/** Two hosts exchanging datagrams under loss, duplication and delay; returns what arrived when. */
async function pingPong(seed: number): Promise<string[]> {
  const world = new World({
    seed,
    network: { lossRate: 0.2, duplicateRate: 0.2, minDelayMs: 1, maxDelayMs: 30 },
  });
  const log: string[] = [];
  const a = world.addHost("a").start();
  const b = world.addHost("b").start();
  const sa = await a.bindUdp({
    hostname: a.host.ip,
    port: 1,
    onMessage: (data) => log.push(`a@${world.nowMs.toFixed(3)}:${data[0]}`),
  });
  await b.bindUdp({
    hostname: b.host.ip,
    port: 1,
    onMessage: (data, from) => {
      log.push(`b@${world.nowMs.toFixed(3)}:${data[0]}`);
      b.timers.setTimeout(() => sa.send(data, from.hostname, 1), b.random() * 10);
    },
  });
  let n = 0;
  a.timers.setInterval(() => sa.send(new Uint8Array([n++]), b.host.ip, 1), 7);
  await world.run(2000);
  return log;
}

describe("simulated world", () => {
  it("replays a seed exactly, and another seed differs", async () => {
    const first = await pingPong(SEED);
    assert.deepEqual(await pingPong(SEED), first);
    assert.notDeepEqual(await pingPong(SEED + 1), first);
    assert.ok(first.length > 100);
  });

  it("loses, duplicates and reorders datagrams as the network is told to", async () => {
    const world = new World({
      seed: SEED,
      network: { lossRate: 0.1, duplicateRate: 0.05, minDelayMs: 1, maxDelayMs: 50 },
    });
    const a = world.addHost("a").start();
    const b = world.addHost("b").start();
    const got: number[] = [];
    await b.bindUdp({ hostname: b.host.ip, port: 9, onMessage: (d) => got.push(d[0] | d[1] << 8) });
    const sock = await a.bindUdp({ hostname: a.host.ip, port: 9, onMessage: () => {} });
    for (let i = 0; i < 10_000; i++) {
      world.schedule(
        "timer",
        i,
        a.host,
        () => sock.send(new Uint8Array([i & 255, i >> 8]), b.host.ip, 9),
      );
    }
    await world.run(20_000);
    const distinct = new Set(got);
    assert.ok(Math.abs(distinct.size - 9000) < 300, `${distinct.size} of 10000 arrived`);
    assert.ok(got.length - distinct.size > 300, "some arrived twice");
    assert.ok(got.some((v, i) => i > 0 && v < got[i - 1]), "some overtook others");
  });

  it("fires timers on each host's own clock: a fast clock fires early, a rate change re-times", () => {
    const world = new World({ seed: SEED });
    const fast = world.addHost("fast", { rate: 2 }).start();
    const normal = world.addHost("normal").start();
    const fired: string[] = [];
    fast.timers.setTimeout(() => fired.push(`fast@${world.nowMs}`), 100);
    normal.timers.setTimeout(() => fired.push(`normal@${world.nowMs}`), 100);
    const slowed = normal.timers.setTimeout(() => fired.push(`slowed@${world.nowMs}`), 200);
    const cancelled = normal.timers.setTimeout(() => fired.push("cancelled"), 10);
    normal.timers.clearTimeout(cancelled);
    world.runUntil(100);
    assert.equal(fast.clock.monotonicMs(), 200);
    normal.host.rate = 0.5; // 100 local ms are left: 200 true ms from now
    world.runUntil(1000);
    assert.deepEqual(fired, ["fast@50", "normal@100", "slowed@300"]);
    void slowed;
  });

  it("repeats intervals without catching up after a pause, and delays deliveries to its end", async () => {
    const world = new World({ seed: SEED });
    world.faulty = false;
    const host = world.addHost("h");
    const rt = host.start();
    const other = world.addHost("other").start();
    const log: string[] = [];
    rt.timers.setInterval(() => log.push(`tick@${world.nowMs}`), 10);
    await rt.bindUdp({
      hostname: host.ip,
      port: 1,
      onMessage: () => log.push(`udp@${world.nowMs}`),
    });
    const udp = await other.bindUdp({ hostname: other.host.ip, port: 1, onMessage: () => {} });
    other.timers.setTimeout(() => udp.send(new Uint8Array(1), host.ip, 1), 50);
    world.runUntil(35);
    host.pause(100);
    world.runUntil(150);
    assert.deepEqual(log, ["tick@10", "tick@20", "tick@30", "tick@135", "udp@135", "tick@145"]);
  });

  it("keeps a TCP stream ordered and complete while it arrives in arbitrary reads", async () => {
    const world = new World({ seed: SEED, network: { splitRate: 0.5, maxDelayMs: 40 } });
    const server = world.addHost("server").start();
    const client = world.addHost("client").start();
    const received: number[] = [];
    let reads = 0;
    await server.listenTcp({ hostname: server.host.ip, port: 80 }, {
      onData(_conn, bytes) {
        reads++;
        received.push(...bytes);
      },
    });
    const conn = await connected(world, client, server.host.ip, 80);
    const sent: number[] = [];
    for (let i = 0; i < 500; i++) {
      const chunk = Array.from({ length: 1 + (i % 7) }, (_, j) => (i + j) & 255);
      sent.push(...chunk);
      world.schedule("timer", world.nowMs + i * 0.1, client.life, () => {
        conn.write(new Uint8Array(chunk));
      });
    }
    await world.run(world.nowMs + 1000);
    assert.deepEqual(received, sent);
    assert.ok(reads > 550, `${reads} reads for 500 writes`);
  });

  it("refuses a connect without a listener, times one out across a partition, resets on a cut", async () => {
    const world = new World({ seed: SEED });
    const a = world.addHost("a").start();
    const b = world.addHost("b").start();
    await assert.rejects(connected(world, a, b.host.ip, 80), /ECONNREFUSED/);
    let closed = 0;
    await b.listenTcp({ hostname: b.host.ip, port: 80 }, {
      onData() {},
      onClose: () => closed++,
    });
    const conn = await connected(world, a, b.host.ip, 80, { onData() {}, onClose: () => closed++ });
    world.isolate([a.host]);
    const started = world.nowMs;
    await assert.rejects(connected(world, a, b.host.ip, 80), /ETIMEDOUT/);
    assert.ok(world.nowMs - started >= world.network.connectTimeoutMs);
    conn.write(new Uint8Array([1]));
    await world.run(world.nowMs + 100);
    assert.equal(closed, 2, "both ends see the reset");
    assert.equal(world.stats.tcpResets, 1);
  });

  it("a crash silences the process at once; its peers see a reset; a restart starts afresh", async () => {
    const world = new World({ seed: SEED });
    const a = world.addHost("a").start();
    const bHost = world.addHost("b");
    const b = bHost.start();
    const fired: string[] = [];
    b.timers.setInterval(() => fired.push("b tick"), 10);
    await b.listenTcp({ hostname: bHost.ip, port: 80 }, { onData: () => fired.push("b data") });
    await b.bindUdp({ hostname: bHost.ip, port: 80, onMessage: () => fired.push("b udp") });
    const conn = await connected(world, a, bHost.ip, 80, {
      onData() {},
      onClose: () => fired.push("a sees close"),
    });
    fired.length = 0;
    bHost.crash();
    conn.write(new Uint8Array([1]));
    await world.run(world.nowMs + 100);
    assert.deepEqual(fired, ["a sees close"]);
    const again = bHost.start();
    await again.bindUdp({ hostname: bHost.ip, port: 80, onMessage: () => fired.push("new b udp") });
    const udp = await a.bindUdp({ hostname: a.host.ip, port: 5, onMessage: () => {} });
    udp.send(new Uint8Array([1]), bHost.ip, 80);
    await world.run(world.nowMs + 100);
    assert.deepEqual(fired, ["a sees close", "new b udp"]);
    assert.equal(again.pid(), 2);
  });

  it("runs timers only, deliveries only, or one round of deliveries, for scripted steps", async () => {
    const world = new World({ seed: SEED });
    world.faulty = false; // every delivery takes exactly the minimum delay, 1 ms
    const a = world.addHost("a").start();
    const b = world.addHost("b").start();
    const log: string[] = [];
    const sa = await a.bindUdp({ hostname: a.host.ip, port: 1, onMessage: () => log.push("a") });
    await b.bindUdp({
      hostname: b.host.ip,
      port: 1,
      onMessage: () => {
        log.push("b");
        sa.send(new Uint8Array(1), a.host.ip, 1); // b answers a
      },
    });
    a.timers.setTimeout(() => log.push("timer"), 5);
    const sb = await a.bindUdp({ hostname: a.host.ip, port: 2, onMessage: () => {} });
    sb.send(new Uint8Array(1), b.host.ip, 1);
    world.ioRound();
    assert.deepEqual(log, ["b"], "the answer waits for the next round");
    world.runTimersUntil(10);
    assert.deepEqual(log, ["b", "timer"], "timers fire; the answer still waits");
    world.runIo();
    assert.deepEqual(log, ["b", "timer", "a"]);
  });

  it("lets promise chains of one event finish before the next event", async () => {
    const world = new World({ seed: SEED });
    const rt = world.addHost("h").start();
    const log: string[] = [];
    const sleep = (ms: number) => new Promise<void>((r) => rt.timers.setTimeout(r, ms));
    const task = async (name: string, ms: number) => {
      await sleep(ms);
      await Promise.resolve();
      await Promise.resolve();
      log.push(`${name}@${world.nowMs}`);
    };
    void task("x", 10);
    void task("y", 10);
    void task("z", 5);
    await world.run(100);
    assert.deepEqual(log, ["z@5", "x@10", "y@10"]);
  });
});

/** Connects and runs the world until the connect settles. */
async function connected(
  world: World,
  from: SimRuntime,
  hostname: string,
  port: number,
  handlers: Parameters<SimRuntime["connectTcp"]>[1] = { onData() {} },
): Promise<TcpConnection> {
  let settled = false;
  const promise = from.connectTcp({ hostname, port }, handlers).finally(() => (settled = true));
  while (!settled && world.nextEventAt() !== undefined) {
    await world.run(world.nextEventAt()!);
  }
  return promise;
}
