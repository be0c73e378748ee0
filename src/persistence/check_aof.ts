/**
 * `deno task check-aof <data-dir> [--fix] [--print]`: checks a data directory as
 * `redis-check-aof` does. It reads the manifest, verifies the snapshot's checksum and scans
 * every AOF the manifest names, printing each file's record count and, for a damaged one, the
 * offset of the first bad byte and of the last complete record. `--fix` truncates a damaged AOF
 * after its last complete record (a damaged snapshot cannot be fixed); `--print` lists every
 * record with its offset.
 *
 * Exit status: 0 when everything is whole (or was fixed), 1 when something is still damaged,
 * 2 for a usage error.
 *
 * @module
 */
import process from "node:process";
import { nodeFileSystem } from "../runtime/node_fs.ts";
import type { FileSystem } from "../runtime/types.ts";
import { scanAof } from "./aof_reader.ts";
import { join, manifestAofs, readManifest } from "./persistence.ts";
import { verifySnapshot } from "./snapshot.ts";

/** Longest argument text shown by `--print`. */
const PRINT_ARG_CHARS = 40;

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

function show(argv: string[]): string {
  return argv.map((arg) => {
    const text = JSON.stringify(arg);
    return text.length > PRINT_ARG_CHARS ? `${text.slice(0, PRINT_ARG_CHARS)}..."` : text;
  }).join(" ");
}

/** Checks (and with `fix`, repairs) a data directory; resolves true when it is whole. */
export async function checkDataDir(options: CheckOptions): Promise<boolean> {
  const { fs, dataDir } = options;
  const log = options.log ?? console.log;
  let manifest;
  try {
    manifest = await readManifest(fs, dataDir);
  } catch (error) {
    log(`BAD  ${(error as Error).message}`);
    return false;
  }
  if (manifest === null) {
    log(`BAD  ${join(dataDir, "manifest.json")}: missing (is ${dataDir} a data directory?)`);
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
      const last = name === manifest.aof;
      log(`${last ? "ok  " : "BAD "} ${path}: missing${last ? " (no writes yet)" : ""}`);
      whole &&= last;
      continue;
    }
    const scan = scanAof(bytes, (argv, offset) => {
      if (options.print) log(`     ${offset}: ${show(argv)}`);
    });
    if (scan.problem === null) {
      log(`ok   ${path}: ${scan.recordCount} records, ${bytes.length} bytes`);
      continue;
    }
    const { kind, badByteOffset, reason } = scan.problem;
    log(
      `BAD  ${path}: ${scan.recordCount} valid records; ${kind} at offset ${badByteOffset} ` +
        `(${reason}); the last valid record ends at offset ${scan.validBytes} of ${bytes.length}`,
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
