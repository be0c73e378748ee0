/**
 * Reads an AOF strictly: every record is a RESP multibulk of bulk strings (`*N`, then N times
 * `$L` and L bytes), nothing else. Unlike the client parser it accepts no inline commands, so
 * damaged bytes are found where they are instead of being run as some other command.
 *
 * The end of the valid part is either the end of the file, an incomplete last record (a torn
 * write: every byte present is a valid prefix of a record), or a corrupt byte.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { readLatin1 } from "../resp/_latin1.ts";

/** Most arguments a record may have; a larger count is damage, not a command. */
const MAX_RECORD_ARGS = 1024 * 1024;
/** Largest argument a record may hold (Redis's largest `proto-max-bulk-len`). */
const MAX_ARG_BYTES = 2 ** 32;

const STAR = 0x2a;
const DOLLAR = 0x24;
const CR = 0x0d;
const LF = 0x0a;

/** What `scanAof` found. */
export interface AofScan {
  /** Complete records. */
  recordCount: number;
  /** Bytes up to the end of the last complete record. */
  validBytes: number;
  /** Why the rest is invalid: null when the file is whole. */
  problem: null | {
    kind: "torn" | "corrupt";
    /** Offset of the first byte that is not part of a complete record. */
    offset: number;
    /** For `corrupt`, the offset of the first offending byte. */
    badByteOffset: number;
    reason: string;
  };
}

class Incomplete {}
const INCOMPLETE = new Incomplete();

class Corrupt {
  constructor(readonly offset: number, readonly reason: string) {}
}

/**
 * Scans `bytes`, calling `onRecord` with each complete record's arguments (latin1 text, one char
 * per byte) and its offset.
 *
 * @example
 * ```ts
 * import { scanAof } from "./aof_reader.ts";
 * const bytes = new TextEncoder().encode("*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPI");
 * scanAof(bytes, () => {}).problem?.kind; // "torn"
 * ```
 */
export function scanAof(
  bytes: Uint8Array,
  onRecord: (argv: string[], offset: number) => void,
): AofScan {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = buffer.length;
  let position = 0;
  let recordCount = 0;

  /** Reads `<prefix><digits>\r\n` at `position`; returns the number. */
  const header = (prefix: number, max: number, what: string): number => {
    if (position >= end) throw INCOMPLETE;
    if (buffer[position] !== prefix) {
      throw new Corrupt(position, `expected '${String.fromCharCode(prefix)}' (${what})`);
    }
    let i = position + 1;
    let value = 0;
    let digits = 0;
    for (; i < end && buffer[i] >= 0x30 && buffer[i] <= 0x39; i++) {
      value = value * 10 + buffer[i] - 0x30;
      digits++;
      if (value > max) throw new Corrupt(i, `${what} above ${max}`);
    }
    if (i >= end) throw INCOMPLETE;
    if (digits === 0) throw new Corrupt(i, `expected digits (${what})`);
    if (buffer[i] !== CR) throw new Corrupt(i, `expected CR after ${what}`);
    if (i + 1 >= end) throw INCOMPLETE;
    if (buffer[i + 1] !== LF) throw new Corrupt(i + 1, `expected LF after ${what}`);
    position = i + 2;
    return value;
  };

  while (position < end) {
    const start = position;
    try {
      const count = header(STAR, MAX_RECORD_ARGS, "argument count");
      if (count === 0) throw new Corrupt(start + 1, "a record with no arguments");
      const argv: string[] = new Array(count);
      for (let index = 0; index < count; index++) {
        const length = header(DOLLAR, MAX_ARG_BYTES, "argument length");
        const stop = position + length;
        if (stop + 2 > end) {
          // Bytes present must still be a valid prefix: the CR and LF where they belong.
          if (stop < end && buffer[stop] !== CR) throw new Corrupt(stop, "expected CR after bulk");
          throw INCOMPLETE;
        }
        if (buffer[stop] !== CR) throw new Corrupt(stop, "expected CR after bulk");
        if (buffer[stop + 1] !== LF) throw new Corrupt(stop + 1, "expected LF after bulk");
        argv[index] = readLatin1(buffer, position, stop);
        position = stop + 2;
      }
      onRecord(argv, start);
      recordCount++;
    } catch (error) {
      if (error === INCOMPLETE) {
        return {
          recordCount,
          validBytes: start,
          problem: {
            kind: "torn",
            offset: start,
            badByteOffset: end,
            reason: `incomplete record (${end - start} bytes)`,
          },
        };
      }
      if (error instanceof Corrupt) {
        return {
          recordCount,
          validBytes: start,
          problem: {
            kind: "corrupt",
            offset: start,
            badByteOffset: error.offset,
            reason: error.reason,
          },
        };
      }
      throw error;
    }
  }
  return { recordCount, validBytes: end, problem: null };
}
