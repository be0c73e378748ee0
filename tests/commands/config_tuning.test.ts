/**
 * CONFIG SET and GET of Redis's encoding and tuning settings, reply for reply against
 * redis-server 7.0 (values, aliases, range and parse errors), and OBJECT ENCODING following the
 * thresholds as they change.
 */
import assert from "node:assert/strict";
import { buildConfig } from "../../src/config/config.ts";
import { HttpExecutor } from "../../src/http/executor.ts";
import { encodingLimits } from "../../src/keyspace/encoding.ts";
import { assembleNode } from "../../src/node.ts";
import { currentRuntime } from "../../src/runtime/mod.ts";
import { referenceRedis } from "./_redis_reference.ts";
import { timeLimited } from "../_time_limit.ts";

const { after, before, describe, it } = timeLimited(import.meta.url, 60_000);

const c = (line: string) => line.split(" ").map((arg) => (arg === "''" ? "" : arg));

const SCRIPT = [
  "CONFIG GET hash-max-listpack-entries",
  "CONFIG GET hash-max-ziplist-value",
  "CONFIG GET set-max-intset-entries",
  "CONFIG GET zset-max-ziplist-entries",
  "CONFIG GET list-max-listpack-size",
  "CONFIG GET list-compress-depth",
  "CONFIG GET stream-node-max-bytes",
  "CONFIG GET stream-node-max-entries",
  "CONFIG GET hll-sparse-max-bytes",
  "CONFIG GET activerehashing",
  "CONFIG SET hash-max-listpack-entries abc",
  "CONFIG SET hash-max-listpack-entries -1",
  "CONFIG SET hash-max-listpack-entries 99999999999999999999",
  "CONFIG SET hash-max-listpack-entries 1kb",
  "CONFIG SET hash-max-listpack-value -5",
  "CONFIG SET hash-max-listpack-value 1x",
  "CONFIG SET hash-max-listpack-value 1kb",
  "CONFIG GET hash-max-ziplist-value",
  "CONFIG SET list-max-ziplist-size -7",
  "CONFIG GET list-max-listpack-size",
  "CONFIG SET list-max-listpack-size 3000000000",
  "CONFIG SET list-compress-depth -1",
  "CONFIG SET stream-node-max-bytes 4kb",
  "CONFIG GET stream-node-max-bytes",
  "CONFIG SET stream-node-max-entries 0",
  "CONFIG SET activerehashing maybe",
  "CONFIG SET activerehashing no",
  "CONFIG GET activerehashing",
  "CONFIG SET save x",
  "CONFIG SET save 100",
  "CONFIG SET save ''",
  "CONFIG GET save",
  // OBJECT ENCODING follows the thresholds; a container converts at its next write.
  "HSET h a 1 b 2 c 3",
  "OBJECT ENCODING h",
  "CONFIG SET hash-max-ziplist-entries 2",
  "OBJECT ENCODING h",
  "HSET h d 4",
  "OBJECT ENCODING h",
  "HSET h2 a 1 b 2 c 3",
  "OBJECT ENCODING h2",
  "CONFIG SET hash-max-listpack-entries 128",
  "CONFIG SET hash-max-listpack-value 3",
  "HSET h3 f abcd",
  "OBJECT ENCODING h3",
  "CONFIG SET set-max-intset-entries 2",
  "SADD s 1 2",
  "OBJECT ENCODING s",
  "SADD s 3",
  "OBJECT ENCODING s",
  "CONFIG SET zset-max-listpack-entries 1",
  "ZADD z 1 a",
  "OBJECT ENCODING z",
  "ZADD z 2 b",
  "OBJECT ENCODING z",
  "CONFIG SET zset-max-listpack-entries 128",
  "CONFIG SET zset-max-listpack-value 2",
  "ZADD z2 1 abc",
  "OBJECT ENCODING z2",
].map(c);

describe("CONFIG SET of encoding and tuning settings", () => {
  const reference = referenceRedis(before, after);
  let executor: HttpExecutor;
  const defaults = { ...encodingLimits };

  before(async () => {
    const parts = await assembleNode(buildConfig({ port: 0, http: { enabled: false } }), {
      ...await currentRuntime(),
    });
    executor = new HttpExecutor(parts.dispatcher, () => Date.now());
  });
  // The thresholds are the process's: put them back for the next test file.
  after(() => void Object.assign(encodingLimits, defaults));

  it("accepts, refuses and reads back as redis-server, and OBJECT ENCODING follows", async () => {
    const redis = reference();
    if (!redis) return;
    const client = executor.client("admin", 0);
    for (const argv of SCRIPT) {
      const expected = await redis.run(...argv);
      assert.equal(await executor.runText(client, argv), expected, argv.join(" "));
    }
  });
});
