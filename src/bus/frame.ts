/**
 * The cluster bus frame: encoding, incremental decoding with a bounded buffer, HMAC-SHA-256
 * authentication under the cluster secret, and the CBOR payload.
 *
 * Layout: `"HCBS"` (4 bytes), version 1 (1), type (1), body length (4, big-endian), then the body:
 * the CBOR payload, followed by a 32-byte HMAC-SHA-256 of header and payload under the cluster
 * secret when one is configured (the length then counts the tag too).
 *
 * @module
 */
import { decode } from "cborg";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";

/** The four bytes every frame starts with ("HCBS": HyperCache bus). */
export const FRAME_MAGIC: readonly number[] = [0x48, 0x43, 0x42, 0x53];
/** The frame format version this code reads and writes. */
export const FRAME_VERSION = 1;
/** Magic, version, type and length. */
export const FRAME_HEADER_BYTES = 10;
/** Size of the HMAC-SHA-256 tag that ends an authenticated frame's body. */
export const MAC_BYTES = 32;

/** Thrown for bytes that are not a frame of ours: the connection must be closed. */
export class FrameError extends Error {
  /** Always "FrameError". */
  override name = "FrameError";
  /** Which check failed: magic, version, announced size, a stream cut mid-frame, or CBOR. */
  readonly reason: "magic" | "version" | "oversized" | "truncated" | "cbor";

  /** `reason` names the check; `message` says what was found. */
  constructor(reason: FrameError["reason"], message: string) {
    super(message);
    this.reason = reason;
  }
}

/** Why bytes are not a frame of ours. */
export type FrameErrorReason = FrameError["reason"];

/** One frame read off a connection. `authentic` is false when its tag did not verify. */
export interface Frame {
  /** Frame type byte. */
  type: number;
  /** The CBOR payload (without the tag). */
  payload: Uint8Array;
  /** Whether the tag verified (always true without a secret). */
  authentic: boolean;
}

type KeyedHmac = ReturnType<typeof hmac.create>;

/**
 * HMACs keyed once per secret: the key's inner and outer pads are two SHA-256 blocks that every
 * frame would otherwise hash again. A secret must not be changed after its first use (the bus
 * keeps a copy of its own).
 */
const keyedBySecret = new WeakMap<Uint8Array, KeyedHmac>();

function frameTag(secret: Uint8Array, header: Uint8Array, payload: Uint8Array): Uint8Array {
  let keyed = keyedBySecret.get(secret);
  if (keyed === undefined) {
    keyed = hmac.create(sha256, secret);
    keyedBySecret.set(secret, keyed);
  }
  return keyed.clone().update(header).update(payload).digest();
}

function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** The size of the frame around a payload of `payloadBytes`. */
export function frameBytes(payloadBytes: number, authenticated: boolean): number {
  return FRAME_HEADER_BYTES + payloadBytes + (authenticated ? MAC_BYTES : 0);
}

/**
 * Builds one frame around `payload` (CBOR bytes), authenticated when `secret` is given.
 *
 * @example
 * ```ts
 * import { encodeFrame } from "./frame.ts";
 * const frame = encodeFrame(0x05, new Uint8Array([0xa0]));
 * frame.length; // 11: a 10-byte header and the payload
 * ```
 */
export function encodeFrame(type: number, payload: Uint8Array, secret?: Uint8Array): Uint8Array {
  if (!Number.isInteger(type) || type < 0 || type > 0xff) {
    throw new RangeError(`Cannot encode a frame: its type must be a byte: got ${type}`);
  }
  const macBytes = secret ? MAC_BYTES : 0;
  const frame = new Uint8Array(FRAME_HEADER_BYTES + payload.length + macBytes);
  frame.set(FRAME_MAGIC, 0);
  frame[4] = FRAME_VERSION;
  frame[5] = type;
  writeLength(frame, payload.length + macBytes);
  frame.set(payload, FRAME_HEADER_BYTES);
  if (secret) {
    frame.set(
      frameTag(secret, frame.subarray(0, FRAME_HEADER_BYTES), payload),
      FRAME_HEADER_BYTES + payload.length,
    );
  }
  return frame;
}

