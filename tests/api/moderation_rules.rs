//! Moderation rules: `block` refuses sends, replies and edits; `hide` holds a message back from
//! everyone but its author and admins (history, threads, search, the conversations list,
//! WebSocket events) until the queue's restore shows it again; `flag` queues it; catastrophic
//! and oversized patterns are bounded or refused; every change writes one audit row.

use serde_json::{Value, json};

use crate::{
    helpers::{Session, TestApp, spawn_app},
    search::{found, indexed},
};

async fn add_rule(app: &TestApp, admin: &Session, body: Value) -> Value {
    app.post("/admin/moderation/rules", Some(&admin.access), body)
        .await
        .expect(201)
}

async fn history(app: &TestApp, who: &Session, channel: &str) -> Vec<String> {
    app.get(&format!("/channels/{channel}/messages"), &who.access)
        .await
        .expect(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn block_rules_refuse_sends_replies_and_edits_and_removing_one_lifts_it() {
    let app = spawn_app().await;
    let (owner, _, alice, bob) = app.team().await;
    let channel = app.channel(&alice, "lounge", false).await;
    app.join(&bob, &channel).await;
    let root = app.send(&alice, &channel, "a fine message").await;
    let root_id = root["id"].as_str().unwrap();

    // Members cannot make rules.
    app.post(
        "/admin/moderation/rules",
        Some(&alice.access),
        json!({"pattern": "x", "action": "block"}),
    )
    .await
    .problem(403, "forbidden");
    let rule = add_rule(
        &app,
        &owner,
        json!({"pattern": "Forbidden Words", "action": "block", "severity": "high"}),
    )
    .await;
    assert_eq!(rule["kind"], "literal");
    assert_eq!(rule["severity"], "high");
    assert_eq!(rule["created_by"], owner.user_id.as_str());
    let rules = app
        .get("/admin/moderation/rules", &owner.access)
        .await
        .expect(200);
    assert_eq!(rules.as_array().unwrap().len(), 1);

    let refused = app
        .post(
            &format!("/channels/{channel}/messages"),
            Some(&bob.access),
            json!({"content": "these are FORBIDDEN words"}),
        )
        .await
        .problem(422, "content_blocked");
    assert!(!refused["detail"].as_str().unwrap().contains("Forbidden"));
    app.post(
        &format!("/messages/{root_id}/threads"),
        Some(&bob.access),
        json!({"content": "forbidden words in a reply"}),
    )
    .await
    .problem(422, "content_blocked");
    app.put(
        &format!("/messages/{root_id}"),
        &alice.access,
        json!({"content": "now with forbidden words"}),
    )
    .await
    .problem(422, "content_blocked");
    assert_eq!(history(&app, &bob, &channel).await, ["a fine message"]);

    let rule_id = rule["id"].as_str().unwrap();
    app.delete(&format!("/admin/moderation/rules/{rule_id}"), &owner.access)
        .await
        .expect(204);
    app.delete(&format!("/admin/moderation/rules/{rule_id}"), &owner.access)
        .await
        .problem(404, "not_found");
    app.send(&bob, &channel, "forbidden words, allowed again")
        .await;

    let added = app.audit(&owner, "moderation.rule_added").await;
    assert_eq!(added.len(), 1);
    assert_eq!(added[0]["actor_id"], owner.user_id.as_str());
    assert_eq!(added[0]["target_id"], rule_id);
    assert_eq!(added[0]["details"]["pattern"], "Forbidden Words");
    let removed = app.audit(&owner, "moderation.rule_removed").await;
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0]["target_id"], rule_id);
}

