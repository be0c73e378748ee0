// The layout rules of the source tree, checked on every file: a folder's `_private.ts` files are
// imported only from that folder and the folders inside it (`src/_assert.ts` serves all of src/), and `Deno.*`/`Bun.*` are called only inside `src/runtime/`.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sources(path));
    else if (entry.name.endsWith(".ts")) out.push(path);
  }
  return out;
}

/** Module specifiers of a file's static imports and re-exports. */
function imports(text: string): string[] {
  return [...text.matchAll(/^(?:import|export)\b[^;]*?from\s+"([^"]+)"/gms)].map((m) => m[1]);
}

/** Source text without comments and string literals, so prose that names `Deno.x` is ignored. */
function code(text: string): string {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/(^|[^:])\/\/.*$/gm, "$1")
    .replace(/`(?:\\.|[^`\\])*`|"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'/g, '""');
}

describe("source layout", () => {
  const files = sources(join(ROOT, "src"));

  it("finds the source files it checks", () => {
    assert.ok(files.length > 100, `found ${files.length} files under src/`);
  });

  it("imports a folder's _private files only from inside that folder", () => {
    const offenders: string[] = [];
    for (const file of files) {
      for (const specifier of imports(readFileSync(file, "utf8"))) {
        if (!specifier.startsWith(".")) continue;
        const target = resolve(dirname(file), specifier);
        const name = target.slice(dirname(target).length + 1);
        if (name.startsWith("_") && !file.startsWith(dirname(target) + "/")) {
          offenders.push(`${relative(ROOT, file)} imports ${relative(ROOT, target)}`);
        }
      }
    }
    assert.deepEqual(offenders, []);
  });

  it("calls Deno.* and Bun.* only inside src/runtime/", () => {
    const runtime = join(ROOT, "src", "runtime");
    const offenders = files
      .filter((file) => !file.startsWith(runtime))
      .filter((file) => /\b(?:Deno|Bun)\.[A-Za-z]/.test(code(readFileSync(file, "utf8"))))
      .map((file) => relative(ROOT, file));
    assert.deepEqual(offenders, []);
  });

  it("keeps the keyspace free of the runtime layer", () => {
    const offenders = sources(join(ROOT, "src", "keyspace"))
      .filter((file) => imports(readFileSync(file, "utf8")).some((s) => s.includes("/runtime/")))
      .map((file) => relative(ROOT, file));
    assert.deepEqual(offenders, []);
  });
});
