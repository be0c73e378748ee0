/**
 * Streams against a real redis-server: each case is a short script run on an empty keyspace on
 * both sides, and every reply must be the same bytes (RESP2 and RESP3). A line is a command,
 * its arguments split at spaces (`''` is an empty argument, `\s` a space inside one); `@3` and
 * `@2` switch protocol; a line starting with `~` compares with integers and Unix-ms times masked
 * (idle times, delivery times and seen times differ between two servers' clocks). Then the
 * keyspace events of each command, against a subscriber of redis-server's, and the records each
 * command hands the AOF.
 */
import { timeLimited } from "../_time_limit.ts";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { connect, type Socket } from "node:net";
import { Dispatcher } from "../../src/commands/dispatch.ts";
import { keyspaceEvents } from "../../src/commands/events.ts";
import { createCommandTable } from "../../src/commands/table.ts";
import { internalClient } from "../../src/commands/types.ts";
import { Keyspace } from "../../src/keyspace/keyspace.ts";
import { ReplyWriter } from "../../src/resp/writer.ts";
import { RespDecoder } from "../../src/resp/decoder.ts";
import { bulk, harness, START_MS } from "./_ext_harness.ts";
import { referenceRedis, replyLength } from "./_redis_reference.ts";

const { after, before, describe, it } = timeLimited(import.meta.url, 120_000);

