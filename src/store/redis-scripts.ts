/**
 * Lua scripts of the Redis adapter, registered once with ioredis `defineCommand` and called by name (EVALSHA, with
 * ioredis falling back to EVAL after a SCRIPT FLUSH or a restart). Each script is one atomic step; docs/store.md
 * lists every key. Times in ARGV are the caller's `now` (ms); TTLs are computed relative to it.
 *
 * The lockout rules are not here: src/domain/lockout-rules.ts decides, and sipregSaveLock only stores the state it
 * decided, if nobody changed it meanwhile (compare-and-set on a revision counter).
 *
 * Every script touches the keys of one hash tag only (one AOR, one address, one index shard), so each runs in one
 * Redis Cluster slot. The global indexes are kept by the adapter with their own single-key commands.
 */

/** Shared helpers, prepended to every script. */
const PRELUDE = `
-- tostring() would print 9.007199254741e+15; integers must round-trip exactly.
local function fmt(n) return string.format('%.0f', n) end

-- The AOR's version lives in its binding hash, field '#v' (no binding key starts with '#': they are SIP URIs). It
-- goes up with every change of the bindings, and with what must invalidate a cached decision (a password change, a
-- lock that starts). When the hash expires with its last binding the version starts again at 0, which only ever
-- means "no bindings": a commit expecting 0 finds exactly the state it was decided on.
local VERSION = '#v'
-- A version raised without a binding change must outlive every cached snapshot (registrar.cacheSec is at most 300 s):
-- the hash is kept at least this long, or an expired bump could let a cached decision through.
local BUMP_TTL_MS = 86400000

local function bump(b)
  redis.call('HINCRBY', b, VERSION, 1)
  if redis.call('PTTL', b) < BUMP_TTL_MS then redis.call('PEXPIRE', b, BUMP_TTL_MS) end
end

-- One read of the binding hash: the AOR's version, its bindings' stored values appended to \`values\`, and whether the
-- hash exists.
local function readBindings(b, values)
  local all = redis.call('HGETALL', b)
  local v = 0
  for i = 1, #all, 2 do
    if all[i] == VERSION then v = tonumber(all[i + 1]) else values[#values + 1] = all[i + 1] end
  end
  return v, #all > 0
end

-- Removes every binding of the AOR and bumps its version; returns the removed bindings' stored values, so the caller
-- can take them off the binding counts (another slot on Redis Cluster, so not this script's to touch).
local function dropBindings(b)
  local removed = {}
  local v = readBindings(b, removed)
  redis.call('DEL', b)
  redis.call('HSET', b, VERSION, v + 1)
  redis.call('PEXPIRE', b, BUMP_TTL_MS)
  return removed
end

`;

export interface ScriptDef {
  readonly numberOfKeys: number;
  readonly lua: string;
}

function script(numberOfKeys: number, body: string): ScriptDef {
  return { numberOfKeys, lua: PRELUDE + body };
}

