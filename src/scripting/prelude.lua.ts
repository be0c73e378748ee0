/**
 * The Lua side of the scripting environment, run once when a state opens: the `redis` table
 * over the engine's JS functions, Lua 5.1 idioms on Lua 5.4 (`unpack`, `loadstring`), the
 * `bit` library (LuaBitOp's signed 32-bit results), `cjson` over JS's JSON, `cmsgpack` and
 * `struct` (libraries.lua.ts), and the sandbox:
 * no files, processes or modules, and globals that cannot be created or read when absent.
 *
 * @module
 */
import { LIBRARIES } from "./libraries.lua.ts";

export const PRELUDE = String.raw`
local call_raw, pcall_raw, log_raw, sha1_raw, setresp_raw =
  __hc_call, __hc_pcall, __hc_log, __hc_sha1, __hc_setresp
local json_encode, json_decode = __hc_json_encode, __hc_json_decode
__hc_call, __hc_pcall, __hc_log, __hc_sha1, __hc_setresp, __hc_json_encode, __hc_json_decode =
  nil, nil, nil, nil, nil, nil, nil
local error, type, select, tostring = error, type, select, tostring
local setupvalue, pairs, pcall, setmetatable = debug.setupvalue, pairs, pcall, setmetatable

local function missing(_, name)
  error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
end

redis = {
  LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
  REPL_NONE = 0, REPL_AOF = 1, REPL_SLAVE = 2, REPL_REPLICA = 2, REPL_ALL = 3,
}
-- C functions (a failed redis.call raises {err = ..., line = the caller's line}).
redis.call = call_raw
redis.pcall = pcall_raw
function redis.error_reply(text)
  if type(text) ~= "string" then error("wrong number or type of arguments", 2) end
  if text:sub(1, 1) == "-" then text = text:sub(2) end
  return { err = text }
end
function redis.status_reply(text)
  if type(text) ~= "string" then error("wrong number or type of arguments", 2) end
  return { ok = text }
end
function redis.sha1hex(text)
  if type(text) ~= "string" and type(text) ~= "number" then
    error("wrong number of arguments", 2)
  end
  return sha1_raw(tostring(text))
end
function redis.log(level, ...)
  if select("#", ...) == 0 then error("redis.log() requires two arguments or more.", 2) end
  if type(level) ~= "number" or level < 0 or level > 3 then error("Invalid debug level.", 2) end
  local parts = {}
  for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
  log_raw(level, table.concat(parts, " "))
end
function redis.setresp(version)
  if version ~= 2 and version ~= 3 then error("RESP version must be 2 or 3.", 2) end
  setresp_raw(version)
end
function redis.replicate_commands() return true end
function redis.set_repl(_) end
function redis.breakpoint() return false end
function redis.debug() end

-- Redis 7 functions. A library's code runs once at FUNCTION LOAD with only the load API in
-- sight (redis.register_function, redis.log); its functions then see the scripting globals.
local registering = nil
local FLAGS = { ["no-writes"] = true, ["allow-oom"] = true, ["allow-stale"] = true,
  ["no-cluster"] = true, ["allow-cross-slot-keys"] = true }
local function refuse(text) error({ err = "ERR " .. text }, 0) end
local function register(...)
  if registering == nil then refuse("redis.register_function can only be called on FUNCTION LOAD command") end
  local name, callback, flags, description
  if select("#", ...) == 1 then
    local named = ...
    if type(named) ~= "table" then
      refuse("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).")
    end
    for key in pairs(named) do
      if key ~= "function_name" and key ~= "callback" and key ~= "flags" and key ~= "description" then
        refuse("unknown argument given to redis.register_function")
      end
    end
    name, callback, flags, description = named.function_name, named.callback, named.flags, named.description
    if description ~= nil and type(description) ~= "string" then
      refuse("description argument given to redis.register_function must be a string")
    end
  elseif select("#", ...) == 2 then
    name, callback = ...
  else
    refuse("wrong number of arguments to redis.register_function")
  end
  if type(name) ~= "string" and type(name) ~= "number" then
    refuse("function_name argument given to redis.register_function must be a string")
  end
  name = tostring(name)
  if type(callback) ~= "function" then
    refuse((select("#", ...) == 1 and "callback argument given to redis.register_function must be a function")
      or "second argument to redis.register_function must be a function")
  end
  if not name:match("^[%w_]+$") then
    refuse("Library names can only contain letters, numbers, or underscores(_) and must be at least one character long")
  end
  local list = {}
  if flags ~= nil then
    if type(flags) ~= "table" then refuse("flags argument to redis.register_function must be a table representing function flags") end
    for _, flag in pairs(flags) do
      if not FLAGS[flag] then refuse("unknown flag given") end
      list[#list + 1] = flag
    end
  end
  for _, f in pairs(registering) do
    if f.name == name then refuse("Function already exists in the library") end
  end
  registering[#registering + 1] = { name = name, callback = callback, flags = list, description = description }
end
local load_redis = setmetatable({
  register_function = register,
  log = function(...) return redis.log(...) end,
  LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
}, { __index = missing })

-- Runs a library's compiled chunk: returns the functions it registered, or raises its error.
function __hc_register(chunk)
  local scope = { __index = function(_, name)
    if name == "redis" then return load_redis end
    error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
  end, __newindex = function() error("Attempt to modify a readonly table", 2) end }
  local env = setmetatable({}, scope)
  setupvalue(chunk, 1, env)
  registering = {}
  local ok, failure = pcall(chunk)
  local registered = registering
  registering = nil
  if not ok then error(failure, 0) end
  -- From now on its functions read the globals scripts have.
  scope.__index = _G
  return registered
end

-- LuaBitOp: operands and results are signed 32-bit integers.
local function norm(x)
  x = math.tointeger(x) or math.floor(x)
  x = x & 0xffffffff
  if x >= 0x80000000 then x = x - 0x100000000 end
  return x
end
bit = {}
function bit.tobit(x) return norm(x) end
function bit.bnot(x) return norm(~norm(x)) end
function bit.band(x, ...) x = norm(x) for i = 1, select("#", ...) do x = x & norm((select(i, ...))) end return norm(x) end
function bit.bor(x, ...) x = norm(x) for i = 1, select("#", ...) do x = x | norm((select(i, ...))) end return norm(x) end
function bit.bxor(x, ...) x = norm(x) for i = 1, select("#", ...) do x = x ~ norm((select(i, ...))) end return norm(x) end
function bit.lshift(x, n) return norm((norm(x) & 0xffffffff) << (norm(n) & 31)) end
function bit.rshift(x, n) return norm((norm(x) & 0xffffffff) >> (norm(n) & 31)) end
function bit.arshift(x, n) return norm(norm(x) >> (norm(n) & 31) | ((norm(x) < 0 and (norm(n) & 31) > 0) and ~(0xffffffff >> (norm(n) & 31)) or 0)) end
function bit.rol(x, n) x = norm(x) & 0xffffffff n = norm(n) & 31 return norm((x << n) | (x >> (32 - n))) end
function bit.ror(x, n) x = norm(x) & 0xffffffff n = norm(n) & 31 return norm((x >> n) | (x << (32 - n))) end
function bit.bswap(x) x = norm(x) & 0xffffffff return norm(((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >> 8) & 0xff00) | (x >> 24)) end
function bit.tohex(x, n)
  n = n or 8
  local upper = n < 0
  if upper then n = -n end
  local s = string.format("%08x", norm(x) & 0xffffffff):sub(-n)
  if upper then s = s:upper() end
  return s
end

cjson = { null = setmetatable({}, { __tostring = function() return "null" end }) }
function cjson.encode(value) return json_encode(value) end
function cjson.decode(text)
  if type(text) ~= "string" then error("bad argument #1 to 'decode' (string expected)", 2) end
  return json_decode(text)
end
__hc_cjson_null = cjson.null
${LIBRARIES}

-- Lua 5.1 names scripts written for Redis use.
unpack = table.unpack
loadstring = load
math.pow = function(x, y) return x ^ y end
math.mod = math.fmod
table.getn = function(t) return #t end

-- The sandbox: nothing reaches the host.
os, io, package, require, dofile, loadfile, print, debug = nil, nil, nil, nil, nil, nil, nil, nil
collectgarbage("generational")

setmetatable(_G, {
  __index = function(_, name)
    error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
  end,
  __newindex = function() error("Attempt to modify a readonly table", 2) end,
})
`;
