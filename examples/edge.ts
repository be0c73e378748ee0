/**
 * HyperCache's HTTP API in a fetch handler: `deno serve examples/edge.ts` serves the REST routes,
 * the Upstash-compatible API and /metrics from an in-process cache, with no RESP listener.
 * On Bun: `bun examples/edge_bun.ts`.
 */
import { createCache } from "../mod.ts";

const cache = await createCache({ maxMemory: "64mb", evictionPolicy: "allkeys-lru" });

export default { fetch: cache.fetch };
