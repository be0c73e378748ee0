import { timeLimited } from "../_time_limit.ts";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runtimeCommand } from "../e2e/_harness.ts";
import {
  buildConfig,
  ConfigError,
  loadConfig,
  type NodeConfig,
  parseArgs,
} from "../../src/config/config.ts";

const { describe, it } = timeLimited(import.meta.url, 120_000);

const noEnv = () => undefined;

function load(yaml: string | null, args: string[] = [], env: Record<string, string> = {}) {
  return loadConfig(yaml, { ...parseArgs(args), configPath: "node.yaml" }, (name) => env[name]);
}

/** The ConfigError message `fn` throws. */
function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    return error.message;
  }
  assert.fail("expected a ConfigError");
}

describe("config: defaults and parsing", () => {
  it("gives every setting its documented default without a file", () => {
    const config: NodeConfig = loadConfig(null, parseArgs([]), noEnv);
    assert.equal(config.port, 6379);
    assert.equal(config.bind, "127.0.0.1");
    assert.equal(config.nodeId, "127.0.0.1:6379");
    assert.equal(config.maxClients, 10_000);
    assert.equal(config.limits.maxBulkBytes, 512 * 1024 * 1024);
    assert.equal(config.limits.maxQueryBufferBytes, 1024 * 1024 * 1024);
    // Redis's 16 databases: store 0 and 15 numbered ones sharing its memory limit.
    assert.deepEqual(
      config.stores.map((s) => s.name),
      ["default", ...Array.from({ length: 15 }, (_, i) => String(i + 1))],
    );
    assert.ok(config.stores.slice(1).every((s) => s.memoryOf === 0));
    assert.equal(config.stores[0].evictionPolicy, "noeviction");
    assert.equal(config.stores[0].filter, undefined);
    assert.equal(config.http.enabled, true);
    assert.equal(config.http.port, 8080);
    assert.deepEqual(config.persistence, {
      appendonly: false,
      appendfsync: "everysec",
      snapshotEveryWrites: 10_000,
      snapshotIntervalMs: 60_000,
      autoRewritePercentage: 100,
      autoRewriteMinBytes: 64 * 1024 * 1024,
      aofLoadTruncated: false,
    });
  });

  it("loads config/default.yaml to the same values as the built-in defaults", async () => {
    const text = await import("node:fs/promises").then((fs) =>
      fs.readFile(new URL("../../config/default.yaml", import.meta.url), "utf8")
    );
    const fromFile = load(text);
    const builtIn = loadConfig(null, parseArgs([]), noEnv);
    assert.deepEqual(
      // The file spells the filter out (disabled); the numbered databases have none.
      {
        ...fromFile,
        stores: fromFile.stores.map((s) => "filter" in s ? { ...s, filter: undefined } : s),
      },
      builtIn,
    );
  });

  it("parses sizes with Redis units", () => {
    const sizes: [string | number, number][] = [
      [100, 100],
      ["100", 100],
      ["1k", 1000],
      ["1kb", 1024],
      ["64mb", 64 * 1024 * 1024],
      ["64MB", 64 * 1024 * 1024],
      ["2m", 2_000_000],
      ["1g", 1e9],
      ["1gb", 1024 ** 3],
      ["1.5kb", 1536],
      ["10 mb", 10 * 1024 * 1024],
    ];
    for (const [text, bytes] of sizes) {
      const config = buildConfig({ stores: [{ max_memory: text }] });
      assert.equal(config.stores[0].maxMemoryBytes, bytes, `size ${text}`);
    }
  });

  it("parses durations as seconds or with a unit", () => {
    const durations: [string | number, number][] = [
      [30, 30_000],
      [0.5, 500],
      ["500ms", 500],
      ["30s", 30_000],
      ["5m", 300_000],
      ["1h", 3_600_000],
      ["1d", 86_400_000],
      ["90", 90_000],
    ];
    for (const [text, ms] of durations) {
      const config = buildConfig({ stores: [{ default_ttl: text }] });
      assert.equal(config.stores[0].defaultTtlMs, ms, `duration ${text}`);
    }
  });

  it("reads named stores with their own limits, policies, TTLs and filters", () => {
    const config = load(`
stores:
  - name: default
  - name: sessions
    max_memory: 64mb
    eviction_policy: session
    default_ttl: 30m
    eviction_samples: 10
    persist: no
    filter:
      enabled: yes
      capacity: 5000
      error_rate: 0.001
`);
    assert.deepEqual(config.stores[1], {
      name: "sessions",
      maxMemoryBytes: 64 * 1024 * 1024,
      evictionPolicy: "session",
      defaultTtlMs: 30 * 60_000,
      evictionSamples: 10,
      persist: false,
      filter: { capacity: 5000, errorRate: 0.001 },
    });
  });

  it("parses booleans as yes/no, true/false, on/off", () => {
    for (const [text, value] of [["yes", true], ["no", false], ["on", true], ["off", false]]) {
      assert.equal(load(null, ["--appendonly", text as string]).persistence.appendonly, value);
    }
  });
});

