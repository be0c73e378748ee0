/**
 * Replies leave in command order when some complete later: pipelines mixing immediate commands,
 * writes held until durable (`appendfsync always`) and blocking pops served by another client at
 * random moments or timing out, checked against a model, on real nodes (Deno and Bun).
 */
import assert from "node:assert/strict";
import process from "node:process";
import { RespError, type RespValue } from "../../src/resp/decoder.ts";
import { mulberry32 } from "../_mulberry32.ts";
import { timeLimited } from "../_time_limit.ts";
import { cleanup, type NodeProcess, RUNTIMES, startNode } from "./_harness.ts";
import { encodeCommand, RawClient } from "./_raw_client.ts";

const { after, describe, it } = timeLimited(import.meta.url, 120_000);
const SEED = Number(process.env.HYPERCACHE_ORDER_SEED ?? Math.floor(Math.random() * 2 ** 31));
const ROUNDS = 40;

for (const runtime of RUNTIMES) {
  describe(`reply order under deferred completion on ${runtime}`, () => {
    let node: NodeProcess | undefined;
    after(async () => {
      await cleanup(node);
    });

    it("answers every pipelined command in order: immediate, held for fsync, blocked", async () => {
      node = await startNode(runtime, {
        args: ["--http", "no", "--appendonly", "yes", "--appendfsync", "always"],
      });
      const random = mulberry32(SEED);
      const replay = `(replay: HYPERCACHE_ORDER_SEED=${SEED})`;
      const a = await RawClient.open(node.port);
      const b = await RawClient.open(node.port);
      const values = new Map<string, string>();
      const pushed = new Set<string>();
      const popped = new Set<string>();
      let counter = 0;
      let pushes = 0;
      // The pusher: values for the lists A blocks on, at random moments, until A is done.
      let done = false;
      const pusher = (async () => {
        while (!done) {
          const value = `p${pushes++}`;
          pushed.add(value);
          b.send("RPUSH", `q${Math.floor(random() * 2)}`, value);
          await new Promise((resolve) => setTimeout(resolve, random() * 15));
        }
      })();
      try {
        for (let round = 0; round < ROUNDS; round++) {
          const expected: ((reply: RespValue) => string | null)[] = [];
          let text = "";
          const count = 5 + Math.floor(random() * 30);
          for (let i = 0; i < count; i++) {
            const roll = random();
            const key = `s${Math.floor(random() * 5)}`;
            if (roll < 0.3) {
              const value = `v${round}.${i}`;
              text += encodeCommand(["SET", key, value]);
              values.set(key, value);
              expected.push((r) => r === "OK" ? null : `SET: ${String(r)}`);
            } else if (roll < 0.55) {
              const want = values.get(key) ?? null;
              text += encodeCommand(["GET", key]);
              expected.push((r) => r === want ? null : `GET ${key}: ${String(r)}, want ${want}`);
            } else if (roll < 0.7) {
              const want = ++counter;
              text += encodeCommand(["INCR", "n"]);
              expected.push((r) => r === want ? null : `INCR: ${String(r)}, want ${want}`);
            } else if (roll < 0.8) {
              text += encodeCommand(["PING"]);
              expected.push((r) => r === "PONG" ? null : `PING: ${String(r)}`);
            } else {
              text += encodeCommand(["BLPOP", "q0", "q1", "0.05"]);
              expected.push((r) => {
                if (r === null) return null; // timed out
                if (!Array.isArray(r) || r.length !== 2) return `BLPOP: ${String(r)}`;
                const value = String(r[1]);
                if (!pushed.has(value) || popped.has(value)) return `BLPOP popped ${value}`;
                popped.add(value);
                return null;
              });
            }
          }
          a.write(text);
          const replies = await a.take(count);
          assert.equal(replies.length, count, `round ${round}: replies ${replay}`);
          replies.forEach((reply, i) => {
            if (reply instanceof RespError) {
              assert.fail(`round ${round}: ${reply.message} ${replay}`);
            }
            const wrong = expected[i](reply);
            assert.equal(wrong, null, `round ${round}, command ${i}: ${wrong} ${replay}`);
          });
        }
      } finally {
        done = true;
        await pusher;
        a.close();
        b.close();
      }
      assert.ok(popped.size > 0, "some blocked pops were served by the other client");
    });
  });
}
