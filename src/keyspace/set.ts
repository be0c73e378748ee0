/**
 * The set value: members in a `DenseMap`, with O(1) random members (SPOP, SRANDMEMBER) and a
 * cursor that survives changes (SSCAN).
 *
 * @module
 */
import { DenseMap } from "./_dense.ts";
import { encodingLimits } from "./encoding.ts";
import { type Container, ELEMENT_OVERHEAD_BYTES, registerContainer } from "./values.ts";

const INT64 = /^(0|-?[1-9][0-9]{0,18})$/;

function isInt64(text: string): boolean {
  if (!INT64.test(text)) return false;
  const value = BigInt(text);
  return value >= -(2n ** 63n) && value < 2n ** 63n;
}

export class SetValue implements Container {
  readonly type = "set";
  sizeBytes = 0;
  /** See {@linkcode Container.accountedBytes}. */
  accountedBytes = 0;
  readonly members: DenseMap<true> = new DenseMap();
  /** Redis keeps an intset while every member is an integer, and never converts back. */
  private intset = true;

  get length(): number {
    return this.members.size;
  }

  has(member: string): boolean {
    return this.members.has(member);
  }

  /** Adds a member; true when it is new. */
  add(member: string): boolean {
    if (this.members.set(member, true) !== undefined) return false;
    this.sizeBytes += member.length + ELEMENT_OVERHEAD_BYTES;
    if (
      this.intset && (!isInt64(member) || this.members.size > encodingLimits.setMaxIntsetEntries)
    ) {
      this.intset = false;
    }
    return true;
  }

  /** Removes a member; true when it existed. */
  delete(member: string): boolean {
    if (this.members.delete(member) === undefined) return false;
    this.sizeBytes -= member.length + ELEMENT_OVERHEAD_BYTES;
    return true;
  }

  /** Every member: in numeric order for an intset (as Redis replies), else storage order. */
  values(): string[] {
    const members = this.members.keys.slice();
    if (this.intset) members.sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
    return members;
  }

  clone(): SetValue {
    const copy = new SetValue();
    for (const member of this.members.keys) copy.add(member);
    copy.intset = this.intset;
    return copy;
  }

  dump(): string[] {
    return this.values();
  }

  encoding(): string {
    return this.intset ? "intset" : "hashtable";
  }
}

registerContainer("set", (elements) => {
  const set = new SetValue();
  for (const member of elements) set.add(member);
  return set;
});
