/**
 * A gossip member as a process, for demos, end-to-end tests and benchmarks.
 *
 *   deno run -A examples/gossip-node.ts --id a --port 7946 --profile local
 *   deno run -A examples/gossip-node.ts --id b --port 7947 --seeds 127.0.0.1:7946 --key <base64>
 *
 * Prints one JSON line per event on stdout (`ready`, `join`, `leave`, `fail`, `update`, `user`,
 * `members`, `stats`, `left`) with `t`, milliseconds on the wall clock. `--loss 0.05` drops 5% of
 * incoming datagrams (fault injection for benchmarks). Reads commands on stdin:
 * `event <name> <payload>`, `meta <text>`, `members`, `stats`, `block <ms>` (busy-waits, blocking
 * the event loop), `leave`. SIGTERM or SIGINT leaves
 * gracefully, then exits.
 */
import { startGossip } from "../src/gossip/driver.ts";
import { Keyring } from "../src/gossip/keyring.ts";
import type { GossipProfile } from "../src/gossip/config.ts";
import type { Address } from "../src/gossip/types.ts";
import { currentRuntime, type Runtime } from "../src/runtime/mod.ts";

function parseFlags(args: string[]): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith("--")) continue;
    const eq = arg.indexOf("=");
    if (eq > 0) flags.set(arg.slice(2, eq), arg.slice(eq + 1));
    else flags.set(arg.slice(2), args[++i] ?? "");
  }
  return flags;
}

function parseSeeds(text: string | undefined): Address[] {
  if (text === undefined || text === "") return [];
  return text.split(",").map((s) => {
    const at = s.lastIndexOf(":");
    return { host: s.slice(0, at), port: Number(s.slice(at + 1)) };
  });
}

function print(record: Record<string, unknown>): void {
  console.log(JSON.stringify({ t: Date.now(), ...record }));
}

const realRuntime = await currentRuntime();
const flags = parseFlags(realRuntime.args());
// --loss p drops that fraction of incoming datagrams: injected packet loss for benchmarks.
const lossRate = Number(flags.get("loss") ?? 0);
const runtime: Runtime = lossRate > 0 ? withLoss(realRuntime, lossRate) : realRuntime;

function withLoss(inner: Runtime, rate: number): Runtime {
  const lossy = Object.create(inner) as Runtime;
  lossy.bindUdp = (options) =>
    inner.bindUdp({
      ...options,
      onMessage(data, from) {
        if (Math.random() >= rate) options.onMessage(data, from);
      },
    });
  return lossy;
}
const id = flags.get("id") ?? "";
if (id === "") {
  console.error("Cannot start gossip node: '--id' is required");
  runtime.exit(2);
}
const key = flags.get("key");
const agent = await startGossip({
  id,
  port: Number(flags.get("port") ?? 0),
  bindHost: flags.get("bind") ?? "127.0.0.1",
  profile: (flags.get("profile") ?? "lan") as GossipProfile,
  keyring: key === undefined ? undefined : new Keyring([Keyring.parseKey(key)]),
  runtime,
});
agent.subscribe((event) => {
  if (event.type === "user") {
    print({
      event: "user",
      name: event.name,
      payload: new TextDecoder().decode(event.payload),
      origin: event.originId,
    });
  } else {
    print({ event: event.type, id: event.member.id, incarnation: event.member.incarnation });
  }
});
print({ event: "ready", id, port: agent.address.port });
const seeds = parseSeeds(flags.get("seeds"));
if (seeds.length > 0) print({ event: "joined", answered: await agent.join(seeds) });

let leaving = false;
async function leaveAndExit(): Promise<void> {
  if (leaving) return;
  leaving = true;
  await agent.leave();
  print({ event: "left", stats: agent.stats() });
  await agent.close();
  runtime.exit(0);
}
runtime.onSignal("SIGTERM", () => void leaveAndExit());
runtime.onSignal("SIGINT", () => void leaveAndExit());

const members = () =>
  agent.members().map((m) => ({ id: m.id, state: m.state, incarnation: m.incarnation }));

const decoder = new TextDecoderStream();
const stdin = (globalThis as { Deno?: { stdin: { readable: ReadableStream<Uint8Array> } } }).Deno
  ?.stdin.readable ??
  (await import("node:stream")).Readable.toWeb(
    (await import("node:process")).stdin,
  ) as ReadableStream<
    Uint8Array
  >;
let pending = "";
for await (const chunk of stdin.pipeThrough(decoder)) {
  pending += chunk;
  let nl;
  while ((nl = pending.indexOf("\n")) >= 0) {
    const line = pending.slice(0, nl).trim();
    pending = pending.slice(nl + 1);
    const [command, ...rest] = line.split(" ");
    if (command === "event") {
      agent.sendUserEvent(rest[0] ?? "event", new TextEncoder().encode(rest.slice(1).join(" ")));
    } else if (command === "meta") {
      agent.setMeta(new TextEncoder().encode(rest.join(" ")));
    } else if (command === "members") {
      print({ event: "members", members: members() });
    } else if (command === "stats") {
      print({ event: "stats", stats: agent.stats() });
    } else if (command === "block") {
      // Blocks the event loop, as a long synchronous task would: for the stall benchmark.
      const until = performance.now() + Number(rest[0] ?? 1000);
      while (performance.now() < until) { /* busy */ }
    } else if (command === "leave") {
      await leaveAndExit();
    }
  }
}
