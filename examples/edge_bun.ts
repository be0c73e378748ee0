/**
 * HyperCache's HTTP API served by Bun.serve from an in-process cache: `bun examples/edge_bun.ts`
 * (PORT sets the port, 8080 by default).
 */
import process from "node:process";
import { createCache } from "../mod.ts";

const cache = await createCache({ maxMemory: "64mb", evictionPolicy: "allkeys-lru" });
// deno-lint-ignore no-explicit-any -- Bun's global, absent from Deno's types.
(globalThis as any).Bun.serve({ port: Number(process.env.PORT ?? 8080), fetch: cache.fetch });
