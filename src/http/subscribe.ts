/**
 * Pub/sub over server-sent events, as Upstash serves it: `GET|POST /subscribe/{channel}` and
 * `/psubscribe/{pattern}` stream `data: subscribe,<channel>,1`, then `data: message,<channel>,<msg>`
 * (or `pmessage,<pattern>,<channel>,<msg>`) for every PUBLISH, from RESP or HTTP alike. The
 * stream subscribes to the node's one pub/sub hub; a closed or too slow client is dropped. The
 * dispatcher decides whether the token's role may SUBSCRIBE (or PSUBSCRIBE), as for any command:
 * a refusal is the Upstash-style `{"error": "NOPERM ..."}` with HTTP 400.
 *
 * @module
 */
import type { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import type { Subscriber } from "../commands/pubsub.ts";
import { type HttpEnv, jsonError, roleOf } from "./_env.ts";
import { bytesToUtf8, utf8ToBytes } from "./_text.ts";
import type { HttpExecutor } from "./executor.ts";

/** A comment line this often keeps idle streams open (Bun closes idle connections after 10 s). */
const HEARTBEAT_MS = 5_000;
/** Messages queued for a client that does not read before its stream is closed. */
const MAX_QUEUED_MESSAGES = 10_000;

/** Adds the subscribe routes; register them before the path-style command routes. */
export function addSubscribeRoutes(app: Hono<HttpEnv>, executor: HttpExecutor): void {
  const dispatcher = executor.dispatcher;
  for (
    const [path, byPattern] of [["/subscribe/:name", false], ["/psubscribe/:name", true]] as const
  ) {
    const command = byPattern ? "psubscribe" : "subscribe";
    app.on(["GET", "POST"], path, (c) => {
      const name = utf8ToBytes(c.req.param("name"));
      const refused = executor.checkAsConnection(executor.client(roleOf(c), 0), [command, name]);
      if (refused !== null) return jsonError(c, 400, bytesToUtf8(refused));
      const hub = dispatcher.server.pubsub?.hub;
      if (hub === undefined) return jsonError(c, 503, "ERR pub/sub is not available on this node");
      return streamSSE(c, async (stream) => {
        const queue: string[] = [];
        let closed = false;
        let wake: (() => void) | null = null;
        const subscriber: Subscriber = {
          channels: new Set(),
          patterns: new Set(),
          deliver(channel, message, pattern) {
            if (queue.length >= MAX_QUEUED_MESSAGES) {
              // A reader this slow would make the server hold messages without bound.
              closed = true;
            } else {
              const text = pattern === null
                ? `message,${channel},${message}`
                : `pmessage,${pattern},${channel},${message}`;
              queue.push(bytesToUtf8(text));
            }
            wake?.();
          },
        };
        if (byPattern) hub.psubscribe(subscriber, name);
        else hub.subscribe(subscriber, name);
        stream.onAbort(() => {
          closed = true;
          wake?.();
        });
        try {
          await stream.writeSSE({ data: `${command},${bytesToUtf8(name)},1` });
          while (!closed) {
            if (queue.length === 0) {
              await new Promise<void>((resolve) => {
                wake = resolve;
                setTimeout(resolve, HEARTBEAT_MS);
              });
              wake = null;
              if (queue.length === 0 && !closed) await stream.write(": heartbeat\n\n");
              continue;
            }
            while (queue.length > 0 && !closed) await stream.writeSSE({ data: queue.shift()! });
          }
        } finally {
          hub.drop(subscriber);
        }
      });
    });
  }
}
