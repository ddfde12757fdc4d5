//! Read markers, unread and mention counts, and the conversations list.

use std::collections::HashMap;

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, Iterable, JoinType,
    QueryFilter, QueryResult, QuerySelect, RelationDef, Select, SelectModel, Selector,
    sea_query::{Expr, ExprTrait, IntoCondition, Query, SelectStatement},
};
use uuid::Uuid;

use super::{
    Principal, access,
    latest_page::{self, Versioned},
    marker_writer::MarkerMove,
    views::ChannelView,
};
use crate::{
    app::AppState,
    db::entity::{channel, channel_member},
    error::AppResult,
};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub unread: u64,
    pub mentions: u64,
}

/// `SELECT channel_id FROM channel_members WHERE user_id = …`: every conversation (channel or
/// DM) `user_id` is in, as a subquery (`channel::Column::Id.in_subquery(…)`).
pub fn memberships_of(user_id: Uuid) -> SelectStatement {
    Query::select()
        .column(channel_member::Column::ChannelId)
        .from(channel_member::Entity)
        .and_where(channel_member::Column::UserId.eq(user_id))
        .to_owned()
}

/// The join of `channels` with `user_id`'s row of `channel_members`, for reading both in one
/// query (see [`with_member`]).
pub fn membership_of(user_id: Uuid) -> RelationDef {
    channel::Entity::belongs_to(channel_member::Entity)
        .from(channel::Column::Id)
        .to(channel_member::Column::ChannelId)
        .on_condition(move |_, member| {
            Expr::col((member, channel_member::Column::UserId))
                .eq(user_id)
                .into_condition()
        })
        .into()
}

/// A conversation read with its content version and the caller's member row (`None` when the
/// join found none), by [`with_member`].
pub struct WithMember {
    pub seen: Versioned,
    pub member: Option<channel_member::Model>,
}

/// `query` (over `channels`) joined by `join` with `user_id`'s member row, selecting every
/// column of both tables and the content version, read as [`WithMember`].
///
/// The columns are selected under their own names: the two tables share none (a unit test
/// holds this), so unlike `select_also`, which prefixes each entity's columns, decoding a row
/// does not format a prefixed name for every column — on the sidebar pages that was a string
/// allocation per column per row.
pub fn with_member(
    query: Select<channel::Entity>,
    join: JoinType,
    user_id: Uuid,
) -> Selector<SelectModel<WithMember>> {
    query
        .select_only()
        .columns(channel::Column::iter())
        .columns(channel_member::Column::iter())
        .expr_as(latest_page::content_version(), latest_page::CONTENT_VERSION)
        .join(join, membership_of(user_id))
        .into_model::<WithMember>()
}

impl FromQueryResult for WithMember {
    fn from_query_result(res: &QueryResult, _: &str) -> Result<Self, DbErr> {
        Ok(Self {
            seen: Versioned::from_query_result(res, "")?,
            member: channel_member::Model::from_query_result_optional(res, "")?,
        })
    }
}

/// Unread and mention counts of a member, from the counters kept by `read_counts` (nothing is
/// counted here, whatever the backlog). The rule, as in Slack:
///
/// - `unread`: top-level messages by others, not deleted, after the marker. Thread replies are
///   read in their thread and do not make the conversation unread.
/// - `mentions`: messages by others after the marker that mention the user, `@channel` or
///   `@here` — top-level messages and thread replies alike, because a mention is addressed to
///   the person wherever it is written. (Deleted messages lose their mentions.)
///
/// Both are measured against the one per-conversation marker: replies take channel sequence
/// numbers too, so moving the marker past a reply clears its mention.
pub fn counts(channel: &channel::Model, member: &channel_member::Model) -> Counts {
    let unread = channel.top_level_count - member.read_top_level - member.own_unread;
    Counts {
        unread: u64::try_from(unread).unwrap_or(0),
        mentions: u64::try_from(member.mention_count).unwrap_or(0),
    }
}

/// The views of `channels` as `viewer` sees them (membership, marker, unread and mention
/// counts), in the given order: one query for the viewer's memberships, and one for the
/// participants when there are DMs among them.
pub async fn views_for(
    db: &impl ConnectionTrait,
    viewer: Uuid,
    channels: Vec<channel::Model>,
) -> AppResult<Vec<ChannelView>> {
    if channels.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = channels.iter().map(|c| c.id).collect();
    let memberships: HashMap<Uuid, channel_member::Model> = channel_member::Entity::find()
        .filter(channel_member::Column::UserId.eq(viewer))
        .filter(channel_member::Column::ChannelId.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|m| (m.channel_id, m))
        .collect();
    let rows = channels
        .into_iter()
        .map(|c| {
            let m = memberships.get(&c.id).cloned();
            (c, m)
        })
        .collect();
    member_views(db, rows).await
}

