/**
 * The command line: parse flags, load the config, start a node, stop cleanly on SIGINT/SIGTERM.
 * Exit status 2 for a bad config, 1 for a start-up failure such as a port in use.
 *
 * @module
 */
import { ConfigError, loadConfig, parseArgs, usage } from "./config/config.ts";
import { startNode } from "./node.ts";
import { ListenError } from "./server/listen.ts";
import { currentRuntime } from "./runtime/mod.ts";
import { VERSION } from "./version.ts";

const runtime = await currentRuntime();

function fail(message: string, code: number): never {
  console.error(`hypercache: ${message}`);
  return runtime.exit(code);
}

let config;
try {
  const line = parseArgs(runtime.args());
  if (line.help) {
    console.log(usage());
    runtime.exit(0);
  }
  const path = line.configPath ?? runtime.env("HYPERCACHE_CONFIG") ?? null;
  let text: string | null = null;
  if (path !== null) {
    const bytes = await runtime.fs.readFile(path);
    if (bytes === null) throw new ConfigError(`${path}: config file not found`);
    text = new TextDecoder().decode(bytes);
  }
  config = loadConfig(text, { ...line, configPath: path }, runtime.env);
} catch (error) {
  if (error instanceof ConfigError) fail(`invalid configuration: ${error.message}`, 2);
  throw error;
}

let node;
try {
  // SHUTDOWN stops the node as SIGTERM does.
  node = await startNode(config, runtime, { onShutdown: () => void shutdown() });
} catch (error) {
  if (error instanceof ListenError) fail(error.message, 1);
  fail(`cannot start: ${(error as Error).message}`, 1);
}

let stopping = false;
const shutdown = async () => {
  if (stopping) return;
  stopping = true;
  console.log("hypercache: shutting down");
  await node.stop();
  runtime.exit(0);
};
runtime.onSignal("SIGINT", shutdown);
runtime.onSignal("SIGTERM", shutdown);

// Ready only once a stop signal would be handled: a supervisor may signal right after this line.
console.log(
  `hypercache ${VERSION} on ${runtime.name} ${runtime.version}: node ${config.nodeId} ` +
    `ready, RESP on ${config.bind}:${node.resp.port}` +
    (node.resp.tlsPort ? `, TLS on ${config.bind}:${node.resp.tlsPort}` : "") +
    (node.http ? `, HTTP on ${config.bind}:${node.http.port}` : ""),
);
