//! Presence shared by the nodes of a cluster, in Redis (with `kv.backend = "redis"` and a shared
//! bus): the same rules as [`MemoryPresence`](super::presence::MemoryPresence), over every node's
//! connections.
//!
//! Layout, under the kv prefix: a hash `presence:<user>` with a connection count per node
//! (`c:<node>`), the chosen status, the last activity and last close (ms, Redis clock) and the
//! status last shown; a sorted set `presence:due` of users by the time their status may next
//! change by itself (idle → away, grace over → offline), which every node's sweep works through;
//! and `node:<node>`, a key each node refreshes with every call, which expires when the node dies.
//! Each operation is one Lua script, so a change is seen and reported by exactly one node.
//! Connections counted for a node whose key expired no longer count: a user connected only to a
//! dead node goes offline after at most [`RECHECK`] and the grace, instead of staying online.
//!
//! `active` (every client frame) is sent to Redis at most once per [`ACTIVE_EVERY`] per user from
//! each node; idle timers are minutes long.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use async_trait::async_trait;
use redis::{Script, aio::ConnectionManager};
use uuid::Uuid;

use super::presence::{Change, ChosenStatus, PresenceStore, Status};

/// Longest a connected user goes without their status being recomputed (node liveness).
const RECHECK: Duration = Duration::from_secs(60);
/// How long a node's liveness key lives without being refreshed.
const NODE_TTL: Duration = Duration::from_secs(30);
/// Activity of one user is written at most this often from one node.
const ACTIVE_EVERY: Duration = Duration::from_secs(1);
/// Most users one sweep settles.
const SWEEP_BATCH: u32 = 500;

/// The scripts share this head: the prefix, times, and `settle`, which recomputes one user's
/// status, stores it, schedules the next check and returns the status when it changed.
/// ARGV: 1 prefix, 2 node, 3 away_after ms, 4 grace ms, 5 recheck ms, 6 node ttl ms, 7.. op args.
const HEAD: &str = r"
local prefix, node = ARGV[1], ARGV[2]
local away, grace, recheck = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local due = prefix .. 'presence:due'
redis.call('SET', prefix .. 'node:' .. node, '1', 'PX', ARGV[6])

local function connections(key)
  local total = 0
  local fields = redis.call('HGETALL', key)
  for i = 1, #fields, 2 do
    local field = fields[i]
    if string.sub(field, 1, 2) == 'c:' then
      if redis.call('EXISTS', prefix .. 'node:' .. string.sub(field, 3)) == 1 then
        total = total + tonumber(fields[i + 1])
      else
        redis.call('HDEL', key, field)
      end
    end
  end
  return total
end

local function settle(user)
  local key = prefix .. 'presence:' .. user
  local n = connections(key)
  local h = redis.call('HMGET', key, 'chosen', 'active', 'closed', 'shown')
  local chosen = h[1]
  local active = tonumber(h[2]) or now
  local closed = tonumber(h[3]) or now
  local shown = h[4] or 'offline'
  local status
  if n == 0 and now - closed >= grace then status = 'offline'
  elseif chosen == 'dnd' then status = 'dnd'
  elseif chosen == 'away' then status = 'away'
  elseif now - active >= away then status = 'away'
  else status = 'online' end
  if status == 'offline' then
    redis.call('DEL', key)
    redis.call('ZREM', due, user)
  else
    redis.call('HSET', key, 'shown', status)
    local next_check = now + recheck
    if n == 0 then next_check = closed + grace
    elseif not chosen and status == 'online' then next_check = math.min(next_check, active + away) end
    redis.call('ZADD', due, next_check, user)
  end
  if status ~= shown then return status end
  return false
end
";

/// ARGV 7: op (connected, disconnected, active, choose), 8: user, 9: chosen status.
const TOUCH: &str = r"
local op, user = ARGV[7], ARGV[8]
local key = prefix .. 'presence:' .. user
if op == 'connected' then
  local shown = redis.call('HGET', key, 'shown')
  if connections(key) == 0 and (not shown or shown == 'offline') then
    redis.call('HSET', key, 'active', now)
  end
  redis.call('HINCRBY', key, 'c:' .. node, 1)
elseif op == 'disconnected' then
  if redis.call('HINCRBY', key, 'c:' .. node, -1) <= 0 then redis.call('HDEL', key, 'c:' .. node) end
  if connections(key) == 0 then redis.call('HSET', key, 'closed', now) end
elseif op == 'active' then
  if redis.call('EXISTS', key) == 0 then return false end
  redis.call('HSET', key, 'active', now)
