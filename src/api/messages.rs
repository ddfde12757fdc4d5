//! Messages, threads, reactions and pins.

use crate::domain::{ClientId, Emoji, MessageBody};
use std::sync::Arc;

use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Header, Path, Query},
    payload::Json,
};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    ApiTags,
    body::JsonBody,
    direct_json::DirectJson,
    dto::{Created, NoContent, Page},
    security::BearerAuth,
    statuses::{self as s, ApiResult},
    users::default_limit,
};
use crate::{
    app::AppState,
    service::{
        messages::{self, SendRequest, Sent},
        reactions, threads,
        views::MessageView,
    },
};

pub struct MessagesApi {
    pub state: Arc<AppState>,
}

#[derive(Object)]
struct SendBody {
    /// Markdown, 1–40,000 characters. `@username`, `@channel` and `@here` mention.
    content: MessageBody,
    /// Your id for this message: sending it again returns the original (200) instead of a copy.
    #[oai(nullable)]
    client_id: Option<ClientId>,
    /// Reply in this message's thread.
    #[oai(nullable)]
    thread_root_id: Option<Uuid>,
    /// Files to attach (your own, confirmed, not infected; at most 10).
    #[oai(default, validator(max_items = 10))]
    file_ids: Vec<Uuid>,
}

#[derive(Object)]
struct ReplyBody {
    content: MessageBody,
    /// Your id for this reply: sending it again returns the original (200) instead of a copy.
    #[oai(nullable)]
    client_id: Option<ClientId>,
    /// Files to attach (your own, confirmed, not infected; at most 10).
    #[oai(default, validator(max_items = 10))]
    file_ids: Vec<Uuid>,
}

#[derive(Object)]
struct EditBody {
    content: MessageBody,
}

#[derive(Object)]
struct ReactionBody {
    /// A shortcode (`thumbsup`, `:+1:`) or an emoji.
    emoji: Emoji,
}

#[derive(Object)]
struct Reaction {
    id: Uuid,
    message_id: Uuid,
    user_id: Uuid,
    emoji: String,
    created_at: OffsetDateTime,
}

#[derive(Object)]
struct Thread {
    /// Oldest first: the root (on the first page), then the replies.
    items: Vec<MessageView>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[oai(nullable)]
    next_cursor: Option<String>,
}

#[derive(ApiResponse)]
enum SendResponse {
    /// Created.
    #[oai(status = 201)]
    Created(Json<MessageView>),
    /// Already sent with this client_id / Idempotency-Key: the original message.
    #[oai(status = 200)]
    Existing(Json<MessageView>),
}

impl From<Sent> for SendResponse {
    fn from(s: Sent) -> Self {
        match s {
            Sent::Created(m) => SendResponse::Created(Json(m)),
            Sent::Existing(m) => SendResponse::Existing(Json(m)),
        }
    }
}

#[OpenApi(tag = "ApiTags::Messages")]
impl MessagesApi {
    /// Post a message (idempotent with `client_id` or an `Idempotency-Key` header). Refused
    /// with 422 `content_blocked` when it matches a `block` moderation rule; held back from
    /// everyone but its author (`hidden`) when it matches a `hide` rule.
    #[oai(path = "/channels/:id/messages", method = "post")]
    async fn send(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        #[oai(name = "Idempotency-Key")] idempotency_key: Header<Option<ClientId>>,
        body: JsonBody<SendBody>,
    ) -> ApiResult<
        SendResponse,
        (
            s::Authed,
            s::Body,
            s::NotFound,
            s::Conflict,
            s::UnprocessableContent,
            s::TooManyRequests,
            s::Unavailable,
        ),
    > {
        let b = body.0;
        let req = SendRequest {
            content: b.content.into_inner(),
            client_id: b.client_id.or(idempotency_key.0).map(ClientId::into_inner),
            thread_root_id: b.thread_root_id,
            file_ids: b.file_ids,
        };
        Ok(messages::send(&self.state, auth.0, id.0, req).await?.into())
    }

