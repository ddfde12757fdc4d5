//! Files: who may see one, its downloads, deleting it, the files of a conversation, and the
//! files a message carries. Uploading: [`direct`] (one PUT to a URL) and [`resumable`] (chunks);
//! both end in [`direct::finish`], which checks the bytes and records the metadata.
//!
//! Invariants:
//! - A file is visible to its uploader, and to whoever can read a conversation where a live
//!   (not deleted) message carries it. Everyone else gets 403, whatever its state.
//! - Only `clean` files are downloadable; `infected` ones answer 403, `pending` ones 409.
//! - A deleted or infected file disappears from every message that carried it: the link rows
//!   go in the same transaction, each of those messages gets a `message.updated`, and its
//!   conversation's content version is bumped (the kept newest page is then stale). Views also
//!   leave such files out, for a link a racing send committed afterwards.

pub mod content;
pub mod direct;
pub mod processing;
pub mod resumable;

use std::collections::HashMap;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, JoinType,
    QueryFilter, QueryOrder, QuerySelect, Set,
    sea_query::{Expr, ExprTrait},
};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    Principal, access, events, latest_page, messages, now,
    views::{FileStatus, FileView},
};
use crate::{
    app::AppState,
    db::entity::{file, message, message_file},
    domain::{FileName, events::EventData},
    error::{AppError, AppResult, ErrorCode},
    storage::{self, Variant, sniff},
};

/// At most this many files on one message.
pub const MAX_FILES_PER_MESSAGE: usize = 10;

/// The file, unless it was deleted.
pub async fn load(db: &impl ConnectionTrait, id: Uuid) -> AppResult<file::Model> {
    file::Entity::find_by_id(id)
        .filter(file::Column::DeletedAt.is_null())
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("file"))
}

/// File links whose message is live (not deleted).
fn live_links() -> sea_orm::Select<message_file::Entity> {
    message_file::Entity::find()
        .join(
            JoinType::InnerJoin,
            message_file::Entity::belongs_to(message::Entity)
                .from(message_file::Column::MessageId)
                .to(message::Column::Id)
                .into(),
        )
        .filter(message::Column::DeletedAt.is_null())
}

/// The file, if `principal` may see it (see the module docs).
pub async fn visible(state: &AppState, principal: Principal, id: Uuid) -> AppResult<file::Model> {
    let f = load(&state.db, id).await?;
    if f.uploader_id == principal.user_id {
        return Ok(f);
    }
    let shared_in: Vec<Uuid> = live_links()
        .select_only()
        .column(message_file::Column::ChannelId)
        .distinct()
        .filter(message_file::Column::FileId.eq(id))
        .limit(50)
        .into_tuple()
        .all(&state.db)
        .await?;
    for channel_id in shared_in {
        if access::readable(&state.db, principal, channel_id)
            .await
            .is_ok()
        {
            return Ok(f);
        }
    }
    Err(AppError::forbidden(
        "only the uploader and members of a conversation it was shared in can see this file",
    ))
}

pub async fn get(state: &AppState, principal: Principal, id: Uuid) -> AppResult<FileView> {
    Ok(FileView::of(visible(state, principal, id).await?))
}

/// A URL that downloads the file (or its thumbnail), and when it expires.
pub async fn download_url(
    state: &AppState,
    principal: Principal,
    id: Uuid,
    thumbnail: bool,
) -> AppResult<(String, OffsetDateTime)> {
    let f = visible(state, principal, id).await?;
    downloadable(&f)?;
    let variant = if thumbnail {
        if f.thumbnail != "ready" {
            return Err(AppError::not_found("thumbnail"));
        }
        Variant::Thumbnail
    } else {
        Variant::Original
    };
    let (content_type, disposition) = served_as(&f, variant);
    let ttl = state.config.storage.download_url_ttl.0;
    let url = state
        .storage
        .download_url(f.id, variant, &content_type, &disposition, ttl)
        .await?;
    Ok((url, now() + ttl))
}

/// Whether the file's bytes may be served.
pub fn downloadable(f: &file::Model) -> AppResult<()> {
    match FileStatus::parse(&f.status) {
        FileStatus::Clean => Ok(()),
        FileStatus::Infected => Err(AppError::forbidden(
            "the virus scanner found malware in this file",
        )),
        FileStatus::Pending => Err(AppError::conflict(
            "the file is being scanned; try again in a moment",
        )),
        FileStatus::Uploading => Err(AppError::conflict("the upload was not confirmed yet")),
    }
}

/// `file.uploaded` for `view`: the file as it is now, private to its uploader (no workspace:
/// the hub delivers it to the uploader's connections only).
pub fn uploaded_event(view: FileView) -> crate::domain::events::Event {
    let uploader = view.uploader_id;
    crate::domain::events::Event {
        workspace_id: None,
        ..crate::domain::events::Event::new(
            Uuid::nil(),
            view.channel_id,
            Some(uploader),
            EventData::FileUploaded(view),
        )
    }
}

