/**
 * Reads an AOF strictly: batches, each an annotation line (`#HC:<length>:<crc32>`, see
 * `_records.ts`) followed by that many bytes of records, every record a RESP multibulk of bulk
 * strings (`*N`, then N times `$L` and L bytes), nothing else. Unlike the client parser it
 * accepts no inline commands, so damaged bytes are found where they are instead of being run as
 * some other command. A batch's records are delivered only once its checksum matched.
 *
 * A file written before annotations existed (no `#` at the start of any record) is read as it
 * was then, without checksums; such a file may go on with annotated batches, which were appended
 * after an upgrade. Once a file has had an annotation, everything after it must be batches.
 *
 * The end of the valid part is either the end of the file, a torn tail, or damage:
 *
 * - torn: the write that ends the file is incomplete (an incomplete annotation, record or batch)
 *   or its batch fails its checksum, and no valid batch follows: a write that a crash cut short;
 * - corrupt: anything else, in particular a problem that a valid batch follows, since those are
 *   acknowledged writes that dropping the "tail" would lose.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { readLatin1 } from "../_latin1.ts";
import { crc32 } from "../_crc32.ts";
import {
  MAX_AOF_ARG_BYTES as MAX_ARG_BYTES,
  MAX_AOF_RECORD_ARGS as MAX_RECORD_ARGS,
} from "../constants.ts";
import { ANNOTATION_BYTES, ANNOTATION_PREFIX, readAnnotation } from "./_records.ts";

/** Longest argument text shown by {@linkcode describeRecord}. */
const SHOW_ARG_CHARS = 40;

const STAR = 0x2a;
const DOLLAR = 0x24;
const HASH = 0x23;
const CR = 0x0d;
const LF = 0x0a;

/** What `scanAof` found. */
export interface AofScan {
  /** Complete (and, in batches, verified) records. */
  recordCount: number;
  /** Batches whose checksum matched. */
  batchCount: number;
  /** Whether the file has batch annotations (false: written before them, no checksums). */
  checksummed: boolean;
  /** Bytes up to the end of the last valid record or batch. */
  validBytes: number;
  /** Why the rest is invalid: null when the file is whole. */
  problem: null | {
    kind: "torn" | "corrupt";
    /** Offset of the first byte that is not part of a valid record or batch. */
    offset: number;
    /** For `corrupt`, the offset of the first offending byte found (else the end). */
    badByteOffset: number;
    reason: string;
  };
}

/**
 * Called with each record's arguments (latin1 text, one char per byte), its offset, and where
 * the file would have to be cut to drop it: its batch's annotation (the record's own offset in
 * a file without annotations).
 */
export type OnRecord = (argv: string[], offset: number, batchOffset: number) => void;

class Incomplete {}
const INCOMPLETE = new Incomplete();

class Corrupt {
  constructor(readonly offset: number, readonly reason: string) {}
}

/** A record as text for messages: its arguments quoted, long ones shortened. */
export function describeRecord(argv: readonly string[]): string {
  return argv.map((arg) => {
    const text = JSON.stringify(arg);
    return text.length > SHOW_ARG_CHARS ? `${text.slice(0, SHOW_ARG_CHARS)}..."` : text;
  }).join(" ");
}

/** Parses records of `buffer` one at a time, each within a limit. */
class RecordParser {
  position = 0;

  constructor(private readonly buffer: Buffer) {}

  /** Reads `<prefix><digits>\r\n` at `position`, within `end`; returns the number. */
  private header(prefix: number, max: number, what: string, end: number): number {
    const buffer = this.buffer;
    const position = this.position;
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
    this.position = i + 2;
    return value;
  }

  /** The record at `position`, which must end by `end`; throws INCOMPLETE or a Corrupt. */
  record(end: number): string[] {
    const buffer = this.buffer;
    const start = this.position;
    const count = this.header(STAR, MAX_RECORD_ARGS, "argument count", end);
    if (count === 0) throw new Corrupt(start + 1, "a record with no arguments");
    const argv: string[] = new Array(count);
    for (let index = 0; index < count; index++) {
      const length = this.header(DOLLAR, MAX_ARG_BYTES, "argument length", end);
      const position = this.position;
      const stop = position + length;
      if (stop + 2 > end) {
        // Bytes present must still be a valid prefix: the CR and LF where they belong.
        if (stop < end && buffer[stop] !== CR) throw new Corrupt(stop, "expected CR after bulk");
        throw INCOMPLETE;
      }
      if (buffer[stop] !== CR) throw new Corrupt(stop, "expected CR after bulk");
      if (buffer[stop + 1] !== LF) throw new Corrupt(stop + 1, "expected LF after bulk");
      argv[index] = readLatin1(buffer, position, stop);
      this.position = stop + 2;
    }
    return argv;
  }
}

