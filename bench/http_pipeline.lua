-- wrk script: POST /pipeline with 100 GETs of the benchmark key.
local commands = {}
for i = 1, 100 do commands[i] = '["GET","bench:key"]' end
wrk.method = "POST"
wrk.body = "[" .. table.concat(commands, ",") .. "]"
wrk.headers["Content-Type"] = "application/json"
