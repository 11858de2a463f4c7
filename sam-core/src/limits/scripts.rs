//! The Lua scripts that read and update limit state atomically in Redis.
//! `redis::Script` (redis 1.8) sends them with EVALSHA and, when the server
//! returns NOSCRIPT, loads them with SCRIPT LOAD and sends EVALSHA again.
//!
//! The GCRA script needs Redis 5 or later, where scripts replicate their
//! effects rather than their source, so it may call the non-deterministic
//! `TIME` before a write.

use std::sync::LazyLock;

use redis::Script;

/// One GCRA step on the TAT stored under `KEYS[1]`, timed by the Redis
/// server's clock so replicas with skewed clocks agree. Mirrors
/// `gcra::step`, in microseconds.
///
/// `ARGV`: emission interval, burst tolerance.
/// Returns `{allowed (0 or 1), remaining, reset_after, retry_after}`.
const GCRA: &str = r"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])

local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then
    tat = now
end
local new_tat = tat + interval
local allow_at = new_tat - tolerance

if allow_at > now then
    local remaining = math.floor((tolerance - (tat - now)) / interval)
    return {0, remaining, tat - now, allow_at - now}
end

local ttl_ms = math.max(1, math.ceil((new_tat - now) / 1000))
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', ttl_ms)
local remaining = math.floor((now - allow_at) / interval)
return {1, remaining, new_tat - now, 0}
";

/// Adds `ARGV[2]` to the day's count under `KEYS[1]` unless that would pass
/// the limit `ARGV[1]`, and sets the key to expire in `ARGV[3]`
/// milliseconds.
///
/// Returns `{allowed (0 or 1), used}`, where `used` is the count after the
/// call.
const QUOTA: &str = r"
local limit = tonumber(ARGV[1])
local amount = tonumber(ARGV[2])
local used = tonumber(redis.call('GET', KEYS[1]) or '0')

if used + amount > limit then
    return {0, used}
end

used = redis.call('INCRBY', KEYS[1], amount)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1, used}
";

pub(crate) static GCRA_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(GCRA));
pub(crate) static QUOTA_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(QUOTA));
