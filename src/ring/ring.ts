/**
 * Consistent hash ring: each node owns virtual-node tokens on a 32-bit circle, and a slot belongs
 * to the first token at or after its position, clockwise.
 *
 * @module
 */

import { sha256 } from "@noble/hashes/sha2.js";
import { assert } from "../_assert.ts";
import { DEFAULT_TOKENS_PER_NODE, MAX_TOKEN_COUNT, SLOT_COUNT } from "./constants.ts";
import { keySlot } from "./key_slot.ts";
import { checkSlot, checkTokensPerNode } from "./_checks.ts";
import { normalizeMember, normalizeMembers, utf8, zoneIndexes } from "./_members.ts";
import type { RingMember, RingNode } from "./types.ts";

/** Slots are evenly spaced on the 2^32 circle: slot s starts at s * 2^18. */
const SLOT_SPACING = 2 ** 32 / SLOT_COUNT;
/** One SHA-256 digest yields eight 32-bit token positions. */
const TOKENS_PER_DIGEST = 8;
/** Token sort key = position * 2^16 + node index: positions tie-break by id, exactly in a double. */
const NODE_INDEX_RADIX = 65536;

/**
 * Options of {@linkcode HashRing}.
 *
 * @example
 * ```ts
 * import { HashRing, type HashRingOptions } from "@hypercache/hypercache/ring";
 * const options: HashRingOptions = { tokensPerNode: 128 };
 * console.log(new HashRing([{ id: "a" }], options).tokenCount); // 128
 * ```
 */
export interface HashRingOptions {
  /**
   * Virtual-node tokens of a node of weight 1; a node of weight w gets round(w x this), at
   * least 1.
   * @default {256}
   */
  readonly tokensPerNode?: number;
}

/**
 * Options of {@linkcode HashRing.preferenceList}.
 *
 * @example
 * ```ts
 * import { HashRing, type PreferenceOptions } from "@hypercache/hypercache/ring";
 * const ring = new HashRing([{ id: "a", zone: "z1" }, { id: "b", zone: "z1" }, { id: "c", zone: "z2" }]);
 * const options: PreferenceOptions = { distinctZones: true };
 * console.log(ring.preferenceList(0, 2, options).length); // 2
 * ```
 */
export interface PreferenceOptions {
  /**
   * Pick nodes of distinct zones first; once every zone is used, the nodes that were skipped
   * follow in clockwise order. No effect when no node has a zone.
   * @default {true}
   */
  readonly distinctZones?: boolean;
  /** Id of a node to put first (a slot's owner), the rest following clockwise from the slot. */
  readonly first?: string;
}

/**
 * A consistent hash ring over the 16384 hash slots. Immutable: {@linkcode HashRing.withNode} and
 * {@linkcode HashRing.withoutNode} return new rings.
 *
 * Node `i` owns `round(weight x tokensPerNode)` tokens; token `k` is the 32-bit word `k mod 8`
 * of `SHA-256(len(id) || utf8(id) || uint32be(floor(k / 8)))`. Tokens at the same position are
 * ordered by node id. Everything is a pure function of the membership (ids, weights, zones), so
 * every process that knows the same nodes computes the same ring, whatever order it learnt them
 * in.
 *
 * @example
 * ```ts
 * import { HashRing } from "@hypercache/hypercache/ring";
 * const ring = new HashRing([{ id: "a" }, { id: "b", weight: 2 }, { id: "c" }]);
 * console.log(ring.ownerOf("user:42")); // one of "a", "b", "c"
 * console.log(ring.preferenceList("user:42", 2)); // two distinct ids, owner first
 * ```
 */
export class HashRing {
  /** The nodes, sorted by id. */
  readonly nodes: readonly RingMember[];
  /** Tokens of a node of weight 1. */
  readonly tokensPerNode: number;
  /** Tokens of all nodes together. */
  readonly tokenCount: number;

  readonly #ids: readonly string[];
  readonly #indexById: Map<string, number>;
  /** Sorted token positions on the 2^32 circle. */
  readonly #positions: Uint32Array;
  /** Node index of each token. */
  readonly #tokenOwners: Uint16Array;
  /** Index of the first token at or after each slot's position. */
  readonly #slotTokenIndexes: Uint32Array;
  readonly #zoneOf: Uint16Array;
  readonly #zoneCount: number;
  /** Per-call marks for the preference walk: a node (zone) is taken when its mark equals #stamp. */
  readonly #nodeMarks: Uint32Array;
  readonly #zoneMarks: Uint32Array;
  #stamp = 0;

