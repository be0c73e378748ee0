/** An AOF replay is a loading call: it restores what was acknowledged whatever the limits. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { openNode, tempDir } from "./_node.ts";

/** Bytes of every AOF in `dir`. */
async function aofBytes(dir: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(dir)) {
    if (name.endsWith(".aof")) total += (await stat(join(dir, name))).size;
  }
  return total;
}

describe("loading the AOF", () => {
  it("restores every acknowledged key into a store whose memory limit is now lower (noeviction)", async () => {
    const dir = await tempDir();
    try {
      const node = await openNode(dir.path);
      for (let i = 0; i < 200; i++) node.run("SET", `k${i}`, "v".repeat(1000));
      await node.persistence.aof.waitDurable();
      await node.close();
      // 200 KB of values against a 64 KB limit: Redis ignores maxmemory while loading.
      const limited = await openNode(dir.path, {
        config: {
          stores: [{ name: "default", max_memory: "64kb", eviction_policy: "noeviction" }],
        },
      });
      assert.equal(limited.keyspace.store(0).size, 200);
      // Once loaded, the limit holds for new writes.
      assert.match(limited.run("SET", "new", "x"), /^-OOM /);
      await limited.close();
    } finally {
      await dir.remove();
    }
  });

  it("hands nothing on while replaying: the AOF it reads is not written again", async () => {
    const dir = await tempDir();
    try {
      const node = await openNode(dir.path);
      node.run("SET", "a", "1");
      node.run("INCR", "n");
      await node.persistence.aof.waitDurable();
      await node.close();
      const size = await aofBytes(dir.path);
      const again = await openNode(dir.path);
      assert.equal(again.run("GET", "n"), "$1\r\n1\r\n");
      await again.close();
      assert.equal(await aofBytes(dir.path), size, "replay appended nothing");
    } finally {
      await dir.remove();
    }
  });
});
