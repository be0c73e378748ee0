/**
 * Under `appendfsync always`, an HTTP write is acknowledged only once durable, as a RESP write
 * is: an in-process node whose file adapter holds every fsync until the test lets it go.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildConfig } from "../../src/config/config.ts";
import { startNode } from "../../src/node.ts";
import { currentRuntime } from "../../src/runtime/mod.ts";
import type { FileHandle, Runtime } from "../../src/runtime/types.ts";

/** The real runtime, whose fsyncs wait while `gate.closed`. */
function gatedRuntime(base: Runtime) {
  const gate = { closed: false, waiting: [] as (() => void)[], syncs: 0 };
  const fs = {
    ...base.fs,
    async open(path: string, mode: "a" | "w" | "r+"): Promise<FileHandle> {
      const file = await base.fs.open(path, mode);
      return {
        write: (data) => file.write(data),
        datasync: async () => {
          if (gate.closed) await new Promise<void>((resolve) => gate.waiting.push(resolve));
          gate.syncs++;
          return file.datasync();
        },
        size: () => file.size(),
        truncate: (size) => file.truncate(size),
        close: () => file.close(),
      };
    },
  };
  const open = () => {
    gate.closed = false;
    for (const wake of gate.waiting.splice(0)) wake();
  };
  return { runtime: { ...base, fs }, gate, open };
}

describe("HTTP writes under appendfsync always", () => {
  it("answer only after the fsync that makes them durable", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "hc-http-fsync-"));
    const { runtime, gate, open } = gatedRuntime(await currentRuntime());
    const config = buildConfig({
      port: 0,
      data_dir: dataDir,
      http: { enabled: true, port: 0 },
      persistence: { appendonly: "yes", appendfsync: "always" },
    });
    const node = await startNode(config, runtime);
    try {
      const base = `http://127.0.0.1:${node.http!.port}`;
      gate.closed = true;
      let answered = false;
      const put = fetch(`${base}/api/cache/k`, {
        method: "PUT",
        body: JSON.stringify({ value: "v" }),
        headers: { "content-type": "application/json" },
      }).then(async (res) => {
        answered = true;
        return { status: res.status, body: await res.json() };
      });
      const command = fetch(`${base}/`, {
        method: "POST",
        body: JSON.stringify(["INCR", "n"]),
      }).then((res) => res.json());
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(answered, false, "no answer while the fsync is held");
      // A read needs no fsync: it is answered meanwhile.
      const read = await (await fetch(`${base}/api/cache/k`)).json();
      assert.equal(read.value, "v");
      open();
      const { status, body } = await put;
      assert.equal(status, 200);
      assert.equal(body.stored, true);
      assert.deepEqual(await command, { result: 1 });
      assert.ok(gate.syncs > 0);
    } finally {
      open();
      await node.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
