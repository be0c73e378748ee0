import { MAX_NAME_BYTES, MAX_NODE_COUNT, MAX_WEIGHT } from "./constants.ts";
import type { RingMember, RingNode } from "./types.ts";

const encoder = new TextEncoder();

/** UTF-8 length of a well-formed string, without allocating. */
export function utf8ByteLength(text: string): number {
  let length = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) length += 1;
    else if (code < 0x800) length += 2;
    else if (code >= 0xd800 && code <= 0xdbff) {
      length += 4;
      i++;
    } else length += 3;
  }
  return length;
}

/** UTF-8 bytes of a node id or zone name. */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Orders ids by UTF-16 code units: the same on every runtime and locale. */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Validates nodes and returns them sorted by id, so that everything derived from them is a pure
 * function of the membership, never of the order the nodes were given in.
 */
export function normalizeMembers(nodes: readonly RingNode[], action: string): RingMember[] {
  if (!Array.isArray(nodes)) {
    throw new TypeError(`Cannot ${action}: 'nodes' must be an array: current value is ${nodes}`);
  }
  if (nodes.length === 0) {
    throw new RangeError(`Cannot ${action}: at least one node is needed: current count is 0`);
  }
  if (nodes.length > MAX_NODE_COUNT) {
    throw new RangeError(
      `Cannot ${action}: at most ${MAX_NODE_COUNT} nodes are allowed: current count is ${nodes.length}`,
    );
  }
  const members = nodes.map((node) => normalizeMember(node, action));
  members.sort((a, b) => compareIds(a.id, b.id));
  for (let i = 1; i < members.length; i++) {
    if (members[i].id === members[i - 1].id) {
      throw new RangeError(`Cannot ${action}: node ids must be unique: '${members[i].id}' repeats`);
    }
  }
  return members;
}

/** Validates one node and fills in its default weight. */
export function normalizeMember(node: RingNode, action: string): RingMember {
  if (node === null || typeof node !== "object") {
    throw new TypeError(`Cannot ${action}: a node must be an object: current value is ${node}`);
  }
  const { id, weight = 1, zone } = node;
  checkName(id, "id", action);
  if (typeof weight !== "number" || !(weight > 0 && weight <= MAX_WEIGHT)) {
    throw new RangeError(
      `Cannot ${action}: the weight of node '${id}' must be a number above 0 and at most ` +
        `${MAX_WEIGHT}: current value is ${weight}`,
    );
  }
  if (zone === undefined) return Object.freeze({ id, weight });
  checkName(zone, `zone of node '${id}'`, action);
  return Object.freeze({ id, weight, zone });
}

function checkName(name: unknown, what: string, action: string): asserts name is string {
  if (typeof name !== "string" || name.length === 0) {
    throw new TypeError(
      `Cannot ${action}: the ${what} must be a non-empty string: current value is ${
        JSON.stringify(name)
      }`,
    );
  }
  if (!name.isWellFormed()) {
    throw new TypeError(
      `Cannot ${action}: the ${what} must be well-formed Unicode (no lone surrogates): ` +
        `current value is ${JSON.stringify(name)}`,
    );
  }
  const byteLength = utf8ByteLength(name);
  if (byteLength > MAX_NAME_BYTES) {
    throw new RangeError(
      `Cannot ${action}: the ${what} must be at most ${MAX_NAME_BYTES} UTF-8 bytes: ` +
        `current length is ${byteLength} bytes`,
    );
  }
}

/** Zone numbers per member; a node without a zone is a zone of its own. */
export function zoneIndexes(
  members: readonly RingMember[],
): { zoneOf: Uint16Array; zoneCount: number } {
  const zoneOf = new Uint16Array(members.length);
  const byName = new Map<string, number>();
  let zoneCount = 0;
  for (let i = 0; i < members.length; i++) {
    const zone = members[i].zone;
    if (zone === undefined) {
      zoneOf[i] = zoneCount++;
      continue;
    }
    let index = byName.get(zone);
    if (index === undefined) {
      index = zoneCount++;
      byName.set(zone, index);
    }
    zoneOf[i] = index;
  }
  return { zoneOf, zoneCount };
}
