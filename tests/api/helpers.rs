//! Test harness: spawn the real server (`App::build`, port 0, temp data dir; a fresh PostgreSQL
//! database per test when `COLINK_TEST_DATABASE_URL` is set) and talk to it through the one
//! typed client, `colink-client` (raw requests go through its escape hatch, `Client::request`).

use std::{sync::Arc, time::Duration};

use colink::{App, Config, app::AppState, config::Secret};
use colink_client::{Client, Login, NewChannel, NewInvite, NewMessage, PageQuery, Register, Setup};
use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use tokio::sync::oneshot;

pub const PASSWORD: &str = "tundra-Velvet-41-orbit";

pub struct TestApp {
    pub base: String,
    /// The HTTP client under [`TestApp::api`], for hand-made requests.
    pub client: reqwest::Client,
    /// The typed client, without a token ([`TestApp::api_as`] for a user's).
    pub api: Client,
    pub state: Arc<AppState>,
    pub config: Config,
    pub data_dir: Arc<tempfile::TempDir>,
    /// Where `/metrics` is served apart (`telemetry.metrics_bind`), if it is.
    pub metrics_port: Option<u16>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

pub struct Session {
    pub user_id: String,
    pub access: String,
    pub refresh: String,
}

pub use crate::drive::concurrently;

/// The server's answer: status, headers and the body parsed as JSON (Null when empty).
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// Assert the status; on mismatch show the body.
    #[track_caller]
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.body
        );
        self.body
    }
    /// Assert an RFC 9457 problem with this status and code.
    #[track_caller]
    pub fn problem(self, status: u16, code: &str) -> Value {
        let ct = self
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = self.expect(status);
        assert_eq!(ct, "application/problem+json", "body: {body}");
        assert_eq!(body["code"], code, "body: {body}");
        assert_eq!(body["status"], status, "body: {body}");
        assert!(
            body["title"].is_string() && body["detail"].is_string() && body["type"].is_string()
        );
        body
    }
}

fn init_logging() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        colink::install_crypto_provider();
        if std::env::var("TEST_LOG").is_ok() {
            let _ = colink::telemetry::init(&colink::config::TelemetryConfig::default());
        }
    });
}

/// True when the suite runs with `search.backend = "postgres"` (`COLINK_TEST_SEARCH=postgres`,
/// with `COLINK_TEST_DATABASE_URL`): `.ci/run` runs the search tests that way too.
pub fn postgres_search() -> bool {
    std::env::var("COLINK_TEST_SEARCH").is_ok_and(|s| s == "postgres")
        && std::env::var("COLINK_TEST_DATABASE_URL").is_ok()
}

/// True when the suite runs with `kv.backend = "redis"` (`COLINK_TEST_KV=redis`): `.ci/run`
/// runs the PostgreSQL suite that way, the shape of a clustered deployment.
pub fn redis_kv() -> bool {
    std::env::var("COLINK_TEST_KV").is_ok_and(|s| s == "redis")
}