/** The length of a valid annotated batch at `at`, or -1. */
function validBatchAt(buffer: Buffer, at: number): number {
  const annotation = readAnnotation(buffer, at, buffer.length);
  if (annotation === null || "bad" in annotation) return -1;
  const start = at + ANNOTATION_BYTES;
  const end = start + annotation.length;
  if (end > buffer.length || crc32(buffer, start, end) !== annotation.crc) return -1;
  return annotation.length;
}

/** The offset of the first valid batch that starts after `from`, or -1. */
function findValidBatch(buffer: Buffer, from: number): number {
  for (let at = buffer.indexOf(ANNOTATION_PREFIX, from); at !== -1;) {
    if (validBatchAt(buffer, at) !== -1) return at;
    at = buffer.indexOf(ANNOTATION_PREFIX, at + 1);
  }
  return -1;
}

/** The offset of the first structural error in the records of `[start, end)`, or -1. */
function firstBadByte(buffer: Buffer, start: number, end: number): number {
  const parser = new RecordParser(buffer);
  parser.position = start;
  try {
    while (parser.position < end) parser.record(end);
  } catch (error) {
    if (error instanceof Corrupt) return error.offset;
  }
  return -1;
}

/**
 * Scans `bytes`, calling `onRecord` with each valid record. A batch's records are parsed whole
 * and its checksum checked before the first of them is delivered.
 *
 * @example
 * ```ts
 * import { scanAof } from "./aof_reader.ts";
 * const bytes = new TextEncoder().encode("*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPI");
 * scanAof(bytes, () => {}).problem?.kind; // "torn"
 * ```
 */
export function scanAof(bytes: Uint8Array, onRecord: OnRecord): AofScan {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = buffer.length;
  const parser = new RecordParser(buffer);
  let recordCount = 0;
  let batchCount = 0;
  let checksummed = false;

  const result = (problem: AofScan["problem"], validBytes: number): AofScan => ({
    recordCount,
    batchCount,
    checksummed,
    validBytes,
    problem,
  });
  /**
   * The file is invalid from `at`: torn when no valid batch follows (a write cut short), else
   * corrupt. `bad` is the first offending byte when one is known.
   */
  const invalidFrom = (at: number, reason: string, bad: number, torn: boolean): AofScan => {
    const next = findValidBatch(buffer, at + 1);
    if (next === -1 && torn) {
      return result({ kind: "torn", offset: at, badByteOffset: end, reason }, at);
    }
    const after = next === -1 ? "" : `; a valid batch follows at offset ${next}`;
    return result(
      { kind: "corrupt", offset: at, badByteOffset: bad, reason: reason + after },
      at,
    );
  };

  while (parser.position < end) {
    const start = parser.position;
    if (buffer[start] === HASH) {
      const annotation = readAnnotation(buffer, start, end);
      if (annotation === null) {
        return invalidFrom(start, `incomplete batch annotation (${end - start} bytes)`, end, true);
      }
      // Before the first annotation a bad one is a damaged record start, not a torn write.
      if ("bad" in annotation) {
        return invalidFrom(start, annotation.reason, annotation.bad, checksummed);
      }
      const from = start + ANNOTATION_BYTES;
      const to = from + annotation.length;
      if (to > end) {
        const reason = `incomplete batch (${end - from} of ${annotation.length} bytes)`;
        return invalidFrom(start, reason, end, true);
      }
      if (crc32(buffer, from, to) !== annotation.crc) {
        const bad = firstBadByte(buffer, from, to);
        const reason =
          `checksum mismatch in the batch at offset ${start} (${annotation.length} bytes)`;
        return invalidFrom(start, reason, bad === -1 ? start : bad, true);
      }
      // Verified: its records must fill it exactly; only then are they delivered.
      const records: string[][] = [];
      const offsets: number[] = [];
      parser.position = from;
      try {
        while (parser.position < to) {
          offsets.push(parser.position);
          records.push(parser.record(to));
        }
      } catch (error) {
        if (error !== INCOMPLETE && !(error instanceof Corrupt)) throw error;
        const bad = error instanceof Corrupt ? error.offset : to;
        return invalidFrom(start, "a batch whose records do not fill it", bad, false);
      }
      for (let i = 0; i < records.length; i++) onRecord(records[i], offsets[i], start);
      recordCount += records.length;
      batchCount++;
      checksummed = true;
      continue;
    }
    if (checksummed) {
      return invalidFrom(start, "expected a batch annotation ('#HC:')", start, true);
    }
    // A file written before annotations: records alone, no checksum.
    let argv;
    try {
      argv = parser.record(end);
    } catch (error) {
      if (error === INCOMPLETE) {
        return invalidFrom(start, `incomplete record (${end - start} bytes)`, end, true);
      }
      if (error instanceof Corrupt) return invalidFrom(start, error.reason, error.offset, false);
      throw error;
    }
    onRecord(argv, start, start);
    recordCount++;
  }
  return result(null, end);
}
