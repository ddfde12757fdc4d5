//! Account recovery and second factor: password reset, email verification, TOTP enrollment.

use crate::domain::Email;
use std::sync::Arc;

use poem::Request;
use poem_openapi::{ApiResponse, Object, OpenApi, param::Path, payload::Json};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    ApiTags,
    auth::refuse_without_password_login,
    body::JsonBody,
    dto::NoContent,
    security::{BearerAuth, EnrollmentAuth, meta},
    statuses::{self as s, ApiResult},
};
use crate::{
    app::AppState,
    service::{recovery, sessions, totp},
};

pub struct AccountApi {
    pub state: Arc<AppState>,
}

#[derive(Object)]
struct ResetRequestBody {
    email: Email,
}

/// One of your sessions (a sign-in on some device).
#[derive(Object)]
struct SessionView {
    id: Uuid,
    started_at: OffsetDateTime,
    /// When it was last refreshed (or signed in): it was in use then.
    last_active_at: OffsetDateTime,
    expires_at: OffsetDateTime,
    /// The session of the token that asked.
    current: bool,
}

#[derive(Object)]
struct SessionList {
    items: Vec<SessionView>,
}

#[derive(Object)]
struct ChangePasswordBody {
    #[oai(validator(max_length = 1024))]
    current_password: String,
    /// 8–256 characters, not easy to guess.
    #[oai(validator(min_length = 8, max_length = 256))]
    new_password: String,
}

#[derive(Object)]
struct ResetConfirmBody {
    #[oai(validator(max_length = 256))]
    token: String,
    /// 8–256 characters, not easy to guess.
    #[oai(validator(min_length = 8, max_length = 256))]
    new_password: String,
}

#[derive(Object)]
struct TokenBody {
    #[oai(validator(max_length = 256))]
    token: String,
}

#[derive(Object)]
struct CodeBody {
    #[oai(validator(max_length = 64))]
    code: String,
}

#[derive(Object)]
struct TotpSetupBody {
    /// The caller's current password.
    #[oai(validator(max_length = 1024))]
    password: String,
}

#[derive(Object)]
struct TotpDisableBody {
    /// The caller's current password.
    #[oai(validator(max_length = 1024))]
    password: String,
    /// A current 6-digit TOTP code or an unused recovery code.
    #[oai(validator(max_length = 64))]
    code: String,
}

#[derive(Object)]
struct TotpEnrollment {
    /// Base32 secret, for manual entry.
    secret: String,
    /// `otpauth://` URL for a QR code.
    otpauth_url: String,
}

#[derive(Object)]
struct RecoveryCodes {
    /// Ten single-use codes, each four groups of five Crockford base32 characters
    /// (`7hq2m-xk9d4-p0zr8-c3vtn`, 100 bits); case, spaces and dashes do not matter when one is
    /// typed. Shown only now.
    recovery_codes: Vec<String>,
}

#[derive(ApiResponse)]
enum Accepted {
    /// Accepted: a mail is on its way if the address has an account.
    #[oai(status = 202)]
    Accepted,
}

#[OpenApi(prefix_path = "/auth", tag = "ApiTags::Auth")]
impl AccountApi {
    /// Mail a password-reset link (answers 202 whether or not the address exists; 403
    /// `password_login_disabled` when `auth.password_login = false`).
    #[oai(path = "/password-reset/request", method = "post")]
    async fn reset_request(
        &self,
        req: &Request,
        body: JsonBody<ResetRequestBody>,
    ) -> ApiResult<Accepted, (s::Body, s::Forbidden, s::TooManyRequests)> {
        refuse_without_password_login(&self.state)?;
        recovery::request_password_reset(&self.state, meta(&self.state, req), body.email.as_str())
            .await?;
        Ok(Accepted::Accepted)
    }

    /// Set a new password with the mailed token; every session of the account ends.
    #[oai(path = "/password-reset/confirm", method = "post")]
    async fn reset_confirm(
        &self,
        req: &Request,
        body: JsonBody<ResetConfirmBody>,
    ) -> ApiResult<NoContent, (s::Body, s::Forbidden)> {
        refuse_without_password_login(&self.state)?;
        recovery::confirm_password_reset(
            &self.state,
            meta(&self.state, req),
            &body.token,
            &body.new_password,
        )
        .await?;
        Ok(NoContent::NoContent)
    }

