//! Accounts and sessions: register, login (with the 2FA step), refresh, logout, bot tokens.

use crate::domain::{DisplayName, Email, Username};
use std::sync::Arc;

use poem::Request;
use poem_openapi::{
    ApiRequest, Enum, Object, OpenApi,
    payload::{Form, Json},
};
use serde::Deserialize;

use super::{
    ApiTags,
    body::JsonBody,
    dto::{Created, NoContent, Tokens, User},
    security::{EnrollmentAuth, meta},
    statuses::{self as s, ApiResult},
};
use crate::{
    app::AppState,
    error::{AppError, ErrorCode},
    service::{clients, login, registration, sessions},
};

pub struct AuthApi {
    pub state: Arc<AppState>,
}

#[derive(Object)]
struct RegisterBody {
    email: Email,
    username: Username,
    /// 8–256 characters, not easy to guess.
    #[oai(validator(min_length = 8, max_length = 256))]
    password: String,
    #[oai(nullable)]
    display_name: Option<DisplayName>,
    /// Required when `auth.registration = "invite"`.
    #[oai(nullable)]
    #[oai(validator(max_length = 256))]
    invite_token: Option<String>,
}

#[derive(Object)]
pub(super) struct LoginBody {
    /// Username or email.
    #[oai(validator(max_length = 320))]
    login: String,
    #[oai(validator(max_length = 1024))]
    password: String,
}

/// Password login, as `POST /auth/login` and `POST /auth/web/login` do it.
pub(super) async fn password_login(
    state: &AppState,
    req: &Request,
    body: &LoginBody,
) -> Result<login::LoginOutcome, AppError> {
    refuse_without_password_login(state)?;
    if body.password.len() > 1024 || body.login.len() > 320 {
        return Err(AppError::new(
            ErrorCode::InvalidCredentials,
            "invalid login or password",
        ));
    }
    login::login(state, meta(state, req), &body.login, &body.password).await
}

/// `auth.password_login = false`: passwords are not a way in (403 `password_login_disabled`).
pub(super) fn refuse_without_password_login(state: &AppState) -> Result<(), AppError> {
    if state.config.auth.password_login {
        return Ok(());
    }
    Err(AppError::new(
        ErrorCode::PasswordLoginDisabled,
        "password sign-in is disabled here: sign in with your organisation's identity provider",
    ))
}

/// The second login step, as `POST /auth/login/totp` and `POST /auth/web/login/totp` do it.
pub(super) async fn totp_login(
    state: &AppState,
    req: &Request,
    body: &LoginTotpBody,
) -> Result<sessions::TokenPair, AppError> {
    login::login_totp(state, meta(state, req), &body.mfa_token, &body.code).await
}

/// Either tokens, or `mfa_required` with an `mfa_token` for `POST /auth/login/totp`.
#[derive(Object)]
struct LoginResponse {
    #[oai(skip_serializing_if_is_none)]
    access_token: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    refresh_token: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    token_type: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    expires_in: Option<u64>,
    #[oai(skip_serializing_if_is_none)]
    totp_enrollment_required: Option<bool>,
    #[oai(skip_serializing_if_is_none)]
    mfa_required: Option<bool>,
    #[oai(skip_serializing_if_is_none)]
    mfa_token: Option<String>,
}

#[derive(Object)]
pub(super) struct LoginTotpBody {
    #[oai(validator(max_length = 1024))]
    mfa_token: String,
    /// A 6-digit TOTP code or a recovery code.
    #[oai(validator(max_length = 64))]
    code: String,
}

#[derive(Object)]
struct RefreshBody {
    #[oai(validator(max_length = 256))]
    refresh_token: String,
}

#[derive(Object, Deserialize)]
struct ClientCredentials {
    /// Must be `client_credentials`.
    #[allow(dead_code)] // The only grant there is; the schema refuses any other.
    grant_type: GrantType,
    #[oai(validator(max_length = 256))]
    client_id: String,
    #[oai(validator(max_length = 256))]
    client_secret: String,
}

/// OAuth2 grant types (RFC 6749): bots use `client_credentials`.
#[derive(Enum, Deserialize, Clone, Copy)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
enum GrantType {
    ClientCredentials,
}

#[derive(ApiRequest)]
enum TokenRequest {
    Json(JsonBody<ClientCredentials>),
    Form(Form<ClientCredentials>),
}

#[derive(Object)]
struct ClientToken {
    access_token: String,
    token_type: String,
    expires_in: u64,
}

#[derive(Object)]
struct Providers {
    /// Username/email + password login is available (`auth.password_login`).
    password: bool,
    /// open, invite or closed.
    registration: String,
    require_totp: bool,
    /// Identity providers to sign in with, in the configured order.
    oidc: Vec<IdentityProvider>,
}

/// An identity provider of `[[auth.oidc.providers]]`.
#[derive(Object)]
struct IdentityProvider {
    /// Its id in URLs.
    name: String,
    /// The sign-in button's label.
    display_name: String,
    /// `oidc` or `github`.
    kind: String,
    /// Where the sign-in button goes (`GET`, a browser navigation; add `?return_to=/path`).
    start_url: String,
}

