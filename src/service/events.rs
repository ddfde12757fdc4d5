//! Writing events: each change stores its event in the outbox inside the same transaction;
//! [`commit`] then wakes the relay, which publishes to the bus after the commit.

use sea_orm::{ConnectionTrait, DatabaseTransaction, EntityTrait, NotSet, Set};
use uuid::Uuid;

use crate::{
    app::AppState,
    db::entity::{channel, outbox},
    domain::{
        ChannelRole,
        events::{Event, EventData, MemberChange},
    },
    error::AppResult,
};

/// Store `event` in the outbox (inside the caller's transaction).
pub async fn emit(db: &impl ConnectionTrait, event: &Event) -> AppResult<()> {
    let payload = serde_json::to_string(event).map_err(crate::error::AppError::internal)?;
    outbox::Entity::insert(outbox::ActiveModel {
        position: NotSet,
        event_id: Set(event.id),
        event_type: Set(event.kind().as_str().to_string()),
        workspace_id: Set(event.workspace_id),
        channel_id: Set(event.channel_id),
        payload: Set(payload),
        created_at: Set(event.occurred_at),
        published_at: Set(None),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
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
