//! The web app's cookie sessions (`/auth/web/…`): the refresh token lives in an HttpOnly
//! cookie, refresh and logout need the CSRF header, rotation and reuse detection as for the JSON
//! routes. Cookies are sent by hand (`Cookie` header), as a browser would.

use reqwest::{StatusCode, header};
use serde_json::{Value, json};

use crate::{
    helpers::{PASSWORD, Reply, TestApp, spawn_app, spawn_with},
    totp::enroll,
};

/// A `Set-Cookie` header, split.
#[derive(Debug)]
struct SetCookie {
    name: String,
    value: String,
    /// Attributes as written (`Path=/`, `HttpOnly`, …).
    attributes: Vec<String>,
}

impl SetCookie {
    fn has(&self, attribute: &str) -> bool {
        self.attributes
            .iter()
            .any(|a| a.eq_ignore_ascii_case(attribute))
    }
    fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find_map(|a| {
            let (key, value) = a.split_once('=')?;
            key.eq_ignore_ascii_case(name).then_some(value)
        })
    }
}

fn set_cookies(headers: &reqwest::header::HeaderMap) -> Vec<SetCookie> {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| {
            let mut parts = v.to_str().unwrap().split(';').map(str::trim);
            let (name, value) = parts.next().unwrap().split_once('=').unwrap();
            SetCookie {
                name: name.to_owned(),
                value: value.to_owned(),
                attributes: parts.map(str::to_owned).collect(),
            }
        })
        .collect()
}

/// The browser's view of a session: its two cookies.
#[derive(Clone)]
struct Jar {
    refresh: String,
    csrf: String,
}

impl Jar {
    /// The jar after a response that set both cookies (checked to be the session's pair).
    fn from_reply(reply: &Reply) -> Self {
        let cookies = set_cookies(&reply.headers);
        let value = |name: &str| {
            cookies
                .iter()
                .find(|c| c.name == name)
                .unwrap_or_else(|| panic!("no {name} cookie in {cookies:?}"))
                .value
                .clone()
        };
        Self {
            refresh: value("colink_refresh"),
            csrf: value("colink_csrf"),
        }
    }
    fn header(&self) -> String {
        format!("colink_refresh={}; colink_csrf={}", self.refresh, self.csrf)
    }
}

async fn send(app: &TestApp, req: reqwest::RequestBuilder) -> Reply {
    let raw = app.api.send_raw(req).await.expect("request");
    Reply {
        status: raw.status,
        headers: raw.headers,
        body: serde_json::from_slice(&raw.body).unwrap_or(Value::Null),
    }
}

async fn web_login(app: &TestApp, login: &str, password: &str) -> Reply {
    let req = app
        .client
        .post(format!("{}/api/v1/auth/web/login", app.base))
        .json(&json!({"login": login, "password": password}));
    send(app, req).await
}

/// `POST /auth/web/{action}` with these cookies (raw `Cookie` value) and CSRF header.
async fn web_post(app: &TestApp, action: &str, cookie: Option<&str>, csrf: Option<&str>) -> Reply {
    let mut req = app
        .client
        .post(format!("{}/api/v1/auth/web/{action}", app.base));
    if let Some(cookie) = cookie {
        req = req.header(header::COOKIE, cookie);
    }
    if let Some(csrf) = csrf {
        req = req.header("x-csrf-token", csrf);
    }
    send(app, req).await
}

async fn refresh(app: &TestApp, jar: &Jar) -> Reply {
    web_post(app, "refresh", Some(&jar.header()), Some(&jar.csrf)).await
}

/// The access token in a body works, and no refresh token came with it.
async fn check_tokens(app: &TestApp, body: &Value) {
    assert_eq!(body["token_type"], "Bearer", "{body}");
    assert!(body["expires_in"].as_u64().unwrap() > 0);
    assert!(body.get("refresh_token").is_none(), "{body}");
    let access = body["access_token"].as_str().unwrap();
    app.get("/users/me", access).await.expect(200);
}

