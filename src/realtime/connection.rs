//! One WebSocket connection: a single task that reads client frames, forwards what the hub
//! queued for it, streams `resume` replays, and pings. Every write races the hub's close signal
//! and the socket's write timeout (`server.write_timeout`), so a client that stops reading
//! cannot hold the task (or the hub) up: once its queue is full the hub closes it, and a stalled
//! write fails the socket.
//!
//! A replay goes out page by page (`queries::REPLAY_PAGE_ROWS` / `REPLAY_PAGE_BYTES`) between
//! heartbeats and client frames; the live queue waits until no replay is pending, so events
//! leave in seq order with no gap and no duplicate.

use std::{
    collections::{HashMap, VecDeque},
    sync::Arc,
    time::Duration,
};

use futures_util::{
    SinkExt, StreamExt,
    stream::{SplitSink, SplitStream},
};
use poem::web::websocket::{CloseCode, Message, WebSocketStream};
use tokio::time::{Instant, MissedTickBehavior};
use uuid::Uuid;

use super::{
    Job,
    hub::{CloseReason, Registration},
    limits::{FrameLimiter, Verdict},
    protocol::{ClientFrame, Outbound, ServerFrame, close, code},
    queries,
};
use crate::{
    app::AppState,
    domain::events::Event,
    error::{AppResult, ErrorCode},
    service::{Principal, access, authn},
};

#[path = "connection_subscriptions.rs"]
mod subscriptions;

/// Who is connected (checked by the gateway).
pub struct Identity {
    pub principal: Principal,
    /// The user's token version when authenticated: a newer one means revoked.
    pub token_version: i32,
    pub username: String,
    /// Workspaces the user belonged to when connecting (for workspace-wide events).
    pub workspaces: Vec<uuid::Uuid>,
    /// When the credential and role were checked (before reading them).
    pub checked_at: time::OffsetDateTime,
}

/// How long a closing handshake may take before the socket is simply dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Most queued frames written to a socket's buffer before one flush (see `Conn::forward`).
const FRAMES_PER_FLUSH: usize = 64;

/// Replays one connection may have pending (one per channel it resumes).
const MAX_PENDING_REPLAYS: usize = 32;

/// A `resume` being streamed: messages with `after < seq <= until` are still to go.
struct Replay {
    channel: crate::db::entity::channel::Model,
    after: i64,
    until: i64,
}

enum Ended {
    /// Close with this code and reason.
    Close(CloseReason),
    /// The peer went away or the socket failed: nothing more to send.
    Gone,
}

type Flow = Result<(), Ended>;

struct Conn {
    state: Arc<AppState>,
    who: Identity,
    reg: Registration,
    sink: SplitSink<WebSocketStream, Message>,
    /// Per resumed channel: the highest seq sent, so live events the replay covered are dropped.
    sent_seq: HashMap<Uuid, i64>,
    /// Replays still to stream, oldest request first.
    replays: VecDeque<Replay>,
    limiter: FrameLimiter,
    /// What `subscribe_all` followed, once per connection (later ones answer the same count).
    followed_all: Option<usize>,
    missed_pongs: u32,
    /// Fires when the credential expires, unless an `auth` frame moved it.
    expiry: std::pin::Pin<Box<tokio::time::Sleep>>,
}

/// When a credential expiring at `expires_at` (unix seconds) runs out, as an `Instant`.
fn deadline(expires_at: Option<i64>) -> Instant {
    const FAR: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
    let Some(at) = expires_at else {
        return Instant::now() + FAR;
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let left = u64::try_from(at.saturating_sub(now)).unwrap_or(0);
    Instant::now() + Duration::from_secs(left).min(FAR)
}

/// Counts the connection in the gauge and in presence while it lives; dropping it (also when the
/// connection task panics or is cancelled) takes it out of both.
struct Live {
    state: Arc<AppState>,
    user: Uuid,
}

impl Drop for Live {
    fn drop(&mut self) {
        let rt = &self.state.realtime;
        rt.metrics
            .connections
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        let (state, user) = (self.state.clone(), self.user);
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let rt = &state.realtime;
                if let Some(change) = rt.presence.disconnected(user).await {
                    rt.submit(Job::Presence(change));
                }
            });
        }
    }
}

