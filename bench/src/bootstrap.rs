//! Set up a fresh server for a scenario: owner account and workspace (`/setup`), an invite,
//! N users (register + login), M public channels that every user joins.

use std::{
    future::Future,
    sync::{Arc, Mutex, RwLock},
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use serde::Deserialize;
use serde_json::json;
use tokio::task::JoinSet;

use crate::api::Api;

/// Registration and login hash with argon2 (~65 ms each in release): keep this modest.
const AUTH_CONCURRENCY: usize = 8;
/// Channel joins are cheap writes.
const JOIN_CONCURRENCY: usize = 16;

#[derive(Deserialize)]
struct Id {
    id: String,
}

#[derive(Deserialize)]
struct SetupDone {
    workspace: Id,
    tokens: Tokens,
}

#[derive(Deserialize)]
struct Tokens {
    access_token: String,
    refresh_token: String,
    expires_in: u64,
}

#[derive(Deserialize)]
struct Invite {
    token: String,
}

/// A logged-in user. The access token is swapped by [`spawn_refresher`] on long runs.
pub struct BenchUser {
    pub username: String,
    access: RwLock<Arc<str>>,
    refresh: Mutex<String>,
}

impl BenchUser {
    fn new(username: String, tokens: Tokens) -> BenchUser {
        BenchUser {
            username,
            access: RwLock::new(tokens.access_token.into()),
            refresh: Mutex::new(tokens.refresh_token),
        }
    }

    /// The current access token.
    pub fn token(&self) -> Arc<str> {
        match self.access.read() {
            Ok(t) => t.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    async fn refresh(&self, api: &Api) -> Result<()> {
        let current = match self.refresh.lock() {
            Ok(t) => t.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        let step = format!("refresh token of {}", self.username);
        let tokens: Tokens = api
            .post(
                &step,
                "/auth/refresh",
                None,
                Some(&json!({ "refresh_token": current })),
            )
            .await?;
        match self.access.write() {
            Ok(mut t) => *t = tokens.access_token.into(),
            Err(poisoned) => *poisoned.into_inner() = tokens.access_token.into(),
        }
        match self.refresh.lock() {
            Ok(mut t) => *t = tokens.refresh_token,
            Err(poisoned) => *poisoned.into_inner() = tokens.refresh_token,
        }
        Ok(())
    }
}

/// Everything a scenario needs.
pub struct Fixture {
    pub users: Arc<Vec<Arc<BenchUser>>>,
    /// Channel ids.
    pub channels: Arc<Vec<String>>,
    /// Access token lifetime in seconds, as the server announced it.
    pub access_ttl: u64,
}

/// Run `f(0..n)` with at most `limit` at a time; results in index order. The first error
/// wins and aborts the rest.
pub async fn run_limited<T, F, Fut>(n: usize, limit: usize, f: F) -> Result<Vec<T>>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let mut set = JoinSet::new();
    let mut out: Vec<Option<T>> = (0..n).map(|_| None).collect();
    let mut next = 0;
    while next < n || !set.is_empty() {
        while next < n && set.len() < limit.max(1) {
            let fut = f(next);
            let i = next;
            set.spawn(async move { (i, fut.await) });
            next += 1;
        }
        if let Some(joined) = set.join_next().await {
            let (i, result) = joined.context("a bootstrap task panicked")?;
            out[i] = Some(result?);
        }
    }
    Ok(out.into_iter().flatten().collect())
}

fn random_hex() -> String {
    // The tail of a v7 UUID is random; its head is the clock.
    let s = uuid::Uuid::now_v7().simple().to_string();
    s[s.len() - 16..].to_owned()
}

/// A short random tag for this run (used in client ids).
pub fn run_tag() -> String {
    random_hex()[..12].to_owned()
}

/// The owner account and workspace made by `/setup`.
pub struct Owner {
    pub access_token: String,
    pub workspace_id: String,
    /// Access token lifetime in seconds, as the server announced it.
    pub access_ttl: u64,
    /// The password every bench account uses (strong enough for the server's check).
    pub password: String,
}

/// `POST /setup`: the owner account and the workspace.
pub async fn setup(api: &Api, setup_token: &str) -> Result<Owner> {
    // Strong enough for the server's zxcvbn check, and different on every run.
    let password = format!("bench-Velvet-41-orbit-{}", random_hex());
    let done: SetupDone = api
        .post(
            "setup (owner account and workspace)",
            "/setup",
            None,
            Some(&json!({
                "setup_token": setup_token,
                "email": "bench-owner@example.com",
                "username": "benchowner",
                "password": password,
                "workspace_name": "Bench",
            })),
        )
        .await?;
    Ok(Owner {
        access_token: done.tokens.access_token,
        workspace_id: done.workspace.id,
        access_ttl: done.tokens.expires_in,
        password,
    })
}

/// Public channels `bench-1…bench-N`, created by the owner; their ids.
pub async fn create_channels(api: &Api, owner: &Owner, channels: usize) -> Result<Vec<String>> {
    let mut ids = Vec::with_capacity(channels);
    for i in 1..=channels {
        let ch: Id = api
            .post(
                &format!("create channel bench-{i}"),
                "/channels",
                Some(&owner.access_token),
                Some(&json!({ "name": format!("bench-{i}"), "is_private": false })),
            )
            .await?;
        ids.push(ch.id);
    }
    Ok(ids)
}

pub async fn create(
    api: &Api,
    setup_token: &str,
    users: usize,
    channels: usize,
) -> Result<Fixture> {
    let started = Instant::now();
    let owner_account = setup(api, setup_token).await?;
    let owner = owner_account.access_token.clone();
    let access_ttl = owner_account.access_ttl;
    let password = owner_account.password.clone();

    let invite: Invite = api
        .post(
            "create invite",
            &format!("/workspaces/{}/invites", owner_account.workspace_id),
            Some(&owner),
            Some(&json!({ "max_uses": users })),
        )
        .await?;

    eprintln!("registering and logging in {users} users ({AUTH_CONCURRENCY} at a time)…");
    let invite_token: Arc<str> = invite.token.into();
    let password: Arc<str> = password.into();
    let bench_users = run_limited(users, AUTH_CONCURRENCY, |i| {
        let (api, invite_token, password) = (api.clone(), invite_token.clone(), password.clone());
        async move {
            let username = format!("bench{:04}", i + 1);
            let _: serde_json::Value = api
                .post(
                    &format!("register {username}"),
                    "/auth/register",
                    None,
                    Some(&json!({
                        "email": format!("{username}@example.com"),
                        "username": username,
                        "password": &*password,
                        "invite_token": &*invite_token,
                    })),
                )
                .await?;
            let tokens: Tokens = api
                .post(
                    &format!("log in {username}"),
                    "/auth/login",
                    None,
                    Some(&json!({ "login": username, "password": &*password })),
                )
                .await?;
            Ok(Arc::new(BenchUser::new(username, tokens)))
        }
    })
    .await?;

    eprintln!("creating {channels} channels; every user joins every channel…");
    let channel_ids = create_channels(api, &owner_account, channels).await?;
    let channel_ids = Arc::new(channel_ids);
    let users_arc = Arc::new(bench_users);
    run_limited(users * channels, JOIN_CONCURRENCY, |k| {
        let api = api.clone();
        let user = users_arc[k / channels].clone();
        let channel = channel_ids[k % channels].clone();
        async move {
            let _: serde_json::Value = api
                .post(
                    &format!("{} joins channel {channel}", user.username),
                    &format!("/channels/{channel}/join"),
                    Some(&user.token()),
                    None,
                )
                .await?;
            Ok(())
        }
    })
    .await?;

    eprintln!(
        "bootstrap done in {:.1} s ({users} users, {channels} channels)",
        started.elapsed().as_secs_f64()
    );
    Ok(Fixture {
        users: users_arc,
        channels: channel_ids,
        access_ttl,
    })
}

/// Refresh every user's access token two minutes before it expires, for long runs.
/// Abort the returned handle when the run is over.
pub fn spawn_refresher(api: Api, fixture: &Fixture) -> tokio::task::JoinHandle<()> {
    let users = fixture.users.clone();
    let every = Duration::from_secs(fixture.access_ttl.saturating_sub(120).max(30));
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            for user in users.iter() {
                if let Err(e) = user.refresh(&api).await {
                    eprintln!("warning: {e:#}");
                }
            }
        }
    })
}
