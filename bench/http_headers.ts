/**
 * What a response header costs: `new Response` with one header, with the five a HyperCache GET
 * reply carries (content type, request id, nosniff, frame options, referrer policy) as a record,
 * and as a `Headers` object filled with `set` (what Hono builds when middleware set headers).
 * Runs on Deno and Bun: `deno run bench/http_headers.ts`, `bun bench/http_headers.ts`.
 *
 * @module
 */
const N = 100_000;
const FIVE: Record<string, string> = {
  "content-type": "application/json",
  "x-request-id": "3f2a9c1e-1",
  "x-content-type-options": "nosniff",
  "x-frame-options": "SAMEORIGIN",
  "referrer-policy": "no-referrer",
};
const ONE = { "content-type": "application/json" };

function time(name: string, make: () => Response): void {
  const started = performance.now();
  for (let i = 0; i < N; i++) make();
  console.log(`${name.padEnd(34)} ${((performance.now() - started) / N * 1000).toFixed(2)} us`);
}

for (let round = 1; round <= 3; round++) {
  console.log(`round ${round}`);
  time("Response, 1 header (record)", () => new Response("{}", { status: 200, headers: ONE }));
  time("Response, 5 headers (record)", () => new Response("{}", { status: 200, headers: FIVE }));
  time("Response, 5 headers (Headers.set)", () => {
    const headers = new Headers();
    for (const name in FIVE) headers.set(name, FIVE[name]);
    return new Response("{}", { status: 200, headers });
  });
}
