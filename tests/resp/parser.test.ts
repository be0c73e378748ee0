import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  type ParserLimits,
  ProtocolError,
  RespParser,
  splitInlineArgs,
} from "../../src/resp/parser.ts";

const LIMITS: ParserLimits = {
  maxBulkBytes: 512 * 1024 * 1024,
  maxMultibulkLength: 1024 * 1024,
  maxQueryBufferBytes: 1024 * 1024 * 1024,
};

const latin1Bytes = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));

/** The RESP multibulk encoding of `argv` (latin1 strings). */
function multibulk(argv: string[]): string {
  return `*${argv.length}\r\n` + argv.map((a) => `$${a.length}\r\n${a}\r\n`).join("");
}

/** Feeds `chunks` to a fresh parser; returns the commands, and the error if one was thrown. */
function parse(
  chunks: (string | Uint8Array)[],
  limits: ParserLimits = LIMITS,
): { commands: string[][]; error: Error | null; parser: RespParser } {
  const parser = new RespParser(limits);
  const commands: string[][] = [];
  try {
    for (const chunk of chunks) {
      parser.feed(typeof chunk === "string" ? latin1Bytes(chunk) : chunk, (argv) => {
        commands.push(argv);
      });
    }
  } catch (error) {
    return { commands, error: error as Error, parser };
  }
  return { commands, error: null, parser };
}

function bytewise(text: string): string[] {
  return Array.from(text);
}

function protocolError(chunks: (string | Uint8Array)[], limits?: ParserLimits): string {
  const { error } = parse(chunks, limits);
  assert.ok(error instanceof ProtocolError, `expected a ProtocolError, got ${error}`);
  return error.message;
}

const ALL_BYTES = String.fromCharCode(...Array.from({ length: 256 }, (_, i) => i));

const PIPELINE = [
  multibulk(["SET", "key", "value"]),
  multibulk(["GET", "key"]),
  "PING\r\n",
  multibulk(["SET", "bin", ALL_BYTES]),
  'ECHO "a b\\x41"\n',
  multibulk(["MSET", "", "empty", "k\r\n", "crlf inside"]),
  "SET 'it\\'s' done\r\n",
  multibulk(["DEL", "a", "b", "c"]),
].join("");

const PIPELINE_COMMANDS = [
  ["SET", "key", "value"],
  ["GET", "key"],
  ["PING"],
  ["SET", "bin", ALL_BYTES],
  ["ECHO", "a bA"],
  ["MSET", "", "empty", "k\r\n", "crlf inside"],
  ["SET", "it's", "done"],
  ["DEL", "a", "b", "c"],
];

