import { timeLimited } from "../_time_limit.ts";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { cleanup, type NodeProcess, redisCli, RUNTIMES, startNode } from "../e2e/_harness.ts";

const { after, before, describe, it } = timeLimited(import.meta.url, 120_000);

/** Reads an SSE stream with curl until `until` matches what arrived (or 5 s pass). */
function readStream(url: string, method: string, until: RegExp): {
  ready: Promise<void>;
  done: Promise<string>;
} {
  const curl = spawn("curl", ["-sN", "-X", method, url], { stdio: ["ignore", "pipe", "ignore"] });
  let text = "";
  let markReady: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  const done = new Promise<string>((resolve) => {
    const timer = setTimeout(() => curl.kill("SIGKILL"), 5000);
    curl.stdout.on("data", (chunk: Buffer) => {
      text += chunk.toString("utf8");
      if (/subscribe,/.test(text)) markReady();
      if (until.test(text)) curl.kill("SIGKILL");
    });
    curl.on("exit", () => {
      clearTimeout(timer);
      resolve(text);
    });
  });
  return { ready, done };
}

for (const runtime of RUNTIMES) {
  describe(`pub/sub over server-sent events on ${runtime}`, () => {
    let node: NodeProcess;
    before(async () => {
      node = await startNode(runtime);
    });
    after(async () => {
      await cleanup(node);
    });

    it("streams messages published over RESP and over HTTP, then drops the subscriber", async () => {
      const base = `http://127.0.0.1:${node.httpPort}`;
      const channel = readStream(`${base}/subscribe/news`, "GET", /from http/);
      const pattern = readStream(`${base}/psubscribe/ne*`, "POST", /pmessage,ne\*,news,from http/);
      await Promise.all([channel.ready, pattern.ready]);
      assert.equal(
        (await redisCli(node.port, ["PUBLISH", "news", "héllo wörld"])).stdout.trim(),
        "2",
      );
      const published = await fetch(`${base}/`, {
        method: "POST",
        body: JSON.stringify(["PUBLISH", "news", "from http"]),
      });
      assert.deepEqual(await published.json(), { result: 2 });
      const direct = await channel.done;
      const matched = await pattern.done;
      assert.match(direct, /data: subscribe,news,1\n\n/);
      assert.match(direct, /data: message,news,héllo wörld\n\n/);
      assert.match(direct, /data: message,news,from http\n\n/);
      assert.match(matched, /data: psubscribe,ne\*,1\n\n/);
      assert.match(matched, /data: pmessage,ne\*,news,héllo wörld\n\n/);
      // Both streams are closed: the hub no longer counts them.
      let subscribers = "";
      for (let i = 0; i < 50; i++) {
        subscribers = (await redisCli(node.port, ["PUBSUB", "NUMSUB", "news"])).stdout;
        if (/^news\n0$/m.test(subscribers.trim())) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.match(subscribers.trim(), /^news\n0$/);
    });
  });
}
