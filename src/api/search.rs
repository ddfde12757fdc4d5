//! Search: messages (full text, with the query language of `search::query`) and files (by name).

use std::sync::Arc;

use poem_openapi::{OpenApi, param::Query, payload::Json};
use uuid::Uuid;

use super::{
    ApiTags,
    security::BearerAuth,
    statuses::{self as s, ApiResult},
};
use crate::{
    app::AppState,
    search::query::MAX_QUERY_CHARS,
    service::search::{self, FileResults, MessageResults, MessageSearchParams},
};

pub struct SearchApi {
    pub state: Arc<AppState>,
}

fn default_search_limit() -> u64 {
    search::DEFAULT_LIMIT
}

const _: () = assert!(MAX_QUERY_CHARS == 512, "the q validators below say 512");

#[OpenApi(prefix_path = "/search", tag = "ApiTags::Search")]
impl SearchApi {
    /// Messages in the conversations you can read, best match first (exact phrases and recent
    /// messages rank higher), with the matched words highlighted.
    ///
    /// `q`: words (all must match; English stems, accents and case do not matter; CJK text is
    /// found by any two or more consecutive characters), `"exact phrases"`, `from:@user`,
    /// `in:#channel`, `before:YYYY-MM-DD`, `after:YYYY-MM-DD`, `has:file`. The parameters
    /// narrow the search the same way. 503 `search_unavailable` while the index is being built.
    #[oai(path = "/messages", method = "get")]
    #[allow(
        clippy::too_many_arguments,
        reason = "one parameter per documented filter"
    )]
    async fn messages(
        &self,
        auth: BearerAuth,
        #[oai(default, validator(max_length = 512))] q: Query<String>,
        /// Only this conversation.
        channel_id: Query<Option<Uuid>>,
        /// Only messages by this user.
        user_id: Query<Option<Uuid>>,
        /// Sent on or after this day (UTC), `YYYY-MM-DD` (a day past the end of its month means
        /// the month's last day; empty: no bound).
        #[oai(validator(pattern = r"^([0-9]{4}-[0-9]{2}-[0-9]{2})?$"))]
        from: Query<Option<String>>,
        /// Sent on or before this day (UTC), as `from`.
        #[oai(validator(pattern = r"^([0-9]{4}-[0-9]{2}-[0-9]{2})?$"))]
        to: Query<Option<String>>,
        /// Only messages with files.
        #[oai(default)]
        has_file: Query<bool>,
        /// `next_cursor` of the previous page.
        #[oai(validator(pattern = r"^[0-9]{0,9}$"))]
        cursor: Query<Option<String>>,
        #[oai(
            default = "default_search_limit",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        limit: Query<u64>,
    ) -> ApiResult<Json<MessageResults>, (s::Authed, s::BadRequest, s::NotFound, s::Unavailable)>
    {
        let params = MessageSearchParams {
            q: q.0,
            channel_id: channel_id.0,
            user_id: user_id.0,
            from: from.as_deref().and_then(search::day),
            to: to.as_deref().and_then(search::day),
            has_file: has_file.0,
            cursor: cursor.0,
            limit: limit.0,
        };
        Ok(Json(search::messages(&self.state, auth.0, params).await?))
    }

    /// Files you can see (yours, and those shared in conversations you can read) whose name
    /// contains every word of `q` (parts of words too); `from:@user` narrows by uploader.
    /// Newest first.
    #[oai(path = "/files", method = "get")]
    async fn files(
        &self,
        auth: BearerAuth,
        #[oai(validator(min_length = 1, max_length = 512))] q: Query<String>,
        /// `next_cursor` of the previous page.
        #[oai(validator(pattern = r"^[0-9]{0,9}$"))]
        cursor: Query<Option<String>>,
        #[oai(
            default = "default_search_limit",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        limit: Query<u64>,
    ) -> ApiResult<Json<FileResults>, (s::Authed, s::BadRequest)> {
        Ok(Json(
            search::files(&self.state, auth.0, &q.0, cursor.as_deref(), limit.0).await?,
        ))
    }
}