  /**
   * Builds the ring of the given nodes.
   *
   * @param nodes The nodes, in any order; ids must be unique.
   * @param options See {@linkcode HashRingOptions}.
   * @throws {TypeError} When a node id or zone is not a non-empty well-formed string.
   * @throws {RangeError} When there are no nodes, ids repeat, or a weight or token count is out of
   * range.
   *
   * @example
   * ```ts
   * import { HashRing } from "@hypercache/hypercache/ring";
   * const ring = new HashRing([{ id: "a" }, { id: "b" }], { tokensPerNode: 64 });
   * console.log(ring.tokenCount); // 128
   * ```
   */
  constructor(nodes: readonly RingNode[], options: HashRingOptions = {}) {
    const action = "build hash ring";
    const members = normalizeMembers(nodes, action);
    const tokensPerNode = options.tokensPerNode ?? DEFAULT_TOKENS_PER_NODE;
    checkTokensPerNode(tokensPerNode, action);
    const tokenCounts = members.map((m) => Math.max(1, Math.round(m.weight * tokensPerNode)));
    const tokenCount = tokenCounts.reduce((sum, count) => sum + count, 0);
    if (tokenCount > MAX_TOKEN_COUNT) {
      throw new RangeError(
        `Cannot ${action}: the ring may hold at most ${MAX_TOKEN_COUNT} tokens (nodes x weight x ` +
          `tokensPerNode): current count is ${tokenCount}`,
      );
    }
    this.nodes = Object.freeze(members);
    this.tokensPerNode = tokensPerNode;
    this.tokenCount = tokenCount;
    this.#ids = Object.freeze(members.map((m) => m.id));
    this.#indexById = new Map(this.#ids.map((id, index) => [id, index]));
    [this.#positions, this.#tokenOwners] = buildTokens(members, tokenCounts, tokenCount);
    this.#slotTokenIndexes = new Uint32Array(SLOT_COUNT);
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      this.#slotTokenIndexes[slot] = this.#tokenIndexAt(slot * SLOT_SPACING);
    }
    const { zoneOf, zoneCount } = zoneIndexes(members);
    this.#zoneOf = zoneOf;
    this.#zoneCount = zoneCount;
    this.#nodeMarks = new Uint32Array(members.length);
    this.#zoneMarks = new Uint32Array(zoneCount);
  }

  /**
   * The index of a node in {@linkcode HashRing.nodes}, or -1 when it is not in the ring.
   *
   * @example
   * ```ts
   * import { HashRing } from "@hypercache/hypercache/ring";
   * const ring = new HashRing([{ id: "b" }, { id: "a" }]);
   * console.log(ring.nodeIndexOf("b")); // 1
   * console.log(ring.nodeIndexOf("z")); // -1
   * ```
   */
  nodeIndexOf(id: string): number {
    return this.#indexById.get(id) ?? -1;
  }

  /**
   * A new ring with one more node (same tokens per node).
   *
   * @throws {RangeError} When a node with that id is already in the ring.
   *
   * @example
   * ```ts
   * import { HashRing } from "@hypercache/hypercache/ring";
   * const ring = new HashRing([{ id: "a" }]).withNode({ id: "b" });
   * console.log(ring.nodes.map((n) => n.id)); // ["a", "b"]
   * ```
   */
  withNode(node: RingNode): HashRing {
    const member = normalizeMember(node, "add node to hash ring");
    if (this.#indexById.has(member.id)) {
      throw new RangeError(
        `Cannot add node to hash ring: node '${member.id}' is already in the ring`,
      );
    }
    return new HashRing([...this.nodes, member], { tokensPerNode: this.tokensPerNode });
  }

  /**
   * A new ring without the given node.
   *
   * @throws {RangeError} When the node is not in the ring, or is the last one.
   *
   * @example
   * ```ts
   * import { HashRing } from "@hypercache/hypercache/ring";
   * const ring = new HashRing([{ id: "a" }, { id: "b" }]).withoutNode("a");
   * console.log(ring.nodes.map((n) => n.id)); // ["b"]
   * ```
   */
  withoutNode(id: string): HashRing {
    if (!this.#indexById.has(id)) {
      throw new RangeError(`Cannot remove node from hash ring: node '${id}' is not in the ring`);
    }
    const rest = this.nodes.filter((member) => member.id !== id);
    return new HashRing(rest, { tokensPerNode: this.tokensPerNode });
  }

  /**
   * The node owning a point of the 32-bit circle: the first token at or after it, clockwise
   * (binary search over the sorted tokens).
   *
   * @param point An integer in [0, 2^32).
   * @throws {RangeError} When the point is out of range.
   *
   * @example
   * ```ts
   * import { HashRing } from "@hypercache/hypercache/ring";
   * const ring = new HashRing([{ id: "a" }, { id: "b" }]);
   * console.log(ring.ownerOfPoint(0xdeadbeef)); // "a" or "b"
   * ```
   */
  ownerOfPoint(point: number): string {
    if (!(Number.isInteger(point) && point >= 0 && point < 2 ** 32)) {
      throw new RangeError(
        `Cannot find owner of ring point: the point must be an integer in [0, 2^32): ` +
          `current value is ${point}`,
      );
    }
    return this.#ids[this.#tokenOwners[this.#tokenIndexAt(point)]];
  }