/// Serve one authenticated connection until it ends.
pub async fn run(socket: WebSocketStream, state: Arc<AppState>, who: Identity, reg: Registration) {
    let rt = &state.realtime;
    rt.metrics
        .connections
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let user = who.principal.user_id;
    let _live = Live {
        state: state.clone(),
        user,
    };
    if let Some(change) = rt.presence.connected(user).await {
        rt.submit(Job::Presence(change));
    }
    let (sink, stream) = socket.split();
    let who_expires = who.principal.expires_at;
    let mut conn = Conn {
        limiter: FrameLimiter::new(state.config.realtime.max_frames_per_second),
        state: state.clone(),
        who,
        reg,
        sink,
        sent_seq: HashMap::new(),
        replays: VecDeque::new(),
        followed_all: None,
        missed_pongs: 0,
        expiry: Box::pin(tokio::time::sleep_until(deadline(who_expires))),
    };
    let ended = conn.serve(stream).await;
    if let Ended::Close(reason) = ended {
        let frame = Message::Close(Some((CloseCode::from(reason.code), reason.reason.into())));
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, conn.sink.send(frame)).await;
    }
    drop(conn);
}

/// The next page of `replay` (pending while there is none, which the caller's guard prevents).
async fn next_page(state: &AppState, replay: Option<&Replay>) -> AppResult<Vec<Event>> {
    match replay {
        Some(r) => queries::replay_page(state, &r.channel, r.after, r.until).await,
        None => std::future::pending().await,
    }
}

