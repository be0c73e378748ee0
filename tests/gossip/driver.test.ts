// The driver in-process over the real runtime (UDP and TCP on loopback): quicker to debug than
// the multi-process end-to-end test, and it covers key rotation and persistence.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type GossipAgent, startGossip } from "../../src/gossip/driver.ts";
import { Keyring } from "../../src/gossip/keyring.ts";
import type { GossipEvent } from "../../src/gossip/types.ts";

async function until(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const stateOf = (agent: GossipAgent, id: string) => agent.members().find((m) => m.id === id)?.state;

describe("startGossip", () => {
  it("joins, spreads metadata, and sees a graceful leave as left", async () => {
    const a = await startGossip({ id: "a", port: 0, profile: "local" });
    const events: GossipEvent[] = [];
    a.subscribe((e) => events.push(e));
    const b = await startGossip({
      id: "b",
      port: 0,
      profile: "local",
      seeds: [{ host: "127.0.0.1", port: a.address.port }],
    });
    try {
      await until("a sees b", () => stateOf(a, "b") === "alive");
      assert.equal(stateOf(b, "a"), "alive");
      b.setMeta(new TextEncoder().encode("zone=1"));
      await until("a gets the update", () => events.some((e) => e.type === "update"));
      await b.leave();
      await until("a sees b left", () => stateOf(a, "b") === "left");
      assert.ok(events.some((e) => e.type === "leave" && e.member.id === "b"));
      assert.ok(!events.some((e) => e.type === "fail"));
    } finally {
      await b.close();
      await a.close();
    }
  });

  it("rotates keys without losing the cluster, and persists the keyring", async () => {
    const dir = await mkdtemp(join(tmpdir(), "gossip-keys-"));
    const k1 = Keyring.generateKey(), k2 = Keyring.generateKey();
    const a = await startGossip({
      id: "a",
      port: 0,
      profile: "local",
      keyring: new Keyring([k1]),
      keyringPath: join(dir, "a.json"),
    });
    const b = await startGossip({
      id: "b",
      port: 0,
      profile: "local",
      keyring: new Keyring([k1]),
      seeds: [{ host: "127.0.0.1", port: a.address.port }],
    });
    try {
      await until("joined", () => stateOf(a, "b") === "alive");
      await a.installKey(k2);
      await b.installKey(k2);
      await a.useKey(k2);
      await b.useKey(k2);
      await a.removeKey(k1);
      await b.removeKey(k1);
      const userEvents: string[] = [];
      b.subscribe((e) => e.type === "user" && userEvents.push(e.name));
      a.sendUserEvent("after-rotation", new Uint8Array(0));
      await until("the event arrives under the new key", () => userEvents.length === 1);
      const saved = JSON.parse(await readFile(join(dir, "a.json"), "utf8"));
      assert.equal(saved.keys.length, 1);
      assert.deepEqual(Keyring.parseKey(saved.keys[0]), k2);
      assert.equal(a.stats().undecryptableDropped, 0);
    } finally {
      await b.close();
      await a.close();
      await rm(dir, { recursive: true });
    }
  });
});