  /**
   * The ring owner of a slot, or of a key's slot.
   *
   * @param slotOrKey A slot number (0-16383), or a key (`Uint8Array` or latin1 string).
   * @throws {RangeError} When a slot number is out of range.
   *
   * @example
   * ```ts
   * import { HashRing } from "@hypercache/hypercache/ring";
   * const ring = new HashRing([{ id: "a" }, { id: "b" }]);
   * console.log(ring.ownerOf(0) === ring.preferenceList(0, 1)[0]); // true
   * console.log(ring.ownerOf("{user1}.a") === ring.ownerOf("{user1}.b")); // true
   * ```
   */
  ownerOf(slotOrKey: number | string | Uint8Array): string {
    const slot = toSlot(slotOrKey, "find ring owner");
    return this.#ids[this.#tokenOwners[this.#slotTokenIndexes[slot]]];
  }

  /**
   * The index in {@linkcode HashRing.nodes} of a slot's ring owner.
   *
   * @throws {RangeError} When the slot is out of range.
   *
   * @example
   * ```ts
   * import { HashRing } from "@hypercache/hypercache/ring";
   * const ring = new HashRing([{ id: "a" }, { id: "b" }]);
   * console.log(ring.nodes[ring.ownerIndexOfSlot(7)].id === ring.ownerOf(7)); // true
   * ```
   */
  ownerIndexOfSlot(slot: number): number {
    checkSlot(slot, "find ring owner");
    return this.#tokenOwners[this.#slotTokenIndexes[slot]];
  }

  /**
   * The first `count` distinct nodes clockwise from a slot (or a key's slot): the slot's owner
   * first, then the nodes that should hold its replicas. With `distinctZones`, nodes of zones not
   * yet used come first; when fewer zones than `count` exist, the skipped nodes follow in
   * clockwise order. Never repeats a node; returns every node when `count` exceeds their number.
   *
   * @param slotOrKey A slot number (0-16383), or a key (`Uint8Array` or latin1 string).
   * @param count How many nodes, a non-negative integer.
   * @param options See {@linkcode PreferenceOptions}.
   * @returns Node ids.
   * @throws {RangeError} When the slot or count is out of range, or `first` is not in the ring.
   *
   * @example
   * ```ts
   * import { HashRing } from "@hypercache/hypercache/ring";
   * const ring = new HashRing([
   *   { id: "a", zone: "z1" }, { id: "b", zone: "z1" }, { id: "c", zone: "z2" },
   * ]);
   * const [first, second] = ring.preferenceList("user:42", 2);
   * console.log(ring.nodes.find((n) => n.id === first)?.zone !==
   *   ring.nodes.find((n) => n.id === second)?.zone); // true
   * ```
   */
  preferenceList(
    slotOrKey: number | string | Uint8Array,
    count: number,
    options: PreferenceOptions = {},
  ): string[] {
    const slot = toSlot(slotOrKey, "compute preference list");
    return this.preferenceIndexes(slot, count, options).map((index) => this.#ids[index]);
  }

  /**
   * Like {@linkcode HashRing.preferenceList} for a slot, as indexes into
   * {@linkcode HashRing.nodes}.
   *
   * @example
   * ```ts
   * import { HashRing } from "@hypercache/hypercache/ring";
   * const ring = new HashRing([{ id: "a" }, { id: "b" }, { id: "c" }]);
   * console.log(ring.preferenceIndexes(42, 3).sort()); // [0, 1, 2]
   * ```
   */
  preferenceIndexes(slot: number, count: number, options: PreferenceOptions = {}): number[] {
    const action = "compute preference list";
    checkSlot(slot, action);
    if (!(Number.isInteger(count) && count >= 0)) {
      throw new RangeError(
        `Cannot ${action}: 'count' must be a non-negative integer: current value is ${count}`,
      );
    }
    let firstIndex = -1;
    if (options.first !== undefined) {
      firstIndex = this.nodeIndexOf(options.first);
      if (firstIndex === -1) {
        throw new RangeError(
          `Cannot ${action}: 'first' must be a node of the ring: node '${options.first}' is not`,
        );
      }
    }
    const distinctZones = (options.distinctZones ?? true) && this.#zoneCount < this.nodes.length;
    return this.#walk(slot, Math.min(count, this.nodes.length), distinctZones, firstIndex);
  }

  /** Binary search: the first token at or after `point`, wrapping to token 0 past the last. */
  #tokenIndexAt(point: number): number {
    const positions = this.#positions;
    let low = 0;
    let high = positions.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (positions[mid] < point) low = mid + 1;
      else high = mid;
    }
    return low === positions.length ? 0 : low;
  }

  #nextStamp(): number {
    if (this.#stamp === 0xffffffff) {
      this.#stamp = 0;
      this.#nodeMarks.fill(0);
      this.#zoneMarks.fill(0);
    }
    return ++this.#stamp;
  }

  /** Walks the tokens clockwise from a slot, collecting `count` distinct nodes. */
  #walk(slot: number, count: number, distinctZones: boolean, firstIndex: number): number[] {
    const result: number[] = [];
    if (count === 0) return result;
    const stamp = this.#nextStamp();
    const nodeMarks = this.#nodeMarks;
    const zoneMarks = this.#zoneMarks;
    const zoneOf = this.#zoneOf;
    let zonesUsedCount = 0;
    if (firstIndex !== -1) {
      result.push(firstIndex);
      nodeMarks[firstIndex] = stamp;
      zoneMarks[zoneOf[firstIndex]] = stamp;
      zonesUsedCount = 1;
    }
    const owners = this.#tokenOwners;
    const tokenCount = owners.length;
    let tokenIndex = this.#slotTokenIndexes[slot];
    let stepCount = 0;
    // Zone pass: stops once every zone is used, as no later node could then be taken for its zone.
    const skipped: number[] = [];
    if (distinctZones) {
      for (
        ;
        stepCount < tokenCount && result.length < count && zonesUsedCount < this.#zoneCount;
        stepCount++
      ) {
        const node = owners[tokenIndex];
        tokenIndex = tokenIndex + 1 === tokenCount ? 0 : tokenIndex + 1;
        if (nodeMarks[node] === stamp) continue;
        nodeMarks[node] = stamp;
        if (zoneMarks[zoneOf[node]] === stamp) {
          skipped.push(node);
          continue;
        }
        zoneMarks[zoneOf[node]] = stamp;
        zonesUsedCount++;
        result.push(node);
      }
      for (let i = 0; i < skipped.length && result.length < count; i++) result.push(skipped[i]);
    }
    for (; stepCount < tokenCount && result.length < count; stepCount++) {
      const node = owners[tokenIndex];
      tokenIndex = tokenIndex + 1 === tokenCount ? 0 : tokenIndex + 1;
      if (nodeMarks[node] === stamp) continue;
      nodeMarks[node] = stamp;
      result.push(node);
    }
    assert(result.length === count, `preference walk found ${result.length} of ${count} nodes`);
    return result;
  }
}

