//! The mix's dataset, generated through the API: bot accounts, public channels, memberships
//! (20–100 channels per user, popular channels more likely), and messages spread over the
//! channels with a skew, some of them thread replies, some reactions. Its description is saved
//! as `bench-mix.json` in a `--data-dir`, so later runs reuse it.

use std::{path::Path, sync::Arc, time::Instant};

use anyhow::{Context, Result, bail};
use colink_client::{Client, NewChannel, Uuid};
use serde::{Deserialize, Serialize};

use super::{
    accounts::{Accounts, Credentials},
    generate,
    rng::Rng,
};
use crate::bootstrap::{self, Owner};

pub const MANIFEST: &str = "bench-mix.json";
/// Concurrent writes while creating accounts, channels and memberships.
const SETUP_CONCURRENCY: usize = 32;

/// What was generated (saved next to the server's data).
#[derive(Serialize, Deserialize)]
pub struct Manifest {
    pub seed: u64,
    pub accounts: Vec<Credentials>,
    pub channels: Vec<Uuid>,
    /// Per account: indexes into `channels`, ascending.
    pub memberships: Vec<Vec<u32>>,
    pub messages: u64,
    pub replies: u64,
    pub reactions: u64,
    /// Messages (replies included) per second while generating.
    pub generation_rate: f64,
    /// Private channels (`--private-channels`): each account reads only its own 10–50.
    #[serde(default)]
    pub private_channels: bool,
}

/// What the dataset generation is asked for.
pub struct Want {
    pub users: usize,
    pub channels: usize,
    pub messages: u64,
    pub seed: u64,
    pub concurrency: usize,
    pub private_channels: bool,
}

impl Manifest {
    pub fn load(dir: &Path) -> Result<Option<Manifest>> {
        let path = dir.join(MANIFEST);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("reading {}", path.display()))
                .map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// The dataset a `mix` run left in `dir`, or an error saying how to make one.
    pub fn require(dir: &Path) -> Result<Manifest> {
        Self::load(dir)?.ok_or_else(|| {
            anyhow::anyhow!(
                "no dataset in {}: generate one with `colink-bench mix --data-dir {} …` first",
                dir.display(),
                dir.display()
            )
        })
    }

    pub fn save(&self, dir: &Path) -> Result<()> {
        let path = dir.join(MANIFEST);
        std::fs::write(&path, serde_json::to_vec(self)?)
            .with_context(|| format!("writing {}", path.display()))
    }
}

/// Index in [0, n) with lower indexes more likely (a power law: index = n · u^k).
pub fn skewed(rng: &mut Rng, n: usize, k: f64) -> usize {
    ((rng.unit().powf(k) * n as f64) as usize).min(n.saturating_sub(1))
}

/// Account `u`'s channels: between 20 and 100 (with private channels, 10 and 50: issue 12's
/// readers), at most all, distinct, popular ones likelier.
pub fn memberships_of(seed: u64, u: usize, channels: usize, private: bool) -> Vec<u32> {
    let mut rng = Rng::for_item(seed, 1, u as u64);
    let (fewest, most) = if private { (10, 50) } else { (20, 100) };
    let want = rng.between(fewest, most).min(channels);
    let mut picked = std::collections::BTreeSet::new();
    while picked.len() < want {
        // Half by popularity, half uniformly, so every channel gets members.
        let c = if rng.unit() < 0.5 {
            skewed(&mut rng, channels, 2.0)
        } else {
            rng.below(channels)
        };
        picked.insert(c as u32);
    }
    picked.into_iter().collect()
}

