//! The audit log's export (API and CLI, parsed with a real CSV parser), its retention purge, and
//! the CLI's people commands beside a running server.

use serde_json::{Value, json};

use crate::{
    cli::{colink, text},
    helpers::{Session, TestApp, WsEnd, spawn_app},
};

/// Every entry through the paged API, newest first.
async fn all_entries(app: &TestApp, admin: &Session) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = app
            .get(&format!("/admin/audit?limit=2{cursor}"), &admin.access)
            .await
            .expect(200);
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return items,
        }
    }
}

fn parse_csv(body: &str) -> Vec<csv::StringRecord> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(body.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "id",
            "created_at",
            "actor_id",
            "action",
            "target_type",
            "target_id",
            "ip",
            "details"
        ]
    );
    reader.records().map(|r| r.unwrap()).collect()
}

#[tokio::test]
async fn the_export_holds_every_entry_oldest_first_as_csv_and_json_lines() {
    let app = spawn_app().await;
    let (owner, _, alice, bob) = app.team().await;
    // A reason a spreadsheet would run as a formula, with a comma, quotes and a line break.
    let reason = "=HYPERLINK(\"http://x\"), said \"bob\"\nline two";
    app.post(
        &format!("/admin/users/{}/suspend", alice.user_id),
        Some(&owner.access),
        json!({ "reason": reason }),
    )
    .await
    .expect(200);
    let expected = all_entries(&app, &owner).await;
    assert!(expected.len() >= 5, "{expected:?}");

    let csv_reply = app
        .client
        .get(format!("{}/api/v1/admin/audit/export?format=csv", app.base))
        .bearer_auth(&owner.access)
        .send()
        .await
        .unwrap();
    assert_eq!(csv_reply.status(), 200);
    assert_eq!(
        csv_reply.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    assert!(
        csv_reply.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("colink-audit.csv")
    );
    let records = parse_csv(&csv_reply.text().await.unwrap());
    let ids: Vec<&str> = records.iter().map(|r| &r[0]).collect();
    let mut newest_first: Vec<&str> = expected.iter().map(|e| e["id"].as_str().unwrap()).collect();
    newest_first.reverse();
    assert_eq!(ids, newest_first, "oldest first, every entry once");
    let suspended = records.iter().find(|r| &r[3] == "user.suspended").unwrap();
    assert_eq!(&suspended[2], owner.user_id.as_str());
    assert_eq!(&suspended[5], alice.user_id.as_str());
    // The formula is defused with a leading quote; the rest survives byte for byte.
    let details: Value = serde_json::from_str(suspended[7].trim_start_matches('\'')).unwrap();
    assert_eq!(details["reason"], reason);

    let lines = app
        .client
        .get(format!(
            "{}/api/v1/admin/audit/export?format=jsonl&action=user.suspended",
            app.base
        ))
        .bearer_auth(&owner.access)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let lines: Vec<Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["details"]["reason"], reason);
    assert_eq!(lines[0]["target_id"], alice.user_id.as_str());

    // Members cannot export.
    app.get("/admin/audit/export", &bob.access)
        .await
        .problem(403, "forbidden");
}

#[tokio::test]
async fn the_purge_deletes_only_entries_past_retention() {
    use colink::db::entity::audit_log;
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, sea_query::Expr};
    let app = spawn_app().await;
    let (owner, _, _, _) = app.team().await;
    let total = audit_log::Entity::find()
        .count(&app.state.db)
        .await
        .unwrap();
    // Age the login entries by two years.
    let old = time::OffsetDateTime::now_utc() - time::Duration::days(730);
    let aged = audit_log::Entity::update_many()
        .col_expr(audit_log::Column::CreatedAt, Expr::value(old))
        .filter(audit_log::Column::Action.eq("auth.login_succeeded"))
        .exec(&app.state.db)
        .await
        .unwrap()
        .rows_affected;
    assert!(aged >= 2, "{aged}");
    let purged = colink::service::audit::purge(&app.state, app.config.audit.retention.0)
        .await
        .unwrap();
    assert_eq!(purged, aged);
    let left = audit_log::Entity::find()
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(left, total - aged);
    assert!(app.audit(&owner, "auth.login_succeeded").await.is_empty());
}

#[tokio::test]
async fn cli_people_commands_reach_a_running_server_and_keep_the_last_owner() {
    let app = spawn_app().await;
    let (owner, _, alice, _) = app.team().await;
    let dir = app.config.data_dir.to_str().unwrap().to_string();
    let db_url = app.config.database_url();
    let env = [
        ("COLINK_DATA_DIR", dir.as_str()),
        ("COLINK_DATABASE__URL", db_url.as_str()),
    ];
    let out = colink(&["admin", "users", "list", "--role", "member"], &env, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listed = text(&out.stdout);
    assert!(listed.lines().any(|l| l.starts_with("alice ")), "{listed}");
    assert!(!listed.lines().any(|l| l.starts_with("owner ")), "{listed}");

    // The CLI deactivates alice: her open socket closes (the server publishes the CLI's
    // outbox rows) and her token is refused once the server's cache entry expires (10 s).
    let mut ws = app.ws(&alice.access).await;
    let out = colink(&["admin", "users", "deactivate", "alice"], &env, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let closed = tokio::time::timeout(std::time::Duration::from_secs(10), ws.closed()).await;
    assert_eq!(
        closed.expect("socket still open after 10 s"),
        WsEnd::Code(4001)
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(11);
    loop {
        let reply = app.get("/users/me", &alice.access).await;
        if reply.status.as_u16() == 401 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "token still accepted after 10 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    // The last active owner.
    for args in [
        &["admin", "users", "set-role", "owner", "member"][..],
        &["admin", "users", "suspend", "owner"][..],
        &["admin", "users", "deactivate", "owner"][..],
    ] {
        let out = colink(args, &env, None);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(
            text(&out.stderr).contains("last active owner"),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    app.get("/users/me", &owner.access).await.expect(200);

    // The audit: one entry for the deactivation, by nobody (the CLI), exported as CSV.
    let out = colink(
        &[
            "admin",
            "audit",
            "--since",
            "1h",
            "--action",
            "user.deactivated",
        ],
        &env,
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let records = parse_csv(&text(&out.stdout));
    assert_eq!(records.len(), 1);
    assert_eq!(&records[0][2], "", "the CLI has no actor");
    assert_eq!(&records[0][5], alice.user_id.as_str());
    let out = colink(
        &["admin", "audit", "--format", "jsonl", "--since", "1h"],
        &env,
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines = text(&out.stdout);
    assert!(lines.lines().count() >= 4);
    for line in lines.lines() {
        serde_json::from_str::<Value>(line).unwrap();
    }
    let out = colink(&["admin", "audit", "--since", "yesterday"], &env, None);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--since"),
        "{}",
        text(&out.stderr)
    );
}
