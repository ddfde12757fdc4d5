//! Storing one batch of new messages in one transaction, step by step:
//!
//! 1. [`dedupe`]: one lookup for every `client_id` in the batch; a repeat (of an earlier message
//!    or of one earlier in this batch) answers with the original and writes nothing.
//! 2. [`bump_roots`]: replies add to their root's `reply_count` (one atomic `UPDATE … RETURNING`
//!    per root); a reply whose root was deleted meanwhile is refused — before it takes a seq.
//! 3. [`assign_seqs`]: one `UPDATE … RETURNING` advances `last_seq` (and the top-level count,
//!    see `read_counts`) of every channel in the batch, under the channel rows' write locks, so
//!    sequences are gap-free. Then the day's message counts (`stats::count_sent`, one upsert).
//! 4. [`build`]: message rows, mention rows and events (`message.created`, and for a reply its
//!    root's `message.updated` with the count that reply made).
//! 5. [`followed_threads::auto::record`]: the follows the replies make (their authors, the
//!    roots' authors, the users mentioned), in a constant number of multi-row statements.
//! 6. [`insert`]: multi-row inserts for messages, mentions, file links and the moderation rules'
//!    reports, then the outbox rows.
//! 7. [`read_counts::on_new_messages`]: the authors' own unread (one statement) and the mention
//!    counts of the people mentioned (one statement per message that mentions anyone).
//!
//! A batch of top-level messages takes no per-message query: step 2 is skipped without replies.

use std::{collections::HashMap, sync::Arc};

use sea_orm::{
    ColumnTrait, Condition, DatabaseTransaction, DbErr, EntityTrait, QueryFilter,
    sea_query::{CaseStatement, Expr, ExprTrait},
};
use uuid::Uuid;

use super::{NewMessage, Stored};
use crate::{
    bus::relay::Committed,
    db::entity::{channel, mention, message, message_file, report},
    domain::events::{Event, EventData},
    error::{AppError, AppResult},
    service::{
        events, files, followed_threads, messages, moderation_rules, read_counts, stats, threads,
        views::MessageView,
    },
};

/// Message rows per multi-row insert (13 columns), mention rows per insert (7 columns): under
/// every backend's bind-parameter limit.
const MESSAGE_CHUNK: usize = 256;
const MENTION_CHUNK: usize = 512;

/// One answer per message of the batch, filled in by the steps.
type Results = Vec<Option<AppResult<Stored>>>;

/// Store `messages` (inside `tx`); one result per message, in order, and the events written.
pub(super) async fn store(
    tx: &DatabaseTransaction,
    messages: &[NewMessage],
) -> Result<(Vec<AppResult<Stored>>, Committed), DbErr> {
    let now = crate::domain::clock::now();
    let mut results: Results = messages.iter().map(|_| None).collect();
    let ids: Vec<Uuid> = messages.iter().map(|_| Uuid::now_v7()).collect();
    let fresh = dedupe(tx, messages, &ids, &mut results).await?;
    let (fresh, mut roots) = bump_roots(tx, messages, &ids, fresh, now, &mut results).await?;
    let seqs = assign_seqs(tx, messages, &fresh, now).await?;
    let sent: Vec<(Uuid, i64)> = group(&fresh, |i| Some(messages[i].channel_id))
        .into_iter()
        .map(|(channel, list)| (channel, i64::try_from(list.len()).unwrap_or(i64::MAX)))
        .collect();
    stats::count_sent(tx, &sent, now).await?;
    let batch = Batch {
        messages,
        ids: &ids,
        seqs: &seqs,
        now,
    };
    let follows = follows(&batch, &fresh, &roots);
    let rows = build(&batch, &fresh, &mut roots, &mut results);
    followed_threads::auto::record(tx, &follows, now).await?;
    let committed = insert(tx, rows).await?;
    let counted: Vec<read_counts::NewRow<'_>> = fresh
        .iter()
        .map(|&i| read_counts::NewRow {
            channel_id: messages[i].channel_id,
            author: messages[i].author,
            seq: seqs[i],
            top_level: messages[i].thread_root_id.is_none(),
            mentions: &messages[i].mentions,
        })
        .collect();
    read_counts::on_new_messages(tx, &counted).await?;
    let results = results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(AppError::internal("message left without a result"))))
        .collect();
    Ok((results, committed))
}