export const SCRIPTS = {
  /**
   * KEYS: acct, b, fail -> {acct pairs, binding pairs (with the version), fail pairs}.
   * What one REGISTER needs of its AOR, read atomically in one command (a MULTI of the same reads costs five).
   */
  sipregLoad: script(
    3,
    `
return { redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2]), redis.call('HGETALL', KEYS[3]) }
`,
  ),

  /** KEYS: acct. ARGV: field, value, ... -> 1 created, 0 exists. */
  sipregCreateAccount: script(
    1,
    `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
`,
  ),

  /**
   * KEYS: acct, b. ARGV: clear (1/0), field, value, ... -> {account hash, removed bindings}, or nil when absent.
   */
  sipregUpdateAccount: script(
    2,
    `
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
if #ARGV > 1 then redis.call('HSET', KEYS[1], unpack(ARGV, 2)) end
local removed = {}
if ARGV[1] == '1' then removed = dropBindings(KEYS[2]) end
return { redis.call('HGETALL', KEYS[1]), removed }
`,
  ),

  /** KEYS: acct. ARGV: field, value, ... -> 1 written, 0 absent. Never creates the account. */
  sipregSetIfExists: script(
    1,
    `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
`,
  ),

  /** KEYS: acct, b. ARGV: field, value, ... -> the removed bindings (all of them), or 0 when absent. */
  sipregSetCredentials: script(
    2,
    `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return dropBindings(KEYS[2])
`,
  ),

  /** KEYS: acct, b, fail -> the removed bindings (account deleted), or 0 when absent. */
  sipregDeleteAccount: script(
    3,
    `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local removed = dropBindings(KEYS[2])
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
return removed
`,
  ),

  /** KEYS: b -> the bindings that were stored. */
  sipregClearBindings: script(
    1,
    `
return dropBindings(KEYS[1])
`,
  ),

  /** KEYS: n. ARGV: nc, ttlMs -> 1 recorded, 0 replay (nc not higher than the highest seen). */
  sipregUseNonce: script(
    1,
    `
local seen = redis.call('GET', KEYS[1])
if seen and tonumber(ARGV[1]) <= tonumber(seen) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`,
  ),

  /**
   * KEYS: b, n, fail.
   * ARGV: expectedVersion, hasNonce (1/0), nc, nonceTtlMs, bindingsTtlMs, resetFailures (1/0), then (key, json)
   * pairs.
   * -> {'ok', replaced bindings...} | 'conflict' | 'replay'. Nothing is written unless 'ok'.
   */
  sipregCommit: script(
    3,
    `
if ARGV[2] == '1' then
  local seen = redis.call('GET', KEYS[2])
  if seen and tonumber(ARGV[3]) <= tonumber(seen) then return 'replay' end
end
-- One read of the hash gives both the version and the bindings this commit replaces (seven calls, not ten).
local replaced = { 'ok' }
local v, exists = readBindings(KEYS[1], replaced)
if v ~= tonumber(ARGV[1]) then return 'conflict' end
if ARGV[2] == '1' then redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4]) end
if exists then redis.call('DEL', KEYS[1]) end
redis.call('HSET', KEYS[1], VERSION, v + 1, unpack(ARGV, 7))
-- The hash lives as long as its latest binding (a commit needs no longer life for its version: see VERSION); with
-- no binding left, as long as a bumped version must.
redis.call('PEXPIRE', KEYS[1], #ARGV > 6 and ARGV[5] or BUMP_TTL_MS)
-- A success resets the consecutive failure count, not the lockout history.
if ARGV[6] == '1' and redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('HSET', KEYS[3], 'failures', '0', 'lastFailAt', '0')
end
return replaced
`,
  ),

  /**
   * KEYS: a binding count shard. ARGV: (second, delta) pairs. The shard counts bindings by the second they expire in;
   * a count that reaches 0 is removed.
   */
  sipregCountDeltas: script(
    1,
    `
for i = 1, #ARGV, 2 do
  if redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) == 0 then redis.call('HDEL', KEYS[1], ARGV[i]) end
end
return 0
`,
  ),

  /**
   * KEYS: a binding count shard. ARGV: now (ms) -> the bindings that expire after now. The seconds that have passed
   * are removed (in chunks: Lua's unpack has a stack limit).
   */
  sipregCountLive: script(
    1,
    `
local all = redis.call('HGETALL', KEYS[1])
local now = tonumber(ARGV[1])
local live, past = 0, {}
for i = 1, #all, 2 do
  if tonumber(all[i]) * 1000 > now then live = live + tonumber(all[i + 1]) else past[#past + 1] = all[i] end
end
for i = 1, #past, 1000 do redis.call('HDEL', KEYS[1], unpack(past, i, math.min(i + 999, #past))) end
return live
`,
  ),

  /**
   * KEYS: state, the AOR's binding hash (holder of its version, for an extension). ARGV: expected revision, pexpireMs (0: persist),
   * bumpVersion (1/0), then field/value pairs. -> 1 written (revision + 1, TTL in step), 0 when the revision moved
   * on (decide again). A lock that starts bumps the AOR's version, so a registration any instance decided from what
   * it had cached fails its commit and is decided again. The lock index (another slot) is the caller's.
   */
  sipregSaveLock: script(
    2,
    `
local rev = tonumber(redis.call('HGET', KEYS[1], 'rev') or '0')
if rev ~= tonumber(ARGV[1]) then return 0 end
if ARGV[3] == '1' then bump(KEYS[2]) end
redis.call('HSET', KEYS[1], 'rev', fmt(rev + 1), unpack(ARGV, 4))
if tonumber(ARGV[2]) == 0 then redis.call('PERSIST', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
`,
  ),

  /** KEYS: nonce key ring. ARGV: next secret, now -> the ring's field pairs. The old current becomes previous. */
  sipregRotateNonceKey: script(
    1,
    `
local cur = redis.call('HGET', KEYS[1], 'current')
if cur then redis.call('HSET', KEYS[1], 'previous', cur) end
redis.call('HSET', KEYS[1], 'current', ARGV[1], 'rotatedAt', ARGV[2])
return redis.call('HGETALL', KEYS[1])
`,
  ),
} as const satisfies Record<string, ScriptDef>;

export type ScriptName = keyof typeof SCRIPTS;
