//! Message views: a message row plus its reactions, mentions, files and pin state.
//!
//! Most messages have no reactions, no mentions and no pin. A list that selects its rows through
//! [`flagged`] learns which do from the same query (three look-ups by message id per
//! row), so [`decorate_flagged`] queries reactions, mentions and files only for the messages
//! that have some: a page of plain messages costs its one query, any page at most five.
//! [`decorate`] serves rows selected without the flags (five queries for any number).

use std::collections::{BTreeSet, HashMap};

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, QueryFilter, QueryResult,
    QuerySelect, Select, SelectModel, Selector,
    sea_query::{Expr, ExprTrait, IntoIden, Query},
};
use uuid::Uuid;

use super::views::{MentionSet, MessageView};
use crate::{
    db::entity::{mention, message, message_file, pin, reaction},
    error::AppResult,
};

/// A message row and whether it has reactions, mentions and a pin.
#[derive(Debug, Clone)]
pub struct Flagged {
    pub message: message::Model,
    pub has_reactions: bool,
    pub has_mentions: bool,
    pub has_files: bool,
    pub pinned: bool,
}

impl FromQueryResult for Flagged {
    fn from_query_result(res: &QueryResult, pre: &str) -> Result<Self, DbErr> {
        Ok(Self {
            message: message::Model::from_query_result(res, pre)?,
            has_reactions: res.try_get(pre, "has_reactions")?,
            has_mentions: res.try_get(pre, "has_mentions")?,
            has_files: res.try_get(pre, "has_files")?,
            pinned: res.try_get(pre, "pinned")?,
        })
    }
}

/// `select`'s messages with their flags (see [`Flagged`]).
pub fn flagged(select: Select<message::Entity>) -> Selector<SelectModel<Flagged>> {
    // `(SELECT 1 … LIMIT 1) IS NOT NULL` rather than `EXISTS (…)`: PostgreSQL plans an EXISTS
    // for the rows it expects before the LIMIT (every top-level message of the channel) and
    // hashes a whole-table scan of reactions for it (11 ms per page at 20,000 reactions); a
    // scalar subquery is an index probe per row returned.
    fn exists_for_message<E: EntityTrait>(table: E, column: impl IntoIden) -> Expr {
        let column = column.into_iden();
        Expr::from(
            Query::select()
                .expr(Expr::val(1))
                .from(table)
                .and_where(
                    Expr::col((table, column)).equals((message::Entity, message::Column::Id)),
                )
                .limit(1)
                .to_owned(),
        )
        .is_not_null()
    }
    select
        .column_as(
            exists_for_message(reaction::Entity, reaction::Column::MessageId),
            "has_reactions",
        )
        .column_as(
            exists_for_message(mention::Entity, mention::Column::MessageId),
            "has_mentions",
        )
        .column_as(
            exists_for_message(message_file::Entity, message_file::Column::MessageId),
            "has_files",
        )
        .column_as(
            exists_for_message(pin::Entity, pin::Column::MessageId),
            "pinned",
        )
        .into_model::<Flagged>()
}

/// Views of messages selected through [`flagged`]: reactions and mentions are loaded for the
/// messages that have some (at most two queries, none for plain messages).
pub async fn decorate_flagged(
    db: &impl ConnectionTrait,
    viewer: Option<Uuid>,
    rows: Vec<Flagged>,
) -> AppResult<Vec<MessageView>> {
    let reacted: Vec<Uuid> = rows
        .iter()
        .filter(|r| r.has_reactions)
        .map(|r| r.message.id)
        .collect();
    let mentioning: Vec<Uuid> = rows
        .iter()
        .filter(|r| r.has_mentions)
        .map(|r| r.message.id)
        .collect();
    let with_files: Vec<Uuid> = rows
        .iter()
        .filter(|r| r.has_files)
        .map(|r| r.message.id)
        .collect();
    let pinned: BTreeSet<Uuid> = rows
        .iter()
        .filter(|r| r.pinned)
        .map(|r| r.message.id)
        .collect();
    let msgs = rows.into_iter().map(|r| r.message).collect();
    let some = Decorations {
        reacted: &reacted,
        mentioning: &mentioning,
        with_files: &with_files,
    };
    assemble(db, viewer, msgs, some, pinned).await
}

/// Add reactions, mentions and pin state to messages (three queries for any number).
pub async fn decorate(
    db: &impl ConnectionTrait,
    viewer: Option<Uuid>,
    msgs: Vec<message::Model>,
) -> AppResult<Vec<MessageView>> {
    let ids: Vec<Uuid> = msgs.iter().map(|m| m.id).collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let pinned: BTreeSet<Uuid> = pin::Entity::find()
        .select_only()
        .column(pin::Column::MessageId)
        .filter(pin::Column::MessageId.is_in(ids.clone()))
        .into_tuple()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let some = Decorations {
        reacted: &ids,
        mentioning: &ids,
        with_files: &ids,
    };
    assemble(db, viewer, msgs, some, pinned).await
}

/// The messages that have reactions, mentions and files (each list queried when not empty).
struct Decorations<'a> {
    reacted: &'a [Uuid],
    mentioning: &'a [Uuid],
    with_files: &'a [Uuid],
}

/// The views, with the reactions, mentions and files of the messages `some` names (a query
/// each when not empty).
async fn assemble(
    db: &impl ConnectionTrait,
    viewer: Option<Uuid>,
    msgs: Vec<message::Model>,
    some: Decorations<'_>,
    pinned: BTreeSet<Uuid>,
) -> AppResult<Vec<MessageView>> {
    let Decorations {
        reacted,
        mentioning,
        with_files,
    } = some;
    let mut reactions = super::reactions::summaries(db, reacted, viewer).await?;
    let mut files = super::files::of_messages(db, with_files).await?;
    let mut mention_sets: HashMap<Uuid, MentionSet> = HashMap::new();
    if !mentioning.is_empty() {
        for m in mention::Entity::find()
            .filter(mention::Column::MessageId.is_in(mentioning.iter().copied()))
            .all(db)
            .await?
        {
            mention_sets.entry(m.message_id).or_default().add(&m);
        }
    }
    Ok(msgs
        .into_iter()
        .map(|m| {
            let id = m.id;
            let mut view = MessageView::bare(m);
            view.reactions = reactions.remove(&id).unwrap_or_default();
            view.mentions = mention_sets.remove(&id).unwrap_or_default();
            view.files = files.remove(&id).unwrap_or_default();
            view.pinned = pinned.contains(&id);
            view
        })
        .collect())
}
