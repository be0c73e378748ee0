/** The `cluster:` section of the node config: its defaults, its values and its errors. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, loadConfig, parseArgs } from "../../src/config/config.ts";

function load(yaml: string | null, args: string[] = [], env: Record<string, string> = {}) {
  return loadConfig(yaml, { ...parseArgs(args), configPath: "node.yaml" }, (name) => env[name]);
}

/** The ConfigError message loading `yaml` throws. */
function configError(yaml: string): string {
  try {
    load(yaml);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    return error.message;
  }
  assert.fail(`expected a ConfigError for:\n${yaml}`);
}

/** A YAML document with `lines` (already indented) under `cluster:`, enabled. */
function enabled(...lines: string[]): string {
  return ["cluster:", "  enabled: true", ...lines].join("\n") + "\n";
}

describe("config: cluster defaults", () => {
  it("is off, with ports derived from the RESP port, without a file", () => {
    assert.deepEqual(load(null).cluster, {
      enabled: false,
      announceHost: "127.0.0.1",
      busPort: 6379 + 10000,
      gossipPort: 6379 + 20000,
      seeds: [],
      bootstrapExpect: 1,
      voters: 3,
      secret: "",
      failureTimeoutMs: 15_000,
      zone: "",
      weight: 1,
    });
  });

  it("derives bus_port and gossip_port from a configured port", () => {
    const { cluster } = load("port: 7001\ncluster:\n  enabled: true\n");
    assert.equal(cluster.enabled, true);
    assert.equal(cluster.busPort, 17001);
    assert.equal(cluster.gossipPort, 27001);
  });

  it("announces the bind address unless announce_host is set", () => {
    assert.equal(load("bind: 10.1.2.3\n").cluster.announceHost, "10.1.2.3");
    const { cluster } = load("bind: 0.0.0.0\n" + enabled("  announce_host: node1.example"));
    assert.equal(cluster.announceHost, "node1.example");
  });
});

describe("config: cluster values", () => {
  it("reads every setting of the section", () => {
    const yaml = [
      "port: 7001",
      "bind: 10.0.0.1",
      "cluster:",
      "  enabled: yes",
      "  announce_host: 192.168.1.1",
      "  bus_port: 7101",
      "  gossip_port: 7201",
      "  seeds: [10.0.0.2:7202, 'node3.example:7203']",
      "  bootstrap_expect: 3",
      "  voters: 5",
      "  secret: s3cret",
      "  failure_timeout: 30s",
      "  zone: eu-west-1a",
      "  weight: 2",
    ].join("\n");
    assert.deepEqual(load(yaml).cluster, {
      enabled: true,
      announceHost: "192.168.1.1",
      busPort: 7101,
      gossipPort: 7201,
      seeds: [{ host: "10.0.0.2", port: 7202 }, { host: "node3.example", port: 7203 }],
      bootstrapExpect: 3,
      voters: 5,
      secret: "s3cret",
      failureTimeoutMs: 30_000,
      zone: "eu-west-1a",
      weight: 2,
    });
  });

  it("accepts 1, 3 and 5 voters and a failure_timeout of exactly 1s", () => {
    for (const voters of [1, 3, 5]) {
      assert.equal(load(enabled(`  voters: ${voters}`)).cluster.voters, voters);
    }
    assert.equal(load(enabled("  failure_timeout: 1s")).cluster.failureTimeoutMs, 1000);
    assert.equal(load(enabled("  failure_timeout: 1000ms")).cluster.failureTimeoutMs, 1000);
  });

  it("accepts a seed on this host at another node's gossip port", () => {
    const { cluster } = load(enabled("  seeds: ['127.0.0.1:26380', 'localhost:26381']"));
    assert.deepEqual(cluster.seeds, [
      { host: "127.0.0.1", port: 26380 },
      { host: "localhost", port: 26381 },
    ]);
  });

  it("takes the cluster flags and HYPERCACHE_CLUSTER_* variables over the file", () => {
    const { cluster } = load(
      "cluster:\n  enabled: false\n  secret: from-file\n",
      ["--cluster", "yes", "--cluster-bus-port", "7100", "--cluster-failure-timeout", "5s"],
      { HYPERCACHE_CLUSTER_SECRET: "from-env", HYPERCACHE_CLUSTER_BOOTSTRAP_EXPECT: "3" },
    );
    assert.equal(cluster.enabled, true);
    assert.equal(cluster.busPort, 7100);
    assert.equal(cluster.failureTimeoutMs, 5000);
    assert.equal(cluster.secret, "from-env");
    assert.equal(cluster.bootstrapExpect, 3);
  });
});

