/**
 * The Lua scripts behind the store. Each runs atomically on the server, so the shared state
 * key, the lease key and the published message always agree, and every subscriber sees the
 * messages in the order the state changed.
 *
 * Keys: KEYS[1] = the state key, KEYS[2] = the lease key (same hash slot: `{name}` tags).
 */

/**
 * Publish an opening. ARGV: channel, stored value, open period in ms, message. The longest
 * open period wins the key (a short opening never shortens a longer one); the message always
 * goes out, and each breaker keeps the later end it knows of.
 */
export const PUBLISH_OPEN = `
local period = tonumber(ARGV[3])
if period > 0 and period > redis.call('PTTL', KEYS[1]) then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', period)
end
redis.call('PUBLISH', ARGV[1], ARGV[4])
return 1
`;

/** Publish a close: the shared open period ends. ARGV: channel, message. */
export const PUBLISH_CLOSED = `
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[1], ARGV[2])
return 1
`;

/** Read the shared open period: nil, or { stored value, ms left }. */
export const READ = `
local value = redis.call('GET', KEYS[1])
if not value then return nil end
return { value, redis.call('PTTL', KEYS[1]) }
`;

/**
 * Ask for the probe lease. ARGV: holder, ttl in ms. Returns -1 when granted (again to the same
 * holder, which renews it), otherwise the ms until asking again may help: the rest of a shared
 * open period, or of another holder's lease.
 */
export const ACQUIRE_LEASE = `
local open = redis.call('PTTL', KEYS[1])
if open > 0 then return open end
local holder = redis.call('GET', KEYS[2])
if (not holder) or holder == ARGV[1] then
  redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
  return -1
end
local left = redis.call('PTTL', KEYS[2])
if left < 0 then left = 0 end
return left
`;

/** Give the lease back if ARGV[1] still holds it. */
export const RELEASE_LEASE = `
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
return 1
`;
