/**
 * A client blocked on a list key stays blocked when a transaction pushes to the key, deletes it
 * and re-creates it as another type (Redis 7.0 serves it only when a list is there when the
 * transaction ends), and is served by the next real push.
 */
import assert from "node:assert/strict";
import { buildConfig } from "../../src/config/config.ts";
import { assembleNode } from "../../src/node.ts";
import { currentRuntime } from "../../src/runtime/mod.ts";
import { RawClient } from "../e2e/_raw_client.ts";
import { timeLimited } from "../_time_limit.ts";

const { describe, it } = timeLimited(import.meta.url, 30_000);

describe("a blocked pop across a transaction that changes the key's type", () => {
  it("keeps BLPOP blocked through MULTI LPUSH, DEL, SET, EXEC, then serves the next push", async () => {
    const parts = await assembleNode(buildConfig({ port: 0, http: { enabled: false } }), {
      ...await currentRuntime(),
    });
    await parts.resp.start();
    const blocked = await RawClient.open(parts.resp.port);
    const writer = await RawClient.open(parts.resp.port);
    try {
      blocked.send("BLPOP", "jobs", "0");
      while (parts.resp.blockedCount < 1) await new Promise((r) => setTimeout(r, 5));
      for (
        const argv of [["MULTI"], ["LPUSH", "jobs", "a"], ["DEL", "jobs"], ["SET", "jobs", "x"]]
      ) {
        writer.send(...argv);
      }
      writer.send("EXEC");
      assert.deepEqual(await writer.take(5), ["OK", "QUEUED", "QUEUED", "QUEUED", [1, 1, "OK"]]);
      await blocked.waitFor(1, 100);
      assert.deepEqual(blocked.replies, [], "no reply: a string is there, not a list");
      assert.equal(parts.resp.blockedCount, 1);
      writer.send("DEL", "jobs");
      writer.send("RPUSH", "jobs", "b");
      assert.deepEqual(await writer.take(2), [1, 1]);
      assert.deepEqual(await blocked.take(1), [["jobs", "b"]]);
    } finally {
      blocked.close();
      writer.close();
      await parts.resp.stop();
    }
  });
});
