import { timeLimited } from "../_time_limit.ts";
import assert from "node:assert/strict";
import { ListValue } from "../../src/keyspace/list.ts";
import { arity, bulk, bulks, err, harness, int, OK, WRONGTYPE } from "./_ext_harness.ts";

const { describe, it } = timeLimited(import.meta.url, 120_000);

describe("list commands", () => {
  it("pushes and pops at both ends, and tells blocked clients about pushes", () => {
    const h = harness();
    assert.equal(h.run("LPUSH", "l", "b", "a"), int(2));
    assert.equal(h.run("RPUSH", "l", "c"), int(3));
    assert.equal(h.run("LRANGE", "l", "0", "-1"), bulks("a", "b", "c"));
    assert.equal(h.run("LPUSHX", "none", "x"), int(0));
    assert.equal(h.run("RPOP", "l", "2"), bulks("c", "b"));
    assert.equal(h.run("LPOP", "l"), bulk("a"));
    assert.equal(h.run("EXISTS", "l"), int(0));
    assert.equal(h.run("LPOP", "l", "2"), "*-1\r\n");
    assert.deepEqual(h.ready, ["l", "l"]);
    h.client.protocol = 3;
    assert.equal(h.run("LPOP", "l", "2"), "_\r\n");
  });

  it("keeps a ring buffer deque consistent with an array model", () => {
    const list = new ListValue();
    const model: string[] = [];
    let seed = 3;
    for (let step = 0; step < 5000; step++) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      const value = `v${step}`;
      switch (seed % 4) {
        case 0:
          list.pushFront(value);
          model.unshift(value);
          break;
        case 1:
          list.pushBack(value);
          model.push(value);
          break;
        case 2:
          assert.equal(list.popFront(), model.shift());
          break;
        default:
          assert.equal(list.popBack(), model.pop());
      }
    }
    assert.deepEqual(list.toArray(), model);
    assert.equal(list.at(model.length - 1), model.at(-1));
  });

  it("indexes, sets, removes, trims and inserts like Redis", () => {
    const h = harness();
    h.run("RPUSH", "l", "a", "b", "a", "c", "a");
    assert.equal(h.run("LINDEX", "l", "-1"), bulk("a"));
    assert.equal(h.run("LSET", "l", "9", "x"), err("ERR index out of range"));
    assert.equal(h.run("LSET", "none", "0", "x"), err("ERR no such key"));
    assert.equal(h.run("LREM", "l", "-2", "a"), int(2));
    assert.equal(h.run("LRANGE", "l", "0", "-1"), bulks("a", "b", "c"));
    assert.equal(h.run("LINSERT", "l", "AFTER", "b", "x"), int(4));
    assert.equal(h.run("LTRIM", "l", "1", "2"), OK);
    assert.equal(h.run("LRANGE", "l", "0", "-1"), bulks("b", "x"));
    assert.equal(h.run("LPOS", "l", "x"), int(1));
    assert.equal(h.run("LTRIM", "l", "5", "1"), OK);
    assert.equal(h.run("EXISTS", "l"), int(0));
  });

  it("moves elements between lists, including onto itself", () => {
    const h = harness();
    h.run("RPUSH", "a", "1", "2");
    assert.equal(h.run("LMOVE", "a", "b", "RIGHT", "LEFT"), bulk("2"));
    assert.equal(h.run("RPOPLPUSH", "a", "a"), bulk("1"));
    assert.equal(h.run("LRANGE", "a", "0", "-1"), bulks("1"));
    assert.equal(h.run("RPOPLPUSH", "a", "b"), bulk("1"));
    assert.equal(h.run("EXISTS", "a"), int(0));
    assert.equal(h.run("LRANGE", "b", "0", "-1"), bulks("1", "2"));
    h.run("SET", "s", "v");
    assert.equal(h.run("LMOVE", "b", "s", "LEFT", "LEFT"), WRONGTYPE);
    assert.equal(h.run("LLEN", "b"), int(2));
  });

  it("checks types and arity", () => {
    const h = harness();
    h.run("SET", "s", "v");
    assert.equal(h.run("LPUSH", "s", "x"), WRONGTYPE);
    assert.equal(h.run("LRANGE", "s", "0", "1"), WRONGTYPE);
    assert.equal(h.run("LPUSH", "l"), arity("lpush"));
    assert.equal(h.run("LPOP", "l", "1", "2"), arity("lpop"));
    assert.equal(h.run("LPOP", "l", "-1"), err("ERR value is out of range, must be positive"));
  });
});