#[tokio::test]
async fn hide_rules_hold_a_message_back_until_an_admin_restores_it() {
    let app = spawn_app().await;
    let (owner, _, alice, bob) = app.team().await;
    let channel = app.channel(&alice, "lounge", false).await;
    app.join(&bob, &channel).await;
    let rule = add_rule(
        &app,
        &owner,
        json!({"pattern": r"\bcasino\b", "kind": "regex", "action": "hide"}),
    )
    .await;
    let mut bob_ws = app.ws(&bob.access).await;
    bob_ws.subscribe(&channel).await;
    let mut alice_ws = app.ws(&alice.access).await;
    alice_ws.subscribe(&channel).await;

    let held = app
        .post(
            &format!("/channels/{channel}/messages"),
            Some(&alice.access),
            json!({"content": "visit my Casino tonight @bob"}),
        )
        .await
        .expect(201);
    assert_eq!(held["hidden"], true);
    let held_id = held["id"].as_str().unwrap().to_string();
    // Nobody is notified of it: no mention.
    assert!(held["mentions"]["user_ids"].as_array().unwrap().is_empty());
    let clean = app.send(&alice, &channel, "a clean message").await;
    // The author's connections hear of it; Bob's hear of the next message only.
    let own = alice_ws.event("message.created").await;
    assert_eq!(own["data"]["id"], held_id.as_str());
    assert_eq!(own["data"]["hidden"], true);
    let first = bob_ws.event("message.created").await;
    assert_eq!(first["data"]["id"], clean["id"]);

    // History (the cached latest page and older pages), the conversations list, threads and
    // search: Bob does not see it; Alice and the admin do.
    assert_eq!(history(&app, &bob, &channel).await, ["a clean message"]);
    assert_eq!(
        history(&app, &alice, &channel).await,
        ["a clean message", "visit my Casino tonight @bob"]
    );
    let older = app
        .get(
            &format!("/channels/{channel}/messages?before=100&limit=150"),
            &bob.access,
        )
        .await
        .expect(200);
    assert_eq!(older["items"].as_array().unwrap().len(), 1);
    let thread = app
        .get(&format!("/messages/{held_id}/thread"), &bob.access)
        .await
        .expect(200);
    assert!(
        !thread.to_string().contains("Casino"),
        "the thread shows the held message: {thread}"
    );
    let last_change = colink::domain::clock::now();
    let reply = app
        .post(
            &format!("/messages/{}/threads", clean["id"].as_str().unwrap()),
            Some(&alice.access),
            json!({"content": "casino reply"}),
        )
        .await
        .expect(201);
    assert_eq!(reply["hidden"], true);
    let thread = app
        .get(
            &format!("/messages/{}/thread", clean["id"].as_str().unwrap()),
            &bob.access,
        )
        .await
        .expect(200);
    assert!(!thread.to_string().contains("casino reply"), "{thread}");
    indexed(&app, last_change).await;
    assert!(found(&app.api_as(&bob), "casino").await.is_empty());
    assert!(
        found(&app.api_as(&alice), "casino")
            .await
            .contains(&"visit my Casino tonight @bob".to_string())
    );

    // The queue has it, as the rule's report.
    let queue = app
        .get("/admin/moderation/queue", &owner.access)
        .await
        .expect(200);
    let entry = queue["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["message_id"] == held_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(entry["hidden"], true);
    assert_eq!(entry["reports"][0]["rule_id"], rule["id"]);
    assert!(entry["reports"][0]["reporter_id"].is_null());
    assert!(
        entry["reports"][0]["reason"]
            .as_str()
            .unwrap()
            .contains(r"\bcasino\b")
    );

    // Restoring shows it to everyone.
    let resolve = format!("/admin/moderation/queue/{held_id}/resolve");
    let mut owner_ws = app.ws(&owner.access).await;
    app.post(&resolve, Some(&owner.access), json!({"action": "restore"}))
        .await
        .expect(204);
    let shown = bob_ws
        .expect(|e| {
            e["event"]["type"] == "message.updated" && e["event"]["data"]["id"] == held_id.as_str()
        })
        .await["event"]
        .clone();
    assert!(shown["data"].get("hidden").is_none());
    let action = owner_ws.event("moderation.action").await;
    assert_eq!(action["data"]["action"], "message_restored");
    assert_eq!(
        history(&app, &bob, &channel).await,
        ["a clean message", "visit my Casino tonight @bob"]
    );
    app.post(&resolve, Some(&owner.access), json!({"action": "restore"}))
        .await
        .problem(404, "not_found");
    let audit = app.audit(&owner, "moderation.message_restored").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0]["target_id"], held_id.as_str());

    // A message that is not held back cannot be "restored": its reports are dismissed.
    let plain = app.send(&alice, &channel, "plain").await;
    let plain_id = plain["id"].as_str().unwrap();
    app.post(
        &format!("/messages/{plain_id}/report"),
        Some(&bob.access),
        json!({"reason": "meh"}),
    )
    .await
    .expect(201);
    app.post(
        &format!("/admin/moderation/queue/{plain_id}/resolve"),
        Some(&owner.access),
        json!({"action": "restore"}),
    )
    .await
    .problem(409, "conflict");
}