/**
 * Decodes a frame's CBOR payload; throws a {@linkcode FrameError} (reason "cbor") for bytes that
 * are not exactly one CBOR item.
 *
 * @example
 * ```ts
 * import { decodePayload } from "./frame.ts";
 * decodePayload(new Uint8Array([0x82, 0x01, 0x02])); // [1, 2]
 * ```
 */
export function decodePayload(payload: Uint8Array): unknown {
  try {
    return decode(payload);
  } catch (error) {
    throw new FrameError("cbor", `bad CBOR payload: ${(error as Error).message}`);
  }
}

/** Options of {@linkcode FrameDecoder}. */
export interface FrameDecoderOptions {
  /** The largest body (payload and tag) accepted; a header announcing more is an error. */
  maxFrameBytes: number;
  /** Cluster secret: when set, every frame's tag is verified. */
  secret?: Uint8Array;
}

const NO_BYTES = new Uint8Array(0);

/**
 * Splits a byte stream into frames. It checks each header as soon as its bytes arrive (magic,
 * version, announced length within `maxFrameBytes`), so garbage is refused at once and what it
 * buffers never exceeds one frame; a body is assembled from the chunks it arrived in, without
 * copying what came before again.
 *
 * @example
 * ```ts
 * import { encodeFrame, FrameDecoder } from "./frame.ts";
 * const decoder = new FrameDecoder({ maxFrameBytes: 1024 });
 * decoder.push(encodeFrame(7, new Uint8Array([1, 2])))[0].payload; // Uint8Array [1, 2]
 * ```
 */
export class FrameDecoder {
  private readonly maxFrameBytes: number;
  private readonly secret?: Uint8Array;
  /** The chunk `next` reads from, valid only until `next` returns undefined. */
  private input: Uint8Array = NO_BYTES;
  private at = 0;
  /** Copies of the bytes of an incomplete frame, `buffered` of them. */
  private parts: Uint8Array[] = [];
  private buffered = 0;
  /** Size of the frame being assembled, once its header is complete (0 before). */
  private wanted = 0;
  private failure: FrameError | undefined;

  /** `maxFrameBytes` bounds a frame's body; `secret` enables HMAC verification. */
  constructor(options: FrameDecoderOptions) {
    this.maxFrameBytes = options.maxFrameBytes;
    this.secret = options.secret;
  }

  /** Bytes held of a frame that has not fully arrived. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** Adds received bytes and returns the frames they complete; throws `FrameError` on garbage. */
  push(bytes: Uint8Array): Frame[] {
    this.feed(bytes);
    const frames: Frame[] = [];
    for (let frame = this.next(); frame; frame = this.next()) frames.push(frame);
    return frames;
  }

  /**
   * Hands over received bytes for {@linkcode FrameDecoder.next}; they need stay valid only until
   * `next` has returned undefined (what is incomplete then is copied).
   */
  feed(bytes: Uint8Array): void {
    if (this.at < this.input.length) {
      throw new RangeError("Cannot feed bytes: the previous ones were not all read with next()");
    }
    this.input = bytes;
    this.at = 0;
  }

  /** The next complete frame, or undefined when more bytes are needed; throws `FrameError`. */
  next(): Frame | undefined {
    if (this.failure) throw this.failure;
    try {
      return this.buffered > 0 ? this.assemble() : this.direct();
    } catch (error) {
      if (error instanceof FrameError) {
        this.failure = error;
        this.input = NO_BYTES;
        this.at = 0;
      }
      throw error;
    }
  }

  /**
   * Says that the stream has ended: throws `FrameError` (reason "truncated") when it stopped in
   * the middle of a frame.
   */
  finish(): void {
    if (this.failure) throw this.failure;
    if (this.buffered === 0) return;
    const held = this.buffered;
    this.parts = [];
    this.buffered = 0;
    this.wanted = 0;
    this.failure = new FrameError(
      "truncated",
      `the stream ended ${held} bytes into a frame${held >= FRAME_HEADER_BYTES ? "" : " header"}`,
    );
    throw this.failure;
  }

