/**
 * The manifest (`manifest.json`) and what it says about the other files of a data directory.
 *
 * Generation N's files are `dump-N.hcs` and `appendonly-N.aof`. A manifest at generation M names
 * a snapshot `dump-S.hcs` (or none, when the history starts empty at generation 1) and the AOFs
 * to replay after it: `appendonly-S.aof` (or `appendonly-1.aof`) first, increasing, the last one
 * `appendonly-M.aof`. Numbers may be skipped: a rewrite that failed before its new AOF joined
 * the chain leaves that generation unused.
 *
 * Start-up trusts only what it can account for. It refuses (a {@linkcode RecoveryError}) a
 * directory with data files but no manifest, a manifest that breaks the rules above, and one
 * naming a missing file. Of the files a manifest does not name, only those it provably
 * supersedes may be removed: temporary files (an atomic write that never reached its rename),
 * snapshots older than the manifest's generation, AOFs older than its first AOF, and empty AOFs
 * older than its generation (a rewrite's new file that never joined the chain). Anything else is
 * left in place with a warning, later generations are numbered past it, and the next manifest
 * lists it under `kept`, so that being numbered past never makes it look obsolete: the node never
 * removes a file it could not account for (an empty AOF excepted, which holds nothing).
 *
 * @module
 */
import type { FileSystem } from "../runtime/types.ts";

/** What the data directory holds now. */
export interface Manifest {
  version: 1;
  generation: number;
  snapshot: string | null;
  /** AOFs to replay after the snapshot and before `aof`, oldest first (absent: none). */
  replay?: string[];
  aof: string;
  /** Files found that no manifest accounted for, left for an operator (absent: none). */
  kept?: string[];
}

/** Start-up cannot go on: the message names the files and what to do. */
export class RecoveryError extends Error {
  override name = "RecoveryError";
}

export const MANIFEST_NAME = "manifest.json";
const AOF_NAME = /^appendonly-([1-9]\d{0,14})\.aof$/;
const SNAPSHOT_NAME = /^dump-([1-9]\d{0,14})\.hcs$/;
const TEMPORARY_NAME = /\.tmp-\d+$/;
const MANIFEST_KEYS = new Set(["version", "generation", "snapshot", "replay", "aof", "kept"]);

/** `dir/name`. */
export function join(dir: string, name: string): string {
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

/** The AOFs a manifest names, in replay order. */
export function manifestAofs(manifest: Manifest): string[] {
  return [...(manifest.replay ?? []), manifest.aof];
}

/** Whether `name` is a file a manifest could name, or a temporary file of an atomic write. */
export function isDataFile(name: string): boolean {
  return AOF_NAME.test(name) || SNAPSHOT_NAME.test(name) || TEMPORARY_NAME.test(name);
}

/** The generation of `appendonly-N.aof` or `dump-N.hcs`; null for any other name. */
export function generationOf(name: string): number | null {
  const match = AOF_NAME.exec(name) ?? SNAPSHOT_NAME.exec(name);
  return match === null ? null : Number(match[1]);
}

/** The manifest's encoding: JSON, one key a line. */
export function manifestBytes(manifest: Manifest): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(manifest, null, 2) + "\n");
}

/**
 * Why `manifest` breaks the rules of the module doc, or null when it keeps them. A manifest
 * edited by hand (a snapshot taken out, an AOF dropped from the chain) would load part of the
 * data as if it were all of it.
 */
export function chainProblem(manifest: Manifest): string | null {
  if (!Number.isSafeInteger(manifest.generation) || manifest.generation < 1) {
    return `generation ${JSON.stringify(manifest.generation)} is not a positive integer`;
  }
  let expected = 1;
  let from = "no snapshot, so the history starts empty at generation 1";
  if (manifest.snapshot !== null) {
    const generation = generationOf(manifest.snapshot);
    if (generation === null || !SNAPSHOT_NAME.test(manifest.snapshot)) {
      return `snapshot ${JSON.stringify(manifest.snapshot)} is not a name of the form dump-N.hcs`;
    }
    expected = generation;
    from = `snapshot ${manifest.snapshot}, so the AOFs start at generation ${generation}`;
  }
  const aofs = manifestAofs(manifest);
  let previous = 0;
  for (const [index, name] of aofs.entries()) {
    const generation = typeof name === "string" && AOF_NAME.test(name) ? generationOf(name) : null;
    if (generation === null) {
      return `AOF ${JSON.stringify(name)} is not a name of the form appendonly-N.aof`;
    }
    if (index === 0 && generation !== expected) {
      return `its first AOF is ${name} but it names ${from}: the data before ${name} would ` +
        `be missing`;
    }
    if (generation <= previous) return `its AOFs are not in increasing order (${aofs.join(", ")})`;
    previous = generation;
  }
  if (previous !== manifest.generation) {
    return `its last AOF ${manifest.aof} is not of its generation ${manifest.generation}`;
  }
  return null;
}

