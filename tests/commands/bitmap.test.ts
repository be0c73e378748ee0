/**
 * The bitmap commands (SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD, BITFIELD_RO) against a
 * real redis-server 7.0 (skipped when it is not installed): short scripts run on an empty
 * keyspace on both sides must get byte-identical replies; the offset bound follows
 * `proto-max-bulk-len`, the memory limit refuses the writes; and what a write logs for the AOF
 * and the keyspace notifications it raises are the ones redis-server writes to its own AOF and
 * publishes.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { onTimeLimit, timeLimited } from "../_time_limit.ts";
import { DEFAULT_MAX_BULK_BYTES, MAX_STRING_BYTES } from "../../src/constants.ts";
import { Dispatcher } from "../../src/commands/dispatch.ts";
import { type KeyspaceEvent, keyspaceEvents } from "../../src/commands/events.ts";
import { createCommandTable } from "../../src/commands/table.ts";
import { internalClient, type ServerHooks } from "../../src/commands/types.ts";
import { Keyspace } from "../../src/keyspace/keyspace.ts";
import { RespDecoder, type RespValue } from "../../src/resp/decoder.ts";
import { ReplyWriter } from "../../src/resp/writer.ts";
import { RawClient } from "../e2e/_raw_client.ts";
import { harness } from "./_ext_harness.ts";
import { HAVE_REDIS, REDIS_SERVER, ReferenceRedis } from "./_redis_reference.ts";

const { after, before, describe, it } = timeLimited(import.meta.url, 120_000);

type Script = string[][];

/**
 * One command from a line: arguments split at spaces, `''` for an empty one, `\xNN` for a byte.
 * A line starting with `~` runs on both sides without comparing replies (HELLO: the servers
 * name different versions).
 */
const c = (line: string): string[] =>
  line.split(" ").map((arg) =>
    arg === "''"
      ? ""
      : arg.replace(/\\x([0-9a-f]{2})/gi, (_, hex) => String.fromCharCode(parseInt(hex, 16)))
  );