describe("RespParser: well-formed input", () => {
  it("parses a multibulk command", () => {
    assert.deepEqual(parse([multibulk(["GET", "k"])]).commands, [["GET", "k"]]);
  });

  it("parses every command of a pipeline in one read, in order", () => {
    const { commands, error, parser } = parse([PIPELINE]);
    assert.equal(error, null);
    assert.deepEqual(commands, PIPELINE_COMMANDS);
    assert.equal(parser.bufferedBytes, 0);
  });

  it("gives identical results when the pipeline is fed one byte at a time", () => {
    const { commands, error, parser } = parse(bytewise(PIPELINE));
    assert.equal(error, null);
    assert.deepEqual(commands, PIPELINE_COMMANDS);
    assert.equal(parser.bufferedBytes, 0);
  });

  it("gives identical results for a split of the pipeline at every byte position", () => {
    for (let split = 0; split <= PIPELINE.length; split++) {
      const { commands, error } = parse([PIPELINE.slice(0, split), PIPELINE.slice(split)]);
      assert.equal(error, null, `split at ${split}`);
      assert.deepEqual(commands, PIPELINE_COMMANDS, `split at ${split}`);
    }
  });

  it("gives identical results for every pair of split points in a multibulk command", () => {
    const text = multibulk(["SET", "key", "a value"]);
    for (let a = 0; a <= text.length; a++) {
      for (let b = a; b <= text.length; b++) {
        const { commands, error } = parse([text.slice(0, a), text.slice(a, b), text.slice(b)]);
        assert.equal(error, null, `splits at ${a},${b}`);
        assert.deepEqual(commands, [["SET", "key", "a value"]], `splits at ${a},${b}`);
      }
    }
  });

  it("calls back each command as soon as its last byte arrives", () => {
    const parser = new RespParser(LIMITS);
    const seen: string[][] = [];
    const text = multibulk(["GET", "a"]) + multibulk(["GET", "b"]);
    const firstEnd = multibulk(["GET", "a"]).length;
    for (let i = 0; i < text.length; i++) {
      parser.feed(latin1Bytes(text[i]), (argv) => seen.push(argv));
      if (i === firstEnd - 2) assert.equal(seen.length, 0);
      if (i === firstEnd - 1) assert.deepEqual(seen, [["GET", "a"]]);
    }
    assert.deepEqual(seen, [["GET", "a"], ["GET", "b"]]);
  });

  it("round-trips every byte value 0-255 in keys and values, fed whole and byte by byte", () => {
    const text = multibulk(["SET", ALL_BYTES, ALL_BYTES + ALL_BYTES]);
    const expected = [["SET", ALL_BYTES, ALL_BYTES + ALL_BYTES]];
    assert.deepEqual(parse([text]).commands, expected);
    assert.deepEqual(parse(bytewise(text)).commands, expected);
  });

  it("builds arguments of every length from 0 to 40 byte-exact, in first and later places", () => {
    // Short arguments are built char by char and first ones may come from the name cache: both
    // paths, at every length, with high bytes and NUL in them.
    for (let length = 0; length <= 40; length++) {
      const arg = Array.from({ length }, (_, i) => String.fromCharCode((i * 37 + length) & 255))
        .join("");
      const argv = [arg, arg, `x${arg}`];
      assert.deepEqual(parse([multibulk(argv)]).commands, [argv], `length ${length}`);
    }
  });

  it("returns each first argument as sent, however many distinct ones share the name cache", () => {
    // 5,000 distinct first arguments overflow the 256-slot cache many times over; each one, and
    // a repeat of each, must come back with its own bytes.
    const names = Array.from({ length: 5000 }, (_, n) => `c${n}`);
    const text = names.map((name) => multibulk([name, "k"]) + multibulk([name])).join("");
    const expected = names.flatMap((name) => [[name, "k"], [name]]);
    assert.deepEqual(parse([text]).commands, expected);
    assert.deepEqual(parse([multibulk(["get", "k"]), multibulk(["GET", "k"])]).commands, [
      ["get", "k"],
      ["GET", "k"],
    ]);
  });

  it("assembles a 1 MiB bulk that arrives in many chunks of odd sizes", () => {
    const value = Array.from({ length: 1 << 20 }, (_, i) => String.fromCharCode(i % 251)).join(
      "",
    );
    const bytes = latin1Bytes(multibulk(["SET", "big", value]) + multibulk(["GET", "big"]));
    const chunks: Uint8Array[] = [];
    for (let i = 0, size = 1; i < bytes.length; i += size, size = (size * 7 + 3) % 9973 + 1) {
      chunks.push(bytes.slice(i, i + size));
    }
    assert.ok(chunks.length > 100);
    const { commands, error } = parse(chunks);
    assert.equal(error, null);
    assert.equal(commands.length, 2);
    assert.equal(commands[0][2].length, value.length);
    assert.ok(commands[0][2] === value, "the value is byte-exact");
    assert.deepEqual(commands[1], ["GET", "big"]);
  });

  it("does not keep a reference to the caller's buffer for an incomplete tail", () => {
    const parser = new RespParser(LIMITS);
    const seen: string[][] = [];
    const chunk = latin1Bytes(multibulk(["SET", "k", "abcdef"]).slice(0, 20));
    parser.feed(chunk, (argv) => seen.push(argv));
    chunk.fill(0x21);
    parser.feed(
      latin1Bytes(multibulk(["SET", "k", "abcdef"]).slice(20)),
      (argv) => seen.push(argv),
    );
    assert.deepEqual(seen, [["SET", "k", "abcdef"]]);
  });

  it("accepts empty arguments and skips empty multibulks (*0 and *-1) as Redis does", () => {
    const { commands, error } = parse(["*0\r\n*-1\r\n", multibulk(["ECHO", ""])]);
    assert.equal(error, null);
    assert.deepEqual(commands, [["ECHO", ""]]);
  });

  it("reads a subarray of a larger buffer without looking outside it", () => {
    const backing = latin1Bytes("XXXX" + multibulk(["PING"]) + "YYYY");
    const view = backing.subarray(4, backing.length - 4);
    assert.deepEqual(parse([view]).commands, [["PING"]]);
  });
});

