/**
 * `deno task check-aof <data-dir> [--fix] [--print]`: checks a data directory as
 * `redis-check-aof` does. It reads the manifest and checks that its chain of files is whole,
 * verifies the snapshot's checksum and scans every AOF the manifest names, verifying each
 * batch's checksum, printing each file's record count and, for a damaged one, the offset of the
 * first bad byte and of the end of the last valid batch. `--fix` truncates a damaged AOF after
 * its last valid batch (a damaged snapshot cannot be fixed) and, when `manifest.json` is lost,
 * writes one from the files present (the newest snapshot and the AOFs after it); `--print`
 * lists every record with its offset.
 *
 * Exit status: 0 when everything is whole (or was fixed), 1 when something is still damaged,
 * 2 for a usage error.
 *
 * @module
 */
import process from "node:process";
import { nodeFileSystem } from "../runtime/node_fs.ts";
import type { FileSystem } from "../runtime/types.ts";
import { describeRecord, scanAof } from "./aof_reader.ts";
import {
  chainProblem,
  inferManifest,
  isDataFile,
  join,
  type Manifest,
  MANIFEST_NAME,
  manifestAofs,
  manifestBytes,
  readManifest,
  sortUnnamed,
} from "./manifest.ts";
import { verifySnapshot } from "./snapshot.ts";

export interface CheckOptions {
  fs: FileSystem;
  dataDir: string;
  /** Truncate a damaged AOF after its last complete record. @default false */
  fix?: boolean;
  /** List every record. @default false */
  print?: boolean;
  /** Where lines go. @default console.log */
  log?: (line: string) => void;
}

async function isEmpty(fs: FileSystem, path: string): Promise<boolean> {
  const file = await fs.open(path, "r+");
  try {
    return await file.size() === 0;
  } finally {
    await file.close();
  }
}

/**
 * For a directory whose manifest is lost: says what the files imply and, with `fix`, writes
 * that manifest once its snapshot verifies. Returns it, or null.
 */
async function recoverManifest(options: CheckOptions, log: (line: string) => void) {
  const { fs, dataDir } = options;
  const path = join(dataDir, MANIFEST_NAME);
  const names = (await fs.readDir(dataDir)).filter(isDataFile).sort();
  if (names.length === 0) {
    log(`BAD  ${path}: missing (is ${dataDir} a data directory?)`);
    return null;
  }
  log(`BAD  ${path}: missing, but the directory holds ${names.join(", ")}`);
  const inferred = inferManifest(names);
  if (typeof inferred === "string") {
    log(`     cannot write one from these files: ${inferred}`);
    return null;
  }
  const files = inferred.snapshot === null
    ? `${manifestAofs(inferred).join(", ")} (no snapshot)`
    : [inferred.snapshot, ...manifestAofs(inferred)].join(", ");
  if (!options.fix) {
    log(`     --fix would write one naming ${files} (generation ${inferred.generation})`);
    return null;
  }
  if (inferred.snapshot !== null) {
    const snapshot = join(dataDir, inferred.snapshot);
    try {
      verifySnapshot((await fs.readFile(snapshot)) ?? new Uint8Array(), snapshot);
    } catch (error) {
      log(`     cannot write one: ${(error as Error).message}`);
      return null;
    }
  }
  await fs.writeFileAtomic(path, manifestBytes(inferred));
  log(`     fixed: wrote ${path} naming ${files} (generation ${inferred.generation})`);
  return inferred;
}

/** Checks (and with `fix`, repairs) a data directory; resolves true when it is whole. */
export async function checkDataDir(options: CheckOptions): Promise<boolean> {
  const { fs, dataDir } = options;
  const log = options.log ?? console.log;
  let manifest: Manifest | null;
  try {
    manifest = await readManifest(fs, dataDir);
  } catch (error) {
    log(`BAD  ${(error as Error).message}`);
    return false;
  }
  if (manifest === null) {
    manifest = await recoverManifest(options, log);
    if (manifest === null) return false;
  }
  const problem = chainProblem(manifest);
  if (problem !== null) {
    log(`BAD  ${join(dataDir, MANIFEST_NAME)} is inconsistent: ${problem}`);
    return false;
  }
  log(`ok   manifest: generation ${manifest.generation}`);
  let whole = true;
  if (manifest.snapshot !== null) {
    const path = join(dataDir, manifest.snapshot);
    const bytes = await fs.readFile(path);
    if (bytes === null) {
      log(`BAD  ${path}: the manifest names it but it is missing`);
      whole = false;
    } else {
      try {
        log(`ok   ${path}: ${verifySnapshot(bytes, path)} keys, checksum ok`);
      } catch (error) {
        log(`BAD  ${(error as Error).message} (cannot be fixed; the AOF alone is not all data)`);
        whole = false;
      }
    }
  }
  for (const name of manifestAofs(manifest)) {
    const path = join(dataDir, name);
    const bytes = await fs.readFile(path);
    if (bytes === null) {
      log(
        `BAD  ${path}: the manifest names it but it is missing (restore it; to go on without ` +
          `its records, create it empty)`,
      );
      whole = false;
      continue;
    }
    const scan = scanAof(bytes, (argv, offset) => {
      if (options.print) log(`     ${offset}: ${describeRecord(argv)}`);
    });
    const checked = scan.checksummed
      ? `${scan.batchCount} batches, checksums ok`
      : "written before checksums";
    if (scan.problem === null) {
      log(`ok   ${path}: ${scan.recordCount} records, ${bytes.length} bytes, ${checked}`);
      continue;
    }
    const { kind, badByteOffset, reason } = scan.problem;
    log(
      `BAD  ${path}: ${scan.recordCount} valid records; ${kind} at offset ${badByteOffset} ` +
        `(${reason}); the valid part ends at offset ${scan.validBytes} of ${bytes.length}`,
    );
    if (!options.fix) {
      whole = false;
      continue;
    }
    const file = await fs.open(path, "r+");
    try {
      await file.truncate(scan.validBytes);
      await file.datasync();
    } finally {
      await file.close();
    }
    log(
      `     fixed: truncated to ${scan.validBytes} bytes (${
        bytes.length - scan.validBytes
      } dropped)`,
    );
  }
  const names = await fs.readDir(dataDir);
  const unnamed = await sortUnnamed(manifest, names, (name) => isEmpty(fs, join(dataDir, name)));
  for (const name of unnamed.superseded) {
    log(`note ${join(dataDir, name)}: not named by the manifest, obsolete (start-up removes it)`);
  }
  for (const name of unnamed.kept) {
    log(`note ${join(dataDir, name)}: not named by the manifest, not provably obsolete (kept)`);
  }
  return whole;
}

async function main(args: string[]): Promise<number> {
  const flags = new Set(args.filter((arg) => arg.startsWith("--")));
  const paths = args.filter((arg) => !arg.startsWith("--"));
  const unknown = [...flags].filter((flag) => flag !== "--fix" && flag !== "--print");
  if (paths.length !== 1 || unknown.length > 0) {
    console.error("Usage: deno task check-aof <data-dir> [--fix] [--print]");
    return 2;
  }
  const whole = await checkDataDir({
    fs: nodeFileSystem,
    dataDir: paths[0],
    fix: flags.has("--fix"),
    print: flags.has("--print"),
  });
  console.log(whole ? "data directory is valid" : "data directory is damaged");
  return whole ? 0 : 1;
}

if (import.meta.main) process.exit(await main(process.argv.slice(2)));
