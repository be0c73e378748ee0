/**
 * bullmq against a real node, on Deno and Bun: a queue with workers, delayed and retried jobs, and
 * its queue events, unchanged. bullmq runs its operations as Lua scripts (cmsgpack, redis.call),
 * blocks its workers with BZPOPMIN on a marker key, and writes its events to a stream that
 * QueueEvents reads with XREAD BLOCK.
 */
import assert from "node:assert/strict";
import { Queue, QueueEvents, Worker } from "bullmq";
import { timeLimited } from "../_time_limit.ts";
import { cleanup, type NodeProcess, RUNTIMES, startNode } from "./_harness.ts";

const { after, before, describe, it } = timeLimited(import.meta.url, 120_000);

/** Resolves when `check` holds, polling; fails after `ms`. */
async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

for (const runtime of RUNTIMES) {
  describe(`bullmq on ${runtime}`, () => {
    let node: NodeProcess;
    const closing: { close(): Promise<unknown> }[] = [];

    before(async () => {
      node = await startNode(runtime, { args: ["--http", "no"] });
    });
    after(async () => {
      for (const part of closing.reverse()) await part.close().catch(() => {});
      await cleanup(node);
    });

    const connection = () => ({ host: "127.0.0.1", port: node.port, maxRetriesPerRequest: null });

    it("runs jobs through two workers, each once, with their results in the queue events", async () => {
      const queue = new Queue("work", { connection: connection() });
      const events = new QueueEvents("work", { connection: connection() });
      closing.push(queue, events);
      await events.waitUntilReady();
      const completed = new Map<string, string>();
      events.on("completed", ({ jobId, returnvalue }) => completed.set(jobId, String(returnvalue)));
      const ran: string[] = [];
      // A processor returns a promise; bullmq awaits it.
      const process = (job: { id?: string; data: { n: number } }) => {
        ran.push(job.id!);
        return Promise.resolve(job.data.n * 2);
      };
      for (let i = 0; i < 2; i++) {
        closing.push(new Worker("work", process, { connection: connection(), concurrency: 3 }));
      }
      const jobs = await queue.addBulk(
        Array.from({ length: 30 }, (_, n) => ({ name: "double", data: { n } })),
      );
      await until(() => completed.size === 30, 30_000, "30 completed events");
      assert.equal(ran.length, 30, "every job ran once");
      assert.equal(new Set(ran).size, 30);
      for (const job of jobs) {
        assert.equal(completed.get(job.id!), String(job.data.n * 2));
      }
      const counts = await queue.getJobCounts("completed", "waiting", "active", "failed");
      assert.deepEqual(counts, { completed: 30, waiting: 0, active: 0, failed: 0 });
    });

    it("runs a delayed job after its delay, and retries a failing job until it succeeds", async () => {
      const queue = new Queue("later", { connection: connection() });
      const events = new QueueEvents("later", { connection: connection() });
      closing.push(queue, events);
      await events.waitUntilReady();
      const completed: string[] = [];
      events.on("completed", ({ jobId }) => completed.push(jobId));
      const startedAt = new Map<string, number>();
      const worker = new Worker("later", (job) => {
        startedAt.set(job.id!, Date.now());
        if (job.name === "flaky" && job.attemptsMade < 2) {
          return Promise.reject(new Error("not yet"));
        }
        return Promise.resolve("done");
      }, { connection: connection() });
      closing.push(worker);
      const added = Date.now();
      const delayed = await queue.add("delayed", {}, { delay: 700 });
      const flaky = await queue.add("flaky", {}, {
        attempts: 3,
        backoff: { type: "fixed", delay: 50 },
      });
      assert.equal(await delayed.getState(), "delayed");
      await until(() => completed.length === 2, 30_000, "both jobs completed");
      assert.ok(startedAt.get(delayed.id!)! - added >= 650, "the delayed job waited its delay");
      const done = await queue.getJob(flaky.id!);
      assert.equal(done?.attemptsMade, 3);
      assert.equal(done?.returnvalue, "done");
      assert.equal(await done?.getState(), "completed");
    });
  });
}
