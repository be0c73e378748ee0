/**
 * Key to hash slot, byte-exact with Redis Cluster: CRC16 (XMODEM) of the key, or of its hash tag,
 * modulo 16384.
 *
 * @module
 */

import { SLOT_COUNT } from "./constants.ts";

/** CRC16-CCITT (XMODEM) lookup table: polynomial 0x1021, one entry per input byte. */
const CRC16_TABLE: Uint16Array = (() => {
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
    }
    table[byte] = crc & 0xffff;
  }
  return table;
})();

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const SLOT_MASK = SLOT_COUNT - 1;

/**
 * CRC16-CCITT (XMODEM) of a byte string, the checksum Redis Cluster hashes keys with.
 *
 * A string key is a latin1 byte string: one character per byte, codes 0-255.
 *
 * @param bytes The bytes, as a `Uint8Array` or a latin1 string.
 * @returns The checksum, 0-65535.
 * @throws {TypeError} When a string has a character above U+00FF (not a byte string).
 *
 * @example
 * ```ts
 * import { crc16 } from "@hypercache/hypercache/ring";
 * console.log(crc16("123456789").toString(16)); // "31c3"
 * ```
 */
export function crc16(bytes: string | Uint8Array): number {
  return typeof bytes === "string"
    ? crc16String(bytes, 0, bytes.length)
    : crc16Bytes(bytes, 0, bytes.length);
}

/**
 * The hash slot of a key, exactly as Redis Cluster computes it (`CLUSTER KEYSLOT`).
 *
 * When the key has a `{`, a later `}`, and at least one byte between them, only the bytes between
 * the first `{` and the first `}` after it are hashed, so `{user1}.a` and `{user1}.b` share a
 * slot. `{}` and an unclosed `{` hash the whole key.
 *
 * @param key The key, as a `Uint8Array` or a latin1 string (one character per byte).
 * @returns The slot, 0-16383.
 * @throws {TypeError} When a hashed character of a string key is above U+00FF (not a byte
 * string); characters outside the hash tag are not read.
 *
 * @example
 * ```ts
 * import { keySlot } from "@hypercache/hypercache/ring";
 * console.log(keySlot("123456789")); // 12739
 * console.log(keySlot("{user1}.a") === keySlot("{user1}.b")); // true
 * console.log(keySlot(new Uint8Array([0x66, 0x6f, 0x6f])) === keySlot("foo")); // true
 * ```
 */
export function keySlot(key: string | Uint8Array): number {
  return typeof key === "string" ? keySlotString(key) : keySlotBytes(key);
}

function keySlotString(key: string): number {
  // One pass for the common key, which has no `{`: the checksum of every byte as it is read.
  let crc = 0;
  for (let i = 0; i < key.length; i++) {
    const code = key.charCodeAt(i);
    if (code === OPEN_BRACE || code > 0xff) return taggedSlot(key);
    crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[(crc >>> 8) ^ code];
  }
  return crc & SLOT_MASK;
}

/** The slot of a key with a `{` (or a character that is not a byte, which this reports). */
function taggedSlot(key: string): number {
  const open = key.indexOf("{");
  if (open !== -1) {
    const close = key.indexOf("}", open + 1);
    if (close > open + 1) return crc16String(key, open + 1, close) & SLOT_MASK;
  }
  return crc16String(key, 0, key.length) & SLOT_MASK;
}

function keySlotBytes(key: Uint8Array): number {
  // A plain loop: TypedArray.prototype.indexOf costs more than the scan for short keys.
  const length = key.length;
  let open = 0;
  while (open < length && key[open] !== OPEN_BRACE) open++;
  if (open < length) {
    let close = open + 1;
    while (close < length && key[close] !== CLOSE_BRACE) close++;
    if (close < length && close > open + 1) return crc16Bytes(key, open + 1, close) & SLOT_MASK;
  }
  return crc16Bytes(key, 0, length) & SLOT_MASK;
}

function crc16String(text: string, start: number, end: number): number {
  let crc = 0;
  for (let i = start; i < end; i++) {
    const code = text.charCodeAt(i);
    if (code > 0xff) throw notByteString(text, i);
    crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[(crc >>> 8) ^ code];
  }
  return crc;
}

function crc16Bytes(bytes: Uint8Array, start: number, end: number): number {
  let crc = 0;
  for (let i = start; i < end; i++) {
    crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[(crc >>> 8) ^ bytes[i]];
  }
  return crc;
}

function notByteString(text: string, index: number): TypeError {
  const code = text.charCodeAt(index).toString(16).toUpperCase().padStart(4, "0");
  return new TypeError(
    `Cannot hash key: a string key must be a latin1 byte string (one character per byte): ` +
      `character U+${code} at index ${index}`,
  );
}
