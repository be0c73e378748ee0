/**
 * What every HTTP request is checked for before it is routed, so that each of these answers is a
 * JSON error of ours instead of the runtime's bare one or a literal reading of a bad request:
 *
 * - a request target longer than {@link MAX_URL_BYTES}: 414;
 * - header fields over {@link MAX_HEADER_BYTES} in all, or more than {@link MAX_HEADER_COUNT} of
 *   them: 431;
 * - a method HTTP does not define for this API (not in {@link KNOWN_METHODS}): 501, as RFC 9110
 *   section 9.1 asks for a method the server does not recognise; a known method that a path does
 *   not take stays a 405 with `Allow` (the method-not-allowed middleware);
 * - a malformed percent-encoding anywhere in the path or the query (`%ZZ`, or escapes that are
 *   not UTF-8): 400, on every route, so no route takes `%ZZ` as a literal key or channel.
 *
 * The limits sit below the runtimes' own, which answer before any of our code runs, without a
 * body, and cannot be set from the serve options of Deno or Bun (measured on Deno 2.9.6 and
 * Bun 1.4.5):
 * - Deno (hyper): a request target or a header line of 64 KiB or more, or more than about 125
 *   header fields, gets a bare `400 Bad Request`;
 * - Bun (uWebSockets): a request head (request line plus header fields) of 16 KiB or more, or
 *   more than about 197 header fields, gets a bare `431 Request Header Fields Too Large`
 *   (`bun --max-http-header-size` raises the 16 KiB; it is a process flag, not a serve option);
 *   and a method outside Bun's own list (`FOO`; `PROPFIND` is in it) is dropped: the connection
 *   is closed without a reply, so on Bun only the methods of that list get our 501.
 * So a target of 8 KiB plus 7 KiB of header fields still fits in Bun's 16 KiB head, and either
 * limit crossed gets our JSON reply on both runtimes; past the runtimes' limits the runtime's own
 * reply stands.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";

import { MAX_HEADER_BYTES, MAX_HEADER_COUNT, MAX_JSON_DEPTH, MAX_URL_BYTES } from "../constants.ts";

export { MAX_HEADER_BYTES, MAX_HEADER_COUNT, MAX_JSON_DEPTH, MAX_URL_BYTES };

/**
 * The methods a path may answer 405 for: RFC 9110's and PATCH (RFC 5789). Any other method is
 * one this API does not recognise (501).
 */
export const KNOWN_METHODS: ReadonlySet<string> = new Set([
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "DELETE",
  "CONNECT",
  "OPTIONS",
  "TRACE",
  "PATCH",
]);

/** The error of a request target with a malformed percent-encoding (also the path-style one). */
export const MALFORMED_ENCODING = "ERR the path or query has a malformed percent-encoding";

/** The middleware that checks every request as the module describes; install it first. */
export function requestLimits(): MiddlewareHandler {
  return async (c, next) => {
    const url = c.req.url;
    const targetStart = url.indexOf("/", url.indexOf(":") + 3);
    const targetBytes = url.length - targetStart;
    if (targetBytes > MAX_URL_BYTES) {
      return error(
        c,
        414,
        `URI Too Long: the request target is ${targetBytes} bytes, over the limit of ${MAX_URL_BYTES}`,
      );
    }
    let headerBytes = 0;
    let headerCount = 0;
    c.req.raw.headers.forEach((value, name) => {
      headerBytes += name.length + value.length + 4;
      headerCount++;
    });
    if (headerCount > MAX_HEADER_COUNT) {
      return error(
        c,
        431,
        `Request Header Fields Too Large: ${headerCount} header fields, over the limit of ${MAX_HEADER_COUNT}`,
      );
    }
    if (headerBytes > MAX_HEADER_BYTES) {
      return error(
        c,
        431,
        `Request Header Fields Too Large: the header fields are ${headerBytes} bytes, over the limit of ${MAX_HEADER_BYTES}`,
      );
    }
    const method = c.req.method;
    if (!KNOWN_METHODS.has(method)) {
      return error(c, 501, `Not Implemented: the method ${method} is unknown to this server`);
    }
    if (url.indexOf("%", targetStart) !== -1 && !wellEncoded(url.slice(targetStart))) {
      return error(c, 400, MALFORMED_ENCODING);
    }
    await next();
  };
}

/** Whether JSON text nests arrays and objects deeper than `limit`; strings are skipped. */
export function jsonDeeperThan(text: string, limit: number): boolean {
  // Each level takes at least one character: short text cannot be too deep.
  if (text.length <= limit) return false;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      // To the closing quote: one preceded by an even number of backslashes.
      for (;;) {
        i = text.indexOf('"', i + 1);
        if (i === -1) return false; // Unterminated: JSON.parse says so.
        let slashes = 0;
        while (text.charCodeAt(i - 1 - slashes) === BACKSLASH) slashes++;
        if (slashes % 2 === 0) break;
      }
    } else if (c === OPEN_BRACKET || c === OPEN_BRACE) {
      if (++depth > limit) return true;
    } else if (c === CLOSE_BRACKET || c === CLOSE_BRACE) {
      depth--;
    }
  }
  return false;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

function error(c: Context, status: ContentfulStatusCode, message: string): Response {
  // `jsonError`'s shape; not imported, as `_env.ts` imports this module.
  return c.json({ error: message }, status);
}

/**
 * Whether every percent-escape of a request target is well formed. An escape never spans a `/`,
 * `?`, `&` or `=`, so the target decodes as a whole exactly when each of its parts does.
 */
function wellEncoded(target: string): boolean {
  try {
    decodeURIComponent(target);
    return true;
  } catch {
    return false;
  }
}