const CASES: Record<string, string[]> = {
  "XADD's explicit and ms-* IDs, its limits at 0-0 and at the largest ID, and its errors": [
    "XADD s 1-1 a 1",
    "XADD s 2-1 b 2 c 3",
    "XADD s 3 a 1",
    "XADD s 0-0 a b",
    "XADD s 0 a b",
    "XADD t 0-* a b",
    "XADD t 0-* a b",
    "XADD t 5-* a b",
    "XADD t 5-* a b",
    "XADD t 4-* a b",
    "XADD t 5-1 a b",
    "XADD s MAXLEN a 9 a b",
    "XADD s MAXLEN -1 9 a b",
    "XADD s MAXLEN 1 MINID 1 9 a b",
    "XADD s MAXLEN 1 MAXLEN 2 9 a b",
    "XADD s MAXLEN ~ 1 LIMIT -1 9 a b",
    "XADD s MAXLEN ~ 1 LIMIT x 9 a b",
    "XADD s MINID x 9 a b",
    "XADD s MINID -1 9 a b",
    "XADD s MINID ~ + 9 a b",
    "XADD s MINID ( 9 a b",
    "XADD s LIMIT 5 9 a b",
    "XADD s NOMKSTREAM MAXLEN = 1 LIMIT 0 9 b 2",
    "XADD s MAXLEN = 9 a b",
    "XADD nos NOMKSTREAM 1-1 b 2",
    "EXISTS nos",
    "XADD nope NOMKSTREAM 0-0 a b",
    "XADD s FOO 9 a b",
    "XADD s 1-x a b",
    "XADD s 18446744073709551616 a b",
    "XADD s 18446744073709551615-18446744073709551615 a b",
    "XADD s 18446744073709551615-18446744073709551615 a b",
    "XADD s 18446744073709551615-* a b",
    "XADD m 18446744073709551615-* a b",
    "XADD m 18446744073709551615-* a b",
    "XADD m NOMKSTREAM NOMKSTREAM 18446744073709551615-* a b",
    "XRANGE m - +",
    "SET str x",
    "XADD str 1 a b",
    "XADD str NOMKSTREAM 1 a b",
    "XADD s",
    "XADD s 1 a",
    "XADD s 1 a b c",
    "XADD s NOMKSTREAM NOMKSTREAM NOMKSTREAM",
    "XADD bin 1-1 '' '' \x00\xff \r\n",
    "XRANGE bin - +",
    "TYPE s",
    "TYPE nos",
    "OBJECT ENCODING s",
    "SCAN 0 TYPE stream COUNT 100 MATCH s",
    "COPY s s2",
    "XADD s2 18446744073709551615-18446744073709551615 more x",
    "XINFO STREAM s",
    "XINFO STREAM s2",
    "RENAME s2 s3",
    "XLEN s3",
    "@3",
    "XADD nos NOMKSTREAM 1-1 b 2",
    "XADD s 18446744073709551615-* a b",
  ],
  "XRANGE and XREVRANGE: exclusive and incomplete IDs, COUNT, and how Redis reads an ID": [
    "SET str x",
    "XRANGE str - + COUNT 0",
    "XRANGE nokey - + COUNT 0",
    "XADD s 1-1 f1 v1",
    "XADD s 2-2 f2 v2",
    "XADD s 3-3 f3 v3",
    "XADD s 4-4 f4 v4",
    "XADD s 5-5 f5 v5",
    "XRANGE s - +",
    "XRANGE s - + COUNT 0",
    "XRANGE s - + COUNT -1",
    "XRANGE s - + COUNT 2",
    "XRANGE s - + COUNT x",
    "XRANGE s - + FOO",
    "XRANGE s - + COUNT",
    "XRANGE s - + COUNT 1 COUNT 2",
    "XRANGE s ( +",
    "XRANGE s (1-1 (3-3",
    "XRANGE s (- +",
    "XRANGE s - (+",
    "XRANGE s (+ +",
    "XRANGE s - (-",
    "XRANGE s (18446744073709551615-18446744073709551615 +",
    "XRANGE s - (0-0",
    "XRANGE s (1-18446744073709551615 2-2",
    "XRANGE s 2 4",
    "XRANGE s 2 3-0",
    "XRANGE s x +",
    "XRANGE s - x",
    "XRANGE s 3 2",
    "XRANGE nokey - +",
    "XRANGE str - +",
    "XRANGE s 0-18446744073709551616 +",
    "XRANGE s ((1 +",
    "XRANGE s '' +",
    "XRANGE s 007 +",
    "XRANGE s 003 +",
    "XRANGE s \\s3 +",
    "XRANGE s 3--0 +",
    "XRANGE s 3-+1 +",
    "XRANGE s -05 +",
    "XRANGE s 0--18446744073709551615 +",
    "XRANGE s 0--9223372036854775809 +",
    "XRANGE s x + COUNT y",
    "XRANGE s - + COUNT y FOO",
    "XREVRANGE s + -",
    "XREVRANGE s + - COUNT 2",
    "XREVRANGE s (4-4 (1",
    "XREVRANGE s (5 (1",
    "XREVRANGE s - +",
    "XREVRANGE s 3 3",
    "XREVRANGE s 3",
    "XLEN s",
    "XLEN nokey",
    "XLEN str",
    "@3",
    "XRANGE s - + COUNT 1",
    "XRANGE s - + COUNT 0",
    "XREVRANGE s + - COUNT 1",
  ],
  "XTRIM and XDEL: strategies, ~ and LIMIT, their errors and a stream left empty": [
    "SET str x",
    "XTRIM nokey FOO",
    "XTRIM nokey MAXLEN x",
    "XTRIM str FOO",
    "XTRIM str MAXLEN x",
    "XTRIM nokey MAXLEN 1",
    "XTRIM str MAXLEN 1",
    "XTRIM nokey MAXLEN 1 LIMIT 5",
    "XADD s 1-1 a b",
    "XADD s 2-1 a b",
    "XADD s 3-1 a b",
    "XTRIM s FOO",
    "XTRIM s LIMIT 5",
    "XTRIM s MAXLEN",
    "XTRIM s MAXLEN 1 LIMIT 5",
    "XTRIM s MAXLEN 1 LIMIT",
    "XTRIM s MAXLEN 1 FOO",
    "XTRIM s NOMKSTREAM MAXLEN 1",
    "XTRIM s MAXLEN 1 MAXLEN 1",
    "XTRIM s LIMIT 0 MAXLEN 0",
    "XTRIM s LIMIT 0 LIMIT 0",
    "XTRIM s MINID ~",
    "XTRIM s MAXLEN 1 ~",
    "XTRIM s MAXLEN -0",
    "XTRIM s MAXLEN 9223372036854775808",
    "XTRIM s MINID 1-x",
    "XTRIM s MAXLEN ~ 1 LIMIT 0",
    "XTRIM s MINID ~ 5",
    "XTRIM s MINID 2-1",
    "XRANGE s - +",
    "XTRIM s MAXLEN = 1",
    "XRANGE s - +",
    "XTRIM s MAXLEN 0",
    "XTRIM s MAXLEN 0",
    "EXISTS s",
    "XINFO STREAM s",
    "XADD d 1-1 a b",
    "XADD d 2-1 a b",
    "XADD d 3-1 a b",
    "XDEL d x",
    "XDEL d 1-1 x",
    "XDEL d 1 2-1 2-1",
    "XDEL d 9-9",
    "XDEL nokey 1-1",
    "XDEL str 1-1",
    "XDEL d -",
    "XDEL d +",
    "XDEL d",
    "XINFO STREAM d",
    "XDEL d 3-1",
    "XINFO STREAM d",
    "XADD d 3-2 a b",
  ],
  "XSETID: ENTRIESADDED and MAXDELETEDID, and the IDs it refuses": [
    "SET str x",
    "XADD s 2-2 f v",
    "XADD s 5-5 f v",
    "XSETID s 1-1",
    "XSETID s 5-5",
    "XSETID s 6",
    "XSETID s 6 ENTRIESADDED 1",
    "XSETID s 6 ENTRIESADDED 5 MAXDELETEDID 7",
    "XSETID s 6 ENTRIESADDED 5 MAXDELETEDID 5",
    "XSETID s 6 ENTRIESADDED -1",
    "XSETID s 6 ENTRIESADDED x",
    "XSETID s 6 MAXDELETEDID x",
    "XSETID s 6 FOO",
    "XSETID s 6 ENTRIESADDED",
    "XSETID nokey 1-1",
    "XSETID str 1",
    "XSETID s x",
    "XSETID s 0",
    "XSETID s *",
    "XSETID s -",
    "XSETID s 7 MAXDELETEDID 6 ENTRIESADDED 5",
    "XINFO STREAM s",
    "XDEL s 5-5 2-2",
    "XSETID s 0",
    "XINFO STREAM s",
    "XSETID s 0 ENTRIESADDED 0",
    "XINFO STREAM s",
    "XADD s 0-* a b",
    "XADD s 1-* a b",
    "XSETID s 18446744073709551615-18446744073709551615",
    "XADD s 18446744073709551615-18446744073709551615 a b",
    "XSETID s",
    "@3",
    "XINFO STREAM s",
  ],
  "consumer groups: XGROUP, XREADGROUP with > and history IDs, XPENDING, XACK, XINFO": [
    "XADD s 1-1 a 1",
    "XADD s 2-1 b 2",
    "XADD s 3-1 c 3",
    "SET str x",
    "XGROUP CREATE s g 0",
    "XGROUP CREATE s g2 $ ENTRIESREAD 3",
    "XGROUP CREATE s2 g $ MKSTREAM",
    "XGROUP CREATECONSUMER s g alice",
    "XGROUP CREATECONSUMER s g alice",
    "XREADGROUP GROUP g alice COUNT 1 STREAMS s >",
    "XREADGROUP GROUP g bob STREAMS s >",
    "XREADGROUP GROUP g carol STREAMS s >",
    "XREADGROUP GROUP g alice STREAMS s 0",
    "XREADGROUP GROUP g2 dave NOACK STREAMS s 0",
    "XADD s 4-1 d 4",
    "XREADGROUP GROUP g2 dave NOACK STREAMS s >",
    "~XINFO GROUPS s",
    "~XINFO CONSUMERS s g",
    "~XINFO CONSUMERS s g2",
    "XPENDING s g",
    "XPENDING s g2",
    "~XPENDING s g - + 10",
    "~XPENDING s g - + 10 bob",
    "~XPENDING s g - + 10 nobody",
    "~XPENDING s g 2 + 1",
    "~XPENDING s g (1-1 + 10",
    "XACK s g 1-1 9-9",
    "XACK s g",
    "XACK s g x",
    "XACK s nog 1-1",
    "XACK nokey g 1-1",
    "XACK str g 1-1",
    "XACK s g 1-1 x",
    "XPENDING s g",
    "XGROUP SETID s g 0",
    "~XINFO GROUPS s",
    "XGROUP SETID s g 1-1 ENTRIESREAD 1",
    "~XINFO GROUPS s",
    "XREADGROUP GROUP g erin COUNT 1 STREAMS s >",
    "~XPENDING s g - + 10",
    "XGROUP DELCONSUMER s g bob",
    "XGROUP DELCONSUMER s g bob",
    "XGROUP DESTROY s g2",
    "XGROUP DESTROY s g2",
    "XPENDING s g",
    "XCLAIM s g alice 0 2-1",
    "XCLAIM s g yan 0 9-9 FORCE",
    "XCLAIM s g yan 0 1-1 FORCE LASTID 5-5",
    "~XPENDING s g - + 10",
    "XDEL s 3-1",
    "XCLAIM s g zed 0 3-1",
    "XAUTOCLAIM s g wes 0 0",
    "XAUTOCLAIM s g wes 0 0 COUNT 1 JUSTID",
    "XPENDING s g",
    "~XINFO CONSUMERS s g",
    "~XINFO GROUPS s",
    "~XINFO STREAM s FULL",
    "~XINFO STREAM s FULL COUNT 1",
    "~XINFO STREAM s FULL COUNT 0",
    "~XINFO STREAM s FULL COUNT -1",
    "XINFO STREAM s FULL COUNT x",
    "XINFO STREAM s FULL FOO",
    "XINFO STREAM s FULL COUNT",
    "XINFO STREAM s FULL COUNT 0 x",
    "XINFO STREAM s FOO",
    "@3",
    "~XINFO STREAM s FULL",
    "~XINFO STREAM s",
    "~XINFO GROUPS s",
    "~XINFO CONSUMERS s g",
    "XPENDING s g",
    "XREADGROUP GROUP g alice STREAMS s 0",
    "XREAD STREAMS s 0",
    "XREAD STREAMS s s2 0 0",
    "XREAD STREAMS nokey 0",
    "XINFO STREAM s2",
    "@2",
    "XREAD STREAMS s s2 0 0",
    "XREAD COUNT 1 STREAMS s s2 0 0",
    "XINFO STREAM s2",
  ],
  "entries-read and lag as XINFO GROUPS counts them, through deletions and SETID": [
    "XADD s 1-1 a 1",
    "XADD s 2-1 a 1",
    "XADD s 3-1 a 1",
    "XGROUP CREATE s g1 $",
    "XGROUP CREATE s g2 0",
    "XGROUP CREATE s g3 2-1",
    "XGROUP CREATE s g4 0 ENTRIESREAD 100",
    "XGROUP CREATE s g5 1-1 ENTRIESREAD 1",
    "XINFO GROUPS s",
    "XREADGROUP GROUP g2 c COUNT 1 STREAMS s >",
    "XREADGROUP GROUP g3 c STREAMS s >",
    "XINFO GROUPS s",
    "XDEL s 2-1",
    "XINFO GROUPS s",
    "XREADGROUP GROUP g2 c STREAMS s >",
    "XREADGROUP GROUP g5 c STREAMS s >",
    "XINFO GROUPS s",
    "XGROUP SETID s g1 -",
    "XGROUP SETID s g2 +",
    "XGROUP SETID s g3 (1",
    "XGROUP SETID s g3 0 ENTRIESREAD 0",
    "XINFO GROUPS s",
    "XADD s 4-1 a 1",
    "XDEL s 1-1",
    "XINFO GROUPS s",
    "XREADGROUP GROUP g3 c STREAMS s >",
    "XINFO GROUPS s",
    "XTRIM s MAXLEN 0",
    "XINFO GROUPS s",
    "XADD s 5-1 a 1",
    "XREADGROUP GROUP g1 c STREAMS s >",
    "XINFO GROUPS s",
    "XSETID s 9-9 ENTRIESADDED 0 MAXDELETEDID 0-0",
    "XINFO GROUPS s",
  ],
  "XREAD and XREADGROUP: options, IDs and errors in Redis's order": [
    "XADD s 1-1 a 1",
    "SET str x",
    "XGROUP CREATE s g 0",
    "XREAD",
    "XREAD STREAMS",
    "XREAD STREAMS s",
    "XREAD STREAMS s 0 x",
    "XREAD COUNT x STREAMS s 0",
    "XREAD COUNT -5 STREAMS s 0",
    "XREAD BLOCK x STREAMS s 0",
    "XREAD BLOCK -1 STREAMS s 0",
    "XREAD FOO STREAMS s 0",
    "XREAD GROUP g c STREAMS s 0",
    "XREAD NOACK STREAMS s 0",
    "XREAD STREAMS s >",
    "XREAD STREAMS s +",
    "XREAD STREAMS s -",
    "XREAD STREAMS s x",
    "XREAD STREAMS str 0",
    "XREAD STREAMS nokey 0",
    "XREAD STREAMS s nokey 0 0",
    "XREAD STREAMS s $",
    "XREAD COUNT 1 COUNT 2 STREAMS s 0",
    "XREAD BLOCK 9223372036854775807 STREAMS s 0",
    "XREAD BLOCK 1.5 STREAMS s 0",
    "XREAD STREAMS str s 0 x",
    "XREAD STREAMS s str x 0",
    "XREAD COUNT 1 STREAMS",
    "XREAD STREAMS STREAMS s 0",
    "XREAD STREAMS s 1-1",
    "XREAD STREAMS s 1-0",
    "XREADGROUP STREAMS s 0",
    "XREADGROUP GROUP g STREAMS s 0",
    "XREADGROUP GROUP g c STREAMS s $",
    "XREADGROUP GROUP nog c STREAMS s 0",
    "XREADGROUP GROUP g c STREAMS nokey 0",
    "XREADGROUP GROUP g c STREAMS str 0",
    "XREADGROUP GROUP g c STREAMS s x",
    "XREADGROUP GROUP g c COUNT 1 STREAMS s 0 0",
    "XREADGROUP GROUP g c GROUP g2 c2 STREAMS s 0",
    "XREADGROUP GROUP g c STREAMS s -",
    "XREADGROUP NOACK NOACK GROUP g c STREAMS s 0",
    "XREADGROUP GROUP g c STREAMS s str > 0",
    "XREADGROUP COUNT 1 STREAMS s 0",
    "XREADGROUP GROUP g c COUNT 1 s 0 x",
    "XREADGROUP COUNT 1 NOACK STREAMS s 0",
    "XREADGROUP GROUP g c BLOCK 0 STREAMS s 0",
    "XREADGROUP GROUP g c STREAMS s 18446744073709551615-18446744073709551615",
    "XREADGROUP GROUP g d STREAMS s 18446744073709551615-18446744073709551615",
    "XREADGROUP GROUP g e STREAMS s 1-1",
    "XREADGROUP GROUP g f STREAMS s >",
    "XREADGROUP GROUP g f STREAMS s >",
    "XDEL s 1-1",
    "XREADGROUP GROUP g f STREAMS s 0",
    "XREADGROUP GROUP g f COUNT 0 STREAMS s 0",
    "@3",
    "XREADGROUP GROUP g f STREAMS s 0",
    "XREAD STREAMS nokey 0",
  ],
  "XGROUP subcommands: arity, options and errors": [
    "XADD s 1-1 a 1",
    "SET str x",
    "XGROUP CREATE s g 0",
    "XGROUP",
    "XGROUP FOO",
    "XGROUP FOO s",
    "XGROUP CREATE s",
    "XGROUP CREATE s g",
    "XGROUP CREATE nokey g $",
    "XGROUP CREATE str g $",
    "XGROUP CREATE str g $ MKSTREAM",
    "XGROUP CREATE s g x",
    "XGROUP CREATE s g $ FOO",
    "XGROUP CREATE s g $ ENTRIESREAD",
    "XGROUP CREATE s g $ ENTRIESREAD x",
    "XGROUP CREATE s g $ ENTRIESREAD -2",
    "XGROUP CREATE s gg $ ENTRIESREAD -1",
    "XGROUP CREATE s g $",
    "XGROUP CREATE s g2 +",
    "XGROUP CREATE s g3 -",
    "XGROUP CREATE s g4 >",
    "XGROUP CREATE s g5 0 ENTRIESREAD 100",
    "XGROUP CREATE s g6 0 MKSTREAM MKSTREAM",
    "XGROUP CREATE s g7 0 MKSTREAM MKSTREAM MKSTREAM MKSTREAM",
    "XGROUP CREATE newk g7 x MKSTREAM",
    "EXISTS newk",
    "XGROUP SETID s nog 0",
    "XGROUP SETID nokey g 0",
    "XGROUP SETID s g x",
    "XGROUP SETID s g $ ENTRIESREAD 3",
    "XGROUP SETID s g $ FOO",
    "XGROUP SETID s g $ MKSTREAM",
    "XGROUP SETID s g",
    "XGROUP SETID s g 0 ENTRIESREAD",
    "XGROUP SETID s g 0 ENTRIESREAD x",
    "XGROUP SETID s g 0 ENTRIESREAD -3",
    "XGROUP SETID s g 0 FOO 1",
    "XGROUP SETID s g -",
    "XGROUP SETID s g +",
    "XGROUP SETID s g (1",
    "XGROUP DESTROY s",
    "XGROUP DESTROY s g x",
    "XGROUP DESTROY nokey g",
    "XGROUP DESTROY str g",
    "XGROUP CREATECONSUMER s nog c",
    "XGROUP CREATECONSUMER nokey g c",
    "XGROUP CREATECONSUMER s g",
    "XGROUP CREATECONSUMER s g c x",
    "XGROUP DELCONSUMER s nog c",
    "XGROUP DELCONSUMER nokey g c",
    "XGROUP DELCONSUMER s g",
    "XGROUP help",
    "XGROUP HELP x",
    "xgroup create s",
    "xgroup create s g4 $ foo",
    "xgroup fOO s",
    "XINFO GROUPS s",
    "@3",
    "XGROUP HELP",
    "XINFO GROUPS s",
  ],
  "XPENDING, XCLAIM and XAUTOCLAIM: options, bounds and errors": [
    "XADD s 1-1 a 1",
    "XADD s 2-1 a 1",
    "SET str x",
    "XGROUP CREATE s g 0",
    "XREADGROUP GROUP g c1 STREAMS s >",
    "XPENDING s",
    "XPENDING s nog",
    "XPENDING nokey g",
    "XPENDING str g",
    "XPENDING s g -",
    "XPENDING s g - +",
    "XPENDING s g - + x",
    "XPENDING s g - + -1",
    "XPENDING s g - + 0",
    "XPENDING s g IDLE 5 - + 10",
    "XPENDING s g IDLE x - + 10",
    "~XPENDING s g IDLE -5 - + 10",
    "~XPENDING s g - + 10 c1 extra",
    "XPENDING s g x + 10",
    "XPENDING s g ( + 10",
    "~XPENDING s g (0 + 10",
    "XPENDING s g - (+ 10",
    "XPENDING s g (18446744073709551615-18446744073709551615 + 10",
    "XPENDING s g - (0-0 10",
    "XPENDING s g IDLE 5",
    "XPENDING s g IDLE",
    "XPENDING s g 5 - + 10",
    "XPENDING nokey g - + 10",
    "XPENDING s nog - + 10",
    "XPENDING nokey g - + x",
    "XPENDING nokey g x + 10",
    "XPENDING s g - + 10 c1 a b c d",
    "XPENDING s g IDLE 100000 - + 10",
    "XCLAIM s g c 0",
    "XCLAIM s g c x 1-1",
    "XCLAIM s g c -5 1-1",
    "XCLAIM s g c 0 x",
    "XCLAIM s g c 0 1-1 FOO",
    "XCLAIM s g c 0 1-1 IDLE",
    "XCLAIM s g c 0 1-1 IDLE x",
    "XCLAIM s g c 0 1-1 TIME x",
    "XCLAIM s g c 0 1-1 RETRYCOUNT x",
    "XCLAIM s nog c 0 1-1",
    "XCLAIM nokey g c 0 1-1",
    "XCLAIM str g c 0 1-1",
    "XCLAIM nokey g c x 1-1",
    "XCLAIM str g c x 1-1",
    "XCLAIM s g c 0 1-1 x 2-2",
    "XCLAIM s g c 0 1-1 FORCE x",
    "XCLAIM s g c 9223372036854775807 1-1",
    "XCLAIM s g c 0 (1",
    "XCLAIM s g c 0 -",
    "XCLAIM s g c 0 1-1 LASTID x",
    "XCLAIM s g c 0 1-1 RETRYCOUNT -1 JUSTID",
    "~XPENDING s g - + 10",
    "XCLAIM s g c 0 1-1 RETRYCOUNT 9223372036854775807 JUSTID",
    "~XPENDING s g - + 10",
    "XCLAIM s g c 0 1-1 1-1 JUSTID",
    "~XPENDING s g - + 10",
    "XCLAIM s g c 0 1-1 IDLE -5 JUSTID",
    "XCLAIM s g c 0 1-1 TIME 1000 JUSTID",
    "~XPENDING s g - + 10",
    "XCLAIM s g c 0 1-1 TIME 99999999999999 JUSTID",
    "~XPENDING s g - + 10",
    "XCLAIM s g c 1000000 1-1",
    "XAUTOCLAIM s g c 0",
    "XAUTOCLAIM s g c x 0",
    "XAUTOCLAIM s g c 0 x",
    "XAUTOCLAIM s g c -1 0 JUSTID",
    "XAUTOCLAIM s g c 0 0 COUNT 0",
    "XAUTOCLAIM s g c 0 0 COUNT -1",
    "XAUTOCLAIM s g c 0 0 COUNT x",
    "XAUTOCLAIM s g c 0 0 COUNT 2147483648 JUSTID",
    "XAUTOCLAIM s g c 0 0 COUNT 1000000000000000",
    "XAUTOCLAIM s g c 0 0 COUNT 576460752303423488",
    "XAUTOCLAIM s g c 0 0 FOO",
    "XAUTOCLAIM s g c 0 0 COUNT",
    "XAUTOCLAIM s nog c 0 0",
    "XAUTOCLAIM nokey g c 0 0",
    "XAUTOCLAIM nokey g c x 0",
    "XAUTOCLAIM nokey g c 0 x",
    "XAUTOCLAIM nokey g c 0 0 FOO",
    "XAUTOCLAIM nokey g c 0 0 COUNT 0",
    "XAUTOCLAIM nokey g c 0 0 COUNT 1000000000000000",
    "XAUTOCLAIM str g c x 0",
    "XAUTOCLAIM str g c 0 0 FOO",
    "XAUTOCLAIM str g c 0 0",
    "XAUTOCLAIM s g c 0 (0 JUSTID",
    "XAUTOCLAIM s g c 0 - JUSTID",
    "XAUTOCLAIM s g c 0 (18446744073709551615-18446744073709551615",
    "XAUTOCLAIM s g c 0 0 JUSTID JUSTID",
    "XAUTOCLAIM s g c 0 0 COUNT 1 JUSTID",
    "XAUTOCLAIM s g c 0 2-1 COUNT 1 JUSTID",
    "XAUTOCLAIM s g c 0 3-1 COUNT 1 JUSTID",
    "XAUTOCLAIM s g c 1000000 0",
    "@3",
    "XAUTOCLAIM s g c 0 0",
    "XCLAIM s g c 0 1-1",
  ],
  "XCLAIM and XAUTOCLAIM of deleted entries, FORCE, LASTID, and XAUTOCLAIM's cursor": [
    "XADD t 1-1 a 1",
    "XADD t 2-1 b 2",
    "XADD t 3-1 c 3",
    "XGROUP CREATE t g 0",
    "XREADGROUP GROUP g alice STREAMS t >",
    "XCLAIM t g bob 0 1-1 IDLE 500",
    "XCLAIM t g bob 0 2-1 TIME 1699999990000 RETRYCOUNT 7 JUSTID",
    "XDEL t 3-1",
    "XCLAIM t g carol 0 3-1 9-9",
    "XADD t 4-1 d 4",
    "XCLAIM t g dave 0 4-1 FORCE",
    "XCLAIM t g dave 0 1-1 LASTID 7-7",
    "XCLAIM t g dave 0 9-9 LASTID 8-8",
    "~XINFO STREAM t FULL",
    "~XPENDING t g - + 100",
    "XINFO GROUPS t",
    "XADD u 1-1 a 1",
    "XADD u 2-1 b 2",
    "XADD u 3-1 c 3",
    "XGROUP CREATE u g 0",
    "XREADGROUP GROUP g alice STREAMS u >",
    "XDEL u 2-1",
    "XAUTOCLAIM u g bob 0 0 COUNT 2",
    "XAUTOCLAIM u g carol 0 0 JUSTID",
    "~XINFO STREAM u FULL",
    "XAUTOCLAIM u g carol 0 0 COUNT 1 JUSTID",
    "XAUTOCLAIM u g carol 0 (1-1 COUNT 1 JUSTID",
    "XAUTOCLAIM u g carol 10000 0 COUNT 1 JUSTID",
    "XAUTOCLAIM u g carol 10000 0 COUNT 10 JUSTID",
    "XGROUP SETID u g 0",
    "XREADGROUP GROUP g zed STREAMS u >",
    "~XPENDING u g - + 100",
    "XINFO GROUPS u",
    "@3",
    "XREADGROUP GROUP g zed STREAMS u 0",
    "XREADGROUP GROUP g nobody STREAMS u >",
    "XPENDING u g",
    "XPENDING u nog",
  ],
  "empty answers: no pending entries, nothing to read or claim, in RESP2 and RESP3": [
    "XGROUP CREATE s g $ MKSTREAM",
    "XPENDING s g",
    "XPENDING s g - + 10",
    "@3",
    "XPENDING s g",
    "XPENDING s g - + 10",
    "XINFO STREAM s FULL",
    "XINFO STREAM s",
    "XREADGROUP GROUP g c STREAMS s 0",
    "XREADGROUP GROUP g c STREAMS s >",
    "XAUTOCLAIM s g c 0 0",
    "XCLAIM s g c 0 1-1",
    "XREAD STREAMS s 0",
    "XADD s 1-1 a b",
    "XREADGROUP GROUP g c STREAMS s >",
    "XAUTOCLAIM s g c 0 0",
    "XPENDING s g",
    "XREVRANGE s + - COUNT 0",
    "XREVRANGE nokey + - COUNT 0",
  ],
  "XINFO STREAM FULL's COUNT limits the entries and each pending entries list": [
    ...Array.from({ length: 15 }, (_, i) => `XADD s ${i + 1}-0 n ${i}`),
    "XGROUP CREATE s g 0",
    "XGROUP CREATE s a 0",
    "XREADGROUP GROUP g c1 COUNT 12 STREAMS s >",
    "XREADGROUP GROUP g c2 STREAMS s >",
    "XREADGROUP GROUP a c3 STREAMS s >",
    "~XINFO STREAM s FULL",
    "~XINFO STREAM s FULL COUNT 3",
    "~XINFO STREAM s FULL COUNT 0",
    "~XINFO STREAM s FULL COUNT 100",
    "@3",
    "~XINFO STREAM s FULL COUNT 2",
  ],
  "XINFO subcommands: arity and errors": [
    "SET str x",
    "XADD s 1-1 a 1",
    "XGROUP CREATE s g 0",
    "XINFO",
    "XINFO FOO",
    "XINFO HELP",
    "XINFO STREAM",
    "XINFO STREAM nokey",
    "XINFO STREAM str",
    "XINFO GROUPS nokey",
    "XINFO GROUPS str",
    "XINFO GROUPS s x",
    "XINFO CONSUMERS s nog",
    "XINFO CONSUMERS nokey g",
    "XINFO CONSUMERS s g x",
    "XINFO CONSUMERS s g",
    "XINFO STREAM nokey FULL x",
    "XINFO HELP x",
    "xinfo foo",
    "@3",
    "XINFO HELP",
    "XINFO CONSUMERS s g",
  ],
};