    /// Top-level messages: newest first; `before=SEQ` pages back, `after=SEQ` reads forward
    /// (oldest first); both together read the window between them.
    #[oai(path = "/channels/:id/messages", method = "get")]
    async fn list(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        before: Query<Option<i64>>,
        after: Query<Option<i64>>,
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "200"))
        )]
        limit: Query<u64>,
    ) -> ApiResult<DirectJson<Page<MessageView>>, (s::Authed, s::BadRequest, s::NotFound)> {
        let (items, next_cursor) =
            messages::list(&self.state, auth.0, id.0, before.0, after.0, limit.0).await?;
        Ok(DirectJson(Page { items, next_cursor }))
    }

    /// Edit your message (checked against the moderation rules like a new one).
    #[oai(path = "/messages/:id", method = "put")]
    async fn edit(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        body: JsonBody<EditBody>,
    ) -> ApiResult<
        Json<MessageView>,
        (
            s::Authed,
            s::Body,
            s::NotFound,
            s::Conflict,
            s::UnprocessableContent,
            s::Unavailable,
        ),
    > {
        Ok(Json(
            messages::edit(&self.state, auth.0, id.0, body.content.as_str()).await?,
        ))
    }

    /// Delete a message (author, channel owner/admin, server admin).
    #[oai(path = "/messages/:id", method = "delete")]
    async fn delete(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
    ) -> ApiResult<
        NoContent,
        (
            s::Authed,
            s::BadRequest,
            s::NotFound,
            s::Conflict,
            s::Unavailable,
        ),
    > {
        messages::delete(&self.state, auth.0, id.0).await?;
        Ok(NoContent::NoContent)
    }

    /// Reply in the message's thread (idempotent with `client_id` or an `Idempotency-Key`
    /// header, like posting a message).
    #[oai(path = "/messages/:id/threads", method = "post")]
    async fn reply(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        #[oai(name = "Idempotency-Key")] idempotency_key: Header<Option<ClientId>>,
        body: JsonBody<ReplyBody>,
    ) -> ApiResult<
        SendResponse,
        (
            s::Authed,
            s::Body,
            s::NotFound,
            s::Conflict,
            s::UnprocessableContent,
            s::TooManyRequests,
            s::Unavailable,
        ),
    > {
        let root = messages::find(&self.state.db, id.0).await?;
        let b = body.0;
        let req = SendRequest {
            content: b.content.into_inner(),
            client_id: b.client_id.or(idempotency_key.0).map(ClientId::into_inner),
            thread_root_id: Some(id.0),
            file_ids: b.file_ids,
        };
        Ok(messages::send(&self.state, auth.0, root.channel_id, req)
            .await?
            .into())
    }

    /// The thread: root and replies.
    #[oai(path = "/messages/:id/thread", method = "get")]
    async fn thread(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        cursor: Query<Option<String>>,
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "200"))
        )]
        limit: Query<u64>,
    ) -> ApiResult<Json<Thread>, (s::Authed, s::BadRequest, s::NotFound)> {
        let (items, next_cursor) =
            threads::thread(&self.state, auth.0, id.0, cursor.as_deref(), limit.0).await?;
        Ok(Json(Thread { items, next_cursor }))
    }

    /// React (409 if you already reacted with this emoji).
    #[oai(path = "/messages/:id/reactions", method = "post")]
    async fn react(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        body: JsonBody<ReactionBody>,
    ) -> ApiResult<
        Created<Reaction>,
        (
            s::Authed,
            s::Body,
            s::NotFound,
            s::Conflict,
            s::TooManyRequests,
        ),
    > {
        let r = reactions::add(&self.state, auth.0, id.0, body.emoji.as_str()).await?;
        Ok(Created::Created(Json(Reaction {
            id: r.id,
            message_id: r.message_id,
            user_id: r.user_id,
            emoji: r.emoji,
            created_at: r.created_at,
        })))
    }

    /// Remove your reaction.
    #[oai(path = "/reactions/:id", method = "delete")]
    async fn unreact(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
    ) -> ApiResult<NoContent, (s::Authed, s::BadRequest, s::NotFound, s::Conflict)> {
        reactions::remove(&self.state, auth.0, id.0).await?;
        Ok(NoContent::NoContent)
    }

    /// Remove your reaction with this emoji (the emoji URL-encoded, as in `POST …/reactions`).
    #[oai(path = "/messages/:id/reactions/:emoji", method = "delete")]
    async fn unreact_emoji(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        emoji: Path<Emoji>,
    ) -> ApiResult<NoContent, (s::Authed, s::BadRequest, s::NotFound, s::Conflict)> {
        reactions::remove_mine(&self.state, auth.0, id.0, &emoji.0).await?;
        Ok(NoContent::NoContent)
    }

    /// Pin to the conversation.
    #[oai(path = "/messages/:id/pin", method = "post")]
    async fn pin(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<MessageView>, (s::Authed, s::BadRequest, s::NotFound, s::Conflict)> {
        Ok(Json(
            reactions::set_pinned(&self.state, auth.0, id.0, true).await?,
        ))
    }

    /// Unpin.
    #[oai(path = "/messages/:id/pin", method = "delete")]
    async fn unpin(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<MessageView>, (s::Authed, s::BadRequest, s::NotFound, s::Conflict)> {
        Ok(Json(
            reactions::set_pinned(&self.state, auth.0, id.0, false).await?,
        ))
    }
}
