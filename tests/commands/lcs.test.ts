/**
 * LCS against redis-server 7.0: fixed scripts and many seeded random string pairs (small
 * alphabets, so that ties in the table decide which subsequence and which ranges come back)
 * get byte-identical replies in RESP2 and RESP3; a table past the memory bound is refused with
 * Redis's allocation error.
 */
import assert from "node:assert/strict";
import { LCS_MAX_TABLE_BYTES } from "../../src/commands/strings.ts";
import { mulberry32 } from "../_mulberry32.ts";
import { compareCases, harness } from "./_ext_harness.ts";
import { referenceRedis } from "./_redis_reference.ts";
import { timeLimited } from "../_time_limit.ts";

const { after, before, describe, it } = timeLimited(import.meta.url, 120_000);

const CASES: Record<string, string[]> = {
  "LCS gives the subsequence, its length, and its matching ranges from the end": [
    "SET a ohmytext",
    "SET b mynewtext",
    "LCS a b",
    "LCS a b LEN",
    "LCS a b len",
    "LCS a b IDX",
    "LCS a b IDX WITHMATCHLEN",
    "LCS a b IDX MINMATCHLEN 4",
    "LCS a b IDX MINMATCHLEN 4 WITHMATCHLEN",
    "LCS a b MINMATCHLEN 2",
    "LCS a b WITHMATCHLEN",
    "LCS a b LEN WITHMATCHLEN",
    "LCS a b IDX MINMATCHLEN -5",
    "LCS a b IDX MINMATCHLEN 0",
    "LCS a b IDX MINMATCHLEN 99",
    "LCS b a IDX WITHMATCHLEN",
    "LCS a a",
    "LCS a a IDX WITHMATCHLEN",
  ],
  "LCS reads a missing key as an empty string, and is binary safe": [
    "LCS nokey other",
    "LCS nokey other LEN",
    "LCS nokey other IDX",
    "SET a ohmytext",
    "LCS a nokey IDX WITHMATCHLEN",
    "SET x \\x00\\xff\\x00ab\\r\\n",
    "SET y \\xff\\x00b\\r",
    "LCS x y",
    "LCS x y IDX WITHMATCHLEN",
    "SET e ''",
    "LCS e x IDX",
  ],
  "LCS checks the keys' types before its options, then the options in order": [
    "SET a abc",
    "RPUSH l x",
    "LCS a l",
    "LCS l a",
    "LCS l nokey",
    "LCS l a FOO",
    "LCS a b FOO",
    "LCS a b LEN IDX",
    "LCS a b IDX LEN",
    "LCS a b FOO LEN IDX",
    "LCS a b LEN IDX FOO",
    "LCS a b MINMATCHLEN",
    "LCS a b MINMATCHLEN x",
    "LCS a b MINMATCHLEN 1.5 IDX",
    "LCS a b MINMATCHLEN 99999999999999999999",
    "LCS a b MINMATCHLEN 9223372036854775807 IDX",
    "LCS a",
  ],
};

describe("LCS replies equal redis-server's", () => {
  const reference = referenceRedis(before, after);

  compareCases(it, reference, CASES);

  it("finds the same subsequence and ranges for 300 random pairs of strings", async (t) => {
    const redis = reference();
    if (redis === undefined) return t.skip("redis-server is not installed");
    await redis.run("FLUSHALL");
    const ours = harness();
    const random = mulberry32(0x1c5);
    const text = (alphabet: string) => {
      const length = Math.floor(random() * 40);
      let value = "";
      for (let i = 0; i < length; i++) value += alphabet[Math.floor(random() * alphabet.length)];
      return value;
    };
    for (let round = 0; round < 300; round++) {
      const alphabet = ["ab", "abc", "abcdefgh", "\x00\xff"][round % 4];
      const script = [
        ["SET", "a", text(alphabet)],
        ["SET", "b", text(alphabet)],
        ["LCS", "a", "b"],
        ["LCS", "a", "b", "IDX", "WITHMATCHLEN"],
        ["LCS", "b", "a", "IDX", "MINMATCHLEN", String(round % 3)],
        ["LCS", "a", "b", "LEN"],
      ];
      for (const argv of script) {
        assert.equal(ours.run(...argv), await redis.run(...argv), JSON.stringify(argv));
      }
    }
  });
});

describe("LCS", () => {
  it("refuses a table past its memory bound with Redis's allocation error, before any work", () => {
    const ours = harness();
    // (n + 1)^2 cells of 4 bytes just past the bound.
    const side = Math.ceil(Math.sqrt(LCS_MAX_TABLE_BYTES / 4));
    ours.run("SET", "a", "x".repeat(side));
    ours.run("SET", "b", "y".repeat(side));
    const error = "-ERR Insufficient memory, failed allocating transient memory for LCS\r\n";
    for (const option of [[], ["LEN"], ["IDX"]]) {
      assert.equal(ours.run("LCS", "a", "b", ...option), error, option.join(" "));
    }
    // A long string against a short one fits.
    ours.run("SET", "c", "xy");
    assert.equal(ours.run("LCS", "a", "c", "LEN"), ":1\r\n");
  });
});