const CASES: Record<string, string[]> = {
  "SETBIT and GETBIT read and write bits from the most significant bit, padding with zero bytes": [
    "SETBIT k 7 1",
    "GET k",
    "SETBIT k 0 1",
    "GET k",
    "SETBIT k 7 0",
    "GET k",
    "GETBIT k 0",
    "GETBIT k 7",
    "GETBIT k 100",
    "GETBIT none 0",
    "SETBIT k 100 1",
    "STRLEN k",
    "GET k",
    "GETBIT k 100",
    "SETBIT new 0 0",
    "EXISTS new",
    "GET new",
    "SET s \\xff\\x00",
    "SETBIT s 3 0",
    "SETBIT s 3 0",
    "SETBIT s 15 1",
    "GET s",
    "SET t abc EX 100",
    "SETBIT t 0 1",
    "TTL t",
    "GET t",
  ],
  "SETBIT and GETBIT refuse bad offsets and bits with redis-server's errors": [
    "SETBIT k 1 2",
    "SETBIT k 1 -1",
    "SETBIT k 1 x",
    "SETBIT k 1 ''",
    "SETBIT k 1 01",
    "SETBIT k 1 -0",
    "SETBIT k 1 +1",
    "SETBIT k 1 1.0",
    "SETBIT k 1 1\\x00",
    "SETBIT k -1 1",
    "SETBIT k x 1",
    "SETBIT k 1.5 1",
    "SETBIT k #1 1",
    "SETBIT k 01 1",
    "SETBIT k 5\\x00 1",
    "SETBIT k '' 1",
    "SETBIT k x 2",
    "SETBIT k 4294967296 1",
    "SETBIT k 9223372036854775807 1",
    "SETBIT k 9223372036854775808 1",
    "SETBIT k -9223372036854775808 1",
    "EXISTS k",
    "GETBIT k -1",
    "GETBIT k x",
    "GETBIT k #0",
    "GETBIT k 4294967295",
    "GETBIT k 4294967296",
    "GETBIT none 18446744073709551616",
    "LPUSH l a",
    "SETBIT l 0 1",
    "GETBIT l 0",
    "SETBIT l x 1",
    "SETBIT l 0 2",
    "GETBIT l x",
    "SETBIT k 1",
    "SETBIT k 1 1 1",
    "GETBIT k",
    "GETBIT k 1 2",
    "SETBIT",
  ],
  "BITCOUNT counts in byte and bit ranges, negative indexes from the end": [
    "SET s foobar",
    "BITCOUNT s",
    "BITCOUNT s 0 0",
    "BITCOUNT s 1 1",
    "BITCOUNT s 0 -1",
    "BITCOUNT s -2 -1",
    "BITCOUNT s -1 -2",
    "BITCOUNT s -100 -1",
    "BITCOUNT s -100 -200",
    "BITCOUNT s -10 -5",
    "BITCOUNT s 5 100",
    "BITCOUNT s 6 100",
    "BITCOUNT s 2 1",
    "BITCOUNT s 1 1 BIT",
    "BITCOUNT s 5 30 BIT",
    "BITCOUNT s 5 30 bit",
    "BITCOUNT s 5 5 BIT",
    "BITCOUNT s 0 -1 BYTE",
    "BITCOUNT s 0 -1 byte",
    "BITCOUNT s -5 -1 BIT",
    "BITCOUNT s -100 3 BIT",
    "BITCOUNT s 47 47 BIT",
    "BITCOUNT s 46 1000 BIT",
    "BITCOUNT s 48 100 BIT",
    "BITCOUNT s 9 10 BIT",
    "BITCOUNT s 0 9223372036854775807",
    "BITCOUNT s -9223372036854775808 -1",
    "BITCOUNT s -9223372036854775807 -9223372036854775808",
    "BITCOUNT s 0 1 BIT\\x00x",
    "SET e ''",
    "BITCOUNT e",
    "BITCOUNT e 0 -1",
    "BITCOUNT e 0 -1 BIT",
    "BITCOUNT none",
    "BITCOUNT none 0 -1",
  ],
  "BITCOUNT checks the key before its arguments, and its arguments in redis-server's order": [
    "SET s foobar",
    "BITCOUNT s 0",
    "BITCOUNT s 0 1 2",
    "BITCOUNT s 0 1 BIT 2",
    "BITCOUNT s x 1",
    "BITCOUNT s 1 x",
    "BITCOUNT s 0 1 x",
    "BITCOUNT s x 1 x",
    "BITCOUNT s -7 -100 x",
    "BITCOUNT s 9223372036854775808 1",
    "BITCOUNT none 0",
    "BITCOUNT none x y z",
    "LPUSH l a",
    "BITCOUNT l",
    "BITCOUNT l 0",
    "BITCOUNT l x 1",
    "BITCOUNT",
  ],
  "BITPOS finds set and clear bits; a clear bit with no end may be just past the string": [
    "SET s \\xff\\xf0\\x00",
    "BITPOS s 0",
    "BITPOS s 1",
    "BITPOS s 0 1",
    "BITPOS s 1 2",
    "BITPOS s 0 0 0",
    "BITPOS s 0 0 1",
    "BITPOS s 0 -1",
    "BITPOS s 1 -1",
    "BITPOS s 0 100",
    "BITPOS s 0 -100",
    "BITPOS s 0 -5 -10",
    "BITPOS s 1 -1 -3",
    "BITPOS s 0 12 15 BIT",
    "BITPOS s 1 5 7 BIT",
    "BITPOS s 0 0 7 BIT",
    "BITPOS s 1 16 23 BIT",
    "BITPOS s 1 -8 -1 BIT",
    "BITPOS s 0 -8 -1 bit",
    "BITPOS s 0 11 100 BIT",
    "BITPOS s 1 0 -1 byte",
    "SET ff \\xff\\xff",
    "BITPOS ff 0",
    "BITPOS ff 0 0",
    "BITPOS ff 0 1",
    "BITPOS ff 0 2",
    "BITPOS ff 0 0 -1",
    "BITPOS ff 0 0 -1 BIT",
    "BITPOS ff 0 3 9 BIT",
    "BITPOS ff 1 0 -1",
    "SET z \\x00\\x00",
    "BITPOS z 1",
    "BITPOS z 0",
    "BITPOS z 1 0 -1 BIT",
    "BITPOS z 0 9 -1 BIT",
    "SET e ''",
    "BITPOS e 0",
    "BITPOS e 1",
    "BITPOS e 0 0 -1",
    "BITPOS none 0",
    "BITPOS none 1",
    "BITPOS none 0 5 10 x",
  ],
  "BITPOS checks the bit, then the key, then the range in redis-server's order": [
    "SET s \\xff\\xf0\\x00",
    "BITPOS s 2",
    "BITPOS s -1",
    "BITPOS s x",
    "BITPOS s 1\\x00",
    "BITPOS s 1 x",
    "BITPOS s 1 0 x",
    "BITPOS s 1 0 1 x",
    "BITPOS s 1 x 1 foo",
    "BITPOS s 1 0 x foo",
    "BITPOS s 1 0 x BIT",
    "BITPOS s 1 0 1 BIT 5",
    "BITPOS s 1 x 1 BIT 5",
    "BITPOS s 0 3 BIT",
    "BITPOS none 2",
    "BITPOS none x",
    "LPUSH l a",
    "BITPOS l 1",
    "BITPOS l 2",
    "BITPOS l 1 x",
    "BITPOS s",
    "BITPOS",
  ],
  "BITOP AND, OR, XOR and NOT pad shorter sources with zeros and replace the destination": [
    "SET a \\xf0\\x0f\\xff",
    "SET b \\x0f",
    "BITOP AND d a b",
    "GET d",
    "BITOP OR d a b",
    "GET d",
    "BITOP XOR d a b",
    "GET d",
    "BITOP XOR d a b a",
    "GET d",
    "BITOP NOT d a",
    "GET d",
    "BITOP NOT d b",
    "GET d",
    "BITOP and d a none",
    "GET d",
    "BITOP or d none a",
    "GET d",
    "BITOP Xor d a a",
    "GET d",
    "BITOP OR\\x00x d b",
    "GET d",
    "SET d x EX 100",
    "BITOP OR d a",
    "TTL d",
    "BITOP OR a a b",
    "GET a",
    "BITOP NOT a a",
    "GET a",
    "SET e ''",
    "BITOP OR d2 e",
    "EXISTS d2",
    "BITOP NOT d2 e",
    "EXISTS d2",
  ],
  "BITOP removes the destination when the result is empty, whatever its type": [
    "SET d x",
    "BITOP OR d none",
    "EXISTS d",
    "BITOP OR d none none2",
    "EXISTS d",
    "LPUSH l x",
    "BITOP AND l none",
    "EXISTS l",
    "SET a abc",
    "HSET h f v",
    "BITOP OR h a",
    "TYPE h",
    "GET h",
  ],
  "BITOP refuses a bad operation, NOT of several keys and a source of another type": [
    "SET a abc",
    "LPUSH l x",
    "BITOP foo d a",
    "BITOP foo d l",
    "BITOP NOT d a b",
    "BITOP NOT d a a",
    "BITOP NOT d l b",
    "BITOP NOT d none",
    "BITOP OR d a l",
    "BITOP OR d l a",
    "BITOP OR l a",
    "TYPE l",
    "BITOP OR d none l",
    "EXISTS d",
    "BITOP AND d",
    "BITOP foo d",
    "BITOP",
  ],
  "BITFIELD GET and SET read and write signed and unsigned fields, # offsets by width": [
    "BITFIELD k SET u8 0 255 GET u8 0 GET i8 0",
    "GET k",
    "BITFIELD k SET i4 8 -3 GET i4 8 GET u4 8",
    "GET k",
    "BITFIELD k GET u63 0 GET i64 0 GET i1 0 GET u1 0 GET i1 1 GET u5 3",
    "BITFIELD k SET i64 0 -1",
    "GET k",
    "BITFIELD k SET i64 0 -9223372036854775808 GET i64 0 GET u63 1",
    "BITFIELD k SET u63 0 9223372036854775807 GET u63 0 GET i64 0",
    "BITFIELD k GET i8 #0 GET i8 #1 SET u4 #3 15 GET u4 #3 GET u8 #1",
    "BITFIELD k SET i8 100 1",
    "STRLEN k",
    "GET k",
    "BITFIELD k SET u13 5 8191 GET u13 5 GET i13 5 SET u16 17 1 GET u32 1 GET i31 3",
    "BITFIELD k get i8 0 GeT u8 0 sEt u8 0 1 incrBY u8 0 1",
    "BITFIELD k GET i8 #2305843009213693952",
    "BITFIELD k GET u8 4294967295",
    "BITFIELD k GET i64 #67108863",
    "BITFIELD k GET\\x00z i8\\x00x 0",
    "BITFIELD none GET u8 0 GET i16 100",
    "EXISTS none",
    "BITFIELD none",
    "BITFIELD k",
    "BITFIELD k OVERFLOW SAT",
    "SET w ab",
    "BITFIELD w SET u8 40 1 GET u8 0 SET u4 2 15 GET u16 0 GET u8 40",
    "GET w",
    "BITFIELD w SET u8 8 66 SET u8 200 7 GET u8 8 GET u8 199 GET u16 200",
    "GET w",
    "BITFIELD new GET u8 0 SET u8 16 0",
    "GET new",
    "SET t abc EX 100",
    "BITFIELD t SET u8 0 65",
    "TTL t",
    "GET t",
  ],
  "BITFIELD INCRBY and SET overflow by WRAP, SAT or FAIL, each from where it is given": [
    "BITFIELD o SET u8 0 250 INCRBY u8 0 10",
    "BITFIELD o OVERFLOW SAT INCRBY u8 0 10 INCRBY u8 0 -300",
    "BITFIELD o OVERFLOW FAIL INCRBY u8 0 -1 INCRBY u8 0 255 INCRBY u8 0 256 GET u8 0",
    "BITFIELD o OVERFLOW WRAP INCRBY i8 8 200 INCRBY i8 8 -1000",
    "BITFIELD o OVERFLOW SAT SET i8 8 1000 SET i8 8 -1000 GET i8 8",
    "BITFIELD o OVERFLOW FAIL SET i8 8 128 SET i8 8 -129 SET i8 8 -128 SET i8 8 127",
    "BITFIELD o SET i8 8 1000 SET u8 0 -1 SET u8 0 256 GET u8 0",
    "BITFIELD o OVERFLOW SAT SET u8 0 -1 GET u8 0 SET u8 0 300 SET u8 0 -300 GET u8 0",
    "BITFIELD o OVERFLOW SAT SET i8 0 -9223372036854775808 GET i8 0",
    "BITFIELD o OVERFLOW SAT SET i8 0 -9223372036854775681 GET i8 0",
    "BITFIELD o OVERFLOW SAT SET i8 0 -9223372036854775680 GET i8 0",
    "BITFIELD o OVERFLOW SAT SET i8 0 9223372036854775807 GET i8 0",
    "BITFIELD o OVERFLOW FAIL SET i8 0 -9223372036854775808 GET i8 0",
    "BITFIELD o SET i8 0 100 OVERFLOW SAT INCRBY i8 0 -9223372036854775808 INCRBY i8 0 9223372036854775807",
    "BITFIELD o SET u8 0 100 OVERFLOW SAT INCRBY u8 0 -9223372036854775808 INCRBY u8 0 9223372036854775807",
    "BITFIELD o SET i64 0 -100 OVERFLOW SAT INCRBY i64 0 -9223372036854775808",
    "BITFIELD o SET i64 0 100 OVERFLOW SAT INCRBY i64 0 9223372036854775807",
    "BITFIELD o SET i64 0 100 OVERFLOW WRAP INCRBY i64 0 9223372036854775807",
    "BITFIELD o SET i64 0 -100 OVERFLOW FAIL INCRBY i64 0 -9223372036854775808 GET i64 0",
    "BITFIELD o SET u63 0 9223372036854775807 OVERFLOW SAT INCRBY u63 0 1 OVERFLOW WRAP INCRBY u63 0 1",
    "BITFIELD o SET u63 0 0 OVERFLOW WRAP INCRBY u63 0 -1 OVERFLOW SAT INCRBY u63 0 -9223372036854775808",
    "BITFIELD o INCRBY u2 0 5 OVERFLOW SAT INCRBY u2 0 5 OVERFLOW FAIL INCRBY u2 0 5 OVERFLOW WRAP INCRBY u2 0 5",
    "BITFIELD o INCRBY i1 0 1 INCRBY i1 0 1 OVERFLOW sat INCRBY i1 0 5 OVERFLOW fail INCRBY i1 0 -5",
    "BITFIELD o OVERFLOW FAIL\\x00x INCRBY u8 0 1000",
    "GET o",
    "~HELLO 3",
    "BITFIELD o OVERFLOW FAIL INCRBY u8 0 1000 GET u8 0",
    "~HELLO 2",
  ],
  "BITFIELD checks every operation before running any, with redis-server's errors": [
    "SET k \\xaa\\xbb",
    "BITFIELD k GET i64 0 GET u63 0",
    "BITFIELD k GET u64 0",
    "BITFIELD k GET i65 0",
    "BITFIELD k GET i0 0",
    "BITFIELD k GET u0 0",
    "BITFIELD k GET x8 0",
    "BITFIELD k GET I8 0",
    "BITFIELD k GET U8 0",
    "BITFIELD k GET i08 0",
    "BITFIELD k GET i+8 0",
    "BITFIELD k GET i-8 0",
    "BITFIELD k GET i 0",
    "BITFIELD k GET '' 0",
    "BITFIELD k GET i8x 0",
    "BITFIELD k GET \\x00i8 0",
    "BITFIELD k GET i\\x008 0",
    "BITFIELD k GET i8 -1",
    "BITFIELD k GET i8 #-1",
    "BITFIELD k GET i8 #",
    "BITFIELD k GET i8 ##1",
    "BITFIELD k GET i8 +1",
    "BITFIELD k GET i8 01",
    "BITFIELD k GET i8 1\\x00",
    "BITFIELD k GET i8 #9223372036854775807",
    "BITFIELD k GET i8 #1152921504606846976",
    "BITFIELD k GET i64 #67108864",
    "BITFIELD k GET u8 4294967296",
    "BITFIELD k SET i8 0 x",
    "BITFIELD k SET i8 0 ''",
    "BITFIELD k SET i8 0 1.5",
    "BITFIELD k INCRBY i8 0 9223372036854775808",
    "BITFIELD k GET",
    "BITFIELD k GET i8",
    "BITFIELD k SET i8 0",
    "BITFIELD k INCRBY i8 0",
    "BITFIELD k FOO",
    "BITFIELD k FOO i8 0",
    "BITFIELD k OVERFLOW",
    "BITFIELD k OVERFLOW foo",
    "BITFIELD k OVERFLOW foo GET x8 0",
    "BITFIELD k GET x8 0 OVERFLOW foo",
    "BITFIELD k SET i8 0 1 GET x8 0",
    "BITFIELD k SET i8 0 1 GET i8",
    "GET k",
    "LPUSH l a",
    "BITFIELD l",
    "BITFIELD l GET i8 0",
    "BITFIELD l SET i8 0 1",
    "BITFIELD l GET x8 0",
    "BITFIELD l OVERFLOW FAIL",
    "BITFIELD",
  ],
  "BITFIELD_RO runs GET only, after checking every argument": [
    "SET k \\xaa\\xbb",
    "BITFIELD_RO k GET i8 0 GET u4 4 GET u12 4",
    "BITFIELD_RO k SET i8 0 1",
    "BITFIELD_RO k INCRBY i8 0 1",
    "BITFIELD_RO k GET i8 0 SET i8 0 1",
    "BITFIELD_RO k OVERFLOW WRAP GET i8 0",
    "BITFIELD_RO k OVERFLOW WRAP",
    "BITFIELD_RO k OVERFLOW foo",
    "BITFIELD_RO k SET x8 0 1",
    "BITFIELD_RO k SET i8 x 1",
    "BITFIELD_RO k SET i8 0 x",
    "BITFIELD_RO k SET i8 0",
    "BITFIELD_RO k SET i8 0 1 GET x8 0",
    "GET k",
    "LPUSH l a",
    "BITFIELD_RO l SET i8 0 1",
    "BITFIELD_RO l GET i8 0",
    "BITFIELD_RO l",
    "BITFIELD_RO none GET i8 0",
    "EXISTS none",
    "BITFIELD_RO k",
    "BITFIELD_RO",
  ],
  "bitmaps are the string values the string commands read and write": [
    "SET s a",
    "SETBIT s 6 1",
    "GET s",
    "APPEND s b",
    "GETBIT s 14",
    "SETRANGE s 4 x",
    "BITCOUNT s",
    "GETRANGE s 0 -1",
    "SET n 1",
    "SETBIT n 6 1",
    "GET n",
    "INCR n",
    "BITFIELD n GET u8 0 GET u8 8",
    "MULTI",
    "SETBIT m 1 1",
    "BITFIELD m INCRBY u8 0 1",
    "BITCOUNT m",
    "EXEC",
    "GET m",
  ],
};