  /** Reads a frame straight from the input chunk when it holds it whole. */
  private direct(): Frame | undefined {
    const input = this.input;
    const start = this.at;
    const available = input.length - start;
    if (available === 0) return undefined;
    checkPrefix(input, start, Math.min(available, FRAME_HEADER_BYTES));
    if (available < FRAME_HEADER_BYTES) {
      this.take(available);
      return undefined;
    }
    const end = start + FRAME_HEADER_BYTES + this.bodyLength(input, start);
    if (end > input.length) {
      this.wanted = end - start;
      this.take(available);
      return undefined;
    }
    this.at = end;
    return this.open(input, start, end, false);
  }

  /** Continues the frame whose first bytes came in earlier chunks. */
  private assemble(): Frame | undefined {
    if (this.wanted === 0) {
      const missing = FRAME_HEADER_BYTES - this.buffered;
      const taken = this.take(missing);
      const header = this.join();
      checkPrefix(header, 0, header.length);
      if (taken < missing) return undefined;
      this.wanted = FRAME_HEADER_BYTES + this.bodyLength(header, 0);
    }
    this.take(this.wanted - this.buffered);
    if (this.buffered < this.wanted) return undefined;
    const bytes = this.join();
    this.parts = [];
    this.buffered = 0;
    this.wanted = 0;
    return this.open(bytes, 0, bytes.length, true);
  }

  /** Copies up to `count` input bytes into the parts; returns how many it took. */
  private take(count: number): number {
    const taken = Math.min(count, this.input.length - this.at);
    if (taken > 0) {
      this.parts.push(this.input.slice(this.at, this.at + taken));
      this.buffered += taken;
      this.at += taken;
    }
    return taken;
  }

  /** The parts as one array (kept as the only part). */
  private join(): Uint8Array {
    if (this.parts.length === 1) return this.parts[0];
    const joined = new Uint8Array(this.buffered);
    let at = 0;
    for (const part of this.parts) {
      joined.set(part, at);
      at += part.length;
    }
    this.parts = [joined];
    return joined;
  }

  /** The body length a header announces, checked against `maxFrameBytes`. */
  private bodyLength(bytes: Uint8Array, start: number): number {
    const length = readLength(bytes, start);
    if (length > this.maxFrameBytes) {
      throw new FrameError(
        "oversized",
        `frame of ${length} bytes exceeds the limit of ${this.maxFrameBytes}`,
      );
    }
    return length;
  }

  /** The frame in `bytes[start, end)`: its payload (copied unless `owned`) and whether its tag verifies. */
  private open(bytes: Uint8Array, start: number, end: number, owned: boolean): Frame {
    const type = bytes[start + 5];
    const bodyStart = start + FRAME_HEADER_BYTES;
    const payloadEnd = this.secret ? end - MAC_BYTES : end;
    if (payloadEnd < bodyStart) return { type, payload: NO_BYTES, authentic: false };
    const payload = owned
      ? bytes.subarray(bodyStart, payloadEnd)
      : bytes.slice(bodyStart, payloadEnd);
    if (!this.secret) return { type, payload, authentic: true };
    const expected = frameTag(this.secret, bytes.subarray(start, bodyStart), payload);
    return {
      type,
      payload,
      authentic: constantTimeEqual(expected, bytes.subarray(end - MAC_BYTES, end)),
    };
  }
}

/** The big-endian body length of the header at `start`. */
function readLength(bytes: Uint8Array, start: number): number {
  return bytes[start + 6] * 0x1000000 +
    (bytes[start + 7] << 16 | bytes[start + 8] << 8 | bytes[start + 9]);
}

function writeLength(frame: Uint8Array, length: number): void {
  frame[6] = length >>> 24;
  frame[7] = (length >>> 16) & 0xff;
  frame[8] = (length >>> 8) & 0xff;
  frame[9] = length & 0xff;
}

/** Checks the magic and version among the first `count` header bytes at `start`. */
function checkPrefix(bytes: Uint8Array, start: number, count: number): void {
  for (let i = 0; i < Math.min(count, FRAME_MAGIC.length); i++) {
    if (bytes[start + i] !== FRAME_MAGIC[i]) {
      throw new FrameError("magic", "bad magic: not a cluster bus frame");
    }
  }
  if (count > 4 && bytes[start + 4] !== FRAME_VERSION) {
    throw new FrameError("version", `unsupported frame version ${bytes[start + 4]}`);
  }
}