#[tokio::test]
async fn login_sets_the_session_cookies_and_keeps_the_refresh_token_out_of_the_body() {
    let app = spawn_app().await;
    app.setup_owner().await;
    let reply = web_login(&app, "owner", PASSWORD).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.headers[header::CACHE_CONTROL], "no-store");
    check_tokens(&app, &reply.body).await;

    let ttl = app.config.auth.refresh_ttl.secs().to_string();
    let cookies = set_cookies(&reply.headers);
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    let refresh = cookies.iter().find(|c| c.name == "colink_refresh").unwrap();
    assert_eq!(refresh.value.len(), 43, "a refresh token");
    assert!(refresh.has("HttpOnly") && refresh.has("SameSite=Strict"));
    assert_eq!(refresh.attribute("Path"), Some("/api/v1/auth/web"));
    assert_eq!(refresh.attribute("Max-Age"), Some(ttl.as_str()));
    assert!(!refresh.has("Secure"), "plain http");
    let csrf = cookies.iter().find(|c| c.name == "colink_csrf").unwrap();
    assert!(csrf.value.len() >= 22, "128 bits or more");
    assert!(!csrf.has("HttpOnly"), "the app reads it");
    assert!(csrf.has("SameSite=Strict"));
    assert_eq!(csrf.attribute("Path"), Some("/"));
    assert_eq!(csrf.attribute("Max-Age"), Some(ttl.as_str()));
    assert!(!csrf.has("Secure"));

    // Each login gets its own CSRF token.
    let again = Jar::from_reply(&web_login(&app, "owner", PASSWORD).await);
    assert_ne!(again.csrf, csrf.value);

    // Same refusals as POST /auth/login, and no cookie with them.
    let refused = web_login(&app, "owner", "wrong password entirely").await;
    assert!(set_cookies(&refused.headers).is_empty());
    refused.problem(401, "invalid_credentials");
    let bad = send(
        &app,
        app.client
            .post(format!("{}/api/v1/auth/web/login", app.base))
            .json(&json!({"login": "owner"})),
    )
    .await;
    bad.problem(400, "validation_failed");
}

#[tokio::test]
async fn refresh_rotates_the_cookie_and_a_reused_one_ends_the_session() {
    let app = spawn_app().await;
    app.setup_owner().await;
    let first = Jar::from_reply(&web_login(&app, "owner", PASSWORD).await);

    let reply = refresh(&app, &first).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    check_tokens(&app, &reply.body).await;
    let access = reply.body["access_token"].as_str().unwrap().to_owned();
    let second = Jar::from_reply(&reply);
    assert_ne!(second.refresh, first.refresh, "rotated");
    assert_eq!(second.csrf, first.csrf, "the CSRF token stays");
    let cookies = set_cookies(&reply.headers);
    let refresh_cookie = cookies.iter().find(|c| c.name == "colink_refresh").unwrap();
    assert!(refresh_cookie.has("HttpOnly"));
    assert_eq!(refresh_cookie.attribute("Path"), Some("/api/v1/auth/web"));

    // The new cookie works once more…
    let third = Jar::from_reply(&refresh(&app, &second).await.tap_ok());
    // …and the old one, presented again, is reuse: the whole session ends, as at /auth/refresh.
    refresh(&app, &first).await.problem(401, "token_revoked");
    refresh(&app, &third).await.problem(401, "token_revoked");
    app.get("/users/me", &access)
        .await
        .problem(401, "token_revoked");
}

#[tokio::test]
async fn refresh_and_logout_need_the_csrf_header_to_match_the_cookie() {
    let app = spawn_app().await;
    app.setup_owner().await;
    let jar = Jar::from_reply(&web_login(&app, "owner", PASSWORD).await);
    let cookie = jar.header();
    for action in ["refresh", "logout"] {
        web_post(&app, action, Some(&cookie), None)
            .await
            .problem(403, "csrf_failed");
        web_post(&app, action, Some(&cookie), Some("not-the-token"))
            .await
            .problem(403, "csrf_failed");
        // The header alone proves nothing: it must equal the cookie.
        let refresh_only = format!("colink_refresh={}", jar.refresh);
        web_post(&app, action, Some(&refresh_only), Some(&jar.csrf))
            .await
            .problem(403, "csrf_failed");
        web_post(&app, action, None, None)
            .await
            .problem(403, "csrf_failed");
    }
    // Nothing was refused for the wrong reason: the session still refreshes.
    let jar = Jar::from_reply(&refresh(&app, &jar).await.tap_ok());

    // The CSRF pair without a refresh cookie: 401 as for a revoked token.
    let csrf_only = format!("colink_csrf={}", jar.csrf);
    web_post(&app, "refresh", Some(&csrf_only), Some(&jar.csrf))
        .await
        .problem(401, "token_revoked");
    let forged = format!("colink_refresh=nonsense; colink_csrf={}", jar.csrf);
    web_post(&app, "refresh", Some(&forged), Some(&jar.csrf))
        .await
        .problem(401, "token_revoked");
    // A pair that matches but is no token this server issues is refused as well.
    web_post(
        &app,
        "refresh",
        Some("colink_refresh=nonsense; colink_csrf=x"),
        Some("x"),
    )
    .await
    .problem(403, "csrf_failed");
}

