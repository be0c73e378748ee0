/**
 * Shared plumbing for the container families (hash, list, set, sorted set): typed lookup,
 * bookkeeping after an in-place change, and the SCAN-style cursor arguments.
 *
 * @module
 */
import type { Entry, Store } from "../keyspace/store.ts";
import type { Container } from "../keyspace/values.ts";
import { parseInt64 } from "./args.ts";
import { NOT_INTEGER, ReplyError, SYNTAX, WRONGTYPE } from "./errors.ts";

/** The live entry at `key` holding a `type` container; undefined when absent; WRONGTYPE else. */
export function containerEntry(
  store: Store,
  key: string,
  type: Container["type"],
  touch = true,
): Entry | undefined {
  const entry = store.lookup(key, touch);
  if (entry === undefined) return undefined;
  if (typeof entry.value === "string" || entry.value.type !== type) {
    throw new ReplyError(WRONGTYPE);
  }
  return entry;
}

/**
 * Records an in-place change of a container: its memory, the dirty counter and, as Redis does,
 * the key's removal once the container is empty.
 */
export function containerChanged(store: Store, entry: Entry): void {
  if ((entry.value as Container).length === 0) {
    store.removeEntry(entry);
    return;
  }
  store.resize(entry);
  store.dirty++;
}

/** Parsed SCAN arguments. */
export interface ScanOptions {
  cursor: number;
  count: number;
  /** null matches everything. */
  pattern: string | null;
  /** SCAN's TYPE filter; null for none. */
  type: string | null;
}

/** Largest cursor a client may send (Redis's is an unsigned 64-bit number). */
const MAX_CURSOR = 2n ** 64n - 1n;

/**
 * Redis's `parseScanCursorOrReply` and option loop: `cursor` at `argv[at - 1]`, options from
 * `at`. A cursor beyond the positions in use is clamped by the walk itself.
 */
export function parseScanArgs(argv: string[], at: number, allowType: boolean): ScanOptions {
  const text = argv[at - 1];
  if (!/^\d+$/.test(text) || BigInt(text) > MAX_CURSOR) {
    throw new ReplyError("ERR invalid cursor");
  }
  const cursor = Math.min(Number(text), Number.MAX_SAFE_INTEGER);
  const options: ScanOptions = { cursor, count: 10, pattern: null, type: null };
  for (let i = at; i < argv.length; i += 2) {
    const option = argv[i].toUpperCase();
    const remaining = argv.length - i;
    if (option === "COUNT" && remaining >= 2) {
      const count = parseInt64(argv[i + 1]);
      if (count === null) throw new ReplyError(NOT_INTEGER);
      if (count < 1n) throw new ReplyError(SYNTAX);
      options.count = Number(count > 1_000_000_000n ? 1_000_000_000n : count);
    } else if (option === "MATCH" && remaining >= 2) {
      options.pattern = argv[i + 1] === "*" ? null : argv[i + 1];
    } else if (option === "TYPE" && remaining >= 2 && allowType) {
      options.type = argv[i + 1];
    } else {
      throw new ReplyError(SYNTAX);
    }
  }
  return options;
}

/**
 * The entry at `key` holding a `type` container, created empty with `create` when absent
 * (the caller fills it and calls `containerChanged`).
 */
export function containerEntryOrCreate(
  store: Store,
  key: string,
  type: Container["type"],
  create: () => Container,
): Entry {
  return containerEntry(store, key, type) ?? store.set(key, create(), 0);
}

/** Writes a SCAN-family reply: the next cursor, then the flat list of items. */
export function scanReply(
  out: { arrayHeader(count: number): void; bulk(value: string): void },
  next: number,
  items: string[],
): void {
  out.arrayHeader(2);
  out.bulk(String(next));
  out.arrayHeader(items.length);
  for (const item of items) out.bulk(item);
}

/** A uniform random integer in [0, bound). */
export function randomBelow(bound: number): number {
  return Math.floor(Math.random() * bound);
}
