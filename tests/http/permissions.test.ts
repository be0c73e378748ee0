/** Permissions over HTTP are the dispatcher's alone, on every route that runs a command. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { testApp } from "./_app.ts";

const TOKENS = {
  http: {
    tokens: [{ token: "rw-token", role: "readwrite" }, { token: "ro-token", role: "readonly" }],
  },
};

/** The `{"error"}` of a response, after checking its status. */
async function errorOf(res: Response, status: number): Promise<string> {
  const text = await res.text();
  assert.equal(res.status, status, text);
  return JSON.parse(text).error;
}

describe("HTTP API: permissions are the dispatcher's", () => {
  it("a read-only token gets NOPERM for PUBLISH and MEMORY PURGE, by the command table's ACL categories, and may subscribe", async () => {
    const t = testApp(TOKENS);
    const publish = await t.call("POST", "/", { json: ["PUBLISH", "c", "m"], token: "ro-token" });
    assert.match(await errorOf(publish, 400), /^NOPERM .*'publish' command/);
    const purge = await t.call("GET", "/memory/purge", { token: "ro-token" });
    assert.match(await errorOf(purge, 400), /^NOPERM .*'memory\|purge' command/);
    // Subscribing is reading: the readonly role may (its rules name SUBSCRIBE and PSUBSCRIBE).
    for (const kind of ["subscribe", "psubscribe"]) {
      const stream = await t.call("GET", `/${kind}/c`, { token: "ro-token" });
      // This in-process app has no pub/sub hub (503); what matters is that no NOPERM came back.
      assert.doesNotMatch(await stream.text(), /NOPERM/);
    }
    // The same commands with a readwrite token are the dispatcher's to run.
    const ok = await t.call("POST", "/", { json: ["PUBLISH", "c", "m"], token: "rw-token" });
    assert.deepEqual(await ok.json(), { result: 0 });
  });
});
