import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { LuaRaise, LuaVm } from "../../src/scripting/lua.ts";

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

  it("reports a compile error without pushing anything", async () => {
    const vm = await LuaVm.open();
    const error = vm.load("return 'x' ..", "@user_script");
    assert.match(error ?? "", /user_script:1: unexpected symbol near <eof>/);
    assert.equal(vm.top(), 0);
  });
});