#[tokio::test]
async fn flag_rules_queue_new_and_edited_messages_once_per_rule() {
    let app = spawn_app().await;
    let (owner, _, alice, bob) = app.team().await;
    let channel = app.channel(&alice, "lounge", false).await;
    app.join(&bob, &channel).await;
    add_rule(&app, &owner, json!({"pattern": "refund", "action": "flag"})).await;
    let m = app.send(&alice, &channel, "hello").await;
    let id = m["id"].as_str().unwrap();
    let queue = || async {
        app.get("/admin/moderation/queue", &owner.access)
            .await
            .expect(200)["items"]
            .as_array()
            .unwrap()
            .clone()
    };
    assert!(queue().await.is_empty());
    for text in ["I want a REFUND", "I still want a refund"] {
        let edited = app
            .put(
                &format!("/messages/{id}"),
                &alice.access,
                json!({"content": text}),
            )
            .await
            .expect(200);
        assert!(edited.get("hidden").is_none());
    }
    let entries = queue().await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["message_id"], id);
    assert_eq!(entries[0]["report_count"], 1);
    assert_eq!(entries[0]["hidden"], false);
    // Flagged messages stay visible.
    assert_eq!(
        history(&app, &bob, &channel).await,
        ["I still want a refund"]
    );
}

#[tokio::test]
async fn catastrophic_patterns_are_bounded_and_oversized_ones_refused() {
    let app = spawn_app().await;
    let (owner, _, alice, _) = app.team().await;
    let channel = app.channel(&alice, "lounge", false).await;
    add_rule(
        &app,
        &owner,
        json!({"pattern": "^(a+)+$", "kind": "regex", "action": "block"}),
    )
    .await;
    // The classic exponential case for backtracking engines: answered at once.
    let near_miss = format!("{}!", "a".repeat(3999));
    app.send(&alice, &channel, &near_miss).await;
    app.post(
        &format!("/channels/{channel}/messages"),
        Some(&alice.access),
        json!({"content": "a".repeat(4000)}),
    )
    .await
    .problem(422, "content_blocked");
    for (pattern, why) in [
        (r"\w{1000}{1000}", "too complex"),
        ("(unclosed", "not a regular expression"),
        (r"(?<=a)b", "not a regular expression"),
    ] {
        let refused = app
            .post(
                "/admin/moderation/rules",
                Some(&owner.access),
                json!({"pattern": pattern, "kind": "regex", "action": "flag"}),
            )
            .await
            .problem(400, "validation_failed");
        assert!(
            refused["detail"].as_str().unwrap().contains(why),
            "{pattern}: {refused}"
        );
    }
    // A literal is never a regex.
    add_rule(
        &app,
        &owner,
        json!({"pattern": "(unclosed", "action": "flag"}),
    )
    .await;
    assert_eq!(app.audit(&owner, "moderation.rule_added").await.len(), 2);
}

