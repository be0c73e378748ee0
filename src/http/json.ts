/**
 * Decoded RESP replies as JSON, the way Upstash's REST API writes them: strings as UTF-8 text
 * (or base64 with `Upstash-Encoding: base64`), integers as numbers, nulls as null, arrays as
 * arrays (RESP2 shapes: maps are flat arrays), an error as `{"error": "..."}`.
 *
 * @module
 */
import { RespError, RespPush, type RespValue } from "../resp/decoder.ts";
import { bytesToBase64, bytesToUtf8 } from "./_text.ts";
import type { Reply } from "./executor.ts";

/** JSON a reply turns into. */
export type JsonValue = string | number | boolean | null | JsonValue[];

/** `{"result": ...}` or `{"error": "..."}` for one reply. */
export type ReplyJson = { result: JsonValue } | { error: string };

/** The JSON of one value; `base64` encodes strings. */
export function toJson(value: RespValue, base64: boolean): JsonValue {
  if (typeof value === "string") return base64 ? bytesToBase64(value) : bytesToUtf8(value);
  if (typeof value === "number") return Number.isFinite(value) ? value : String(value);
  if (typeof value === "bigint") return Number(value);
  if (value === null || typeof value === "boolean") return value;
  if (Array.isArray(value)) return value.map((item) => toJson(item, base64));
  if (value instanceof RespError) return bytesToUtf8(value.message);
  if (value instanceof RespPush) return value.items.map((item) => toJson(item, base64));
  if (value instanceof Set) return [...value].map((item) => toJson(item, base64));
  const flat: JsonValue[] = [];
  for (const [key, item] of value) flat.push(toJson(key, base64), toJson(item, base64));
  return flat;
}

/** The Upstash JSON of a reply: an error, or the result (`OK` is never base64-encoded). */
export function replyJson(reply: Reply, base64: boolean): ReplyJson {
  if (reply.value instanceof RespError) return { error: bytesToUtf8(reply.value.message) };
  if (reply.ok) return { result: "OK" };
  return { result: toJson(reply.value, base64) };
}
