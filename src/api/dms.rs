//! Direct messages and the conversations list.

use std::sync::Arc;

use poem_openapi::{ApiResponse, Object, OpenApi, param::Query, payload::Json};
use uuid::Uuid;

use super::{
    ApiTags,
    body::JsonBody,
    direct_json::DirectJson,
    dto::Page,
    security::BearerAuth,
    statuses::{self as s, ApiResult},
    users::default_limit,
};
use crate::{
    app::AppState,
    service::{
        conversations, dms,
        views::{ChannelView, MessageView},
    },
};

pub struct DmsApi {
    pub state: Arc<AppState>,
}

#[derive(Object)]
struct OpenDmBody {
    /// The other people (you are added automatically, repeats count once); at most 8 people in
    /// all.
    #[oai(validator(max_items = 64))]
    participant_ids: Vec<Uuid>,
    #[oai(nullable)]
    workspace_id: Option<Uuid>,
}

#[derive(ApiResponse)]
enum OpenDmResponse {
    /// A new conversation.
    #[oai(status = 201)]
    Created(Json<ChannelView>),
    /// The existing conversation with exactly these people.
    #[oai(status = 200)]
    Existing(Json<ChannelView>),
}

#[derive(Object, serde::Serialize)]
struct Conversation {
    #[oai(flatten)]
    #[serde(flatten)]
    channel: ChannelView,
    #[oai(nullable)]
    last_message: Option<MessageView>,
}

#[OpenApi(tag = "ApiTags::Conversations")]
impl DmsApi {
    /// Open (or find) the DM or group DM with these people.
    #[oai(path = "/dms", method = "post")]
    async fn open(
        &self,
        auth: BearerAuth,
        body: JsonBody<OpenDmBody>,
    ) -> ApiResult<OpenDmResponse, (s::Authed, s::Body, s::NotFound, s::TooManyRequests)> {
        let b = body.0;
        let (view, created) =
            dms::open(&self.state, auth.0, b.workspace_id, b.participant_ids).await?;
        Ok(if created {
            OpenDmResponse::Created(Json(view))
        } else {
            OpenDmResponse::Existing(Json(view))
        })
    }

    /// Your DMs, most recent first.
    #[oai(path = "/dms", method = "get")]
    async fn list(
        &self,
        auth: BearerAuth,
        cursor: Query<Option<String>>,
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "200"))
        )]
        limit: Query<u64>,
    ) -> ApiResult<DirectJson<Page<ChannelView>>, (s::Authed, s::BadRequest)> {
        let (items, next_cursor) =
            dms::list(&self.state, auth.0, cursor.as_deref(), limit.0).await?;
        Ok(DirectJson(Page { items, next_cursor }))
    }

    /// Every channel and DM you are in, most recent activity first, with the last message and
    /// unread / mention counts.
    #[oai(path = "/conversations", method = "get")]
    async fn conversations(
        &self,
        auth: BearerAuth,
        cursor: Query<Option<String>>,
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "200"))
        )]
        limit: Query<u64>,
    ) -> ApiResult<DirectJson<Page<Conversation>>, (s::Authed, s::BadRequest)> {
        let (items, next_cursor) =
            conversations::list(&self.state, auth.0, cursor.as_deref(), limit.0).await?;
        Ok(DirectJson(Page {
            items: items
                .into_iter()
                .map(|c| Conversation {
                    channel: c.channel,
                    last_message: c.last_message,
                })
                .collect(),
            next_cursor,
        }))
    }
}