/// The views of `channels` with the viewer's member rows (`None`: not a member), in the given
/// order: no query, or one for the participants when there are DMs among them.
pub async fn member_views(
    db: &impl ConnectionTrait,
    rows: Vec<(channel::Model, Option<channel_member::Model>)>,
) -> AppResult<Vec<ChannelView>> {
    let counted: Vec<Option<(Counts, i64)>> = rows
        .iter()
        .map(|(c, m)| m.as_ref().map(|m| (counts(c, m), m.last_read_seq)))
        .collect();
    let mut views = views(db, rows.into_iter().map(|(c, _)| c).collect()).await?;
    for (v, counted) in views.iter_mut().zip(counted) {
        let c_or_zero = counted.map(|(c, _)| c).unwrap_or_default();
        v.is_member = Some(counted.is_some());
        v.last_read_seq = counted.map(|(_, marker)| marker);
        v.unread_count = Some(c_or_zero.unread);
        v.mention_count = Some(c_or_zero.mentions);
    }
    Ok(views)
}

/// Move the caller's read marker forward to `seq` (never backwards; clamped to the last message).
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %principal.user_id, channel_id = %channel_id))]
pub async fn mark_read(
    state: &AppState,
    principal: Principal,
    channel_id: Uuid,
    seq: i64,
) -> AppResult<(i64, Counts)> {
    let access = access::readable(&state.db, principal, channel_id).await?;
    let Some(membership) = access.membership else {
        return Err(crate::error::AppError::forbidden("join the channel first"));
    };
    if seq < 0 {
        return Err(crate::error::AppError::validation(
            "seq: must not be negative",
        ));
    }
    let target = std::cmp::min(seq, access.channel.last_seq);
    if target <= membership.last_read_seq {
        return Ok((
            membership.last_read_seq,
            counts(&access.channel, &membership),
        ));
    }
    let marker = MarkerMove {
        workspace_id: access.channel.workspace_id,
        channel_id,
        user_id: principal.user_id,
        to: target,
    };
    let Some((member, top_level_count)) = state.marker_writer.submit(marker).await? else {
        // Another tab moved it as far or further meanwhile (or the membership ended).
        let now = channel_member::Entity::find_by_id((channel_id, principal.user_id))
            .one(&state.db)
            .await?
            .unwrap_or(membership);
        return Ok((now.last_read_seq, counts(&access.channel, &now)));
    };
    let channel = channel::Model {
        top_level_count,
        ..access.channel
    };
    Ok((target, counts(&channel, &member)))
}

/// A `ChannelView` per channel, in the given order, as anyone sees it (see [`views_for`] for
/// the viewer's counts): participants loaded for DMs only (one query when there are any).
pub async fn views(
    db: &impl ConnectionTrait,
    channels: Vec<channel::Model>,
) -> AppResult<Vec<ChannelView>> {
    let dm_ids: Vec<Uuid> = channels.iter().filter(|c| is_dm(c)).map(|c| c.id).collect();
    let mut participants: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    if !dm_ids.is_empty() {
        let rows: Vec<(Uuid, Uuid)> = channel_member::Entity::find()
            .select_only()
            .column(channel_member::Column::ChannelId)
            .column(channel_member::Column::UserId)
            .filter(channel_member::Column::ChannelId.is_in(dm_ids))
            .into_tuple()
            .all(db)
            .await?;
        for (c, u) in rows {
            participants.entry(c).or_default().push(u);
        }
    }
    Ok(channels
        .into_iter()
        .map(|c| {
            let count = u64::try_from(c.member_count).unwrap_or(0);
            let mut people = participants.remove(&c.id).unwrap_or_default();
            people.sort();
            ChannelView::of(c, people, count)
        })
        .collect())
}

fn is_dm(c: &channel::Model) -> bool {
    c.kind.is_dm()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use sea_orm::{IdenStatic, Iterable};

    use super::*;

    /// [`with_member`] selects both tables' columns under their own names.
    #[test]
    fn channels_and_members_share_no_column_name() {
        let channels: HashSet<&str> = channel::Column::iter().map(|c| c.as_str()).collect();
        for c in channel_member::Column::iter() {
            assert!(!channels.contains(c.as_str()), "both have {}", c.as_str());
        }
        assert!(!channels.contains(latest_page::CONTENT_VERSION));
    }
}
