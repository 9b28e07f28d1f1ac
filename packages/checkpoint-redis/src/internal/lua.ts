/**
 * The Lua scripts behind `RedisCheckpointer`. Each lease operation is one script, so Redis runs it
 * atomically: the owner/counter check and the write can never be interleaved with another client's
 * command. Every expiry is computed from the server's clock (`TIME`), never the client's.
 *
 * Storage (see `RedisCheckpointer.keys`):
 * - `shards` hash: field shardId → JSON `{ owner?, leaseCounter, expiresAt, checkpoint?, ended, handOffTo? }`
 *   (`checkpoint` is `{ sequenceNumber: string, subSequenceNumber?: number }`; absent fields are unset).
 * - `workers` hash: field workerId → JSON `{ lastSeen, expiresAt }`; the key itself expires with the
 *   last live worker.
 *
 * Replies are `{ status, stateJson }` arrays of strings, so no Lua number is truncated on the way out.
 * cjson keeps 14 significant digits: epoch milliseconds (13 digits) and lease counters are exact.
 *
 * @internal
 */

/** Shared helpers, prepended to every script. */
const prelude = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function fenced(key, shard_id, owner, counter)
  local raw = redis.call('HGET', key, shard_id)
  if not raw then return nil, { 'lost', '' } end
  local s = cjson.decode(raw)
  if s.owner ~= owner or s.leaseCounter ~= counter then return nil, { 'lost', raw } end
  return s, nil
end
local function save(key, shard_id, s)
  local out = cjson.encode(s)
  redis.call('HSET', key, shard_id, out)
  return out
end
`

/** @internal */
export interface ScriptDefinition {
  readonly name: string
  readonly numberOfKeys: number
  readonly lua: string
}

const define = (name: string, numberOfKeys: number, body: string): ScriptDefinition => ({
  name: `effectKinesisCheckpointer${name}`,
  numberOfKeys,
  lua: prelude + body
})

/**
 * KEYS[1] shards · ARGV shardId, workerId, ttlMs → `{ "ok", state }` or `{ "held", state }`.
 *
 * @internal
 */
export const acquire = define(
  "Acquire",
  1,
  `
local key, shard_id, worker, ttl = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])
local now = now_ms()
local raw = redis.call('HGET', key, shard_id)
local s
if raw then
  s = cjson.decode(raw)
else
  s = { leaseCounter = 0, expiresAt = 0, ended = false }
end
if s.owner ~= nil and s.owner ~= worker and s.expiresAt > now then
  return { 'held', raw }
end
-- a hand-off request is about the previous owner: moot once the lease changes hands
if s.owner ~= worker or s.handOffTo == worker then s.handOffTo = nil end
s.owner = worker
s.leaseCounter = s.leaseCounter + 1
s.expiresAt = now + ttl
return { 'ok', save(key, shard_id, s) }
`
)

/**
 * KEYS[1] shards · ARGV shardId, owner, leaseCounter, ttlMs → `{ "ok", state }` or `{ "lost", state | "" }`.
 *
 * @internal
 */
export const renew = define(
  "Renew",
  1,
  `
local s, lost = fenced(KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3]))
if lost then return lost end
s.expiresAt = now_ms() + tonumber(ARGV[4])
return { 'ok', save(KEYS[1], ARGV[1], s) }
`
)

/**
 * KEYS[1] shards · ARGV shardId, owner, leaseCounter → `{ "ok", state }` or `{ "lost", state | "" }`.
 *
 * @internal
 */
export const release = define(
  "Release",
  1,
  `
local s, lost = fenced(KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3]))
if lost then return lost end
s.owner = nil
s.expiresAt = 0
s.handOffTo = nil
return { 'ok', save(KEYS[1], ARGV[1], s) }
`
)

/**
 * KEYS[1] shards · ARGV shardId, owner, leaseCounter, hasCheckpoint ("1" / "0"), sequenceNumber,
 * subSequenceNumber ("" = none), ended ("1" = mark ended) → `{ "ok", state }` or `{ "lost", state | "" }`.
 * One script serves `checkpoint` and `markEnded` (with or without a final checkpoint).
 *
 * @internal
 */
export const checkpoint = define(
  "Checkpoint",
  1,
  `
local s, lost = fenced(KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3]))
if lost then return lost end
if ARGV[4] == '1' then
  local c = { sequenceNumber = ARGV[5] }
  if ARGV[6] ~= '' then c.subSequenceNumber = tonumber(ARGV[6]) end
  s.checkpoint = c
end
if ARGV[7] == '1' then s.ended = true end
return { 'ok', save(KEYS[1], ARGV[1], s) }
`
)

/**
 * KEYS[1] shards · ARGV shardId, to → `{ "set" | "unchanged", state | "" }`.
 *
 * @internal
 */
export const requestHandOff = define(
  "RequestHandOff",
  1,
  `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return { 'unchanged', '' } end
local s = cjson.decode(raw)
if s.owner == nil or s.owner == ARGV[2] then return { 'unchanged', raw } end
s.handOffTo = ARGV[2]
return { 'set', save(KEYS[1], ARGV[1], s) }
`
)

/**
 * KEYS[1] workers · ARGV workerId, ttlMs → `{ "ok", worker }`. Drops expired workers and lets the key
 * expire with the last live one (so random worker ids of past processes do not pile up).
 *
 * @internal
 */
export const heartbeat = define(
  "Heartbeat",
  1,
  `
local key, worker, ttl = KEYS[1], ARGV[1], tonumber(ARGV[2])
local now = now_ms()
local out = cjson.encode({ lastSeen = now, expiresAt = now + ttl })
redis.call('HSET', key, worker, out)
local all = redis.call('HGETALL', key)
local last = now + ttl
for i = 1, #all, 2 do
  local w = cjson.decode(all[i + 1])
  if w.expiresAt <= now then
    redis.call('HDEL', key, all[i])
  elseif w.expiresAt > last then
    last = w.expiresAt
  end
end
redis.call('PEXPIREAT', key, last)
return { 'ok', out }
`
)

/**
 * KEYS[1] workers → `{ now, workerId, worker, workerId, worker, … }` for the live workers only (read-only).
 *
 * @internal
 */
export const workers = define(
  "Workers",
  1,
  `
local now = now_ms()
local all = redis.call('HGETALL', KEYS[1])
local live = { tostring(now) }
for i = 1, #all, 2 do
  local w = cjson.decode(all[i + 1])
  if w.expiresAt > now then
    live[#live + 1] = all[i]
    live[#live + 1] = all[i + 1]
  end
end
return live
`
)

/** @internal */
export const all: ReadonlyArray<ScriptDefinition> = [
  acquire,
  renew,
  release,
  checkpoint,
  requestHandOff,
  heartbeat,
  workers
]
