import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ENCRYPTION_OVERHEAD_BYTES, Keyring } from "../../src/gossip/keyring.ts";

describe("Keyring", () => {
  const plain = new TextEncoder().encode("hello gossip");

  it("round-trips and adds exactly the stated overhead", () => {
    const ring = new Keyring([Keyring.generateKey()]);
    const sealed = ring.encrypt(plain);
    assert.equal(sealed.length, plain.length + ENCRYPTION_OVERHEAD_BYTES);
    assert.deepEqual(ring.decrypt(sealed), plain);
  });

  it("refuses a message under a key it does not hold, and a tampered one", () => {
    const a = new Keyring([Keyring.generateKey()]);
    const b = new Keyring([Keyring.generateKey()]);
    assert.equal(b.decrypt(a.encrypt(plain)), null);
    const sealed = a.encrypt(plain);
    sealed[20] ^= 1;
    assert.equal(a.decrypt(sealed), null);
    assert.equal(a.decrypt(plain), null);
  });

  it("rotates: install, use, remove", () => {
    const oldKey = Keyring.generateKey(), newKey = Keyring.generateKey();
    const sender = new Keyring([oldKey]);
    const receiver = new Keyring([oldKey]);
    receiver.install(newKey);
    sender.install(newKey);
    sender.use(newKey);
    assert.deepEqual(receiver.decrypt(sender.encrypt(plain)), plain);
    assert.throws(() => sender.remove(newKey), /primary key/);
    sender.remove(oldKey);
    assert.equal(sender.keys().length, 1);
    receiver.use(newKey);
    receiver.remove(oldKey);
    assert.deepEqual(receiver.decrypt(sender.encrypt(plain)), plain);
    assert.throws(() => receiver.use(oldKey), /not installed/);
  });

  it("persists to JSON and back, primary first", () => {
    const k1 = Keyring.generateKey(), k2 = Keyring.generateKey();
    const ring = new Keyring([k1, k2]);
    ring.use(k2);
    const again = Keyring.fromJson(JSON.parse(JSON.stringify(ring.toJson())));
    assert.deepEqual(again.primaryKey(), k2);
    assert.deepEqual(again.decrypt(ring.encrypt(plain)), plain);
  });

  it("rejects keys that are not 32 bytes", () => {
    assert.throws(() => new Keyring([new Uint8Array(16)]), /needs 32 bytes: current value is 16/);
    assert.throws(() => Keyring.parseKey(btoa("short")), /32 bytes/);
  });
});
