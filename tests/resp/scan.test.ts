import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { RespParser } from "../../src/resp/parser.ts";
import { scanKeys } from "../../src/resp/scan.ts";
import { xorshift32 } from "../../src/_random.ts";

const latin1Bytes = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));
const latin1Text = (bytes: Uint8Array) => String.fromCharCode(...bytes);

function multibulk(argv: string[]): string {
  return `*${argv.length}\r\n` + argv.map((a) => `$${a.length}\r\n${a}\r\n`).join("");
}

/** The keys `scanKeys` finds in `input`, as text. */
function scan(input: string | Uint8Array, maxKeys = 16): string[] {
  const bytes = typeof input === "string" ? latin1Bytes(input) : input;
  const starts = new Int32Array(maxKeys);
  const ends = new Int32Array(maxKeys);
  const count = scanKeys(bytes, starts, ends);
  return Array.from({ length: count }, (_, i) => latin1Text(bytes.subarray(starts[i], ends[i])));
}

describe("scanKeys", () => {
  it("finds argument 1 of every complete command of a pipeline, binary keys included", () => {
    const input = multibulk(["SET", "a", "1"]) + multibulk(["GET", "b\r\n\x00\xff"]) +
      multibulk(["PING"]) + multibulk(["MSET", "c", "1", "d", "2"]);
    assert.deepEqual(scan(input), ["a", "b\r\n\x00\xff", "c"]);
  });

  it("stops before an incomplete command, wherever the read ends", () => {
    const whole = multibulk(["SET", "first", "value"]) + multibulk(["SET", "second", "value"]);
    const firstEnd = multibulk(["SET", "first", "value"]).length;
    for (let cut = 0; cut <= whole.length; cut++) {
      const expected = cut === whole.length
        ? ["first", "second"]
        : cut >= firstEnd
        ? ["first"]
        : [];
      assert.deepEqual(scan(whole.slice(0, cut)), expected, `cut at ${cut}`);
    }
  });

  it("stops at an inline command and at malformed framing without throwing", () => {
    const ok = multibulk(["GET", "k"]);
    for (
      const bad of [
        "GET k\r\n",
        "*2\r\n$3\r\nGET\r\n$-1\r\n",
        "*2\r\n$3\r\nGET\r\n$1\r\nkk\r\n",
        "*x\r\n",
        "*\r\n",
        "*2\r\n+GET\r\n",
        "*2\r\n$3\r\nGET\r\n$1\rk\r\n",
        "*2\r\n$99999999999999\r\nGET\r\n",
      ]
    ) {
      assert.deepEqual(scan(ok + bad + ok), ["k"], JSON.stringify(bad));
    }
  });

  it("records at most as many keys as it has room for", () => {
    const input = Array.from({ length: 10 }, (_, i) => multibulk(["GET", `k${i}`])).join("");
    assert.deepEqual(scan(input, 4), ["k0", "k1", "k2", "k3"]);
  });

  it("agrees with the parser on random pipelines cut at random points", () => {
    const random = xorshift32(20261206);
    const word = () =>
      String.fromCharCode(
        ...Array.from({ length: Math.floor(random() * 12) }, () => random() * 256),
      );
    for (let round = 0; round < 2000; round++) {
      const commands = Array.from(
        { length: 1 + Math.floor(random() * 8) },
        () => Array.from({ length: 1 + Math.floor(random() * 4) }, word),
      );
      const whole = latin1Bytes(commands.map(multibulk).join(""));
      const bytes = whole.subarray(0, Math.floor(random() * (whole.length + 1)));
      const parsed: string[][] = [];
      new RespParser({
        maxBulkBytes: 1 << 20,
        maxMultibulkLength: 1024,
        maxQueryBufferBytes: 1 << 20,
      }).feed(bytes, (argv) => parsed.push(argv));
      const keys = parsed.filter((argv) => argv.length > 1).map((argv) => argv[1]);
      assert.deepEqual(scan(bytes, 64), keys);
    }
  });

  it("never throws and stays inside the input on random bytes", () => {
    const random = xorshift32(7);
    const starts = new Int32Array(8);
    const ends = new Int32Array(8);
    for (let round = 0; round < 5000; round++) {
      const bytes = Uint8Array.from(
        { length: Math.floor(random() * 40) },
        () => "*$\r\n0123456789ab"[Math.floor(random() * 16)].charCodeAt(0),
      );
      const count = scanKeys(bytes, starts, ends);
      for (let i = 0; i < count; i++) {
        assert.ok(0 <= starts[i] && starts[i] <= ends[i] && ends[i] <= bytes.length);
      }
    }
  });
});
