/**
 * A bare "hello" HTTP server, the baseline the HTTP API is compared with in `bench/http.sh`.
 * Runs on Deno (`Deno.serve`) and on Bun (`Bun.serve`). Usage: http_hello.ts <port>
 */
const port = Number((globalThis as { Deno?: { args: string[] } }).Deno?.args[0] ?? process.argv[2]);
const fetch = () => new Response("hello");
const bun = (globalThis as { Bun?: { serve(o: unknown): unknown } }).Bun;
if (bun) bun.serve({ hostname: "127.0.0.1", port, fetch });
else Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, fetch);
console.log(`hello on 127.0.0.1:${port}`);
