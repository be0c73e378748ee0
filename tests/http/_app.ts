/** An in-process HTTP app over a real keyspace and dispatcher, for `app.request` tests. */
import { Dispatcher } from "../../src/commands/dispatch.ts";
import { createCommandTable } from "../../src/commands/table.ts";
import { buildConfig } from "../../src/config/config.ts";
import { createHttpApp } from "../../src/http/app.ts";
import { Keyspace } from "../../src/keyspace/keyspace.ts";
import type { Runtime } from "../../src/runtime/types.ts";

export interface TestApp {
  app: ReturnType<typeof createHttpApp>;
  dispatcher: Dispatcher;
  keyspace: Keyspace;
  clock: { nowMs: number };
  /** What the dispatcher handed on for the AOF, in order. */
  propagated: string[][];
  /** `app.request` with a JSON body and the given token. */
  call(method: string, path: string, options?: CallOptions): Promise<Response>;
}

export interface CallOptions {
  json?: unknown;
  body?: string | Uint8Array;
  token?: string;
  headers?: Record<string, string>;
}

/** Builds an app from a raw config object (the parsed YAML shape). */
export function testApp(raw: Record<string, unknown> = {}): TestApp {
  const config = buildConfig({ node_id: "node-a", ...raw });
  const clock = { nowMs: 1_700_000_000_000 };
  const time = { monotonicMs: () => clock.nowMs, realtimeMs: () => clock.nowMs };
  const keyspace = new Keyspace(config.stores, time);
  const propagated: string[][] = [];
  const dispatcher = new Dispatcher(createCommandTable(), keyspace, {
    info: () =>
      "# Clients\r\nconnected_clients:3\r\nmaxclients:10000\r\n# Stats\r\ntotal_connections_received:7\r\n",
  }, { propagate: (_db, argv) => propagated.push(argv) });
  const runtime = { clock: time } as unknown as Runtime;
  const app = createHttpApp({ config, dispatcher, runtime, startedMs: clock.nowMs });
  const call = (method: string, path: string, options: CallOptions = {}) => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    let body: BodyInit | undefined = options.body as BodyInit | undefined;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers["content-type"] ??= "application/json";
    }
    return Promise.resolve(app.request(path, { method, headers, body }));
  };
  return { app, dispatcher, keyspace, clock, call, propagated };
}
