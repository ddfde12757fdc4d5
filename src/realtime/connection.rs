//! One WebSocket connection: a single task that reads client frames, forwards what the hub
//! queued for it, and pings. Every write races the hub's close signal, so a client that stops
//! reading cannot hold the task (or the hub) up: once its queue is full the hub closes it.

use std::{collections::HashMap, sync::Arc, time::Duration};

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
    error::ErrorCode,
    service::{Principal, access, authn},
};

/// Who is connected (checked by the gateway).
pub struct Identity {
    pub principal: Principal,
    /// The user's token version when authenticated: a newer one means revoked.
    pub token_version: i32,
    pub username: String,
    /// Workspaces the user belonged to when connecting (for workspace-wide events).
    pub workspaces: Vec<uuid::Uuid>,
}

/// How long a closing handshake may take before the socket is simply dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

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
    limiter: FrameLimiter,
    missed_pongs: u32,
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
    let mut conn = Conn {
        limiter: FrameLimiter::new(state.config.realtime.max_frames_per_second),
        state: state.clone(),
        who,
        reg,
        sink,
        sent_seq: HashMap::new(),
        missed_pongs: 0,
    };
    let ended = conn.serve(stream).await;
    if let Ended::Close(reason) = ended {
        let frame = Message::Close(Some((CloseCode::from(reason.code), reason.reason.into())));
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, conn.sink.send(frame)).await;
    }
    drop(conn);
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
                msg = stream.next() => match msg {
                    Some(Ok(msg)) => self.inbound(msg).await,
                    Some(Err(_)) | None => Err(Ended::Gone),
                },
                out = self.reg.queue.recv() => match out {
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

    /// A frame from the hub; message events already sent by a replay are dropped.
    async fn forward(&mut self, out: Outbound) -> Flow {
        if let (Some(channel), Some(seq)) = (out.channel_id, out.seq)
            && let Some(sent) = self.sent_seq.get_mut(&channel)
        {
            if seq <= *sent {
                return Ok(());
            }
            *sent = seq;
        }
        self.write(&out.text).await
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
                    && self.subscribe_checked(channel_id).await?
                {
                    self.write_frame(ServerFrame::Subscribed { channel_id })
                        .await?;
                }
                Ok(())
            }
            ClientFrame::Unsubscribe { channel_id } => {
                self.state.realtime.hub.unsubscribe(self.reg.id, channel_id);
                self.sent_seq.remove(&channel_id);
                Ok(())
            }
            ClientFrame::Resume {
                channel_id,
                after_seq,
            } => self.resume(channel_id, after_seq).await,
            ClientFrame::Typing { channel_id } => self.typing(channel_id).await,
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

    /// Subscribe, then check access once more: a removal that committed after the first check
    /// may have been delivered (and found nothing to unsubscribe) before this subscription
    /// existed. False, with the subscription dropped and an error frame sent, if access is gone.
    async fn subscribe_checked(&mut self, channel_id: Uuid) -> Result<bool, Ended> {
        self.state.realtime.hub.subscribe(self.reg.id, channel_id);
        if self.authorise(channel_id).await?.is_some() {
            return Ok(true);
        }
        self.state.realtime.hub.unsubscribe(self.reg.id, channel_id);
        Ok(false)
    }

    /// The channel if the user may read it; otherwise an error frame was sent.
    async fn authorise(
        &mut self,
        channel_id: Uuid,
    ) -> Result<Option<crate::db::entity::channel::Model>, Ended> {
        let principal = self.principal().await?;
        match access::readable(&self.state.db, principal, channel_id).await {
            Ok(access) => Ok(Some(access.channel)),
            Err(e) => {
                let (code, message) = match e.code {
                    ErrorCode::NotFound => (code::NOT_FOUND, "no such channel"),
                    ErrorCode::Forbidden => (code::FORBIDDEN, "you cannot read this channel"),
                    _ => (code::INTERNAL, "could not check access; try again"),
                };
                self.error(code, message, Some(channel_id)).await?;
                Ok(None)
            }
        }
    }

    /// Subscribe first (live events queue up meanwhile), replay from the database, then let the
    /// queued events through minus those the replay already sent: no gap, no duplicate.
    async fn resume(&mut self, channel_id: Uuid, after_seq: i64) -> Flow {
        if after_seq < 0 {
            return self
                .error(
                    code::BAD_REQUEST,
                    "after_seq must not be negative",
                    Some(channel_id),
                )
                .await;
        }
        let Some(channel) = self.authorise(channel_id).await? else {
            return Ok(());
        };
        if !self.subscribe_checked(channel_id).await? {
            return Ok(());
        }
        let max = self.state.config.realtime.resume_max_messages;
        let replay = queries::replay(&self.state, &channel, after_seq, max).await;
        self.write_frame(ServerFrame::Subscribed { channel_id })
            .await?;
        let events = match replay {
            Ok(Some(events)) => events,
            Ok(None) => {
                return self
                    .error(
                        code::RESYNC,
                        "too far behind to replay: load the history over HTTP, then resume",
                        Some(channel_id),
                    )
                    .await;
            }
            Err(_) => {
                return self
                    .error(
                        code::INTERNAL,
                        "could not replay; resume again",
                        Some(channel_id),
                    )
                    .await;
            }
        };
        let mut last = after_seq;
        for event in &events {
            self.write_frame(ServerFrame::Event { event }).await?;
            last = last.max(event.seq.unwrap_or(last));
        }
        let sent = self.sent_seq.entry(channel_id).or_insert(last);
        *sent = (*sent).max(last);
        Ok(())
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
            rt.hub.to_channel_except(
                channel_id,
                principal.user_id,
                &Outbound::plain(frame.text()),
            );
        }
        Ok(())
    }
}