describe("bitmap replies equal redis-server's", { skip: !HAVE_REDIS }, () => {
  let redis: ReferenceRedis;
  before(async () => {
    redis = await ReferenceRedis.start();
  });
  after(async () => {
    await redis?.stop();
  });

  for (const [name, lines] of Object.entries(CASES)) {
    it(name, async () => {
      await redis.run("FLUSHALL");
      const ours = harness();
      for (const line of lines) {
        const argv = c(line.replace(/^~/, ""));
        const expected = await redis.run(...argv);
        const actual = ours.run(...argv);
        if (!line.startsWith("~")) {
          assert.equal(JSON.stringify(actual), JSON.stringify(expected), line);
        }
      }
    });
  }

  it("bounds offsets by proto-max-bulk-len: past it is an offset error, below it a write may pad beyond", async () => {
    const limit = 1024 * 1024;
    await redis.run("FLUSHALL");
    assert.equal(await redis.run("CONFIG", "SET", "proto-max-bulk-len", String(limit)), "+OK\r\n");
    try {
      const ours = bitmapNode({ maxBulkBytes: limit });
      const script: Script = [
        ["SETBIT", "big", String(limit * 8 - 1), "1"],
        ["SETBIT", "big", String(limit * 8), "1"],
        ["GETBIT", "big", String(limit * 8 - 1)],
        ["GETBIT", "big", String(limit * 8)],
        [
          "BITFIELD",
          "big",
          "GET",
          "u8",
          String(limit * 8 - 8),
          "GET",
          "u16",
          String(limit * 8 - 1),
        ],
        ["BITFIELD", "big", "GET", "u8", `#${limit - 1}`],
        ["BITFIELD", "big", "GET", "u8", `#${limit}`],
        ["BITFIELD", "big", "SET", "u8", String(limit * 8), "1"],
        ["BITFIELD", "big", "SET", "u16", String(limit * 8 - 1), "65535"],
        ["STRLEN", "big"],
        ["APPEND", "big", "x"],
        ["BITCOUNT", "big", "-3", "-1"],
      ];
      for (const argv of script) {
        assert.equal(ours.run(...argv), await redis.run(...argv), argv.join(" "));
      }
    } finally {
      await redis.run("CONFIG", "SET", "proto-max-bulk-len", String(DEFAULT_MAX_BULK_BYTES));
      await redis.run("FLUSHALL");
    }
  });

  it("refuses SETBIT, BITOP and BITFIELD over maxmemory with -OOM, and serves the reads", async () => {
    await redis.run("FLUSHALL");
    const ours = bitmapNode({ maxMemoryBytes: 1 });
    assert.equal(ours.run("SET", "a", "abc"), await redis.run("SET", "a", "abc"));
    assert.equal(await redis.run("CONFIG", "SET", "maxmemory", "1"), "+OK\r\n");
    try {
      const script: Script = [
        ["SETBIT", "a", "0", "1"],
        ["SETBIT", "new", "0", "1"],
        ["BITOP", "OR", "d", "a"],
        ["BITFIELD", "a", "GET", "u8", "0"],
        ["BITFIELD", "a", "SET", "u8", "0", "1"],
        ["BITFIELD_RO", "a", "GET", "u8", "0"],
        ["GETBIT", "a", "1"],
        ["BITCOUNT", "a"],
        ["BITPOS", "a", "1"],
        ["GET", "a"],
        ["EXISTS", "new", "d"],
      ];
      for (const argv of script) {
        assert.equal(ours.run(...argv), await redis.run(...argv), argv.join(" "));
      }
      assert.deepEqual(ours.propagated, [["SET", "a", "abc"]]);
    } finally {
      await redis.run("CONFIG", "SET", "maxmemory", "0");
    }
  });
});

