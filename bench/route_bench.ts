/**
 * What the routing step costs a cluster node in process: `Dispatcher.execute` of SET (100 B
 * values) and GET over 100,000 keys, without a router (a single node) and with a
 * `ClusterRouter` whose map gives every slot to this node, so every command runs here as a
 * cluster node's own keys do. Both dispatchers are built and measured in alternation in one
 * process; each figure is the best of 8 rounds of 1M commands, and the difference is the routing
 * step (key slot, owner, quorum and migration checks).
 *
 * Usage: deno run -A bench/route_bench.ts   (or: bun bench/route_bench.ts)
 *
 * @module
 */
import { ClusterRouter, type RouterHooks } from "../src/cluster/router.ts";
import { ClusterState, encodeCommand, planSlots, raftIdOf } from "../src/cluster/state.ts";
import { Dispatcher } from "../src/commands/dispatch.ts";
import { createCommandTable } from "../src/commands/table.ts";
import { internalClient } from "../src/commands/types.ts";
import { Keyspace } from "../src/keyspace/mod.ts";
import { ReplyWriter } from "../src/resp/writer.ts";

const KEYS = 100_000;
const OPS = 1_000_000;
const ROUNDS = 8;

const clock = { monotonicMs: () => 1_000, realtimeMs: () => 1_700_000_000_000 };

/** A router over a one-member map: every slot is this node's, as for its own keys. */
function ownAllRouter(): ClusterRouter {
  const state = new ClusterState();
  const self = {
    id: "n1",
    raftId: raftIdOf("n1"),
    host: "127.0.0.1",
    port: 7001,
    httpPort: 0,
    busPort: 17001,
    gossipPort: 27001,
    zone: "",
    weight: 1,
  };
  state.apply(encodeCommand({ op: "member", member: self }));
  state.apply(
    encodeCommand({ op: "slots", expectEpoch: state.epoch, map: planSlots(state, [self])! }),
  );
  const unused = () => {
    throw new Error("not reached: every slot is this node's");
  };
  const hooks: RouterHooks = {
    inQuorum: () => true,
    isFailed: () => false,
    forward: unused,
    forwardTransaction: unused,
    exists: () => true,
    sending: () => false,
    runHere: unused,
  };
  return new ClusterRouter(state, "n1", hooks);
}

function dispatcher(routed: boolean): Dispatcher {
  const keyspace = new Keyspace([
    { name: "default", maxMemoryBytes: 0, evictionPolicy: "noeviction", defaultTtlMs: 0 },
  ], clock);
  return new Dispatcher(
    createCommandTable(),
    keyspace,
    { info: () => "" },
    { propagate: () => {} },
    routed ? ownAllRouter() : null,
  );
}

const value = "v".repeat(100);
const keys = Array.from({ length: KEYS }, (_, i) => `key:${i}`);

/** Best ns per command of `ROUNDS` rounds of `OPS` commands made by `argv`. */
function measure(target: Dispatcher, argv: (key: string) => string[]): number {
  const client = internalClient({ id: 1, remoteAddress: "bench" });
  const out = new ReplyWriter();
  let best = Infinity;
  for (let round = 0; round < ROUNDS; round++) {
    const start = performance.now();
    for (let i = 0; i < OPS; i++) {
      target.execute(client, out, argv(keys[i % KEYS]));
      if ((i & 63) === 0) out.take();
    }
    best = Math.min(best, ((performance.now() - start) * 1e6) / OPS);
  }
  return best;
}

for (const routed of [false, true, false, true]) {
  const target = dispatcher(routed);
  const set = measure(target, (key) => ["SET", key, value]);
  const get = measure(target, (key) => ["GET", key]);
  console.log(
    `${routed ? "cluster router" : "no router     "}  SET ${set.toFixed(0)} ns  GET ${
      get.toFixed(0)
    } ns`,
  );
}
