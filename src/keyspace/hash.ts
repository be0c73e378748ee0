/**
 * The hash value: fields to values in a `DenseMap`, with O(1) random fields (HRANDFIELD) and a
 * cursor that survives changes (HSCAN).
 *
 * @module
 */
import { DenseMap } from "./_dense.ts";
import { encodingLimits } from "./encoding.ts";
import { type Container, ELEMENT_OVERHEAD_BYTES, registerContainer } from "./values.ts";

export class HashValue implements Container {
  readonly type = "hash";
  sizeBytes = 0;
  /** See {@linkcode Container.accountedBytes}. */
  accountedBytes = 0;
  readonly fields: DenseMap<string> = new DenseMap();
  /** Redis converts a hash to a hashtable once and never back. */
  private large = false;

  get length(): number {
    return this.fields.size;
  }

  get(field: string): string | undefined {
    return this.fields.get(field);
  }

  /** Sets a field; true when it is new. */
  set(field: string, value: string): boolean {
    const old = this.fields.set(field, value);
    if (old === undefined) this.sizeBytes += field.length + value.length + ELEMENT_OVERHEAD_BYTES;
    else this.sizeBytes += value.length - old.length;
    if (
      this.fields.size > encodingLimits.hashMaxListpackEntries ||
      field.length > encodingLimits.hashMaxListpackValue ||
      value.length > encodingLimits.hashMaxListpackValue
    ) {
      this.large = true;
    }
    return old === undefined;
  }

  /** Removes a field; true when it existed. */
  delete(field: string): boolean {
    // A small hash keeps insertion order, as Redis's listpack does (HGETALL, HSCAN).
    const old = this.fields.delete(field, !this.large);
    if (old === undefined) return false;
    this.sizeBytes -= field.length + old.length + ELEMENT_OVERHEAD_BYTES;
    return true;
  }

  clone(): HashValue {
    const copy = new HashValue();
    const { keys, values } = this.fields;
    for (let i = 0; i < keys.length; i++) copy.set(keys[i], values[i]);
    copy.large = this.large;
    return copy;
  }

  dump(): string[] {
    const { keys, values } = this.fields;
    const elements: string[] = [];
    for (let i = 0; i < keys.length; i++) elements.push(keys[i], values[i]);
    return elements;
  }

  encoding(): string {
    return this.large ? "hashtable" : "listpack";
  }
}

registerContainer("hash", (elements) => {
  const hash = new HashValue();
  for (let i = 0; i + 1 < elements.length; i += 2) hash.set(elements[i], elements[i + 1]);
  return hash;
});
