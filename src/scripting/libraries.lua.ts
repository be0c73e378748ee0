/**
 * `cmsgpack` and `struct`, the two binary-format libraries Redis gives scripts, written in Lua
 * over Lua 5.4's `string.pack`. They follow Redis 7.0's lua_cmsgpack and struct byte for byte,
 * with their error texts; where Lua 5.4 differs from Redis's Lua 5.1 (integers are 64-bit
 * integers, not doubles; a map's key order follows 5.4's table layout), the README says so.
 *
 * Errors are returned from the inner functions and raised by the outer ones at level 2, so a
 * script sees them at its own line, as Redis's C libraries report them.
 *
 * @module
 */
export const LIBRARIES = String.raw`
local spack, sunpack, ssub, sbyte, schar, srep, sformat, sfind =
  string.pack, string.unpack, string.sub, string.byte, string.char, string.rep, string.format,
  string.find
local mtype, tointeger, floor, ceil = math.type, math.tointeger, math.floor, math.ceil
local concat, select, type, pairs, error, tostring, tonumber =
  table.concat, select, type, pairs, error, tostring, tonumber

local function argerror(n, name, text)
  return sformat("bad argument #%d to '%s' (%s)", n, name, text)
end
local function typename(n, ...)
  if n > select("#", ...) then return "no value" end
  return type((select(n, ...)))
end

-- cmsgpack ----------------------------------------------------------------------------------
local MAX_NESTING = 16
local null = cjson.null

local function pack_int(out, n)
  if n >= 0 then
    if n <= 127 then out[#out + 1] = schar(n)
    elseif n <= 0xff then out[#out + 1] = spack(">BB", 0xcc, n)
    elseif n <= 0xffff then out[#out + 1] = spack(">BI2", 0xcd, n)
    elseif n <= 0xffffffff then out[#out + 1] = spack(">BI4", 0xce, n)
    else out[#out + 1] = spack(">Bi8", 0xcf, n) end
  else
    if n >= -32 then out[#out + 1] = schar(n & 0xff)
    elseif n >= -128 then out[#out + 1] = spack(">Bi1", 0xd0, n)
    elseif n >= -32768 then out[#out + 1] = spack(">Bi2", 0xd1, n)
    elseif n >= -2147483648 then out[#out + 1] = spack(">Bi4", 0xd2, n)
    else out[#out + 1] = spack(">Bi8", 0xd3, n) end
  end
end

local function pack_number(out, n)
  if mtype(n) == "integer" then return pack_int(out, n) end
  -- An integral double that fits in 64 bits is sent as an integer, as Redis does.
  if n == n and n >= -0x1p63 and n < 0x1p63 and floor(n) == n then
    return pack_int(out, tointeger(n))
  end
  local single = spack(">f", n)
  if sunpack(">f", single) == n then
    out[#out + 1] = "\xca" .. single
  else
    out[#out + 1] = spack(">Bd", 0xcb, n)
  end
end

local function pack_header(out, count, fix, code16, code32)
  if count <= 15 then out[#out + 1] = schar(fix | count)
  elseif count <= 0xffff then out[#out + 1] = spack(">BI2", code16, count)
  else out[#out + 1] = spack(">BI4", code32, count) end
end

local pack_value
local function pack_table(out, t, level)
  -- An array has keys 1..n and nothing else; the empty table is an empty array.
  local count, max, array = 0, 0, true
  for key in pairs(t) do
    count = count + 1
    if array then
      if mtype(key) == "integer" and key >= 1 then
        if key > max then max = key end
      else
        array = false
      end
    end
  end
  if array and max == count then
    pack_header(out, count, 0x90, 0xdc, 0xdd)
    for i = 1, count do pack_value(out, t[i], level + 1) end
  else
    pack_header(out, count, 0x80, 0xde, 0xdf)
    for key, value in pairs(t) do
      pack_value(out, key, level + 1)
      pack_value(out, value, level + 1)
    end
  end
end

pack_value = function(out, value, level)
  local kind = type(value)
  if kind == "number" then return pack_number(out, value)
  elseif kind == "string" then
    local size = #value
    if size < 32 then out[#out + 1] = schar(0xa0 | size)
    elseif size <= 0xff then out[#out + 1] = spack(">BB", 0xd9, size)
    elseif size <= 0xffff then out[#out + 1] = spack(">BI2", 0xda, size)
    else out[#out + 1] = spack(">BI4", 0xdb, size) end
    out[#out + 1] = value
  elseif kind == "boolean" then out[#out + 1] = value and "\xc3" or "\xc2"
  elseif kind == "table" and value ~= null and level < MAX_NESTING then
    return pack_table(out, value, level)
  else
    -- nil, functions, cjson.null and tables nested too deep are all nil.
    out[#out + 1] = "\xc0"
  end
end

-- Decodes one value at pos (1-based); returns value, next pos, or nil, pos, error text.
local MISSING, BAD = "Missing bytes in input.", "Bad data format in input."
local decode
local function need(s, pos, size)
  return pos + size - 1 <= #s
end
local function decode_items(s, pos, count, map)
  local t = {}
  for i = 1, count do
    local key, value, err
    if map then
      key, pos, err = decode(s, pos)
      if err then return nil, pos, err end
    else
      key = i
    end
    value, pos, err = decode(s, pos)
    if err then return nil, pos, err end
    if key ~= nil and key == key then t[key] = value end
  end
  return t, pos
end
local FIXED = {
  [0xcc] = ">I1", [0xcd] = ">I2", [0xce] = ">I4", [0xcf] = ">i8",
  [0xd0] = ">i1", [0xd1] = ">i2", [0xd2] = ">i4", [0xd3] = ">i8",
  [0xca] = ">f", [0xcb] = ">d",
}
local WIDTH = { [0xcc] = 1, [0xcd] = 2, [0xce] = 4, [0xcf] = 8, [0xd0] = 1, [0xd1] = 2,
  [0xd2] = 4, [0xd3] = 8, [0xca] = 4, [0xcb] = 8 }
local LENGTH = { [0xd9] = ">I1", [0xda] = ">I2", [0xdb] = ">I4", [0xdc] = ">I2",
  [0xdd] = ">I4", [0xde] = ">I2", [0xdf] = ">I4" }
decode = function(s, pos)
  local c = sbyte(s, pos)
  if c == nil then return nil, pos, MISSING end
  pos = pos + 1
  if c <= 0x7f then return c, pos
  elseif c >= 0xe0 then return c - 256, pos
  elseif c >= 0xa0 and c <= 0xbf then
    local size = c - 0xa0
    if not need(s, pos, size) then return nil, pos, MISSING end
    return ssub(s, pos, pos + size - 1), pos + size
  elseif c >= 0x90 and c <= 0x9f then return decode_items(s, pos, c - 0x90, false)
  elseif c >= 0x80 and c <= 0x8f then return decode_items(s, pos, c - 0x80, true)
  elseif c == 0xc0 then return nil, pos
  elseif c == 0xc2 then return false, pos
  elseif c == 0xc3 then return true, pos
  elseif FIXED[c] then
    if not need(s, pos, WIDTH[c]) then return nil, pos, MISSING end
    return sunpack(FIXED[c], s, pos)
  elseif LENGTH[c] then
    local width = c == 0xd9 and 1 or (c == 0xda or c == 0xdc or c == 0xde) and 2 or 4
    if not need(s, pos, width) then return nil, pos, MISSING end
    local size
    size, pos = sunpack(LENGTH[c], s, pos)
    if c <= 0xdb then
      if not need(s, pos, size) then return nil, pos, MISSING end
      return ssub(s, pos, pos + size - 1), pos + size
    end
    return decode_items(s, pos, size, c >= 0xde)
  end
  return nil, pos, BAD
end

-- Redis's mp_unpack_full: every value when limit and offset are both 0, otherwise the next
-- offset (-1 at the end of the input) followed by at most limit values.
local function unpack_full(name, limit, offset, ...)
  local s = ...
  if type(s) == "number" then s = tostring(s) end
  if type(s) ~= "string" then
    return nil, argerror(1, name, "string expected, got " .. typename(1, ...))
  end
  local all = limit == 0 and offset == 0
  if offset < 0 or limit < 0 then
    return nil, sformat("Invalid request to unpack with offset of %d and limit of %d.", offset, #s)
  elseif offset > #s then
    return nil, sformat("Start offset %d greater than input length %d.", offset, #s)
  end
  local values, count, pos = {}, 0, offset + 1
  while pos <= #s and (all or count < limit) do
    local value, err
    value, pos, err = decode(s, pos)
    if err then return nil, err end
    count = count + 1
    values[count] = value
  end
  if not all then
    table.insert(values, 1, pos > #s and -1 or pos - 1)
    count = count + 1
  end
  return values, nil, count
end

local function checkint(name, n, default, ...)
  if n > select("#", ...) or (select(n, ...)) == nil then return default end
  local value = tonumber((select(n, ...)))
  if value == nil then
    return nil, argerror(n, name, "number expected, got " .. typename(n, ...))
  end
  return tointeger(value) or (value >= 0 and floor(value) or ceil(value))
end

cmsgpack = {}
function cmsgpack.pack(...)
  local n = select("#", ...)
  if n == 0 then error(argerror(0, "pack", "MessagePack pack needs input."), 2) end
  local out = {}
  for i = 1, n do pack_value(out, (select(i, ...)), 0) end
  return concat(out)
end
function cmsgpack.unpack(...)
  local values, err, count = unpack_full("unpack", 0, 0, ...)
  if err then error(err, 2) end
  return table.unpack(values, 1, count)
end
function cmsgpack.unpack_one(...)
  local offset, err = checkint("unpack_one", 2, 0, ...)
  if err then error(err, 2) end
  local values, count
  values, err, count = unpack_full("unpack_one", 1, offset, ...)
  if err then error(err, 2) end
  return table.unpack(values, 1, count)
end
function cmsgpack.unpack_limit(...)
  local limit, offset, err
  limit, err = checkint("unpack_limit", 2, 0, ...)
  if err then error(err, 2) end
  offset, err = checkint("unpack_limit", 3, 0, ...)
  if err then error(err, 2) end
  local values, count
  values, err, count = unpack_full("unpack_limit", limit, offset, ...)
  if err then error(err, 2) end
  return table.unpack(values, 1, count)
end

-- struct --------------------------------------------------------------------------------------
local MAX_INT_SIZE, NATIVE_ALIGN = 32, 8
local SIZES = { b = 1, B = 1, h = 2, H = 2, l = 8, L = 8, T = 8, f = 4, d = 8, x = 1 }

-- Walks a format: calls item(option, size, padding) for each item; returns an error text or nil.
local function walk(fmt, name, item)
  local i, little, align, at = 1, true, 1, 0
  while i <= #fmt do
    local option = ssub(fmt, i, i)
    i = i + 1
    local digits = fmt:match("^%d+", i)
    if option == " " then
    elseif option == "<" then little = true
    elseif option == ">" then little = false
    elseif option == "!" then
      if digits then
        i = i + #digits
        align = tonumber(digits)
        if align & (align - 1) ~= 0 then return sformat("alignment %d is not a power of 2", align) end
      else
        align = NATIVE_ALIGN
      end
    else
      local size = SIZES[option]
      if option == "i" or option == "I" or option == "c" then
        size = option == "c" and 1 or 4
        if digits then
          i = i + #digits
          size = tonumber(digits)
        end
        if option ~= "c" and size > MAX_INT_SIZE then
          return sformat("integral size %d is larger than limit of %d", size, MAX_INT_SIZE)
        end
      elseif option == "s" then
        size = 0
      elseif size == nil then
        return argerror(1, name, sformat("invalid format option '%s'", option))
      end
      local padding = 0
      if size > 0 and option ~= "c" and align > 1 then
        -- struct.c's formula, also for sizes that are not powers of 2 (i3).
        local a = size < align and size or align
        padding = (a - (at & (a - 1))) & (a - 1)
      end
      local err, advance = item(option, size, padding, little)
      if err then return err end
      at = at + padding + (advance or size)
    end
  end
end

-- Integers are the low 64 bits of the value; bytes past the eighth are zero (struct.c's way).
local function int_bytes(value, size, little)
  local low = size < 8 and size or 8
  local bytes = spack("<i8", value):sub(1, low) .. srep("\0", size - low)
  return little and bytes or bytes:reverse()
end

local function to_integer(value)
  local n = tointeger(value)
  if n then return n end
  if value ~= value or value == 1 / 0 or value == -1 / 0 then return 0 end
  value = value >= 0 and floor(value) or ceil(value)
  if value >= 0x1p63 and value < 0x1p64 then value = value - 0x1p64 end
  return tointeger(value) or 0
end

struct = {}
function struct.pack(...)
  local fmt = ...
  if type(fmt) == "number" then fmt = tostring(fmt) end
  if type(fmt) ~= "string" then
    error(argerror(1, "pack", "string expected, got " .. typename(1, ...)), 2)
  end
  -- A missing argument is "nil" here, as struct.c words it, not "no value".
  local out, arg, args = {}, 2, table.pack(...)
  local err = walk(fmt, "pack", function(option, size, padding, little)
    if padding > 0 then out[#out + 1] = srep("\0", padding) end
    if option == "x" then out[#out + 1] = "\0" return end
    local value = args[arg]
    if option == "c" or option == "s" then
      if type(value) == "number" then value = tostring(value) end
      if type(value) ~= "string" then
        return argerror(arg, "pack", "string expected, got " .. type(value))
      end
      arg = arg + 1
      if option == "s" then
        out[#out + 1] = value .. "\0"
        return nil, #value + 1
      end
      if size == 0 then size = #value end
      -- struct.c names the argument after this one.
      if #value < size then return argerror(arg, "pack", "string too short") end
      out[#out + 1] = ssub(value, 1, size)
      return nil, size
    end
    local number = tonumber(value)
    if number == nil then
      return argerror(arg, "pack", "number expected, got " .. type(value))
    end
    arg = arg + 1
    if option == "f" then out[#out + 1] = spack(little and "<f" or ">f", number)
    elseif option == "d" then out[#out + 1] = spack(little and "<d" or ">d", number)
    else out[#out + 1] = int_bytes(to_integer(number), size, little) end
  end)
  if err then error(err, 2) end
  return concat(out)
end

function struct.unpack(...)
  local fmt, data, offset = ...
  if type(fmt) == "number" then fmt = tostring(fmt) end
  if type(fmt) ~= "string" then
    error(argerror(1, "unpack", "string expected, got " .. typename(1, ...)), 2)
  end
  if type(data) == "number" then data = tostring(data) end
  if type(data) ~= "string" then
    error(argerror(2, "unpack", "string expected, got " .. typename(2, ...)), 2)
  end
  local start, err = checkint("unpack", 3, 1, ...)
  if err then error(err, 2) end
  if start == 0 then error(argerror(3, "unpack", "offset must be 1 or greater"), 2) end
  -- A negative offset is a huge unsigned one in struct.c: every read is past the end.
  local pos = start > 0 and start or 1 / 0
  local values = {}
  local short = argerror(2, "unpack", "data string too short")
  err = walk(fmt, "unpack", function(option, size, padding, little)
    pos = pos + padding
    if option == "s" then
      if pos > #data then return "unfinished string in data" end
      local stop = sfind(data, "\0", pos, true)
      if not stop then return "unfinished string in data" end
      values[#values + 1] = ssub(data, pos, stop - 1)
      local length = stop - pos + 1
      pos = stop + 1
      return nil, length
    end
    if option == "c" and size == 0 then
      local previous = values[#values]
      if type(previous) ~= "number" then return "format 'c0' needs a previous size" end
      values[#values] = nil
      size = to_integer(previous)
    end
    if pos + size - 1 > #data then return short end
    if option == "c" then
      values[#values + 1] = ssub(data, pos, pos + size - 1)
    elseif option == "f" or option == "d" then
      values[#values + 1] = sunpack((little and "<" or ">") .. option, data, pos)
    elseif option ~= "x" then
      local bytes = ssub(data, pos, pos + size - 1)
      if not little then bytes = bytes:reverse() end
      local signed = option == "b" or option == "h" or option == "l" or option == "i"
      local low = size < 8 and size or 8
      local value = sunpack((signed and "<i" or "<I") .. low, bytes)
      -- Unsigned 64-bit values past 2^63 are doubles, as in Redis's Lua.
      if not signed and low == 8 and value < 0 then value = value + 0x1p64 end
      values[#values + 1] = value
    end
    pos = pos + size
    return nil, size
  end)
  if err then error(err, 2) end
  values[#values + 1] = pos
  return table.unpack(values)
end

function struct.size(...)
  local fmt = ...
  if type(fmt) == "number" then fmt = tostring(fmt) end
  if type(fmt) ~= "string" then
    error(argerror(1, "size", "string expected, got " .. typename(1, ...)), 2)
  end
  local total = 0
  local err = walk(fmt, "size", function(option, size, padding)
    if option == "s" or (option == "c" and size == 0) then
      return argerror(1, "size", "option '" .. (option == "s" and "s" or "c0") .. "' has no fixed size")
    end
    total = total + padding + size
  end)
  if err then error(err, 2) end
  return total
end
`;
