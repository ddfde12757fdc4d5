//! TOTP two-factor authentication, with codes computed from the secret per RFC 6238.

use serde_json::{Value, json};
use totp_rs::{Algorithm, Builder, Secret};

use crate::helpers::{PASSWORD, Session, TestApp, spawn_app, spawn_with};

/// The RFC 6238 code for `secret_b32` at `now + offset_steps * 30 s`.
fn code(secret_b32: &str, offset_steps: i64) -> String {
    let secret = Secret::try_from_base32(secret_b32).unwrap();
    let totp = Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_secret(secret)
        .with_digits(6)
        .with_step_duration(30)
        .build()
        .unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp() + offset_steps * 30;
    totp.generate(now as u64).to_string()
}

/// What enrolling returned: the secret, the recovery codes, and the code that confirmed it.
pub struct Enrolled {
    pub secret: String,
    pub recovery_codes: Vec<String>,
    pub confirm_code: String,
}

/// Enroll `session`'s user.
pub async fn enroll(app: &TestApp, session: &Session) -> Enrolled {
    let setup = app
        .post(
            "/auth/totp/setup",
            Some(&session.access),
            json!({"password": PASSWORD}),
        )
        .await
        .expect(200);
    let secret = setup["secret"].as_str().unwrap().to_string();
    assert!(
        setup["otpauth_url"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/CoLink:")
    );
    app.post(
        "/auth/totp/confirm",
        Some(&session.access),
        json!({"code": "000000x"}),
    )
    .await
    .problem(400, "invalid_code");
    let confirm_code = code(&secret, 0);
    let confirmed = app
        .post(
            "/auth/totp/confirm",
            Some(&session.access),
            json!({"code": confirm_code}),
        )
        .await
        .expect(200);
    let codes: Vec<String> = confirmed["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(codes.len(), 10);
    Enrolled {
        secret,
        recovery_codes: codes,
        confirm_code,
    }
}

async fn mfa_challenge(app: &TestApp) -> String {
    let body = app
        .post(
            "/auth/login",
            None,
            json!({"login": "owner", "password": PASSWORD}),
        )
        .await
        .expect(200);
    assert_eq!(body["mfa_required"], true, "{body}");
    assert!(body.get("access_token").is_none());
    body["mfa_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn totp_login_flow_and_single_use_codes() {
    let app = spawn_app().await;
    let (owner, _) = app.setup_owner().await;
    let me = app.get("/users/me", &owner.access).await.expect(200);
    assert_eq!(me["totp_enabled"], false, "{me}");
    let Enrolled {
        secret,
        confirm_code,
        ..
    } = enroll(&app, &owner).await;
    let me = app.get("/users/me", &owner.access).await.expect(200);
    assert_eq!(me["totp_enabled"], true, "{me}");
    // Only the user themself is told.
    let id = me["id"].as_str().unwrap();
    let other = app
        .get(&format!("/users/{id}"), &owner.access)
        .await
        .expect(200);
    assert!(other.get("totp_enabled").is_none(), "{other}");
    app.post(
        "/auth/totp/setup",
        Some(&owner.access),
        json!({"password": PASSWORD}),
    )
    .await
    .problem(409, "conflict");

    let mfa = mfa_challenge(&app).await;
    // The code used to confirm enrollment cannot be replayed (the very string sent then: one
    // recomputed now would be the next step's code once a 30 s boundary has passed).
    app.post(
        "/auth/login/totp",
        None,
        json!({"mfa_token": mfa, "code": confirm_code}),
    )
    .await
    .problem(401, "invalid_credentials");
    // The next step's code (within the ±1 step window) works, once.
    let next = code(&secret, 1);
    let tokens = app
        .post(
            "/auth/login/totp",
            None,
            json!({"mfa_token": mfa, "code": next}),
        )
        .await
        .expect(200);
    app.get("/users/me", tokens["access_token"].as_str().unwrap())
        .await
        .expect(200);
    // The MFA token is single use.
    app.post(
        "/auth/login/totp",
        None,
        json!({"mfa_token": mfa, "code": next}),
    )
    .await
    .problem(401, "unauthorized");
    let mfa2 = mfa_challenge(&app).await;
    app.post(
        "/auth/login/totp",
        None,
        json!({"mfa_token": mfa2, "code": next}),
    )
    .await
    .problem(401, "invalid_credentials");

    let enabled = app
        .audit(&owner_session(&app, &tokens), "auth.totp_enabled")
        .await;
    assert_eq!(enabled.len(), 1);
}

fn owner_session(_app: &TestApp, tokens: &Value) -> Session {
    Session {
        user_id: String::new(),
        access: tokens["access_token"].as_str().unwrap().to_string(),
        refresh: tokens["refresh_token"].as_str().unwrap().to_string(),
    }
}

#[tokio::test]
async fn recovery_code_works_once_and_disabling_needs_a_code() {
    let app = spawn_app().await;
    let (owner, _) = app.setup_owner().await;
    let codes = enroll(&app, &owner).await.recovery_codes;

    let mfa = mfa_challenge(&app).await;
    let tokens = app
        .post(
            "/auth/login/totp",
            None,
            json!({"mfa_token": mfa, "code": codes[0].to_uppercase()}),
        )
        .await
        .expect(200);
    let mfa = mfa_challenge(&app).await;
    app.post(
        "/auth/login/totp",
        None,
        json!({"mfa_token": mfa, "code": codes[0]}),
    )
    .await
    .problem(401, "invalid_credentials");
    let session = owner_session(&app, &tokens);

    app.call(
        reqwest::Method::DELETE,
        "/auth/totp",
        Some(&session.access),
        Some(json!({"password": PASSWORD, "code": "123456"})),
    )
    .await
    .problem(400, "invalid_code");
    app.call(
        reqwest::Method::DELETE,
        "/auth/totp",
        Some(&session.access),
        Some(json!({"password": PASSWORD, "code": codes[1]})),
    )
    .await
    .expect(204);
    // Plain password login again.
    app.login("owner", PASSWORD).await;
    assert_eq!(app.audit(&session, "auth.totp_disabled").await.len(), 1);
}

#[tokio::test]
async fn mfa_token_is_burned_after_repeated_wrong_codes() {
    let app = spawn_app().await;
    let (owner, _) = app.setup_owner().await;
    let secret = enroll(&app, &owner).await.secret;
    let mfa = mfa_challenge(&app).await;
    for _ in 0..5 {
        app.post(
            "/auth/login/totp",
            None,
            json!({"mfa_token": mfa, "code": "000000"}),
        )
        .await
        .expect(401);
    }
    app.post(
        "/auth/login/totp",
        None,
        json!({"mfa_token": mfa, "code": code(&secret, 1)}),
    )
    .await
    .problem(401, "unauthorized");
}

#[tokio::test]
async fn require_totp_forces_enrollment_before_anything_else() {
    let app = spawn_with(|c| c.auth.require_totp = true).await;
    app.setup_owner().await;
    let body = app
        .post(
            "/auth/login",
            None,
            json!({"login": "owner", "password": PASSWORD}),
        )
        .await
        .expect(200);
    assert_eq!(body["totp_enrollment_required"], true);
    let restricted = Session {
        user_id: String::new(),
        access: body["access_token"].as_str().unwrap().to_string(),
        refresh: body["refresh_token"].as_str().unwrap().to_string(),
    };
    app.get("/workspaces", &restricted.access)
        .await
        .problem(403, "totp_enrollment_required");
    app.get("/users/me", &restricted.access).await.expect(200);
    let codes = enroll(&app, &restricted).await.recovery_codes;
    // After enrollment a refresh yields a full token.
    let refreshed = app
        .post(
            "/auth/refresh",
            None,
            json!({"refresh_token": restricted.refresh}),
        )
        .await
        .expect(200);
    assert!(refreshed.get("totp_enrollment_required").is_none());
    let full = refreshed["access_token"].as_str().unwrap();
    app.get("/workspaces", full).await.expect(200);
    // Disabling is refused while the server requires 2FA.
    app.call(
        reqwest::Method::DELETE,
        "/auth/totp",
        Some(full),
        Some(json!({"password": PASSWORD, "code": codes[0]})),
    )
    .await
    .problem(403, "forbidden");
}

#[tokio::test]
async fn totp_setup_and_removal_need_the_current_password() {
    let app = spawn_with(|c| c.limits.login_per_account.max = 3).await;
    let (owner, _) = app.setup_owner().await;
    let setup = |body: Value| app.post("/auth/totp/setup", Some(&owner.access), body);
    setup(json!({})).await.problem(400, "validation_failed");
    setup(json!({"password": "x".repeat(1025)}))
        .await
        .problem(400, "validation_failed");
    setup(json!({"password": "not my password"}))
        .await
        .problem(403, "invalid_password");
    let secret = enroll(&app, &owner).await.secret;

    let remove = |body: Value| {
        app.call(
            reqwest::Method::DELETE,
            "/auth/totp",
            Some(&owner.access),
            Some(body),
        )
    };
    remove(json!({"code": code(&secret, 1)}))
        .await
        .problem(400, "validation_failed");
    remove(json!({"password": "not my password", "code": code(&secret, 1)}))
        .await
        .problem(403, "invalid_password");
    // Both count like failed logins: one more wrong password locks the account.
    app.post(
        "/auth/login",
        None,
        json!({"login": "owner", "password": "not my password"}),
    )
    .await
    .problem(401, "invalid_credentials");
    app.post(
        "/auth/login",
        None,
        json!({"login": "owner", "password": PASSWORD}),
    )
    .await
    .problem(429, "rate_limited");
    remove(json!({"password": PASSWORD, "code": code(&secret, 1)}))
        .await
        .problem(429, "rate_limited");
    let failed = app.audit(&owner, "auth.login_failed").await;
    assert_eq!(
        failed
            .iter()
            .filter(|e| e["details"]["reason"] == "bad_current_password")
            .count(),
        2,
        "{failed:?}"
    );
    // 2FA stayed on: a password login still asks for a code.
    let creds = app.state.db.clone();
    let owner_id = uuid::Uuid::parse_str(&owner.user_id).unwrap();
    let row = colink::service::accounts::credentials(&creds, owner_id)
        .await
        .unwrap();
    assert!(row.totp_enabled_at.is_some());
}

#[tokio::test]
async fn second_factor_failures_lock_the_user_whatever_the_mfa_token() {
    let app = spawn_with(|c| c.limits.second_factor_per_user.max = 3).await;
    let (owner, _) = app.setup_owner().await;
    let Enrolled {
        secret,
        recovery_codes,
        ..
    } = enroll(&app, &owner).await;
    let app = &app;
    let try_code = move |mfa: String, code: String| async move {
        app.post(
            "/auth/login/totp",
            None,
            json!({"mfa_token": mfa, "code": code}),
        )
        .await
    };

    // Wrong codes then a right one: the right one clears the count.
    let mfa = mfa_challenge(app).await;
    for _ in 0..2 {
        try_code(mfa.clone(), "000000".into())
            .await
            .problem(401, "invalid_credentials");
    }
    try_code(mfa, code(&secret, 1)).await.expect(200);

    // Three wrong codes, over two MFA tokens and a removal attempt...
    let first = mfa_challenge(app).await;
    try_code(first, "000000".into())
        .await
        .problem(401, "invalid_credentials");
    let second = mfa_challenge(app).await;
    try_code(second.clone(), "aaaaa-bbbbb-ccccc-ddddd".into())
        .await
        .problem(401, "invalid_credentials");
    app.call(
        reqwest::Method::DELETE,
        "/auth/totp",
        Some(&owner.access),
        Some(json!({"password": PASSWORD, "code": "000000"})),
    )
    .await
    .problem(400, "invalid_code");
    // ...and every further code is refused until the window ends, right ones too, whatever
    // MFA token comes with them.
    let fresh = mfa_challenge(app).await;
    let reply = try_code(fresh, recovery_codes[0].clone()).await;
    let retry: u64 = reply.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= 15 * 60, "{retry}");
    reply.problem(429, "rate_limited");
    try_code(second, recovery_codes[0].clone())
        .await
        .problem(429, "rate_limited");
    app.call(
        reqwest::Method::DELETE,
        "/auth/totp",
        Some(&owner.access),
        Some(json!({"password": PASSWORD, "code": recovery_codes[1]})),
    )
    .await
    .problem(429, "rate_limited");
}

/// Recovery codes carry 100 bits, are stored only as a keyed HMAC, forgive typing, work once;
/// codes of the former format (10 characters, plain SHA-256) are re-keyed at start-up and still
/// work once.
#[tokio::test]
async fn recovery_codes_are_long_keyed_and_old_ones_still_work() {
    use colink::db::entity::recovery_code;
    use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
    let app = spawn_app().await;
    let (owner, _) = app.setup_owner().await;
    let codes = enroll(&app, &owner).await.recovery_codes;
    const CROCKFORD: &str = "0123456789abcdefghjkmnpqrstvwxyz";
    for code in &codes {
        let groups: Vec<&str> = code.split('-').collect();
        assert_eq!(groups.len(), 4, "{code}");
        assert!(
            groups
                .iter()
                .all(|g| g.len() == 5 && g.chars().all(|c| CROCKFORD.contains(c))),
            "{code}"
        );
    }
    let owner_id = uuid::Uuid::parse_str(&owner.user_id).unwrap();
    let rows = recovery_code::Entity::find()
        .filter(recovery_code::Column::UserId.eq(owner_id))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 10);
    for row in &rows {
        assert!(row.code_hash.starts_with("v2:"), "{}", row.code_hash);
        assert!(
            codes.iter().all(|c| {
                let plain = c.replace('-', "");
                row.code_hash != colink::identity::opaque::hash(&plain)
                    && !row.code_hash.contains(&plain)
            }),
            "stored keyed, not as a plain hash"
        );
    }

    // Typed in capitals with spaces instead of dashes: accepted, once.
    let typed = codes[0].to_uppercase().replace('-', " ");
    let mfa = mfa_challenge(&app).await;
    app.post(
        "/auth/login/totp",
        None,
        json!({"mfa_token": mfa, "code": typed}),
    )
    .await
    .expect(200);
    let mfa = mfa_challenge(&app).await;
    app.post(
        "/auth/login/totp",
        None,
        json!({"mfa_token": mfa, "code": codes[0]}),
    )
    .await
    .problem(401, "invalid_credentials");

    // A code issued before the current format, stored the old way (plain SHA-256): the next
    // start re-keys the row, and the code still works, once.
    let legacy = recovery_code::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        user_id: Set(owner_id),
        code_hash: Set(colink::identity::opaque::hash("abcdefghjk")),
        used_at: Set(None),
        created_at: Set(time::OffsetDateTime::now_utc()),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
    let (config, dir) = app.stop().await;
    let app = crate::helpers::start(config, dir).await;
    let row = recovery_code::Entity::find_by_id(legacy.id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert!(row.code_hash.starts_with("v1k:"), "{}", row.code_hash);
    for expected in [200, 401] {
        let mfa = mfa_challenge(&app).await;
        app.post(
            "/auth/login/totp",
            None,
            json!({"mfa_token": mfa, "code": "ABCDE-fghjk"}),
        )
        .await
        .expect(expected);
    }
}

/// Claiming a second factor is one conditional write through the write gate: the same recovery
/// code (or TOTP code) sent on several logins at once lets exactly one through.
#[tokio::test]
async fn concurrent_logins_with_the_same_code_let_exactly_one_through() {
    let app = spawn_app().await;
    let (owner, _) = app.setup_owner().await;
    let Enrolled {
        secret,
        recovery_codes,
        ..
    } = enroll(&app, &owner).await;
    let next = code(&secret, 1);
    for code in [recovery_codes[0].clone(), next] {
        let mut tokens = Vec::new();
        for _ in 0..12 {
            tokens.push(mfa_challenge(&app).await);
        }
        let url = format!("{}/api/v1/auth/login/totp", app.base);
        let results = crate::helpers::concurrently(tokens.len(), |i| {
            app.client
                .post(&url)
                .json(&json!({"mfa_token": tokens[i], "code": code}))
        })
        .await;
        let through = results.iter().filter(|(s, _)| *s == 200).count();
        assert_eq!(through, 1, "{code}: {results:?}");
        for (status, body) in results.iter().filter(|(s, _)| *s != 200) {
            assert_eq!(*status, 401, "{body}");
            assert_eq!(body["code"], "invalid_credentials", "{body}");
        }
    }
}
