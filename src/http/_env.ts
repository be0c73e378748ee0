/**
 * What the HTTP handlers share: the Hono environment (the role the token gave) and the one way
 * errors become JSON responses.
 *
 * @module
 */
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { UserRole } from "../commands/types.ts";
import { jsonDeeperThan, MAX_JSON_DEPTH } from "./limits.ts";

/** Hono variables set by the auth middleware. */
export type HttpEnv = { Variables: { role: UserRole } };

/** The role of a request: the token's, or readwrite when no token is configured. */
export function roleOf(c: Context<HttpEnv>): UserRole {
  return c.get("role") ?? "readwrite";
}

/** A JSON error response: `{"error": message}` plus any extra fields. */
export function jsonError(
  c: Context,
  status: ContentfulStatusCode,
  message: string,
  extra: Record<string, unknown> = {},
): Response {
  return c.json({ error: message, ...extra }, status);
}

/** The 405 reply, with the methods the path takes in `Allow`. */
export function methodNotAllowedJson(c: Context, methods: readonly string[]): Response {
  return c.json({ error: `Method ${c.req.method} is not allowed here` }, 405, {
    Allow: methods.join(", "),
  });
}

/** The HTTP status of a command error on the REST routes, by its Redis error code. */
export function errorStatus(message: string): ContentfulStatusCode {
  if (message.startsWith("NOPERM")) return 403;
  if (message.startsWith("NOAUTH")) return 401;
  if (message.startsWith("OOM")) return 507;
  if (message.startsWith("WRONGTYPE")) return 409;
  return 400;
}

/**
 * Reads a JSON body; a syntax error, or nesting deeper than `MAX_JSON_DEPTH`, becomes a message
 * for a 400 reply.
 */
export async function readJson(c: Context): Promise<
  { ok: true; value: unknown } | {
    ok: false;
    error: string;
  }
> {
  const text = await c.req.text();
  if (jsonDeeperThan(text, MAX_JSON_DEPTH)) {
    return {
      ok: false,
      error: `ERR the body nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep`,
    };
  }
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, error: `ERR the body is not valid JSON: ${(error as Error).message}` };
  }
}
