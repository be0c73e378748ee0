import { timeLimited } from "../_time_limit.ts";
import assert from "node:assert/strict";
import { cleanup, type NodeProcess, redisCli, RUNTIMES, startNode } from "./_harness.ts";

const { after, before, describe, it } = timeLimited(import.meta.url, 120_000);

/** One script per family, fed to redis-cli on stdin; the expected output is redis-cli's text. */
const SCRIPTS: Record<string, { input: string[]; output: string[] }> = {
  strings: {
    input: [
      "SET n 9223372036854775806",
      "INCR n",
      "INCR n",
      "INCRBYFLOAT f 0.1",
      "INCRBYFLOAT f 0.2",
      "MSET a 1 b 2",
      "MGET a b c",
      "APPEND a x",
      "GETRANGE a 0 0",
    ],
    output: [
      "OK",
      "9223372036854775807",
      "ERR increment or decrement would overflow",
      "",
      "0.1",
      "0.3",
      "OK",
      "1",
      "2",
      "",
      "2",
      "1",
    ],
  },
  keys: {
    input: [
      "MSET k1 1 k2 2",
      "RENAME k1 k3",
      "KEYS k3",
      "COPY k3 k4",
      "OBJECT ENCODING k4",
      "UNLINK k3 k4",
    ],
    output: ["OK", "OK", "k3", "1", "int", "2"],
  },
  hashes: {
    input: ["HSET h a 1 b 2", "HINCRBY h a 5", "HGETALL h", "HDEL h a b", "EXISTS h"],
    output: ["2", "6", "a", "6", "b", "2", "2", "0"],
  },
  lists: {
    input: ["RPUSH l a b c", "LPOP l 2", "LMOVE l l2 LEFT RIGHT", "LRANGE l2 0 -1", "LLEN l"],
    output: ["3", "a", "b", "c", "c", "0"],
  },
  sets: {
    input: ["SADD s 3 1 2", "SMEMBERS s", "SADD t 2 3 4", "SINTERSTORE u s t", "SCARD u"],
    output: ["3", "1", "2", "3", "3", "2", "2"],
  },
  "sorted sets": {
    input: [
      "ZADD z 1 a 2 b 3 c",
      "ZRANGE z 0 -1 WITHSCORES",
      "ZRANK z c",
      "ZPOPMIN z",
      "ZSCORE z b",
    ],
    output: ["3", "a", "1", "b", "2", "c", "3", "2", "a", "1", "2"],
  },
  bitmaps: {
    input: [
      "SETBIT bits 1 1",
      "SETBIT bits 7 1",
      "GET bits",
      "BITCOUNT bits",
      "BITPOS bits 0",
      "BITOP NOT notbits bits",
      "GETBIT notbits 0",
      "BITFIELD bits INCRBY u8 0 1 GET u4 4",
      "BITFIELD bits OVERFLOW FAIL INCRBY u8 0 1000",
      "BITFIELD_RO bits GET i8 0",
    ],
    output: ["0", "0", "A", "2", "0", "1", "1", "66", "2", "", "66"],
  },
};

for (const runtime of RUNTIMES) {
  describe(`data types through redis-cli on ${runtime}`, () => {
    let node: NodeProcess;
    before(async () => {
      node = await startNode(runtime);
    });
    after(async () => {
      await cleanup(node);
    });

    for (const [family, script] of Object.entries(SCRIPTS)) {
      it(family, async () => {
        const result = await redisCli(node.port, [], script.input.join("\n") + "\n");
        assert.deepEqual(result.stdout.trimEnd().split("\n"), script.output, result.stderr);
      });
    }
  });
}
