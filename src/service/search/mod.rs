//! `GET /search/messages` and `GET /search/files`: what the caller may read, and nothing else.
//!
//! The conversations searched are the caller's: those they are a member of (channels, DMs) and,
//! except for guests, the public channels of their workspaces — the same rule as reading a
//! channel (`access::readable`), minus the moderators' reach into private channels they are not
//! in. They go into the index query as a filter, so a page is never thinned out after ranking.
//! Results are then read from the database: a hit shows the message as it is now.

mod files;

pub use files::{FileHit, FileResults, files};

use std::collections::HashMap;

use poem_openapi::Object;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
    sea_query::{Expr, ExprTrait, Func},
};
use time::{Date, Duration, OffsetDateTime, Time};
use uuid::Uuid;

use super::{Principal, decorate, views::MessageView};
use crate::{
    app::AppState,
    db::entity::{channel, channel_member, message, user, workspace_member},
    domain::{ChannelKind, Invalid},
    error::{AppError, AppResult, ErrorCode},
    search::{COUNT_LIMIT, MessageSearch, SearchError, SearchQuery, analyzer},
};

/// Results per page when the caller does not say.
pub const DEFAULT_LIMIT: u64 = 20;
/// Results beyond this rank are not served (deep pages cost the index the most).
pub(super) const MAX_OFFSET: usize = 1_000;
/// Characters of context in a highlight.
const HIGHLIGHT_CHARS: usize = 200;

/// What to search for: the query box (`q`) and the same filters as parameters.
#[derive(Debug, Default)]
pub struct MessageSearchParams {
    pub q: String,
    pub channel_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    /// Sent on or after this day (UTC).
    pub from: Option<Date>,
    /// Sent on or before this day (UTC).
    pub to: Option<Date>,
    pub has_file: bool,
    pub cursor: Option<String>,
    pub limit: u64,
}

/// A conversation, as a search result names it.
#[derive(Debug, Clone, Object)]
pub struct ChannelRef {
    pub id: Uuid,
    /// `null` for DMs.
    #[oai(nullable)]
    pub name: Option<String>,
    pub kind: ChannelKind,
}

/// A person, as a search result names them.
#[derive(Debug, Clone, Object)]
pub struct UserRef {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
}

#[derive(Debug, Clone, Object)]
pub struct MessageHit {
    /// The message as it is now; `thread_root_id` links a reply to its thread.
    pub message: MessageView,
    pub channel: ChannelRef,
    pub user: UserRef,
    /// The text around the matches, HTML-escaped, matched words in `<mark>`.
    pub highlights: Vec<String>,
}

#[derive(Debug, Clone, Object)]
pub struct MessageResults {
    pub items: Vec<MessageHit>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    #[oai(nullable)]
    pub next_cursor: Option<String>,
    /// Messages matching, counted up to 1,000 (results past rank 1,000 are not served).
    pub total: u64,
    /// True when more than `total` messages match (the count stopped at 1,000).
    pub total_capped: bool,
}

