//! Signing in with GitHub (OAuth2, not OIDC). GitHub itself cannot run here, so a stand-in
//! serves its three endpoints (token exchange, `/user`, `/user/emails`) the way GitHub's
//! documentation describes them, and checks what CoLink sends: the client secret, the code,
//! and a PKCE verifier matching the challenge of the authorization URL.

use std::sync::{Arc, Mutex};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use colink::config::{OidcProvider, ProviderKind, Secret};
use poem::{
    EndpointExt, Route, Server, get, handler,
    listener::TcpListener,
    post,
    web::{Data, Form, Json},
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{
    backends::free_port,
    idp::{Browser, colink_with, query_value},
};

#[derive(Default)]
struct GithubState {
    /// The PKCE challenge of the authorization URL CoLink sent the browser to.
    challenge: Option<String>,
    /// Whether the primary email is verified.
    verified: bool,
}

type Shared = Arc<Mutex<GithubState>>;

#[handler]
fn access_token(
    Form(form): Form<std::collections::HashMap<String, String>>,
    Data(state): Data<&Shared>,
) -> Json<Value> {
    let challenge = state.lock().unwrap().challenge.clone();
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    let pkce_ok = challenge == Some(URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())));
    let ok = form.get("client_id").map(String::as_str) == Some("gh-client")
        && form.get("client_secret").map(String::as_str) == Some("gh-secret")
        && form.get("code").map(String::as_str) == Some("good-code")
        && pkce_ok;
    // GitHub answers 200 with an `error` field when it refuses.
    Json(if ok {
        json!({ "access_token": "gho_test", "token_type": "bearer", "scope": "read:user,user:email" })
    } else {
        json!({ "error": "bad_verification_code", "error_description": "The code passed is incorrect or expired." })
    })
}

fn authorized(req: &poem::Request) -> bool {
    req.headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        == Some("Bearer gho_test")
}

#[handler]
fn user(req: &poem::Request) -> poem::Result<Json<Value>> {
    if !authorized(req) {
        return Err(poem::Error::from_status(
            poem::http::StatusCode::UNAUTHORIZED,
        ));
    }
    Ok(Json(
        json!({ "id": 4242, "login": "Octo-Cat", "name": "Octo Cat" }),
    ))
}

#[handler]
fn emails(req: &poem::Request, Data(state): Data<&Shared>) -> poem::Result<Json<Value>> {
    if !authorized(req) {
        return Err(poem::Error::from_status(
            poem::http::StatusCode::UNAUTHORIZED,
        ));
    }
    let verified = state.lock().unwrap().verified;
    Ok(Json(json!([
        { "email": "old@example.com", "primary": false, "verified": true },
        { "email": "octo@example.com", "primary": true, "verified": verified },
    ])))
}

/// The stand-in on a port of its own; its base URL.
async fn start_github(state: Shared) -> String {
    let port = free_port();
    let app = Route::new()
        .at("/login/oauth/access_token", post(access_token))
        .at("/api/user", get(user))
        .at("/api/user/emails", get(emails))
        .data(state);
    tokio::spawn(Server::new(TcpListener::bind(format!("127.0.0.1:{port}"))).run(app));
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..500 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    base
}

fn github(base: &str) -> OidcProvider {
    OidcProvider {
        name: "github".into(),
        kind: ProviderKind::Github,
        client_id: "gh-client".into(),
        client_secret: Some(Secret::new("gh-secret")),
        github_url: base.to_string(),
        github_api_url: format!("{base}/api"),
        ..OidcProvider::default()
    }
}

/// Start at CoLink, check the authorization URL, note its PKCE challenge, and come back with
/// `code`: where CoLink sends the browser.
async fn sign_in(
    browser: &Browser,
    app_base: &str,
    github_base: &str,
    shared: &Shared,
    code: &str,
) -> String {
    let (_, to_github) = browser
        .visit(&format!("{app_base}/api/v1/auth/oidc/github/start"))
        .await;
    let to_github = to_github.unwrap();
    assert!(to_github.starts_with(&format!("{github_base}/login/oauth/authorize?")));
    assert_eq!(
        query_value(&to_github, "client_id").as_deref(),
        Some("gh-client")
    );
    assert_eq!(
        query_value(&to_github, "scope").as_deref(),
        Some("read:user user:email")
    );
    assert_eq!(
        query_value(&to_github, "code_challenge_method").as_deref(),
        Some("S256")
    );
    shared.lock().unwrap().challenge = query_value(&to_github, "code_challenge");
    let state = query_value(&to_github, "state").unwrap();
    let redirect = query_value(&to_github, "redirect_uri").unwrap();
    assert_eq!(
        redirect,
        format!("{app_base}/api/v1/auth/oidc/github/callback")
    );
    let (_, landing) = browser
        .visit(&format!("{redirect}?code={code}&state={state}"))
        .await;
    landing.unwrap()
}

#[tokio::test]
async fn github_sign_in_creates_an_account_from_the_verified_primary_email() {
    let shared: Shared = Arc::new(Mutex::new(GithubState {
        verified: true,
        ..GithubState::default()
    }));
    let github_base = start_github(shared.clone()).await;
    let (app, _) = colink_with(vec![github(&github_base)], |_| {}).await;

    let providers = app
        .call(reqwest::Method::GET, "/auth/providers", None, None)
        .await
        .expect(200);
    assert_eq!(providers["oidc"][0]["kind"], "github");
    assert_eq!(providers["oidc"][0]["display_name"], "GitHub");

    let browser = Browser::new();
    let landing = sign_in(&browser, &app.base, &github_base, &shared, "good-code").await;
    assert_eq!(landing, format!("{}/", app.base));
    let token = browser.access_token(&app).await;
    let me = app.get("/users/me", &token).await.expect(200);
    assert_eq!(me["username"], "octo-cat");
    assert_eq!(me["display_name"], "Octo Cat");
    assert_eq!(me["email"], "octo@example.com");

    // The same GitHub account (by its numeric id) signs in to the same CoLink account.
    let again = Browser::new();
    sign_in(&again, &app.base, &github_base, &shared, "good-code").await;
    let me_again = app
        .get("/users/me", &again.access_token(&app).await)
        .await
        .expect(200);
    assert_eq!(me_again["id"], me["id"]);
}

#[tokio::test]
async fn a_refused_code_or_an_unverified_email_signs_nobody_in() {
    let shared: Shared = Arc::new(Mutex::new(GithubState::default()));
    let github_base = start_github(shared.clone()).await;
    let (app, _) = colink_with(vec![github(&github_base)], |_| {}).await;
    let landing = sign_in(
        &Browser::new(),
        &app.base,
        &github_base,
        &shared,
        "stale-code",
    )
    .await;
    assert_eq!(
        landing,
        format!("{}/login?sso_error=sso_rejected", app.base)
    );
    let landing = sign_in(
        &Browser::new(),
        &app.base,
        &github_base,
        &shared,
        "good-code",
    )
    .await;
    assert_eq!(
        landing,
        format!("{}/login?sso_error=sso_email_unverified", app.base)
    );
}