    /// Change your password (the current one confirms it: wrong → 403 `invalid_password`,
    /// counted like a failed login). Every session of the account ends, this one too: sign in
    /// again with the new password.
    #[oai(path = "/password", method = "post")]
    async fn change_password(
        &self,
        req: &Request,
        auth: BearerAuth,
        body: JsonBody<ChangePasswordBody>,
    ) -> ApiResult<NoContent, (s::Authed, s::Body, s::TooManyRequests)> {
        refuse_without_password_login(&self.state)?;
        recovery::change_password(
            &self.state,
            meta(&self.state, req),
            auth.0,
            &body.current_password,
            &body.new_password,
        )
        .await?;
        Ok(NoContent::NoContent)
    }

    /// Your signed-in sessions, most recently active first (at most 200).
    #[oai(path = "/sessions", method = "get")]
    async fn sessions(&self, auth: BearerAuth) -> ApiResult<Json<SessionList>, (s::Authed,)> {
        let current = auth.0.session_id;
        let items = sessions::list(&self.state, auth.0.user_id)
            .await?
            .into_iter()
            .map(|s| SessionView {
                id: s.id,
                started_at: s.started_at,
                last_active_at: s.last_active_at,
                expires_at: s.expires_at,
                current: current == Some(s.id),
            })
            .collect();
        Ok(Json(SessionList { items }))
    }

    /// Sign one of your sessions out: its access tokens stop working and its WebSockets close
    /// at once (404 when it is not yours or already ended).
    #[oai(path = "/sessions/:id", method = "delete")]
    async fn end_session(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
    ) -> ApiResult<NoContent, (s::Authed, s::BadRequest, s::NotFound)> {
        sessions::end(&self.state, auth.0.user_id, id.0).await?;
        Ok(NoContent::NoContent)
    }

    /// Confirm an email address with the mailed token.
    #[oai(path = "/email/verify", method = "post")]
    async fn verify_email(&self, body: JsonBody<TokenBody>) -> ApiResult<NoContent, (s::Body,)> {
        recovery::verify_email(&self.state, &body.token).await?;
        Ok(NoContent::NoContent)
    }

    /// Mail a new verification link to the caller.
    #[oai(path = "/email/verify/resend", method = "post")]
    async fn resend_verification(
        &self,
        auth: BearerAuth,
    ) -> ApiResult<Accepted, (s::Authed, s::Conflict, s::TooManyRequests)> {
        let user = crate::service::accounts::get(&self.state.db, auth.0.user_id).await?;
        if user.email_verified_at.is_none() {
            recovery::send_verification(&self.state, &user).await?;
        }
        Ok(Accepted::Accepted)
    }

    /// Start TOTP enrollment; needs the current password (wrong → 403 `invalid_password`,
    /// counted like a failed login).
    #[oai(path = "/totp/setup", method = "post")]
    async fn totp_setup(
        &self,
        req: &Request,
        auth: EnrollmentAuth,
        body: JsonBody<TotpSetupBody>,
    ) -> ApiResult<Json<TotpEnrollment>, (s::Authed, s::Body, s::Conflict, s::TooManyRequests)>
    {
        let e = totp::setup(&self.state, meta(&self.state, req), auth.0, &body.password).await?;
        Ok(Json(TotpEnrollment {
            secret: e.secret,
            otpauth_url: e.otpauth_url,
        }))
    }

    /// Finish enrollment with a current code; returns the recovery codes.
    #[oai(path = "/totp/confirm", method = "post")]
    async fn totp_confirm(
        &self,
        req: &Request,
        auth: EnrollmentAuth,
        body: JsonBody<CodeBody>,
    ) -> ApiResult<Json<RecoveryCodes>, (s::Authed, s::Body, s::Conflict)> {
        let codes = totp::confirm(&self.state, meta(&self.state, req), auth.0, &body.code).await?;
        Ok(Json(RecoveryCodes {
            recovery_codes: codes,
        }))
    }

    /// Turn TOTP off: needs the current password (wrong → 403 `invalid_password`) and a current
    /// code or a recovery code (counted per user; too many wrong ones → 429).
    #[oai(path = "/totp", method = "delete")]
    async fn totp_disable(
        &self,
        req: &Request,
        auth: BearerAuth,
        body: JsonBody<TotpDisableBody>,
    ) -> ApiResult<NoContent, (s::Authed, s::Body, s::Conflict, s::TooManyRequests)> {
        totp::disable(
            &self.state,
            meta(&self.state, req),
            auth.0,
            &body.password,
            &body.code,
        )
        .await?;
        Ok(NoContent::NoContent)
    }
}
