/**
 * `cmsgpack` and `struct` in scripts, reply for reply against redis-server 7.0: each script runs
 * through EVAL on a node built in process and on a reference redis-server, and the raw replies
 * (errors with their positions and script SHA included) must be identical. Strings use Lua's
 * decimal escapes, which Lua 5.1 and 5.4 read alike.
 *
 * One documented difference: both libraries are Lua functions here (C in Redis), so an error
 * one raises when a script calls it in tail position (`return struct.pack('y')`) cannot name
 * the script's line, whose frame the tail call replaced: the text is Redis's without it.
 */
import assert from "node:assert/strict";
import { buildConfig } from "../../src/config/config.ts";
import { HttpExecutor } from "../../src/http/executor.ts";
import { assembleNode } from "../../src/node.ts";
import { currentRuntime } from "../../src/runtime/mod.ts";
import { referenceRedis } from "../commands/_redis_reference.ts";
import { timeLimited } from "../_time_limit.ts";

const { after, before, describe, it } = timeLimited(import.meta.url, 120_000);

const CMSGPACK = [
  // Every width of integer, both signs, and floats that fit a float32 or not.
  "return cmsgpack.pack(true, false, 'x', 128, 255, 256, 65535, 65536, 4294967295, 4294967296, -32, -33, -128, -129, -32768, -32769, -2147483648, -2147483649)",
  "return cmsgpack.pack({1,2,3}, 'ab', -1, 1.5, 300, {a=1}, {}, true, nil, 2^40, -40000, 0.1)",
  "return cmsgpack.pack(1/0, -1/0, 2^63, -2^63, 3.0, {[1]=1,[3]=3})",
  "return cmsgpack.pack(string.rep('a', 31), string.rep('a', 40), string.rep('b', 300), string.rep('c', 70000))",
  "local t = {} for i = 1, 70000 do t[i] = i % 3 end return cmsgpack.pack(t, {1,2,nil,4})",
  "local t = {} for i = 1, 20 do t['k' .. i] = i end return #cmsgpack.pack(t)",
  // Nesting past 16 levels is cut to nil.
  "local t = {} local c = t for i = 1, 20 do c[1] = {} c = c[1] end return cmsgpack.pack(t)",
  "return cmsgpack.pack({[1.5]=1}, {[0]=1}, {[-1]=1, [2]=2})",
  "return cmsgpack.pack()",
  "return {cmsgpack.unpack(cmsgpack.pack(1, 'two', {3, {4}}, -5, 6.25))}",
  "return {cmsgpack.unpack('\\217\\2xy\\208\\128\\209\\255\\1\\204\\200\\206\\0\\0\\0\\5\\207\\0\\0\\0\\0\\0\\0\\0\\6\\211\\255\\255\\255\\255\\255\\255\\255\\255\\218\\0\\1z\\219\\0\\0\\0\\1w')}",
  "return {cmsgpack.unpack('\\220\\0\\2\\1\\2\\221\\0\\0\\0\\1\\3\\224\\195\\194')}",
  "local a = cmsgpack.unpack('\\130\\161a\\1\\161b\\145\\2') return {a.a, a.b[1]}",
  "return tostring(cmsgpack.unpack('\\203\\64\\9\\33\\251\\84\\68\\45\\24'))",
  "return tostring(cmsgpack.unpack('\\202\\63\\192\\0\\0'))",
  "return type(cmsgpack.unpack('\\192'))",
  "return {cmsgpack.unpack('')}",
  "return {cmsgpack.unpack(123)}",
  "return {cmsgpack.unpack('\\205\\1')}",
  "return {cmsgpack.unpack('\\147\\1')}",
  "return {cmsgpack.unpack('\\193')}",
  "return {cmsgpack.unpack('\\196\\1a')}",
  "return cmsgpack.unpack()",
  "return cmsgpack.unpack({})",
  "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2), 0)}",
  "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2), 1)}",
  "return {cmsgpack.unpack_one('')}",
  "return {cmsgpack.unpack_one('\\1\\2', 5)}",
  "return {cmsgpack.unpack_one('\\1\\2', -1)}",
  "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2, 1)}",
  "return {cmsgpack.unpack_limit('\\1\\2\\3', 0)}",
  "return {cmsgpack.unpack_limit('\\1\\2\\3', 2)}",
  "return {cmsgpack.unpack_limit('\\1\\2\\3', -1)}",
];

