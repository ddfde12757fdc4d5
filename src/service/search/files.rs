//! `GET /search/files`: files by part of their name and by uploader, where visible.

use std::collections::HashMap;

use poem_openapi::Object;
use sea_orm::{
    ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select,
    sea_query::{Expr, ExprTrait, Func, LikeExpr, Query},
};
use uuid::Uuid;

use super::{MAX_OFFSET, UserRef, offset_of, readable_channels};
use crate::{
    app::AppState,
    db::entity::{file, message, message_file, user},
    error::AppResult,
    search::{SearchQuery, analyzer},
    service::{Principal, views::FileView},
};

#[derive(Debug, Clone, Object)]
pub struct FileHit {
    pub file: FileView,
    pub uploader: UserRef,
    /// The file name, HTML-escaped, the matched parts in `<mark>`.
    pub highlight: String,
}

#[derive(Debug, Clone, Object)]
pub struct FileResults {
    pub items: Vec<FileHit>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

/// `GET /search/files`: files whose name contains every word of `q` (anywhere, so parts of
/// words match too), optionally `from:@user`; newest first. Visible files only: the caller's own
/// and those shared by a live message in a conversation the caller can search.
pub async fn files(
    state: &AppState,
    principal: Principal,
    q: &str,
    cursor: Option<&str>,
    limit: u64,
) -> AppResult<FileResults> {
    let query = SearchQuery::parse(q)?;
    let words: Vec<String> = q
        .split_whitespace()
        .filter(|w| !w.contains(':'))
        .map(|w| w.trim_matches('"').to_lowercase())
        .filter(|w| !w.is_empty())
        .take(8)
        .collect();
    if words.is_empty() && query.from.is_empty() {
        // Nothing to match on: nothing found.
        return Ok(FileResults {
            items: Vec::new(),
            next_cursor: None,
        });
    }
    let Some(offset) = offset_of(cursor)? else {
        return Ok(FileResults {
            items: Vec::new(),
            next_cursor: None,
        });
    };
    let limit = limit.clamp(1, 100);
    let db = &state.db;
    let mut select = visible(readable_channels(db, principal).await?, principal.user_id);
    for word in &words {
        let pattern = format!("%{}%", escape_like(word));
        select = select.filter(
            Expr::expr(Func::lower(Expr::col(file::Column::Filename)))
                .like(LikeExpr::new(pattern).escape('\\')),
        );
    }
    if !query.from.is_empty() {
        let uploaders = Query::select()
            .column(user::Column::Id)
            .from(user::Entity)
            .and_where(user::Column::Username.is_in(query.from.clone()))
            .to_owned();
        select = select.filter(file::Column::UploaderId.in_subquery(uploaders));
    }
    let mut found = select
        .order_by_desc(file::Column::CreatedAt)
        .order_by_desc(file::Column::Id)
        .offset(offset as u64)
        .limit(limit + 1)
        .all(db)
        .await?;
    let more = found.len() as u64 > limit;
    found.truncate(limit as usize);
    let uploaders: HashMap<Uuid, user::Model> = user::Entity::find()
        .filter(user::Column::Id.is_in(found.iter().map(|f| f.uploader_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    let next = offset + found.len();
    let next_cursor = (more && next <= MAX_OFFSET).then(|| next.to_string());
    let items = found
        .into_iter()
        .filter_map(|f| {
            let u = uploaders.get(&f.uploader_id)?;
            Some(FileHit {
                highlight: mark_substrings(&f.filename, &words),
                uploader: UserRef {
                    id: u.id,
                    username: u.username.clone(),
                    display_name: u.display_name.clone(),
                },
                file: FileView::of(f),
            })
        })
        .collect();
    Ok(FileResults { items, next_cursor })
}

/// Live, confirmed, not infected files that are `me`'s or were shared by a live message in one
/// of `channels`.
fn visible(channels: Vec<Uuid>, me: Uuid) -> Select<file::Entity> {
    let shared_there = Query::select()
        .column((message_file::Entity, message_file::Column::FileId))
        .from(message_file::Entity)
        .inner_join(
            message::Entity,
            Expr::col((message::Entity, message::Column::Id))
                .equals((message_file::Entity, message_file::Column::MessageId)),
        )
        .and_where(Expr::col((message::Entity, message::Column::DeletedAt)).is_null())
        .and_where(
            Expr::col((message_file::Entity, message_file::Column::ChannelId)).is_in(channels),
        )
        .to_owned();
    file::Entity::find()
        .filter(file::Column::DeletedAt.is_null())
        .filter(file::Column::ConfirmedAt.is_not_null())
        .filter(file::Column::Status.ne("infected"))
        .filter(
            sea_orm::Condition::any()
                .add(file::Column::UploaderId.eq(me))
                .add(file::Column::Id.in_subquery(shared_there)),
        )
}

fn escape_like(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    for c in word.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `name` HTML-escaped, with each case-insensitive occurrence of a word in `<mark>`.
fn mark_substrings(name: &str, words: &[String]) -> String {
    let lower = name.to_lowercase();
    // Lowercasing may change lengths outside ASCII: then mark nothing rather than misplace.
    let mut marked = vec![false; name.len()];
    if lower.len() == name.len() {
        for word in words {
            for (at, _) in lower.match_indices(word.as_str()) {
                marked[at..at + word.len()]
                    .iter_mut()
                    .for_each(|m| *m = true);
            }
        }
    }
    let mut out = String::new();
    let mut open = false;
    for (i, c) in name.char_indices() {
        if marked[i] != open {
            out.push_str(if open { "</mark>" } else { "<mark>" });
            open = !open;
        }
        analyzer::escape_into(&mut out, &c.to_string());
    }
    if open {
        out.push_str("</mark>");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_marked_case_insensitively_and_escaped() {
        assert_eq!(
            mark_substrings("Q3 <Report>.PDF", &["report".into(), "q3".into()]),
            "<mark>Q3</mark> &lt;<mark>Report</mark>&gt;.PDF"
        );
        assert_eq!(escape_like("50%_a\\b"), "50\\%\\_a\\\\b");
    }
}
