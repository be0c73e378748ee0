/** Permissions over HTTP are the dispatcher's alone, on every route that runs a command. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { CommandSpec } from "../../src/commands/types.ts";
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
  it("refuses a command on POST /, the path style and the subscribe streams exactly when the dispatcher's check refuses it for the token's role", async () => {
    const t = testApp(TOKENS);
    // Stands for a command table that refuses these to the readonly role (ACL categories).
    const refused = new Set(["publish", "memory", "subscribe", "psubscribe"]);
    const check = t.dispatcher.check.bind(t.dispatcher);
    t.dispatcher.check = (spec: CommandSpec | undefined, argv: string[], client) =>
      client.role === "readonly" && spec !== undefined && refused.has(spec.name)
        ? `NOPERM User ${client.user} has no permissions to run the '${spec.name}' command`
        : check(spec, argv, client);
    const publish = await t.call("POST", "/", { json: ["PUBLISH", "c", "m"], token: "ro-token" });
    assert.match(await errorOf(publish, 400), /^NOPERM .*'publish' command/);
    const purge = await t.call("GET", "/memory/purge", { token: "ro-token" });
    assert.match(await errorOf(purge, 400), /^NOPERM .*'memory' command/);
    for (const kind of ["subscribe", "psubscribe"]) {
      const stream = await t.call("GET", `/${kind}/c`, { token: "ro-token" });
      assert.match(await errorOf(stream, 400), new RegExp(`^NOPERM .*'${kind}' command`));
    }
    // The same commands with a readwrite token are the dispatcher's to run.
    const ok = await t.call("POST", "/", { json: ["PUBLISH", "c", "m"], token: "rw-token" });
    assert.deepEqual(await ok.json(), { result: 0 });
  });
});
