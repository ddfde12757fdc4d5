//! Set up a fresh server for a scenario: owner account and workspace (`/setup`), an invite,
//! N users (register + login), M public channels that every user joins.

use std::{
    future::Future,
    sync::{Arc, Mutex, RwLock},
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use colink_client::{Client, Login, NewChannel, NewInvite, Register, Setup, Tokens, Uuid};
use tokio::task::JoinSet;

/// Registration and login hash with argon2 (~65 ms each in release): keep this modest.
const AUTH_CONCURRENCY: usize = 8;
/// Channel joins are cheap writes.
const JOIN_CONCURRENCY: usize = 16;

/// A logged-in user. The access token is swapped by [`spawn_refresher`] on long runs.
pub struct BenchUser {
    pub username: String,
    /// The client with the user's current access token (cloning it only counts references).
    client: RwLock<Client>,
    refresh: Mutex<String>,
}

impl BenchUser {
    fn new(api: &Client, username: String, tokens: Tokens) -> BenchUser {
        BenchUser {
            username,
            client: RwLock::new(api.with_token(tokens.access_token)),
            refresh: Mutex::new(tokens.refresh_token),
        }
    }

    /// The client with the current access token.
    pub fn client(&self) -> Client {
        match self.client.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    async fn refresh(&self, api: &Client) -> Result<()> {
        let current = match self.refresh.lock() {
            Ok(t) => t.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        let tokens = api
            .refresh(&current)
            .await
            .with_context(|| format!("refresh token of {}", self.username))?;
        let client = api.with_token(tokens.access_token);
        match self.client.write() {
            Ok(mut c) => *c = client,
            Err(poisoned) => *poisoned.into_inner() = client,
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
    pub channels: Arc<Vec<Uuid>>,
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
    /// The client with the owner's access token.
    pub client: Client,
    pub workspace_id: Uuid,
    /// Access token lifetime in seconds, as the server announced it.
    pub access_ttl: u64,
    /// The password every bench account uses (strong enough for the server's check).
    pub password: String,
}

/// `POST /setup`: the owner account and the workspace.
pub async fn setup(api: &Client, setup_token: &str) -> Result<Owner> {
    // Strong enough for the server's zxcvbn check, and different on every run.
    let password = format!("bench-Velvet-41-orbit-{}", random_hex());
    let done = api
        .setup(&Setup {
            setup_token,
            email: "bench-owner@example.com",
            username: "benchowner",
            password: &password,
            workspace_name: "Bench",
        })
        .await
        .context("setup (owner account and workspace)")?;
    Ok(Owner {
        client: api.with_token(done.tokens.access_token),
        workspace_id: done.workspace.id,
        access_ttl: done.tokens.expires_in,
        password,
    })
}

/// Public channels `bench-1…bench-N`, created by the owner; their ids.
pub async fn create_channels(owner: &Owner, channels: usize) -> Result<Vec<Uuid>> {
    let mut ids = Vec::with_capacity(channels);
    for i in 1..=channels {
        let name = format!("bench-{i}");
        let channel = owner
            .client
            .create_channel(&NewChannel {
                name: &name,
                is_private: false,
                ..NewChannel::default()
            })
            .await
            .with_context(|| format!("create channel {name}"))?;
        ids.push(channel.id);
    }
    Ok(ids)
}

pub async fn create(
    api: &Client,
    setup_token: &str,
    users: usize,
    channels: usize,
) -> Result<Fixture> {
    let started = Instant::now();
    let owner = setup(api, setup_token).await?;
    let access_ttl = owner.access_ttl;

    let invite = owner
        .client
        .create_invite(
            owner.workspace_id,
            &NewInvite {
                max_uses: Some(u32::try_from(users).unwrap_or(u32::MAX)),
                ..NewInvite::default()
            },
        )
        .await
        .context("create invite")?;

    eprintln!("registering and logging in {users} users ({AUTH_CONCURRENCY} at a time)…");
    let invite_token: Arc<str> = invite.token.into();
    let password: Arc<str> = owner.password.as_str().into();
    let bench_users = run_limited(users, AUTH_CONCURRENCY, |i| {
        let (api, invite_token, password) = (api.clone(), invite_token.clone(), password.clone());
        async move {
            let username = format!("bench{:04}", i + 1);
            let email = format!("{username}@example.com");
            api.register(&Register {
                email: &email,
                username: &username,
                password: &password,
                invite_token: Some(&invite_token),
                ..Register::default()
            })
            .await
            .with_context(|| format!("register {username}"))?;
            let login = api
                .login(&username, &password)
                .await
                .with_context(|| format!("log in {username}"))?;
            let Some(Login::Tokens(tokens)) = login.into_login() else {
                anyhow::bail!("log in {username}: the server asks for a second factor");
            };
            Ok(Arc::new(BenchUser::new(&api, username, tokens)))
        }
    })
    .await?;

    eprintln!("creating {channels} channels; every user joins every channel…");
    let channel_ids = Arc::new(create_channels(&owner, channels).await?);
    let users_arc = Arc::new(bench_users);
    run_limited(users * channels, JOIN_CONCURRENCY, |k| {
        let user = users_arc[k / channels].clone();
        let channel = channel_ids[k % channels];
        async move {
            user.client()
                .join(channel)
                .await
                .with_context(|| format!("{} joins channel {channel}", user.username))?;
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
pub fn spawn_refresher(api: Client, fixture: &Fixture) -> tokio::task::JoinHandle<()> {
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
