import zlib from "node:zlib";

/**
 * The reference form of an AOF record, as text: a RESP multibulk of bulk strings (latin1, one
 * char per byte). Tests build expected file contents with it; the writer encodes into bytes
 * (`src/persistence/_records.ts`) and is checked against it.
 */
export function encodeCommand(argv: readonly string[]): string {
  let text = `*${argv.length}\r\n`;
  for (const arg of argv) text += `$${arg.length}\r\n${arg}\r\n`;
  return text;
}

/**
 * The reference form of one AOF batch, as text: the annotation line `#HC:<length, 10 decimal
 * digits>:<CRC-32, 8 lowercase hex digits>\r\n`, then the records. The CRC comes from zlib here,
 * not from the code under test.
 */
export function encodeBatch(records: readonly (readonly string[])[]): string {
  const body = records.map(encodeCommand).join("");
  const crc = zlib.crc32(latin1Bytes(body)) >>> 0;
  return `#HC:${String(body.length).padStart(10, "0")}:${crc.toString(16).padStart(8, "0")}\r\n` +
    body;
}

/** Latin1 text as bytes, one byte per char. */
export function latin1Bytes(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}
