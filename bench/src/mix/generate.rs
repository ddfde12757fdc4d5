//! Generating the dataset's messages: concurrent closed-loop writers like the `send` scenario's
//! senders, each taking the next ticket k; ticket k's author, channel and kind (post, thread
//! reply, reaction) follow from `--seed` and k alone.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use colink_client::{Client, MessagesUrl, NewMessage, StatusCode, Uuid};
use tokio::task::JoinSet;

use super::{
    accounts::Accounts,
    dataset::{Want, skewed},
    rng::Rng,
    words::Zipf,
};
use crate::bootstrap;

/// Share of tickets that reply in a thread (when the channel has a known root).
const REPLY_SHARE: f64 = 0.10;
/// Share of top-level posts remembered as thread roots (their answer is decoded).
const ROOT_SHARE: f64 = 0.10;
/// Share of tickets that also add a reaction to a known root.
const REACTION_SHARE: f64 = 0.02;
/// Roots remembered per channel.
const ROOTS_PER_CHANNEL: usize = 64;
pub const EMOJIS: [&str; 12] = [
    "thumbsup", "heart", "tada", "eyes", "rocket", "smile", "100", "fire", "pray", "clap", "wave",
    "ok_hand",
];

pub struct Counts {
    pub messages: u64,
    pub replies: u64,
    pub reactions: u64,
    /// Messages and replies per second.
    pub rate: f64,
}

struct Gen {
    accounts: Arc<Accounts>,
    channels: Vec<Uuid>,
    urls: Vec<MessagesUrl>,
    memberships: Vec<Vec<u32>>,
    roots: Vec<Mutex<Vec<Uuid>>>,
    seed: u64,
    total: u64,
    tag: String,
    tickets: AtomicU64,
    messages: AtomicU64,
    replies: AtomicU64,
    reactions: AtomicU64,
    errors: AtomicU64,
    stop: AtomicBool,
    first_error: Mutex<Option<String>>,
    words: Zipf,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Post `want.messages` messages (replies included) with `want.concurrency` writers.
pub async fn messages(
    api: &Client,
    accounts: &Arc<Accounts>,
    channels: &[Uuid],
    memberships: &[Vec<u32>],
    want: &Want,
) -> Result<Counts> {
    let g = Arc::new(Gen {
        accounts: accounts.clone(),
        channels: channels.to_vec(),
        urls: channels.iter().map(|id| api.messages_url(*id)).collect(),
        memberships: memberships.to_vec(),
        roots: channels.iter().map(|_| Mutex::new(Vec::new())).collect(),
        seed: want.seed,
        total: want.messages,
        tag: bootstrap::run_tag(),
        words: Zipf::default(),
        tickets: AtomicU64::new(0),
        messages: AtomicU64::new(0),
        replies: AtomicU64::new(0),
        reactions: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        first_error: Mutex::new(None),
    });
    eprintln!(
        "generating {} messages with {} writers…",
        want.messages, want.concurrency
    );
    let started = Instant::now();
    let progress = tokio::spawn(report_progress(g.clone(), started));
    let mut set = JoinSet::new();
    for _ in 0..want.concurrency.max(1) {
        set.spawn(writer(g.clone()));
    }
    while let Some(joined) = set.join_next().await {
        joined.context("a generator task panicked")?;
    }
    progress.abort();
    let secs = started.elapsed().as_secs_f64();
    let (messages, replies) = (
        g.messages.load(Ordering::Relaxed),
        g.replies.load(Ordering::Relaxed),
    );
    if g.stop.load(Ordering::Relaxed) {
        let first = lock(&g.first_error).clone().unwrap_or_default();
        bail!("generation stopped: more than 1 % errors; first: {first}");
    }
    let rate = (messages + replies) as f64 / secs.max(1e-9);
    let reactions = g.reactions.load(Ordering::Relaxed);
    eprintln!(
        "generated {messages} messages, {replies} replies, {reactions} reactions in {secs:.1} s: \
         {rate:.0} messages/s ({} errors)",
        g.errors.load(Ordering::Relaxed)
    );
    Ok(Counts {
        messages,
        replies,
        reactions,
        rate,
    })
}

async fn report_progress(g: Arc<Gen>, started: Instant) {
    loop {
        tokio::time::sleep(Duration::from_secs(10)).await;
        let done = g.messages.load(Ordering::Relaxed) + g.replies.load(Ordering::Relaxed);
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "  {done} / {} after {secs:.0} s ({:.0}/s)",
            g.total,
            done as f64 / secs
        );
    }
}