/// The type and `Content-Disposition` an object is served with: safe images inline, anything
/// else as an attachment.
pub fn served_as(f: &file::Model, variant: Variant) -> (String, String) {
    let name = FileName::sanitize(&f.filename);
    match variant {
        Variant::Thumbnail => ("image/png".into(), name.content_disposition(true)),
        Variant::Original => {
            let inline = sniff::is_safe_image(&f.content_type);
            (f.content_type.clone(), name.content_disposition(inline))
        }
    }
}

/// Delete a file (its uploader, or an admin): it leaves every message that carried it, and its
/// objects are removed.
pub async fn delete(state: &AppState, principal: Principal, id: Uuid) -> AppResult<()> {
    let f = load(&state.db, id).await?;
    if f.uploader_id != principal.user_id && !principal.is_admin() {
        // Others do not learn more than that they may not.
        visible(state, principal, id).await?;
        return Err(AppError::forbidden(
            "only the uploader or an admin can delete a file",
        ));
    }
    let (tx, _write) = state.begin_write().await?;
    let mut row = f.clone().into_active_model();
    row.deleted_at = Set(Some(now()));
    row.update(&tx).await?;
    unlink(&tx, id, principal.user_id).await?;
    events::commit(state, tx).await?;
    for variant in [Variant::Original, Variant::Thumbnail] {
        if let Err(e) = state
            .storage
            .delete(&storage::object_key(id, variant))
            .await
        {
            tracing::warn!(file_id = %id, error = %e, "deleting a file's object failed");
        }
    }
    Ok(())
}

/// Take file `id` off every message that carries it (inside the caller's transaction): the
/// links go, each message gets a `message.updated`, and its conversation's version moves.
pub(crate) async fn unlink(
    tx: &sea_orm::DatabaseTransaction,
    id: Uuid,
    actor: Uuid,
) -> AppResult<()> {
    let links = message_file::Entity::find()
        .filter(message_file::Column::FileId.eq(id))
        .all(tx)
        .await?;
    if links.is_empty() {
        return Ok(());
    }
    message_file::Entity::delete_many()
        .filter(message_file::Column::FileId.eq(id))
        .exec(tx)
        .await?;
    let mut channels = Vec::new();
    for link in &links {
        let m = messages::find(tx, link.message_id).await?;
        if m.deleted_at.is_none() {
            let channel = crate::db::entity::channel::Entity::find_by_id(m.channel_id)
                .one(tx)
                .await?
                .ok_or_else(|| AppError::not_found("channel"))?;
            let view = messages::one(tx, actor, m).await?;
            events::emit_in(tx, &channel, actor, EventData::MessageUpdated(view)).await?;
        }
        if !channels.contains(&link.channel_id) {
            channels.push(link.channel_id);
        }
    }
    for channel_id in channels {
        latest_page::bump(tx, channel_id).await?;
    }
    Ok(())
}

/// The files `author` attaches to a new message: their own, confirmed, not infected, at most
/// [`MAX_FILES_PER_MESSAGE`], each once, in the order given.
pub async fn for_message(
    db: &impl ConnectionTrait,
    author: Uuid,
    ids: &[Uuid],
) -> AppResult<Vec<FileView>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    if ids.len() > MAX_FILES_PER_MESSAGE {
        return Err(crate::domain::Invalid::new(
            "file_ids",
            format!("at most {MAX_FILES_PER_MESSAGE} files per message"),
        )
        .into());
    }
    let mut unique = ids.to_vec();
    unique.sort_unstable();
    unique.dedup();
    if unique.len() != ids.len() {
        return Err(crate::domain::Invalid::new("file_ids", "lists a file twice").into());
    }
    let mut found: HashMap<Uuid, file::Model> = file::Entity::find()
        .filter(file::Column::Id.is_in(unique))
        .filter(file::Column::DeletedAt.is_null())
        .all(db)
        .await?
        .into_iter()
        .map(|f| (f.id, f))
        .collect();
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let f = found
            .remove(id)
            .filter(|f| f.uploader_id == author)
            .ok_or_else(|| AppError::not_found(&format!("file {id}")))?;
        match FileStatus::parse(&f.status) {
            FileStatus::Uploading => {
                return Err(AppError::conflict(format!(
                    "file {id} is not confirmed yet"
                )));
            }
            FileStatus::Infected => {
                return Err(AppError::new(
                    ErrorCode::Forbidden,
                    format!("file {id} contains malware"),
                ));
            }
            FileStatus::Pending | FileStatus::Clean => out.push(FileView::of(f)),
        }
    }
    Ok(out)
}