describe("bitmap writes", () => {
  /** The writes of `EVENTS_SCRIPT` that change nothing are neither logged nor notified. */
  const EVENTS_SCRIPT: Script = [
    "SETBIT a 1 1",
    "SETBIT a 1 1",
    "SETBIT a 1 0",
    "SETBIT a 100 0",
    "SETBIT a 0 0",
    "GETBIT a 1",
    "BITFIELD a SET u8 0 0",
    "BITFIELD a OVERFLOW WRAP INCRBY u8 0 256",
    "BITFIELD a SET u8 0 7 GET u8 0",
    "BITFIELD a OVERFLOW FAIL SET u8 300 0",
    "BITFIELD a OVERFLOW FAIL INCRBY u8 0 1000",
    "BITFIELD a OVERFLOW FAIL INCRBY u8 0 1000 INCRBY u8 0 1",
    "BITFIELD a",
    "BITFIELD n GET u8 0 SET u8 16 0",
    "BITFIELD_RO a GET u8 0",
    "BITOP OR d a n",
    "BITOP NOT d a",
    "BITOP NOT d a",
    "BITOP AND d none",
    "BITOP AND d none",
    "SET t abc",
    "BITOP OR t a",
    "LPUSH l x",
    "BITOP OR l none",
    "SETBIT l 0 1",
    "BITFIELD l SET i8 0 -1",
  ].map(c);
  const KEYS = ["a", "n", "d", "t", "l"];

  it("log for the AOF and notify what redis-server writes to its AOF and publishes", async (t) => {
    if (!HAVE_REDIS) return t.skip("redis-server is not installed");
    const server = await AofRedis.start();
    try {
      const ours = bitmapNode();
      const decoder = new RespDecoder();
      for (const argv of EVENTS_SCRIPT) {
        const expected = await server.run(argv);
        assert.deepEqual(decoder.feed(ours.run(...argv))[0], expected, argv.join(" "));
      }
      assert.deepEqual(ours.propagated, await server.aofRecords());
      const theirs = await server.events();
      assert.deepEqual(ours.events.map(([, event, key]) => `${event} ${key}`), theirs);
      // The string class ($) and the generic one (g), as notify-keyspace-events filters them.
      assert.deepEqual(ours.events.map(([eventClass]) => eventClass), [
        "$", // setbit a
        "$", // setbit a
        "$", // setbit a (padded)
        "$", // BITFIELD a SET u8 0 7
        "$", // BITFIELD a SET u8 300 0 (padded)
        "$", // BITFIELD a ... INCRBY u8 0 1
        "$", // BITFIELD n (created)
        "$", // BITOP d: set
        "$",
        "$",
        "g", // BITOP AND d none: del
        "$", // SET t
        "$", // BITOP t: set
        "l", // LPUSH l
        "g", // BITOP l: del
        "$", // SETBIT l
        "$", // BITFIELD l
      ]);
    } finally {
      await server.stop();
    }
  });

  it("replayed from their log make the same values", () => {
    const ours = bitmapNode();
    for (const argv of EVENTS_SCRIPT) ours.run(...argv);
    const replay = bitmapNode();
    for (const argv of ours.propagated) replay.run(...argv);
    for (const key of KEYS) assert.equal(replay.run("GET", key), ours.run("GET", key), key);
  });

  it("keep a key BITFIELD padded though FAIL refused every write, and log it (redis-server leaves it out of its AOF)", async (t) => {
    const ours = bitmapNode();
    const script: Script = [
      ["BITFIELD", "p", "OVERFLOW", "FAIL", "SET", "i8", "0", "1000"],
      ["EXISTS", "p"],
      ["BITFIELD", "p", "OVERFLOW", "FAIL", "INCRBY", "u8", "100", "1000", "GET", "u8", "100"],
      ["STRLEN", "p"],
    ];
    const replies = script.map((argv) => ours.run(...argv));
    assert.deepEqual(replies, ["*1\r\n$-1\r\n", ":1\r\n", "*2\r\n$-1\r\n:0\r\n", ":14\r\n"]);
    assert.deepEqual(ours.propagated, script.filter((argv) => argv[0] === "BITFIELD"));
    assert.deepEqual(ours.events, [["$", "setbit", "p"], ["$", "setbit", "p"]]);
    const replay = bitmapNode();
    for (const argv of ours.propagated) replay.run(...argv);
    assert.equal(replay.run("GET", "p"), ours.run("GET", "p"));
    if (!HAVE_REDIS) return t.skip("redis-server is not installed");
    const redis = await ReferenceRedis.start();
    try {
      for (const [i, argv] of script.entries()) {
        assert.equal(await redis.run(...argv), replies[i], argv.join(" "));
      }
    } finally {
      await redis.stop();
    }
  });

  it("refuses a write past the longest string the runtime can make, with the offset error", (t) => {
    // V8 (Deno) stops 24 bytes short of 512 MiB, where redis-server would make the string.
    if (MAX_STRING_BYTES >= DEFAULT_MAX_BULK_BYTES) return t.skip("the runtime holds 512 MiB");
    const ours = harness();
    const offset = String(DEFAULT_MAX_BULK_BYTES * 8 - 1);
    const error = "-ERR bit offset is not an integer or out of range\r\n";
    assert.equal(ours.run("SETBIT", "k", offset, "1"), error);
    assert.equal(ours.run("BITFIELD", "k", "SET", "u1", offset, "1"), error);
    assert.equal(ours.run("GETBIT", "k", offset), ":0\r\n");
    assert.equal(ours.run("BITFIELD", "k", "GET", "u1", offset), "*1\r\n:0\r\n");
    assert.equal(ours.run("EXISTS", "k"), ":0\r\n");
  });
});

