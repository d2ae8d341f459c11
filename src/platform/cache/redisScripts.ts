import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/** A Lua script sent by SHA, and by text once when Redis does not know it yet (NOSCRIPT). */
export interface RedisScript {
  readonly lua: string;
  readonly sha: string;
}

function script(lua: string): RedisScript {
  return { lua, sha: createHash('sha1').update(lua).digest('hex') };
}

/**
 * The miss path, in one round trip: the value if it appeared since the caller's GET (a concurrent
 * load stored it), else the key's generation token, created if absent. KEYS = value, generation;
 * ARGV = fresh token, generation TTL ms. Returns {1, value} or {0, token, created (1 or 0)}.
 */
export const READ_OR_TOKEN = script(`
local v = redis.call('GET', KEYS[1])
if v then return {1, v} end
local g = redis.call('GET', KEYS[2])
if not g then
  redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
  return {0, ARGV[1], 1}
end
return {0, g, 0}
`);

/**
 * A failed load's clean-up: deletes the generation key its miss created, only if it still holds that
 * token, so that a read of a key that has nothing to load (an unknown restaurant: a 404) leaves no key
 * behind. Safe for the fence: an eviction since then replaced the token (and is kept), and a token
 * created afresh later is random, so no load holding the deleted one can ever store.
 * KEYS = generation; ARGV = token. Returns 1 deleted, 0 left alone.
 */
export const RELEASE_TOKEN = script(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`);

/**
 * The fenced write at the end of a load: store only if the generation is still the token read
 * before the load began. An eviction replaces the token (and deletes the value), so a load that
 * started before a committed change and finishes after its eviction cannot write the old
 * document back. Tokens are random, never counters, so a generation key that expired or was
 * evicted by Redis under memory pressure can never come back equal (no ABA).
 * KEYS = value, generation; ARGV = token, payload, TTL ms. Returns 1 stored, 0 fenced out.
 */
export const STORE_IF_CURRENT = script(`
if redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
`);

/** Runs a script by SHA (replies as Buffers, so binary bodies survive), falling back to its text once. */
export async function runScript(redis: Redis, s: RedisScript, keys: readonly string[], args: ReadonlyArray<string | Buffer | number>): Promise<unknown> {
  try {
    return await redis.callBuffer('EVALSHA', [s.sha, keys.length, ...keys, ...args]);
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
    return redis.callBuffer('EVAL', [s.lua, keys.length, ...keys, ...args]);
  }
}