const STRUCT = [
  "return struct.pack('>bBhHlLTi3I5fd', -1, 255, -2, 65535, -3, 4, 5, -6, 7, 1.5, 0.25)",
  "return struct.pack('>I2i4', 1, -2)",
  "return struct.pack('<i2', 70000) .. struct.pack('<i2', 1.7) .. struct.pack('<i2', -1.7)",
  "return struct.pack('!4 b i', 1, 2) .. struct.pack('!b d', 1, 2) .. struct.pack('!2 b d', 1, 2)",
  "return struct.pack('!4 i3', 1) .. struct.pack('!4 b i3 h', 1, 2, 3)",
  "return struct.pack('>c3 c0 s x', 'abcdef', 'gh', 'ij')",
  "return struct.pack('i17', 1) .. struct.pack('>I9', 5) .. struct.pack('>i9', -5)",
  "return struct.pack('>I', -1) .. struct.pack('>I2', 2^40 + 3) .. struct.pack('c', 'ab')",
  "return struct.pack('i', '12') .. struct.pack('s', 12) .. struct.pack('>d', 0.1)",
  "return struct.pack('>c5', 'ab')",
  "return struct.pack('y', 1)",
  "return struct.pack('=I2', 1)",
  "return struct.pack('i', 'x')",
  "return struct.pack('i')",
  "return struct.pack('i33', 1)",
  "return struct.pack('!3 i', 1)",
  "return {struct.unpack('>bBhHi3I5c2s', struct.pack('>bBhHi3I5c2', -1, 255, -2, 65535, -6, 7, 'zz') .. 'abc\\0')}",
  "return {struct.unpack('<hs', struct.pack('<hs', -3, 'ab'))}",
  "return {struct.unpack('B c0', '\\3abcd')}",
  "return {struct.unpack('>i8', '\\255\\255\\255\\255\\255\\255\\255\\254')}",
  "return {struct.unpack('>i16', string.rep('\\255', 16))}",
  "return {struct.unpack('x i', '\\0\\1\\0\\0\\0')}",
  "return {struct.unpack('>i2', '\\1\\2\\3\\4', 3)}",
  "return tostring(struct.unpack('<f', struct.pack('<f', 0.1)))",
  "return {struct.unpack('', 'abcd', 5)}",
  "return {struct.unpack('b', 'abcd', 4)}",
  "return {struct.unpack('b', 'abcd', 5)}",
  "return {struct.unpack('b', 'abcd', -1)}",
  "return {struct.unpack('i', 'abcd', 0)}",
  "return {struct.unpack('>i4', '\\1\\2')}",
  "return {struct.unpack('s', 'abc')}",
  "return {struct.unpack('c0', 'abc')}",
  "return {struct.unpack('b2', 'abcd')}",
  "return {struct.unpack('x', '')}",
  "return {struct.size('>ihd'), struct.size('>bhi3d!8xi'), struct.size('c5')}",
  "return struct.size('s')",
  "return struct.size('c0')",
];

describe("the cmsgpack and struct libraries in scripts", () => {
  const reference = referenceRedis(before, after);
  let executor: HttpExecutor;

  before(async () => {
    const parts = await assembleNode(buildConfig({ port: 0, http: { enabled: false } }), {
      ...await currentRuntime(),
    });
    executor = new HttpExecutor(parts.dispatcher, () => Date.now());
  });

  const compare = async (scripts: string[]) => {
    const redis = reference();
    if (!redis) return;
    const client = executor.client("admin", 0);
    for (const written of scripts) {
      // A parenthesized call is not a tail call: see the last test for why that matters.
      const script = written.replace(/^return ([a-z]+\.)/, "return ($1").replace(
        /^(return \([a-z]+\..*)$/,
        "$1)",
      );
      const expected = await redis.run("EVAL", script, "0");
      const got = await executor.runText(client, ["EVAL", script, "0"]);
      assert.equal(JSON.stringify(got), JSON.stringify(expected), script);
    }
  };

  it("packs and unpacks MessagePack byte for byte as Redis's cmsgpack, errors included", async () => {
    await compare(CMSGPACK);
  });

  it("packs, unpacks and sizes binary records as Redis's struct, errors included", async () => {
    await compare(STRUCT);
  });

  it("raises the same error without the line when called in tail position", async () => {
    const client = executor.client("admin", 0);
    const got = await executor.runText(client, ["EVAL", "return struct.pack('y', 1)", "0"]);
    assert.match(
      String(got),
      /^-ERR bad argument #1 to 'pack' \(invalid format option 'y'\) script: [0-9a-f]{40}, on @user_script:0\.\r\n$/,
    );
  });
});
