import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildConfig } from "../../src/config/config.ts";
import { startNode } from "../../src/node.ts";
import { currentRuntime } from "../../src/runtime/mod.ts";
import type { FileHandle, Runtime } from "../../src/runtime/types.ts";
import { RespClient } from "./_resp_client.ts";

/** The real runtime, whose AOF files fail their writes (as a full disk does) while `failing`. */
function faultyRuntime(base: Runtime): { runtime: Runtime; disk: { failing: boolean } } {
  const disk = { failing: false };
  const fs = {
    ...base.fs,
    async open(path: string, mode: "a" | "w" | "r+"): Promise<FileHandle> {
      const file = await base.fs.open(path, mode);
      return {
        write: (data) =>
          disk.failing
            ? Promise.reject(new Error("ENOSPC: no space left on device, write"))
            : file.write(data),
        datasync: () => file.datasync(),
        size: () => file.size(),
        truncate: (size) => file.truncate(size),
        close: () => file.close(),
      };
    },
  };
  return { runtime: { ...base, fs }, disk };
}

const until = async (condition: () => boolean, what: string) => {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(condition(), `timed out waiting for ${what}`);
};

describe("disk write errors (fault injection in the file adapter)", () => {
  it(
    "refuses writes with MISCONF naming the cause, serves reads, releases the held reply once the disk works, loses nothing",
    async () => {
      const dataDir = await mkdtemp(join(tmpdir(), "hc-diskerr-"));
      const { runtime, disk } = faultyRuntime(await currentRuntime());
      const config = buildConfig({
        port: 0,
        data_dir: dataDir,
        http: { enabled: false },
        persistence: { appendonly: "yes", appendfsync: "always" },
      });
      let node = await startNode(config, runtime);
      try {
        const client = await RespClient.open(node.resp.port);
        assert.equal(await client.send("SET", "before", "1"), "OK");

        disk.failing = true;
        let heldReply: unknown = "pending";
        const held = client.send("SET", "during", "2").then((reply) => (heldReply = reply));
        await until(() => node.persistence!.aof.error !== null, "the AOF error state");
        assert.equal(heldReply, "pending", "the failed write is not acknowledged");

        const other = await RespClient.open(node.resp.port);
        const refused = await other.send("SET", "refused", "3");
        assert.ok(refused instanceof Error);
        assert.match(refused.message, /^MISCONF .*ENOSPC: no space left on device/);
        assert.equal(await other.send("GET", "before"), "1", "reads continue");
        const info = String(await other.send("INFO", "persistence"));
        assert.match(info, /aof_last_write_status:err/);

        disk.failing = false;
        await held;
        assert.equal(heldReply, "OK", "the held reply goes out once the record is durable");
        await until(() => node.persistence!.aof.error === null, "the AOF to recover");
        assert.equal(await other.send("SET", "after", "4"), "OK", "writes are accepted again");
        client.close();
        other.close();
        await node.stop();

        node = await startNode(config, runtime);
        const reader = await RespClient.open(node.resp.port);
        assert.deepEqual(
          await reader.send("MGET", "before", "during", "refused", "after"),
          ["1", "2", null, "4"],
          "every acknowledged write is there; the refused one is not",
        );
        reader.close();
      } finally {
        await node.stop();
        await rm(dataDir, { recursive: true, force: true });
      }
    },
  );
});