/// Step 1. Answers repeated `client_id`s; the indices of the messages to store, in order.
async fn dedupe(
    tx: &DatabaseTransaction,
    messages: &[NewMessage],
    ids: &[Uuid],
    results: &mut Results,
) -> Result<Vec<usize>, DbErr> {
    let mut keyed = Condition::any();
    let mut any_key = false;
    for m in messages {
        if let Some(cid) = &m.client_id {
            keyed = keyed.add(
                Condition::all()
                    .add(message::Column::UserId.eq(m.author))
                    .add(message::Column::ClientId.eq(cid.as_str())),
            );
            any_key = true;
        }
    }
    // (author, client_id) → (message id, channel id), of stored messages and of this batch's.
    let mut known: HashMap<(Uuid, String), (Uuid, Uuid)> = HashMap::new();
    if any_key {
        for row in message::Entity::find().filter(keyed).all(tx).await? {
            if let Some(cid) = row.client_id {
                known.insert((row.user_id, cid), (row.id, row.channel_id));
            }
        }
    }
    let mut fresh = Vec::with_capacity(messages.len());
    for (i, m) in messages.iter().enumerate() {
        if let Some(cid) = &m.client_id {
            match known.get(&(m.author, cid.clone())) {
                Some((_, channel)) if *channel != m.channel_id => {
                    results[i] = Some(Err(AppError::conflict(
                        "client_id was already used for a message in another conversation",
                    )));
                    continue;
                }
                Some((original, _)) => {
                    results[i] = Some(Ok(Stored::Duplicate(*original)));
                    continue;
                }
                None => {
                    known.insert((m.author, cid.clone()), (ids[i], m.channel_id));
                }
            }
        }
        fresh.push(i);
    }
    Ok(fresh)
}

/// Step 2. Adds each root's new replies to its `reply_count`. Returns the messages still to
/// store (without replies to deleted roots, which get a conflict) and, per reply, its root as
/// that reply's `message.updated` event shows it.
async fn bump_roots(
    tx: &DatabaseTransaction,
    messages: &[NewMessage],
    ids: &[Uuid],
    mut fresh: Vec<usize>,
    now: time::OffsetDateTime,
    results: &mut Results,
) -> Result<(Vec<usize>, HashMap<usize, MessageView>), DbErr> {
    let by_root = group(&fresh, |i| messages[i].thread_root_id);
    if by_root.is_empty() {
        return Ok((fresh, HashMap::new()));
    }
    let mut bumped = Vec::with_capacity(by_root.len());
    let mut refused = Vec::new();
    for (root_id, replies) in by_root {
        let n = i32::try_from(replies.len()).unwrap_or(i32::MAX);
        match threads::bump_root(tx, root_id, n, Some(now)).await? {
            Some(root) => bumped.push((root, replies)),
            None => refused.extend(replies),
        }
    }
    let roots = bumped.iter().map(|(root, _)| root.clone()).collect();
    // Reactions, mentions and pin as everyone sees them (`me` is per viewer: false in events).
    let views = messages::decorate(tx, None, roots)
        .await
        .map_err(|e| DbErr::Custom(format!("thread roots: {e}")))?;
    let mut updates = HashMap::new();
    for (view, (root, replies)) in views.into_iter().zip(bumped) {
        // The batch's replies to this root counted one after another, as if sent one by one.
        let first = root.reply_count - i32::try_from(replies.len()).unwrap_or(i32::MAX) + 1;
        for (k, i) in replies.into_iter().enumerate() {
            let mut update = view.clone();
            update.reply_count = first + i32::try_from(k).unwrap_or(i32::MAX);
            updates.insert(i, update);
        }
    }
    if !refused.is_empty() {
        refuse(&refused, ids, results);
        fresh.retain(|i| !refused.contains(i));
    }
    Ok((fresh, updates))
}

/// Refuse the replies `refused` (their root was deleted), and repeats of them in this batch.
fn refuse(refused: &[usize], ids: &[Uuid], results: &mut Results) {
    let gone = || AppError::conflict("the thread's first message was deleted");
    for &i in refused {
        results[i] = Some(Err(gone()));
    }
    for result in results.iter_mut() {
        if let Some(Ok(Stored::Duplicate(original))) = result
            && refused.iter().any(|&i| ids[i] == *original)
        {
            *result = Some(Err(gone()));
        }
    }
}

