/**
 * The Upstash-compatible command API: `POST /` with a JSON array command, `POST /pipeline`,
 * `POST /multi-exec` (a transaction) and path-style `GET|POST /{command}/{arg}/...` (a POST body
 * is the last argument, query parameters follow it). Replies are `{"result": ...}` or
 * `{"error": "..."}` (HTTP 400, as Upstash answers a failed command); a pipeline or a
 * transaction answers 200 with one such object per command. `Upstash-Encoding: base64` encodes
 * every string result except `OK`.
 *
 * @module
 */
import type { Context, Hono, MiddlewareHandler } from "hono";
import type { ClientState } from "../commands/types.ts";
import { type HttpEnv, jsonError, methodNotAllowedJson, readJson, roleOf } from "./_env.ts";
import { rawToBytes, utf8ToBytes } from "./_text.ts";
import { MAX_HTTP_BATCH_COMMANDS } from "../constants.ts";
import { allDone, type HttpExecutor, whenDone } from "./executor.ts";
import { MALFORMED_ENCODING } from "./limits.ts";
import { type ReplyJson, replyJson } from "./json.ts";

/** Commands in one pipeline or transaction (the named limit in src/constants.ts). */
export const MAX_BATCH_COMMANDS = MAX_HTTP_BATCH_COMMANDS;

function base64Wanted(c: Context): boolean {
  return c.req.header("upstash-encoding")?.toLowerCase() === "base64";
}

/** A JSON command array as byte-string argv, or the reason it is not one. */
export function toArgv(command: unknown): string[] | string {
  if (!Array.isArray(command) || command.length === 0) {
    return "ERR a command is a non-empty JSON array of strings and numbers";
  }
  const argv: string[] = new Array(command.length);
  for (let i = 0; i < command.length; i++) {
    const arg = command[i];
    if (typeof arg === "string") argv[i] = utf8ToBytes(arg);
    else if (typeof arg === "number" || typeof arg === "boolean") argv[i] = String(arg);
    else {
      return `ERR argument ${i} of the command is ${
        arg === null ? "null" : typeof arg
      }: only strings, numbers and booleans are accepted`;
    }
  }
  return argv;
}

/** The argv of a path-style request: path segments, the POST body, then query parameters. */
async function pathArgv(c: Context): Promise<string[]> {
  const url = c.req.url;
  const pathStart = url.indexOf("/", url.indexOf("://") + 3);
  const queryStart = url.indexOf("?", pathStart);
  const path = url.slice(pathStart + 1, queryStart === -1 ? undefined : queryStart);
  const argv = path.split("/").filter((segment) => segment !== "").map((segment) =>
    utf8ToBytes(decodeURIComponent(segment))
  );
  if (c.req.method === "POST") {
    const body = await c.req.arrayBuffer();
    if (body.byteLength > 0) argv.push(rawToBytes(body));
  }
  if (queryStart !== -1) {
    for (const pair of url.slice(queryStart + 1).split("&")) {
      if (pair === "") continue;
      const eq = pair.indexOf("=");
      const name = decodeQuery(eq === -1 ? pair : pair.slice(0, eq));
      if (name === "_token") continue;
      argv.push(utf8ToBytes(name));
      if (eq !== -1) argv.push(utf8ToBytes(decodeQuery(pair.slice(eq + 1))));
    }
  }
  return argv;
}

function decodeQuery(text: string): string {
  return decodeURIComponent(text.replaceAll("+", " "));
}

