import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { AofWriter } from "../../src/persistence/aof.ts";
import { RecordBuffer } from "../../src/persistence/_records.ts";
import { encodeBatch } from "./_resp.ts";
import type { FileHandle } from "../../src/runtime/types.ts";

/** A file that records every call and can be told to fail, as a full disk would. */
class FaultyFile implements FileHandle {
  events: string[] = [];
  bytes: number[] = [];
  failWrites = false;
  private syncGate: Promise<void> | null = null;
  private openGate: (() => void) | null = null;

  holdSyncs(): void {
    this.syncGate = new Promise((resolve) => (this.openGate = resolve));
  }

  releaseSyncs(): void {
    this.openGate?.();
    this.syncGate = null;
  }

  write(data: Uint8Array): Promise<void> {
    if (this.failWrites) {
      this.bytes.push(...data.subarray(0, 3)); // a partial write before the error
      return Promise.reject(new Error("ENOSPC: no space left on device"));
    }
    this.events.push(`write:${data.length}`);
    this.bytes.push(...data);
    return Promise.resolve();
  }

  async datasync(): Promise<void> {
    if (this.syncGate) await this.syncGate;
    this.events.push("datasync");
  }

  size(): Promise<number> {
    return Promise.resolve(this.bytes.length);
  }

  truncate(sizeBytes: number): Promise<void> {
    this.bytes.length = sizeBytes;
    this.events.push(`truncate:${sizeBytes}`);
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  text(): string {
    return String.fromCharCode(...this.bytes);
  }
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("AOF writer", () => {
  it("encodes commands as RESP, the bytes a client sends, after the batch's annotation", () => {
    const records = new RecordBuffer();
    records.appendCommand(["SET", "k", "v\r\n"]);
    assert.equal(
      String.fromCharCode(...records.view()),
      "#HC:0000000029:538ae377\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nv\r\n\r\n",
    );
  });

  it("under always, resolves a write only after its fdatasync", async () => {
    const file = new FaultyFile();
    const aof = new AofWriter(file, 0, "always");
    file.holdSyncs();
    aof.append(0, ["SET", "a", "1"]);
    let durable = false;
    const waiting = aof.waitDurable().then(() => (durable = true));
    await tick();
    await tick();
    assert.equal(durable, false, "not acknowledged while the fsync is pending");
    file.releaseSyncs();
    await waiting;
    assert.equal(durable, true);
    const expected = encodeBatch([["SELECT", "0"], ["SET", "a", "1"]]);
    assert.deepEqual(file.events, [`write:${expected.length}`, "datasync"]);
    assert.equal(file.text(), expected);
  });

  it("groups records that arrive during an fsync into the next single write and fsync, one annotated batch", async () => {
    const file = new FaultyFile();
    const aof = new AofWriter(file, 0, "always");
    file.holdSyncs();
    aof.append(0, ["SET", "a", "1"]);
    const first = aof.waitDurable();
    await tick();
    const later = Array.from({ length: 100 }, (_, i) => ["SET", `k${i}`, "v"]);
    for (const argv of later) aof.append(0, argv);
    const rest = aof.waitDurable();
    file.releaseSyncs();
    await Promise.all([first, rest]);
    assert.deepEqual(file.events.filter((e) => e === "datasync").length, 2);
    assert.equal(file.events.filter((e) => e.startsWith("write")).length, 2);
    assert.equal(
      file.text(),
      encodeBatch([["SELECT", "0"], ["SET", "a", "1"]]) + encodeBatch(later),
      "each write is one batch with its own annotation",
    );
  });

  it("refuses nothing silently: a failed write sets the error, is cut back, and is retried", async () => {
    const file = new FaultyFile();
    const aof = new AofWriter(file, 0, "always");
    aof.append(0, ["SET", "a", "1"]);
    await aof.waitDurable();
    const durableText = file.text();
    file.failWrites = true;
    aof.append(0, ["SET", "b", "2"]);
    let durable = false;
    const waiting = aof.waitDurable().then(() => (durable = true));
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.match(aof.error ?? "", /ENOSPC/);
    assert.equal(durable, false, "the reply to the failed write is still held");
    assert.ok(file.events.includes(`truncate:${durableText.length}`), "partial bytes cut back");
    file.failWrites = false;
    await waiting;
    assert.equal(aof.error, null);
    assert.equal(file.text(), durableText + encodeBatch([["SET", "b", "2"]]));
    await aof.close();
  });
});
