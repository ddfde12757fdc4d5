//! The sidebar and history routes cost a constant number of database statements per page
//! (issue 9): a page of 1 conversation and a page of 40 (channels and DMs whose last messages
//! have reactions, mentions, pins and replies after them) take the same number. The count is
//! what the access log reports as `db_statements` for the request.

use std::sync::{Arc, Mutex};

use serde_json::json;
use tracing::field::{Field, Visit};
use tracing_subscriber::{
    Layer,
    layer::{Context, SubscriberExt},
};

use crate::helpers::{Session, TestApp, spawn_app};

/// `db_statements` of every access log line, by path and query.
#[derive(Clone, Default)]
struct AccessLog(Arc<Mutex<Vec<(String, u64)>>>);

#[derive(Default)]
struct Line {
    path: String,
    query: String,
    statements: Option<u64>,
}

impl Visit for Line {
    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "db_statements" {
            self.statements = Some(value);
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "path" => self.path = value.to_string(),
            "query" => self.query = value.to_string(),
            _ => {}
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.record_str(field, format!("{value:?}").trim_matches('"'));
    }
}

impl<S: tracing::Subscriber> Layer<S> for AccessLog {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() != "colink::access" {
            return;
        }
        let mut line = Line::default();
        event.record(&mut line);
        if let Some(n) = line.statements {
            let uri = if line.query.is_empty() {
                line.path
            } else {
                format!("{}?{}", line.path, line.query)
            };
            self.0.lock().unwrap().push((uri, n));
        }
    }
}

impl AccessLog {
    /// The statements a GET of `path` costs once the caches are warm: the fewest of three.
    async fn statements(&self, app: &TestApp, who: &Session, path: &str) -> u64 {
        let mut fewest = u64::MAX;
        for _ in 0..3 {
            app.get(path, &who.access).await.expect(200);
            let logged = self.0.lock().unwrap().last().cloned();
            let (uri, n) = logged.expect("an access log line");
            assert_eq!(uri, format!("/api/v1{path}"), "the line of this request");
            fewest = fewest.min(n);
        }
        fewest
    }
}

/// A channel whose newest message has a reaction, a mention and a pin, with replies after it.
async fn busy_channel(app: &TestApp, owner: &Session, alice: &Session, name: &str) -> String {
    let id = app.channel(owner, name, false).await;
    app.join(alice, &id).await;
    app.send(owner, &id, "an older message").await;
    let last = app.send(owner, &id, "hello @alice").await;
    let last = last["id"].as_str().unwrap().to_string();
    app.post(
        &format!("/messages/{last}/reactions"),
        Some(&alice.access),
        json!({"emoji": "tada"}),
    )
    .await
    .expect(201);
    app.post(
        &format!("/messages/{last}/pin"),
        Some(&owner.access),
        json!({}),
    )
    .await
    .expect(200);
    app.post(
        &format!("/messages/{last}/threads"),
        Some(&alice.access),
        json!({"content": "a reply after it"}),
    )
    .await
    .expect(201);
    id
}

/// A DM between alice and `other` with a message.
async fn dm(app: &TestApp, alice: &Session, other: &Session) {
    let created = app
        .post(
            "/dms",
            Some(&alice.access),
            json!({"participant_ids": [other.user_id]}),
        )
        .await
        .expect(201);
    let id = created["id"].as_str().unwrap().to_string();
    app.send(other, &id, "hi @alice").await;
}

#[tokio::test]
async fn sidebar_and_history_pages_cost_a_constant_number_of_statements() {
    // See `instrumentation.rs`: a second dispatcher keeps callsite interest per thread.
    let _second = tracing::Dispatch::new(tracing_subscriber::registry());
    let log = AccessLog::default();
    let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(log.clone()));
    let app = spawn_app().await;
    let (owner, ws, alice, bob) = app.team().await;
    let first = busy_channel(&app, &owner, &alice, "first").await;
    dm(&app, &alice, &bob).await;

    let routes = [
        "/conversations?limit=50".to_string(),
        "/channels?limit=50".to_string(),
        "/dms?limit=50".to_string(),
        format!("/channels/{first}/messages?limit=30"),
    ];
    let mut few = Vec::new();
    for route in &routes {
        few.push(log.statements(&app, &alice, route).await);
    }

    for i in 0..30 {
        busy_channel(&app, &owner, &alice, &format!("more-{i}")).await;
    }
    for i in 0..8 {
        let other = app.member(&owner, &ws, &format!("peer{i}")).await;
        dm(&app, &alice, &other).await;
    }
    for _ in 0..40 {
        busy_channel_message(&app, &owner, &alice, &first).await;
    }
    let listed = app
        .get("/conversations?limit=50", &alice.access)
        .await
        .expect(200);
    assert_eq!(
        listed["items"].as_array().unwrap().len(),
        41,
        "31 channels, #general, 9 DMs"
    );

    for (route, before) in routes.iter().zip(few) {
        let after = log.statements(&app, &alice, route).await;
        eprintln!("{route}: {after} statements");
        assert_eq!(
            after, before,
            "{route}: statements with 1 and with many rows"
        );
        // The bounds as built: authentication is cached; a page, the memberships, the last
        // messages with their reactions and mentions, DM participants.
        assert!(after <= 6, "{route}: {after} statements");
    }

    // The newest page again, nothing changed since: served from memory (`latest_page`) after
    // the access check, which also reads the page's key; one more for the caller's own
    // reactions, as this page has some.
    let newest = format!("/channels/{first}/messages?limit=30");
    log.statements(&app, &alice, &newest).await;
    assert_eq!(log.statements(&app, &alice, &newest).await, 2);
}

/// One more message in `channel` with a reaction and a mention (for the history page).
async fn busy_channel_message(app: &TestApp, owner: &Session, alice: &Session, channel: &str) {
    let sent = app.send(owner, channel, "more for @alice").await;
    let id = sent["id"].as_str().unwrap().to_string();
    app.post(
        &format!("/messages/{id}/reactions"),
        Some(&alice.access),
        json!({"emoji": "eyes"}),
    )
    .await
    .expect(201);
}
