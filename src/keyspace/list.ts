/**
 * The list value: a ring-buffer deque, O(1) push and pop at both ends and O(1) access by index.
 *
 * @module
 */
import { type Container, ELEMENT_OVERHEAD_BYTES, registerContainer } from "./values.ts";

const INITIAL_CAPACITY = 8;

export class ListValue implements Container {
  readonly type = "list";
  sizeBytes = 0;
  /** See {@linkcode Container.accountedBytes}. */
  accountedBytes = 0;
  private items: (string | undefined)[] = new Array(INITIAL_CAPACITY);
  private head = 0;
  private count = 0;

  get length(): number {
    return this.count;
  }

  private slot(index: number): number {
    return (this.head + index) & (this.items.length - 1);
  }

  private grow(): void {
    const items = new Array<string | undefined>(this.items.length * 2);
    for (let i = 0; i < this.count; i++) items[i] = this.items[this.slot(i)];
    this.items = items;
    this.head = 0;
  }

  private account(value: string, sign: 1 | -1): void {
    this.sizeBytes += sign * (value.length + ELEMENT_OVERHEAD_BYTES);
  }

  pushBack(value: string): void {
    if (this.count === this.items.length) this.grow();
    this.items[this.slot(this.count)] = value;
    this.count++;
    this.account(value, 1);
  }

  pushFront(value: string): void {
    if (this.count === this.items.length) this.grow();
    this.head = (this.head - 1) & (this.items.length - 1);
    this.items[this.head] = value;
    this.count++;
    this.account(value, 1);
  }

  popFront(): string | undefined {
    if (this.count === 0) return undefined;
    const value = this.items[this.head]!;
    this.items[this.head] = undefined;
    this.head = this.slot(1);
    this.count--;
    this.account(value, -1);
    return value;
  }

  popBack(): string | undefined {
    if (this.count === 0) return undefined;
    const slot = this.slot(this.count - 1);
    const value = this.items[slot]!;
    this.items[slot] = undefined;
    this.count--;
    this.account(value, -1);
    return value;
  }

  /** The element at `index` (0-based from the head), undefined out of range. */
  at(index: number): string | undefined {
    return index >= 0 && index < this.count ? this.items[this.slot(index)] : undefined;
  }

  /** Replaces the element at an in-range `index`. */
  setAt(index: number, value: string): void {
    const slot = this.slot(index);
    this.account(this.items[slot]!, -1);
    this.items[slot] = value;
    this.account(value, 1);
  }

  /** Elements `start..end` inclusive (in range). */
  slice(start: number, end: number): string[] {
    const result: string[] = [];
    for (let i = start; i <= end; i++) result.push(this.items[this.slot(i)]!);
    return result;
  }

  /** Every element, head first. */
  toArray(): string[] {
    return this.slice(0, this.count - 1);
  }

  /** Replaces the contents with `values` (LREM, LTRIM, LINSERT rebuild in O(n)). */
  replaceAll(values: readonly string[]): void {
    let capacity = INITIAL_CAPACITY;
    while (capacity < values.length) capacity *= 2;
    this.items = new Array(capacity);
    this.head = 0;
    this.count = 0;
    this.sizeBytes = 0;
    for (const value of values) this.pushBack(value);
  }

  clone(): ListValue {
    const copy = new ListValue();
    copy.replaceAll(this.toArray());
    return copy;
  }

  dump(): string[] {
    return this.toArray();
  }

  encoding(): string {
    return "quicklist";
  }
}

registerContainer("list", (elements) => {
  const list = new ListValue();
  list.replaceAll(elements);
  return list;
});