/** Adds the command routes to `app`; call after every other route (path-style matches most). */
export function addCommandRoutes(
  app: Hono<HttpEnv>,
  executor: HttpExecutor,
  defaultDb: number,
  bodyLimit: MiddlewareHandler<HttpEnv>,
  /** This node's id in a cluster, whose replies say which node answered; null on a single node. */
  nodeId: string | null,
): void {
  const clientOf = (c: Context<HttpEnv>): ClientState => executor.client(roleOf(c), defaultDb);

  // In a cluster, beside Upstash's `result`: which node answered. The router notes where it sent
  // the command (`routedTo`); a command that ran here was answered here.
  const single = (c: Context<HttpEnv>, argv: string[] | string) => {
    if (typeof argv === "string") return jsonError(c, 400, argv);
    const client = clientOf(c) as ClientState & { routedTo?: string };
    return whenDone(executor.run(client, argv), (reply) => {
      const json = replyJson(reply, base64Wanted(c));
      const status = "error" in json ? 400 : 200;
      if (nodeId === null) return c.json(json, status);
      const node = client.routedTo ?? nodeId;
      const origin = { node, primary: node, local: node === nodeId, forwarded: node !== nodeId };
      return c.json({ ...json, ...origin }, status);
    });
  };

  const batch = async (c: Context<HttpEnv>): Promise<string[][] | Response> => {
    const body = await readJson(c);
    if (!body.ok) return jsonError(c, 400, body.error);
    if (!Array.isArray(body.value) || body.value.length === 0) {
      return jsonError(c, 400, "ERR the body must be a non-empty JSON array of commands");
    }
    if (body.value.length > MAX_BATCH_COMMANDS) {
      return jsonError(
        c,
        400,
        `ERR ${body.value.length} commands in one request exceed the limit of ${MAX_BATCH_COMMANDS}`,
      );
    }
    const commands: string[][] = [];
    for (const [index, command] of body.value.entries()) {
      const argv = toArgv(command);
      if (typeof argv === "string") return jsonError(c, 400, `${argv} (command ${index})`);
      commands.push(argv);
    }
    return commands;
  };

  app.post("/", bodyLimit, async (c) => {
    const body = await readJson(c);
    return single(c, body.ok ? toArgv(body.value) : body.error);
  });

  app.post("/pipeline", bodyLimit, async (c) => {
    const commands = await batch(c);
    if (commands instanceof Response) return commands;
    const client = clientOf(c);
    const base64 = base64Wanted(c);
    const replies = await allDone(commands.map((argv) => executor.run(client, argv)));
    return c.json(replies.map((reply): ReplyJson => replyJson(reply, base64)));
  });

  app.post("/multi-exec", bodyLimit, async (c) => {
    const commands = await batch(c);
    if (commands instanceof Response) return commands;
    const client = clientOf(c);
    // Redis's MULTI: a command that cannot be queued (unknown, wrong arity, no permission)
    // discards the whole transaction; errors while running are per command.
    for (const [index, argv] of commands.entries()) {
      const failure = executor.check(client, argv);
      if (failure !== null) {
        return jsonError(
          c,
          400,
          `EXECABORT Transaction discarded because of previous errors: command ${index}: ${failure}`,
        );
      }
    }
    const base64 = base64Wanted(c);
    // One call, as RESP's EXEC: nothing runs in between, and the AOF gets its writes inside
    // MULTI/EXEC, so a torn tail never replays half of it.
    const replies = await allDone(
      executor.dispatcher.atomically(() => commands.map((argv) => executor.run(client, argv))),
    );
    return c.json(replies.map((reply): ReplyJson => replyJson(reply, base64)));
  });

  const pathStyle = async (c: Context<HttpEnv>) => {
    let argv: string[];
    try {
      argv = await pathArgv(c);
    } catch (error) {
      if (!(error instanceof URIError)) throw error;
      return jsonError(c, 400, MALFORMED_ENCODING); // `requestLimits` answers it first.
    }
    // Only `/` itself has no command in it, and `/` takes a command as a POST body.
    if (argv.length === 0) return methodNotAllowedJson(c, ["POST"]);
    return single(c, argv);
  };
  // `/*` rather than `/:command/*`: Hono's RegExpRouter takes the former only, and with every
  // route in its reach SmartRouter uses it instead of the slower TrieRouter for all requests.
  app.get("/*", pathStyle);
  app.post("/*", bodyLimit, pathStyle);
}