elseif op == 'choose' then
  redis.call('HSET', key, 'active', now)
  if ARGV[9] == 'online' then redis.call('HDEL', key, 'chosen')
  else redis.call('HSET', key, 'chosen', ARGV[9]) end
end
return settle(user)
";

/// Settle the users whose check is due; returns {user, status, …} for those that changed.
const SWEEP: &str = r"
local users = redis.call('ZRANGEBYSCORE', due, '-inf', now, 'LIMIT', 0, tonumber(ARGV[7]))
local changes = {}
for _, user in ipairs(users) do
  local status = settle(user)
  if status then
    table.insert(changes, user)
    table.insert(changes, status)
  end
end
return changes
";

pub struct RedisPresence {
    conn: ConnectionManager,
    prefix: String,
    node: String,
    away_after: Duration,
    offline_grace: Duration,
    recheck: Duration,
    node_ttl: Duration,
    touch: Script,
    sweep: Script,
    /// When each user's activity was last written from this node.
    active_sent: Mutex<HashMap<Uuid, Instant>>,
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn parse_status(s: &str) -> Option<Status> {
    Some(match s {
        "online" => Status::Online,
        "away" => Status::Away,
        "dnd" => Status::Dnd,
        "offline" => Status::Offline,
        _ => return None,
    })
}

impl RedisPresence {
    pub fn new(
        conn: ConnectionManager,
        prefix: &str,
        node: &str,
        away_after: Duration,
        offline_grace: Duration,
    ) -> Self {
        Self {
            conn,
            prefix: prefix.to_owned(),
            node: node.to_owned(),
            away_after,
            offline_grace,
            recheck: RECHECK,
            node_ttl: NODE_TTL,
            touch: Script::new(&format!("{HEAD}{TOUCH}")),
            sweep: Script::new(&format!("{HEAD}{SWEEP}")),
            active_sent: Mutex::new(HashMap::new()),
        }
    }

    fn head_args(&self, invocation: &mut redis::ScriptInvocation<'_>) {
        invocation
            .arg(&self.prefix)
            .arg(&self.node)
            .arg(millis(self.away_after))
            .arg(millis(self.offline_grace))
            .arg(millis(self.recheck).max(1))
            .arg(millis(self.node_ttl).max(1));
    }

    /// Run one operation; a Redis failure is logged and reported as no change (presence is
    /// best effort: the next operation or sweep puts it right).
    async fn touch(&self, op: &str, user: Uuid, chosen: &str) -> Option<Change> {
        let mut invocation = self.touch.prepare_invoke();
        self.head_args(&mut invocation);
        invocation.arg(op).arg(user.to_string()).arg(chosen);
        match invocation
            .invoke_async::<Option<String>>(&mut self.conn.clone())
            .await
        {
            Ok(changed) => changed.as_deref().and_then(parse_status).map(|s| (user, s)),
            Err(e) => {
                tracing::warn!(error = %e, op, "presence: Redis did not answer");
                None
            }
        }
    }
}

#[async_trait]
impl PresenceStore for RedisPresence {
    async fn connected(&self, user: Uuid) -> Option<Change> {
        self.touch("connected", user, "").await
    }

    async fn disconnected(&self, user: Uuid) -> Option<Change> {
        self.touch("disconnected", user, "").await
    }

    async fn active(&self, user: Uuid) -> Option<Change> {
        let now = Instant::now();
        {
            let mut sent = self.active_sent.lock().unwrap_or_else(|e| e.into_inner());
            if sent
                .get(&user)
                .is_some_and(|at| now.duration_since(*at) < ACTIVE_EVERY)
            {
                return None;
            }
            if sent.len() >= 100_000 {
                sent.retain(|_, at| now.duration_since(*at) < ACTIVE_EVERY);
            }
            sent.insert(user, now);
        }
        self.touch("active", user, "").await
    }

    async fn choose(&self, user: Uuid, status: ChosenStatus) -> Option<Change> {
        let chosen = match status {
            ChosenStatus::Online => "online",
            ChosenStatus::Away => "away",
            ChosenStatus::Dnd => "dnd",
        };
        self.touch("choose", user, chosen).await
    }

