import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { SortedList } from "../../src/keyspace/sorted_list.ts";
import { xorshift32 } from "../../src/_random.ts";

type Pair = [number, string];
const order = (a: Pair, b: Pair) => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0);

function contents(list: SortedList): Pair[] {
  const pairs: Pair[] = [];
  list.walk(0, false, (score, member) => (pairs.push([score, member]), true));
  return pairs;
}

describe("SortedList", () => {
  for (const seed of [1, 77, 0xdeadbeef]) {
    it(`agrees with a sorted array through 30,000 random inserts and deletes (seed ${seed})`, () => {
      const random = xorshift32(seed);
      const list = new SortedList();
      const model = new Map<string, number>();
      for (let op = 0; op < 30_000; op++) {
        // Few distinct scores, so ties order by member; a member space that makes leaves split
        // and merge again and again.
        const member = `m${Math.floor(random() * 2000)}`;
        const score = Math.floor(random() * 50);
        const present = model.get(member);
        if (present !== undefined && random() < 0.6) {
          assert.equal(list.delete(present, member), true);
          model.delete(member);
        } else if (present === undefined) {
          list.insert(score, member);
          model.set(member, score);
        } else {
          assert.equal(list.delete(present + 0.5, member), false, "a pair not in the list");
        }
        if (op % 2000 === 0 || op === 29_999) {
          const expected = [...model].map(([m, s]) => [s, m] as Pair).sort(order);
          assert.equal(list.length, expected.length);
          assert.deepEqual(contents(list), expected);
          for (let i = 0; i < expected.length; i += 37) {
            const [s, m] = expected[i];
            assert.equal(list.rank(s, m), i + 1);
            assert.equal(list.memberAt(i), m);
            assert.equal(list.scoreAt(i), s);
          }
          const cut = 25;
          assert.equal(list.countWhile((s) => s < cut), expected.filter(([s]) => s < cut).length);
        }
      }
    });
  }

  it("walks backwards from any position and stops when told", () => {
    const list = new SortedList();
    for (let i = 0; i < 1000; i++) list.insert(i, `m${i}`);
    const seen: number[] = [];
    list.walk(700, true, (score) => (seen.push(score), seen.length < 300));
    assert.equal(seen.length, 300);
    assert.equal(seen[0], 700);
    assert.equal(seen[299], 401);
    const tail: number[] = [];
    list.walk(995, false, (score) => (tail.push(score), true));
    assert.deepEqual(tail, [995, 996, 997, 998, 999]);
  });

  it("orders equal scores by member bytes, and answers 0 and undefined for what is absent", () => {
    const list = new SortedList();
    for (const member of ["b", "a", "\xff", "ab", ""]) list.insert(1, member);
    list.insert(-Infinity, "low");
    list.insert(Infinity, "high");
    assert.deepEqual(contents(list).map(([, m]) => m), ["low", "", "a", "ab", "b", "\xff", "high"]);
    assert.equal(list.rank(1, "c"), 0);
    assert.equal(list.rank(2, "a"), 0);
    assert.equal(list.memberAt(7), undefined);
    assert.equal(list.memberAt(-1), undefined);
    assert.equal(list.countWhile(() => true), 7);
    assert.equal(list.countWhile(() => false), 0);
  });

  it("empties completely and fills again", () => {
    const list = new SortedList();
    for (let i = 0; i < 500; i++) list.insert(i, "x");
    for (let i = 0; i < 500; i++) assert.equal(list.delete(i, "x"), true);
    assert.equal(list.length, 0);
    assert.deepEqual(contents(list), []);
    list.insert(3, "y");
    assert.deepEqual(contents(list), [[3, "y"]]);
  });
});