/** A dispatcher on one store with the node's outputs: the AOF records and the notifications. */
function bitmapNode(options: { maxBulkBytes?: number; maxMemoryBytes?: number } = {}) {
  const startMs = 1_704_067_200_000;
  const clock = { monotonicMs: () => 0, realtimeMs: () => startMs };
  const keyspace = new Keyspace([{
    name: "default",
    maxMemoryBytes: options.maxMemoryBytes ?? 0,
    evictionPolicy: "noeviction",
    defaultTtlMs: 0,
  }], clock);
  const hooks: ServerHooks = { info: () => "" };
  const maxBulk = options.maxBulkBytes;
  if (maxBulk !== undefined) {
    hooks.maxStringBytes = maxBulk;
    hooks.config = {
      get: (pattern) => pattern === "proto-max-bulk-len" ? [[pattern, String(maxBulk)]] : [],
      set: () => "read-only here",
      resetStats: () => {},
    };
  }
  const propagated: string[][] = [];
  const events: KeyspaceEvent[] = [];
  const store = keyspace.store(0);
  const dispatcher = new Dispatcher(createCommandTable(), keyspace, hooks, {
    propagate: (_db, argv) => propagated.push(argv),
    written: (_db, spec, argv) => {
      const exists = (key: string) => store.lookup(key, false) !== undefined;
      events.push(...keyspaceEvents(spec, argv, exists));
    },
  });
  const client = internalClient({ id: 1 });
  const out = new ReplyWriter();
  return {
    propagated,
    events,
    run(...argv: string[]): string {
      dispatcher.execute(client, out, argv);
      return Buffer.from(out.take()).toString("latin1");
    },
  };
}

