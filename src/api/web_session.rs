//! Sessions of the web app, in cookies: the same logins, refresh and logout as `/auth/…`
//! (`service::login`, `service::sessions`: rotation and reuse detection alike), but the refresh
//! token never reaches JavaScript.
//!
//! - `colink_refresh`: the refresh token; `HttpOnly; SameSite=Strict; Path=/api/v1/auth/web`
//!   (sent to these routes only), `Secure` when `server.public_url` is https, `Max-Age` =
//!   `auth.refresh_ttl`.
//! - `colink_csrf`: 128 random bits (base64url) the app reads and echoes in the `X-CSRF-Token`
//!   header of `/auth/web/refresh` and `/auth/web/logout` (double submit: another site can
//!   neither read the cookie nor set the header); `SameSite=Strict; Path=/`, not `HttpOnly`,
//!   same `Max-Age` and `Secure`. Login issues a new one; refresh keeps it (so a tab that read it
//!   before another tab refreshed still sends the right one) and renews its lifetime.
//!
//! The access token comes in the JSON body and lives in the app's memory only; a reload gets a
//! new one from `/auth/web/refresh`.

use std::sync::Arc;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use poem::{
    IntoResponse, Request, Response,
    http::{HeaderValue, header},
};
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::Header,
    payload::Json,
    registry::{MetaHeader, MetaResponses, Registry},
};

use super::{
    ApiTags,
    auth::{LoginBody, LoginTotpBody, password_login, totp_login},
    body::JsonBody,
    security::meta,
    statuses::{self as s, ApiResult},
};
use crate::{
    app::AppState,
    error::{AppError, ErrorCode},
    identity::{jwt::Scope, opaque},
    service::{login::LoginOutcome, sessions},
};

pub const REFRESH_COOKIE: &str = "colink_refresh";
pub const CSRF_COOKIE: &str = "colink_csrf";
/// Where the refresh cookie is sent: these routes only.
const REFRESH_COOKIE_PATH: &str = "/api/v1/auth/web";

pub struct WebSessionApi {
    pub state: Arc<AppState>,
}

/// Either an access token (the refresh token is in the `colink_refresh` cookie), or
/// `mfa_required` with an `mfa_token` for `POST /auth/web/login/totp`.
#[derive(Object)]
struct WebLoginResponse {
    #[oai(skip_serializing_if_is_none)]
    access_token: Option<String>,
    /// Always `Bearer`.
    #[oai(skip_serializing_if_is_none)]
    token_type: Option<String>,
    /// Access-token lifetime in seconds.
    #[oai(skip_serializing_if_is_none)]
    expires_in: Option<u64>,
    /// True when the server requires 2FA and this account must enroll before anything else.
    #[oai(skip_serializing_if_is_none)]
    totp_enrollment_required: Option<bool>,
    #[oai(skip_serializing_if_is_none)]
    mfa_required: Option<bool>,
    #[oai(skip_serializing_if_is_none)]
    mfa_token: Option<String>,
}

/// An access token; its refresh token is in the `colink_refresh` cookie.
#[derive(Object)]
struct WebTokens {
    access_token: String,
    /// Always `Bearer`.
    token_type: String,
    /// Access-token lifetime in seconds.
    expires_in: u64,
    /// True when the server requires 2FA and this account must enroll before anything else.
    #[oai(skip_serializing_if_is_none)]
    totp_enrollment_required: Option<bool>,
}

impl From<&sessions::TokenPair> for WebTokens {
    fn from(pair: &sessions::TokenPair) -> Self {
        Self {
            access_token: pair.access_token.clone(),
            token_type: "Bearer".into(),
            expires_in: pair.expires_in,
            totp_enrollment_required: (pair.scope == Scope::Enroll).then_some(true),
        }
    }
}

/// A response that sets cookies (one `Set-Cookie` header each) and is never cached.
pub struct SetCookies<T> {
    inner: T,
    cookies: Vec<String>,
}

impl<T> SetCookies<T> {
    pub fn new(inner: T, cookies: Vec<String>) -> Self {
        Self { inner, cookies }
    }
}