/** Reads `manifest.json`; null when the directory has none. Throws on an unreadable one. */
export async function readManifest(fs: FileSystem, dataDir: string): Promise<Manifest | null> {
  const path = join(dataDir, MANIFEST_NAME);
  const bytes = await fs.readFile(path);
  if (bytes === null) return null;
  try {
    const manifest = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    if (typeof manifest !== "object" || manifest === null || Array.isArray(manifest)) {
      throw new Error("not an object");
    }
    const unknown = Object.keys(manifest).filter((key) => !MANIFEST_KEYS.has(key));
    const names = (list: unknown) =>
      list === undefined ||
      (Array.isArray(list) && list.every((name: unknown) => typeof name === "string"));
    if (
      manifest.version !== 1 || typeof manifest.aof !== "string" ||
      !(manifest.snapshot === null || typeof manifest.snapshot === "string") ||
      !names(manifest.replay) || !names(manifest.kept) || unknown.length > 0
    ) {
      throw new Error("unknown format");
    }
    return manifest as Manifest;
  } catch (error) {
    throw new RecoveryError(
      `${path} is unreadable (${(error as Error).message}); the node does not guess which ` +
        `files are current: restore it from a backup, or remove it and run ` +
        `'deno task check-aof ${dataDir} --fix' to write one from the files present`,
    );
  }
}

/** What a manifest says of the files it does not name. */
export interface Unnamed {
  /** Provably superseded: safe to remove. */
  superseded: string[];
  /** Not accounted for: to be left in place. */
  kept: string[];
}

/**
 * Sorts the data files that `manifest` does not name into superseded and kept (see the module
 * doc). `isEmpty` says whether a file holds no bytes; asked only where that decides.
 */
export async function sortUnnamed(
  manifest: Manifest,
  names: readonly string[],
  isEmpty: (name: string) => Promise<boolean>,
): Promise<Unnamed> {
  const named = new Set<string>(manifestAofs(manifest));
  if (manifest.snapshot !== null) named.add(manifest.snapshot);
  const firstAof = generationOf(manifestAofs(manifest)[0]) ?? 1;
  const kept = new Set(manifest.kept ?? []);
  const unnamed: Unnamed = { superseded: [], kept: [] };
  for (const name of names) {
    if (!isDataFile(name) || named.has(name)) continue;
    const generation = generationOf(name);
    let superseded = false;
    if (kept.has(name)) {
      // Found unaccounted for at an earlier start: numbered past since, never obsolete.
      superseded = false;
    } else if (generation === null) {
      // A temporary file: the rename that would have made it count never happened.
      superseded = true;
    } else if (SNAPSHOT_NAME.test(name)) {
      superseded = generation < manifest.generation;
    } else {
      superseded = generation < firstAof ||
        (generation < manifest.generation && await isEmpty(name));
    }
    (superseded ? unnamed.superseded : unnamed.kept).push(name);
  }
  return unnamed;
}

/** Whether a directory without a manifest is new: nothing in it but what a first start left. */
export async function isFreshDirectory(
  names: readonly string[],
  isEmpty: (name: string) => Promise<boolean>,
): Promise<boolean> {
  for (const name of names) {
    if (!isDataFile(name)) continue;
    // The first start creates appendonly-1.aof, then writes the manifest atomically.
    if (name === "appendonly-1.aof" && await isEmpty(name)) continue;
    if (name.startsWith(`${MANIFEST_NAME}.tmp-`)) continue;
    return false;
  }
  return true;
}

/**
 * The manifest that a directory's files imply, for `check-aof --fix` when `manifest.json` is
 * lost: the newest snapshot and every AOF from its generation on (with no snapshot, every AOF
 * from generation 1). A reason instead when the files do not make a complete history.
 */
export function inferManifest(names: readonly string[]): Manifest | string {
  const snapshots = names.filter((name) => SNAPSHOT_NAME.test(name))
    .map((name) => generationOf(name)!).sort((a, b) => b - a);
  const snapshot = snapshots.length === 0 ? null : snapshots[0];
  const aofs = names.filter((name) => AOF_NAME.test(name)).map((name) => generationOf(name)!)
    .filter((generation) => generation >= (snapshot ?? 1)).sort((a, b) => a - b);
  const from = snapshot === null ? "generation 1 (there is no snapshot)" : `dump-${snapshot}.hcs`;
  if (aofs.length === 0) return `no AOF follows ${from}`;
  if (aofs[0] !== (snapshot ?? 1)) {
    return `the first AOF after ${from} is appendonly-${aofs[0]}.aof: the records between are ` +
      `missing`;
  }
  const generation = aofs[aofs.length - 1];
  const replay = aofs.slice(0, -1).map((g) => `appendonly-${g}.aof`);
  return {
    version: 1,
    generation,
    snapshot: snapshot === null ? null : `dump-${snapshot}.hcs`,
    ...(replay.length > 0 ? { replay } : {}),
    aof: `appendonly-${generation}.aof`,
  };
}