/// Point `config` at the test Redis (`COLINK_TEST_REDIS_URL`, default 127.0.0.1:6379) under a
/// key prefix of its own, so parallel tests never see each other's keys.
pub fn use_redis_kv(config: &mut Config) {
    let url =
        std::env::var("COLINK_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    config.kv.backend = colink::config::KvBackend::Redis;
    config.kv.url = Some(Secret::new(url));
    config.kv.prefix = format!("colink-test-{}:", uuid::Uuid::now_v7().simple());
}

/// A fresh PostgreSQL database for one test, when the suite runs against PostgreSQL.
pub async fn fresh_database() -> Option<String> {
    let admin_url = std::env::var("COLINK_TEST_DATABASE_URL").ok()?;
    let name = format!("colink_test_{}", uuid::Uuid::now_v7().simple());
    let admin = Database::connect(&admin_url)
        .await
        .expect("connect to COLINK_TEST_DATABASE_URL");
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .expect("create test database");
    admin.close().await.ok();
    let mut url = url::Url::parse(&admin_url).expect("COLINK_TEST_DATABASE_URL is a URL");
    url.set_path(&format!("/{name}"));
    Some(url.to_string())
}

pub fn test_config(data_dir: &std::path::Path) -> Config {
    let mut config = Config {
        data_dir: data_dir.to_path_buf(),
        ..Config::default()
    };
    config.server.bind = "127.0.0.1:0".parse().unwrap();
    config.database.max_connections = 5;
    // Generous limits: the rate-limit tests set their own.
    for limit in [
        &mut config.limits.login_per_ip,
        &mut config.limits.login_per_account,
        &mut config.limits.second_factor_per_user,
        &mut config.limits.register_per_ip,
        &mut config.limits.password_reset_per_ip,
        &mut config.limits.password_reset_per_address,
        &mut config.limits.verification_per_address,
    ] {
        limit.max = 1000;
    }
    // Presence transitions go out at once (the throttle has its own unit tests).
    config.realtime.presence_interval = colink::config::HumanDuration(Duration::ZERO);
    let w = &mut config.limits.writes;
    for bucket in [
        &mut w.messages,
        &mut w.replies,
        &mut w.reactions,
        &mut w.conversations,
        &mut w.invites,
        &mut w.ws_tickets,
    ] {
        bucket.capacity = 100_000;
    }
    config
}

/// Config for a server behind a proxy on 127.0.0.1, so tests choose the client address with
/// `X-Forwarded-For` ([`TestApp::post_from`]).
pub fn behind_proxy(config: &mut Config) {
    config.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
}

pub async fn spawn_app() -> TestApp {
    spawn_with(|_| {}).await
}

pub async fn spawn_with(customise: impl FnOnce(&mut Config)) -> TestApp {
    init_logging();
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let mut config = test_config(dir.path());
    if let Some(url) = fresh_database().await {
        config.database.url = Some(Secret::new(url));
        if postgres_search() {
            config.search.backend = colink::config::SearchBackend::Postgres;
        }
    }
    if redis_kv() {
        use_redis_kv(&mut config);
    }
    customise(&mut config);
    start(config, dir).await
}

/// Start a server on `config` (reusing `data_dir`, e.g. to test a restart).
pub async fn start(config: Config, data_dir: Arc<tempfile::TempDir>) -> TestApp {
    start_subscribed(config, data_dir).await.0
}

/// Like [`start`], but subscribed to the event bus before the outbox relay starts, so nothing
/// published at start-up is missed.
pub async fn start_subscribed(
    config: Config,
    data_dir: Arc<tempfile::TempDir>,
) -> (TestApp, Box<dyn colink::bus::Subscription>) {
    init_logging();
    let app = App::build(config.clone()).await.expect("App::build");
    let subscription = app.state().bus.subscribe().await.expect("subscribe");
    let base = format!("http://127.0.0.1:{}", app.port());
    let metrics_port = app.metrics_port();
    let state = app.state();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let test_app = TestApp {
        api: Client::with_http(&base, client.clone()),
        base,
        client,
        state,
        config,
        data_dir,
        metrics_port,
        stop: Some(stop),
        server: Some(server),
    };
    test_app.wait_ready().await;
    (test_app, subscription)
}

impl TestApp {
    async fn wait_ready(&self) {
        // A client of its own that keeps no connection open afterwards (connection-cap tests
        // count every open connection).
        let probe = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        for _ in 0..500 {
            if let Ok(r) = probe.get(format!("{}/ready", self.base)).send().await
                && r.status() == StatusCode::OK
            {
                return;
            }
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("server never became ready");
    }

    /// Stop the server and wait until it has released its files.
    pub async fn stop(mut self) -> (Config, Arc<tempfile::TempDir>) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task").expect("server ran");
        }
        (self.config.clone(), self.data_dir.clone())
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        self.call_from(None, method, path, token, body).await
    }

    /// `POST` as if from client address `ip`, through a proxy: the request carries
    /// `X-Forwarded-For: ip`, which the server believes when configured with
    /// `server.trusted_proxies = ["127.0.0.1"]` (see [`behind_proxy`]).
    pub async fn post_from(&self, ip: &str, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.call_from(Some(ip), Method::POST, path, token, Some(body))
            .await
    }

    pub async fn call_from(
        &self,
        forwarded_for: Option<&str>,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self.api.request(method, path);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(ip) = forwarded_for {
            req = req.header("x-forwarded-for", ip);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let raw = self.api.send_raw(req).await.expect("request");
        let body = if raw.body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&raw.body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&raw.body).into_owned()))
        };
        Reply {
            status: raw.status,
            headers: raw.headers,
            body,
        }
    }

    /// The typed client with `session`'s access token.
    pub fn api_as(&self, session: &Session) -> Client {
        self.api.with_token(session.access.as_str())
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, Some(token), None).await
    }
    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.call(Method::POST, path, token, Some(body)).await
    }

    pub async fn setup_token(&self) -> String {
        self.state
            .setup
            .pending_token()
            .await
            .expect("setup pending")
    }

    /// Complete first-run setup; returns the owner's session and the workspace id.
    pub async fn setup_owner(&self) -> (Session, String) {
        let token = self.setup_token().await;
        let done = self
            .api
            .setup(&Setup {
                setup_token: &token,
                email: "owner@example.com",
                username: "owner",
                password: PASSWORD,
                workspace_name: "Acme",
            })
            .await
            .unwrap_or_else(|e| panic!("setup: {e}"));
        let session = Session {
            user_id: done.user.id.to_string(),
            access: done.tokens.access_token,
            refresh: done.tokens.refresh_token,
        };
        (session, done.workspace.id.to_string())
    }

    /// Invite + register + login a member of `workspace`.
    pub async fn member(&self, inviter: &Session, workspace: &str, username: &str) -> Session {
        let invite = self
            .api_as(inviter)
            .create_invite(uuid_of(workspace), &NewInvite::default())
            .await
            .unwrap_or_else(|e| panic!("invite: {e}"));
        let email = format!("{username}@example.com");
        self.api
            .register(&Register {
                email: &email,
                username,
                password: PASSWORD,
                invite_token: Some(&invite.token),
                ..Register::default()
            })
            .await
            .unwrap_or_else(|e| panic!("register {username}: {e}"));
        self.login(username, PASSWORD).await
    }

    pub async fn login(&self, login: &str, password: &str) -> Session {
        let answer = self
            .api
            .login(login, password)
            .await
            .unwrap_or_else(|e| panic!("login {login}: {e}"));
        let Some(Login::Tokens(tokens)) = answer.into_login() else {
            panic!("login {login}: an MFA challenge, not tokens");
        };
        let me = self
            .api
            .with_token(tokens.access_token.as_str())
            .me()
            .await
            .unwrap_or_else(|e| panic!("users/me: {e}"));
        Session {
            user_id: me.id.to_string(),
            access: tokens.access_token,
            refresh: tokens.refresh_token,
        }
    }

    /// Audit entries with this action (newest first), read through the admin API.
    pub async fn audit(&self, admin: &Session, action: &str) -> Vec<Value> {
        let page = self
            .api_as(admin)
            .audit(Some(action), &PageQuery::default())
            .await
            .unwrap_or_else(|e| panic!("audit: {e}"));
        page.items
            .iter()
            .map(|entry| serde_json::to_value(entry).unwrap())
            .collect()
    }

    /// Create a channel as `session`; returns its id.
    pub async fn channel(&self, session: &Session, name: &str, private: bool) -> String {
        let channel = self
            .api_as(session)
            .create_channel(&NewChannel {
                name,
                is_private: private,
                ..NewChannel::default()
            })
            .await
            .unwrap_or_else(|e| panic!("create channel {name}: {e}"));
        channel.id.to_string()
    }

    pub async fn join(&self, session: &Session, channel: &str) {
        self.api_as(session)
            .join(uuid_of(channel))
            .await
            .unwrap_or_else(|e| panic!("join {channel}: {e}"));
    }

    /// Post a message; returns it (as JSON, after checking that it decodes as the typed
    /// `Message` of the OpenAPI document).
    pub async fn send(&self, session: &Session, channel: &str, content: &str) -> Value {
        let api = self.api_as(session);
        let sent = api
            .post_message(
                &api.messages_url(uuid_of(channel)),
                &NewMessage::new(content),
            )
            .await
            .unwrap_or_else(|e| panic!("send: {e}"));
        assert_eq!(sent.status, StatusCode::CREATED);
        sent.message()
            .unwrap_or_else(|e| panic!("the message does not decode: {e}"));
        sent.json().expect("JSON")
    }

    /// The item with `id` in the first page of the list at `route` (e.g. `/channels?limit=200`)
    /// as `session` sees it.
    pub async fn listed(&self, route: &str, session: &Session, id: &str) -> Value {
        let page = self.get(route, &session.access).await.expect(200);
        page["items"]
            .as_array()
            .and_then(|items| items.iter().find(|item| item["id"] == id))
            .unwrap_or_else(|| panic!("{route} does not list {id}: {page}"))
            .clone()
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Reply {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// Owner + workspace + members `alice` and `bob`.
    /// `inviter` invites `user` (already signed up) into `workspace`, and `user` accepts; the
    /// invite's token.
    pub async fn invite_into(&self, inviter: &Session, workspace: &str, user: &Session) -> String {
        let invite = self
            .post(
                &format!("/workspaces/{workspace}/invites"),
                Some(&inviter.access),
                json!({}),
            )
            .await
            .expect(201);
        let token = invite["token"].as_str().unwrap();
        self.post(
            &format!("/invites/{token}/accept"),
            Some(&user.access),
            json!({}),
        )
        .await
        .expect(200);
        token.to_string()
    }

    pub async fn team(&self) -> (Session, String, Session, Session) {
        let (owner, ws) = self.setup_owner().await;
        let alice = self.member(&owner, &ws, "alice").await;
        let bob = self.member(&owner, &ws, "bob").await;
        (owner, ws, alice, bob)
    }
}

/// A UUID from a test's id string.
#[track_caller]
pub fn uuid_of(s: &str) -> colink_client::Uuid {
    s.parse().expect("a UUID")
}

pub use crate::ws_client::{FRAME_TIMEOUT, WsClient, WsEnd, WsStream};