/** A small deterministic PRNG (mulberry32) for generated cases. */
function prng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

/**
 * Where nodes end, as XINFO STREAM's radix tree figures and approximate trimming show it: many
 * small entries, entries large enough that the 4096-byte bound decides, integer-looking values
 * and far-apart IDs, deletions that empty whole nodes.
 */
function nodeCases(): string[] {
  const random = prng(7);
  const pick = <T>(items: T[]) => items[random(items.length)];
  const lines: string[] = [];
  for (let i = 1; i <= 250; i++) lines.push(`XADD s ${i}-1 f v`);
  lines.push("XINFO STREAM s");
  for (
    const trim of ["MAXLEN ~ 120", "MAXLEN ~ 0 LIMIT 99", "MINID ~ 230", "MAXLEN ~ 0 LIMIT 150"]
  ) {
    lines.push(`XTRIM s ${trim}`, "XINFO STREAM s");
  }
  for (let i = 1; i <= 400; i++) lines.push(`XADD a MAXLEN ~ 150 ${i}-1 f v`);
  lines.push("XINFO STREAM a", "XRANGE a - + COUNT 2");
  for (let i = 1; i <= 60; i++) {
    const size = pick([10, 50, 63, 64, 100, 200, 500, 1000, 4095, 4096, 5000]);
    lines.push(`XADD b ${i}-${random(300)} field${random(4)} ${"x".repeat(size)}`);
    if (i % 7 === 0) lines.push("XINFO STREAM b");
  }
  const values = ["1", "-5", "127", "128", "4095", "4096", "-4097", "32767", "99999", "012"];
  values.push("2147483647", "9223372036854775807", "9223372036854775808", "-0", "abc");
  let ms = 1000;
  for (let i = 1; i <= 300; i++) {
    ms += pick([1, 1, 100, 100000, 5000000000]);
    const fields = Array.from({ length: 1 + random(5) }, (_, j) => `f${j} ${pick(values)}`);
    lines.push(`XADD c ${ms}-${random(70000)} ${fields.join(" ")}`);
    if (i % 20 === 0) lines.push("XINFO STREAM c");
  }
  for (let i = 1; i < 500; i++) lines.push(`XADD d ${i}-0 a ${i}`);
  for (let i = 0; i < 300; i++) lines.push(`XDEL d ${1 + random(499)}-0`);
  lines.push("XINFO STREAM d");
  for (let i = 500; i < 700; i++) lines.push(`XADD d ${i}-0 a ${i}`);
  lines.push("XINFO STREAM d", "XTRIM d MAXLEN ~ 100", "XINFO STREAM d");
  lines.push("XTRIM d MINID ~ 600", "XINFO STREAM d", "XTRIM d MINID 650", "XINFO STREAM d");
  let id = 0n;
  for (let i = 1; i <= 200; i++) {
    id += BigInt(pick([1, 256, 65536, 2 ** 24, 2 ** 32])) * BigInt(1 + random(1000));
    lines.push(`XADD e ${id}-${random(2 ** 20)} a 1`);
  }
  lines.push("XINFO STREAM e");
  return lines;
}

