/**
 * The memory that string values and small records share across every store (the record arena),
 * for INFO memory and MEMORY PURGE.
 *
 * @module
 */
import { recordArena } from "./_arena.ts";

/** Bytes held by the record arena's slabs and slots, and how many records it holds. */
export function recordMemory(): { slabBytes: number; slotBytes: number; records: number } {
  return recordArena.stats();
}

/** Returns the arena's free slabs to the runtime (MEMORY PURGE). */
export function trimRecordMemory(): void {
  recordArena.trim();
}