impl<T: ApiResponse> ApiResponse for SetCookies<T> {
    fn meta() -> MetaResponses {
        let mut meta = T::meta();
        for response in &mut meta.responses {
            response.headers.push(MetaHeader {
                name: "Set-Cookie".into(),
                description: Some("The cookies the operation's description names.".into()),
                required: false,
                deprecated: false,
                // Not imported: `Type::is_empty` would shadow `str::is_empty` in this file.
                schema: <String as poem_openapi::types::Type>::schema_ref(),
            });
        }
        meta
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: IntoResponse> IntoResponse for SetCookies<T> {
    fn into_response(self) -> Response {
        let mut resp = self.inner.into_response();
        let headers = resp.headers_mut();
        for cookie in self.cookies {
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                headers.append(header::SET_COOKIE, value);
            }
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        resp
    }
}

/// The two cookies of a session: `refresh` and the CSRF token `csrf`.
fn session_cookies(state: &AppState, refresh: &str, csrf: &str) -> Vec<String> {
    let max_age = state.config.auth.refresh_ttl.secs();
    vec![
        cookie(state, REFRESH_COOKIE, refresh, REFRESH_COOKIE_PATH, max_age),
        cookie(state, CSRF_COOKIE, csrf, "/", max_age),
    ]
}

/// The cookies of a session that just started (a new CSRF token).
pub fn new_session_cookies(state: &AppState, pair: &sessions::TokenPair) -> Vec<String> {
    session_cookies(state, &pair.refresh_token, &new_csrf_token())
}

/// Whether cookies get `Secure` (the public URL is https).
pub fn secure_cookies(state: &AppState) -> bool {
    state
        .config
        .server
        .public_url
        .as_ref()
        .is_some_and(|u| u.scheme() == "https")
}

/// Both cookies, expired.
fn cleared_cookies(state: &AppState) -> Vec<String> {
    vec![
        cookie(state, REFRESH_COOKIE, "", REFRESH_COOKIE_PATH, 0),
        cookie(state, CSRF_COOKIE, "", "/", 0),
    ]
}

fn cookie(state: &AppState, name: &str, value: &str, path: &str, max_age: u64) -> String {
    let secure = secure_cookies(state);
    format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; SameSite=Strict{}{}",
        if name == REFRESH_COOKIE {
            "; HttpOnly"
        } else {
            ""
        },
        if secure { "; Secure" } else { "" }
    )
}

fn new_csrf_token() -> String {
    URL_SAFE_NO_PAD.encode(opaque::random_bytes::<16>())
}

/// The value of the request's cookie `name` (the first, which the browser sends for the most
/// specific path).
pub fn request_cookie<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim().trim_matches('"'))
        .filter(|value| !value.is_empty())
}

/// The shape of the CSRF tokens this server issues: 16 bytes, base64url.
fn is_csrf_token(value: &str) -> bool {
    value.len() == 22
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The `X-CSRF-Token` header equals the `colink_csrf` cookie, which has the shape of a token
/// this server issued (refresh sets it again as it came); the token on success.
fn check_csrf<'a>(req: &'a Request, header: Option<&str>) -> Result<&'a str, AppError> {
    let cookie = request_cookie(req, CSRF_COOKIE).filter(|c| is_csrf_token(c));
    match (cookie, header) {
        (Some(cookie), Some(header))
            if opaque::constant_time_eq(cookie.as_bytes(), header.as_bytes()) =>
        {
            Ok(cookie)
        }
        _ => Err(AppError::new(
            ErrorCode::CsrfFailed,
            "the X-CSRF-Token header must equal the colink_csrf cookie",
        )),
    }
}

#[OpenApi(prefix_path = "/auth/web", tag = "ApiTags::Auth")]
impl WebSessionApi {
    /// Log in for the web app (same body and checks as `POST /auth/login`). With tokens, the
    /// refresh token is not in the body: it is set in the `colink_refresh` cookie (`HttpOnly;
    /// SameSite=Strict; Path=/api/v1/auth/web`, `Max-Age` = `auth.refresh_ttl`, `Secure` on
    /// https), with a new CSRF token in the `colink_csrf` cookie (`SameSite=Strict; Path=/`,
    /// readable by the app). Keep the access token in memory. With `mfa_required`, no cookie is
    /// set: finish with `POST /auth/web/login/totp`.
    #[oai(path = "/login", method = "post")]
    async fn login(
        &self,
        req: &Request,
        body: JsonBody<LoginBody>,
    ) -> ApiResult<
        SetCookies<Json<WebLoginResponse>>,
        (
            s::Body,
            s::Unauthorized,
            s::Forbidden,
            s::Conflict,
            s::TooManyRequests,
        ),
    > {
        Ok(match password_login(&self.state, req, &body).await? {
            LoginOutcome::Tokens(pair) => {
                let t = WebTokens::from(&pair);
                SetCookies {
                    inner: Json(WebLoginResponse {
                        access_token: Some(t.access_token),
                        token_type: Some(t.token_type),
                        expires_in: Some(t.expires_in),
                        totp_enrollment_required: t.totp_enrollment_required,
                        mfa_required: None,
                        mfa_token: None,
                    }),
                    cookies: new_session_cookies(&self.state, &pair),
                }
            }
            LoginOutcome::MfaRequired { mfa_token } => SetCookies {
                inner: Json(WebLoginResponse {
                    access_token: None,
                    token_type: None,
                    expires_in: None,
                    totp_enrollment_required: None,
                    mfa_required: Some(true),
                    mfa_token: Some(mfa_token),
                }),
                cookies: Vec::new(),
            },
        })
    }

    /// Second login step of the web app (same body and checks as `POST /auth/login/totp`):
    /// the access token in the body, the session in the `colink_refresh` and `colink_csrf`
    /// cookies, as `POST /auth/web/login` sets them.
    #[oai(path = "/login/totp", method = "post")]
    async fn login_totp(
        &self,
        req: &Request,
        body: JsonBody<LoginTotpBody>,
    ) -> ApiResult<
        SetCookies<Json<WebTokens>>,
        (s::Body, s::Unauthorized, s::Forbidden, s::TooManyRequests),
    > {
        let pair = totp_login(&self.state, req, &body).await?;
        Ok(SetCookies {
            inner: Json(WebTokens::from(&pair)),
            cookies: new_session_cookies(&self.state, &pair),
        })
    }

