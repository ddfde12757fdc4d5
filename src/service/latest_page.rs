//! The newest page of each conversation's top-level messages, kept in memory on each node: the
//! page every channel switch asks for (issue 9).
//!
//! Invariants:
//!
//! - **A cached page is served only for the exact state it was read at.** That state is named by
//!   a [`ContentKey`]: `channels.last_seq` (raised by every new message and reply, in the
//!   transaction that inserts it) and `channel_versions.version` (raised by every change to
//!   messages the conversation already has — edit, delete, reaction, pin — as the last statement
//!   of the transaction that makes it: [`bump`]). The access check reads both in the query it
//!   makes anyway, so a request compares the key of what the database holds now with the key of
//!   the cached page: equal keys, same messages. Nothing is invalidated, on this node or another,
//!   and a writer reads its own writes.
//! - A page read after the key was read may be newer than the key (a commit in between), never
//!   older; it is stored under the older key, which no later request can read again (both
//!   numbers only grow), so at worst a request gets a page a few milliseconds newer than the
//!   access check it made.
//! - The page is stored as everyone sees it (`me` false in every reaction); each request then
//!   marks its caller's reactions with one query, only when the page has reactions.
//! - The conversations list reads each conversation's last message from the kept page when
//!   there is one, and keeps a one-message page for the others; such a page serves the list,
//!   never the history (which must know whether older messages follow), and never replaces a
//!   longer page of the same key.
//! - Memory is bounded by [`BUDGET_BYTES`]: pages are dropped oldest first.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait,
    FromQueryResult, QueryFilter, QueryOrder, QueryResult, QuerySelect, Set,
    sea_query::{Expr, ExprTrait, Func, OnConflict, Query},
};
use uuid::Uuid;

use super::{
    access::Access,
    decorate::{decorate_flagged, flagged},
    views::MessageView,
};
use crate::{
    db::entity::{channel, channel_version, message, reaction},
    error::AppResult,
};

/// A request for at most this many of the newest messages is served from the cached page.
pub const CACHED: u64 = 50;

/// Memory the cached pages may take on a node (estimated from their text).
pub const BUDGET_BYTES: usize = 32 << 20;

/// A channel row with its content version, as the access check and the conversations list
/// read it: `.expr_as(content_version(), CONTENT_VERSION)` before `select_also`.
pub struct Versioned {
    pub channel: channel::Model,
    pub content_version: i64,
}

impl Versioned {
    pub fn key(&self) -> ContentKey {
        ContentKey::of(&self.channel, self.content_version)
    }
}

pub const CONTENT_VERSION: &str = "content_version";

/// `COALESCE((SELECT version FROM channel_versions WHERE channel_id = channels.id), 0)`.
pub fn content_version() -> Expr {
    Func::coalesce([
        Expr::from(
            Query::select()
                .column(channel_version::Column::Version)
                .from(channel_version::Entity)
                .and_where(
                    Expr::col((channel_version::Entity, channel_version::Column::ChannelId))
                        .equals((channel::Entity, channel::Column::Id)),
                )
                .to_owned(),
        ),
        Expr::val(0i64),
    ])
    .into()
}

impl FromQueryResult for Versioned {
    fn from_query_result(res: &QueryResult, pre: &str) -> Result<Self, DbErr> {
        Ok(Self {
            channel: channel::Model::from_query_result(res, pre)?,
            // `select_also` prefixes the first entity's columns, this one included.
            content_version: res.try_get(pre, CONTENT_VERSION)?,
        })
    }
}

/// The state of a conversation's messages (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentKey {
    pub last_seq: i64,
    pub version: i64,
}

impl ContentKey {
    /// The key of `channel` as read, with its content version.
    pub fn of(channel: &channel::Model, version: i64) -> Self {
        Self {
            last_seq: channel.last_seq,
            version,
        }
    }
}

struct Page {
    key: ContentKey,
    /// The newest top-level messages, newest first: [`CACHED`] of them when read for the history,
    /// one when read for the conversations list.
    views: Arc<[MessageView]>,
    /// Whether older top-level messages exist: known when the page was read for the history.
    more: Option<bool>,
    bytes: usize,
    stamp: u64,
}