describe("config: precedence file < environment < flags", () => {
  const yaml = "port: 7000\nbind: 10.0.0.1\nmaxclients: 50\nstores:\n  - max_memory: 1mb\n";

  it("takes the file's values when nothing overrides them", () => {
    const config = load(yaml);
    assert.equal(config.port, 7000);
    assert.equal(config.bind, "10.0.0.1");
  });

  it("lets HYPERCACHE_* environment variables override the file", () => {
    const config = load(yaml, [], { HYPERCACHE_PORT: "7001", HYPERCACHE_MAXMEMORY: "2mb" });
    assert.equal(config.port, 7001);
    assert.equal(config.bind, "10.0.0.1");
    assert.equal(config.stores[0].maxMemoryBytes, 2 * 1024 * 1024);
  });

  it("lets flags override the environment and the file", () => {
    const config = load(yaml, ["--port", "7002", "--maxmemory=3mb", "--maxclients", "9"], {
      HYPERCACHE_PORT: "7001",
      HYPERCACHE_MAXMEMORY: "2mb",
      HYPERCACHE_BIND: "0.0.0.0",
    });
    assert.equal(config.port, 7002);
    assert.equal(config.stores[0].maxMemoryBytes, 3 * 1024 * 1024);
    assert.equal(config.maxClients, 9);
    assert.equal(config.bind, "0.0.0.0", "the environment still beats the file");
  });

  it("maps dashed flags to underscored variables (HYPERCACHE_MAXMEMORY_POLICY)", () => {
    const config = load(null, [], { HYPERCACHE_MAXMEMORY_POLICY: "allkeys-lru" });
    assert.equal(config.stores[0].evictionPolicy, "allkeys-lru");
  });

  it("creates the store list when a flag sets store 0 without a file", () => {
    const config = load(null, ["--maxmemory", "10mb"]);
    assert.equal(config.stores.length, 16);
    assert.equal(config.stores[0].name, "default");
    assert.equal(config.stores[0].maxMemoryBytes, 10 * 1024 * 1024);
    assert.equal(config.stores[5].maxMemoryBytes, 10 * 1024 * 1024, "the databases share it");
  });
});

