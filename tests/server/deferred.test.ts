/**
 * A handler that defers its reply, over a real RESP server on the runtime's TCP: the replies of a
 * pipeline leave in command order whatever order the deferred ones complete in, and a deferred
 * reply cannot be taken inside a transaction.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CommandTable, createCommandTable } from "../../src/commands/table.ts";
import { command } from "../../src/commands/types.ts";
import { buildConfig } from "../../src/config/config.ts";
import { assembleNode } from "../../src/node.ts";
import { currentRuntime } from "../../src/runtime/mod.ts";
import { RespError } from "../../src/resp/decoder.ts";
import { mulberry32 } from "../_mulberry32.ts";
import { encodeCommand, RawClient } from "../e2e/_raw_client.ts";

/** `LATER ms value`: replies `value` after `ms`, as a forwarded command would. */
const later = command({
  name: "later",
  arity: 3,
  flags: ["readonly"],
  group: "server",
  summary: "Replies its value after a delay (tests).",
  handler: (ctx, argv) => {
    const reply = ctx.defer();
    setTimeout(() => reply.complete((out) => out.bulk(argv[2])), Number(argv[1]));
  },
});

/** A node assembled with `LATER` in its table; its RESP server listens on a free port. */
async function server() {
  const runtime = await currentRuntime();
  const config = buildConfig({ port: 0, http: { enabled: false } });
  const table = new CommandTable([...createCommandTable().specs, later]);
  const { resp } = await assembleNode(config, runtime, { table });
  await resp.start();
  return resp;
}

describe("deferred replies over RESP", () => {
  it("leave in command order among immediate ones, completing in random order (model, 30 seeds)", async () => {
    const resp = await server();
    try {
      for (let seed = 1; seed <= 30; seed++) {
        const random = mulberry32(seed);
        const client = await RawClient.open(resp.port);
        let text = "";
        const expected: unknown[] = [];
        const count = 5 + Math.floor(random() * 20);
        for (let i = 0; i < count; i++) {
          const value = `v${i}`;
          if (random() < 0.5) {
            text += encodeCommand(["LATER", String(Math.floor(random() * 20)), value]);
            expected.push(value);
          } else {
            text += encodeCommand(["ECHO", value]);
            expected.push(value);
          }
        }
        client.write(text);
        assert.deepEqual(await client.take(count), expected, `seed ${seed}`);
        client.close();
      }
    } finally {
      await resp.stop();
    }
  });

  it("is refused inside MULTI/EXEC, which stays atomic", async () => {
    const resp = await server();
    try {
      const client = await RawClient.open(resp.port);
      client.write(
        encodeCommand(["MULTI"]) + encodeCommand(["LATER", "5", "x"]) + encodeCommand(["EXEC"]),
      );
      const [multi, queued, exec] = await client.take(3);
      assert.equal(multi, "OK");
      assert.equal(queued, "QUEUED");
      assert.ok(Array.isArray(exec));
      assert.ok(exec[0] instanceof RespError);
      assert.match((exec[0] as RespError).message, /cannot wait inside a transaction/);
      client.close();
    } finally {
      await resp.stop();
    }
  });
});
