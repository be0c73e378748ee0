/**
 * A map from string keys to values kept in dense arrays, so that a random element is O(1) and a
 * position cursor (HSCAN, SSCAN, ZSCAN) can walk it while elements come and go.
 *
 * Removal swaps the last element into the hole. A cursor that walks positions from the end
 * towards 0 therefore never misses an element present for the whole walk: an element not yet
 * visited sits below the cursor, and it only ever moves to a lower position (see `scanDense`).
 *
 * @module
 */

export class DenseMap<V> {
  readonly keys: string[] = [];
  readonly values: V[] = [];
  private readonly positions = new Map<string, number>();

  get size(): number {
    return this.keys.length;
  }

  has(key: string): boolean {
    return this.positions.has(key);
  }

  get(key: string): V | undefined {
    const position = this.positions.get(key);
    return position === undefined ? undefined : this.values[position];
  }

  /** Sets `key`; returns the previous value, or undefined when it is new. */
  set(key: string, value: V): V | undefined {
    const position = this.positions.get(key);
    if (position !== undefined) {
      const old = this.values[position];
      this.values[position] = value;
      return old;
    }
    this.positions.set(key, this.keys.length);
    this.keys.push(key);
    this.values.push(value);
    return undefined;
  }

  /**
   * Removes `key`; returns its value, or undefined when it was absent. `keepOrder` shifts the
   * later elements down instead (O(n), for small containers that mimic Redis's listpack order).
   */
  delete(key: string, keepOrder = false): V | undefined {
    const position = this.positions.get(key);
    if (position === undefined) return undefined;
    const value = this.values[position];
    if (keepOrder) {
      this.keys.splice(position, 1);
      this.values.splice(position, 1);
      this.positions.delete(key);
      for (let i = position; i < this.keys.length; i++) this.positions.set(this.keys[i], i);
      return value;
    }
    const lastKey = this.keys.pop()!;
    const lastValue = this.values.pop()!;
    this.positions.delete(key);
    if (position < this.keys.length) {
      this.keys[position] = lastKey;
      this.values[position] = lastValue;
      this.positions.set(lastKey, position);
    }
    return value;
  }

  clear(): void {
    this.keys.length = 0;
    this.values.length = 0;
    this.positions.clear();
  }
}
