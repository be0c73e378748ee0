/**
 * The HTTP API, built with Hono. It reaches the keyspace only through the command table.
 *
 * @module
 */
import { Hono } from "hono";
import type { Dispatcher } from "../commands/dispatch.ts";
import type { NodeConfig } from "../config/config.ts";
import type { Runtime } from "../runtime/types.ts";
import { VERSION } from "../version.ts";

/** What the HTTP API needs from the node. */
export interface HttpDeps {
  config: NodeConfig;
  dispatcher: Dispatcher;
  runtime: Runtime;
  startedMs: number;
}

/** Builds the Hono app; `app.request("/health")` works in tests without a server. */
export function createHttpApp(deps: HttpDeps): Hono {
  const app = new Hono();
  app.get("/health", (c) =>
    c.json({
      status: "ok",
      node: deps.config.nodeId,
      uptime_seconds: Math.floor((deps.runtime.clock.realtimeMs() - deps.startedMs) / 1000),
      version: VERSION,
    }));
  return app;
}
