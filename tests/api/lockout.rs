//! Login brute-force protection (`service::guard`): the per-account budget is the resolved user,
//! counts only passwords that were checked and wrong, and never keeps the owner out of an address
//! they signed in from. Client addresses are chosen with `X-Forwarded-For` behind a trusted proxy.

use serde_json::{Value, json};

use crate::helpers::{PASSWORD, Reply, TestApp, behind_proxy, spawn_with};

const HOME: &str = "198.51.100.1";

async fn login_from(app: &TestApp, ip: &str, login: &str, password: &str) -> Reply {
    app.post_from(
        ip,
        "/auth/login",
        None,
        json!({"login": login, "password": password}),
    )
    .await
}

#[track_caller]
fn refused(reply: Reply) -> Value {
    let retry: u64 = reply
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no Retry-After; body: {}", reply.body));
    assert!(retry > 0 && retry <= 15 * 60, "{retry}");
    reply.problem(429, "rate_limited")
}

#[tokio::test]
async fn username_and_email_share_one_budget_and_a_known_address_still_gets_in() {
    let app = spawn_with(|c| {
        behind_proxy(c);
        c.limits.login_per_account.max = 3;
    })
    .await;
    app.setup_owner().await;
    // The owner signs in from home once: from now on that address is known.
    login_from(&app, HOME, "owner", PASSWORD).await.expect(200);

    // Wrong passwords from three addresses, by username and by email: one account, one budget.
    for (ip, login) in [
        ("203.0.113.1", "owner"),
        ("203.0.113.2", "OWNER@example.com"),
        ("203.0.113.3", "owner"),
    ] {
        login_from(&app, ip, login, "wrong password!")
            .await
            .problem(401, "invalid_credentials");
    }
    // Locked: from any other address even the right password is refused, by either name.
    refused(login_from(&app, "203.0.113.4", "owner", PASSWORD).await);
    refused(login_from(&app, "203.0.113.5", "owner@example.com", PASSWORD).await);
    // From home the owner still gets in...
    let body = login_from(&app, HOME, "owner@example.com", PASSWORD)
        .await
        .expect(200);
    assert!(body["access_token"].is_string(), "{body}");
    // ...while wrong passwords from there are still counted and refused.
    refused(login_from(&app, HOME, "owner", "wrong password!").await);
}

#[tokio::test]
async fn only_passwords_that_were_checked_count_against_the_account() {
    let app = spawn_with(|c| {
        behind_proxy(c);
        c.limits.login_per_ip.max = 2;
        c.limits.login_per_account.max = 3;
    })
    .await;
    app.setup_owner().await;
    // Two wrong passwords are checked and counted; the per-address limit then refuses three
    // more before anything is checked, which costs the account nothing.
    for _ in 0..2 {
        login_from(&app, "203.0.113.1", "owner", "wrong password!")
            .await
            .problem(401, "invalid_credentials");
    }
    for _ in 0..3 {
        refused(login_from(&app, "203.0.113.1", "owner", "wrong password!").await);
    }
    // Neither is a login for another name, nor a password refused for its size (by the
    // schema, before the login service runs).
    login_from(&app, "203.0.113.2", "nobody", "wrong password!")
        .await
        .problem(401, "invalid_credentials");
    login_from(&app, "203.0.113.2", "owner", &"x".repeat(2000))
        .await
        .problem(400, "validation_failed");
    // Two failures so far: the owner gets in from an address never seen before, and that
    // success is not charged either.
    login_from(&app, "203.0.113.3", "owner", PASSWORD)
        .await
        .expect(200);
    login_from(&app, "203.0.113.4", "owner", "wrong password!")
        .await
        .problem(401, "invalid_credentials");
    // That was the third checked failure.
    refused(login_from(&app, "203.0.113.5", "owner", PASSWORD).await);
}

/// A name without an account locks the same way, so the answers do not tell whether it exists.
#[tokio::test]
async fn unknown_names_answer_like_accounts() {
    let app = spawn_with(|c| {
        behind_proxy(c);
        c.limits.login_per_account.max = 2;
    })
    .await;
    app.setup_owner().await;
    for login in ["owner", "ghost"] {
        for ip in ["203.0.113.1", "203.0.113.2"] {
            login_from(&app, ip, login, "wrong password!")
                .await
                .problem(401, "invalid_credentials");
        }
        refused(login_from(&app, "203.0.113.3", login, "wrong password!").await);
    }
}

/// `X-Forwarded-For` cannot buy a client fresh per-address budgets: without trusted proxies it is
/// ignored, and behind one only the entry the proxy appended (the right-most) counts.
#[tokio::test]
async fn forwarded_for_cannot_be_spoofed_to_dodge_the_address_limit() {
    for trusted in [false, true] {
        let app = spawn_with(|c| {
            if trusted {
                behind_proxy(c);
            }
            c.limits.login_per_ip.max = 2;
        })
        .await;
        app.setup_owner().await;
        for spoofed in ["1.1.1.1, 203.0.113.9", "2.2.2.2, 203.0.113.9"] {
            login_from(&app, spoofed, "owner", "wrong password!")
                .await
                .problem(401, "invalid_credentials");
        }
        refused(login_from(&app, "3.3.3.3, 203.0.113.9", "owner", PASSWORD).await);
        if trusted {
            // A different client behind the proxy has its own budget.
            login_from(&app, "203.0.113.10", "owner", PASSWORD)
                .await
                .expect(200);
        }
    }
}
