package redisstore

import "github.com/redis/go-redis/v9"

// The session scripts. Times reach them in two forms: unix nanoseconds as
// 20-digit strings, compared as strings, which is exact; and unix
// microseconds, the scores of the live set, which a double holds exactly.
// A session is live while its expiry (field e) is after now. Scores order
// the live set; a session whose score equals now's microsecond is checked
// against its exact expiry.
//
// The prelude's helpers take the sorted set z, the session key prefix sp,
// and now as nowus (microseconds, a string: it must not pass through a Lua
// number, whose tostring would round it) and nowns.
const prelude = `
local function live(e, nowns)
  return e and e > nowns
end

local function live_count(z, sp, nowus, nowns)
  local n = redis.call('ZCOUNT', z, '(' .. nowus, '+inf')
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', z, nowus, nowus)) do
    if live(redis.call('HGET', sp .. id, 'e'), nowns) then n = n + 1 end
  end
  return n
end

-- live_head returns the k live sessions expiring first.
local function live_head(z, sp, nowus, nowns, k)
  local out, offset = {}, 0
  while #out < k do
    local ids = redis.call('ZRANGEBYSCORE', z, nowus, '+inf', 'LIMIT', offset, k)
    if #ids == 0 then break end
    for _, id in ipairs(ids) do
      if #out < k and live(redis.call('HGET', sp .. id, 'e'), nowns) then out[#out + 1] = id end
    end
    offset = offset + #ids
  end
  return out
end
`

// createScript adds a session under the live-session limit.
// KEYS: session, live set. ARGV: session key prefix, nowus, nowns, max
// (0: none), evict ("1" or "0"), id, score, TTL in ms, then the fields p t s
// n c m e. Returns {"ok", {evicted IDs}}, {"dup"} or {"full"}.
var createScript = redis.NewScript(prelude + `
if redis.call('EXISTS', KEYS[1]) == 1 then return {'dup'} end
local evicted = {}
local max = tonumber(ARGV[4])
if max > 0 then
  local over = live_count(KEYS[2], ARGV[1], ARGV[2], ARGV[3]) - max + 1
  if over > 0 then
    if ARGV[5] ~= '1' then return {'full'} end
    evicted = live_head(KEYS[2], ARGV[1], ARGV[2], ARGV[3], over)
    for _, id in ipairs(evicted) do redis.call('DEL', ARGV[1] .. id) end
    if #evicted > 0 then redis.call('ZREM', KEYS[2], unpack(evicted)) end
  end
end
redis.call('HSET', KEYS[1], 'p', ARGV[9], 't', ARGV[10], 's', ARGV[11], 'n', ARGV[12],
  'c', ARGV[13], 'm', ARGV[14], 'e', ARGV[15])
redis.call('PEXPIRE', KEYS[1], ARGV[8])
redis.call('ZADD', KEYS[2], ARGV[7], ARGV[6])
return {'ok', evicted}
`)

// updateScript is rendezvous.Write.Apply inside Redis.
// KEYS: session, live set. ARGV: nowns, if-match ("" for none), payload,
// content type, modified, new expiry ("" to keep it), its score, TTL in ms,
// id. Returns {"notfound"}, or "ok" or "conflict" followed by the fields
// p t s n c m e of the resulting (or current) session.
var updateScript = redis.NewScript(prelude + `
local h = redis.call('HMGET', KEYS[1], 'p', 't', 's', 'n', 'c', 'm', 'e')
if not live(h[7], ARGV[1]) then return {'notfound'} end
local n = tonumber(h[4])
if ARGV[2] == '' or ARGV[2] == h[3] .. '-' .. h[4] then
  h[1], h[2], h[4], h[6] = ARGV[3], ARGV[4], string.format('%d', n + 1), ARGV[5]
  redis.call('HSET', KEYS[1], 'p', h[1], 't', h[2], 'n', h[4], 'm', h[6])
  if ARGV[6] ~= '' then
    h[7] = ARGV[6]
    redis.call('HSET', KEYS[1], 'e', h[7])
    redis.call('PEXPIRE', KEYS[1], ARGV[8])
    redis.call('ZADD', KEYS[2], ARGV[7], ARGV[9])
  end
  return {'ok', unpack(h)}
end
-- A retry of the write that produced this version: same bytes and type,
-- naming the version that write replaced.
if n > 1 and ARGV[2] == h[3] .. '-' .. string.format('%d', n - 1) and ARGV[3] == h[1] and ARGV[4] == h[2] then
  return {'ok', unpack(h)}
end
return {'conflict', unpack(h)}
`)

// deleteScript removes a live session.
// KEYS: session, live set. ARGV: nowns, id. Returns 1, or 0 when there is
// no live session (an expired one is left for Reclaim to count).
var deleteScript = redis.NewScript(prelude + `
if not live(redis.call('HGET', KEYS[1], 'e'), ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[2])
return 1
`)

// reclaimScript removes up to a batch of expired sessions, returning how
// many it removed.
// KEYS: live set. ARGV: session key prefix, nowus, nowns, batch size.
var reclaimScript = redis.NewScript(prelude + `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2], 'LIMIT', 0, ARGV[4])
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[2], ARGV[2])) do
  if not live(redis.call('HGET', ARGV[1] .. id, 'e'), ARGV[3]) then ids[#ids + 1] = id end
end
if #ids == 0 then return 0 end
local keys = {}
for i, id in ipairs(ids) do keys[i] = ARGV[1] .. id end
redis.call('DEL', unpack(keys))
return redis.call('ZREM', KEYS[1], unpack(ids))
`)

// lenScript counts live sessions. KEYS: live set. ARGV: session key
// prefix, nowus, nowns.
var lenScript = redis.NewScript(prelude + `
return live_count(KEYS[1], ARGV[1], ARGV[2], ARGV[3])
`)
