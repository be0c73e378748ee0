/**
 * Pub/sub over server-sent events, as Upstash serves it: `GET|POST /subscribe/{channel}` and
 * `/psubscribe/{pattern}` stream `data: subscribe,<channel>,1`, then `data: message,<channel>,<msg>`
 * (or `pmessage,<pattern>,<channel>,<msg>`) for every PUBLISH, from RESP or HTTP alike. The
 * stream subscribes to the node's one pub/sub hub; a closed or too slow client is dropped.
 *
 * @module
 */
import type { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import type { Dispatcher } from "../commands/dispatch.ts";
import type { Subscriber } from "../commands/pubsub.ts";
import { type HttpEnv, jsonError } from "./_env.ts";
import { bytesToUtf8, utf8ToBytes } from "./_text.ts";

/** A comment line this often keeps idle streams open (Bun closes idle connections after 10 s). */
const HEARTBEAT_MS = 5_000;
/** Messages queued for a client that does not read before its stream is closed. */
const MAX_QUEUED_MESSAGES = 10_000;

/** Adds the subscribe routes; register them before the path-style command routes. */
export function addSubscribeRoutes(app: Hono<HttpEnv>, dispatcher: Dispatcher): void {
  for (
    const [path, byPattern] of [["/subscribe/:name", false], ["/psubscribe/:name", true]] as const
  ) {
    app.on(["GET", "POST"], path, (c) => {
      const hub = dispatcher.server.pubsub?.hub;
      if (hub === undefined) return jsonError(c, 503, "ERR pub/sub is not available on this node");
      const name = utf8ToBytes(c.req.param("name"));
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
          const kind = byPattern ? "psubscribe" : "subscribe";
          await stream.writeSSE({ data: `${kind},${bytesToUtf8(name)},1` });
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
