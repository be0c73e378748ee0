/**
 * The keyevent notifications a script raises, on both sides: a reference redis-server with a
 * subscriber of its own, and the node's dispatcher turning its `written` output into events as
 * node.ts does. Each as `__keyevent@<db>__:<event> <key>` lines, in order.
 */
import type { Buffer } from "node:buffer";
import { connect, type Socket } from "node:net";
import { Dispatcher } from "../../src/commands/dispatch.ts";
import { keyspaceEvents } from "../../src/commands/events.ts";
import { createCommandTable } from "../../src/commands/table.ts";
import { internalClient } from "../../src/commands/types.ts";
import { Keyspace } from "../../src/keyspace/keyspace.ts";
import { RespDecoder } from "../../src/resp/decoder.ts";
import { ReplyWriter } from "../../src/resp/writer.ts";
import type { ReferenceRedis } from "./_redis_reference.ts";
import { RawClient } from "../e2e/_raw_client.ts";

/** Subscribes to every keyevent of a redis-server, over a connection of its own. */
async function subscribe(port: number): Promise<{ socket: Socket; events: () => string[] }> {
  const socket = await new Promise<Socket>((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => resolve(socket));
    socket.on("error", reject);
  });
  const decoder = new RespDecoder();
  const messages: unknown[][] = [];
  let subscribed: () => void;
  const ready = new Promise<void>((resolve) => (subscribed = resolve));
  socket.on("data", (chunk: Buffer) => {
    for (const message of decoder.feed(chunk) as unknown[][]) {
      if (message[0] === "psubscribe") subscribed();
      else messages.push(message);
    }
  });
  socket.write("*2\r\n$10\r\nPSUBSCRIBE\r\n$11\r\n__keyevent*\r\n");
  await ready;
  return { socket, events: () => messages.map((m) => `${m[2]} ${m[3]}`) };
}

/** The keyevents redis-server raises for `script` (run as it is, on its current data). */
export async function redisEvents(redis: ReferenceRedis, script: string[][]): Promise<string[]> {
  await redis.run("CONFIG", "SET", "notify-keyspace-events", "KEA");
  const subscriber = await subscribe(redis.port);
  try {
    for (const argv of script) await redis.run(...argv);
    // A marker after the script: every event of it is in once the marker's is.
    await redis.run("SET", "end", "1");
    while (!subscriber.events().includes("__keyevent@0__:set end")) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  } finally {
    subscriber.socket.destroy();
    await redis.run("CONFIG", "SET", "notify-keyspace-events", "");
  }
  return subscriber.events().slice(0, -1);
}

/** The keyevents the node's dispatcher raises for `script` on an empty keyspace. */
export function dispatcherEvents(script: string[][], realtimeMs = 0): string[] {
  const keyspace = new Keyspace([{
    name: "default",
    maxMemoryBytes: 0,
    evictionPolicy: "noeviction",
    defaultTtlMs: 0,
  }], { monotonicMs: () => 0, realtimeMs: () => realtimeMs });
  const events: string[] = [];
  const dispatcher = new Dispatcher(createCommandTable(), keyspace, { info: () => "" }, {
    written: (db, spec, argv, record) => {
      const exists = (key: string) => keyspace.stores[db].lookup(key, false) !== undefined;
      for (const [, event, key] of keyspaceEvents(spec, argv, exists, record)) {
        events.push(`__keyevent@${db}__:${event} ${key}`);
      }
    },
  });
  const client = internalClient();
  const out = new ReplyWriter();
  for (const argv of script) dispatcher.execute(client, out, argv);
  return events;
}

/** The keyspace notifications (every class, `new` too) a subscriber gets for `commands`. */
export async function subscriberNotifications(
  port: number,
  commands: string[][],
): Promise<string[]> {
  const writer = await RawClient.open(port);
  const subscriber = await RawClient.open(port);
  try {
    writer.send("FLUSHALL");
    writer.send("CONFIG", "SET", "notify-keyspace-events", "KEAn");
    await writer.take(2);
    subscriber.send("PSUBSCRIBE", "__key*__:*");
    await subscriber.take(1);
    for (const argv of commands) writer.send(...argv);
    await writer.take(commands.length);
    // A PING behind the commands: its reply comes after every notification they raised.
    subscriber.send("PING");
    const received: string[] = [];
    for (;;) {
      const [message] = await subscriber.take(1) as unknown[][];
      if (message === undefined || message[0] === "pong") break;
      received.push(`${message[2]} ${message[3]}`);
    }
    return received;
  } finally {
    writer.send("CONFIG", "SET", "notify-keyspace-events", "");
    await writer.take(1);
    writer.close();
    subscriber.close();
  }
}
