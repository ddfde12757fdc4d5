//! Login, tokens and sessions.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use crate::helpers::{PASSWORD, spawn_app, spawn_with};

#[tokio::test]
async fn login_by_username_or_email_and_bad_credentials() {
    let app = spawn_app().await;
    let (owner, _) = app.setup_owner().await;
    app.login("owner", PASSWORD).await;
    app.login("OWNER@example.com", PASSWORD).await;
    app.post(
        "/auth/login",
        None,
        json!({"login": "owner", "password": "wrong password!"}),
    )
    .await
    .problem(401, "invalid_credentials");
    app.post(
        "/auth/login",
        None,
        json!({"login": "nobody", "password": PASSWORD}),
    )
    .await
    .problem(401, "invalid_credentials");
    app.post("/auth/login", None, json!({"login": "owner"}))
        .await
        .problem(400, "validation_failed");

    let succeeded = app.audit(&owner, "auth.login_succeeded").await;
    assert!(succeeded.len() >= 2);
    let failed = app.audit(&owner, "auth.login_failed").await;
    assert_eq!(failed.len(), 2);
    assert_eq!(failed[0]["details"]["login"], "nobody");
    assert_eq!(failed[1]["actor_id"], json!(null));
}

fn forge(key: &[u8], sub: &str, exp_offset: i64, ver: i32) -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = json!({"sub": sub, "iss": "colink", "aud": "colink-api", "iat": now - 10,
                        "exp": now + exp_offset, "jti": uuid::Uuid::now_v7(), "ver": ver, "scope": "full"});
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(key),
    )
    .unwrap()
}

#[tokio::test]
async fn bad_access_tokens_get_401() {
    let app = spawn_app().await;
    let (owner, _) = app.setup_owner().await;
    let key = app.state.keys.jwt;

    // Missing.
    app.call(reqwest::Method::GET, "/users/me", None, None)
        .await
        .problem(401, "unauthorized");
    // Malformed.
    app.get("/users/me", "not-a-jwt")
        .await
        .problem(401, "unauthorized");
    // Wrongly signed.
    app.get("/users/me", &forge(&[9u8; 32], &owner.user_id, 600, 0))
        .await
        .problem(401, "unauthorized");
    // Expired (correct key).
    app.get("/users/me", &forge(&key, &owner.user_id, -60, 0))
        .await
        .problem(401, "token_expired");
    // Correct key, fresh: accepted (proves the forgery helper is faithful).
    app.get("/users/me", &forge(&key, &owner.user_id, 600, 0))
        .await
        .expect(200);
    // Unknown user.
    app.get(
        "/users/me",
        &forge(&key, &uuid::Uuid::now_v7().to_string(), 600, 0),
    )
    .await
    .problem(401, "unauthorized");
    // Revoked (logout-all bumps the version).
    app.post("/auth/logout-all", Some(&owner.access), json!({}))
        .await
        .expect(204);
    app.get("/users/me", &owner.access)
        .await
        .problem(401, "token_revoked");
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let app = spawn_app().await;
    let (_, _) = app.setup_owner().await;
    let s = app.login("owner", PASSWORD).await;

    let r1 = app
        .post("/auth/refresh", None, json!({"refresh_token": s.refresh}))
        .await
        .expect(200);
    let refresh2 = r1["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(refresh2, s.refresh);
    app.get("/users/me", r1["access_token"].as_str().unwrap())
        .await
        .expect(200);

    let r2 = app
        .post("/auth/refresh", None, json!({"refresh_token": refresh2}))
        .await
        .expect(200);
    let refresh3 = r2["refresh_token"].as_str().unwrap().to_string();

    // Replaying the first (already rotated) token revokes the whole family...
    app.post("/auth/refresh", None, json!({"refresh_token": s.refresh}))
        .await
        .problem(401, "token_revoked");
    // ...so even the newest one is dead now.
    app.post("/auth/refresh", None, json!({"refresh_token": refresh3}))
        .await
        .problem(401, "token_revoked");
    app.post("/auth/refresh", None, json!({"refresh_token": "garbage"}))
        .await
        .problem(401, "token_revoked");

    // Other sessions are unaffected.
    let other = app.login("owner", PASSWORD).await;
    app.post(
        "/auth/refresh",
        None,
        json!({"refresh_token": other.refresh}),
    )
    .await
    .expect(200);
    let reuse = app
        .audit(&other_admin(&app).await, "auth.refresh_token_reuse")
        .await;
    assert_eq!(reuse.len(), 1);
}

async fn other_admin(app: &crate::helpers::TestApp) -> crate::helpers::Session {
    app.login("owner", PASSWORD).await
}

#[tokio::test]
async fn logout_ends_one_session_and_logout_all_ends_every_one() {
    let app = spawn_app().await;
    app.setup_owner().await;
    let a = app.login("owner", PASSWORD).await;
    let b = app.login("owner", PASSWORD).await;

    app.post("/auth/logout", None, json!({"refresh_token": a.refresh}))
        .await
        .expect(204);
    app.post("/auth/refresh", None, json!({"refresh_token": a.refresh}))
        .await
        .problem(401, "token_revoked");
    app.post("/auth/refresh", None, json!({"refresh_token": b.refresh}))
        .await
        .expect(200);
    // Idempotent.
    app.post("/auth/logout", None, json!({"refresh_token": a.refresh}))
        .await
        .expect(204);
    app.post("/auth/revoke", None, json!({"refresh_token": "unknown"}))
        .await
        .expect(204);

    let c = app.login("owner", PASSWORD).await;
    app.post("/auth/logout-all", Some(&c.access), json!({}))
        .await
        .expect(204);
    app.get("/users/me", &c.access)
        .await
        .problem(401, "token_revoked");
    app.get("/users/me", &b.access)
        .await
        .problem(401, "token_revoked");
    // A fresh login after logout-all works.
    let d = app.login("owner", PASSWORD).await;
    app.get("/users/me", &d.access).await.expect(200);
}

#[tokio::test]
async fn login_rate_limit_answers_429_with_retry_after_and_survives_restart() {
    let app = spawn_with(|c| {
        c.limits.login_per_ip.max = 10;
    })
    .await;
    app.setup_owner().await;
    for _ in 0..10 {
        app.post(
            "/auth/login",
            None,
            json!({"login": "owner", "password": "wrong password!"}),
        )
        .await
        .problem(401, "invalid_credentials");
    }
    let reply = app
        .post(
            "/auth/login",
            None,
            json!({"login": "owner", "password": PASSWORD}),
        )
        .await;
    let retry: u64 = reply.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= 15 * 60, "{retry}");
    reply.problem(429, "rate_limited");

    let (config, dir) = app.stop().await;
    let app = crate::helpers::start(config, dir).await;
    app.post(
        "/auth/login",
        None,
        json!({"login": "owner", "password": PASSWORD}),
    )
    .await
    .problem(429, "rate_limited");
}

