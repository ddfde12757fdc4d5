//! The kv port on a Redis server shared by every node (`kv.backend = "redis"`).
//!
//! Keys are `<prefix>kv:<key>`; token buckets are hashes at `<prefix>bucket:<key>`. Every
//! read-modify-write (a counter's first increment opening its window, a token taken from a
//! bucket) is one Lua script, so it is atomic across nodes; bucket arithmetic uses the Redis
//! server's clock, so nodes whose clocks differ still share one refill rate. A command that gets
//! no answer within [`RESPONSE_TIMEOUT`] fails (the request answers 503, `/ready` reports the
//! kv down) instead of hanging; the connection is re-established in the background.

use std::time::Duration;

use async_trait::async_trait;
use redis::{
    Script,
    aio::{ConnectionManager, ConnectionManagerConfig},
};

use super::{Bucket, Counter, Kv, KvError};

/// Longest wait for one command's answer.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest wait for a connection to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// INCR; the first increment (or one finding no expiry) sets the window. Returns {count, pttl}.
const INCR: &str = r"
local count = redis.call('INCR', KEYS[1])
if count == 1 or redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return {count, redis.call('PTTL', KEYS[1])}
";

/// A counter's value and remaining window without counting; nil when absent.
const PEEK: &str = r"
local count = redis.call('GET', KEYS[1])
if not count then return nil end
return {tonumber(count), redis.call('PTTL', KEYS[1])}
";

/// Take a token: ARGV = capacity, tokens per millisecond. Returns 0 when granted, else the
/// milliseconds until a token is back. The bucket expires once it would be full again.
const TAKE_TOKEN: &str = r"
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local level = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(level[1])
local at = tonumber(level[2])
if tokens == nil or at == nil then
  tokens = capacity
  at = now
end
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate) + 1000)
return wait
";

/// Take or renew a lease: ARGV = holder, ttl in ms. 1 when held by the holder now.
const HOLD_LEASE: &str = r"
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
";

/// Delete a lease if ARGV[1] holds it.
const RELEASE_LEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
";

#[derive(Clone)]
pub struct RedisKv {
    conn: ConnectionManager,
    prefix: String,
    incr: std::sync::Arc<Script>,
    peek: std::sync::Arc<Script>,
    take_token: std::sync::Arc<Script>,
    hold_lease: std::sync::Arc<Script>,
    release_lease: std::sync::Arc<Script>,
}

/// A connection to `url` that reconnects by itself and times out commands.
pub async fn connect(url: &str) -> Result<ConnectionManager, KvError> {
    let client = redis::Client::open(url).map_err(KvError::backend)?;
    let config = ConnectionManagerConfig::new()
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_secs(1));
    client
        .get_connection_manager_with_config(config)
        .await
        .map_err(KvError::backend)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A remaining PTTL as a duration (-1 and -2, no expiry and gone, as zero).
fn remaining(pttl: i64) -> Duration {
    Duration::from_millis(u64::try_from(pttl).unwrap_or(0))
}

impl RedisKv {
    /// Connect to `url`; every key starts with `prefix`.
    pub async fn open(url: &str, prefix: &str) -> Result<Self, KvError> {
        Ok(Self {
            conn: connect(url).await?,
            prefix: prefix.to_owned(),
            incr: std::sync::Arc::new(Script::new(INCR)),
            peek: std::sync::Arc::new(Script::new(PEEK)),
            take_token: std::sync::Arc::new(Script::new(TAKE_TOKEN)),
            hold_lease: std::sync::Arc::new(Script::new(HOLD_LEASE)),
            release_lease: std::sync::Arc::new(Script::new(RELEASE_LEASE)),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}kv:{key}", self.prefix)
    }
}

#[async_trait]
impl Kv for RedisKv {
    /// The server's version (`Redis 7.0.15`) and uptime.
    async fn server(&self) -> Result<Option<(String, Duration)>, KvError> {
        let info: String = redis::cmd("INFO")
            .arg("server")
            .query_async(&mut self.conn.clone())
            .await
            .map_err(KvError::backend)?;
        let field = |name: &str| {
            info.lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
                .map(str::trim)
        };
        let version = field("redis_version").unwrap_or("unknown");
        let uptime = field("uptime_in_seconds")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        Ok(Some((
            format!("Redis {version}"),
            Duration::from_secs(uptime),
        )))
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        redis::cmd("GET")
            .arg(self.key(key))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(KvError::backend)
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), KvError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(key)).arg(value);
        match ttl {
            // Redis refuses a zero expiry: a value that expires at once is no value.
            Some(ttl) if ttl.is_zero() => return self.delete(key).await,
            Some(ttl) => {
                cmd.arg("PX").arg(millis(ttl));
            }
            None => {}
        }
        cmd.query_async::<()>(&mut self.conn.clone())
            .await
            .map_err(KvError::backend)
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        redis::cmd("GETDEL")
            .arg(self.key(key))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(KvError::backend)
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        redis::cmd("DEL")
            .arg(self.key(key))
            .query_async::<()>(&mut self.conn.clone())
            .await
            .map_err(KvError::backend)
    }

    async fn incr(&self, key: &str, window: Duration) -> Result<Counter, KvError> {
        let (count, pttl): (u64, i64) = self
            .incr
            .key(self.key(key))
            .arg(millis(window))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(KvError::backend)?;
        Ok(Counter {
            count,
            resets_in: remaining(pttl),
        })
    }

    async fn take_token(&self, key: &str, bucket: Bucket) -> Result<Option<Duration>, KvError> {
        let per_ms = f64::from(bucket.per_minute.max(1)) / 60_000.0;
        let wait: u64 = self
            .take_token
            .key(format!("{}bucket:{key}", self.prefix))
            .arg(bucket.capacity.max(1))
            .arg(per_ms)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(KvError::backend)?;
        Ok((wait > 0).then(|| Duration::from_millis(wait)))
    }

    async fn peek(&self, key: &str) -> Result<Option<Counter>, KvError> {
        let found: Option<(u64, i64)> = self
            .peek
            .key(self.key(key))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(KvError::backend)?;
        Ok(found
            .filter(|(_, pttl)| *pttl != -2)
            .map(|(count, pttl)| Counter {
                count,
                resets_in: remaining(pttl),
            }))
    }

    async fn hold_lease(&self, key: &str, holder: &str, ttl: Duration) -> Result<bool, KvError> {
        let held: i64 = self
            .hold_lease
            .key(format!("{}lease:{key}", self.prefix))
            .arg(holder)
            .arg(millis(ttl).max(1))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(KvError::backend)?;
        Ok(held == 1)
    }

    async fn release_lease(&self, key: &str, holder: &str) -> Result<(), KvError> {
        self.release_lease
            .key(format!("{}lease:{key}", self.prefix))
            .arg(holder)
            .invoke_async::<i64>(&mut self.conn.clone())
            .await
            .map(drop)
            .map_err(KvError::backend)
    }

    async fn ping(&self) -> Result<(), KvError> {
        redis::cmd("PING")
            .query_async::<String>(&mut self.conn.clone())
            .await
            .map(drop)
            .map_err(KvError::backend)
    }
}
