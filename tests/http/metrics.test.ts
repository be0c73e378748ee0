import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { fsyncHistogramText } from "../../src/http/metrics.ts";
import { type AofStats, FSYNC_BUCKETS_MS } from "../../src/persistence/aof.ts";

describe("hypercache_aof_fsync_seconds", () => {
  it("renders cumulative buckets in seconds, +Inf, _sum and _count", () => {
    const counts = new Array(FSYNC_BUCKETS_MS.length + 1).fill(0);
    counts[0] = 1; // <= 0.1 ms
    counts[2] = 2; // <= 0.5 ms
    counts[FSYNC_BUCKETS_MS.length] = 1; // above 2.5 s
    const text = fsyncHistogramText({ fsyncBucketCounts: counts, fsyncTotalMs: 3001 } as AofStats);
    const lines = text.trim().split("\n");
    assert.equal(lines[1], "# TYPE hypercache_aof_fsync_seconds histogram");
    assert.ok(lines.includes('hypercache_aof_fsync_seconds_bucket{le="0.0001"} 1'));
    assert.ok(lines.includes('hypercache_aof_fsync_seconds_bucket{le="0.0005"} 3'));
    assert.ok(lines.includes('hypercache_aof_fsync_seconds_bucket{le="2.5"} 3'));
    assert.ok(lines.includes('hypercache_aof_fsync_seconds_bucket{le="+Inf"} 4'));
    assert.ok(lines.includes("hypercache_aof_fsync_seconds_sum 3.001"));
    assert.ok(lines.includes("hypercache_aof_fsync_seconds_count 4"));
  });
});
