//! Signing in to the web app through an identity provider (`service::sso`): two browser
//! navigations, each answered with a redirect.
//!
//! - `GET /auth/oidc/{provider}/start` → 303 to the provider, with the attempt's state in the
//!   `colink_sso` cookie (`HttpOnly; SameSite=Lax; Path=/api/v1/auth/oidc`, 10 minutes: Lax,
//!   because the provider sends the browser back with a cross-site navigation).
//! - `GET /auth/oidc/{provider}/callback` → 303 to the page the sign-in started from, with the
//!   session in the `colink_refresh` and `colink_csrf` cookies exactly as
//!   `POST /auth/web/login` sets them; the app then gets an access token from
//!   `POST /auth/web/refresh`. A failure lands on `/login?sso_error=<code>` instead, the code
//!   one of the error table's (`sso_expired`, `sso_rejected`, `sso_email_unverified`,
//!   `sso_no_account`, `sso_unavailable`, `account_suspended`, `rate_limited`), for the app to
//!   explain.

use std::sync::Arc;

use poem::Request;
use poem_openapi::{ApiResponse, OpenApi, param::Path, param::Query};

use super::{
    ApiTags,
    security::meta,
    statuses::{self as s, ApiResult},
    web_session::{self, SetCookies},
};
use crate::{
    app::AppState,
    error::{AppError, ErrorCode},
    service::sso,
};

/// The attempt's state, for the callback to check it came back to the browser that started.
const STATE_COOKIE: &str = "colink_sso";
const STATE_COOKIE_PATH: &str = "/api/v1/auth/oidc";

pub struct SsoApi {
    pub state: Arc<AppState>,
}

#[derive(ApiResponse)]
pub enum SeeOther {
    /// Follow `Location`.
    #[oai(status = 303)]
    SeeOther(#[oai(header = "Location")] String),
}

fn state_cookie(state: &AppState, value: &str, max_age: u64) -> String {
    format!(
        "{STATE_COOKIE}={value}; Path={STATE_COOKIE_PATH}; Max-Age={max_age}; SameSite=Lax; HttpOnly{}",
        if web_session::secure_cookies(state) {
            "; Secure"
        } else {
            ""
        }
    )
}

/// The sign-in page, telling what went wrong.
fn failed(state: &AppState, e: &AppError) -> SetCookies<SeeOther> {
    SetCookies::new(
        SeeOther::SeeOther(format!("/login?sso_error={}", e.code.as_str())),
        vec![state_cookie(state, "", 0)],
    )
}

#[OpenApi(prefix_path = "/auth/oidc", tag = "ApiTags::Auth")]
impl SsoApi {
    /// Start signing in with an identity provider (a browser navigation, e.g. the sign-in
    /// page's "Continue with …" button): 303 to the provider. `return_to` is the path of this
    /// site to land on afterwards (default `/`; other sites are ignored). When the provider
    /// cannot be reached, or too many sign-ins came from this address, 303 to
    /// `/login?sso_error=<code>`.
    #[oai(path = "/:provider/start", method = "get")]
    async fn start(
        &self,
        req: &Request,
        /// The provider's `name` (see `GET /auth/providers`).
        provider: Path<String>,
        #[oai(validator(max_length = 2048))] return_to: Query<Option<String>>,
    ) -> ApiResult<SetCookies<SeeOther>, (s::BadRequest, s::NotFound)> {
        let started = sso::start(
            &self.state,
            meta(&self.state, req),
            &provider,
            return_to.0.as_deref(),
        )
        .await;
        Ok(match started {
            Ok(started) => SetCookies::new(
                SeeOther::SeeOther(started.redirect),
                vec![state_cookie(
                    &self.state,
                    &started.state,
                    sso::ATTEMPT_TTL.as_secs(),
                )],
            ),
            Err(e) if e.code == ErrorCode::NotFound => return Err(e.into()),
            Err(e) => failed(&self.state, &e),
        })
    }

    /// Where the identity provider sends the browser back (register
    /// `<public_url>/api/v1/auth/oidc/<provider>/callback` with the provider). On success,
    /// 303 to the page the sign-in started from with the session cookies set (see
    /// `POST /auth/web/login`); on failure, 303 to `/login?sso_error=<code>`.
    #[oai(path = "/:provider/callback", method = "get")]
    async fn callback(
        &self,
        req: &Request,
        provider: Path<String>,
        #[oai(validator(max_length = 4096))] code: Query<Option<String>>,
        #[oai(validator(max_length = 256))] state: Query<Option<String>>,
        /// The provider's OAuth2 error (`access_denied` when the person declined).
        #[oai(validator(max_length = 256))]
        error: Query<Option<String>>,
    ) -> ApiResult<SetCookies<SeeOther>, (s::BadRequest, s::NotFound)> {
        let cookie = web_session::request_cookie(req, STATE_COOKIE);
        let callback = sso::Callback {
            code: code.0,
            state: state.0,
            error: error.0,
        };
        let completed = sso::complete(
            &self.state,
            meta(&self.state, req),
            &provider,
            callback,
            cookie,
        )
        .await;
        Ok(match completed {
            Ok(done) => {
                let mut cookies = web_session::new_session_cookies(&self.state, &done.pair);
                cookies.push(state_cookie(&self.state, "", 0));
                SetCookies::new(SeeOther::SeeOther(done.return_to), cookies)
            }
            Err(e) if e.code == ErrorCode::NotFound => return Err(e.into()),
            Err(e) => {
                tracing::info!(provider = %provider.0, code = e.code.as_str(), detail = %e.detail, "sign-in through a provider failed");
                failed(&self.state, &e)
            }
        })
    }
}