/** Token positions (sorted) and their owners' indexes. */
function buildTokens(
  members: readonly RingMember[],
  tokenCounts: readonly number[],
  tokenCount: number,
): [Uint32Array, Uint16Array] {
  const keys = new Float64Array(tokenCount);
  let keyIndex = 0;
  for (let nodeIndex = 0; nodeIndex < members.length; nodeIndex++) {
    const idBytes = utf8(members[nodeIndex].id);
    const input = new Uint8Array(1 + idBytes.length + 4);
    input[0] = idBytes.length;
    input.set(idBytes, 1);
    const inputView = new DataView(input.buffer);
    const nodeTokenCount = tokenCounts[nodeIndex];
    for (let block = 0; block * TOKENS_PER_DIGEST < nodeTokenCount; block++) {
      inputView.setUint32(1 + idBytes.length, block);
      const digest = sha256(input);
      const digestView = new DataView(digest.buffer, digest.byteOffset, digest.byteLength);
      const wordCount = Math.min(TOKENS_PER_DIGEST, nodeTokenCount - block * TOKENS_PER_DIGEST);
      for (let word = 0; word < wordCount; word++) {
        keys[keyIndex++] = digestView.getUint32(word * 4) * NODE_INDEX_RADIX + nodeIndex;
      }
    }
  }
  assert(keyIndex === tokenCount, `built ${keyIndex} tokens, expected ${tokenCount}`);
  keys.sort();
  const positions = new Uint32Array(tokenCount);
  const owners = new Uint16Array(tokenCount);
  for (let i = 0; i < tokenCount; i++) {
    const nodeIndex = keys[i] % NODE_INDEX_RADIX;
    positions[i] = (keys[i] - nodeIndex) / NODE_INDEX_RADIX;
    owners[i] = nodeIndex;
  }
  return [positions, owners];
}

function toSlot(slotOrKey: number | string | Uint8Array, action: string): number {
  if (typeof slotOrKey === "number") {
    checkSlot(slotOrKey, action);
    return slotOrKey;
  }
  return keySlot(slotOrKey);
}
