import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { LuaRaise, LuaRaiseReply, LuaVm } from "../../src/scripting/lua.ts";

describe("LuaVm", () => {
  it("passes every byte value through a Lua string unchanged, NUL included", async () => {
    const vm = await LuaVm.open();
    const bytes = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i)).join("");
    vm.pushFunction((v) => {
      v.pushString(v.toString(1) + v.toString(1));
      return 1;
    });
    vm.setGlobal("twice");
    assert.equal(vm.load("local s = twice(...) return #s, s:byte(1), s:byte(256)", "=t"), null);
    vm.pushString(bytes);
    assert.equal(vm.call(1), null);
    assert.equal(vm.toNumber(-3), 512);
    assert.equal(vm.toNumber(-2), 0);
    assert.equal(vm.toNumber(-1), 255);
    vm.setTop(0);
  });

  it("keeps integers in 64 bits (millisecond timestamps, sums past 2^31)", async () => {
    const vm = await LuaVm.open();
    vm.pushInteger(1_700_000_000_000);
    vm.setGlobal("now");
    assert.equal(
      vm.load("return tostring(now + 1) .. ' ' .. (2000000000 + 2000000000)", "=t"),
      null,
    );
    assert.equal(vm.call(0), null);
    assert.equal(vm.toString(-1), "1700000000001 4000000000");
    vm.setTop(0);
  });

  it("turns a JS function's LuaRaise into a Lua error a script can catch", async () => {
    const vm = await LuaVm.open();
    vm.pushFunction(() => {
      throw new LuaRaise("refused");
    });
    vm.setGlobal("fail");
    assert.equal(vm.load("local ok, e = pcall(fail) return tostring(ok) .. ':' .. e", "=t"), null);
    assert.equal(vm.call(0), null);
    assert.equal(vm.toString(-1), "false:refused");
    vm.setTop(0);
  });

  it("stops a runaway loop from its instruction hook and stays usable", async () => {
    const vm = await LuaVm.open();
    let checks = 0;
    vm.setHook(() => {
      if (++checks > 5) throw new LuaRaise("too long");
    }, 1000);
    assert.equal(vm.load("while true do end", "=t"), null);
    assert.equal(vm.call(0), "too long");
    vm.setHook(null);
    assert.equal(vm.load("return 1 + 1", "=t"), null);
    assert.equal(vm.call(0), null);
    assert.equal(vm.toNumber(-1), 2);
  });

  it("suspends a coroutine from the hook and resumes it where it stopped, to its result", async () => {
    const vm = await LuaVm.open();
    let counts = 0;
    vm.setHook(() => (++counts % 3 === 0 ? "yield" : undefined), 1000);
    vm.enterCoroutine();
    assert.equal(
      vm.load("local n = 0 for i = 1, 20000 do n = n + i end return n, 'second'", "=t"),
      null,
    );
    let result = vm.resume(0);
    let yields = 0;
    while ("yielded" in result) {
      yields++;
      result = vm.resume(0);
    }
    assert.ok(yields > 3, `${yields} yields`);
    assert.deepEqual(result, { done: true });
    assert.equal(vm.top(), 1, "the first result only");
    assert.equal(vm.toNumber(-1), 200010000);
    vm.setTop(0);
    vm.leaveCoroutine();
  });

  it("does not yield inside a C call (a sort comparator), and asks again after it", async () => {
    const vm = await LuaVm.open();
    vm.setHook(() => "yield", 100);
    vm.enterCoroutine();
    const source = "local t = {} for i = 1, 300 do t[i] = (i * 7919) % 300 end " +
      "table.sort(t, function(a, b) local x = 0 for j = 1, 50 do x = x + j end return a < b end) " +
      "return t[1] .. ',' .. t[300]";
    assert.equal(vm.load(source, "=t"), null);
    let result = vm.resume(0);
    while ("yielded" in result) result = vm.resume(0);
    assert.deepEqual(result, { done: true });
    assert.equal(vm.toString(-1), "0,299");
    vm.setTop(0);
    vm.leaveCoroutine();
  });

  it("does not yield a coroutine the script made: its caller gets its real results", async () => {
    const vm = await LuaVm.open();
    vm.setHook(() => "yield", 100);
    vm.enterCoroutine();
    const source = "local f = coroutine.wrap(function() local x = 0 " +
      "for i = 1, 5000 do x = x + i end coroutine.yield(x) return 'second' end) " +
      "local y = 0 for i = 1, 5000 do y = y + 1 end return f() .. ',' .. f() .. ',' .. y";
    assert.equal(vm.load(source, "=t"), null);
    let result = vm.resume(0);
    let yields = 0;
    while ("yielded" in result) {
      yields++;
      result = vm.resume(0);
    }
    assert.deepEqual(result, { done: true });
    assert.equal(vm.toString(-1), "12502500,second,5000");
    assert.ok(yields > 0, "the script's own coroutine still yields to the host");
    vm.setTop(0);
    vm.leaveCoroutine();
  });
  it("keeps its hook for the next coroutine after a hook's error stopped one", async () => {
    const vm = await LuaVm.open();
    let kill = true;
    vm.setHook(() => {
      if (kill) throw new LuaRaiseReply("ERR stopped");
      return "yield";
    }, 1000);
    vm.enterCoroutine();
    assert.equal(vm.load("local i = 0\nwhile true do i = i + 1 end", "@user_script"), null);
    assert.deepEqual(vm.resume(0), { error: "ERR stopped\u00002" });
    kill = false;
    vm.enterCoroutine();
    assert.equal(vm.load("local i = 0 while i < 100000 do i = i + 1 end return i", "=t"), null);
    assert.deepEqual(vm.resume(0), { yielded: true }, "the hook still runs");
    let result = vm.resume(0);
    while ("yielded" in result) result = vm.resume(0);
    assert.equal(vm.toNumber(-1), 100000);
    vm.setTop(0);
    vm.leaveCoroutine();
  });

  it("reports a compile error without pushing anything", async () => {
    const vm = await LuaVm.open();
    const error = vm.load("return 'x' ..", "@user_script");
    assert.match(error ?? "", /user_script:1: unexpected symbol near <eof>/);
    assert.equal(vm.top(), 0);
  });
});