/**
 * A redis-server of its own with the AOF on (`appendfsync always`: a reply comes after its
 * record is written) in a temporary directory, and a connection subscribed to every keyspace
 * event of db 0.
 */
class AofRedis {
  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    private readonly client: RawClient,
    private readonly subscriber: RawClient,
    private readonly unregister: () => void,
  ) {}

  static async start(): Promise<AofRedis> {
    const dir = await mkdtemp(join(tmpdir(), "hypercache-bitmap-aof-"));
    const port = await freePort();
    const child = spawn(REDIS_SERVER, [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "yes",
      "--appendfsync",
      "always",
      "--dir",
      dir,
      "--notify-keyspace-events",
      "KEA",
    ], { stdio: "ignore", cwd: dir });
    const unregister = onTimeLimit(() => child.kill("SIGKILL"));
    let client: RawClient | undefined;
    for (let attempt = 0; attempt < 100 && client === undefined; attempt++) {
      client = await RawClient.open(port).catch(() => undefined);
      if (client === undefined) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    if (client === undefined) {
      child.kill("SIGKILL");
      throw new Error(`redis-server did not listen on port ${port}`);
    }
    const subscriber = await RawClient.open(port);
    subscriber.send("PSUBSCRIBE", "__keyevent@0__:*");
    subscriber.send("SUBSCRIBE", "done");
    await subscriber.take(2);
    return new AofRedis(child, dir, client, subscriber, unregister);
  }

  async run(argv: string[]): Promise<RespValue> {
    this.client.send(...argv);
    const [reply] = await this.client.take(1);
    return reply;
  }

  /** The events published so far, as `event key`. */
  async events(): Promise<string[]> {
    await this.run(["PUBLISH", "done", "."]);
    const events: string[] = [];
    for (;;) {
      const [message] = await this.subscriber.take(1) as RespValue[][];
      assert.ok(Array.isArray(message), "the subscriber got every message");
      if (message[0] === "message") return events;
      events.push(`${String(message[2]).replace("__keyevent@0__:", "")} ${message[3]}`);
    }
  }

  /** The records of its AOF since it started, without the SELECTs. */
  async aofRecords(): Promise<string[][]> {
    const folder = join(this.dir, "appendonlydir");
    const name = (await readdir(folder)).find((file) => file.endsWith(".incr.aof"));
    assert.ok(name !== undefined, "redis-server wrote an incremental AOF file");
    const records = new RespDecoder().feed(await readFile(join(folder, name))) as string[][];
    return records.filter((argv) => argv[0].toUpperCase() !== "SELECT");
  }

  async stop(): Promise<void> {
    this.client.close();
    this.subscriber.close();
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    this.child.kill("SIGKILL");
    await exited;
    this.unregister();
    await rm(this.dir, { recursive: true, force: true });
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}