/// Set up the server and generate the whole dataset; prints each stage's time and rate.
pub async fn generate(api: &Client, setup_token: &str, want: &Want) -> Result<Manifest> {
    if want.channels == 0 || want.users == 0 {
        bail!("--users and --channels must be at least 1");
    }
    let owner = bootstrap::setup(api, setup_token).await?;
    let started = Instant::now();
    let channels = create_channels(&owner, want.channels, want.private_channels).await?;
    eprintln!(
        "{} channels in {:.1} s",
        channels.len(),
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let creds = create_accounts(&owner, want.users).await?;
    let accounts = Accounts::log_in(api, creds).await?;
    eprintln!(
        "{} bot accounts in {:.1} s",
        accounts.len(),
        started.elapsed().as_secs_f64()
    );
    let memberships: Vec<Vec<u32>> = (0..want.users)
        .map(|u| memberships_of(want.seed, u, want.channels, want.private_channels))
        .collect();
    if want.private_channels {
        add_all(&owner, &accounts.creds, &channels, &memberships).await?;
    } else {
        join_all(&accounts, &channels, &memberships).await?;
    }
    let refresher = accounts.spawn_refresher(api.clone());
    let counts = generate::messages(api, &accounts, &channels, &memberships, want).await;
    refresher.abort();
    let counts = counts?;
    Ok(Manifest {
        seed: want.seed,
        accounts: accounts.creds.clone(),
        channels,
        memberships,
        messages: counts.messages,
        replies: counts.replies,
        reactions: counts.reactions,
        generation_rate: counts.rate,
        private_channels: want.private_channels,
    })
}

async fn create_channels(owner: &Owner, n: usize, private: bool) -> Result<Vec<Uuid>> {
    let client = owner.client.clone();
    bootstrap::run_limited(n, SETUP_CONCURRENCY, |i| {
        let client = client.clone();
        async move {
            let name = format!("mix-{}", i + 1);
            let new = NewChannel {
                name: &name,
                is_private: private,
                ..NewChannel::default()
            };
            let c = client
                .create_channel(&new)
                .await
                .with_context(|| format!("create channel {name}"))?;
            Ok(c.id)
        }
    })
    .await
}

async fn create_accounts(owner: &Owner, n: usize) -> Result<Vec<Credentials>> {
    let client = owner.client.clone();
    bootstrap::run_limited(n, SETUP_CONCURRENCY, |i| {
        let client = client.clone();
        async move {
            let username = format!("mix{:05}", i + 1);
            let bot = client
                .create_bot(&username, &username)
                .await
                .with_context(|| format!("create bot {username}"))?;
            Ok(Credentials {
                username,
                client_id: bot.client.client_id,
                client_secret: bot.client_secret,
                user_id: Some(bot.client.bot_user_id),
            })
        }
    })
    .await
}

/// Private channels: the owner (their creator) adds each account to its channels.
async fn add_all(
    owner: &Owner,
    creds: &[Credentials],
    channels: &[Uuid],
    m: &[Vec<u32>],
) -> Result<()> {
    let pairs: Arc<Vec<(Uuid, Uuid)>> = Arc::new(
        m.iter()
            .zip(creds)
            .flat_map(|(cs, who)| cs.iter().map(move |&c| (who.user_id, c)))
            .map(|(user, c)| {
                Ok((
                    user.context("a bot without a user id")?,
                    channels[c as usize],
                ))
            })
            .collect::<Result<_>>()?,
    );
    let started = Instant::now();
    let client = owner.client.clone();
    bootstrap::run_limited(pairs.len(), SETUP_CONCURRENCY, |k| {
        let (client, pairs) = (client.clone(), pairs.clone());
        async move {
            let (user, channel) = pairs[k];
            client
                .add_member(channel, user)
                .await
                .with_context(|| format!("add {user} to channel {channel}"))
        }
    })
    .await?;
    eprintln!(
        "{} memberships in {:.1} s (private channels)",
        pairs.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn join_all(accounts: &Arc<Accounts>, channels: &[Uuid], m: &[Vec<u32>]) -> Result<()> {
    let pairs: Arc<Vec<(usize, Uuid)>> = Arc::new(
        m.iter()
            .enumerate()
            .flat_map(|(u, cs)| cs.iter().map(move |&c| (u, c)))
            .map(|(u, c)| (u, channels[c as usize]))
            .collect(),
    );
    let started = Instant::now();
    bootstrap::run_limited(pairs.len(), SETUP_CONCURRENCY, |k| {
        let (accounts, pairs) = (accounts.clone(), pairs.clone());
        async move {
            let (u, channel) = pairs[k];
            accounts
                .client(u)
                .join(channel)
                .await
                .with_context(|| format!("account {u} joins channel {channel}"))?;
            Ok(())
        }
    })
    .await?;
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{} memberships in {secs:.1} s ({:.0}/s)",
        pairs.len(),
        pairs.len() as f64 / secs.max(1e-9)
    );
    Ok(())
}
