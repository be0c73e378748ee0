/**
 * Bare HTTP servers, the baselines the HTTP API is compared with in `bench/http.sh`. Runs on Deno
 * (`Deno.serve`) and on Bun (`Bun.serve`). Usage: http_hello.ts <port> [hello|hono]
 *
 * - `hello`: the runtime's server answering `new Response("hello")` to everything;
 * - `hono`: a bare Hono app (no middleware) answering `c.text("hello")` on
 *   `GET /api/cache/:key`, so the difference to `hello` is what Hono itself costs;
 * - `headers`: the runtime's server answering what the node's `GET /api/cache/bench:key` answers,
 *   the same JSON body and the same five headers (content type, request id, nosniff, frame
 *   options, referrer policy), with nothing behind it: the bound for any server sending them;
 * - `middleware`: as `headers`, doing what Hono's request-id and secure-headers middleware make the
 *   runtime do: read the request's `X-Request-Id`, and set the three security headers on the
 *   finished response (on Deno, touching a finished response's headers leaves its fastest path).
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
} else if (mode === "headers" || mode === "middleware") {
  const body = `{"key":"bench:key","value":"${"v".repeat(100)}","encoding":"utf8","ttl":null,` +
    `"store":"default","node":"node-1","primary":"node-1","local":true,"forwarded":false}`;
  let count = 0;
  const id = () => `3f2a9c1e-${(++count).toString(36)}`;
  fetch = mode === "headers"
    ? () =>
      new Response(body, {
        headers: {
          "content-type": "application/json",
          "x-request-id": id(),
          "x-content-type-options": "nosniff",
          "x-frame-options": "SAMEORIGIN",
          "referrer-policy": "no-referrer",
        },
      })
    : (request) => {
      const response = new Response(body, {
        headers: {
          "content-type": "application/json",
          "x-request-id": request.headers.get("x-request-id") ?? id(),
        },
      });
      response.headers.set("x-content-type-options", "nosniff");
      response.headers.set("x-frame-options", "SAMEORIGIN");
      response.headers.set("referrer-policy", "no-referrer");
      return response;
    };
} else {
  fetch = () => new Response("hello");
}
const bun = (globalThis as { Bun?: { serve(o: unknown): unknown } }).Bun;
if (bun) bun.serve({ hostname: "127.0.0.1", port, fetch });
else Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, fetch);
console.log(`${mode} on 127.0.0.1:${port}`);