/// The link rows of a new message's files.
pub fn link_rows(
    message_id: Uuid,
    channel_id: Uuid,
    seq: i64,
    files: &[FileView],
) -> impl Iterator<Item = message_file::ActiveModel> + '_ {
    files
        .iter()
        .enumerate()
        .map(move |(i, f)| message_file::ActiveModel {
            message_id: Set(message_id),
            file_id: Set(f.id),
            channel_id: Set(channel_id),
            seq: Set(seq),
            position: Set(i32::try_from(i).unwrap_or(i32::MAX)),
        })
}

/// The files of each of `message_ids`, in attachment order (one query; infected and deleted
/// files left out).
pub async fn of_messages(
    db: &impl ConnectionTrait,
    message_ids: &[Uuid],
) -> AppResult<HashMap<Uuid, Vec<FileView>>> {
    let mut out: HashMap<Uuid, Vec<FileView>> = HashMap::new();
    if message_ids.is_empty() {
        return Ok(out);
    }
    let links = message_file::Entity::find()
        .filter(message_file::Column::MessageId.is_in(message_ids.iter().copied()))
        .order_by_asc(message_file::Column::Position)
        .all(db)
        .await?;
    let files = files_by_id(db, links.iter().map(|l| l.file_id)).await?;
    for link in links {
        if let Some(f) = files.get(&link.file_id) {
            out.entry(link.message_id).or_default().push(f.clone());
        }
    }
    Ok(out)
}

/// Views of the live (not deleted, not infected) files among `ids`.
async fn files_by_id(
    db: &impl ConnectionTrait,
    ids: impl Iterator<Item = Uuid>,
) -> AppResult<HashMap<Uuid, FileView>> {
    let ids: Vec<Uuid> = ids.collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(file::Entity::find()
        .filter(file::Column::Id.is_in(ids))
        .filter(file::Column::DeletedAt.is_null())
        .filter(file::Column::Status.ne("infected"))
        .all(db)
        .await?
        .into_iter()
        .map(|f| (f.id, FileView::of(f)))
        .collect())
}

/// A file as the conversation's files panel lists it: with the message that shared it.
#[derive(Debug, Clone, poem_openapi::Object)]
pub struct SharedFile {
    pub file: FileView,
    pub message_id: Uuid,
    /// The sharing message's sequence number in the conversation.
    pub seq: i64,
    pub shared_by: Uuid,
    pub shared_at: OffsetDateTime,
}

/// The files shared in a conversation, newest first; the cursor is the last item's
/// `seq.position`.
pub async fn in_channel(
    state: &AppState,
    principal: Principal,
    channel_id: Uuid,
    cursor: Option<&str>,
    limit: u64,
) -> AppResult<(Vec<SharedFile>, Option<String>)> {
    access::readable(&state.db, principal, channel_id).await?;
    let after = cursor.map(parse_cursor).transpose()?;
    // Links whose message is live and whose file is live, newest first.
    let live_files = sea_orm::sea_query::Query::select()
        .column(file::Column::Id)
        .from(file::Entity)
        .and_where(file::Column::DeletedAt.is_null())
        .and_where(file::Column::Status.ne("infected"))
        .to_owned();
    let mut q = live_links()
        .filter(message_file::Column::ChannelId.eq(channel_id))
        .filter(message_file::Column::FileId.in_subquery(live_files));
    if let Some((seq, position)) = after {
        q = q.filter(
            Expr::tuple([
                Expr::col((message_file::Entity, message_file::Column::Seq)),
                Expr::col((message_file::Entity, message_file::Column::Position)),
            ])
            .lt(Expr::tuple([Expr::val(seq), Expr::val(position)])),
        );
    }
    let mut links = q
        .order_by_desc(message_file::Column::Seq)
        .order_by_desc(message_file::Column::Position)
        .limit(limit + 1)
        .all(&state.db)
        .await?;
    let more = links.len() as u64 > limit;
    links.truncate(limit as usize);
    let files = files_by_id(&state.db, links.iter().map(|l| l.file_id)).await?;
    let authors: HashMap<Uuid, (Uuid, OffsetDateTime)> = message::Entity::find()
        .filter(message::Column::Id.is_in(links.iter().map(|l| l.message_id)))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|m| (m.id, (m.user_id, m.created_at)))
        .collect();
    let next = links
        .last()
        .filter(|_| more)
        .map(|l| format!("{}.{}", l.seq, l.position));
    let items = links
        .into_iter()
        .filter_map(|link| {
            let file = files.get(&link.file_id)?.clone();
            let (shared_by, shared_at) = *authors.get(&link.message_id)?;
            Some(SharedFile {
                file,
                message_id: link.message_id,
                seq: link.seq,
                shared_by,
                shared_at,
            })
        })
        .collect();
    Ok((items, next))
}

fn parse_cursor(text: &str) -> AppResult<(i64, i32)> {
    text.split_once('.')
        .and_then(|(s, p)| Some((s.parse().ok()?, p.parse().ok()?)))
        .ok_or_else(|| AppError::new(ErrorCode::BadRequest, "cursor: not a cursor of this list"))
}
