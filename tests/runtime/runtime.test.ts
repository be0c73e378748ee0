import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { currentRuntime } from "../../src/runtime/mod.ts";
import type { TcpConnection } from "../../src/runtime/types.ts";

describe("runtime adapter", () => {
  it("echoes bytes over TCP, including a payload larger than one socket buffer", async () => {
    const runtime = await currentRuntime();
    const listener = await runtime.listenTcp({ hostname: "127.0.0.1", port: 0 }, {
      onData(conn, bytes) {
        conn.write(bytes);
      },
    });
    const payload = new Uint8Array(4 * 1024 * 1024);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 31) & 0xff;
    const received: Uint8Array[] = [];
    let receivedBytes = 0;
    const done = Promise.withResolvers<void>();
    const client: TcpConnection = await runtime.connectTcp({
      hostname: "127.0.0.1",
      port: listener.port,
    }, {
      onData(_conn, bytes) {
        received.push(bytes.slice());
        receivedBytes += bytes.length;
        if (receivedBytes === payload.length) done.resolve();
      },
    });
    client.write(payload);
    await done.promise;
    const joined = new Uint8Array(receivedBytes);
    let offset = 0;
    for (const chunk of received) {
      joined.set(chunk, offset);
      offset += chunk.length;
    }
    assert.deepEqual(joined, payload);
    client.close();
    await listener.close();
  });

  it("delivers UDP datagrams", async () => {
    const runtime = await currentRuntime();
    const got = Promise.withResolvers<string>();
    const a = await runtime.bindUdp({
      hostname: "127.0.0.1",
      port: 0,
      onMessage: (data) => got.resolve(new TextDecoder().decode(data)),
    });
    const b = await runtime.bindUdp({ hostname: "127.0.0.1", port: 0, onMessage: () => {} });
    b.send(new TextEncoder().encode("ping"), "127.0.0.1", a.port);
    assert.equal(await got.promise, "ping");
    await a.close();
    await b.close();
  });

  it("writes a file atomically and appends with datasync", async () => {
    const runtime = await currentRuntime();
    const dir = await mkdtemp(join(tmpdir(), "hc-rt-"));
    try {
      const path = join(dir, "a.bin");
      await runtime.fs.writeFileAtomic(path, new Uint8Array([1, 2, 3]));
      assert.deepEqual(await runtime.fs.readFile(path), new Uint8Array([1, 2, 3]));
      const handle = await runtime.fs.open(path, "a");
      await handle.write(new Uint8Array([4]));
      await handle.datasync();
      assert.equal(await handle.size(), 4);
      await handle.close();
      assert.deepEqual(await runtime.fs.readFile(path), new Uint8Array([1, 2, 3, 4]));
      assert.equal(await runtime.fs.readFile(join(dir, "missing")), null);
      assert.deepEqual((await runtime.fs.readDir(dir)).sort(), ["a.bin"]);
    } finally {
      await rm(dir, { recursive: true });
    }
  });
});
