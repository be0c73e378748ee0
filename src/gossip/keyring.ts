/**
 * AES-256-GCM encryption of gossip datagrams and streams, with a keyring for rotation: one
 * primary key encrypts, every installed key is tried to decrypt. Rotate by installing the new key
 * everywhere, then using it everywhere, then removing the old one.
 *
 * Uses `node:crypto`, which Deno and Bun both provide, synchronously: no await on the packet path.
 *
 * @module
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

/** Key size of AES-256. */
export const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** First byte of an encrypted message (a plaintext one starts with the wire version, 1). */
export const ENCRYPTED_MARKER = 0xe1;
/** What encryption adds to a message: marker, nonce and authentication tag. */
export const ENCRYPTION_OVERHEAD_BYTES = 1 + NONCE_BYTES + TAG_BYTES;
const AAD = new Uint8Array([ENCRYPTED_MARKER]);

/** The persisted form of a keyring: base64 keys, the primary first. */
export interface KeyringJson {
  keys: string[];
}

/**
 * The installed keys; the first is the primary.
 *
 * @example
 * ```ts
 * import { Keyring } from "./keyring.ts";
 * const ring = new Keyring([Keyring.generateKey()]);
 * const sealed = ring.encrypt(new Uint8Array([1, 2, 3]));
 * ring.decrypt(sealed); // Uint8Array [1, 2, 3]
 * ```
 */
export class Keyring {
  #keys: Uint8Array[] = [];

  constructor(keys: Uint8Array[]) {
    if (keys.length === 0) {
      throw new RangeError("Cannot create keyring: it needs at least one key: current value is 0");
    }
    for (const key of keys) this.install(key);
  }

  /** A random AES-256 key. */
  static generateKey(): Uint8Array {
    return new Uint8Array(randomBytes(KEY_BYTES));
  }

  /** Parses a base64 key and checks its size. */
  static parseKey(base64: string): Uint8Array {
    const key = base64ToBytes(base64);
    checkKey(key);
    return key;
  }

  /** A keyring from its persisted form. */
  static fromJson(json: KeyringJson): Keyring {
    return new Keyring(json.keys.map((k) => Keyring.parseKey(k)));
  }

  /** The persisted form (keep it secret: it holds the keys). */
  toJson(): KeyringJson {
    return { keys: this.#keys.map(bytesToBase64) };
  }

  /** Installed keys, the primary first. */
  keys(): Uint8Array[] {
    return [...this.#keys];
  }

  primaryKey(): Uint8Array {
    return this.#keys[0];
  }

  /** Adds a key for decryption (a no-op when installed already). */
  install(key: Uint8Array): void {
    checkKey(key);
    if (this.#indexOf(key) === -1) this.#keys.push(new Uint8Array(key));
  }

  /** Makes an installed key the primary: it encrypts from now on. */
  use(key: Uint8Array): void {
    const index = this.#indexOf(key);
    if (index === -1) {
      throw new RangeError("Cannot use key: it is not installed: install it first");
    }
    const [found] = this.#keys.splice(index, 1);
    this.#keys.unshift(found);
  }

  /** Removes a secondary key. The primary cannot be removed: use another key first. */
  remove(key: Uint8Array): void {
    const index = this.#indexOf(key);
    if (index === 0) {
      throw new RangeError("Cannot remove key: it is the primary key: use another key first");
    }
    if (index > 0) this.#keys.splice(index, 1);
  }

  /** Seals `plain` under the primary key: marker, random nonce, ciphertext, tag. */
  encrypt(plain: Uint8Array): Uint8Array {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.#keys[0], nonce);
    cipher.setAAD(AAD);
    const body = cipher.update(plain);
    const tail = cipher.final();
    const tag = cipher.getAuthTag();
    const out = new Uint8Array(ENCRYPTION_OVERHEAD_BYTES + plain.length);
    out[0] = ENCRYPTED_MARKER;
    out.set(nonce, 1);
    out.set(body, 1 + NONCE_BYTES);
    out.set(tail, 1 + NONCE_BYTES + body.length);
    out.set(tag, out.length - TAG_BYTES);
    return out;
  }

  /** Opens a sealed message with any installed key, or returns null when none opens it. */
  decrypt(sealed: Uint8Array): Uint8Array | null {
    if (sealed.length < ENCRYPTION_OVERHEAD_BYTES || sealed[0] !== ENCRYPTED_MARKER) return null;
    const nonce = sealed.subarray(1, 1 + NONCE_BYTES);
    const body = sealed.subarray(1 + NONCE_BYTES, sealed.length - TAG_BYTES);
    const tag = sealed.subarray(sealed.length - TAG_BYTES);
    for (const key of this.#keys) {
      try {
        const decipher = createDecipheriv("aes-256-gcm", key, nonce);
        decipher.setAAD(AAD);
        decipher.setAuthTag(tag);
        const head = decipher.update(body);
        const tail = decipher.final();
        const out = new Uint8Array(head.length + tail.length);
        out.set(head, 0);
        out.set(tail, head.length);
        return out;
      } catch {
        // Not this key: try the next one.
      }
    }
    return null;
  }

  #indexOf(key: Uint8Array): number {
    return this.#keys.findIndex((k) => k.length === key.length && k.every((b, i) => b === key[i]));
  }
}

function checkKey(key: Uint8Array): void {
  if (key.length !== KEY_BYTES) {
    throw new RangeError(
      `Cannot install gossip key: AES-256 needs ${KEY_BYTES} bytes: current value is ${key.length} bytes`,
    );
  }
}

function bytesToBase64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function base64ToBytes(base64: string): Uint8Array {
  let s: string;
  try {
    s = atob(base64.trim());
  } catch {
    throw new RangeError("Cannot parse gossip key: it is not base64");
  }
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}