/** `c` as an argv (see the module doc). */
function argvOf(line: string): string[] {
  return line.split(" ").map((arg) => arg === "''" ? "" : arg.replaceAll("\\s", " "));
}

const masked = (reply: string) =>
  reply.replace(/:-?\d+\r\n/g, ":#\r\n").replace(/1[67]\d{11}/g, "<ms>");

describe("stream replies equal redis-server's", () => {
  const reference = referenceRedis(before, after);

  const cases: [string, string[]][] = [
    ...Object.entries(CASES),
    ["stream nodes end where Redis's do: radix tree figures and ~ trimming", nodeCases()],
  ];
  for (const [name, script] of cases) {
    it(name, async (t) => {
      const redis = reference();
      if (redis === undefined) return t.skip("redis-server is not installed");
      await redis.run("HELLO", "2");
      await redis.run("FLUSHALL");
      const ours = harness();
      for (const line of script) {
        if (line === "@2" || line === "@3") {
          await redis.run("HELLO", line.slice(1));
          ours.run("HELLO", line.slice(1));
          continue;
        }
        const loose = line.startsWith("~");
        const argv = argvOf(loose ? line.slice(1) : line);
        const expected = await redis.run(...argv);
        const actual = ours.run(...argv);
        if (loose) assert.equal(masked(actual), masked(expected), line);
        else assert.equal(actual, expected, line);
      }
    });
  }
});