describe("RespParser: inline commands", () => {
  it("splits on spaces and tabs and accepts LF or CRLF line ends", () => {
    assert.deepEqual(parse(["SET  a\tb\r\nGET a\n"]).commands, [["SET", "a", "b"], ["GET", "a"]]);
  });

  it("skips empty lines", () => {
    assert.deepEqual(parse(["\r\n\n   \r\nPING\r\n"]).commands, [["PING"]]);
  });

  it("parses inline commands split at every byte identically", () => {
    const text = 'SET "a \\"quoted\\" key" \'single \\\' q\' "\\x00\\xff\\n"\r\n';
    const expected = [["SET", 'a "quoted" key', "single ' q", "\x00\xff\n"]];
    assert.deepEqual(parse([text]).commands, expected);
    assert.deepEqual(parse(bytewise(text)).commands, expected);
  });

  it("mixes inline and multibulk commands in one pipeline", () => {
    const text = "PING\r\n" + multibulk(["GET", "k"]) + "ECHO x\r\n";
    assert.deepEqual(parse([text]).commands, [["PING"], ["GET", "k"], ["ECHO", "x"]]);
  });
});

describe("splitInlineArgs: Redis sdssplitargs semantics", () => {
  const cases: [string, string[] | null][] = [
    ["", []],
    ["   ", []],
    ["a b  c", ["a", "b", "c"]],
    ['"hello world"', ["hello world"]],
    ['"a\\nb\\rc\\td\\be\\af"', ["a\nb\rc\td\be\x07f"]],
    ['"\\x41\\x6a\\xFF"', ["Aj\xff"]],
    ['"\\x4"', ["x4"]],
    ['"\\xzz"', ["xzz"]],
    ['"\\q\\\\"', ["q\\"]],
    ['"say \\"hi\\""', ['say "hi"']],
    ["'single \\' quote'", ["single ' quote"]],
    ["'no \\n escape'", ["no \\n escape"]],
    ["'\\x41'", ["\\x41"]],
    ['a"b"c', null],
    ['""', [""]],
    ["''", [""]],
    ['"a" "b"', ["a", "b"]],
    ['"unbalanced', null],
    ["'unbalanced", null],
    ['"a"b', null],
    ["'a'b", null],
    ['"trailing backslash\\', null],
    ["a\vb c", ["a\vb", "c"]],
    ["a \v\fb", ["a", "b"]],
    ['"x"\v', ["x"]],
    ["a\0b c", ["a"]],
    ['"a\0b"', null],
  ];
  for (const [line, expected] of cases) {
    it(`splits ${JSON.stringify(line)} as Redis does`, () => {
      assert.deepEqual(splitInlineArgs(line), expected);
    });
  }

  it("treats a quote inside an unquoted word as the start of a quoted part", () => {
    // sdssplitargs: `a"b c"` is one argument `ab c`.
    assert.deepEqual(splitInlineArgs('a"b c"'), ["ab c"]);
  });
});