#[tokio::test]
async fn the_cli_manages_rules_a_running_server_applies_and_resolves_reports() {
    use std::time::{Duration, Instant};

    use crate::cli::{colink, text};

    let app = spawn_app().await;
    let (owner, _, alice, bob) = app.team().await;
    let channel = app.channel(&alice, "lounge", false).await;
    app.join(&bob, &channel).await;
    let dir = app.config.data_dir.to_str().unwrap().to_string();
    let db_url = app.config.database_url();
    let env = [
        ("COLINK_DATA_DIR", dir.as_str()),
        ("COLINK_DATABASE__URL", db_url.as_str()),
    ];
    let out = colink(
        &[
            "admin",
            "rules",
            "add",
            "spoiler alert",
            "--action",
            "block",
        ],
        &env,
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = colink(&["admin", "rules", "list"], &env, None);
    assert!(
        text(&out.stdout).contains("block  medium  literal  spoiler alert"),
        "{}",
        text(&out.stdout)
    );
    let out = colink(
        &["admin", "rules", "add", "x", "--action", "explode"],
        &env,
        None,
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("flag, hide or block"));

    // The server did not make the rule: it finds it at its next reload (every 5 s).
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let reply = app
            .post(
                &format!("/channels/{channel}/messages"),
                Some(&bob.access),
                json!({"content": "SPOILER ALERT: it was him"}),
            )
            .await;
        if reply.status.as_u16() == 422 {
            break;
        }
        assert_eq!(reply.status.as_u16(), 201, "{}", reply.body);
        assert!(
            Instant::now() < deadline,
            "the server never applied the CLI's rule"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let m = app.send(&alice, &channel, "report me").await;
    let id = m["id"].as_str().unwrap();
    app.post(
        &format!("/messages/{id}/report"),
        Some(&bob.access),
        json!({"reason": "rude\nreally"}),
    )
    .await
    .expect(201);
    let out = colink(&["admin", "reports", "list"], &env, None);
    let listed = text(&out.stdout);
    assert!(
        listed.contains(id) && listed.contains("@alice in lounge"),
        "{listed}"
    );
    assert!(listed.contains("- rude really"), "{listed}");
    let out = colink(
        &["admin", "reports", "resolve", id, "--action", "dismiss"],
        &env,
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = colink(&["admin", "reports", "list"], &env, None);
    assert!(text(&out.stdout).contains("0 message(s) waiting"));
    let audit = app.audit(&owner, "moderation.reports_dismissed").await;
    assert_eq!(audit.len(), 1);
    assert!(audit[0]["actor_id"].is_null());
    assert_eq!(app.audit(&owner, "moderation.rule_added").await.len(), 1);
}

#[tokio::test]
async fn the_rule_test_box_names_the_strongest_action_and_the_matching_rules() {
    let app = spawn_app().await;
    let (owner, _, alice, _) = app.team().await;
    let test = |token: &str, content: &str| {
        let body = json!({ "content": content });
        let token = token.to_string();
        let app = &app;
        async move {
            app.post("/admin/moderation/rules/test", Some(&token), body)
                .await
        }
    };
    // No rules: nothing happens to any text.
    let none = test(&owner.access, "anything at all").await.expect(200);
    assert_eq!(none, json!({"action": null, "rule_ids": []}));

    let flag = add_rule(&app, &owner, json!({"pattern": "refund", "action": "flag"})).await;
    let block = add_rule(
        &app,
        &owner,
        json!({"pattern": r"card\s*\d{4}", "kind": "regex", "action": "block"}),
    )
    .await;
    let flagged = test(&owner.access, "I want a REFUND").await.expect(200);
    assert_eq!(flagged["action"], "flag");
    assert_eq!(flagged["rule_ids"], json!([flag["id"]]));
    let both = test(&owner.access, "refund to card 1234").await.expect(200);
    assert_eq!(both["action"], "block", "block is stronger than flag");
    assert_eq!(both["rule_ids"], json!([flag["id"], block["id"]]));
    // Testing sends nothing and queues nothing.
    assert!(
        app.get("/admin/moderation/queue", &owner.access)
            .await
            .expect(200)["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // Members cannot probe the rules; an empty text is refused.
    test(&alice.access, "refund")
        .await
        .problem(403, "forbidden");
    test(&owner.access, "")
        .await
        .problem(400, "validation_failed");
}