/// The conversations `principal` may search.
pub(super) async fn readable_channels(
    db: &impl ConnectionTrait,
    principal: Principal,
) -> AppResult<Vec<Uuid>> {
    let me = principal.user_id;
    let mut ids: Vec<Uuid> = channel_member::Entity::find()
        .select_only()
        .column(channel_member::Column::ChannelId)
        .filter(channel_member::Column::UserId.eq(me))
        .into_tuple()
        .all(db)
        .await?;
    if !principal.is_guest() {
        let my_workspaces = sea_orm::sea_query::Query::select()
            .column(workspace_member::Column::WorkspaceId)
            .from(workspace_member::Entity)
            .and_where(workspace_member::Column::UserId.eq(me))
            .to_owned();
        let public: Vec<Uuid> = channel::Entity::find()
            .select_only()
            .column(channel::Column::Id)
            .filter(channel::Column::Kind.eq(ChannelKind::Public))
            .filter(channel::Column::WorkspaceId.in_subquery(my_workspaces))
            .into_tuple()
            .all(db)
            .await?;
        ids.extend(public);
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

fn start_of(day: Date) -> OffsetDateTime {
    day.with_time(Time::MIDNIGHT).assume_utc()
}

/// The offset a cursor names: empty or none is the start; past `MAX_OFFSET`, nothing is served
/// (`None`). The API lets only digits through.
pub(super) fn offset_of(cursor: Option<&str>) -> AppResult<Option<usize>> {
    match cursor.filter(|c| !c.is_empty()) {
        None => Ok(Some(0)),
        Some(c) => c
            .parse::<usize>()
            .map(|o| (o <= MAX_OFFSET).then_some(o))
            .map_err(|_| Invalid::new("cursor", "is not a cursor this search returned").into()),
    }
}

/// A day written `YYYY-MM-DD`; a day past the end of its month is the month's last day, a
/// month past 12 is December (the API's pattern lets only these shapes through). `None` for
/// anything else, and for the empty string.
pub fn day(text: &str) -> Option<Date> {
    let mut parts = text.splitn(3, '-').map(|p| p.parse::<u16>().ok());
    let (year, month, day) = (parts.next()??, parts.next()??, parts.next()??);
    let month = time::Month::try_from(month.clamp(1, 12) as u8).ok()?;
    let last = time::util::days_in_month(month, i32::from(year));
    Date::from_calendar_date(
        i32::from(year),
        month,
        (day.clamp(1, u16::from(last))) as u8,
    )
    .ok()
}

fn search_error(e: SearchError) -> AppError {
    match e {
        SearchError::Unavailable(detail) => AppError::new(
            ErrorCode::SearchUnavailable,
            format!("search is not available: {detail}"),
        ),
        SearchError::Timeout(limit) => AppError::new(
            ErrorCode::SearchUnavailable,
            format!("the search took longer than {limit:?}; narrow it down"),
        ),
        other => {
            tracing::error!(error = %other, "search failed");
            AppError::new(ErrorCode::SearchUnavailable, "search failed")
        }
    }
}

/// `GET /search/messages`.
pub async fn messages(
    state: &AppState,
    principal: Principal,
    params: MessageSearchParams,
) -> AppResult<MessageResults> {
    let query = SearchQuery::parse(&params.q)?;
    if query.is_empty()
        && params.channel_id.is_none()
        && params.user_id.is_none()
        && params.from.is_none()
        && params.to.is_none()
        && !params.has_file
    {
        // Nothing asked, nothing found (the web app does not send empty searches).
        return Ok(empty());
    }
    let Some(offset) = offset_of(params.cursor.as_deref())? else {
        return Ok(empty());
    };
    let limit = params.limit.clamp(1, 100) as usize;
    let db = &state.db;
    let Some((channels, users)) = scope(db, principal, &params, &query).await? else {
        return Ok(empty());
    };
    let (since, until) = time_range(&params, &query);
    let search = MessageSearch {
        clauses: query.clauses.clone(),
        channels,
        users,
        since,
        until,
        has_file: params.has_file || query.has_file,
        offset,
        limit,
        now: crate::domain::clock::now(),
    };
    let (matched, ids) = state.search.messages(search).await.map_err(search_error)?;
    let total_capped = matched > COUNT_LIMIT;
    let total = std::cmp::min(matched, COUNT_LIMIT);
    let items = hydrate(db, principal, &ids, &query.terms()).await?;
    let next = offset + ids.len();
    let next_cursor = (ids.len() == limit && (next as u64) < total && next <= MAX_OFFSET)
        .then(|| next.to_string());
    Ok(MessageResults {
        items,
        next_cursor,
        total,
        total_capped,
    })
}

/// The conversations and authors to search in; `None` when nothing can match (a channel or
/// person named in the query that does not exist for the caller).
async fn scope(
    db: &impl ConnectionTrait,
    principal: Principal,
    params: &MessageSearchParams,
    query: &SearchQuery,
) -> AppResult<Option<(Vec<Uuid>, Vec<Uuid>)>> {
    let mut channels = readable_channels(db, principal).await?;
    if let Some(id) = params.channel_id {
        // 404 / 403 exactly as reading the conversation would answer.
        super::access::readable(db, principal, id).await?;
        // A moderator may read a private channel they are not in: then search it too.
        channels = vec![id];
    }
    if !query.in_channels.is_empty() {
        let lower_name = Expr::expr(Func::lower(Expr::col(channel::Column::Name)));
        channels = channel::Entity::find()
            .select_only()
            .column(channel::Column::Id)
            .filter(channel::Column::Id.is_in(channels))
            .filter(lower_name.is_in(query.in_channels.clone()))
            .into_tuple()
            .all(db)
            .await?;
    }
    let mut users: Vec<Uuid> = params.user_id.into_iter().collect();
    if !query.from.is_empty() {
        let named: Vec<Uuid> = user::Entity::find()
            .select_only()
            .column(user::Column::Id)
            .filter(user::Column::Username.is_in(query.from.clone()))
            .into_tuple()
            .all(db)
            .await?;
        if named.is_empty() {
            return Ok(None);
        }
        users.extend(named);
    }
    Ok((!channels.is_empty()).then_some((channels, users)))
}

/// Sent at or after / before, from the parameters and the query's `after:` / `before:`.
fn time_range(
    params: &MessageSearchParams,
    query: &SearchQuery,
) -> (Option<OffsetDateTime>, Option<OffsetDateTime>) {
    let since = [
        params.from.map(start_of),
        query.after.map(|d| start_of(d) + Duration::DAY),
    ]
    .into_iter()
    .flatten()
    .max();
    let until = [
        params.to.map(|d| start_of(d) + Duration::DAY),
        query.before.map(start_of),
    ]
    .into_iter()
    .flatten()
    .min();
    (since, until)
}

fn empty() -> MessageResults {
    MessageResults {
        items: Vec::new(),
        next_cursor: None,
        total: 0,
        total_capped: false,
    }
}

/// The messages `ids` as they are now, in that order, with their conversation, author and
/// highlights; messages deleted since they were indexed are left out.
async fn hydrate(
    db: &impl ConnectionTrait,
    principal: Principal,
    ids: &[Uuid],
    terms: &[String],
) -> AppResult<Vec<MessageHit>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = decorate::flagged(
        message::Entity::find()
            .filter(message::Column::Id.is_in(ids.to_vec()))
            .filter(message::Column::DeletedAt.is_null()),
    )
    .all(db)
    .await?;
    let mut views = decorate::decorate_flagged(db, Some(principal.user_id), rows).await?;
    MessageView::retain_visible(&mut views, principal.user_id, principal.is_admin());
    let channel_ids: Vec<Uuid> = views.iter().map(|v| v.channel_id).collect();
    let user_ids: Vec<Uuid> = views.iter().map(|v| v.user_id).collect();
    let channels: HashMap<Uuid, channel::Model> = channel::Entity::find()
        .filter(channel::Column::Id.is_in(channel_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    let users: HashMap<Uuid, user::Model> = user::Entity::find()
        .filter(user::Column::Id.is_in(user_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    let mut by_id: HashMap<Uuid, MessageView> = views.into_iter().map(|v| (v.id, v)).collect();
    Ok(ids
        .iter()
        .filter_map(|id| {
            let message = by_id.remove(id)?;
            let c = channels.get(&message.channel_id)?;
            let u = users.get(&message.user_id)?;
            Some(MessageHit {
                highlights: vec![analyzer::highlight(
                    &message.content,
                    terms,
                    HIGHLIGHT_CHARS,
                )],
                channel: ChannelRef {
                    id: c.id,
                    name: c.name.clone(),
                    kind: c.kind,
                },
                user: UserRef {
                    id: u.id,
                    username: u.username.clone(),
                    display_name: u.display_name.clone(),
                },
                message,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    #[test]
    fn days_are_read_leniently_within_their_shape() {
        assert_eq!(day("2026-12-01"), Some(date!(2026 - 12 - 01)));
        assert_eq!(day("2026-02-30"), Some(date!(2026 - 02 - 28)));
        assert_eq!(day("2024-02-31"), Some(date!(2024 - 02 - 29)));
        assert_eq!(day("2026-13-00"), Some(date!(2026 - 12 - 01)));
        assert_eq!(day("0000-00-00"), Some(date!(0000 - 01 - 01)));
        assert_eq!(day(""), None);
    }

    #[test]
    fn cursors_past_the_last_served_rank_end_the_pages() {
        assert_eq!(offset_of(None).unwrap(), Some(0));
        assert_eq!(offset_of(Some("")).unwrap(), Some(0));
        assert_eq!(offset_of(Some("40")).unwrap(), Some(40));
        assert_eq!(offset_of(Some("999999999")).unwrap(), None);
        assert!(offset_of(Some("x")).is_err());
    }
}
