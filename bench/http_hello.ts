/**
 * Bare HTTP servers, the baselines the HTTP API is compared with in `bench/http.sh`. Runs on Deno
 * (`Deno.serve`) and on Bun (`Bun.serve`). Usage: http_hello.ts <port> [hello|hono]
 *
 * - `hello`: the runtime's server answering `new Response("hello")` to everything;
 * - `hono`: a bare Hono app (no middleware) answering `c.text("hello")` on
 *   `GET /api/cache/:key`, so the difference to `hello` is what Hono itself costs.
 */
import { Hono } from "hono";

const args = (globalThis as { Deno?: { args: string[] } }).Deno?.args ?? process.argv.slice(2);
const port = Number(args[0]);
const mode = args[1] ?? "hello";
let fetch: (request: Request) => Response | Promise<Response>;
if (mode === "hono") {
  const app = new Hono();
  app.get("/api/cache/:key", (c) => c.text("hello"));
  fetch = app.fetch;
} else {
  fetch = () => new Response("hello");
}
const bun = (globalThis as { Bun?: { serve(o: unknown): unknown } }).Bun;
if (bun) bun.serve({ hostname: "127.0.0.1", port, fetch });
else Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, fetch);
console.log(`${mode} on 127.0.0.1:${port}`);
