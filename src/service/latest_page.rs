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
//! - Memory is bounded by [`BUDGET_BYTES`]: pages are dropped oldest first.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, sea_query::Expr, sea_query::ExprTrait, sea_query::OnConflict,
};
use uuid::Uuid;

use super::{
    access::Access,
    decorate::{decorate_flagged, flagged},
    views::MessageView,
};
use crate::{
    db::entity::{channel_version, message, reaction},
    error::AppResult,
};

/// A request for at most this many of the newest messages is served from the cached page.
pub const CACHED: u64 = 50;

/// Memory the cached pages may take on a node (estimated from their text).
pub const BUDGET_BYTES: usize = 32 << 20;

/// The state of a conversation's messages (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentKey {
    pub last_seq: i64,
    pub version: i64,
}

struct Page {
    key: ContentKey,
    /// Newest first, at most [`CACHED`].
    views: Arc<[MessageView]>,
    /// Older top-level messages exist.
    more: bool,
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

    fn get(&self, channel_id: Uuid, key: ContentKey) -> Option<(Arc<[MessageView]>, bool)> {
        let pages = self.lock();
        let page = pages.by_channel.get(&channel_id)?;
        (page.key == key).then(|| (page.views.clone(), page.more))
    }

    fn put(&self, channel_id: Uuid, key: ContentKey, views: Arc<[MessageView]>, more: bool) {
        let bytes = estimate(&views);
        if bytes > self.budget {
            return;
        }
        let mut pages = self.lock();
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
    let (page, more) = match cache.get(channel_id, key) {
        Some(hit) => hit,
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
            cache.put(channel_id, key, page.clone(), more);
            (page, more)
        }
    };
    let take = (limit as usize).min(page.len());
    let mut views = page[..take].to_vec();
    mark_own_reactions(db, viewer, &mut views).await?;
    Ok((views, more || page.len() > take))
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
        cache.put(c, K1, vec![view(1, "hi")].into(), false);
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
            cache.put(*c, K1, vec![view(1, &"x".repeat(1000))].into(), false);
        }
        assert_eq!(cache.usage(), (3, 3 * one));
        assert!(cache.get(channels[0], K1).is_none());
        assert!(cache.get(channels[1], K1).is_none());
        assert!(cache.get(channels[4], K1).is_some());
        // Replacing a page does not count it twice, and the queue stays bounded.
        for _ in 0..1000 {
            cache.put(
                channels[4],
                K1,
                vec![view(1, &"x".repeat(1000))].into(),
                false,
            );
        }
        assert_eq!(cache.usage(), (3, 3 * one));
        assert!(cache.lock().order.len() <= 2 * 3 + 64 + 1);
    }

    #[test]
    fn a_page_larger_than_the_budget_is_not_kept() {
        let cache = LatestPages::with_budget(100);
        let c = Uuid::now_v7();
        cache.put(c, K1, vec![view(1, &"x".repeat(1000))].into(), false);
        assert_eq!(cache.usage(), (0, 0));
    }
}
