//! Writing events: each change stores its event in the outbox inside the same transaction;
//! [`commit`] then wakes the relay, which publishes to the bus after the commit. Every outbox row
//! is built by [`outbox_row`]: one at a time by [`emit`], in multi-row inserts by [`emit_all`]
//! (the message writer's batches, whose events go to the relay directly).

use std::{collections::HashMap, sync::Arc};

use sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait, NotSet, QueryTrait, Set,
    sea_query::Query,
};
use uuid::Uuid;

use crate::{
    app::AppState,
    bus::relay::Committed,
    db::entity::{channel, outbox},
    domain::{
        ChannelRole,
        events::{Event, EventData, MemberChange},
    },
    error::AppResult,
};

/// Outbox rows per multi-row insert: well under every backend's bind-parameter limit.
const INSERT_CHUNK: usize = 512;

/// The outbox row of `event`, not yet published.
pub fn outbox_row(event: &Event) -> Result<outbox::ActiveModel, serde_json::Error> {
    Ok(outbox::ActiveModel {
        position: NotSet,
        event_id: Set(event.id),
        event_type: Set(event.kind().as_str().to_string()),
        workspace_id: Set(event.workspace_id),
        channel_id: Set(event.channel_id),
        payload: Set(serde_json::to_string(event)?),
        created_at: Set(event.occurred_at),
        published_at: Set(None),
        // The request's trace, so the relay's and the hub's spans join it (`telemetry::otlp`).
        traceparent: Set(event
            .traceparent
            .clone()
            .or_else(crate::telemetry::otlp::current_traceparent)),
    })
}

/// Store `event` in the outbox (inside the caller's transaction).
pub async fn emit(db: &impl ConnectionTrait, event: &Event) -> AppResult<()> {
    let row = outbox_row(event).map_err(crate::error::AppError::internal)?;
    outbox::Entity::insert(row)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Store `events` in the outbox with multi-row inserts (inside the caller's transaction), in
/// order; each with its position, for handing over to the relay after the commit.
pub async fn emit_all(
    db: &impl ConnectionTrait,
    events: Vec<Arc<Event>>,
) -> Result<Committed, DbErr> {
    let mut committed = Vec::with_capacity(events.len());
    for chunk in events.chunks(INSERT_CHUNK) {
        let mut rows = Vec::with_capacity(chunk.len());
        let mut by_id = HashMap::with_capacity(chunk.len());
        for event in chunk {
            rows.push(outbox_row(event).map_err(|e| DbErr::Custom(format!("event: {e}")))?);
            by_id.insert(event.id, event);
        }
        let mut insert = outbox::Entity::insert_many(rows).into_query();
        insert.returning(
            Query::returning().columns([outbox::Column::Position, outbox::Column::EventId]),
        );
        for row in db.query_all(&insert).await? {
            let position: i64 = row.try_get("", "position")?;
            let event_id: Uuid = row.try_get("", "event_id")?;
            if let Some(event) = by_id.remove(&event_id) {
                committed.push((position, event.clone()));
            }
        }
    }
    Ok(committed)
}

/// Store an event about `channel`, done by `actor`, in the outbox (in the caller's transaction).
pub async fn emit_in(
    db: &impl ConnectionTrait,
    channel: &channel::Model,
    actor: Uuid,
    data: EventData,
) -> AppResult<()> {
    let event = Event::new(channel.workspace_id, Some(channel.id), Some(actor), data);
    emit(db, &event).await
}

/// `member.joined` or `member.left` (`event` is `EventData::MemberJoined` or `MemberLeft`):
/// `user_id` with `role` (for a departure, the role they had).
pub async fn emit_member(
    db: &impl ConnectionTrait,
    channel: &channel::Model,
    event: fn(MemberChange) -> EventData,
    actor: Uuid,
    user_id: Uuid,
    role: ChannelRole,
) -> AppResult<()> {
    let change = MemberChange {
        user_id,
        role,
        channel_kind: channel.kind,
    };
    emit_in(db, channel, actor, event(change)).await
}

/// Commit a transaction that emitted events, then wake the relay.
pub async fn commit(state: &AppState, tx: DatabaseTransaction) -> AppResult<()> {
    tx.commit().await?;
    state.outbox.committed();
    Ok(())
}
