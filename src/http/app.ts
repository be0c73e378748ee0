/**
 * The HTTP API, built with Hono. It reaches the keyspace only through the command table.
 *
 * - `GET /health` (liveness), `GET /ready` (readiness), `GET /metrics` (Prometheus text);
 * - the REST routes under `/api/` (see `cache.ts`);
 * - the Upstash-compatible command API: `POST /`, `/pipeline`, `/multi-exec`, path-style
 *   `/{command}/{args...}` (see `upstash.ts`);
 * - pub/sub over server-sent events: `/subscribe/{channel}`, `/psubscribe/{pattern}`.
 *
 * Middleware are Hono's own: request-id, secure-headers, cors (when origins are configured),
 * method-not-allowed, body-limit and bearer-auth, plus ours for the request target, the header
 * fields and the method (`limits.ts`). Every error, 404, 405, 414, 431 and 501 included, is JSON:
 * `{"error": "..."}`.
 *
 * @module
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { HTTPException } from "hono/http-exception";
import { methodNotAllowed } from "hono/method-not-allowed";
import { requestId } from "hono/request-id";
import { secureHeaders } from "hono/secure-headers";
import type { Dispatcher } from "../commands/dispatch.ts";
import type { NodeConfig } from "../config/config.ts";
import type { Persistence } from "../persistence/persistence.ts";
import type { Runtime } from "../runtime/types.ts";
import { VERSION } from "../version.ts";
import { type HttpEnv, jsonError, methodNotAllowedJson } from "./_env.ts";
import { authMiddleware } from "./auth.ts";
import { addCacheRoutes } from "./cache.ts";
import { HttpExecutor } from "./executor.ts";
import type { Durability } from "../server/server.ts";
import { requestLimits } from "./limits.ts";
import { metricsText } from "./metrics.ts";
import { addSubscribeRoutes } from "./subscribe.ts";
import { addCommandRoutes } from "./upstash.ts";

/** What the HTTP API needs from the node. */
export interface HttpDeps {
  config: NodeConfig;
  dispatcher: Dispatcher;
  runtime: Runtime;
  startedMs: number;
  /** The node's persistence, for `/ready`; absent when the append-only file is off. */
  persistence?: Persistence | null;
  /** Under `appendfsync always`: writes are acknowledged once durable, as over RESP. */
  durability?: Durability;
}

/** Builds the Hono app; `app.request("/health")` works in tests without a server. */
export function createHttpApp(deps: HttpDeps): Hono<HttpEnv> {
  const { config, dispatcher, runtime } = deps;
  const http = config.http;
  const executor = new HttpExecutor(
    dispatcher,
    () => runtime.clock.realtimeMs(),
    deps.durability,
  );
  const app = new Hono<HttpEnv>();

  app.notFound((c) => jsonError(c, 404, "Not Found", { path: c.req.path }));
  app.onError((error, c) => {
    if (error instanceof HTTPException) {
      const res = error.getResponse();
      if (res.headers.get("content-type")?.startsWith("application/json")) return res;
      return jsonError(c, error.status as 400, error.message || res.statusText || "Error");
    }
    return jsonError(c, 500, `ERR internal error: ${(error as Error).message}`);
  });

  // Ids are a per-process random prefix plus a counter: unique, and much cheaper per request
  // than the default crypto.randomUUID() (measured: about 3 us of a 13 us GET in-process).
  const idPrefix = crypto.randomUUID().slice(0, 8);
  let requestCount = 0;
  app.use(requestId({ generator: () => `${idPrefix}-${(++requestCount).toString(36)}` }));
  // The headers a JSON API needs (OWASP's REST list); the browser-page ones cost a header write
  // each on every response and protect nothing here.
  app.use(secureHeaders({
    crossOriginEmbedderPolicy: false,
    crossOriginOpenerPolicy: false,
    crossOriginResourcePolicy: false,
    originAgentCluster: false,
    strictTransportSecurity: false,
    xDnsPrefetchControl: false,
    xDownloadOptions: false,
    xPermittedCrossDomainPolicies: false,
    xXssProtection: false,
  }));
  if (http.corsOrigins.length > 0) {
    app.use(cors({
      origin: http.corsOrigins.includes("*") ? "*" : http.corsOrigins,
      allowHeaders: ["Authorization", "Content-Type", "Upstash-Encoding"],
      exposeHeaders: ["X-Request-Id"],
    }));
  }
  // After cors, so that a browser can read these errors too.
  app.use(requestLimits());
  app.use(methodNotAllowed({
    app,
    onMethodNotAllowed: methodNotAllowedJson,
  }));
  // body-limit only on the routes that read a body: a GET pays nothing for it.
  const limit = bodyLimit({
    maxSize: http.maxBodyBytes,
    onError: (c) =>
      jsonError(c, 413, `Payload Too Large: the body exceeds ${http.maxBodyBytes} bytes`),
  });
  // With no token configured there is nothing to check: no auth middleware at all, and handlers
  // run as readwrite (`roleOf`).
  const auth = authMiddleware(http.tokens, config.requirePass);
  if (auth !== null) app.use(auth);

  app.get("/health", (c) =>
    c.json({
      status: "ok",
      node: config.nodeId,
      uptime_seconds: Math.floor((runtime.clock.realtimeMs() - deps.startedMs) / 1000),
      version: VERSION,
    }));
  // The node starts serving HTTP only after persistence has loaded the data directory, so a
  // node that answers has loaded; it is not ready while the AOF refuses writes (MISCONF).
  app.get("/ready", (c) => {
    const persistence = deps.persistence ?? null;
    const error = persistence === null ? null : persistence.aof.error;
    return c.json({
      status: error === null ? "ready" : "unavailable",
      node: config.nodeId,
      loaded: true,
      persistence: persistence === null ? "none" : error === null ? "ok" : "error",
      aof_last_write_error: error,
      rdb_last_bgsave_error: persistence?.lastRewriteError ?? null,
    }, error === null ? 200 : 503);
  });
  app.get(
    "/metrics",
    (c) =>
      c.text(
        metricsText(dispatcher, executor.client("admin", 0), deps.persistence?.aof.stats),
        200,
        {
          "Content-Type": "text/plain; version=0.0.4; charset=utf-8",
        },
      ),
  );

  // The cluster as this node has applied it: members, their state and slots, the epoch, and
  // what is moving.
  app.get("/api/cluster", (c) => {
    const cluster = dispatcher.server.cluster;
    if (cluster === undefined) return c.json({ enabled: false, node: config.nodeId });
    const counters = Object.fromEntries(cluster.counters());
    return c.json({
      enabled: true,
      node: config.nodeId,
      state: cluster.ok ? "ok" : "fail",
      epoch: cluster.epoch,
      members: cluster.nodes().map((n) => ({
        id: n.name,
        cluster_id: n.hexId,
        host: n.host,
        port: n.port,
        bus_port: n.busPort,
        self: n.self,
        state: n.failed ? "failed" : "alive",
        slots: n.ranges.reduce((sum, [a, b]) => sum + b - a + 1, 0),
        ranges: n.ranges,
      })),
      migrating_slots: counters.cluster_migrating_slots,
      counters,
    });
  });
  addCacheRoutes(app, executor, config, limit);
  addSubscribeRoutes(app, executor);
  addCommandRoutes(app, executor, 0, limit, config.cluster.enabled ? config.nodeId : null);
  return app;
}
