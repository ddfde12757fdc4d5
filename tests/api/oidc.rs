//! Signing in through an OpenID Connect provider, against a real one (`idp`: oidc-provider
//! dressed as a Keycloak realm): the code flow with PKCE driven through the provider's login
//! form, accounts created, linked by verified email and given the provider's roles; the
//! attempt's state single-use and bound to the browser; the provider's access tokens accepted
//! as bearer tokens (key rotation included); the provider's logout; password sign-in off.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    backends::free_port,
    helpers::PASSWORD,
    idp::{Browser, Idp, account, colink_uris, colink_with, issuer, keycloak, query_value},
};

fn accounts(alice_roles: &[&str]) -> Value {
    json!({
        "alice": account("alice", "alice@example.com", true, alice_roles),
        "member": account("member", "member@example.com", true, &["user"]),
        "mallory": account("mallory", "owner@example.com", false, &["user"]),
    })
}

#[tokio::test]
async fn a_first_sign_in_creates_the_account_and_roles_follow_the_provider() {
    let port = free_port();
    let (app, owner) = colink_with(vec![keycloak(&issuer(port))], |_| {}).await;
    let idp = Idp::start(
        port,
        accounts(&["user", "admin"]),
        &colink_uris(&app, "keycloak"),
    )
    .await;

    let browser = Browser::new();
    let landing = browser.sign_in(&app, "keycloak", "alice").await;
    assert_eq!(
        landing,
        format!("{}/c/general", app.base),
        "back where it started"
    );
    let token = browser.access_token(&app).await;
    let me = app.get("/users/me", &token).await.expect(200);
    assert_eq!(me["username"], "alice");
    assert_eq!(me["display_name"], "alice Example");
    assert_eq!(me["email"], "alice@example.com");
    assert_eq!(me["role"], "admin", "realm role admin → CoLink admin");
    // A member of the default workspace, like a registered user.
    let workspaces = app.get("/workspaces", &token).await.expect(200);
    assert_eq!(workspaces["items"].as_array().unwrap().len(), 1);
    let created = app.audit(&owner, "user.created").await;
    assert_eq!(created[0]["details"]["provider"], "keycloak");
    // The console shows how they sign in: the provider, no password.
    let alice = me["id"].as_str().unwrap();
    let detail = app
        .get(&format!("/admin/users/{alice}"), &owner.access)
        .await
        .expect(200);
    assert_eq!(detail["has_password"], false);
    assert_eq!(detail["identities"][0]["provider"], "keycloak");
    assert_eq!(detail["identities"][0]["email"], "alice@example.com");

    // The provider takes the admin role away: the next sign-in makes alice a member, and it
    // is the same account.
    let idp = idp.restart(accounts(&["user"]), false).await;
    let again = Browser::new();
    again.sign_in(&app, "keycloak", "alice").await;
    let token = again.access_token(&app).await;
    let me_again = app.get("/users/me", &token).await.expect(200);
    assert_eq!(me_again["id"], me["id"]);
    assert_eq!(me_again["role"], "member");
    let changes = app.audit(&owner, "user.role_changed").await;
    assert_eq!(changes[0]["details"]["from"], "admin");
    assert_eq!(changes[0]["details"]["to"], "member");
    assert_eq!(changes[0]["details"]["source"], "sso:keycloak");
    idp.stop().await;
}