/** A raw connection to redis-server, for a subscriber of its keyspace events. */
class Subscriber {
  private buffer = "";
  private wake: (() => void) | null = null;

  private constructor(private readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.buffer += chunk.toString("latin1");
      this.wake?.();
    });
  }

  static open(port: number): Promise<Subscriber> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, "127.0.0.1", () => resolve(new Subscriber(socket)));
      socket.once("error", reject);
    });
  }

  send(...argv: string[]): void {
    let text = `*${argv.length}\r\n`;
    for (const arg of argv) text += `$${arg.length}\r\n${arg}\r\n`;
    this.socket.write(Buffer.from(text, "latin1"));
  }

  async next(): Promise<unknown> {
    for (;;) {
      const length = replyLength(this.buffer);
      if (length !== -1) {
        const reply = this.buffer.slice(0, length);
        this.buffer = this.buffer.slice(length);
        return new RespDecoder().feed(reply)[0];
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = null;
    }
  }

  /** The events published since the last call: a PING's pong comes after all of them. */
  async events(): Promise<string[]> {
    this.send("PING");
    const events: string[] = [];
    for (;;) {
      const message = await this.next() as string[];
      if (message[0] === "pong") return events;
      // pmessage, pattern, channel (__keyevent@0__:<event>), key
      events.push(`${message[2].slice(message[2].indexOf(":") + 1)} ${message[3]}`);
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A dispatcher whose writes raise keyspace events (as `node.ts` wires them) into a list. */
function eventHarness() {
  const nowMs = START_MS;
  const keyspace = new Keyspace([{
    name: "default",
    maxMemoryBytes: 0,
    evictionPolicy: "noeviction",
    defaultTtlMs: 0,
  }], { monotonicMs: () => 0, realtimeMs: () => nowMs });
  const events: string[] = [];
  const dispatcher = new Dispatcher(createCommandTable(), keyspace, { info: () => "" }, {
    written: (db, spec, argv) => {
      const store = keyspace.stores[db];
      const exists = (key: string) => store.lookup(key, false) !== undefined;
      for (const [, event, key] of keyspaceEvents(spec, argv, exists)) {
        events.push(`${event} ${key}`);
      }
    },
  });
  const client = internalClient({ id: 1 });
  const out = new ReplyWriter();
  return {
    run(argv: string[]): string[] {
      dispatcher.execute(client, out, argv);
      out.take();
      return events.splice(0);
    },
  };
}

const EVENT_SCRIPT = [
  "XADD s 1-1 a 1",
  "XADD s MAXLEN 1 2-1 a 1",
  "XADD s MAXLEN 5 3-1 a 1",
  "XADD s MAXLEN ~ 0 4-1 a 1",
  "XADD nos NOMKSTREAM 2-1 a 1",
  "XTRIM s MAXLEN 0",
  "XTRIM s MAXLEN 0",
  "XADD s 5-1 a 1",
  "XDEL s 5-1",
  "XDEL s 5-1",
  "XSETID s 10-1",
  "XSETID s 1-1",
  "XGROUP CREATE s g 0",
  "XGROUP CREATE s g 0",
  "XGROUP CREATE t g $ MKSTREAM",
  "XGROUP CREATECONSUMER s g c",
  "XGROUP CREATECONSUMER s g c",
  "XGROUP SETID s g 0",
  "XADD s 11-1 a 1",
  "XREADGROUP GROUP g d STREAMS s >",
  "XREADGROUP GROUP g d STREAMS s >",
  "XREADGROUP GROUP g e STREAMS s 0",
  "XREADGROUP GROUP g e2 STREAMS s >",
  "XACK s g 11-1",
  "XCLAIM s g f 0 11-1",
  "XADD s 12-1 a 1",
  "XREADGROUP GROUP g d STREAMS s t > >",
  "XGROUP CREATE t g2 0",
  "XREADGROUP GROUP g2 d STREAMS s t > >",
  "XCLAIM s g f 0 12-1",
  "XCLAIM s g d 0 12-1",
  "XAUTOCLAIM s g h 0 0",
  "XDEL s 12-1",
  "XAUTOCLAIM s g h 0 0",
  "XAUTOCLAIM s g i 0 0",
  "XADD s 13-1 a 1",
  "XREADGROUP GROUP g d NOACK STREAMS s >",
  "XADD s 14-1 a 1",
  "XREADGROUP GROUP g newc NOACK STREAMS s >",
  "XGROUP DELCONSUMER s g c",
  "XGROUP DELCONSUMER s g zz",
  "XGROUP DESTROY s g",
  "XGROUP DESTROY s g",
  "XADD s MAXLEN 0 15-1 a 1",
  "DEL s t",
];

describe("stream keyspace events", () => {
  const reference = referenceRedis(before, after);

  it("are the ones redis-server publishes with notify-keyspace-events KEA, command by command", async (t) => {
    const redis = reference();
    if (redis === undefined) return t.skip("redis-server is not installed");
    await redis.run("FLUSHALL");
    await redis.run("CONFIG", "SET", "notify-keyspace-events", "KEA");
    const subscriber = await Subscriber.open(redis.port);
    try {
      subscriber.send("PSUBSCRIBE", "__keyevent@0__:*");
      await subscriber.next();
      const ours = eventHarness();
      for (const line of EVENT_SCRIPT) {
        const argv = argvOf(line);
        await redis.run(...argv);
        assert.deepEqual(ours.run(argv), await subscriber.events(), line);
      }
    } finally {
      subscriber.close();
      await redis.run("CONFIG", "SET", "notify-keyspace-events", "");
    }
  });
});

describe("what stream commands hand the AOF", () => {
  const logged = (lines: string[]) => {
    const h = harness();
    for (const line of lines) h.run(...argvOf(line));
    return h.propagated.map((record) => record.slice(1).join(" "));
  };

  it("logs the ID that * or ms-* generated, and approximate trimming as the exact result", () => {
    const lines = ["XADD s * a 1", "XADD m 5-* a 1", "XADD s MAXLEN ~ 1 LIMIT 10 * b 2"];
    for (let i = 1; i <= 150; i++) lines.push(`XADD big ${i}-0 n ${i}`);
    lines.push(
      "XTRIM big MAXLEN ~ 10",
      "XTRIM big MINID ~ 1000 LIMIT 100",
      "XTRIM big MAXLEN ~ 10",
    );
    lines.push("XADD e MINID ~ 1000 5-5 x y", "XTRIM nokey MAXLEN 0", "XADD nos NOMKSTREAM * a b");
    const records = logged(lines).filter((record) => !record.startsWith("XADD big"));
    assert.deepEqual(records, [
      `XADD s ${START_MS}-0 a 1`,
      "XADD m 5-0 a 1",
      // Nothing was trimmed (one node): the length it came to.
      `XADD s MAXLEN = 2 ${START_MS}-1 b 2`,
      "XTRIM big MAXLEN = 50",
      // The last node removed with the limit: an empty stream's first ID is the largest.
      "XTRIM big MINID = 18446744073709551615-18446744073709551615",
      "XADD e MINID = 18446744073709551615-18446744073709551615 5-5 x y",
    ]);
  });

  it("logs XREADGROUP as claims with absolute times, the group's last ID and entries read", () => {
    const records = logged([
      "XADD s 1-1 a 1",
      "XADD s 2-1 b 2",
      "XGROUP CREATE s g 0",
      "XREADGROUP GROUP g alice COUNT 1 STREAMS s >",
      "XREADGROUP GROUP g bob STREAMS s >",
      "XREADGROUP GROUP g carol STREAMS s >",
      "XREADGROUP GROUP g alice STREAMS s 0",
      "XREADGROUP GROUP g dave STREAMS s 0",
      "XADD s 3-1 c 3",
      "XREADGROUP GROUP g erin NOACK STREAMS s >",
    ]).slice(3);
    const claim = (consumer: string, id: string, count: number, last: string) =>
      `XCLAIM s g ${consumer} 0 ${id} TIME ${START_MS} RETRYCOUNT ${count} FORCE JUSTID LASTID ${last}`;
    assert.deepEqual(records, [
      "MULTI",
      claim("alice", "1-1", 1, "1-1"),
      "XGROUP SETID s g 1-1 ENTRIESREAD 1",
      "EXEC",
      "MULTI",
      claim("bob", "2-1", 1, "2-1"),
      "XGROUP SETID s g 2-1 ENTRIESREAD 2",
      "EXEC",
      // carol read nothing new: no consumer, nothing logged; alice's history read counts again.
      claim("alice", "1-1", 2, "2-1"),
      "XGROUP CREATECONSUMER s g dave",
      "XADD s 3-1 c 3",
      "MULTI",
      "XGROUP CREATECONSUMER s g erin",
      "XGROUP SETID s g 3-1 ENTRIESREAD 3",
      "EXEC",
    ]);
  });

  it("logs XCLAIM and XAUTOCLAIM as the claims they made, deleted entries dropped", () => {
    const records = logged([
      "XADD s 1-1 a 1",
      "XADD s 2-1 b 2",
      "XGROUP CREATE s g 0",
      "XREADGROUP GROUP g alice STREAMS s >",
      "XCLAIM s g bob 0 1-1 IDLE 500 JUSTID",
      "XCLAIM s g bob 0 1-1 9-9 LASTID 7-7",
      "XCLAIM s g bob 0 9-9 LASTID 8-8",
      "XDEL s 2-1",
      "XAUTOCLAIM s g carol 0 0",
      "XAUTOCLAIM s g carol 0 0",
    ]).slice(8);
    assert.deepEqual(records, [
      `XCLAIM s g bob 0 1-1 TIME ${START_MS - 500} RETRYCOUNT 1 FORCE JUSTID LASTID 2-1`,
      `XCLAIM s g bob 0 1-1 TIME ${START_MS} RETRYCOUNT 2 FORCE JUSTID LASTID 7-7`,
      "XGROUP SETID s g 8-8 ENTRIESREAD 2",
      "XDEL s 2-1",
      "MULTI",
      `XCLAIM s g carol 0 1-1 TIME ${START_MS} RETRYCOUNT 3 FORCE JUSTID LASTID 8-8`,
      `XCLAIM s g alice 0 2-1 TIME ${START_MS} RETRYCOUNT 1 FORCE JUSTID LASTID 8-8`,
      "EXEC",
      `XCLAIM s g carol 0 1-1 TIME ${START_MS} RETRYCOUNT 4 FORCE JUSTID LASTID 8-8`,
    ]);
  });

  it("logs nothing for reads, refusals and no-ops", () => {
    const records = logged([
      "XADD s 1-1 a 1",
      "XGROUP CREATE s g $",
      "XRANGE s - +",
      "XREAD STREAMS s 0",
      "XREADGROUP GROUP g c STREAMS s >",
      "XINFO STREAM s FULL",
      "XPENDING s g",
      "XACK s g 1-1",
      "XDEL s 9-9",
      "XCLAIM s g c 0 1-1",
      "XAUTOCLAIM s g c 0 0",
      "XGROUP CREATECONSUMER s g c",
      "XGROUP CREATECONSUMER s g c",
      "XGROUP DELCONSUMER s g nobody",
      "XGROUP DESTROY s nogroup",
      "XGROUP HELP",
      "XADD s 1-1 a 1",
    ]);
    assert.deepEqual(records, [
      "XADD s 1-1 a 1",
      "XGROUP CREATE s g $",
      "XGROUP CREATECONSUMER s g c",
    ]);
  });
});

describe("stream keys for routing, COMMAND GETKEYS and COMMAND INFO", () => {
  const reference = referenceRedis(before, after);

  it("give XREAD's and XREADGROUP's key specs as redis-server does: the keys after STREAMS", async (t) => {
    const redis = reference();
    if (redis === undefined) return t.skip("redis-server is not installed");
    const keySpecs = (reply: string) =>
      (new RespDecoder().feed(reply)[0] as unknown[][]).map((info) =>
        // The search and how keys are found (flags are the command's own here, coarser).
        JSON.stringify((info[8] as unknown[][]).map((spec) => {
          const fields = new Map<unknown, unknown>();
          for (let i = 0; i < spec.length; i += 2) fields.set(spec[i], spec[i + 1]);
          return [fields.get("begin_search"), fields.get("find_keys")];
        }))
      );
    const request = ["COMMAND", "INFO", "XREAD", "XREADGROUP", "XADD", "XGROUP"];
    assert.deepEqual(keySpecs(harness().run(...request)), keySpecs(await redis.run(...request)));
  });

  it("give every stream command redis-server's arity, flags, key positions and ACL categories", async (t) => {
    const redis = reference();
    if (redis === undefined) return t.skip("redis-server is not installed");
    const names = ["XADD", "XRANGE", "XREVRANGE", "XLEN", "XDEL", "XTRIM", "XSETID", "XREAD"];
    names.push("XREADGROUP", "XACK", "XPENDING", "XCLAIM", "XAUTOCLAIM", "XGROUP", "XINFO");
    // deno-lint-ignore no-explicit-any
    const shape = (info: any[]): unknown => [
      info[0],
      info[1],
      [...info[2]].sort(),
      info[3],
      info[4],
      info[5],
      info[6],
      // deno-lint-ignore no-explicit-any
      (info[9] as any[][]).map(shape).sort((a, b) =>
        JSON.stringify(a) < JSON.stringify(b) ? -1 : 1
      ),
    ];
    // deno-lint-ignore no-explicit-any
    const decode = (reply: string) => (new RespDecoder().feed(reply)[0] as any[][]).map(shape);
    const request = ["COMMAND", "INFO", ...names];
    assert.deepEqual(decode(harness().run(...request)), decode(await redis.run(...request)));
  });

  it("route XREAD by its stream keys only", () => {
    const h = harness();
    assert.equal(
      h.run(
        "COMMAND",
        "GETKEYS",
        "XREAD",
        "COUNT",
        "2",
        "BLOCK",
        "0",
        "STREAMS",
        "a",
        "b",
        "$",
        "0",
      ),
      `*2\r\n${bulk("a")}${bulk("b")}`,
    );
  });
});