describe("config: cluster errors name the field", () => {
  it("refuses a seed that is not host:port", () => {
    for (const seed of ["nohost", ":7000", "host:", "host:port", "host:70000", "host:0"]) {
      assert.match(
        configError(enabled(`  seeds: ['10.0.0.2:7202', '${seed}']`)),
        /^cluster\.seeds\[1\]: .* is not host:port/,
        seed,
      );
    }
    assert.match(configError(enabled("  seeds: ['nohost']")), /^cluster\.seeds\[0\]: "nohost"/);
  });

  it("refuses a seed that is this node's own gossip address", () => {
    for (const host of ["127.0.0.1", "localhost"]) {
      assert.equal(
        configError(enabled(`  seeds: ['${host}:26379']`)),
        `cluster.seeds[0]: ${host}:26379 is this node's own gossip address`,
      );
    }
    assert.match(
      configError("bind: 10.0.0.1\n" + enabled("  seeds: [10.0.0.2:27000, 10.0.0.1:26379]")),
      /^cluster\.seeds\[1\]: 10\.0\.0\.1:26379 is this node's own gossip address/,
    );
    assert.match(
      configError(enabled("  announce_host: node1.example", "  seeds: ['node1.example:26379']")),
      /^cluster\.seeds\[0\]: /,
    );
  });

  it("refuses a voter count other than 1, 3 or 5", () => {
    assert.equal(configError(enabled("  voters: 2")), "cluster.voters: 2 must be 1, 3 or 5");
    assert.match(configError(enabled("  voters: 4")), /^cluster\.voters: 4/);
    assert.match(configError(enabled("  voters: 7")), /^cluster\.voters: 7/);
    assert.match(configError(enabled("  voters: 0")), /^cluster\.voters: 0/);
  });

  it("refuses a failure_timeout below 1s", () => {
    assert.match(
      configError(enabled("  failure_timeout: 500ms")),
      /^cluster\.failure_timeout: 500 ms is below 1s/,
    );
  });

  it("refuses a port whose default bus port would be past 65535", () => {
    assert.equal(
      configError("port: 60000\n" + enabled()),
      "cluster.bus_port: port 60000 + 10000 is past 65535; set cluster.bus_port",
    );
  });

  it("names gossip_port when only the default gossip port would be past 65535", () => {
    assert.equal(
      configError("port: 50000\n" + enabled()),
      "cluster.gossip_port: port 50000 + 20000 is past 65535; set cluster.gossip_port",
    );
  });

  it("accepts a high port on a single node, whose bus and gossip ports are never opened", () => {
    assert.equal(load("port: 60000\n").port, 60000);
  });

  it("accepts a high port when bus_port and gossip_port are set", () => {
    const { cluster } = load(
      "port: 60000\n" + enabled("  bus_port: 60001", "  gossip_port: 60002"),
    );
    assert.equal(cluster.busPort, 60001);
    assert.equal(cluster.gossipPort, 60002);
  });

  it("refuses an explicit bus_port or gossip_port out of range", () => {
    assert.match(configError(enabled("  bus_port: 70000")), /^cluster\.bus_port: 70000/);
    assert.match(configError(enabled("  gossip_port: -1")), /^cluster\.gossip_port: -1/);
  });

  it("refuses an unknown key under cluster, naming it and the known ones", () => {
    assert.match(
      configError(enabled("  bootstrap_expected: 3")),
      /^cluster\.bootstrap_expected: unknown setting \(known: .*bootstrap_expect/,
    );
  });

  it("refuses a bus_port or gossip_port equal to another of the node's ports", () => {
    assert.match(
      configError(enabled("  bus_port: 6379")),
      /^cluster\.bus_port: port, bus_port and gossip_port must differ \(got 6379, 6379, 26379\)/,
    );
    assert.match(configError(enabled("  gossip_port: 16379")), /must differ/);
  });

  it("refuses a cluster section that is not a mapping", () => {
    assert.match(configError("cluster: 5\n"), /^cluster: 5 is not a mapping/);
  });
});
