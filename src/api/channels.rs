//! Channels, their members, read markers and pins.

use crate::domain::ChannelName;
use std::sync::Arc;

use poem_openapi::{
    Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};
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
        channels::{self, ChannelUpdate, ListFilter, Member, NewChannel},
        reactions, read_state,
        views::{ChannelView, MessageView},
    },
};

pub struct ChannelsApi {
    pub state: Arc<AppState>,
}

#[derive(Object)]
struct NewChannelBody {
    /// Lowercase letters, digits, '-' and '_'; 1–80 characters; unique in the workspace.
    name: ChannelName,
    /// At most 250 characters.
    #[oai(nullable, validator(max_length = 250))]
    description: Option<String>,
    #[oai(default)]
    is_private: bool,
    /// Defaults to the caller's first workspace.
    #[oai(nullable)]
    workspace_id: Option<Uuid>,
}

#[derive(Object)]
struct UpdateChannelBody {
    #[oai(nullable)]
    name: Option<ChannelName>,
    /// At most 250 characters; empty clears it.
    #[oai(nullable, validator(max_length = 250))]
    description: Option<String>,
    /// At most 250 characters; empty clears it.
    #[oai(nullable, validator(max_length = 250))]
    topic: Option<String>,
}

#[derive(Object)]
struct AddMemberBody {
    user_id: Uuid,
}

#[derive(Object)]
struct ReadBody {
    /// Everything up to and including this sequence number has been read.
    #[oai(validator(minimum(value = "0")))]
    seq: i64,
}

#[derive(Object)]
struct ReadState {
    last_read_seq: i64,
    unread_count: u64,
    mention_count: u64,
}

#[OpenApi(prefix_path = "/channels", tag = "ApiTags::Channels")]
impl ChannelsApi {
    /// Create a channel; the creator becomes its owner.
    #[oai(path = "/", method = "post")]
    async fn create(
        &self,
        auth: BearerAuth,
        body: JsonBody<NewChannelBody>,
    ) -> ApiResult<
        Created<ChannelView>,
        (
            s::Authed,
            s::Body,
            s::NotFound,
            s::Conflict,
            s::TooManyRequests,
        ),
    > {
        let b = body.0;
        let view = channels::create(
            &self.state,
            auth.0,
            NewChannel {
                workspace_id: b.workspace_id,
                name: b.name.into_inner(),
                description: b.description,
                is_private: b.is_private,
            },
        )
        .await?;
        Ok(Created::Created(Json(view)))
    }

    /// Public channels of the workspace and the private ones the caller is in, by name, with
    /// unread and mention counts.
    #[oai(path = "/", method = "get")]
    async fn list(
        &self,
        auth: BearerAuth,
        workspace_id: Query<Option<Uuid>>,
        #[oai(default)] include_archived: Query<bool>,
        cursor: Query<Option<String>>,
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "200"))
        )]
        limit: Query<u64>,
    ) -> ApiResult<DirectJson<Page<ChannelView>>, (s::Authed, s::BadRequest, s::NotFound)> {
        let filter = ListFilter {
            workspace_id: workspace_id.0,
            include_archived: include_archived.0,
        };
        let (items, next_cursor) =
            channels::list(&self.state, auth.0, filter, cursor.as_deref(), limit.0).await?;
        Ok(DirectJson(Page { items, next_cursor }))
    }

    /// One channel (private channels: members and admins only).
    #[oai(path = "/:id", method = "get")]
    async fn get(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<ChannelView>, (s::Authed, s::BadRequest, s::NotFound)> {
        Ok(Json(channels::get(&self.state, auth.0, id.0).await?))
    }

    /// Rename, describe or set the topic (channel owners/admins).
    #[oai(path = "/:id", method = "put")]
    async fn update(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        body: JsonBody<UpdateChannelBody>,
    ) -> ApiResult<Json<ChannelView>, (s::Authed, s::Body, s::NotFound, s::Conflict)> {
        let b = body.0;
        let change = ChannelUpdate {
            name: b.name.map(ChannelName::into_inner),
            description: b.description,
            topic: b.topic,
        };
        Ok(Json(
            channels::update(&self.state, auth.0, id.0, change).await?,
        ))
    }

    /// Archive the channel (channel owners/admins): it becomes read-only.
    #[oai(path = "/:id", method = "delete")]
    async fn archive(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
    ) -> ApiResult<NoContent, (s::Authed, s::BadRequest, s::NotFound, s::Conflict)> {
        channels::archive(&self.state, auth.0, id.0).await?;
        Ok(NoContent::NoContent)
    }

    /// Join a public channel.
    #[oai(path = "/:id/join", method = "post")]
    async fn join(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<ChannelView>, (s::Authed, s::BadRequest, s::NotFound, s::Conflict)> {
        Ok(Json(channels::join(&self.state, auth.0, id.0).await?))
    }

    /// Leave a channel.
    #[oai(path = "/:id/leave", method = "post")]
    async fn leave(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
    ) -> ApiResult<NoContent, (s::Authed, s::BadRequest, s::NotFound, s::Conflict)> {
        channels::leave(&self.state, auth.0, id.0).await?;
        Ok(NoContent::NoContent)
    }

    /// Members, by username.
    #[oai(path = "/:id/members", method = "get")]
    async fn members(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        cursor: Query<Option<String>>,
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "200"))
        )]
        limit: Query<u64>,
    ) -> ApiResult<Json<Page<Member>>, (s::Authed, s::BadRequest, s::NotFound)> {
        let (items, next_cursor) =
            channels::members(&self.state, auth.0, id.0, cursor.as_deref(), limit.0).await?;
        Ok(Json(Page { items, next_cursor }))
    }

    /// Add someone (channel owners/admins; any member for public channels).
    #[oai(path = "/:id/members", method = "post")]
    async fn add_member(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        body: JsonBody<AddMemberBody>,
    ) -> ApiResult<
        NoContent,
        (
            s::Authed,
            s::Body,
            s::NotFound,
            s::Conflict,
            s::TooManyRequests,
        ),
    > {
        channels::add_member(&self.state, auth.0, id.0, body.user_id).await?;
        Ok(NoContent::NoContent)
    }

    /// Remove someone (channel owners/admins).
    #[oai(path = "/:id/members/:user_id", method = "delete")]
    async fn remove_member(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        user_id: Path<Uuid>,
    ) -> ApiResult<NoContent, (s::Authed, s::BadRequest, s::NotFound, s::Conflict)> {
        channels::remove_member(&self.state, auth.0, id.0, user_id.0).await?;
        Ok(NoContent::NoContent)
    }

    /// Move the read marker forward (never backwards).
    #[oai(path = "/:id/read", method = "post")]
    async fn read(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        body: JsonBody<ReadBody>,
    ) -> ApiResult<Json<ReadState>, (s::Authed, s::Body, s::NotFound)> {
        let (last_read_seq, counts) =
            read_state::mark_read(&self.state, auth.0, id.0, body.seq).await?;
        Ok(Json(ReadState {
            last_read_seq,
            unread_count: counts.unread,
            mention_count: counts.mentions,
        }))
    }

    /// Pinned messages, most recently pinned first.
    #[oai(path = "/:id/pins", method = "get")]
    async fn pins(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        cursor: Query<Option<String>>,
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "200"))
        )]
        limit: Query<u64>,
    ) -> ApiResult<DirectJson<Page<MessageView>>, (s::Authed, s::BadRequest, s::NotFound)> {
        let (items, next_cursor) =
            reactions::pins(&self.state, auth.0, id.0, cursor.as_deref(), limit.0).await?;
        Ok(DirectJson(Page { items, next_cursor }))
    }
}
