/**
 * Conversions between the HTTP API's text (UTF-8) and the keyspace's byte strings (latin1: one
 * char per byte). Text from HTTP becomes its UTF-8 bytes on the way in and those bytes become
 * text again on the way out, so a value written over HTTP reads back byte-exact over RESP.
 *
 * @module
 */
import { Buffer } from "node:buffer";

// deno-lint-ignore no-control-regex -- ASCII is exactly the range 0x00-0x7f, controls included.
const ASCII = /^[\x00-\x7f]*$/;
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** The UTF-8 bytes of `text`, as a latin1 byte string. */
export function utf8ToBytes(text: string): string {
  return ASCII.test(text) ? text : Buffer.from(text, "utf8").toString("latin1");
}

/** A byte string read as UTF-8; invalid sequences become U+FFFD (see `bytesToUtf8Strict`). */
export function bytesToUtf8(bytes: string): string {
  return ASCII.test(bytes) ? bytes : Buffer.from(bytes, "latin1").toString("utf8");
}

/** A byte string read as UTF-8, or null when it is not valid UTF-8. */
export function bytesToUtf8Strict(bytes: string): string | null {
  if (ASCII.test(bytes)) return bytes;
  try {
    return strictUtf8.decode(Buffer.from(bytes, "latin1"));
  } catch {
    return null;
  }
}

/** Base64 of a byte string. */
export function bytesToBase64(bytes: string): string {
  return Buffer.from(bytes, "latin1").toString("base64");
}

/** The bytes of base64 text, or null when it is not base64. */
export function base64ToBytes(text: string): string | null {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 === 1) return null;
  return Buffer.from(text, "base64").toString("latin1");
}

/** Raw request bytes as a byte string. */
export function rawToBytes(body: ArrayBuffer): string {
  return Buffer.from(body).toString("latin1");
}

/** Compares two secrets in time independent of where they differ. */
export function constantTimeEqual(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  const length = Math.max(a.length, b.length);
  for (let i = 0; i < length; i++) {
    diff |= (a.charCodeAt(i % (a.length || 1)) | 0) ^ (b.charCodeAt(i % (b.length || 1)) | 0);
  }
  return diff === 0;
}
