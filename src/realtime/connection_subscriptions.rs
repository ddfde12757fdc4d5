//! A connection's subscriptions: `subscribe` (checked against the database), `subscribe_all`,
//! and `resume`, whose replay streams page by page (see the parent module's docs).

use uuid::Uuid;

use super::*;

impl Conn {
    /// Follow every conversation of the user, as `subscribe_checked` does one: subscribe, then
    /// read the memberships again and drop any that ended meanwhile (its `member.left` may have
    /// passed before the subscription existed). Once per connection: later membership changes
    /// reach the hub as events.
    pub(super) async fn subscribe_all(&mut self) -> Flow {
        if self.followed_all.is_none() {
            let user = self.who.principal.user_id;
            let hub = &self.state.realtime.hub;
            let before = super::queries::member_channels(&self.state, user).await;
            let Ok(before) = before else {
                return self
                    .write_frame(ServerFrame::error(
                        code::INTERNAL,
                        "could not read your conversations: try again",
                    ))
                    .await;
            };
            for channel in &before {
                hub.subscribe(self.reg.id, *channel);
            }
            let after = super::queries::member_channels(&self.state, user)
                .await
                .unwrap_or_else(|_| before.clone());
            for gone in before.iter().filter(|c| !after.contains(c)) {
                hub.unsubscribe(self.reg.id, *gone);
            }
            self.followed_all = Some(after.len());
        }
        let count = self.followed_all.unwrap_or_default();
        self.write_frame(ServerFrame::SubscribedAll { count }).await
    }

    /// Subscribe, then check access once more: a removal that committed after the first check
    /// may have been delivered (and found nothing to unsubscribe) before this subscription
    /// existed. The channel as read after subscribing; `None`, with the subscription dropped and
    /// an error frame sent, if access is gone.
    pub(super) async fn subscribe_checked(
        &mut self,
        channel_id: Uuid,
    ) -> Result<Option<crate::db::entity::channel::Model>, Ended> {
        self.state.realtime.hub.subscribe(self.reg.id, channel_id);
        let channel = self.authorise(channel_id).await?;
        if channel.is_none() {
            self.state.realtime.hub.unsubscribe(self.reg.id, channel_id);
        }
        Ok(channel)
    }

    /// The channel if the user may read it; otherwise an error frame was sent.
    pub(super) async fn authorise(
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

    /// Subscribe first (live events queue up meanwhile), then stream the missed messages from
    /// the database up to the channel's seq as read after subscribing (anything newer arrives
    /// live); the queued events go out after it, minus those the replay already sent.
    pub(super) async fn resume(&mut self, channel_id: Uuid, after_seq: i64) -> Flow {
        if after_seq < 0 {
            return self
                .error(
                    code::BAD_REQUEST,
                    "after_seq must not be negative",
                    Some(channel_id),
                )
                .await;
        }
        self.replays.retain(|r| r.channel.id != channel_id);
        if self.replays.len() >= MAX_PENDING_REPLAYS {
            return self
                .error(
                    code::RATE_LIMITED,
                    "too many resumes at once; wait for the pending ones",
                    Some(channel_id),
                )
                .await;
        }
        if self.authorise(channel_id).await?.is_none() {
            return Ok(());
        }
        // Read after subscribing: every message past `until` reaches the queue.
        let Some(channel) = self.subscribe_checked(channel_id).await? else {
            return Ok(());
        };
        self.write_frame(ServerFrame::Subscribed { channel_id })
            .await?;
        let until = channel.last_seq;
        let max = self.state.config.realtime.resume_max_messages;
        if until.saturating_sub(after_seq) > i64::try_from(max).unwrap_or(i64::MAX) {
            return self
                .error(
                    code::RESYNC,
                    "too far behind to replay: load the history over HTTP, then resume",
                    Some(channel_id),
                )
                .await;
        }
        let sent = self.sent_seq.entry(channel_id).or_insert(after_seq);
        *sent = (*sent).max(after_seq);
        if until > after_seq {
            self.replays.push_back(Replay {
                channel,
                after: after_seq,
                until,
            });
        }
        Ok(())
    }

    /// Send one page of the oldest pending replay (fetched by [`next_page`]).
    pub(super) async fn replayed(&mut self, page: AppResult<Vec<Event>>) -> Flow {
        let Some(replay) = self.replays.front_mut() else {
            return Ok(());
        };
        let channel_id = replay.channel.id;
        // Unsubscribed meanwhile (removed from a private channel): stop.
        if !self
            .state
            .realtime
            .hub
            .is_subscribed(self.reg.id, channel_id)
        {
            self.replays.pop_front();
            return Ok(());
        }
        let events = match page {
            Ok(events) => events,
            Err(_) => {
                self.replays.pop_front();
                return self
                    .error(
                        code::INTERNAL,
                        "could not replay; resume again",
                        Some(channel_id),
                    )
                    .await;
            }
        };
        let last = events
            .last()
            .and_then(|e| e.seq)
            .unwrap_or(replay.until)
            .max(replay.after);
        replay.after = last;
        if last >= replay.until {
            self.replays.pop_front();
        }
        let (viewer, admin) = (self.who.principal.user_id, self.who.principal.is_admin());
        for event in &events {
            if let crate::domain::events::EventData::MessageCreated(m) = &event.data
                && !m.visible_to(viewer, admin)
            {
                continue;
            }
            self.write_frame(ServerFrame::Event { event }).await?;
        }
        let sent = self.sent_seq.entry(channel_id).or_insert(last);
        *sent = (*sent).max(last);
        Ok(())
    }
}