describe("RespParser: malformed input gets Redis's error text", () => {
  it("rejects a non-numeric bulk length: invalid bulk length", () => {
    assert.equal(protocolError(["*1\r\n$x\r\n"]), "Protocol error: invalid bulk length");
  });

  it("rejects a negative bulk length: invalid bulk length", () => {
    assert.equal(protocolError(["*1\r\n$-1\r\n"]), "Protocol error: invalid bulk length");
  });

  it("rejects an absurd bulk length before allocating anything", () => {
    const { error, parser } = parse(["*2\r\n$3\r\nGET\r\n$99999999999\r\n"]);
    assert.ok(error instanceof ProtocolError);
    assert.equal(error.message, "Protocol error: invalid bulk length");
    assert.equal(parser.bufferedBytes, 0);
  });

  it("rejects a bulk length above proto-max-bulk-len", () => {
    const limits = { ...LIMITS, maxBulkBytes: 10 };
    assert.equal(parse([multibulk(["SET", "k", "0123456789"])], limits).error, null);
    assert.equal(
      protocolError([multibulk(["SET", "k", "01234567890"])], limits),
      "Protocol error: invalid bulk length",
    );
  });

  it("rejects a bulk length with more digits than any number: invalid bulk length", () => {
    assert.equal(
      protocolError(["*1\r\n$99999999999999999999999999\r\n"]),
      "Protocol error: invalid bulk length",
    );
  });

  it("rejects lengths string2ll rejects: leading zeros, -0 and a plus sign", () => {
    assert.equal(protocolError(["*1\r\n$03\r\nGET\r\n"]), "Protocol error: invalid bulk length");
    assert.equal(protocolError(["*1\r\n$-0\r\n\r\n"]), "Protocol error: invalid bulk length");
    assert.equal(protocolError(["*1\r\n$+3\r\nGET\r\n"]), "Protocol error: invalid bulk length");
    assert.equal(
      protocolError(["*01\r\n$3\r\nGET\r\n"]),
      "Protocol error: invalid multibulk length",
    );
    assert.deepEqual(parse(["*1\r\n$0\r\n\r\n"]).commands, [[""]]);
  });

  it("rejects a non-numeric multibulk length: invalid multibulk length", () => {
    assert.equal(protocolError(["*x\r\n"]), "Protocol error: invalid multibulk length");
    assert.equal(protocolError(["*\r\n"]), "Protocol error: invalid multibulk length");
  });

  it("rejects a multibulk length above the limit without building the argument array", () => {
    const limits = { ...LIMITS, maxMultibulkLength: 3 };
    assert.equal(parse([multibulk(["a", "b", "c"])], limits).error, null);
    assert.equal(
      protocolError(["*4\r\n"], limits),
      "Protocol error: invalid multibulk length",
    );
    assert.equal(
      protocolError(["*99999999999\r\n"]),
      "Protocol error: invalid multibulk length",
    );
  });

  it("rejects an argument that does not start with '$', naming the byte", () => {
    assert.equal(protocolError(["*1\r\nx\r\n"]), "Protocol error: expected '$', got 'x'");
    assert.equal(
      protocolError(["*2\r\n$3\r\nGET\r\n:1\r\n"]),
      "Protocol error: expected '$', got ':'",
    );
  });

  it("finds the same errors when the input arrives one byte at a time", () => {
    assert.equal(protocolError(bytewise("*1\r\n$x\r\n")), "Protocol error: invalid bulk length");
    assert.equal(protocolError(bytewise("*x\r\n")), "Protocol error: invalid multibulk length");
    assert.equal(protocolError(bytewise("*1\r\nx")), "Protocol error: expected '$', got 'x'");
    assert.equal(
      protocolError(bytewise('GET "a\r\n')),
      "Protocol error: unbalanced quotes in request",
    );
  });

  it("passes the commands before a malformed one to the callback", () => {
    const { commands, error } = parse([multibulk(["PING"]) + "PING\r\n*1\r\n$x\r\n"]);
    assert.ok(error instanceof ProtocolError);
    assert.deepEqual(commands, [["PING"], ["PING"]]);
  });

  it("rejects unbalanced quotes in an inline command", () => {
    assert.equal(
      protocolError(['SET "a b\r\n']),
      "Protocol error: unbalanced quotes in request",
    );
    assert.equal(protocolError(["SET 'a b\r\n"]), "Protocol error: unbalanced quotes in request");
    assert.equal(protocolError(['SET "a"b\r\n']), "Protocol error: unbalanced quotes in request");
  });

  it("rejects an inline request over 64 KiB without a newline", () => {
    const { commands, error } = parse(["PING\r\n", "A".repeat(64 * 1024)]);
    assert.equal(error, null, "64 KiB exactly is still waiting for its newline");
    assert.deepEqual(commands, [["PING"]]);
    assert.equal(
      protocolError(["A".repeat(64 * 1024 + 1)]),
      "Protocol error: too big inline request",
    );
    assert.equal(
      protocolError(["A".repeat(40 * 1024), "A".repeat(40 * 1024)]),
      "Protocol error: too big inline request",
    );
  });

  it("rejects a multibulk count line over 64 KiB: too big mbulk count string", () => {
    assert.equal(
      protocolError(["*" + "1".repeat(64 * 1024 + 1)]),
      "Protocol error: too big mbulk count string",
    );
  });

  it("rejects a bulk count line over 64 KiB: too big bulk count string", () => {
    assert.equal(
      protocolError(["*1\r\n$" + "1".repeat(64 * 1024 + 1)]),
      "Protocol error: too big bulk count string",
    );
  });

  it("rejects input beyond the client query buffer limit", () => {
    const limits = { ...LIMITS, maxQueryBufferBytes: 1024 };
    const header = "*2\r\n$3\r\nGET\r\n$2000\r\n";
    assert.equal(parse([header, "x".repeat(1000)], limits).error, null);
    const { error } = parse([header, "x".repeat(1000), "x".repeat(500)], limits);
    assert.ok(error instanceof ProtocolError);
    assert.match(error.message, /query buffer limit/);
  });

  it("rejects a first read beyond the query buffer limit that stays incomplete", () => {
    const limits = { ...LIMITS, maxQueryBufferBytes: 1024 };
    const { error } = parse(["*1\r\n$2000\r\n" + "x".repeat(1500)], limits);
    assert.ok(error instanceof ProtocolError);
    assert.match(error.message, /query buffer limit/);
  });

  it("buffers only what it was sent while a large announced bulk arrives", () => {
    const parser = new RespParser(LIMITS);
    parser.feed(latin1Bytes("*2\r\n$3\r\nGET\r\n$500000000\r\nabc"), () => {});
    assert.ok(parser.bufferedBytes < 100, `buffered ${parser.bufferedBytes}`);
  });
});
