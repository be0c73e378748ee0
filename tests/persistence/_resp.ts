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
