//! Followed threads: the caller's "Threads" view, follow and unfollow, read state per thread.

use std::sync::Arc;

use poem_openapi::{Object, OpenApi, param::Path, param::Query, payload::Json};
use uuid::Uuid;

use super::{
    ApiTags,
    body::JsonBody,
    direct_json::DirectJson,
    dto::{NoContent, Page},
    security::BearerAuth,
    statuses::{self as s, ApiResult},
    users::default_limit,
};
use crate::{
    app::AppState,
    service::followed_threads::{self, ThreadState, ThreadView},
};

pub struct ThreadsApi {
    pub state: Arc<AppState>,
}

#[derive(Object)]
struct ThreadReadBody {
    /// Every reply up to and including this channel sequence number has been read.
    #[oai(validator(minimum(value = "0")))]
    seq: i64,
}

#[OpenApi(tag = "ApiTags::Messages")]
impl ThreadsApi {
    /// Your followed threads in the conversations you can read, most recent reply first, with
    /// unread replies and mentions.
    #[oai(path = "/threads", method = "get")]
    async fn list(
        &self,
        auth: BearerAuth,
        cursor: Query<Option<String>>,
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "200"))
        )]
        limit: Query<u64>,
    ) -> ApiResult<DirectJson<Page<ThreadView>>, (s::Authed, s::BadRequest)> {
        let (items, next_cursor) =
            followed_threads::list(&self.state, auth.0, cursor.as_deref(), limit.0).await?;
        Ok(DirectJson(Page { items, next_cursor }))
    }

    /// Follow the message's thread (idempotent; `PUT` or `POST`).
    #[oai(path = "/messages/:id/follow", method = "put", method = "post")]
    async fn follow(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
    ) -> ApiResult<NoContent, (s::Authed, s::BadRequest, s::NotFound, s::Unavailable)> {
        followed_threads::set_following(&self.state, auth.0, id.0, true).await?;
        Ok(NoContent::NoContent)
    }

    /// Unfollow the message's thread (idempotent); replies by others do not follow it again.
    #[oai(path = "/messages/:id/follow", method = "delete")]
    async fn unfollow(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
    ) -> ApiResult<NoContent, (s::Authed, s::BadRequest, s::NotFound, s::Unavailable)> {
        followed_threads::set_following(&self.state, auth.0, id.0, false).await?;
        Ok(NoContent::NoContent)
    }

    /// Move your read marker in the message's thread forward (never backwards).
    #[oai(path = "/messages/:id/thread/read", method = "post")]
    async fn read(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        body: JsonBody<ThreadReadBody>,
    ) -> ApiResult<Json<ThreadState>, (s::Authed, s::Body, s::NotFound, s::Unavailable)> {
        Ok(Json(
            followed_threads::mark_read(&self.state, auth.0, id.0, body.seq).await?,
        ))
    }
}