#[tokio::test]
async fn a_verified_email_links_the_existing_account_and_an_unverified_one_links_nothing() {
    let port = free_port();
    let (app, owner) = colink_with(vec![keycloak(&issuer(port))], |_| {}).await;
    let idp = Idp::start(port, accounts(&["user"]), &colink_uris(&app, "keycloak")).await;
    let workspace = app.get("/workspaces", &owner.access).await.expect(200)["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let existing = app.member(&owner, &workspace, "member").await;

    let browser = Browser::new();
    browser.sign_in(&app, "keycloak", "member").await;
    let token = browser.access_token(&app).await;
    let me = app.get("/users/me", &token).await.expect(200);
    assert_eq!(
        me["id"].as_str(),
        Some(existing.user_id.as_str()),
        "linked, not created"
    );
    let linked = app.audit(&owner, "user.identity_linked").await;
    assert_eq!(
        linked[0]["target_id"].as_str(),
        Some(existing.user_id.as_str())
    );
    // The password still works too.
    app.login("member", PASSWORD).await;
    let detail = app
        .get(&format!("/admin/users/{}", existing.user_id), &owner.access)
        .await
        .expect(200);
    assert_eq!(detail["has_password"], true);
    assert_eq!(detail["identities"].as_array().unwrap().len(), 1);

    // mallory claims the owner's address without the provider vouching for it.
    let landing = Browser::new().sign_in(&app, "keycloak", "mallory").await;
    assert_eq!(
        landing,
        format!("{}/login?sso_error=sso_email_unverified", app.base)
    );
    let failures = app.audit(&owner, "auth.login_failed").await;
    assert_eq!(failures[0]["details"]["method"], "sso:keycloak");
    idp.stop().await;
}

#[tokio::test]
async fn without_create_users_only_existing_accounts_sign_in() {
    let port = free_port();
    let mut provider = keycloak(&issuer(port));
    provider.create_users = false;
    let (app, _) = colink_with(vec![provider], |_| {}).await;
    let idp = Idp::start(port, accounts(&["user"]), &colink_uris(&app, "keycloak")).await;
    let landing = Browser::new().sign_in(&app, "keycloak", "alice").await;
    assert_eq!(
        landing,
        format!("{}/login?sso_error=sso_no_account", app.base)
    );
    idp.stop().await;
}

#[tokio::test]
async fn the_attempt_is_single_use_and_bound_to_the_browser_that_started_it() {
    let port = free_port();
    let (app, _) = colink_with(vec![keycloak(&issuer(port))], |_| {}).await;
    let idp = Idp::start(port, accounts(&["user"]), &colink_uris(&app, "keycloak")).await;
    let start = format!("{}/api/v1/auth/oidc/keycloak/start", app.base);
    let expired = format!("{}/login?sso_error=sso_expired", app.base);

    // A victim's browser must not complete an attacker's sign-in (login CSRF): the callback
    // URL the attacker got works only with the attacker's cookie.
    let attacker = Browser::new();
    let (_, to_provider) = attacker.visit(&start).await;
    let callback = attacker
        .log_in_at_provider(&to_provider.unwrap(), "alice")
        .await;
    let victim = Browser::new();
    assert_eq!(
        victim.visit(&callback).await.1.as_deref(),
        Some(expired.as_str())
    );
    // ... and the attempt is used up, so not even the attacker can use it now.
    assert_eq!(
        attacker.visit(&callback).await.1.as_deref(),
        Some(expired.as_str())
    );

    // A completed sign-in's callback cannot be replayed.
    let browser = Browser::new();
    let (_, to_provider) = browser.visit(&start).await;
    let callback = browser
        .log_in_at_provider(&to_provider.unwrap(), "alice")
        .await;
    assert_eq!(
        browser.visit(&callback).await.1,
        Some(format!("{}/", app.base))
    );
    assert_eq!(
        browser.visit(&callback).await.1.as_deref(),
        Some(expired.as_str())
    );

    // A made-up state, a state with another provider's name, the provider's refusal.
    let base = format!("{}/api/v1/auth/oidc/keycloak/callback", app.base);
    for query in ["?code=x&state=made-up", "?error=access_denied&state=x", ""] {
        let (status, to) = browser.visit(&format!("{base}{query}")).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(to.as_deref(), Some(expired.as_str()), "{query}");
    }
    let (_, to_provider) = browser.visit(&start).await;
    let state = query_value(&to_provider.unwrap(), "state").unwrap();
    let denied = format!("{base}?error=access_denied&state={state}");
    assert_eq!(
        browser.visit(&denied).await.1,
        Some(format!("{}/login?sso_error=sso_rejected", app.base))
    );
    // Landing elsewhere than this site is not possible.
    let (_, to_provider) = browser
        .visit(&format!("{start}?return_to=//evil.example/x"))
        .await;
    let callback = browser
        .log_in_at_provider(&to_provider.unwrap(), "alice")
        .await;
    assert_eq!(
        browser.visit(&callback).await.1,
        Some(format!("{}/", app.base))
    );
    idp.stop().await;
}

#[tokio::test]
async fn unknown_providers_are_404_and_an_unreachable_one_is_explained() {
    let port = free_port();
    let (app, _) = colink_with(vec![keycloak(&issuer(port))], |_| {}).await;
    let browser = Browser::new();
    let missing = browser
        .client
        .get(format!("{}/api/v1/auth/oidc/nope/start", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    // Nothing listens on the provider's port.
    let (status, to) = browser
        .visit(&format!("{}/api/v1/auth/oidc/keycloak/start", app.base))
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        to,
        Some(format!("{}/login?sso_error=sso_unavailable", app.base))
    );
}

#[tokio::test]
async fn the_providers_access_tokens_are_bearer_tokens_across_key_rotation() {
    let port = free_port();
    let (app, owner) = colink_with(vec![keycloak(&issuer(port))], |_| {}).await;
    let idp = Idp::start(port, accounts(&["user"]), &colink_uris(&app, "keycloak")).await;

    let token = idp.access_token("alice").await;
    let me = app.get("/users/me", &token).await.expect(200);
    assert_eq!(me["username"], "alice", "created on first use");
    let channel = app.channel(&owner, "ops", false).await;
    app.post(
        &format!("/channels/{channel}/join"),
        Some(&token),
        json!({}),
    )
    .await
    .expect(200);

    // A new signing key: its tokens verify once the key set is fetched again; the old key's
    // tokens still do while the provider publishes it.
    let idp = idp.restart(accounts(&["user"]), true).await;
    let rotated = idp.access_token("alice").await;
    assert_ne!(kid(&rotated), kid(&token));
    assert_eq!(
        app.get("/users/me", &rotated).await.expect(200)["id"],
        me["id"]
    );
    assert_eq!(
        app.get("/users/me", &token).await.expect(200)["id"],
        me["id"]
    );

    // The provider's ID token is for the app (aud colink-web), not for the API: 401.
    let id_token = idp.tokens("alice").await["id_token"]
        .as_str()
        .unwrap()
        .to_string();
    app.get("/users/me", &id_token)
        .await
        .problem(401, "unauthorized");
    // Tampered, or a token CoLink itself never accepts (alg none): 401.
    let mut parts: Vec<String> = rotated.split('.').map(str::to_string).collect();
    parts[2] = parts[2].chars().rev().collect();
    app.get("/users/me", &parts.join("."))
        .await
        .problem(401, "unauthorized");
    let unsigned = format!("{}.{}.", b64(r#"{"alg":"none"}"#), parts[1]);
    app.get("/users/me", &unsigned)
        .await
        .problem(401, "unauthorized");

    // Suspended: the provider's token stops working at once.
    let alice = me["id"].as_str().unwrap();
    app.post(
        &format!("/admin/users/{alice}/suspend"),
        Some(&owner.access),
        json!({ "reason": "test" }),
    )
    .await
    .expect(200);
    app.get("/users/me", &rotated)
        .await
        .problem(401, "token_revoked");
    idp.stop().await;
}

#[tokio::test]
async fn a_role_the_provider_takes_away_is_taken_away_for_its_bearer_tokens_at_once() {
    let port = free_port();
    let (app, owner) = colink_with(vec![keycloak(&issuer(port))], |_| {}).await;
    let idp = Idp::start(
        port,
        accounts(&["user", "admin"]),
        &colink_uris(&app, "keycloak"),
    )
    .await;
    let token = idp.access_token("alice").await;
    let me = app.get("/users/me", &token).await.expect(200);
    assert_eq!(me["role"], "admin");
    app.get("/admin/users", &token).await.expect(200);

    // The realm role is removed: the next token (the account's link is cached by now) makes
    // her a member again, and the console refuses her.
    let idp = idp.restart(accounts(&["user"]), false).await;
    let demoted = idp.access_token("alice").await;
    assert_eq!(
        app.get("/users/me", &demoted).await.expect(200)["role"],
        "member"
    );
    app.get("/admin/users", &demoted)
        .await
        .problem(403, "forbidden");
    let changes = app.audit(&owner, "user.role_changed").await;
    assert_eq!(
        changes[0]["details"]["source"], "sso:keycloak",
        "{changes:?}"
    );
    // And back.
    let idp = idp.restart(accounts(&["user", "admin"]), false).await;
    let promoted = idp.access_token("alice").await;
    assert_eq!(
        app.get("/users/me", &promoted).await.expect(200)["role"],
        "admin"
    );
    idp.stop().await;
}

fn b64(text: &str) -> String {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    URL_SAFE_NO_PAD.encode(text)
}

fn kid(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

#[tokio::test]
async fn logging_out_ends_the_providers_session_too() {
    let port = free_port();
    let (app, _) = colink_with(vec![keycloak(&issuer(port))], |_| {}).await;
    let idp = Idp::start(port, accounts(&["user"]), &colink_uris(&app, "keycloak")).await;
    let browser = Browser::new();
    browser.sign_in(&app, "keycloak", "alice").await;
    let token = browser.access_token(&app).await;
    let csrf = browser.cookie(&app.base, "colink_csrf").unwrap();
    let out: Value = browser
        .client
        .post(format!("{}/api/v1/auth/web/logout", app.base))
        .header("X-CSRF-Token", csrf)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = out["end_session_url"]
        .as_str()
        .expect("the provider's logout");
    assert!(url.starts_with(&format!("{}/protocol/openid-connect/logout?", idp.issuer())));
    assert_eq!(
        query_value(url, "post_logout_redirect_uri"),
        Some(format!("{}/login", app.base))
    );
    assert!(query_value(url, "id_token_hint").is_some());
    // The provider accepts it: its logout confirmation, not an error.
    let (status, _) = browser.visit(url).await;
    assert_eq!(status, StatusCode::OK);
    // CoLink's session is over.
    app.get("/users/me", &token)
        .await
        .problem(401, "token_revoked");
    idp.stop().await;
}

#[tokio::test]
async fn with_password_login_off_only_providers_sign_in() {
    let port = free_port();
    let (app, owner) = colink_with(vec![keycloak(&issuer(port))], |c| {
        c.auth.password_login = false;
    })
    .await;
    let providers = app
        .call(reqwest::Method::GET, "/auth/providers", None, None)
        .await
        .expect(200);
    assert_eq!(providers["password"], false);
    assert_eq!(providers["oidc"][0]["name"], "keycloak");
    assert_eq!(providers["oidc"][0]["display_name"], "Keycloak");
    assert_eq!(
        providers["oidc"][0]["start_url"],
        "/api/v1/auth/oidc/keycloak/start"
    );
    let login = json!({ "login": "owner", "password": PASSWORD });
    app.post("/auth/login", None, login.clone())
        .await
        .problem(403, "password_login_disabled");
    app.post("/auth/web/login", None, login)
        .await
        .problem(403, "password_login_disabled");
    app.post(
        "/auth/password-reset/request",
        None,
        json!({ "email": "owner@example.com" }),
    )
    .await
    .problem(403, "password_login_disabled");
    let register =
        json!({ "email": "xavier@example.com", "username": "xavier", "password": PASSWORD });
    app.post("/auth/register", None, register)
        .await
        .problem(403, "password_login_disabled");
    // Sessions that exist keep working.
    app.get("/users/me", &owner.access).await.expect(200);
}

#[tokio::test]
async fn sign_in_attempts_from_one_address_are_limited() {
    let port = free_port();
    let (app, _) = colink_with(vec![keycloak(&issuer(port))], |c| {
        crate::helpers::behind_proxy(c);
        c.limits.login_per_ip.max = 2;
    })
    .await;
    let start = format!("{}/api/v1/auth/oidc/keycloak/start", app.base);
    let from = |ip: &'static str| {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let start = start.clone();
        async move {
            let response = client
                .get(&start)
                .header("x-forwarded-for", ip)
                .send()
                .await
                .unwrap();
            let to = response.headers()["location"].to_str().unwrap().to_string();
            to.rsplit_once("sso_error=")
                .map(|(_, code)| code.to_string())
        }
    };
    // No provider listens: the first two are told so, the third is over the limit.
    assert_eq!(
        from("203.0.113.7").await.as_deref(),
        Some("sso_unavailable")
    );
    assert_eq!(
        from("203.0.113.7").await.as_deref(),
        Some("sso_unavailable")
    );
    assert_eq!(from("203.0.113.7").await.as_deref(), Some("rate_limited"));
    // Another address is not affected.
    assert_eq!(
        from("198.51.100.9").await.as_deref(),
        Some("sso_unavailable")
    );
}