#[tokio::test]
async fn logout_clears_the_cookies_and_ends_the_session() {
    let app = spawn_app().await;
    app.setup_owner().await;
    let login = web_login(&app, "owner", PASSWORD).await;
    let jar = Jar::from_reply(&login);
    let refreshed = refresh(&app, &jar).await;
    let access = refreshed.body["access_token"].as_str().unwrap().to_owned();
    let jar = Jar::from_reply(&refreshed);

    let out = web_post(&app, "logout", Some(&jar.header()), Some(&jar.csrf)).await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.body);
    // A password session: no identity provider to log out of.
    assert_eq!(out.body["end_session_url"], serde_json::Value::Null);
    let cleared = set_cookies(&out.headers);
    assert_eq!(cleared.len(), 2, "{cleared:?}");
    for (name, path) in [("colink_refresh", "/api/v1/auth/web"), ("colink_csrf", "/")] {
        let c = cleared.iter().find(|c| c.name == name).unwrap();
        assert_eq!(c.value, "", "{c:?}");
        assert_eq!(c.attribute("Max-Age"), Some("0"), "{c:?}");
        assert_eq!(c.attribute("Path"), Some(path), "{c:?}");
    }
    // The session is gone: its refresh cookie and its access tokens.
    refresh(&app, &jar).await.problem(401, "token_revoked");
    app.get("/users/me", &access)
        .await
        .problem(401, "token_revoked");

    // Idempotent: no refresh cookie (already logged out) is still 200, cookies cleared again.
    let csrf_only = format!("colink_csrf={}", jar.csrf);
    let again = web_post(&app, "logout", Some(&csrf_only), Some(&jar.csrf)).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(set_cookies(&again.headers).len(), 2);
    let stale = web_post(&app, "logout", Some(&jar.header()), Some(&jar.csrf)).await;
    assert_eq!(stale.status, StatusCode::OK);
}

#[tokio::test]
async fn the_totp_step_sets_the_cookies() {
    let app = spawn_app().await;
    let (owner, _) = app.setup_owner().await;
    let enrolled = enroll(&app, &owner).await;

    let challenge = web_login(&app, "owner", PASSWORD).await;
    assert!(set_cookies(&challenge.headers).is_empty(), "no session yet");
    let body = challenge.expect(200);
    assert_eq!(body["mfa_required"], true, "{body}");
    assert!(body.get("access_token").is_none());
    let mfa_token = body["mfa_token"].as_str().unwrap();

    let wrong = send(
        &app,
        app.client
            .post(format!("{}/api/v1/auth/web/login/totp", app.base))
            .json(&json!({"mfa_token": mfa_token, "code": "000000"})),
    )
    .await;
    assert!(set_cookies(&wrong.headers).is_empty());
    wrong.problem(401, "invalid_credentials");

    let reply = send(
        &app,
        app.client
            .post(format!("{}/api/v1/auth/web/login/totp", app.base))
            .json(&json!({"mfa_token": mfa_token, "code": enrolled.recovery_codes[0]})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    check_tokens(&app, &reply.body).await;
    let cookies = set_cookies(&reply.headers);
    let refresh_cookie = cookies.iter().find(|c| c.name == "colink_refresh").unwrap();
    assert!(refresh_cookie.has("HttpOnly"));
    let jar = Jar::from_reply(&reply);
    refresh(&app, &jar).await.tap_ok();
}

#[tokio::test]
async fn cookies_are_secure_when_the_public_url_is_https() {
    let app =
        spawn_with(|c| c.server.public_url = Some("https://chat.example.com".parse().unwrap()))
            .await;
    app.setup_owner().await;
    let login = web_login(&app, "owner", PASSWORD).await;
    let jar = Jar::from_reply(&login);
    let refreshed = refresh(&app, &jar).await;
    let out = web_post(&app, "logout", Some(&jar.header()), Some(&jar.csrf)).await;
    for reply in [&login, &refreshed, &out] {
        let cookies = set_cookies(&reply.headers);
        assert_eq!(cookies.len(), 2);
        assert!(cookies.iter().all(|c| c.has("Secure")), "{cookies:?}");
    }
}

trait TapOk {
    /// Assert 200 and keep the reply.
    fn tap_ok(self) -> Self;
}

impl TapOk for Reply {
    #[track_caller]
    fn tap_ok(self) -> Self {
        assert_eq!(self.status, StatusCode::OK, "{}", self.body);
        self
    }
}