impl Conn {
    async fn serve(&mut self, mut stream: SplitStream<WebSocketStream>) -> Ended {
        let every = self.state.config.realtime.ping_interval.0;
        let mut ping = tokio::time::interval_at(Instant::now() + every, every);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            // Biased, so that a busy send queue never starves the heartbeat or the client's
            // frames (pongs included); client frames are rate-limited, so they cannot starve
            // the queue in turn.
            let step = tokio::select! {
                biased;
                _ = self.reg.closed.changed() => Err(self.close_reason()),
                _ = ping.tick() => self.heartbeat().await,
                _ = &mut self.expiry => Err(Ended::Close(CloseReason {
                    code: close::UNAUTHORIZED,
                    reason: "the access token expired: send a fresh one in an auth frame first",
                })),
                msg = stream.next() => match msg {
                    Some(Ok(msg)) => self.inbound(msg).await,
                    Some(Err(_)) | None => Err(Ended::Gone),
                },
                page = next_page(&self.state, self.replays.front()), if !self.replays.is_empty() => {
                    self.replayed(page).await
                }
                out = self.reg.queue.recv(), if self.replays.is_empty() => match out {
                    Some(out) => self.forward(out).await,
                    None => Err(self.close_reason()),
                },
            };
            if let Err(ended) = step {
                return ended;
            }
        }
    }

    fn close_reason(&self) -> Ended {
        Ended::Close(self.reg.closed.borrow().unwrap_or(CloseReason {
            code: close::GOING_AWAY,
            reason: "server shutting down",
        }))
    }

    /// Send one text frame, giving up if the hub closes this connection meanwhile.
    async fn write(&mut self, text: &str) -> Flow {
        let send = self.sink.send(Message::Text(text.to_owned()));
        tokio::select! {
            sent = send => sent.map_err(|_| Ended::Gone),
            _ = self.reg.closed.changed() => Err(self.close_reason()),
        }
    }

    async fn write_frame(&mut self, frame: ServerFrame<'_>) -> Flow {
        self.write(&frame.text()).await
    }

    async fn error(&mut self, code: &str, message: &str, channel_id: Option<Uuid>) -> Flow {
        self.write_frame(ServerFrame::Error {
            code,
            message,
            channel_id,
        })
        .await
    }

    /// Frames from the hub: `first` and those already queued behind it (at most
    /// [`FRAMES_PER_FLUSH`]) are written to the socket's buffer, then flushed once, so a burst
    /// costs one write to the socket rather than one per frame. Message events already sent by a
    /// replay are dropped.
    async fn forward(&mut self, first: Outbound) -> Flow {
        let mut next = Some(first);
        let mut fed = 0;
        while let Some(out) = next.take() {
            if self.not_sent_yet(&out) {
                self.feed(&out.text).await?;
                fed += 1;
            }
            if fed < FRAMES_PER_FLUSH {
                next = self.reg.queue.try_recv().ok();
            }
        }
        if fed == 0 {
            return Ok(());
        }
        let flush = self.sink.flush();
        tokio::select! {
            flushed = flush => flushed.map_err(|_| Ended::Gone),
            _ = self.reg.closed.changed() => Err(self.close_reason()),
        }
    }

    /// Whether `out` is news to this connection (a replay may have sent that message already);
    /// records what it is sending.
    fn not_sent_yet(&mut self, out: &Outbound) -> bool {
        if let (Some(channel), Some(seq)) = (out.channel_id, out.seq)
            && let Some(sent) = self.sent_seq.get_mut(&channel)
        {
            if seq <= *sent {
                return false;
            }
            *sent = seq;
        }
        true
    }

    /// Add one text frame to the socket's buffer (written when it fills or on a flush).
    async fn feed(&mut self, text: &str) -> Flow {
        let feed = self.sink.feed(Message::Text(text.to_owned()));
        tokio::select! {
            fed = feed => fed.map_err(|_| Ended::Gone),
            _ = self.reg.closed.changed() => Err(self.close_reason()),
        }
    }

    async fn heartbeat(&mut self) -> Flow {
        if self.missed_pongs >= self.state.config.realtime.missed_pongs {
            return Err(Ended::Close(CloseReason {
                code: close::HEARTBEAT_TIMEOUT,
                reason: "no pong",
            }));
        }
        let user = self.who.principal.user_id;
        // A failed lookup (database hiccup) is not a revocation: check again next time.
        if let Ok(current) = authn::token_state(&self.state, user).await {
            match current {
                Some(s) if s.active && s.version == self.who.token_version => {
                    if s.role != self.who.principal.role {
                        return Err(Ended::Close(CloseReason {
                            code: close::PERMISSIONS_CHANGED,
                            reason: "your role changed: reconnect",
                        }));
                    }
                }
                _ => {
                    return Err(Ended::Close(CloseReason {
                        code: close::UNAUTHORIZED,
                        reason: "the session was revoked",
                    }));
                }
            }
        }
        self.missed_pongs += 1;
        let ping = self.sink.send(Message::Ping(Vec::new()));
        tokio::select! {
            sent = ping => sent.map_err(|_| Ended::Gone),
            _ = self.reg.closed.changed() => Err(self.close_reason()),
        }
    }

    async fn inbound(&mut self, msg: Message) -> Flow {
        // Any sign of life resets the heartbeat.
        self.missed_pongs = 0;
        let text = match msg {
            Message::Close(_) => return Err(Ended::Gone),
            Message::Ping(_) | Message::Pong(_) => return Ok(()),
            Message::Text(text) => Some(text),
            Message::Binary(_) => None,
        };
        match self.limiter.check(std::time::Instant::now()) {
            Verdict::Allow => {}
            Verdict::Refuse => {
                let m = &self.state.realtime.metrics;
                super::metrics::Metrics::add(&m.rate_limited_frames, 1);
                return self
                    .error(code::RATE_LIMITED, "too many frames; slow down", None)
                    .await;
            }
            Verdict::Close => {
                return Err(Ended::Close(CloseReason {
                    code: close::LIMIT,
                    reason: "frame rate limit exceeded repeatedly",
                }));
            }
        }
        let Some(text) = text else {
            return self
                .error(code::BAD_REQUEST, "frames are JSON text", None)
                .await;
        };
        let frame = match serde_json::from_str::<ClientFrame>(&text) {
            Ok(frame) => frame,
            Err(_) => {
                return self
                    .error(code::BAD_REQUEST, "not a valid frame (see SPEC §6)", None)
                    .await;
            }
        };
        if frame != ClientFrame::Ping {
            let rt = &self.state.realtime;
            if let Some(change) = rt.presence.active(self.who.principal.user_id).await {
                rt.submit(Job::Presence(change));
            }
        }
        self.dispatch(frame).await
    }

    async fn dispatch(&mut self, frame: ClientFrame) -> Flow {
        match frame {
            ClientFrame::Ping => self.write_frame(ServerFrame::Pong).await,
            ClientFrame::Subscribe { channel_id } => {
                if self.authorise(channel_id).await?.is_some()
                    && self.subscribe_checked(channel_id).await?.is_some()
                {
                    self.write_frame(ServerFrame::Subscribed { channel_id })
                        .await?;
                }
                Ok(())
            }
            ClientFrame::SubscribeAll => self.subscribe_all().await,
            ClientFrame::Unsubscribe { channel_id } => {
                self.state.realtime.hub.unsubscribe(self.reg.id, channel_id);
                self.sent_seq.remove(&channel_id);
                self.replays.retain(|r| r.channel.id != channel_id);
                Ok(())
            }
            ClientFrame::Resume {
                channel_id,
                after_seq,
            } => self.resume(channel_id, after_seq).await,
            ClientFrame::Typing { channel_id } => self.typing(channel_id).await,
            ClientFrame::Auth { token } => self.reauthenticate(&token).await,
            ClientFrame::Presence { status } => {
                let rt = &self.state.realtime;
                if let Some(change) = rt.presence.choose(self.who.principal.user_id, status).await {
                    rt.submit(Job::Presence(change));
                }
                Ok(())
            }
        }
    }

    /// The user as of now: the role may have changed since the connection opened (the heartbeat
    /// closes the connection then; until it runs, checks use the current role).
    async fn principal(&self) -> Result<crate::service::Principal, Ended> {
        match authn::token_state(&self.state, self.who.principal.user_id).await {
            Ok(Some(current)) if current.active && current.version == self.who.token_version => {
                Ok(crate::service::Principal {
                    role: current.role,
                    ..self.who.principal
                })
            }
            Ok(_) => Err(Ended::Close(CloseReason {
                code: close::UNAUTHORIZED,
                reason: "the session was revoked",
            })),
            Err(_) => Ok(self.who.principal),
        }
    }

    /// An `auth` frame: a fresh access token of the same user extends the connection to its
    /// expiry (and moves it to the token's session).
    async fn reauthenticate(&mut self, token: &str) -> Flow {
        let fresh = match authn::verify(&self.state, token).await {
            Ok((principal, version))
                if principal.user_id == self.who.principal.user_id
                    && principal.scope == self.who.principal.scope =>
            {
                Some((principal, version))
            }
            _ => None,
        };
        let Some((principal, version)) = fresh else {
            return self
                .error(
                    code::UNAUTHORIZED,
                    "not a valid access token of this user; the connection keeps its old one",
                    None,
                )
                .await;
        };
        self.who.principal = principal;
        self.who.token_version = version;
        self.state
            .realtime
            .hub
            .set_session(self.reg.id, principal.session_id);
        self.expiry.as_mut().reset(deadline(principal.expires_at));
        self.write_frame(ServerFrame::Authenticated {
            expires_at: principal.expires_at.unwrap_or(i64::MAX),
        })
        .await
    }

    async fn typing(&mut self, channel_id: Uuid) -> Flow {
        let principal = self.principal().await?;
        if access::postable(&self.state, principal, channel_id)
            .await
            .is_err()
        {
            return self
                .error(
                    code::FORBIDDEN,
                    "you cannot post in this channel",
                    Some(channel_id),
                )
                .await;
        }
        let rt = &self.state.realtime;
        if rt.typing.typing(channel_id, principal.user_id).await {
            let frame = ServerFrame::Typing {
                channel_id,
                user_id: principal.user_id,
                username: &self.who.username,
            };
            super::signals::typing(
                &self.state,
                channel_id,
                principal.user_id,
                &Outbound::plain(frame.text()),
            );
        }
        Ok(())
    }
}
