/**
 * Token authentication: Hono's `bearer-auth` with `verifyToken`, plus Upstash's `?_token=`
 * query parameter. A token's role (readwrite, readonly, admin) becomes the role the commands
 * run with, so a read-only token gets Redis's NOPERM error for a write.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import type { UserRole } from "../commands/types.ts";
import type { HttpToken } from "../config/config.ts";
import { type HttpEnv, jsonError } from "./_env.ts";
import { constantTimeEqual } from "./_text.ts";

/** Paths answered without a token: probes and scrapers carry none. */
export const PUBLIC_PATHS: ReadonlySet<string> = new Set(["/health", "/ready", "/metrics"]);

/**
 * The auth middleware, or null with no tokens: every request then runs as `readwrite` (see
 * `roleOf`). When only `requirePass` is set, it is the one readwrite token.
 */
export function authMiddleware(
  tokens: readonly HttpToken[],
  requirePass: string,
): MiddlewareHandler<HttpEnv> | null {
  const known: HttpToken[] = tokens.length > 0 || requirePass === ""
    ? [...tokens]
    : [{ token: requirePass, role: "readwrite" }];
  if (known.length === 0) return null;
  const roleOf = (token: string): UserRole | null => {
    let role: UserRole | null = null;
    // Every token is compared, so the time taken does not tell which one nearly matched.
    for (const entry of known) if (constantTimeEqual(entry.token, token)) role = entry.role;
    return role;
  };
  const unauthorized = { message: { error: "Unauthorized" } };
  const bearer = bearerAuth<HttpEnv>({
    verifyToken: (token, c) => {
      const role = roleOf(token);
      if (role !== null) c.set("role", role);
      return role !== null;
    },
    noAuthenticationHeader: unauthorized,
    invalidToken: unauthorized,
    invalidAuthenticationHeader: {
      message: { error: "Bad Request: the Authorization header is not 'Bearer <token>'" },
    },
  });
  return async (c, next) => {
    if (PUBLIC_PATHS.has(c.req.path)) return await next();
    const queryToken = c.req.query("_token");
    if (queryToken !== undefined && c.req.header("authorization") === undefined) {
      const role = roleOf(queryToken);
      if (role === null) return jsonError(c, 401, "Unauthorized");
      c.set("role", role);
      return await next();
    }
    return await bearer(c, next);
  };
}
