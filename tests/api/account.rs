//! Password reset and email verification: by a real SMTP server, and by the mailbox directory.

use std::{path::Path, process::Stdio, time::Duration};

use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, spawn_app, spawn_with};

const NEW_PASSWORD: &str = "quartz-Lantern-88-meadow";

/// Pull `…?token=XYZ` for `path` out of a mail.
pub(crate) fn token_in(mail: &str, path: &str) -> String {
    // Quoted-printable may wrap long lines with "=\n".
    let mail = mail
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    let marker = format!("{path}?token=");
    let start = mail
        .find(&marker)
        .unwrap_or_else(|| panic!("no {path} link in mail:\n{mail}"))
        + marker.len();
    mail[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// Wait for the next file to appear in `dir` (polling the directory: there is no event to await
/// from another process's mail delivery).
pub(crate) async fn next_mail(dir: &Path, already: usize) -> String {
    for _ in 0..500 {
        let mut files: Vec<_> = walk(dir);
        files.sort();
        if files.len() > already {
            return std::fs::read_to_string(&files[files.len() - 1]).unwrap();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no mail arrived in {}", dir.display());
}

/// Every delivered mail under `dir`: files whose writing is finished, i.e. not in a Maildir's
/// `tmp/` (aiosmtpd moves them to `new/` when complete) and not hidden (the mailbox directory
/// writes `.<name>.partial` and renames it).
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            if p.is_dir() {
                if name != "tmp" {
                    out.extend(walk(&p));
                }
            } else {
                out.push(p);
            }
        }
    }
    out
}

async fn reset_flow(app: &TestApp, mail_dir: &Path) {
    let (owner, _) = app.setup_owner().await;
    let other_session = app.login("owner", PASSWORD).await;

    // Unknown address: same answer, no mail.
    app.post(
        "/auth/password-reset/request",
        None,
        json!({"email": "ghost@example.com"}),
    )
    .await
    .expect(202);
    app.post(
        "/auth/password-reset/request",
        None,
        json!({"email": "owner@example.com"}),
    )
    .await
    .expect(202);
    let mail = next_mail(mail_dir, 0).await;
    assert!(mail.contains("To: owner@example.com"), "{mail}");
    let token = token_in(&mail, "/reset-password");
    assert!(
        mail.contains(&format!("{}/reset-password?token=", app.base))
            || mail.contains("reset-password")
    );

    app.post(
        "/auth/password-reset/confirm",
        None,
        json!({"token": token, "new_password": "weak"}),
    )
    .await
    .problem(400, "validation_failed");
    app.post(
        "/auth/password-reset/confirm",
        None,
        json!({"token": token, "new_password": NEW_PASSWORD}),
    )
    .await
    .expect(204);
    // Single use.
    app.post(
        "/auth/password-reset/confirm",
        None,
        json!({"token": token, "new_password": NEW_PASSWORD}),
    )
    .await
    .problem(400, "invalid_token");
    // Every session ended; old password refused; new one works.
    app.get("/users/me", &owner.access)
        .await
        .problem(401, "token_revoked");
    app.post(
        "/auth/refresh",
        None,
        json!({"refresh_token": other_session.refresh}),
    )
    .await
    .problem(401, "token_revoked");
    app.post(
        "/auth/login",
        None,
        json!({"login": "owner", "password": PASSWORD}),
    )
    .await
    .problem(401, "invalid_credentials");
    let fresh = app.login("owner", NEW_PASSWORD).await;
    assert_eq!(app.audit(&fresh, "auth.password_reset").await.len(), 1);
    // Only the real address got mail.
    assert_eq!(walk(mail_dir).len(), 1);
}

#[tokio::test]
async fn password_reset_through_the_mailbox_directory() {
    let app = spawn_app().await;
    let dir = app.config.data_dir.join("mailbox");
    reset_flow(&app, &dir).await;
}

/// A real SMTP server: aiosmtpd, started by `scripts/backends/smtp-sink.sh` on a free port
/// (which installs aiosmtpd first when it is missing).
struct SmtpSink {
    child: std::process::Child,
    port: u16,
    maildir: tempfile::TempDir,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_smtp_sink() -> Option<SmtpSink> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let maildir = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/backends/smtp-sink.sh");
    let child = std::process::Command::new("bash")
        .arg(script)
        .arg(port.to_string())
        .arg(maildir.path().join("mail"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .ok()?;
    let mut sink = SmtpSink {
        child,
        port,
        maildir,
    };
    // Poll until it listens, or until the script gives up (it may first install aiosmtpd, which
    // takes as long as it takes; the bound only stops a wedged install from hanging the suite).
    for _ in 0..15_000 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Some(sink);
        }
        if !matches!(sink.child.try_wait(), Ok(None)) {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

#[tokio::test]
async fn password_reset_mail_arrives_through_a_real_smtp_server() {
    let Some(sink) = start_smtp_sink().await else {
        if std::env::var("COLINK_REQUIRE_SMTP").is_ok() {
            panic!("the SMTP sink (aiosmtpd) could not be started");
        }
        eprintln!("skipping: the SMTP sink (aiosmtpd) could not be started or installed");
        return;
    };
    let port = sink.port;
    let app = spawn_with(|c| {
        c.email.smtp_url = Some(colink::config::Secret::new(format!(
            "smtp://127.0.0.1:{port}"
        )));
        c.email.from = "CoLink <noreply@colink.test>".into();
    })
    .await;
    reset_flow(&app, sink.maildir.path()).await;
    assert!(
        !app.config.data_dir.join("mailbox").exists(),
        "SMTP configured: nothing in the mailbox dir"
    );
}

#[tokio::test]
async fn email_verification_link_verifies_once() {
    let app = spawn_with(|c| c.auth.registration = colink::config::Registration::Open).await;
    app.setup_owner().await;
    app.post(
        "/auth/register",
        None,
        json!({"email": "v@example.com", "username": "vera", "password": PASSWORD}),
    )
    .await
    .expect(201);
    let mail = next_mail(&app.config.data_dir.join("mailbox"), 0).await;
    let token = token_in(&mail, "/verify-email");
    let vera = app.login("vera", PASSWORD).await;
    assert_eq!(
        app.get("/users/me", &vera.access).await.expect(200)["email_verified"],
        false
    );
    app.post("/auth/email/verify", None, json!({"token": token}))
        .await
        .expect(204);
    assert_eq!(
        app.get("/users/me", &vera.access).await.expect(200)["email_verified"],
        true
    );
    app.post("/auth/email/verify", None, json!({"token": token}))
        .await
        .problem(400, "invalid_token");
}

#[tokio::test]
async fn password_reset_request_is_rate_limited() {
    let app = spawn_with(|c| c.limits.password_reset_per_ip.max = 5).await;
    for _ in 0..5 {
        app.post(
            "/auth/password-reset/request",
            None,
            json!({"email": "a@example.com"}),
        )
        .await
        .expect(202);
    }
    app.post(
        "/auth/password-reset/request",
        None,
        json!({"email": "a@example.com"}),
    )
    .await
    .problem(429, "rate_limited");
}

/// The mailed token for `path` (`/verify-email`, `/reset-password`) once `count` mails are in
/// `dir`; the newest such mail wins.
pub(crate) async fn mailed_token(dir: &Path, count: usize, path: &str) -> String {
    next_mail(dir, count - 1).await;
    let mut files = walk(dir);
    files.sort();
    files
        .iter()
        .rev()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .find(|mail| mail.contains(&format!("{path}?token=")))
        .map(|mail| token_in(&mail, path))
        .unwrap_or_else(|| panic!("no {path} mail in {}", dir.display()))
}

/// The stored row of a mailed token (tokens are stored hashed).
async fn stored_token(app: &TestApp, token: &str) -> colink::db::entity::email_token::Model {
    use colink::db::entity::email_token;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    email_token::Entity::find()
        .filter(email_token::Column::TokenHash.eq(colink::identity::opaque::hash(token)))
        .one(&app.state.db)
        .await
        .unwrap()
        .expect("the token is stored (hashed)")
}

/// Move a mailed token's expiry into the past, as if its lifetime had run out.
async fn expire_token(app: &TestApp, token: &str) {
    use colink::db::entity::email_token;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    let past = time::OffsetDateTime::now_utc() - time::Duration::seconds(1);
    let updated = email_token::Entity::update_many()
        .col_expr(email_token::Column::ExpiresAt, Expr::value(past))
        .filter(email_token::Column::TokenHash.eq(colink::identity::opaque::hash(token)))
        .exec(&app.state.db)
        .await
        .unwrap();
    assert_eq!(updated.rows_affected, 1);
}

/// Reset links live 1 hour and verification links 24 hours; past that they are refused.
#[tokio::test]
async fn mailed_tokens_expire_reset_after_an_hour_verification_after_a_day() {
    let app = spawn_with(|c| c.auth.registration = colink::config::Registration::Open).await;
    app.setup_owner().await;
    let mailbox = app.config.data_dir.join("mailbox");
    app.post(
        "/auth/register",
        None,
        json!({"email": "v@example.com", "username": "vera", "password": PASSWORD}),
    )
    .await
    .expect(201);
    let verify = mailed_token(&mailbox, 1, "/verify-email").await;
    app.post(
        "/auth/password-reset/request",
        None,
        json!({"email": "v@example.com"}),
    )
    .await
    .expect(202);
    let reset = mailed_token(&mailbox, 2, "/reset-password").await;

    let row = stored_token(&app, &verify).await;
    assert_eq!(row.purpose, "verify_email");
    assert_eq!(row.expires_at - row.created_at, time::Duration::hours(24));
    let row = stored_token(&app, &reset).await;
    assert_eq!(row.purpose, "password_reset");
    assert_eq!(row.expires_at - row.created_at, time::Duration::hours(1));

    expire_token(&app, &verify).await;
    expire_token(&app, &reset).await;
    app.post("/auth/email/verify", None, json!({"token": verify}))
        .await
        .problem(400, "invalid_token");
    app.post(
        "/auth/password-reset/confirm",
        None,
        json!({"token": reset, "new_password": NEW_PASSWORD}),
    )
    .await
    .problem(400, "invalid_token");
    // Nothing changed: the old password still works and the address is still unverified.
    let vera = app.login("vera", PASSWORD).await;
    assert_eq!(
        app.get("/users/me", &vera.access).await.expect(200)["email_verified"],
        false
    );
}

/// `POST /auth/email/verify/resend` mails a fresh link to an unverified caller, and nothing
/// once the address is verified.
#[tokio::test]
async fn verification_mail_can_be_resent_until_verified() {
    use colink::db::entity::email_token;
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let app = spawn_with(|c| c.auth.registration = colink::config::Registration::Open).await;
    app.setup_owner().await;
    let mailbox = app.config.data_dir.join("mailbox");
    app.post(
        "/auth/register",
        None,
        json!({"email": "v@example.com", "username": "vera", "password": PASSWORD}),
    )
    .await
    .expect(201);
    let first = mailed_token(&mailbox, 1, "/verify-email").await;
    let vera = app.login("vera", PASSWORD).await;
    let tokens_of_vera = || async {
        email_token::Entity::find()
            .filter(email_token::Column::UserId.eq(uuid::Uuid::parse_str(&vera.user_id).unwrap()))
            .filter(email_token::Column::Purpose.eq("verify_email"))
            .count(&app.state.db)
            .await
            .unwrap()
    };

    app.call(
        reqwest::Method::POST,
        "/auth/email/verify/resend",
        None,
        None,
    )
    .await
    .problem(401, "unauthorized");
    app.post("/auth/email/verify/resend", Some(&vera.access), json!({}))
        .await
        .expect(202);
    let second = mailed_token(&mailbox, 2, "/verify-email").await;
    assert_ne!(first, second, "a fresh link");
    assert_eq!(tokens_of_vera().await, 2);
    app.post("/auth/email/verify", None, json!({"token": second}))
        .await
        .expect(204);
    assert_eq!(
        app.get("/users/me", &vera.access).await.expect(200)["email_verified"],
        true
    );
    // Verified: the request is still accepted, but no new link is made (and so no mail).
    app.post("/auth/email/verify/resend", Some(&vera.access), json!({}))
        .await
        .expect(202);
    assert_eq!(tokens_of_vera().await, 2);
}

/// Reset links of `user_id` that could still be used.
async fn open_reset_links(app: &TestApp, user_id: &str) -> u64 {
    use colink::db::entity::email_token;
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    email_token::Entity::find()
        .filter(email_token::Column::UserId.eq(uuid::Uuid::parse_str(user_id).unwrap()))
        .filter(email_token::Column::Purpose.eq("password_reset"))
        .filter(email_token::Column::UsedAt.is_null())
        .count(&app.state.db)
        .await
        .unwrap()
}

/// Any password change — by one of several mailed links, or by any other path through
/// `accounts::set_password` (the CLI's `reset-password`) — voids the other links.
#[tokio::test]
async fn a_password_change_voids_every_outstanding_reset_link() {
    let app = spawn_app().await;
    let (owner, _) = app.setup_owner().await;
    let mailbox = app.config.data_dir.join("mailbox");
    let request = || {
        app.post(
            "/auth/password-reset/request",
            None,
            json!({"email": "owner@example.com"}),
        )
    };
    request().await.expect(202);
    let first = mailed_token(&mailbox, 1, "/reset-password").await;
    request().await.expect(202);
    let second = mailed_token(&mailbox, 2, "/reset-password").await;
    assert_ne!(first, second);
    assert_eq!(open_reset_links(&app, &owner.user_id).await, 2);
    app.post(
        "/auth/password-reset/confirm",
        None,
        json!({"token": second, "new_password": NEW_PASSWORD}),
    )
    .await
    .expect(204);
    assert_eq!(open_reset_links(&app, &owner.user_id).await, 0);
    app.post(
        "/auth/password-reset/confirm",
        None,
        json!({"token": first, "new_password": "another-Fresh-77-password"}),
    )
    .await
    .problem(400, "invalid_token");
    app.login("owner", NEW_PASSWORD).await;

    // Another path: a link is outstanding when the password is set some other way.
    request().await.expect(202);
    let third = mailed_token(&mailbox, 3, "/reset-password").await;
    let hash = colink::identity::password::hash(PASSWORD).await.unwrap();
    let owner_id = uuid::Uuid::parse_str(&owner.user_id).unwrap();
    colink::service::accounts::set_password(&app.state.db, owner_id, hash)
        .await
        .unwrap();
    app.post(
        "/auth/password-reset/confirm",
        None,
        json!({"token": third, "new_password": "another-Fresh-77-password"}),
    )
    .await
    .problem(400, "invalid_token");
    app.login("owner", PASSWORD).await;
}

/// Tokens (one per mail sent) of `purpose` for the address's user.
async fn tokens_for(app: &TestApp, email: &str, purpose: &str) -> u64 {
    use colink::db::entity::{email_token, user};
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let user = user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .one(&app.state.db)
        .await
        .unwrap()
        .expect("user");
    email_token::Entity::find()
        .filter(email_token::Column::UserId.eq(user.id))
        .filter(email_token::Column::Purpose.eq(purpose))
        .count(&app.state.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn reset_and_verification_mails_are_limited_per_address() {
    let app = spawn_with(|c| {
        c.auth.registration = colink::config::Registration::Open;
        c.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        c.limits.password_reset_per_address.max = 2;
        c.limits.verification_per_address.max = 2;
    })
    .await;
    app.setup_owner().await;
    app.post(
        "/auth/register",
        None,
        json!({"email": "v@example.com", "username": "vera", "password": PASSWORD}),
    )
    .await
    .expect(201);

    // From three addresses, in any spelling: every request is answered alike, but only two
    // mails go out.
    for (ip, email) in [
        ("203.0.113.1", "v@example.com"),
        ("203.0.113.2", "V@Example.com"),
        ("203.0.113.3", " v@example.com"),
    ] {
        app.post_from(
            ip,
            "/auth/password-reset/request",
            None,
            json!({"email": email}),
        )
        .await
        .expect(202);
    }
    assert_eq!(tokens_for(&app, "v@example.com", "password_reset").await, 2);
    // Another address has its own budget.
    app.post(
        "/auth/password-reset/request",
        None,
        json!({"email": "owner@example.com"}),
    )
    .await
    .expect(202);
    assert_eq!(
        tokens_for(&app, "owner@example.com", "password_reset").await,
        1
    );

    // Verification: the registration mail counts; one resend is allowed, the next is refused.
    let vera = app.login("vera", PASSWORD).await;
    let resend = || app.post("/auth/email/verify/resend", Some(&vera.access), json!({}));
    resend().await.expect(202);
    let reply = resend().await;
    assert!(reply.headers.contains_key("retry-after"));
    reply.problem(429, "rate_limited");
    assert_eq!(tokens_for(&app, "v@example.com", "verify_email").await, 2);
}
