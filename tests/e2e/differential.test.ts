/**
 * Differential testing on Deno and Bun: random command sequences over every family the node has
 * (strings, bitmaps, HyperLogLog, keys and expiry, hashes, lists, sets, sorted sets and their
 * algebra, streams and consumer groups, SORT, LCS, scripts, transactions, blocking pops, and
 * blocking pops served by a second client) run on a real node
 * and on a real redis-server, and every reply must be identical. A mismatch fails with its seed
 * and the shortest sequence that shows it; `HYPERCACHE_DIFF_SEED` replays a seed and
 * `bench/differential.ts` runs for long.
 */
import assert from "node:assert/strict";
import process from "node:process";
import { timeLimited } from "../_time_limit.ts";
import { HAVE_REDIS, ReferenceRedis } from "../commands/_redis_reference.ts";
import { Random } from "../sim/random.ts";
import { cleanup, type NodeProcess, RUNTIMES, startNode } from "./_harness.ts";
import {
  blockingEpisode,
  describeMismatch,
  firstMismatch,
  generate,
  RawPipe,
  runBoth,
  type Sides,
} from "./_differential.ts";

const { after, before, describe, it } = timeLimited(import.meta.url, 300_000);

const SEED = Number(process.env.HYPERCACHE_DIFF_SEED ?? Math.floor(Math.random() * 2 ** 31));
/** Commands per sequence (each starts on empty databases), and sequences per runtime. */
const CHUNK = 1000;
const CHUNKS = 100;

for (const runtime of RUNTIMES) {
  describe(`differential against redis-server, on ${runtime}`, {
    skip: !HAVE_REDIS && process.env.CI !== "true",
  }, () => {
    let node: NodeProcess;
    let redis: ReferenceRedis;
    let sides: Sides;
    let others: Sides;

    before(async () => {
      [node, redis] = await Promise.all([startNode(runtime), ReferenceRedis.start()]);
      const open = async (): Promise<Sides> => ({
        ours: await RawPipe.open(node.port),
        theirs: await RawPipe.open(redis.port),
      });
      sides = await open();
      others = await open();
    });
    after(async () => {
      for (const pair of [sides, others]) {
        pair?.ours.close();
        pair?.theirs.close();
      }
      await Promise.all([cleanup(node), redis?.stop()]);
    });

    it(`answers ${CHUNK * CHUNKS} random commands as redis-server does (seed ${SEED})`, async () => {
      let compared = 0;
      const kinds = new Map<string, number>();
      for (let chunk = 0; chunk < CHUNKS; chunk++) {
        const seed = (SEED + chunk) >>> 0;
        const commands = generate(seed, CHUNK);
        const [ours, theirs] = await runBoth(sides, commands);
        const at = firstMismatch(commands, ours, theirs);
        if (at !== null) assert.fail(await describeMismatch(sides, seed, commands, at));
        compared += commands.length;
        for (const reply of theirs) kinds.set(reply[0], (kinds.get(reply[0]) ?? 0) + 1);
      }
      assert.ok(compared >= CHUNK * CHUNKS);
      // The sequences reach every kind of reply, errors included, not only the easy ones.
      for (const kind of ["+", "-", ":", "$", "*"]) {
        assert.ok(
          (kinds.get(kind) ?? 0) > CHUNKS,
          `few '${kind}' replies: ${JSON.stringify([...kinds])}`,
        );
      }
    });

    it(`serves a blocked pop from another client's push as redis-server does (seed ${SEED})`, async () => {
      const r = new Random(SEED);
      for (let i = 0; i < 20; i++) {
        const episode = r.int(2 ** 31);
        const ours = await blockingEpisode(new Random(episode), sides.ours, others.ours);
        const theirs = await blockingEpisode(new Random(episode), sides.theirs, others.theirs);
        assert.deepEqual(ours.command, theirs.command);
        assert.equal(ours.reply, theirs.reply, ours.command.join(" "));
      }
    });
  });
}