#[tokio::test]
async fn per_account_login_limit_applies_across_addresses() {
    let app = spawn_with(|c| {
        c.limits.login_per_account.max = 3;
    })
    .await;
    app.setup_owner().await;
    for _ in 0..3 {
        app.post(
            "/auth/login",
            None,
            json!({"login": "owner", "password": "nope nope nope"}),
        )
        .await
        .expect(401);
    }
    app.post(
        "/auth/login",
        None,
        json!({"login": "OWNER", "password": PASSWORD}),
    )
    .await
    .problem(429, "rate_limited");
}

#[tokio::test]
async fn registration_policies() {
    let open = spawn_with(|c| c.auth.registration = colink::config::Registration::Open).await;
    let body = json!({"email": "x@example.com", "username": "xavier", "password": PASSWORD});
    open.post("/auth/register", None, body.clone())
        .await
        .problem(409, "setup_required");
    let (owner, ws) = open.setup_owner().await;
    let user = open
        .post("/auth/register", None, body.clone())
        .await
        .expect(201);
    assert_eq!(user["role"], "member");
    assert_eq!(user["email_verified"], false);
    let x = open.login("xavier", PASSWORD).await;
    assert_eq!(
        open.get("/workspaces", &x.access).await.expect(200)["items"][0]["id"],
        ws
    );
    // Duplicates.
    open.post("/auth/register", None, body.clone())
        .await
        .problem(409, "conflict");
    let mut other = body.clone();
    other["username"] = json!("xavier2");
    open.post("/auth/register", None, other)
        .await
        .problem(409, "conflict");
    let mut other = body.clone();
    other["email"] = json!("x2@example.com");
    other["username"] = json!("OWNER");
    open.post("/auth/register", None, other)
        .await
        .problem(409, "conflict");
    drop(owner);

    let closed = spawn_with(|c| c.auth.registration = colink::config::Registration::Closed).await;
    closed
        .post("/auth/register", None, body.clone())
        .await
        .problem(403, "registration_closed");

    let invite_only = spawn_app().await;
    invite_only.setup_owner().await;
    invite_only
        .post("/auth/register", None, body.clone())
        .await
        .problem(403, "invite_required");
    let mut with_bad = body.clone();
    with_bad["invite_token"] = json!("nope");
    invite_only
        .post("/auth/register", None, with_bad)
        .await
        .problem(404, "not_found");
}

