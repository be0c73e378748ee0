/**
 * The RESP codec: an incremental request parser and a reply writer for RESP2 and RESP3.
 *
 * @example
 * ```ts
 * import { ReplyWriter, RespParser } from "@hypercache/hypercache/resp";
 * const parser = new RespParser({ maxBulkBytes: 1 << 20, maxMultibulkLength: 1024, maxQueryBufferBytes: 1 << 20 });
 * const out = new ReplyWriter();
 * parser.feed(new TextEncoder().encode("*1\r\n$4\r\nPING\r\n"), () => out.simple("PONG"));
 * new TextDecoder().decode(out.take()); // "+PONG\r\n"
 * ```
 *
 * @module
 */
export { type ParserLimits, ProtocolError, RespParser, splitInlineArgs } from "./parser.ts";
export { type ByteSource, formatDouble, ReplyWriter, type RespVersion } from "./writer.ts";
export {
  decodeReply,
  RespDecodeError,
  RespDecoder,
  type RespDecoderOptions,
  RespError,
  RespPush,
  type RespValue,
} from "./decoder.ts";
