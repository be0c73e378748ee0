/**
 * The slot map's byte format, for Raft entries and the cluster bus. Big endian throughout:
 *
 * ```
 * magic "HCSM" (4) | version (1) | flags (1) | replicationFactor (1) | tokensPerNode (2)
 * | epoch (8) | nodeCount (2)
 * | nodeCount x [ idLength (1) | id (UTF-8) | zoneLength (1, 0 = none) | zone | weight (f64) ]
 * | owners: 16384 node indexes, ceil(log2(nodeCount)) bits each, packed high bit first
 * | checksum (4): the first 4 bytes of SHA-256 of everything before it
 * ```
 */

import { sha256 } from "@noble/hashes/sha2.js";
import { assert } from "../_assert.ts";
import { MAX_NODE_COUNT, MAX_REPLICATION_FACTOR, SLOT_COUNT } from "./constants.ts";
import { checkTokensPerNode } from "./_checks.ts";
import { compareIds, normalizeMember, utf8 } from "./_members.ts";
import { SlotMapDecodeError } from "./errors.ts";
import type { RingMember } from "./types.ts";

const MAGIC = [0x48, 0x43, 0x53, 0x4d]; // "HCSM"
const FORMAT_VERSION = 1;
const FLAG_DISTINCT_ZONES = 1;
const HEADER_BYTES = 4 + 1 + 1 + 1 + 2 + 8 + 2;
const CHECKSUM_BYTES = 4;

/** The fields of a slot map that its bytes carry. */
export interface SlotMapFields {
  epoch: number;
  tokensPerNode: number;
  replicationFactor: number;
  distinctZones: boolean;
  nodes: readonly RingMember[];
  owners: Uint16Array;
}

/** Bits per owner index: enough for `nodeCount - 1`, at least one. */
function ownerBits(nodeCount: number): number {
  return Math.max(1, Math.ceil(Math.log2(nodeCount)));
}

export function encodeSlotMap(fields: SlotMapFields): Uint8Array {
  const { nodes, owners } = fields;
  const names = nodes.map((node) => [utf8(node.id), utf8(node.zone ?? "")]);
  const nodesBytes = names.reduce((sum, [id, zone]) => sum + 2 + id.length + zone.length + 8, 0);
  const bits = ownerBits(nodes.length);
  const ownersBytes = Math.ceil(SLOT_COUNT * bits / 8);
  const bytes = new Uint8Array(HEADER_BYTES + nodesBytes + ownersBytes + CHECKSUM_BYTES);
  const view = new DataView(bytes.buffer);
  bytes.set(MAGIC, 0);
  view.setUint8(4, FORMAT_VERSION);
  view.setUint8(5, fields.distinctZones ? FLAG_DISTINCT_ZONES : 0);
  view.setUint8(6, fields.replicationFactor);
  view.setUint16(7, fields.tokensPerNode);
  view.setUint32(9, Math.floor(fields.epoch / 2 ** 32));
  view.setUint32(13, fields.epoch % 2 ** 32);
  view.setUint16(17, nodes.length);
  let offset = HEADER_BYTES;
  for (let i = 0; i < nodes.length; i++) {
    const [id, zone] = names[i];
    bytes[offset++] = id.length;
    bytes.set(id, offset);
    offset += id.length;
    bytes[offset++] = zone.length;
    bytes.set(zone, offset);
    offset += zone.length;
    view.setFloat64(offset, nodes[i].weight);
    offset += 8;
  }
  let bitOffset = offset * 8;
  for (let slot = 0; slot < SLOT_COUNT; slot++) {
    const owner = owners[slot];
    assert(owner < nodes.length, `slot ${slot} has owner ${owner} of ${nodes.length} nodes`);
    for (let bit = bits - 1; bit >= 0; bit--, bitOffset++) {
      if ((owner >>> bit) & 1) bytes[bitOffset >>> 3] |= 0x80 >>> (bitOffset & 7);
    }
  }
  offset += ownersBytes;
  bytes.set(sha256(bytes.subarray(0, offset)).subarray(0, CHECKSUM_BYTES), offset);
  return bytes;
}