    /// A new access token for the web app, from the `colink_refresh` cookie: on start (a reload
    /// keeps no token) and before the access token expires. Send the `colink_csrf` cookie's
    /// value in `X-CSRF-Token` (else 403 `csrf_failed`). The refresh token rotates as at
    /// `POST /auth/refresh`: the cookie is replaced, and presenting an old one again revokes the
    /// whole session (401 `token_revoked`, as for a missing, expired or revoked cookie). Tabs
    /// of one browser share the cookie, so the app lets one tab refresh at a time (e.g. with
    /// the Web Locks API). `colink_csrf` keeps its value and is set again with a new lifetime.
    #[oai(path = "/refresh", method = "post")]
    async fn refresh(
        &self,
        req: &Request,
        /// The value of the `colink_csrf` cookie.
        #[oai(name = "X-CSRF-Token")]
        csrf: Header<Option<String>>,
    ) -> ApiResult<SetCookies<Json<WebTokens>>, (s::BadRequest, s::Unauthorized, s::Forbidden)>
    {
        let csrf = check_csrf(req, csrf.0.as_deref())?;
        let presented = request_cookie(req, REFRESH_COOKIE).ok_or_else(|| {
            AppError::new(
                ErrorCode::TokenRevoked,
                "no colink_refresh cookie: log in again",
            )
        })?;
        let pair = sessions::refresh(&self.state, meta(&self.state, req), presented).await?;
        Ok(SetCookies {
            inner: Json(WebTokens::from(&pair)),
            cookies: session_cookies(&self.state, &pair.refresh_token, csrf),
        })
    }

    /// Log the web app out: ends the session of the `colink_refresh` cookie (its access tokens
    /// stop working too) and clears both cookies. Send the `colink_csrf` cookie's value in
    /// `X-CSRF-Token` (else 403 `csrf_failed`). Without a refresh cookie there is nothing to
    /// end: still 200. When the session came from an identity provider with a logout endpoint,
    /// `end_session_url` is where to send the browser next so the provider's session ends
    /// too (it comes back to `/login`).
    #[oai(path = "/logout", method = "post")]
    async fn logout(
        &self,
        req: &Request,
        /// The value of the `colink_csrf` cookie.
        #[oai(name = "X-CSRF-Token")]
        csrf: Header<Option<String>>,
    ) -> ApiResult<SetCookies<Json<WebLogout>>, (s::BadRequest, s::Forbidden)> {
        check_csrf(req, csrf.0.as_deref())?;
        let mut end_session_url = None;
        if let Some(presented) = request_cookie(req, REFRESH_COOKIE)
            && let Some(session) = sessions::revoke(&self.state, presented).await?
        {
            end_session_url = crate::service::sso::end_session_url(&self.state, session).await;
        }
        Ok(SetCookies {
            inner: Json(WebLogout { end_session_url }),
            cookies: cleared_cookies(&self.state),
        })
    }
}

/// What is left to do after logging out.
#[derive(Object)]
struct WebLogout {
    /// The identity provider's logout page, for sessions that came from one; else null.
    #[oai(nullable)]
    end_session_url: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(cookies: &'static str) -> Request {
        Request::builder().header("cookie", cookies).finish()
    }

    #[test]
    fn cookies_are_read_by_exact_name() {
        let req = request("colink_csrf_x=1; colink_csrf=\"abc\"; colink_refresh=r1");
        assert_eq!(request_cookie(&req, CSRF_COOKIE), Some("abc"));
        assert_eq!(request_cookie(&req, REFRESH_COOKIE), Some("r1"));
        let empty = request("colink_refresh=");
        assert_eq!(request_cookie(&empty, REFRESH_COOKIE), None);
    }

    #[test]
    fn csrf_needs_the_cookie_and_an_equal_header() {
        const TOKEN: &str = "AAAAAAAAAAAAAAAAAAAA-_";
        let req = request("colink_csrf=AAAAAAAAAAAAAAAAAAAA-_");
        assert_eq!(check_csrf(&req, Some(TOKEN)).ok(), Some(TOKEN));
        assert!(check_csrf(&req, Some("AAAAAAAAAAAAAAAAAAAA-A")).is_err());
        assert!(check_csrf(&req, None).is_err());
        assert!(check_csrf(&request("other=AAAAAAAAAAAAAAAAAAAA-_"), Some(TOKEN)).is_err());
        // Equal, but not a token this server could have issued.
        assert!(check_csrf(&request("colink_csrf=abc"), Some("abc")).is_err());
        assert!(
            check_csrf(
                &request("colink_csrf=AAAAAAAAAAAAAAAAAAAA,,"),
                Some("AAAAAAAAAAAAAAAAAAAA,,")
            )
            .is_err()
        );
        let token = new_csrf_token();
        assert!(is_csrf_token(&token));
        assert_ne!(token, new_csrf_token());
    }
}