/// Step 3. The sequence number of each message to store, by index (0 for the others).
async fn assign_seqs(
    tx: &DatabaseTransaction,
    messages: &[NewMessage],
    fresh: &[usize],
    now: time::OffsetDateTime,
) -> Result<Vec<i64>, DbErr> {
    let mut seqs = vec![0; messages.len()];
    let per_channel = group(fresh, |i| Some(messages[i].channel_id));
    if per_channel.is_empty() {
        return Ok(seqs);
    }
    // One statement for every channel: last_seq += (that channel's count), RETURNING the new values.
    let count = |list: &Vec<usize>| i64::try_from(list.len()).unwrap_or(i64::MAX);
    let mut increment = CaseStatement::new();
    for (channel_id, list) in &per_channel {
        increment = increment.case(Expr::col(channel::Column::Id).eq(*channel_id), count(list));
    }
    let increment: Expr = increment.finally(0i64).into();
    let channel_ids: Vec<Uuid> = per_channel.iter().map(|(c, _)| *c).collect();
    let top_level: Vec<(Uuid, i64)> = per_channel
        .iter()
        .map(|(c, list)| {
            let n = list
                .iter()
                .filter(|&&i| messages[i].thread_root_id.is_none())
                .count();
            (*c, i64::try_from(n).unwrap_or(i64::MAX))
        })
        .collect();
    let updated = channel::Entity::update_many()
        .col_expr(
            channel::Column::LastSeq,
            Expr::col(channel::Column::LastSeq).add(increment),
        )
        .col_expr(
            channel::Column::TopLevelCount,
            read_counts::top_level_count_plus(&top_level),
        )
        .col_expr(
            channel::Column::LastTopLevelSeq,
            last_top_level_seq(messages, &per_channel),
        )
        .col_expr(channel::Column::LastMessageAt, Expr::value(now))
        .filter(channel::Column::Id.is_in(channel_ids))
        .exec_with_returning(tx)
        .await?;
    let last: HashMap<Uuid, i64> = updated.into_iter().map(|c| (c.id, c.last_seq)).collect();
    for (channel_id, list) in &per_channel {
        let last = *last
            .get(channel_id)
            .ok_or_else(|| DbErr::RecordNotFound("channel".into()))?;
        let first = last - count(list) + 1;
        for (k, &i) in list.iter().enumerate() {
            seqs[i] = first + i64::try_from(k).unwrap_or(0);
        }
    }
    Ok(seqs)
}

/// `channels.last_top_level_seq` after the batch: in a channel where the batch's last top-level
/// message is the `k`-th (from 0) of the channel's messages in the batch, it takes seq
/// `last_seq + k + 1` (`last_seq` as before this statement); other channels keep theirs.
fn last_top_level_seq(messages: &[NewMessage], per_channel: &[(Uuid, Vec<usize>)]) -> Expr {
    let keep = Expr::col(channel::Column::LastTopLevelSeq);
    let mut by_channel = CaseStatement::new();
    let mut any = false;
    for (channel_id, list) in per_channel {
        if let Some(k) = list
            .iter()
            .rposition(|&i| messages[i].thread_root_id.is_none())
        {
            let offset = i64::try_from(k).unwrap_or(i64::MAX - 1) + 1;
            by_channel = by_channel.case(
                Expr::col(channel::Column::Id).eq(*channel_id),
                Expr::col(channel::Column::LastSeq).add(offset),
            );
            any = true;
        }
    }
    if any {
        by_channel.finally(keep).into()
    } else {
        keep
    }
}

/// What the steps decided for the batch, for [`build`].
struct Batch<'a> {
    messages: &'a [NewMessage],
    ids: &'a [Uuid],
    seqs: &'a [i64],
    now: time::OffsetDateTime,
}

/// The rows one batch inserts, in order.
struct Rows {
    messages: Vec<message::ActiveModel>,
    mentions: Vec<mention::ActiveModel>,
    files: Vec<message_file::ActiveModel>,
    reports: Vec<report::ActiveModel>,
    events: Vec<Arc<Event>>,
}

