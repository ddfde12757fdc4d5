//! `/admin/users`: finding people and acting on their accounts (see `service::people`).

use std::sync::Arc;

use poem::Request;
use poem_openapi::{
    Enum, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    api::{
        ApiTags,
        body::JsonBody,
        dto::{NoContent, Page, User},
        security::{BearerAuth, meta},
        statuses::{self as s, ApiResult},
        users::default_limit,
    },
    app::AppState,
    db::entity::user,
    domain::Role,
    error::AppResult,
    service::{Principal, accounts, people, users},
};

pub struct PeopleApi {
    pub state: Arc<AppState>,
}

#[derive(Object)]
struct SuspendBody {
    #[oai(validator(max_length = 500))]
    reason: String,
}

#[derive(Object)]
struct RoleBody {
    role: AssignableRole,
}

/// A role an admin can give (bot accounts are made through API clients).
#[derive(Enum, Clone, Copy)]
#[oai(rename_all = "lowercase")]
enum AssignableRole {
    Owner,
    Admin,
    Member,
    Guest,
}

impl From<AssignableRole> for Role {
    fn from(r: AssignableRole) -> Self {
        match r {
            AssignableRole::Owner => Role::Owner,
            AssignableRole::Admin => Role::Admin,
            AssignableRole::Member => Role::Member,
            AssignableRole::Guest => Role::Guest,
        }
    }
}

/// Any role, to filter the list by.
#[derive(Enum, Clone, Copy)]
#[oai(rename_all = "lowercase")]
enum RoleFilter {
    Owner,
    Admin,
    Member,
    Guest,
    Bot,
}

impl From<RoleFilter> for Role {
    fn from(r: RoleFilter) -> Self {
        match r {
            RoleFilter::Owner => Role::Owner,
            RoleFilter::Admin => Role::Admin,
            RoleFilter::Member => Role::Member,
            RoleFilter::Guest => Role::Guest,
            RoleFilter::Bot => Role::Bot,
        }
    }
}

/// Which accounts `GET /admin/users` lists.
#[derive(Enum, Clone, Copy)]
#[oai(rename_all = "lowercase")]
enum StatusFilter {
    All,
    /// Neither suspended nor deactivated.
    Active,
    Suspended,
    Deactivated,
}

/// The order of `GET /admin/users`.
#[derive(Enum, Clone, Copy)]
#[oai(rename_all = "snake_case")]
enum SortBy {
    /// A to Z.
    Username,
    /// Most recently active first; people never active last.
    LastActive,
}

/// A person as admins see them.
#[derive(Object)]
struct AdminUser {
    #[oai(flatten)]
    user: User,
    /// When they last used CoLink (API or WebSocket), to the minute; null: never.
    #[oai(nullable)]
    last_active_at: Option<OffsetDateTime>,
    #[oai(nullable)]
    suspended_at: Option<OffsetDateTime>,
    #[oai(nullable)]
    suspended_reason: Option<String>,
    #[oai(nullable)]
    deactivated_at: Option<OffsetDateTime>,
    /// Whether two-factor authentication is on.
    two_factor_enabled: bool,
}

impl AdminUser {
    /// One person, with their 2FA state looked up.
    async fn load(state: &AppState, u: user::Model, admin: &Principal) -> AppResult<Self> {
        let on = accounts::totp_enabled(&state.db, u.id).await?;
        Ok(Self::view(u, admin, on))
    }

    fn view(u: user::Model, admin: &Principal, two_factor_enabled: bool) -> Self {
        Self {
            two_factor_enabled,
            last_active_at: u.last_active_at,
            suspended_at: u.suspended_at,
            suspended_reason: u.suspended_reason.clone(),
            deactivated_at: u.deactivated_at,
            user: User::view(u, Some(admin)),
        }
    }
}

/// One of their signed-in sessions.
#[derive(Object)]
struct AdminSession {
    id: Uuid,
    started_at: OffsetDateTime,
    /// The last refresh (or the sign-in).
    last_active_at: OffsetDateTime,
    expires_at: OffsetDateTime,
}

