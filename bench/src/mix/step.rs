//! One load step: N simulated users connect their WebSockets (subscribed to all their
//! channels), run the action mix for a while, and are summed up.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use colink_client::{
    Client,
    ws::{Connection, WebSocketConfig, WsAuth},
};
use tokio::{sync::watch, task::JoinSet};

use super::{
    accounts::Accounts,
    tally::Tally,
    vuser::{Shared, ThinkTime, VUser},
};
use crate::{
    bootstrap,
    process::{self, PhaseReadings, PhaseUsage},
    server::Server,
};

const CONNECT_CONCURRENCY: usize = 32;

/// What the step needs besides its size.
#[derive(Clone)]
pub struct Setup {
    pub api: Client,
    pub accounts: Arc<Accounts>,
    pub channels: Arc<Vec<uuid::Uuid>>,
    pub memberships: Arc<Vec<Vec<u32>>>,
    pub think: ThinkTime,
    pub seed: u64,
    /// Set once a step saw `GET /threads` answer 404.
    pub no_threads: Arc<AtomicBool>,
}

pub struct StepResult {
    pub users: usize,
    pub elapsed: Duration,
    pub connect_s: f64,
    pub tally: Tally,
    /// WebSocket frames received by all users during the step.
    pub frames: u64,
    /// Connections that ended before the step did.
    pub closed: u64,
    pub usage: PhaseUsage,
}

/// Open user `i`'s WebSocket and subscribe to all of its channels.
async fn connect(setup: &Setup, account: usize) -> Result<Connection> {
    let client = setup.accounts.client(account);
    let token = client.token().unwrap_or_default().to_owned();
    let config = WebSocketConfig::default()
        .read_buffer_size(16 * 1024)
        .write_buffer_size(0);
    let mut ws = setup
        .api
        .ws_connect_with(WsAuth::Token(&token), Some(config))
        .await
        .context("WebSocket handshake")?;
    for &c in &setup.memberships[account] {
        let id = setup.channels[c as usize];
        ws.subscribe(id)
            .await
            .with_context(|| format!("subscribing to {id}"))?;
    }
    Ok(ws)
}

/// Count frames until the connection ends or the step is over.
async fn read_frames(
    mut ws: Connection,
    frames: Arc<AtomicU64>,
    closed: Arc<AtomicU64>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let frame = tokio::select! {
            frame = ws.next_text() => frame,
            _ = stop.changed() => return,
        };
        match frame {
            Ok(_) => {
                frames.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                closed.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
    }
}

/// Run `users` simulated users for `secs` seconds.
pub async fn run(setup: &Setup, server: &Server, users: usize, secs: f64) -> Result<StepResult> {
    // Fresh tokens: a WebSocket lasts as long as the token it was opened with.
    setup.accounts.refresh(&setup.api).await?;
    let n_accounts = setup.accounts.len();
    eprintln!("step: {users} simulated users: connecting their WebSockets…");
    let connecting = Instant::now();
    let setup_ref = Arc::new(setup.clone());
    let sockets = bootstrap::run_limited(users, CONNECT_CONCURRENCY, |i| {
        let s = setup_ref.clone();
        async move {
            connect(&s, i % n_accounts)
                .await
                .with_context(|| format!("simulated user {i}"))
        }
    })
    .await?;
    let connect_s = connecting.elapsed().as_secs_f64();
    let (frames, closed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let (stop, stopped) = watch::channel(false);
    for ws in sockets {
        tokio::spawn(read_frames(
            ws,
            frames.clone(),
            closed.clone(),
            stopped.clone(),
        ));
    }
    eprintln!("connected in {connect_s:.1} s; running the mix for {secs} s…");
    let readings = PhaseReadings::start(server.pid, |pid| process::sample(pid).ok());
    let (tally, elapsed) = run_users(setup, users, secs).await?;
    let usage = readings.finish().await;
    let _ = stop.send(true);
    Ok(StepResult {
        users,
        elapsed,
        connect_s,
        tally,
        frames: frames.load(Ordering::Relaxed),
        closed: closed.load(Ordering::Relaxed),
        usage,
    })
}

async fn run_users(setup: &Setup, users: usize, secs: f64) -> Result<(Tally, Duration)> {
    let started = Instant::now();
    let shared = Arc::new(Shared {
        accounts: setup.accounts.clone(),
        channels: setup.channels.clone(),
        memberships: setup.memberships.clone(),
        think: setup.think,
        deadline: started + Duration::from_secs_f64(secs),
        no_threads: AtomicBool::new(setup.no_threads.load(Ordering::Relaxed)),
        tag: bootstrap::run_tag(),
    });
    let mut set = JoinSet::new();
    for i in 0..users {
        let vu = VUser::new(i, i % setup.accounts.len(), setup.seed);
        set.spawn(vu.run(shared.clone()));
    }
    let mut tally = Tally::default();
    while let Some(joined) = set.join_next().await {
        tally.merge(joined.context("a simulated user panicked")?);
    }
    if shared.no_threads.load(Ordering::Relaxed) {
        setup.no_threads.store(true, Ordering::Relaxed);
    }
    for r in tally.requests.values_mut() {
        r.latencies_us.sort_unstable();
    }
    Ok((tally, started.elapsed()))
}