describe("config: validation names the field, the value and what was expected", () => {
  const cases: [string, string][] = [
    [
      "stores:\n  - name: a\n  - name: b\n    max_memory: 12QB\n",
      'stores[1].max_memory: "12QB" is not a size (use e.g. 64mb)',
    ],
    ["port: 70000\n", "port: 70000 is not an integer between 0 and 65535"],
    ["port: abc\n", 'port: "abc" is not an integer between 0 and 65535'],
    ["maxclients: 0\n", "maxclients: 0 is not an integer between 1 and 1000000"],
    [
      "stores:\n  - eviction_policy: lru\n",
      'stores[0].eviction_policy: "lru" is not one of noeviction, allkeys-lru, allkeys-lfu, ' +
      "allkeys-random, volatile-lru, volatile-lfu, volatile-random, volatile-ttl, session",
    ],
    [
      "stores:\n  - default_ttl: soon\n",
      'stores[0].default_ttl: "soon" is not a duration (use e.g. 30s or 5m)',
    ],
    [
      "stores:\n  - filter:\n      enabled: yes\n      error_rate: 2\n",
      "stores[0].filter.error_rate: 2 is not a number between 0 and 1",
    ],
    [
      "stores:\n  - filter:\n      enabled: maybe\n",
      'stores[0].filter.enabled: "maybe" is not a boolean (use yes or no)',
    ],
    [
      "persistence:\n  appendfsync: sometimes\n",
      'persistence.appendfsync: "sometimes" is not one of always, everysec, no',
    ],
    ["stores: []\n", "stores: the list is empty (define at least one store)"],
    ["stores: 3\n", "stores: 3 is not a list"],
    ["stores:\n  - 3\n", "stores[0]: 3 is not a mapping"],
    ["http: 1\n", "http: 1 is not a mapping"],
    [
      "stores:\n  - name: a\n  - name: a\n",
      'stores[1].name: "a" is used twice',
    ],
    [
      "stores:\n  - name: 9lives\n",
      'stores[0].name: "9lives" is not a store name (letters, digits, _ . -, starting with a letter)',
    ],
    [
      "limits:\n  client_query_buffer_limit: 1kb\n",
      "limits.client_query_buffer_limit: 1024 is below the minimum of 1mb",
    ],
  ];
  for (const [yaml, message] of cases) {
    it(`reports ${message}`, () => {
      assert.equal(configError(() => load(yaml)), message);
    });
  }

  it("rejects unknown keys at every level, listing the known ones", () => {
    assert.match(configError(() => load("prot: 1\n")), /^prot: unknown setting \(known: node_id, /);
    assert.match(
      configError(() => load("stores:\n  - name: a\n    maxmemory: 1mb\n")),
      /^stores\[0\]\.maxmemory: unknown setting \(known: name, max_memory, /,
    );
    assert.match(
      configError(() => load("stores:\n  - filter:\n      size: 1\n")),
      /^stores\[0\]\.filter\.size: unknown setting \(known: enabled, capacity, error_rate\)$/,
    );
    assert.match(configError(() => load("limits:\n  bulk: 1\n")), /^limits\.bulk: unknown setting/);
  });

  it("names the flag or variable value that failed", () => {
    assert.equal(
      configError(() => load(null, ["--port", "x"])),
      'port: "x" is not an integer between 0 and 65535',
    );
    assert.equal(
      configError(() => load(null, [], { HYPERCACHE_MAXMEMORY: "lots" })),
      'stores[0].max_memory: "lots" is not a size (use e.g. 64mb)',
    );
  });

  it("rejects YAML that does not parse, or is not a mapping, naming the file", () => {
    assert.match(configError(() => load("port: [1\n")), /^node\.yaml: not valid YAML: /);
    assert.equal(configError(() => load("- 1\n")), "node.yaml: the document is not a mapping");
  });

  it("rejects unknown flags, stray arguments and a flag without a value", () => {
    assert.equal(
      configError(() => parseArgs(["--prot", "1"])),
      "--prot: unknown flag (see --help)",
    );
    assert.equal(
      configError(() => parseArgs(["6379"])),
      "6379: unexpected argument (flags start with --)",
    );
    assert.equal(configError(() => parseArgs(["--port"])), "--port: missing value");
    assert.equal(parseArgs(["--config", "a.yaml"]).configPath, "a.yaml");
    assert.equal(parseArgs(["--help"]).help, true);
  });

  it("requires a default_ttl above 0 for the session policy", () => {
    assert.equal(
      configError(() => load("stores:\n  - eviction_policy: session\n")),
      "stores[0].default_ttl: 0 must be above 0 with eviction_policy session (it is the idle timeout)",
    );
  });

  it("requires proto_max_bulk_len to fit in client_query_buffer_limit", () => {
    assert.equal(
      configError(() =>
        load("limits:\n  proto_max_bulk_len: 2gb\n  client_query_buffer_limit: 1gb\n")
      ),
      "limits.proto_max_bulk_len: 2147483648 is above client_query_buffer_limit (1073741824): " +
        "such a bulk could never be received",
    );
  });

  it("refuses limits under which a command could be acknowledged and never replayed from the AOF", () => {
    assert.equal(
      configError(() => load("limits:\n  max_multibulk_length: 2000000\n")),
      "limits.max_multibulk_length: 2000000 is above the most arguments an AOF record may hold " +
        "(1048576): such a command could be acknowledged and never replayed",
    );
    assert.equal(
      configError(() =>
        load("limits:\n  proto_max_bulk_len: 5gb\n  client_query_buffer_limit: 8gb\n")
      ),
      "limits.proto_max_bulk_len: 5368709120 is above the largest argument an AOF record may " +
        "hold (4294967296): such a value could be acknowledged and never replayed",
    );
  });
});

const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const [deno, base] = runtimeCommand("deno", MAIN);
    execFile(deno, [...base, ...args], { timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe("config: the real command line", () => {
  it("exits with status 2 and one line naming the field for a bad config file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "hypercache-config-"));
    try {
      const path = join(dir, "bad.yaml");
      await writeFile(path, "stores:\n  - name: a\n  - name: b\n    max_memory: 12QB\n");
      const { code, stdout, stderr } = await runCli(["--config", path]);
      assert.equal(code, 2);
      assert.equal(stdout, "");
      assert.equal(
        stderr,
        'hypercache: invalid configuration: stores[1].max_memory: "12QB" is not a size (use e.g. 64mb)\n',
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("exits with status 1 and one line naming the port when the port is in use", async () => {
    const dir = await mkdtemp(join(tmpdir(), "hypercache-config-"));
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const { code, stderr } = await runCli([
        "--port",
        String(port),
        "--http",
        "no",
        "--data-dir",
        dir,
      ]);
      assert.equal(code, 1);
      const lines = stderr.trimEnd().split("\n");
      assert.equal(lines.length, 1, stderr);
      assert.match(lines[0], new RegExp(`^hypercache: .*port ${port} is already in use$`));
    } finally {
      await new Promise((resolve) => server.close(resolve));
      await rm(dir, { recursive: true, force: true });
    }
  });
});