/// An identity provider an account signs in with.
#[derive(Object)]
struct AdminIdentity {
    /// The provider's `name` in `[[auth.oidc.providers]]`.
    provider: String,
    /// The email the provider vouched for when it was last used.
    #[oai(nullable)]
    email: Option<String>,
    linked_at: OffsetDateTime,
    last_login_at: OffsetDateTime,
}

/// A person with their security state.
#[derive(Object)]
struct AdminUserDetail {
    #[oai(flatten)]
    user: AdminUser,
    /// Whether the account has a password (one an identity provider made has none until a
    /// password reset sets one).
    has_password: bool,
    /// The identity providers the account signs in with, oldest link first.
    identities: Vec<AdminIdentity>,
    /// Live sessions, most recently active first (at most 200).
    sessions: Vec<AdminSession>,
}

#[OpenApi(prefix_path = "/admin", tag = "ApiTags::Admin")]
impl PeopleApi {
    /// Everyone, with search (username, display name, email), filters by status and role, and
    /// sorted by username or by last activity.
    #[oai(path = "/users", method = "get")]
    #[allow(clippy::too_many_arguments)]
    async fn users(
        &self,
        auth: BearerAuth,
        #[oai(validator(max_length = 100))] query: Query<Option<String>>,
        status: Query<Option<StatusFilter>>,
        role: Query<Option<RoleFilter>>,
        sort: Query<Option<SortBy>>,
        cursor: Query<Option<String>>,
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "200"))
        )]
        limit: Query<u64>,
    ) -> ApiResult<Json<Page<AdminUser>>, (s::Authed, s::BadRequest)> {
        users::require_admin(auth.0)?;
        let page = people::list(
            &self.state,
            people::ListQuery {
                text: query.as_deref(),
                status: match status.0.unwrap_or(StatusFilter::All) {
                    StatusFilter::All => people::Status::All,
                    StatusFilter::Active => people::Status::Active,
                    StatusFilter::Suspended => people::Status::Suspended,
                    StatusFilter::Deactivated => people::Status::Deactivated,
                },
                role: role.0.map(Role::from),
                sort: match sort.0.unwrap_or(SortBy::Username) {
                    SortBy::Username => people::Sort::Username,
                    SortBy::LastActive => people::Sort::LastActive,
                },
                cursor: cursor.as_deref(),
                limit: limit.0,
            },
        )
        .await?;
        let ids: Vec<Uuid> = page.items.iter().map(|u| u.id).collect();
        let two_factor = accounts::totp_enabled_among(&self.state.db, &ids).await?;
        Ok(Json(Page {
            items: page
                .items
                .into_iter()
                .map(|u| {
                    let on = two_factor.contains(&u.id);
                    AdminUser::view(u, &auth.0, on)
                })
                .collect(),
            next_cursor: page.next_cursor,
        }))
    }

    /// One person: account state, last activity, 2FA and live sessions.
    #[oai(path = "/users/:id", method = "get")]
    async fn user(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<AdminUserDetail>, (s::Authed, s::BadRequest, s::NotFound)> {
        users::require_admin(auth.0)?;
        let detail = people::detail(&self.state, id.0).await?;
        Ok(Json(AdminUserDetail {
            user: AdminUser::view(detail.user, &auth.0, detail.totp_enabled),
            has_password: detail.has_password,
            identities: detail
                .identities
                .into_iter()
                .map(|i| AdminIdentity {
                    provider: i.provider,
                    email: i.email,
                    linked_at: i.created_at,
                    last_login_at: i.last_login_at,
                })
                .collect(),
            sessions: detail
                .sessions
                .into_iter()
                .map(|s| AdminSession {
                    id: s.id,
                    started_at: s.started_at,
                    last_active_at: s.last_active_at,
                    expires_at: s.expires_at,
                })
                .collect(),
        }))
    }

    /// Suspend someone: they cannot sign in, every session ends and their WebSockets close at
    /// once. The last active owner cannot be suspended (409 `last_owner`).
    #[oai(path = "/users/:id/suspend", method = "post")]
    async fn suspend(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<Uuid>,
        body: JsonBody<SuspendBody>,
    ) -> ApiResult<Json<AdminUser>, (s::Authed, s::Body, s::NotFound, s::Conflict)> {
        let meta = meta(&self.state, req);
        let user =
            people::set_suspended(&self.state, meta, auth.0, id.0, Some(body.0.reason)).await?;
        Ok(Json(AdminUser::load(&self.state, user, &auth.0).await?))
    }

    /// Lift a suspension.
    #[oai(path = "/users/:id/unsuspend", method = "post")]
    async fn unsuspend(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<AdminUser>, (s::Authed, s::BadRequest, s::NotFound, s::Conflict)> {
        let meta = meta(&self.state, req);
        let user = people::set_suspended(&self.state, meta, auth.0, id.0, None).await?;
        Ok(Json(AdminUser::load(&self.state, user, &auth.0).await?))
    }

    /// Change someone's role; their WebSockets reconnect and their tokens carry the new role at
    /// once. Only owners grant or remove ownership; the last active owner stays one (409
    /// `last_owner`).
    #[oai(path = "/users/:id/role", method = "post")]
    async fn role(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<Uuid>,
        body: JsonBody<RoleBody>,
    ) -> ApiResult<Json<AdminUser>, (s::Authed, s::Body, s::NotFound, s::Conflict)> {
        let meta = meta(&self.state, req);
        let user = people::set_role(&self.state, meta, auth.0, id.0, body.role.into()).await?;
        Ok(Json(AdminUser::load(&self.state, user, &auth.0).await?))
    }

    /// Deactivate someone: their messages stay and they show as deactivated; they cannot sign
    /// in, every session ends and their WebSockets close at once. The last active owner cannot
    /// be deactivated (409 `last_owner`).
    #[oai(path = "/users/:id", method = "delete")]
    async fn deactivate(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<Uuid>,
    ) -> ApiResult<NoContent, (s::Authed, s::BadRequest, s::NotFound, s::Conflict)> {
        let meta = meta(&self.state, req);
        people::set_deactivated(&self.state, meta, auth.0, id.0, true).await?;
        Ok(NoContent::NoContent)
    }

    /// Reactivate a deactivated account.
    #[oai(path = "/users/:id/reactivate", method = "post")]
    async fn reactivate(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<AdminUser>, (s::Authed, s::BadRequest, s::NotFound, s::Conflict)> {
        let meta = meta(&self.state, req);
        let user = people::set_deactivated(&self.state, meta, auth.0, id.0, false).await?;
        Ok(Json(AdminUser::load(&self.state, user, &auth.0).await?))
    }

    /// Turn someone's two-factor authentication off (a lost phone): every session ends; they
    /// sign in with their password and may enrol again. 409 when 2FA is off.
    #[oai(path = "/users/:id/reset-2fa", method = "post")]
    async fn reset_two_factor(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<Uuid>,
    ) -> ApiResult<NoContent, (s::Authed, s::BadRequest, s::NotFound, s::Conflict)> {
        let meta = meta(&self.state, req);
        people::reset_totp(&self.state, meta, auth.0, id.0).await?;
        Ok(NoContent::NoContent)
    }

    /// Force a password reset: the current password stops working, every session ends, and
    /// the user is mailed a link to choose a new one.
    #[oai(path = "/users/:id/password-reset", method = "post")]
    async fn password_reset(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<Uuid>,
    ) -> ApiResult<NoContent, (s::Authed, s::BadRequest, s::NotFound, s::Conflict)> {
        let meta = meta(&self.state, req);
        people::force_password_reset(&self.state, meta, auth.0, id.0).await?;
        Ok(NoContent::NoContent)
    }

    /// End one of someone's sessions: its tokens stop working and its WebSockets close at once
    /// (404 when it is not theirs or already ended).
    #[oai(path = "/users/:id/sessions/:session_id", method = "delete")]
    async fn end_session(
        &self,
        req: &Request,
        auth: BearerAuth,
        id: Path<Uuid>,
        session_id: Path<Uuid>,
    ) -> ApiResult<NoContent, (s::Authed, s::BadRequest, s::NotFound)> {
        let meta = meta(&self.state, req);
        people::end_session(&self.state, meta, auth.0, id.0, session_id.0).await?;
        Ok(NoContent::NoContent)
    }
}