export function decodeSlotMap(bytes: Uint8Array): SlotMapFields {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(`Cannot decode slot map: expected a Uint8Array: current value is ${bytes}`);
  }
  const fail = (reason: string) => new SlotMapDecodeError(`Cannot decode slot map: ${reason}`);
  if (bytes.length < HEADER_BYTES + CHECKSUM_BYTES) {
    throw fail(`${bytes.length} bytes is shorter than the smallest map`);
  }
  for (let i = 0; i < MAGIC.length; i++) {
    if (bytes[i] !== MAGIC[i]) throw fail("the bytes do not start with the magic 'HCSM'");
  }
  const bodyLength = bytes.length - CHECKSUM_BYTES;
  const checksum = sha256(bytes.subarray(0, bodyLength));
  for (let i = 0; i < CHECKSUM_BYTES; i++) {
    if (checksum[i] !== bytes[bodyLength + i]) {
      throw fail("the checksum does not match (corrupted or truncated)");
    }
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint8(4);
  if (version !== FORMAT_VERSION) {
    throw fail(`format version ${version} is not supported (expected ${FORMAT_VERSION})`);
  }
  const flags = view.getUint8(5);
  if ((flags & ~FLAG_DISTINCT_ZONES) !== 0) throw fail(`unknown flags 0x${flags.toString(16)}`);
  const replicationFactor = view.getUint8(6);
  if (replicationFactor < 1 || replicationFactor > MAX_REPLICATION_FACTOR) {
    throw fail(
      `replication factor must be from 1 to ${MAX_REPLICATION_FACTOR}: value is ${replicationFactor}`,
    );
  }
  const tokensPerNode = view.getUint16(7);
  rethrowAs(fail, () => checkTokensPerNode(tokensPerNode, "decode slot map"));
  const epoch = view.getUint32(9) * 2 ** 32 + view.getUint32(13);
  if (!Number.isSafeInteger(epoch)) throw fail(`epoch ${epoch} is above 2^53 - 1`);
  const nodeCount = view.getUint16(17);
  if (nodeCount === 0 || nodeCount > MAX_NODE_COUNT) {
    throw fail(`node count must be from 1 to ${MAX_NODE_COUNT}: value is ${nodeCount}`);
  }

  const decoder = new TextDecoder("utf-8", { fatal: true });
  const nodes: RingMember[] = [];
  let offset = HEADER_BYTES;
  const need = (byteCount: number, what: string) => {
    if (offset + byteCount > bodyLength) {
      throw fail(`the bytes end inside ${what} (offset ${offset}, ${bodyLength} bytes)`);
    }
  };
  const readName = (what: string): string => {
    need(1, what);
    const length = bytes[offset++];
    need(length, what);
    const name = rethrowAs(fail, () => decoder.decode(bytes.subarray(offset, offset + length)));
    offset += length;
    return name;
  };
  for (let i = 0; i < nodeCount; i++) {
    const id = readName(`the id of node ${i}`);
    const zone = readName(`the zone of node ${i}`);
    need(8, `the weight of node ${i}`);
    const weight = view.getFloat64(offset);
    offset += 8;
    const node = { id, weight, ...(zone === "" ? {} : { zone }) };
    nodes.push(rethrowAs(fail, () => normalizeMember(node, "decode slot map")));
    if (i > 0 && compareIds(nodes[i - 1].id, id) >= 0) {
      throw fail(`node ids must be sorted and unique: '${id}' follows '${nodes[i - 1].id}'`);
    }
  }

  const bits = ownerBits(nodeCount);
  const ownersBytes = Math.ceil(SLOT_COUNT * bits / 8);
  if (offset + ownersBytes !== bodyLength) {
    throw fail(
      `expected ${ownersBytes} bytes of slot owners after the nodes, found ${bodyLength - offset}`,
    );
  }
  const owners = new Uint16Array(SLOT_COUNT);
  let bitOffset = offset * 8;
  for (let slot = 0; slot < SLOT_COUNT; slot++) {
    let owner = 0;
    for (let bit = 0; bit < bits; bit++, bitOffset++) {
      owner = (owner << 1) | ((bytes[bitOffset >>> 3] >>> (7 - (bitOffset & 7))) & 1);
    }
    if (owner >= nodeCount) throw fail(`slot ${slot} names node ${owner} of ${nodeCount}`);
    owners[slot] = owner;
  }
  return {
    epoch,
    tokensPerNode,
    replicationFactor,
    distinctZones: (flags & FLAG_DISTINCT_ZONES) !== 0,
    nodes,
    owners,
  };
}

/** Runs `f`, turning any error it throws into a decode error with the same message. */
function rethrowAs<T>(fail: (reason: string) => Error, f: () => T): T {
  try {
    return f();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw message.startsWith("Cannot ") ? new SlotMapDecodeError(message) : fail(message);
  }
}
