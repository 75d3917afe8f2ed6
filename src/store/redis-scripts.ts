/**
 * Lua scripts of the Redis adapter, registered once with ioredis `defineCommand` and called by name (EVALSHA, with
 * ioredis falling back to EVAL after a SCRIPT FLUSH or a restart). Each script is one atomic step; docs/store.md
 * lists every key. Times in ARGV are the caller's `now` (ms); TTLs are computed relative to it.
 *
 * The lockout rules are not here: src/domain/lockout-rules.ts decides, and sipregSaveLock only stores the state it
 * decided, if nobody changed it meanwhile (compare-and-set on a revision counter).
 */

/** Shared helpers, prepended to every script. */
const PRELUDE = `
local PERMANENT = 9007199254740991
-- tostring() would print 9.007199254741e+15; integers must round-trip exactly.
local function fmt(n) return string.format('%.0f', n) end

-- Removes the AOR's binding hash, its members of the expiry index, and bumps the version.
local function dropBindings(b, v, idx, aor)
  local keys = redis.call('HKEYS', b)
  local batch = {}
  for i = 1, #keys do
    batch[#batch + 1] = aor .. '|' .. keys[i]
    if #batch == 500 then redis.call('ZREM', idx, unpack(batch)); batch = {} end
  end
  if #batch > 0 then redis.call('ZREM', idx, unpack(batch)) end
  redis.call('DEL', b)
  redis.call('INCR', v)
  return #keys
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
   * KEYS: acct, b, v, fail, addr -> {acct pairs, binding pairs, version or false, fail pairs, addr pairs}.
   * Everything one REGISTER needs, read atomically in one command (a MULTI of the same reads costs seven).
   */
  sipregLoad: script(
    5,
    `
-- 'or false': a nil inside a Lua table would cut the reply short.
return { redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2]), redis.call('GET', KEYS[3]) or false,
  redis.call('HGETALL', KEYS[4]), redis.call('HGETALL', KEYS[5]) }
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

  /** KEYS: acct, b, v, bexp. ARGV: aor, clear (1/0), field, value, ... -> the account hash, or nil when absent. */
  sipregUpdateAccount: script(
    4,
    `
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
if #ARGV > 2 then redis.call('HSET', KEYS[1], unpack(ARGV, 3)) end
if ARGV[2] == '1' then dropBindings(KEYS[2], KEYS[3], KEYS[4], ARGV[1]) end
return redis.call('HGETALL', KEYS[1])
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

  /** KEYS: acct, b, v, bexp. ARGV: aor, field, value, ... -> 1 written (bindings removed), 0 absent. */
  sipregSetCredentials: script(
    4,
    `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
dropBindings(KEYS[2], KEYS[3], KEYS[4], ARGV[1])
return 1
`,
  ),

  /** KEYS: acct, b, v, fail, bexp, locks:ext. ARGV: aor -> 1 deleted, 0 absent. */
  sipregDeleteAccount: script(
    6,
    `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
dropBindings(KEYS[2], KEYS[3], KEYS[5], ARGV[1])
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
redis.call('ZREM', KEYS[6], ARGV[1])
return 1
`,
  ),

  /** KEYS: b, v, bexp. ARGV: aor -> how many bindings were stored. */
  sipregClearBindings: script(
    3,
    `
return dropBindings(KEYS[1], KEYS[2], KEYS[3], ARGV[1])
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
   * KEYS: b, v, n, fail, bexp.
   * ARGV: aor, expectedVersion, hasNonce (1/0), nc, nonceTtlMs, bindingsTtlMs, resetFailures (1/0), then
   * (key, json, expiresAt) triples.
   * -> 'ok' | 'conflict' | 'replay'. Nothing is written unless 'ok'.
   */
  sipregCommit: script(
    5,
    `
local aor = ARGV[1]
if ARGV[3] == '1' then
  local seen = redis.call('GET', KEYS[3])
  if seen and tonumber(ARGV[4]) <= tonumber(seen) then return 'replay' end
end
local version = tonumber(redis.call('GET', KEYS[2]) or '0')
if version ~= tonumber(ARGV[2]) then return 'conflict' end
if ARGV[3] == '1' then redis.call('SET', KEYS[3], ARGV[4], 'PX', ARGV[5]) end
dropBindings(KEYS[1], KEYS[2], KEYS[5], aor)
if #ARGV > 7 then
  local fields = {}
  local members = {}
  for i = 8, #ARGV, 3 do
    fields[#fields + 1] = ARGV[i]
    fields[#fields + 1] = ARGV[i + 1]
    members[#members + 1] = ARGV[i + 2]
    members[#members + 1] = aor .. '|' .. ARGV[i]
  end
  redis.call('HSET', KEYS[1], unpack(fields))
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
  redis.call('ZADD', KEYS[5], unpack(members))
end
-- A success resets the consecutive failure count, not the lockout history.
if ARGV[7] == '1' and redis.call('EXISTS', KEYS[4]) == 1 then
  redis.call('HSET', KEYS[4], 'failures', '0', 'lastFailAt', '0')
end
return 'ok'
`,
  ),

  /**
   * KEYS: state, index, version (the AOR's, for an extension). ARGV: member, expected revision, lockedUntil, now,
   * pexpireMs (0: persist), bumpVersion (1/0), then field/value pairs. -> 1 written (revision + 1, index and TTL in
   * step), 0 when the revision moved on (decide again). A lock that starts bumps the AOR's version, so a
   * registration any instance decided from what it had cached fails its commit and is decided again.
   */
  sipregSaveLock: script(
    3,
    `
local rev = tonumber(redis.call('HGET', KEYS[1], 'rev') or '0')
if rev ~= tonumber(ARGV[2]) then return 0 end
if ARGV[6] == '1' then redis.call('INCR', KEYS[3]) end
local fields = {}
for i = 7, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], 'rev', fmt(rev + 1), unpack(fields))
if tonumber(ARGV[5]) == 0 then redis.call('PERSIST', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], ARGV[5]) end
if tonumber(ARGV[3]) > tonumber(ARGV[4]) then
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
else
  redis.call('ZREM', KEYS[2], ARGV[1])
end
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
