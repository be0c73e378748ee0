import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ProtocolError, RespParser } from "../../src/resp/parser.ts";
import { Dispatcher } from "../../src/commands/dispatch.ts";
import { ReplyError } from "../../src/commands/errors.ts";
import { createCommandTable } from "../../src/commands/table.ts";
import { type ClientState, internalClient } from "../../src/commands/types.ts";
import { Keyspace } from "../../src/keyspace/keyspace.ts";
import { ReplyWriter } from "../../src/resp/writer.ts";
import { mulberry32 } from "../_mulberry32.ts";

const SEED = Number(process.env.FUZZ_SEED ?? 20261123);
const ROUNDS = Number(process.env.FUZZ_ROUNDS ?? 10000);

const VALID = [
  "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n",
  "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
  "PING\r\n",
  "*4\r\n$4\r\nHSET\r\n$1\r\nh\r\n$1\r\nf\r\n$1\r\n1\r\n",
  "*3\r\n$5\r\nLPUSH\r\n$1\r\nl\r\n$1\r\na\r\n",
  "*4\r\n$4\r\nZADD\r\n$1\r\nz\r\n$1\r\n1\r\n$1\r\nm\r\n",
  "*3\r\n$6\r\nEXPIRE\r\n$1\r\nk\r\n$2\r\n10\r\n",
  "*1\r\n$5\r\nMULTI\r\n",
  "*1\r\n$4\r\nEXEC\r\n",
  "SET \"a b\" 'c\\'d'\r\n",
];

function mutate(random: () => number): Uint8Array {
  const base = new TextEncoder().encode(
    VALID.map(() => VALID[Math.floor(random() * VALID.length)]).slice(
      0,
      1 + Math.floor(random() * 4),
    ).join(""),
  );
  const bytes = Array.from(base);
  const edits = 1 + Math.floor(random() * 4);
  for (let i = 0; i < edits; i++) {
    const at = Math.floor(random() * (bytes.length + 1));
    const kind = random();
    if (kind < 0.4) bytes[at] = Math.floor(random() * 256);
    else if (kind < 0.7) bytes.splice(at, 0, Math.floor(random() * 256));
    else if (kind < 0.85) bytes.splice(at, 1);
    else {bytes.splice(
        at,
        0,
        ...new TextEncoder().encode(
          ["-1", "99999999999", "*", "$", "\r\n", "0", "-"][Math.floor(random() * 7)],
        ),
      );}
  }
  return new Uint8Array(bytes);
}

function client(): ClientState {
  return internalClient({ id: 1, remoteAddress: "fuzz" });
}

describe(`fuzzing the parser and the dispatcher (FUZZ_SEED=${SEED})`, () => {
  it("throws nothing but ProtocolError on mutated input, split anywhere, and the command layer answers every parsed command", () => {
    const random = mulberry32(SEED);
    const clock = { monotonicMs: () => 0, realtimeMs: () => 1_704_067_200_000 };
    const keyspace = new Keyspace([
      { name: "default", maxMemoryBytes: 1 << 20, evictionPolicy: "allkeys-lru", defaultTtlMs: 0 },
    ], clock);
    const dispatcher = new Dispatcher(createCommandTable(), keyspace, { info: () => "" });
    const out = new ReplyWriter();
    let protocolErrors = 0;
    let commands = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const input = mutate(random);
      const parser = new RespParser({
        maxBulkBytes: 1 << 20,
        maxMultibulkLength: 1024,
        maxQueryBufferBytes: 1 << 20,
      });
      const user = client();
      try {
        let offset = 0;
        while (offset < input.length) {
          const size = 1 + Math.floor(random() * 8);
          parser.feed(input.subarray(offset, offset + size), (argv) => {
            commands++;
            assert.ok(argv.length > 0);
            const before = out.size;
            dispatcher.execute(user, out, argv);
            assert.ok(out.size > before, `a reply for ${JSON.stringify(argv)}`);
          });
          offset += size;
        }
      } catch (error) {
        if (error instanceof ProtocolError) protocolErrors++;
        else if (error instanceof ReplyError) {
          assert.fail(`ReplyError escaped the dispatcher: ${error.message}`);
        } else {throw new Error(
            `round ${round} (FUZZ_SEED=${SEED}) threw ${(error as Error).stack}`,
          );}
      }
      out.take();
    }
    assert.ok(protocolErrors > 0, "mutations produced malformed input");
    assert.ok(commands > ROUNDS, "mutations left many commands parseable");
  });
});
