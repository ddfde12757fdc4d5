//! Service calls run in tracing spans that carry useful ids and never a secret.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use serde_json::json;
use tracing::{
    field::{Field, Visit},
    span,
};
use tracing_subscriber::{
    Layer,
    layer::{Context, SubscriberExt},
};

use crate::helpers::{PASSWORD, spawn_app};

/// One span as opened: target, name, and every field recorded on it (at creation or later).
#[derive(Debug, Clone)]
struct SpanRecord {
    target: String,
    name: String,
    fields: Vec<(String, String)>,
}

#[derive(Clone, Default)]
struct Capture {
    spans: Arc<Mutex<Vec<SpanRecord>>>,
    by_id: Arc<Mutex<HashMap<u64, usize>>>,
}

struct Fields<'a>(&'a mut Vec<(String, String)>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_string(), value.to_string()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .push((field.name().to_string(), format!("{value:?}")));
    }
}

impl<S: tracing::Subscriber> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, _: Context<'_, S>) {
        let mut fields = Vec::new();
        attrs.record(&mut Fields(&mut fields));
        let mut spans = self.spans.lock().unwrap();
        spans.push(SpanRecord {
            target: attrs.metadata().target().to_string(),
            name: attrs.metadata().name().to_string(),
            fields,
        });
        self.by_id
            .lock()
            .unwrap()
            .insert(id.into_u64(), spans.len() - 1);
    }
    fn on_record(&self, id: &span::Id, values: &span::Record<'_>, _: Context<'_, S>) {
        let Some(&index) = self.by_id.lock().unwrap().get(&id.into_u64()) else {
            return;
        };
        values.record(&mut Fields(&mut self.spans.lock().unwrap()[index].fields));
    }
}

impl Capture {
    /// The `field` of the first `module::function` span that has it.
    fn field(&self, function: &str, field: &str) -> Option<String> {
        let (module, name) = function.rsplit_once("::").unwrap();
        let target = format!("colink::service::{module}");
        self.spans
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.target == target && s.name == name)
            .flat_map(|s| s.fields.iter())
            .find(|(k, _)| k == field)
            .map(|(_, v)| v.clone())
    }
}

/// Setup, invite, registration, login, refresh, TOTP setup and a password reset each run in a
/// span of their service function with the acting user's id; no span field holds a password or
/// token. (The test's runtime is single-threaded, so the server's tasks see this thread's
/// subscriber.)
#[tokio::test]
async fn service_spans_carry_user_ids_and_no_secrets() {
    // Keep a second dispatcher alive: while exactly one is registered, tracing takes a new
    // callsite's interest from the default dispatcher of whichever thread hits it first (here
    // often another test's thread, which has none) and caches "never" for every thread.
    let _second = tracing::Dispatch::new(tracing_subscriber::registry());
    let capture = Capture::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(capture.clone()));
    let app = spawn_app().await;
    let setup_token = app.setup_token().await;
    let (owner, ws) = app.setup_owner().await;
    let invite = app
        .post(
            &format!("/workspaces/{ws}/invites"),
            Some(&owner.access),
            json!({}),
        )
        .await
        .expect(201);
    let invite = invite["token"].as_str().unwrap().to_string();
    app.post(
        "/auth/register",
        None,
        json!({"email": "alice@example.com", "username": "alice", "password": PASSWORD,
               "invite_token": invite}),
    )
    .await
    .expect(201);
    let alice = app.login("alice", PASSWORD).await;
    let refreshed = app
        .post(
            "/auth/refresh",
            None,
            json!({"refresh_token": alice.refresh}),
        )
        .await
        .expect(200);
    let totp = app
        .post(
            "/auth/totp/setup",
            Some(&alice.access),
            json!({"password": PASSWORD}),
        )
        .await
        .expect(200);
    app.post(
        "/auth/password-reset/request",
        None,
        json!({"email": "alice@example.com"}),
    )
    .await
    .expect(202);

    let id = |s: &str| Some(s.to_string());
    assert_eq!(
        capture.field("setup::complete", "user_id"),
        id(&owner.user_id)
    );
    assert_eq!(
        capture.field("workspaces::create_invite", "user_id"),
        id(&owner.user_id)
    );
    assert_eq!(
        capture.field("workspaces::create_invite", "workspace_id"),
        id(&ws)
    );
    assert_eq!(
        capture.field("registration::register", "user_id"),
        id(&alice.user_id)
    );
    assert_eq!(capture.field("login::login", "user_id"), id(&alice.user_id));
    assert_eq!(
        capture.field("sessions::refresh", "user_id"),
        id(&alice.user_id)
    );
    assert_eq!(capture.field("totp::setup", "user_id"), id(&alice.user_id));
    assert!(
        capture
            .spans
            .lock()
            .unwrap()
            .iter()
            .any(|s| s.name == "request_password_reset")
    );

    let secrets = [
        PASSWORD.to_string(),
        setup_token,
        invite,
        owner.access.clone(),
        owner.refresh.clone(),
        alice.access.clone(),
        alice.refresh.clone(),
        refreshed["refresh_token"].as_str().unwrap().to_string(),
        totp["secret"].as_str().unwrap().to_string(),
    ];
    let spans = capture.spans.lock().unwrap();
    for span in spans.iter() {
        for (key, value) in &span.fields {
            assert!(
                !secrets.iter().any(|s| value.contains(s.as_str())),
                "{}::{} records a secret in `{key}`",
                span.target,
                span.name
            );
        }
    }
}
