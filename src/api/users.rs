//! Users: own profile and status, search, lookup.

use crate::domain::{DisplayName, StatusEmoji, StatusText};
use std::sync::Arc;

use poem_openapi::{
    Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    ApiTags,
    body::JsonBody,
    dto::{Page, User},
    security::{BearerAuth, EnrollmentAuth},
    statuses::{self as s, ApiResult},
};
use crate::{
    app::AppState,
    service::{accounts, users},
};

pub struct UsersApi {
    pub state: Arc<AppState>,
}

#[derive(Object)]
struct UpdateMe {
    #[oai(nullable)]
    display_name: Option<DisplayName>,
}

#[derive(Object)]
struct StatusBody {
    /// Empty text and emoji clear the status.
    status_text: StatusText,
    status_emoji: StatusEmoji,
    /// When the status ends; a time already past clears it.
    #[oai(nullable)]
    expires_at: Option<OffsetDateTime>,
}

#[OpenApi(prefix_path = "/users", tag = "ApiTags::Users")]
impl UsersApi {
    /// The caller's own profile.
    #[oai(path = "/me", method = "get")]
    async fn me(&self, auth: EnrollmentAuth) -> ApiResult<Json<User>, (s::Authed,)> {
        let user = accounts::get(&self.state.db, auth.0.user_id).await?;
        let totp_enabled = accounts::totp_enabled(&self.state.db, auth.0.user_id).await?;
        let mut me = User::view(user, Some(&auth.0))
            .with_presence(&self.state)
            .await;
        me.totp_enabled = Some(totp_enabled);
        Ok(Json(me))
    }

    /// Update the caller's profile.
    #[oai(path = "/me", method = "put")]
    async fn update_me(
        &self,
        auth: BearerAuth,
        body: JsonBody<UpdateMe>,
    ) -> ApiResult<Json<User>, (s::Authed, s::Body)> {
        let user = users::update_profile(
            &self.state,
            auth.0,
            body.display_name.as_ref().map(DisplayName::as_str),
        )
        .await?;
        Ok(Json(User::view(user, Some(&auth.0))))
    }

    /// Set (or clear) the caller's custom status, optionally expiring.
    #[oai(path = "/me/status", method = "post")]
    async fn set_status(
        &self,
        auth: BearerAuth,
        body: JsonBody<StatusBody>,
    ) -> ApiResult<Json<User>, (s::Authed, s::Body)> {
        let b = body.0;
        let user = users::set_status(
            &self.state,
            auth.0,
            b.status_text.as_str(),
            b.status_emoji.as_str(),
            b.expires_at,
        )
        .await?;
        Ok(Json(User::view(user, Some(&auth.0))))
    }

    /// Search people who share a workspace with the caller.
    #[oai(path = "/", method = "get")]
    async fn search(
        &self,
        auth: BearerAuth,
        #[oai(validator(max_length = 100))] query: Query<Option<String>>,
        cursor: Query<Option<String>>,
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "200"))
        )]
        limit: Query<u64>,
    ) -> ApiResult<Json<Page<User>>, (s::Authed, s::BadRequest, s::NotFound)> {
        let page = users::search(
            &self.state,
            auth.0,
            query.as_deref(),
            cursor.as_deref(),
            limit.0,
        )
        .await?;
        Ok(Json(Page {
            items: page
                .items
                .into_iter()
                .map(|u| User::view(u, Some(&auth.0)))
                .collect(),
            next_cursor: page.next_cursor,
        }))
    }

    /// One user (404 when unknown or not visible to the caller).
    #[oai(path = "/:id", method = "get")]
    async fn get(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<User>, (s::Authed, s::BadRequest, s::NotFound)> {
        let user = users::get_visible(&self.state, auth.0, id.0).await?;
        Ok(Json(
            User::view(user, Some(&auth.0))
                .with_presence(&self.state)
                .await,
        ))
    }
}

pub fn default_limit() -> u64 {
    50
}