#[tokio::test]
async fn registration_validates_input() {
    let app = spawn_with(|c| c.auth.registration = colink::config::Registration::Open).await;
    app.setup_owner().await;
    let cases = [
        json!({"email": "not-an-email", "username": "val", "password": PASSWORD}),
        json!({"email": "v@example.com", "username": "a b", "password": PASSWORD}),
        json!({"email": "v@example.com", "username": "val", "password": "short"}),
        json!({"email": "v@example.com", "username": "val", "password": "password123"}),
        json!({"email": "v@example.com", "username": "val", "password": PASSWORD, "display_name": ""}),
        json!({"email": "v@example.com", "username": "val"}),
        json!({"email": 5, "username": "val", "password": PASSWORD}),
    ];
    for case in cases {
        app.post("/auth/register", None, case.clone())
            .await
            .problem(400, "validation_failed");
    }
}

#[tokio::test]
async fn register_rate_limit() {
    let app = spawn_with(|c| {
        c.auth.registration = colink::config::Registration::Open;
        c.limits.register_per_ip.max = 3;
    })
    .await;
    app.setup_owner().await;
    for i in 0..3 {
        let body = json!({"email": format!("r{i}@example.com"), "username": format!("r{i}x"), "password": PASSWORD});
        app.post("/auth/register", None, body).await.expect(201);
    }
    let body = json!({"email": "r9@example.com", "username": "r9x", "password": PASSWORD});
    app.post("/auth/register", None, body)
        .await
        .problem(429, "rate_limited");
}

/// The claims of an access token, checked with the server's key.
fn claims_of(app: &crate::helpers::TestApp, token: &str) -> serde_json::Value {
    let mut validation = jsonwebtoken::Validation::new(Algorithm::HS256);
    validation.set_audience(&["colink-api"]);
    jsonwebtoken::decode::<serde_json::Value>(
        token,
        &jsonwebtoken::DecodingKey::from_secret(&app.state.keys.jwt),
        &validation,
    )
    .unwrap()
    .claims
}

/// The stored refresh token (hashed at rest) for `presented`.
async fn refresh_row(
    app: &crate::helpers::TestApp,
    presented: &str,
) -> colink::db::entity::refresh_token::Model {
    use colink::db::entity::refresh_token;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(colink::identity::opaque::hash(presented)))
        .one(&app.state.db)
        .await
        .unwrap()
        .expect("the refresh token is stored (hashed)")
}

/// By default access tokens live 15 minutes (the response and the JWT agree) and refresh
/// tokens 30 days; a refresh token past its expiry is refused.
#[tokio::test]
async fn token_lifetimes_default_to_15_minutes_and_30_days() {
    use colink::db::entity::refresh_token;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    let app = spawn_app().await;
    app.setup_owner().await;
    let login = app
        .post(
            "/auth/login",
            None,
            json!({"login": "owner", "password": PASSWORD}),
        )
        .await
        .expect(200);
    assert_eq!(login["token_type"], "Bearer");
    assert_eq!(login["expires_in"], 900);
    let claims = claims_of(&app, login["access_token"].as_str().unwrap());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900,
        "{claims}"
    );
    let row = refresh_row(&app, login["refresh_token"].as_str().unwrap()).await;
    assert_eq!(row.expires_at - row.created_at, time::Duration::days(30));

    // A rotated pair has the same lifetimes.
    let rotated = app
        .post(
            "/auth/refresh",
            None,
            json!({"refresh_token": login["refresh_token"]}),
        )
        .await
        .expect(200);
    assert_eq!(rotated["expires_in"], 900);
    let claims = claims_of(&app, rotated["access_token"].as_str().unwrap());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );
    let refresh = rotated["refresh_token"].as_str().unwrap();
    let row = refresh_row(&app, refresh).await;
    assert_eq!(row.expires_at - row.created_at, time::Duration::days(30));

    // Thirty days pass.
    let past = time::OffsetDateTime::now_utc() - time::Duration::seconds(1);
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::ExpiresAt, Expr::value(past))
        .filter(refresh_token::Column::Id.eq(row.id))
        .exec(&app.state.db)
        .await
        .unwrap();
    app.post("/auth/refresh", None, json!({"refresh_token": refresh}))
        .await
        .problem(401, "token_revoked");
}

/// `GET /auth/providers` (no authentication) tells a sign-in page what is available.
#[tokio::test]
async fn providers_reflect_the_configuration() {
    let app = spawn_app().await;
    let body = app
        .call(reqwest::Method::GET, "/auth/providers", None, None)
        .await
        .expect(200);
    assert_eq!(
        body,
        json!({"password": true, "registration": "invite", "require_totp": false, "oidc": []})
    );
    let app = spawn_with(|c| {
        c.auth.registration = colink::config::Registration::Closed;
        c.auth.require_totp = true;
    })
    .await;
    let body = app
        .call(reqwest::Method::GET, "/auth/providers", None, None)
        .await
        .expect(200);
    assert_eq!(body["registration"], "closed");
    assert_eq!(body["require_totp"], true);
}