    async fn statuses(&self, users: &[Uuid]) -> Vec<Status> {
        if users.is_empty() {
            return Vec::new();
        }
        let mut pipe = redis::pipe();
        for user in users {
            pipe.hget(format!("{}presence:{user}", self.prefix), "shown");
        }
        match pipe
            .query_async::<Vec<Option<String>>>(&mut self.conn.clone())
            .await
        {
            Ok(shown) => shown
                .iter()
                .map(|s| {
                    s.as_deref()
                        .and_then(parse_status)
                        .unwrap_or(Status::Offline)
                })
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "presence: Redis did not answer; showing offline");
                vec![Status::Offline; users.len()]
            }
        }
    }

    async fn expire(&self) -> Vec<Change> {
        let mut invocation = self.sweep.prepare_invoke();
        self.head_args(&mut invocation);
        invocation.arg(SWEEP_BATCH);
        match invocation
            .invoke_async::<Vec<String>>(&mut self.conn.clone())
            .await
        {
            Ok(flat) => flat
                .chunks_exact(2)
                .filter_map(|pair| Some((pair[0].parse().ok()?, parse_status(&pair[1])?)))
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "presence: the sweep got no answer from Redis");
                Vec::new()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stores on the test Redis sharing one fresh prefix, one per node name.
    async fn nodes(names: &[&str], grace: Duration) -> Vec<RedisPresence> {
        let url = std::env::var("COLINK_TEST_REDIS_URL")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let prefix = format!("colink-test-{}:", Uuid::now_v7().simple());
        let mut stores = Vec::new();
        for name in names {
            let conn = crate::kv::connect_redis(&url).await.unwrap_or_else(|e| {
                panic!("no Redis at {url} ({e}): run scripts/backends/redis.sh")
            });
            stores.push(RedisPresence::new(
                conn,
                &prefix,
                name,
                Duration::from_secs(300),
                grace,
            ));
        }
        stores
    }

    #[tokio::test]
    async fn online_while_connected_on_any_node_then_offline() {
        let stores = nodes(&["a", "b"], Duration::ZERO).await;
        let (a, b) = (&stores[0], &stores[1]);
        let u = Uuid::now_v7();
        assert_eq!(a.connected(u).await, Some((u, Status::Online)));
        assert_eq!(
            b.connected(u).await,
            None,
            "a second connection changes nothing"
        );
        assert_eq!(a.disconnected(u).await, None, "still connected on b");
        assert_eq!(a.statuses(&[u]).await, vec![Status::Online]);
        assert_eq!(b.disconnected(u).await, Some((u, Status::Offline)));
        assert_eq!(
            a.statuses(&[u, Uuid::now_v7()]).await,
            vec![Status::Offline; 2]
        );
    }

    #[tokio::test]
    async fn a_chosen_status_holds_until_chosen_back() {
        let stores = nodes(&["a", "b"], Duration::ZERO).await;
        let (a, b) = (&stores[0], &stores[1]);
        let u = Uuid::now_v7();
        a.connected(u).await;
        assert_eq!(b.choose(u, ChosenStatus::Dnd).await, Some((u, Status::Dnd)));
        assert_eq!(a.active(u).await, None, "activity keeps dnd");
        assert_eq!(b.statuses(&[u]).await, vec![Status::Dnd]);
        assert_eq!(
            a.choose(u, ChosenStatus::Online).await,
            Some((u, Status::Online))
        );
    }

    #[tokio::test]
    async fn after_the_grace_a_user_goes_offline_once_across_nodes() {
        let stores = nodes(&["a", "b"], Duration::from_millis(100)).await;
        let (a, b) = (&stores[0], &stores[1]);
        let u = Uuid::now_v7();
        a.connected(u).await;
        assert_eq!(a.disconnected(u).await, None, "within the grace");
        let mut told = Vec::new();
        while told.is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
            told.extend(a.expire().await);
            told.extend(b.expire().await);
        }
        assert_eq!(
            told,
            vec![(u, Status::Offline)],
            "reported by one node, once"
        );
    }

    #[tokio::test]
    async fn the_users_of_a_dead_node_go_offline() {
        let mut stores = nodes(&["dead", "alive"], Duration::ZERO).await;
        // The dying node's liveness key lasts 50 ms, and users are checked every 10 ms.
        stores[0].node_ttl = Duration::from_millis(50);
        for store in &mut stores {
            store.recheck = Duration::from_millis(10);
        }
        let (dead, alive) = (&stores[0], &stores[1]);
        let u = Uuid::now_v7();
        assert_eq!(dead.connected(u).await, Some((u, Status::Online)));
        // The node stops calling Redis (it died); the other node's sweep finds it gone.
        let mut told = Vec::new();
        while told.is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
            told = alive.expire().await;
        }
        assert_eq!(told, vec![(u, Status::Offline)]);
    }
}
