//! Direct messages: a conversation of kind `dm` (two people, or a note to self) or `group_dm`
//! (up to 8 people). One conversation per participant set, enforced by a unique key.

use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set, SqlErr};
use uuid::Uuid;

use super::{
    Principal, accounts, channels, conversations, events, limits, now, read_state,
    views::ChannelView, workspaces,
};
use crate::{
    app::AppState,
    db::entity::channel,
    domain::{ChannelKind, ChannelRole, events::EventData},
    error::{AppError, AppResult, ErrorCode},
};

pub const MAX_PARTICIPANTS: usize = 8;

/// Open the DM with these people (the caller included automatically). `true` when created.
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %principal.user_id))]
pub async fn open(
    state: &AppState,
    principal: Principal,
    workspace_id: Option<Uuid>,
    participant_ids: Vec<Uuid>,
) -> AppResult<(ChannelView, bool)> {
    limits::spend(state, principal.user_id, limits::Write::Conversation).await?;
    let workspace_id = channels::resolve_workspace(&state.db, principal, workspace_id).await?;
    let people = participants(state, principal, workspace_id, participant_ids).await?;
    let key = format!(
        "{workspace_id}:{}",
        people
            .iter()
            .map(Uuid::to_string)
            .collect::<Vec<_>>()
            .join(",")
    );
    if let Some(existing) = by_key(state, &key).await? {
        return Ok((view(state, principal, existing).await?, false));
    }
    let at = now();
    let (tx, _write) = state.begin_write().await?;
    let inserted = channel::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(workspace_id),
        kind: Set(if people.len() <= 2 {
            ChannelKind::Dm
        } else {
            ChannelKind::GroupDm
        }),
        name: Set(None),
        description: Set(None),
        topic: Set(None),
        dm_key: Set(Some(key.clone())),
        created_by: Set(Some(principal.user_id)),
        created_at: Set(at),
        updated_at: Set(at),
        archived_at: Set(None),
        last_seq: Set(0),
        last_message_at: Set(None),
        top_level_count: Set(0),
        member_count: Set(0),
        last_top_level_seq: Set(0),
    }
    .insert(&tx)
    .await;
    let channel = match inserted {
        Ok(c) => c,
        // Someone opened the same DM at the same moment: theirs is the one.
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            drop(tx);
            let existing = by_key(state, &key)
                .await?
                .ok_or_else(|| AppError::internal("DM vanished after a key conflict"))?;
            return Ok((view(state, principal, existing).await?, false));
        }
        Err(e) => return Err(e.into()),
    };
    for id in &people {
        channels::add_member_in(&tx, &channel, *id, ChannelRole::Member).await?;
    }
    let channel = channels::reload(&tx, channel).await?;
    let created = ChannelView::of(channel.clone(), people.clone(), people.len() as u64);
    events::emit_in(
        &tx,
        &channel,
        principal.user_id,
        EventData::ChannelCreated(created),
    )
    .await?;
    events::commit(state, tx).await?;
    Ok((view(state, principal, channel).await?, true))
}

/// The DM's people: the caller and `others`, each once, sorted, every one an active member of
/// the workspace the caller may message; at most [`MAX_PARTICIPANTS`].
async fn participants(
    state: &AppState,
    principal: Principal,
    workspace_id: Uuid,
    others: Vec<Uuid>,
) -> AppResult<Vec<Uuid>> {
    let mut people = others;
    people.push(principal.user_id);
    people.sort();
    people.dedup();
    for id in &people {
        let user = accounts::get(&state.db, *id).await.map_err(|_| {
            AppError::new(
                ErrorCode::NotFound,
                format!("participant_ids: unknown user {id}"),
            )
        })?;
        if user.deactivated_at.is_some()
            || workspaces::membership(&state.db, workspace_id, *id)
                .await?
                .is_none()
        {
            return Err(AppError::new(
                ErrorCode::NotFound,
                format!("participant_ids: {id} is not in this workspace"),
            ));
        }
        if principal.is_guest() && !super::users::visible(&state.db, principal, *id).await? {
            return Err(AppError::forbidden(
                "guests can message only people they share a conversation with",
            ));
        }
    }
    // Counted after the lookups, so naming someone who does not exist is a 404 however many
    // people the request names.
    if people.len() > MAX_PARTICIPANTS {
        return Err(AppError::validation(format!(
            "participant_ids: at most {MAX_PARTICIPANTS} people in a group DM"
        )));
    }
    Ok(people)
}

async fn by_key(state: &AppState, key: &str) -> AppResult<Option<channel::Model>> {
    Ok(channel::Entity::find()
        .filter(channel::Column::DmKey.eq(key))
        .one(&state.db)
        .await?)
}

async fn view(state: &AppState, principal: Principal, c: channel::Model) -> AppResult<ChannelView> {
    let mut views = read_state::views_for(&state.db, principal.user_id, vec![c]).await?;
    views
        .pop()
        .ok_or_else(|| AppError::not_found("conversation"))
}

/// The caller's DMs, most recent activity first — ordered and paged exactly like the
/// conversations list (a DM without messages counts from its creation).
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %principal.user_id))]
pub async fn list(
    state: &AppState,
    principal: Principal,
    cursor: Option<&str>,
    limit: u64,
) -> AppResult<(Vec<ChannelView>, Option<String>)> {
    let dm_kinds = channel::Column::Kind.is_in([ChannelKind::Dm, ChannelKind::GroupDm]);
    let (dms, next) = conversations::memberships_by_activity(
        &state.db,
        principal.user_id,
        dm_kinds.into(),
        cursor,
        limit,
    )
    .await?;
    let rows = dms.into_iter().map(|(v, m)| (v.channel, Some(m))).collect();
    let views = read_state::member_views(&state.db, rows).await?;
    Ok((views, next))
}