#[OpenApi(prefix_path = "/auth", tag = "ApiTags::Auth")]
impl AuthApi {
    /// Create an account (policy `auth.registration`); a verification mail is sent.
    #[oai(path = "/register", method = "post")]
    async fn register(
        &self,
        req: &Request,
        body: JsonBody<RegisterBody>,
    ) -> ApiResult<
        Created<User>,
        (
            s::Body,
            s::Forbidden,
            s::Conflict,
            s::Gone,
            s::NotFound,
            s::TooManyRequests,
        ),
    > {
        refuse_without_password_login(&self.state)?;
        let b = body.0;
        let user = registration::register(
            &self.state,
            meta(&self.state, req),
            registration::RegisterRequest {
                email: b.email.as_str().to_string(),
                username: b.username.as_str().to_string(),
                password: b.password,
                display_name: b.display_name.map(DisplayName::into_inner),
                invite_token: b.invite_token,
            },
        )
        .await?;
        Ok(Created::Created(Json(User::view(user, None))))
    }

    /// Log in with username or email and password.
    #[oai(path = "/login", method = "post")]
    async fn login(
        &self,
        req: &Request,
        body: JsonBody<LoginBody>,
    ) -> ApiResult<
        Json<LoginResponse>,
        (
            s::Body,
            s::Unauthorized,
            s::Forbidden,
            s::Conflict,
            s::TooManyRequests,
        ),
    > {
        let outcome = password_login(&self.state, req, &body).await?;
        Ok(Json(match outcome {
            login::LoginOutcome::Tokens(pair) => {
                let t = Tokens::from(pair);
                LoginResponse {
                    access_token: Some(t.access_token),
                    refresh_token: Some(t.refresh_token),
                    token_type: Some(t.token_type),
                    expires_in: Some(t.expires_in),
                    totp_enrollment_required: t.totp_enrollment_required,
                    mfa_required: None,
                    mfa_token: None,
                }
            }
            login::LoginOutcome::MfaRequired { mfa_token } => LoginResponse {
                access_token: None,
                refresh_token: None,
                token_type: None,
                expires_in: None,
                totp_enrollment_required: None,
                mfa_required: Some(true),
                mfa_token: Some(mfa_token),
            },
        }))
    }

    /// Second login step when 2FA is on: a TOTP code or a recovery code.
    #[oai(path = "/login/totp", method = "post")]
    async fn login_totp(
        &self,
        req: &Request,
        body: JsonBody<LoginTotpBody>,
    ) -> ApiResult<Json<Tokens>, (s::Body, s::Unauthorized, s::Forbidden, s::TooManyRequests)> {
        let pair = totp_login(&self.state, req, &body).await?;
        Ok(Json(pair.into()))
    }

    /// Exchange a refresh token for a new pair. Each refresh token works once; reusing one
    /// revokes its whole session.
    #[oai(path = "/refresh", method = "post")]
    async fn refresh(
        &self,
        req: &Request,
        body: JsonBody<RefreshBody>,
    ) -> ApiResult<Json<Tokens>, (s::Body, s::Unauthorized, s::Forbidden)> {
        let pair =
            sessions::refresh(&self.state, meta(&self.state, req), &body.refresh_token).await?;
        Ok(Json(pair.into()))
    }

    /// End the session the refresh token belongs to.
    #[oai(path = "/logout", method = "post")]
    async fn logout(&self, body: JsonBody<RefreshBody>) -> ApiResult<NoContent, (s::Body,)> {
        sessions::revoke(&self.state, &body.refresh_token).await?;
        Ok(NoContent::NoContent)
    }

    /// End every session of the caller and invalidate all their access tokens at once.
    #[oai(path = "/logout-all", method = "post")]
    async fn logout_all(
        &self,
        req: &Request,
        auth: EnrollmentAuth,
    ) -> ApiResult<NoContent, (s::Authed,)> {
        sessions::logout_all(&self.state, meta(&self.state, req), auth.0.user_id).await?;
        Ok(NoContent::NoContent)
    }

    /// Revoke a refresh token (and its session), as in RFC 7009.
    #[oai(path = "/revoke", method = "post")]
    async fn revoke(&self, body: JsonBody<RefreshBody>) -> ApiResult<NoContent, (s::Body,)> {
        sessions::revoke(&self.state, &body.refresh_token).await?;
        Ok(NoContent::NoContent)
    }

    /// OAuth2 client-credentials grant for bots (JSON or form-encoded).
    #[oai(path = "/token", method = "post")]
    async fn token(
        &self,
        body: TokenRequest,
    ) -> ApiResult<Json<ClientToken>, (s::Body, s::Unauthorized)> {
        let creds = match body {
            TokenRequest::Json(JsonBody(c)) | TokenRequest::Form(Form(c)) => c,
        };
        let (access_token, expires_in) =
            clients::token(&self.state, &creds.client_id, &creds.client_secret).await?;
        Ok(Json(ClientToken {
            access_token,
            token_type: "Bearer".into(),
            expires_in,
        }))
    }

    /// How users can sign in here.
    #[oai(path = "/providers", method = "get")]
    async fn providers(&self) -> Json<Providers> {
        let auth = &self.state.config.auth;
        Json(Providers {
            password: auth.password_login,
            registration: format!("{:?}", auth.registration).to_lowercase(),
            require_totp: auth.require_totp,
            oidc: self
                .state
                .sso
                .all()
                .map(|p| IdentityProvider {
                    name: p.config.name.clone(),
                    display_name: p.config.label(),
                    kind: format!("{:?}", p.config.kind).to_lowercase(),
                    start_url: format!("/api/v1/auth/oidc/{}/start", p.config.name),
                })
                .collect(),
        })
    }
}
