import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { LuaVm } from "../../src/scripting/lua.ts";
import { PRELUDE } from "../../src/scripting/prelude.lua.ts";

/** A state with the prelude over host functions that only echo (the engine gives real ones). */
async function sandboxed(): Promise<LuaVm> {
  const vm = await LuaVm.open();
  for (const name of ["call", "log", "sha1", "setresp", "json_encode", "json_decode"]) {
    vm.pushFunction(() => 0);
    vm.setGlobal(`__hc_${name}`);
  }
  vm.run(PRELUDE);
  return vm;
}

function evaluate(vm: LuaVm, source: string): string {
  const error = vm.load(source, "@user_script") ?? vm.call(0, 1);
  if (error !== null) return `error: ${error}`;
  const text = vm.toString(-1);
  vm.setTop(0);
  return text;
}

describe("the scripting prelude", () => {
  it("gives LuaBitOp's signed 32-bit results, as Redis's bit library does", async () => {
    const vm = await sandboxed();
    assert.equal(
      evaluate(vm, "return bit.band(0xff, 0x0f) .. ',' .. bit.tohex(255) .. ',' .. bit.bnot(0)"),
      "15,000000ff,-1",
    );
    assert.equal(
      evaluate(vm, "return bit.lshift(1, 31) .. ',' .. bit.bxor(5, 3, 1)"),
      "-2147483648,7",
    );
  });

  it("has the Lua 5.1 names Redis scripts use", async () => {
    const vm = await sandboxed();
    assert.equal(evaluate(vm, "return select('#', unpack({1, 2, 3}))"), "3");
    assert.equal(evaluate(vm, "return loadstring('return 7')()"), "7");
  });

  it("refuses new globals and reads of absent ones, with Redis's messages", async () => {
    const vm = await sandboxed();
    assert.match(evaluate(vm, "foo = 1"), /user_script:1: Attempt to modify a readonly table/);
    assert.match(
      evaluate(vm, "return x.y"),
      /user_script:1: Script attempted to access nonexistent global variable 'x'/,
    );
  });

  it("leaves no way to the host: os, io, require, loadfile are gone", async () => {
    const vm = await sandboxed();
    for (const name of ["os", "io", "require", "loadfile", "dofile", "package"]) {
      assert.match(evaluate(vm, `return ${name}`), /nonexistent global variable/, name);
    }
  });
});