/// One writer: takes tickets until all are taken or too many failed.
async fn writer(g: Arc<Gen>) {
    loop {
        let k = g.tickets.fetch_add(1, Ordering::Relaxed);
        if k >= g.total || g.stop.load(Ordering::Relaxed) {
            return;
        }
        let mut rng = Rng::for_item(g.seed, 2, k);
        // Some accounts write far more than others, mostly in their popular channels.
        let u = skewed(&mut rng, g.accounts.len(), 1.5);
        let mine = &g.memberships[u];
        let c = mine[skewed(&mut rng, mine.len(), 2.0)] as usize;
        let client = g.accounts.client(u);
        if let Err(e) = write_one(&g, &client, &mut rng, k, c).await {
            let errors = g.errors.fetch_add(1, Ordering::Relaxed) + 1;
            lock(&g.first_error).get_or_insert_with(|| format!("{e:#}"));
            if k >= 100 && errors * 100 > k {
                g.stop.store(true, Ordering::Relaxed);
            }
        }
    }
}

/// A random known root of channel `c`.
fn pick_root(g: &Gen, rng: &mut Rng, c: usize) -> Option<Uuid> {
    let roots = lock(&g.roots[c]);
    (!roots.is_empty()).then(|| roots[rng.below(roots.len())])
}

/// Ticket k: a thread reply or a top-level post into channel `c`, maybe a reaction as well.
async fn write_one(g: &Gen, client: &Client, rng: &mut Rng, k: u64, c: usize) -> Result<()> {
    let client_id = format!("{}-g{k}", g.tag);
    let content = g.words.sentence(rng);
    let reply_to = (rng.unit() < REPLY_SHARE)
        .then(|| pick_root(g, rng, c))
        .flatten();
    if let Some(root) = reply_to {
        client
            .reply(root, &content, Some(&client_id))
            .await
            .context("reply")?;
        g.replies.fetch_add(1, Ordering::Relaxed);
    } else {
        let msg = NewMessage {
            content: &content,
            client_id: Some(&client_id),
            thread_root_id: None,
            file_ids: &[],
        };
        let sent = client
            .post_message(&g.urls[c], &msg)
            .await
            .with_context(|| format!("post into {}", g.channels[c]))?;
        if sent.status != StatusCode::CREATED {
            bail!("post answered {}", sent.status);
        }
        g.messages.fetch_add(1, Ordering::Relaxed);
        if rng.unit() < ROOT_SHARE {
            remember_root(g, rng, c, sent.message().context("decoding a post")?.id);
        }
    }
    if rng.unit() < REACTION_SHARE
        && let Some(root) = pick_root(g, rng, c)
    {
        let emoji = EMOJIS[rng.below(EMOJIS.len())];
        match client.react(root, emoji).await {
            Ok(_) => {
                g.reactions.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) if e.status() == Some(StatusCode::CONFLICT) => {}
            Err(e) => return Err(e).context("reaction"),
        }
    }
    Ok(())
}

fn remember_root(g: &Gen, rng: &mut Rng, c: usize, id: Uuid) {
    let mut roots = lock(&g.roots[c]);
    if roots.len() < ROOTS_PER_CHANNEL {
        roots.push(id);
    } else {
        let i = rng.below(roots.len());
        roots[i] = id;
    }
}