/// Step 4. The rows and events of the messages `fresh`; their answers go to `results`.
fn build(
    batch: &Batch<'_>,
    fresh: &[usize],
    roots: &mut HashMap<usize, MessageView>,
    results: &mut Results,
) -> Rows {
    let mut rows = Rows {
        messages: Vec::with_capacity(fresh.len()),
        mentions: Vec::new(),
        files: Vec::new(),
        reports: Vec::new(),
        events: Vec::with_capacity(fresh.len()),
    };
    for &i in fresh {
        let m = &batch.messages[i];
        let model = message::Model {
            id: batch.ids[i],
            channel_id: m.channel_id,
            seq: batch.seqs[i],
            user_id: m.author,
            content: m.content.clone(),
            thread_root_id: m.thread_root_id,
            reply_count: 0,
            last_reply_at: None,
            client_id: m.client_id.clone(),
            edited_at: None,
            deleted_at: None,
            deleted_by: None,
            created_at: batch.now,
            search_terms: m.search_terms.clone(),
            hidden_at: m.moderation.hides().then_some(batch.now),
        };
        rows.mentions
            .extend(messages::mention_rows(&model, &m.mentions));
        rows.files.extend(files::link_rows(
            model.id,
            model.channel_id,
            model.seq,
            &m.files,
        ));
        rows.reports.extend(moderation_rules::report_rows(
            &m.moderation,
            model.id,
            model.channel_id,
            batch.now,
        ));
        let mut view = MessageView::bare(model.clone());
        view.mentions = m.mentions.clone();
        view.files = m.files.clone();
        let event = |data| Event {
            traceparent: m.traceparent.clone(),
            ..Event::new(m.workspace_id, Some(m.channel_id), Some(m.author), data)
        };
        let created = event(EventData::MessageCreated(view.clone())).with_seq(model.seq);
        rows.events.push(Arc::new(created));
        if m.thread_root_id.is_some()
            && let Some(root) = roots.remove(&i)
        {
            rows.events
                .push(Arc::new(event(EventData::MessageUpdated(root))));
        }
        rows.messages.push(message::ActiveModel::from(model));
        results[i] = Some(Ok(Stored::Created(Box::new(view))));
    }
    rows
}

/// For step 5: the replies among `fresh`, with their roots' authors and mentions.
fn follows(
    batch: &Batch<'_>,
    fresh: &[usize],
    roots: &HashMap<usize, MessageView>,
) -> Vec<followed_threads::auto::Reply> {
    fresh
        .iter()
        .filter_map(|&i| {
            let m = &batch.messages[i];
            let root = roots.get(&i)?;
            Some(followed_threads::auto::Reply {
                root_id: m.thread_root_id?,
                channel_id: m.channel_id,
                author: m.author,
                seq: batch.seqs[i],
                mentioned: m.mentions.user_ids.clone(),
                root_author: root.user_id,
                root_mentioned: root.mentions.user_ids.clone(),
            })
        })
        .collect()
}

/// Step 6. Multi-row inserts: messages, mentions, then the outbox; the events with positions.
async fn insert(tx: &DatabaseTransaction, rows: Rows) -> Result<Committed, DbErr> {
    for chunk in owned_chunks(rows.messages, MESSAGE_CHUNK) {
        message::Entity::insert_many(chunk)
            .exec_without_returning(tx)
            .await?;
    }
    for chunk in owned_chunks(rows.mentions, MENTION_CHUNK) {
        mention::Entity::insert_many(chunk)
            .exec_without_returning(tx)
            .await?;
    }
    for chunk in owned_chunks(rows.files, MENTION_CHUNK) {
        message_file::Entity::insert_many(chunk)
            .exec_without_returning(tx)
            .await?;
    }
    for chunk in owned_chunks(rows.reports, MENTION_CHUNK) {
        report::Entity::insert_many(chunk)
            .exec_without_returning(tx)
            .await?;
    }
    events::emit_all(tx, rows.events).await
}

/// `items` in consecutive chunks of at most `size`, moved rather than cloned.
fn owned_chunks<T>(items: Vec<T>, size: usize) -> impl Iterator<Item = Vec<T>> {
    let mut items = items.into_iter();
    std::iter::from_fn(move || {
        let chunk: Vec<T> = items.by_ref().take(size).collect();
        (!chunk.is_empty()).then_some(chunk)
    })
}

/// The indices `fresh` grouped by `key` (those without one left out), groups in first-seen
/// order. Batches touch few channels or threads, so a linear search beats hashing.
fn group(fresh: &[usize], key: impl Fn(usize) -> Option<Uuid>) -> Vec<(Uuid, Vec<usize>)> {
    let mut groups: Vec<(Uuid, Vec<usize>)> = Vec::new();
    for &i in fresh {
        let Some(k) = key(i) else { continue };
        match groups.iter_mut().find(|(g, _)| *g == k) {
            Some((_, list)) => list.push(i),
            None => groups.push((k, vec![i])),
        }
    }
    groups
}