#[derive(Default)]
struct Pages {
    by_channel: HashMap<Uuid, Page>,
    /// Insertion order, for eviction; an entry whose stamp no longer matches was replaced.
    order: VecDeque<(Uuid, u64)>,
    bytes: usize,
    next_stamp: u64,
}

/// The cache (one per node, in `AppState`).
pub struct LatestPages {
    pages: Mutex<Pages>,
    budget: usize,
}

impl Default for LatestPages {
    fn default() -> Self {
        Self::with_budget(BUDGET_BYTES)
    }
}

impl LatestPages {
    pub fn with_budget(budget: usize) -> Self {
        Self {
            pages: Mutex::new(Pages::default()),
            budget,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pages> {
        // A panic while holding the lock leaves a consistent map (every mutation is a single
        // insert or remove), so a poisoned lock is still usable.
        self.pages.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self, channel_id: Uuid, key: ContentKey) -> Option<(Arc<[MessageView]>, Option<bool>)> {
        let pages = self.lock();
        let page = pages.by_channel.get(&channel_id)?;
        (page.key == key).then(|| (page.views.clone(), page.more))
    }

    /// Keep `views` as the newest of `channel_id` at `key`, unless a page at least as long is
    /// already kept for that key.
    fn put(
        &self,
        channel_id: Uuid,
        key: ContentKey,
        views: Arc<[MessageView]>,
        more: Option<bool>,
    ) {
        let bytes = estimate(&views);
        if bytes > self.budget {
            return;
        }
        let mut pages = self.lock();
        if pages
            .by_channel
            .get(&channel_id)
            .is_some_and(|p| p.key == key && p.views.len() >= views.len())
        {
            return;
        }
        let stamp = pages.next_stamp;
        pages.next_stamp += 1;
        let page = Page {
            key,
            views,
            more,
            bytes,
            stamp,
        };
        if let Some(old) = pages.by_channel.insert(channel_id, page) {
            pages.bytes -= old.bytes;
        }
        pages.bytes += bytes;
        pages.order.push_back((channel_id, stamp));
        while pages.bytes > self.budget {
            let Some((oldest, stamp)) = pages.order.pop_front() else {
                break;
            };
            if pages
                .by_channel
                .get(&oldest)
                .is_some_and(|p| p.stamp == stamp)
                && let Some(gone) = pages.by_channel.remove(&oldest)
            {
                pages.bytes -= gone.bytes;
            }
        }
        // Replaced pages leave stale entries behind; keep the queue proportional to the map.
        if pages.order.len() > 2 * pages.by_channel.len() + 64 {
            let Pages {
                by_channel, order, ..
            } = &mut *pages;
            order.retain(|(c, s)| by_channel.get(c).is_some_and(|p| p.stamp == *s));
        }
    }

    /// Pages held and their estimated size, for tests and metrics.
    pub fn usage(&self) -> (usize, usize) {
        let pages = self.lock();
        (pages.by_channel.len(), pages.bytes)
    }
}

/// What a page costs in memory, roughly: its text plus a fixed overhead per message, reaction
/// and mention.
fn estimate(views: &[MessageView]) -> usize {
    views
        .iter()
        .map(|v| {
            256 + v.content.len()
                + v.client_id.as_ref().map_or(0, String::len)
                + v.reactions
                    .iter()
                    .map(|r| 48 + r.emoji.len() + 16 * r.user_ids.len())
                    .sum::<usize>()
                + 16 * v.mentions.user_ids.len()
        })
        .sum()
}

/// Raise `channel_id`'s content version: the last statement of every transaction that changes
/// messages the conversation already has (see the module docs). Nothing else locks the row.
pub async fn bump(tx: &DatabaseTransaction, channel_id: Uuid) -> Result<(), sea_orm::DbErr> {
    use channel_version::Column as V;
    channel_version::Entity::insert(channel_version::ActiveModel {
        channel_id: Set(channel_id),
        version: Set(1),
    })
    .on_conflict(
        OnConflict::column(V::ChannelId)
            .value(
                V::Version,
                Expr::col((channel_version::Entity, V::Version)).add(1),
            )
            .to_owned(),
    )
    .exec_without_returning(tx)
    .await?;
    Ok(())
}

/// The newest `limit` (≤ [`CACHED`]) top-level messages of the conversation `access` was checked
/// for, as `viewer` sees them, and whether older ones exist.
pub async fn newest(
    db: &impl ConnectionTrait,
    cache: &LatestPages,
    access: &Access,
    viewer: Uuid,
    limit: u64,
) -> AppResult<(Vec<MessageView>, bool)> {
    let channel_id = access.channel.id;
    let key = access.content_key();
    // A page read for the conversations list holds one message and does not know what follows.
    let usable = |(page, more): &(Arc<[MessageView]>, Option<bool>)| {
        page.len() as u64 > limit || more.is_some()
    };
    let (page, more) = match cache.get(channel_id, key).filter(usable) {
        Some((page, more)) => (page, more.unwrap_or(true)),
        None => {
            let mut rows = flagged(
                message::Entity::find()
                    .filter(message::Column::ChannelId.eq(channel_id))
                    .filter(message::Column::ThreadRootId.is_null())
                    .order_by_desc(message::Column::Seq)
                    .limit(CACHED + 1),
            )
            .all(db)
            .await?;
            let more = rows.len() as u64 > CACHED;
            rows.truncate(CACHED as usize);
            let page: Arc<[MessageView]> = decorate_flagged(db, None, rows).await?.into();
            cache.put(channel_id, key, page.clone(), Some(more));
            (page, more)
        }
    };
    let take = (limit as usize).min(page.len());
    let mut views = page[..take].to_vec();
    mark_own_reactions(db, viewer, &mut views).await?;
    Ok((views, more || page.len() > take))
}

/// The last top-level message of each of `channels` (those that have one), as `viewer` sees
/// it: from the kept pages, and for the others one query by `channels.last_top_level_seq`
/// (replies live in their threads, so a reply never stands for the conversation), whose
/// answers are kept as one-message pages; then `viewer`'s reactions (one query when any).
pub async fn last_messages<'a>(
    db: &impl ConnectionTrait,
    cache: &LatestPages,
    viewer: Uuid,
    channels: impl IntoIterator<Item = &'a Versioned>,
) -> AppResult<HashMap<Uuid, MessageView>> {
    let mut found: Vec<MessageView> = Vec::new();
    let mut missing: HashMap<Uuid, ContentKey> = HashMap::new();
    let mut last_of = Condition::any();
    for v in channels {
        let c = &v.channel;
        if c.last_top_level_seq == 0 {
            continue;
        }
        let kept = cache
            .get(c.id, v.key())
            .and_then(|(page, _)| page.first().cloned())
            .filter(|m| m.seq == c.last_top_level_seq);
        match kept {
            Some(m) => found.push(m),
            None => {
                missing.insert(c.id, v.key());
                last_of = last_of.add(
                    Condition::all()
                        .add(message::Column::ChannelId.eq(c.id))
                        .add(message::Column::Seq.eq(c.last_top_level_seq)),
                );
            }
        }
    }
    if !missing.is_empty() {
        let rows = flagged(message::Entity::find().filter(last_of))
            .all(db)
            .await?;
        for m in decorate_flagged(db, None, rows).await? {
            if let Some(key) = missing.get(&m.channel_id) {
                cache.put(m.channel_id, *key, Arc::from([m.clone()]), None);
            }
            found.push(m);
        }
    }
    mark_own_reactions(db, viewer, &mut found).await?;
    Ok(found.into_iter().map(|m| (m.channel_id, m)).collect())
}

/// Set `me` on the reactions `viewer` made (one query, none when no view has reactions).
async fn mark_own_reactions(
    db: &impl ConnectionTrait,
    viewer: Uuid,
    views: &mut [MessageView],
) -> AppResult<()> {
    let reacted: Vec<Uuid> = views
        .iter()
        .filter(|v| !v.reactions.is_empty())
        .map(|v| v.id)
        .collect();
    if reacted.is_empty() {
        return Ok(());
    }
    let mine: HashSet<(Uuid, String)> = reaction::Entity::find()
        .select_only()
        .columns([reaction::Column::MessageId, reaction::Column::Emoji])
        .filter(reaction::Column::UserId.eq(viewer))
        .filter(reaction::Column::MessageId.is_in(reacted))
        .into_tuple::<(Uuid, String)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    if mine.is_empty() {
        return Ok(());
    }
    for v in views.iter_mut() {
        for r in &mut v.reactions {
            r.me = mine.contains(&(v.id, r.emoji.clone()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(seq: i64, content: &str) -> MessageView {
        let mut v = MessageView::bare(crate::db::entity::message::Model {
            id: Uuid::now_v7(),
            channel_id: Uuid::nil(),
            seq,
            user_id: Uuid::nil(),
            content: content.to_string(),
            client_id: None,
            thread_root_id: None,
            reply_count: 0,
            last_reply_at: None,
            edited_at: None,
            deleted_at: None,
            deleted_by: None,
            created_at: crate::domain::clock::now(),
            search_terms: None,
            hidden_at: None,
        });
        v.seq = seq;
        v
    }

    const K1: ContentKey = ContentKey {
        last_seq: 1,
        version: 0,
    };

    #[test]
    fn a_page_is_served_only_for_its_key() {
        let cache = LatestPages::default();
        let c = Uuid::now_v7();
        cache.put(c, K1, vec![view(1, "hi")].into(), Some(false));
        assert!(cache.get(c, K1).is_some());
        let edited = ContentKey { version: 1, ..K1 };
        let newer = ContentKey { last_seq: 2, ..K1 };
        assert!(cache.get(c, edited).is_none());
        assert!(cache.get(c, newer).is_none());
        assert!(cache.get(Uuid::now_v7(), K1).is_none());
    }

    #[test]
    fn the_budget_drops_the_oldest_pages() {
        let one = estimate(&[view(1, &"x".repeat(1000))]);
        let cache = LatestPages::with_budget(3 * one);
        let channels: Vec<Uuid> = (0..5).map(|_| Uuid::now_v7()).collect();
        for c in &channels {
            cache.put(*c, K1, vec![view(1, &"x".repeat(1000))].into(), Some(false));
        }
        assert_eq!(cache.usage(), (3, 3 * one));
        assert!(cache.get(channels[0], K1).is_none());
        assert!(cache.get(channels[1], K1).is_none());
        assert!(cache.get(channels[4], K1).is_some());
        // Replacing a page does not count it twice, and the queue stays bounded.
        for i in 0..1000 {
            cache.put(
                channels[4],
                ContentKey { last_seq: i, ..K1 },
                vec![view(1, &"x".repeat(1000))].into(),
                Some(false),
            );
        }
        assert_eq!(cache.usage(), (3, 3 * one));
        assert!(cache.lock().order.len() <= 2 * 3 + 64 + 1);
    }

    #[test]
    fn a_one_message_page_never_replaces_a_longer_one_of_the_same_key() {
        let cache = LatestPages::default();
        let c = Uuid::now_v7();
        let full: Arc<[MessageView]> = vec![view(2, "b"), view(1, "a")].into();
        cache.put(c, K1, full, Some(false));
        cache.put(c, K1, vec![view(2, "b")].into(), None);
        assert_eq!(
            cache.get(c, K1).map(|(p, more)| (p.len(), more)),
            Some((2, Some(false)))
        );
        // A newer state replaces it, whatever its length.
        let newer = ContentKey { last_seq: 3, ..K1 };
        cache.put(c, newer, vec![view(3, "c")].into(), None);
        assert!(cache.get(c, K1).is_none());
        assert_eq!(
            cache.get(c, newer).map(|(p, more)| (p.len(), more)),
            Some((1, None))
        );
    }

    #[test]
    fn a_page_larger_than_the_budget_is_not_kept() {
        let cache = LatestPages::with_budget(100);
        let c = Uuid::now_v7();
        cache.put(c, K1, vec![view(1, &"x".repeat(1000))].into(), Some(false));
        assert_eq!(cache.usage(), (0, 0));
    }
}
