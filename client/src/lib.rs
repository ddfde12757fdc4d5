//! `colink-client`: a typed client for the CoLink HTTP API (`/api/v1`) and WebSocket gateway
//! (`/ws`), for Rust bots, the integration tests and `colink-bench`.
//!
//! ```no_run
//! use colink_client::{Client, Login, NewMessage, ws::ServerFrame};
//!
//! # async fn bot() -> Result<(), colink_client::Error> {
//! let anon = Client::new("http://127.0.0.1:8080");
//! let Some(Login::Tokens(tokens)) = anon.login("echobot", "its-password").await?.into_login()
//! else { panic!("this bot has no second factor") };
//! let bot = anon.with_token(tokens.access_token);
//! let general = bot.channels(&Default::default()).await?.items.remove(0);
//! let mut ws = bot.ws_connect().await?;
//! ws.subscribe(general.id).await?;
//! while let ServerFrame::Event { event } = ws.next_frame().await? {
//!     if event.kind == "message.created" && event.data["content"] == "ping" {
//!         bot.send_message(general.id, &NewMessage::new("pong")).await?;
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! Every call answers `Result<T, Error>`; a refused request is [`Error::Api`] carrying the
//! problem+json document ([`Problem`]: `status`, `code`, `detail`, `errors`) and `Retry-After`.
//! [`Client::raw`] and [`Client::request`] are the escape hatch for requests the typed methods
//! cannot express (tests of malformed input, routes not covered yet).

mod error;
mod files;
mod routes;
mod search;
mod types;
pub mod ws;

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
pub use error::{ApiError, Error, FieldProblem, Problem, chain, retry_after, truncate};
pub use files::{DownloadUrl, File, NewResumable, NewUpload, SharedFile, UploadStatus, UploadUrl};
pub use reqwest::{self, Method, StatusCode, header::HeaderMap};
pub use search::{
    ChannelRef, FileHit, FileResults, MessageHit, MessageResults, MessageSearch, UserRef,
};
use serde::{Serialize, de::DeserializeOwned};
pub use types::*;
pub use uuid::Uuid;

/// A handle on one server, optionally authenticated. Cloning is cheap (reference counts only),
/// so keep one per user and clone it into tasks.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    /// `http://host:port`, without a trailing slash.
    base: Arc<str>,
    token: Option<Arc<str>>,
}

/// A whole answer, whatever its status: what [`Client::raw`] returns.
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl RawResponse {
    /// The body as JSON (`null` when empty).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        decode_json(&self.body, || format!("answer with status {}", self.status))
    }
}

/// The answer to a message post, not yet decoded: 201 for a new message, 200 when the
/// `client_id` was seen before (the original message comes back).
#[derive(Debug, Clone)]
pub struct Sent {
    pub status: StatusCode,
    pub body: Bytes,
}

impl Sent {
    /// Whether this post created the message (201) rather than repeating an earlier one (200).
    pub fn created(&self) -> bool {
        self.status == StatusCode::CREATED
    }

    pub fn message(&self) -> Result<Message, Error> {
        self.json()
    }

    /// The body as any JSON type (e.g. `serde_json::Value`).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        decode_json(&self.body, || "the posted message".to_owned())
    }
}

/// The URL that messages of one channel are posted to, built once (see [`Client::post_message`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessagesUrl(String);

impl MessagesUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn decode_json<T: DeserializeOwned>(
    body: &[u8],
    context: impl FnOnce() -> String,
) -> Result<T, Error> {
    // An empty body decodes as JSON null (so `()` and `Option<_>` work for 204).
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"null"
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| Error::decode(context(), body, e))
}

impl Client {
    /// A client of `base_url` (`http://host:port`) with a 30 s timeout and no token.
    pub fn new(base_url: &str) -> Client {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            // Building fails only when a TLS backend cannot start; this build has none.
            .unwrap_or_default();
        Client::with_http(base_url, http)
    }

    /// A client that sends through `http` (for pool sizes, timeouts, proxies of your own).
    pub fn with_http(base_url: &str, http: reqwest::Client) -> Client {
        Client {
            http,
            base: base_url.trim_end_matches('/').into(),
            token: None,
        }
    }

    /// The same server and connection pool, authenticated with `token` (an access token).
    pub fn with_token(&self, token: impl Into<Arc<str>>) -> Client {
        Client {
            token: Some(token.into()),
            ..self.clone()
        }
    }

    /// The same server and connection pool, without a token.
    pub fn anonymous(&self) -> Client {
        Client {
            token: None,
            ..self.clone()
        }
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The URL of `path`: API paths (`/channels`, `/ws/ticket`) get the `/api/v1` prefix;
    /// `/api…`, `/health`, `/ready`, `/metrics`, `/docs…` and the gateway `/ws?…` are taken as
    /// they are; a full URL is kept.
    pub fn url(&self, path: &str) -> String {
        const UNPREFIXED: [&str; 5] = ["/api", "/health", "/ready", "/metrics", "/docs"];
        let gateway = path == "/ws" || path.starts_with("/ws?");
        if !path.starts_with('/') {
            path.to_owned()
        } else if gateway || UNPREFIXED.iter().any(|p| path.starts_with(p)) {
            format!("{}{path}", self.base)
        } else {
            format!("{}/api/v1{path}", self.base)
        }
    }

    /// A request to `path` (see [`Client::url`]) carrying this client's token, to finish with
    /// headers or a body of your own and send with [`Client::send_raw`].
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let req = self.http.request(method, self.url(path));
        match &self.token {
            Some(token) => req.bearer_auth(token),
            None => req,
        }
    }

    /// Send a request and return the answer whatever its status; only a transport failure is
    /// an error.
    pub async fn send_raw(&self, req: reqwest::RequestBuilder) -> Result<RawResponse, Error> {
        let (client, req) = req.build_split();
        let req = req.map_err(|source| Error::Transport {
            method: Method::GET,
            path: String::new(),
            source,
        })?;
        let (method, path) = (req.method().clone(), req.url().path().to_owned());
        let transport = |source| Error::Transport {
            method: method.clone(),
            path: path.clone(),
            source,
        };
        let resp = client.execute(req).await.map_err(transport)?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.bytes().await.map_err(transport)?;
        Ok(RawResponse {
            status,
            headers,
            body,
        })
    }

    /// The escape hatch: any method, path and JSON body (malformed on purpose if you like),
    /// answered whatever the status.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<RawResponse, Error> {
        let mut req = self.request(method, path);
        if let Some(body) = body {
            req = req.json(body);
        }
        self.send_raw(req).await
    }

    /// Send, and return the body of a 2xx answer; anything else is [`Error::Api`].
    async fn fetch(
        &self,
        method: Method,
        path: &str,
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<(StatusCode, Bytes), Error> {
        self.fetch_url(method, &self.url(path), body).await
    }

    /// [`Client::fetch`] of a full URL. Nothing is allocated here on success beyond what
    /// reqwest needs; error details are built only on the error path.
    async fn fetch_url(
        &self,
        method: Method,
        url: &str,
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<(StatusCode, Bytes), Error> {
        let mut req = self.http.request(method.clone(), url);
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let path = || url.strip_prefix(&*self.base).unwrap_or(url).to_owned();
        let resp = req.send().await.map_err(|source| Error::Transport {
            method: method.clone(),
            path: path(),
            source,
        })?;
        let status = resp.status();
        if status.is_success() {
            let body = resp.bytes().await.map_err(|source| Error::Transport {
                method,
                path: path(),
                source,
            })?;
            return Ok((status, body));
        }
        let headers = resp.headers().clone();
        let body = resp.bytes().await.unwrap_or_default();
        Err(Error::Api(Box::new(ApiError::new(
            method,
            path(),
            status,
            &headers,
            &body,
        ))))
    }

    /// Send and decode a 2xx JSON answer.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<T, Error> {
        let (_, bytes) = self.fetch(method.clone(), path, body).await?;
        decode_json(&bytes, || format!("{method} {path}"))
    }

    /// Send and expect a 2xx answer whose body does not matter (usually 204).
    async fn call_empty(
        &self,
        method: Method,
        path: &str,
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<(), Error> {
        self.fetch(method, path, body).await.map(|_| ())
    }

    fn require_token(&self) -> Result<(), Error> {
        match self.token {
            Some(_) => Ok(()),
            None => Err(Error::NoToken),
        }
    }
}

/// `?k=v&…` from the parameters that are set (values percent-encoded).
fn query(params: &[(&str, Option<String>)]) -> String {
    let mut out = String::new();
    for (key, value) in params {
        if let Some(value) = value {
            out.push(if out.is_empty() { '?' } else { '&' });
            out.push_str(key);
            out.push('=');
            encode(&mut out, value);
        }
    }
    out
}

/// Percent-encode `value` (all but RFC 3986 unreserved characters) onto `out`.
fn encode(out: &mut String, value: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_get_the_api_prefix_unless_they_are_operations_routes() {
        let c = Client::new("http://127.0.0.1:8080/");
        assert_eq!(c.url("/channels"), "http://127.0.0.1:8080/api/v1/channels");
        assert_eq!(c.url("/ready"), "http://127.0.0.1:8080/ready");
        assert_eq!(
            c.url("/ws/ticket"),
            "http://127.0.0.1:8080/api/v1/ws/ticket"
        );
        assert_eq!(c.url("/ws?ticket=x"), "http://127.0.0.1:8080/ws?ticket=x");
        assert_eq!(
            c.url("/api/openapi.json"),
            "http://127.0.0.1:8080/api/openapi.json"
        );
        assert_eq!(c.url("http://elsewhere/x"), "http://elsewhere/x");
    }

    #[test]
    fn query_strings_skip_unset_parameters_and_encode_values() {
        assert_eq!(query(&[("a", None), ("b", None)]), "");
        assert_eq!(
            query(&[
                ("cursor", Some("a+b/c=".into())),
                ("limit", Some("5".into()))
            ]),
            "?cursor=a%2Bb%2Fc%3D&limit=5"
        );
    }

    #[test]
    fn a_login_answer_is_tokens_or_a_challenge() {
        let tokens: LoginResponse = serde_json::from_str(
            r#"{"access_token":"a","refresh_token":"r","token_type":"Bearer","expires_in":900}"#,
        )
        .unwrap();
        assert!(matches!(tokens.into_login(), Some(Login::Tokens(t)) if t.access_token == "a"));
        let mfa: LoginResponse =
            serde_json::from_str(r#"{"mfa_required":true,"mfa_token":"m"}"#).unwrap();
        assert_eq!(
            mfa.into_login(),
            Some(Login::MfaRequired {
                mfa_token: "m".into()
            })
        );
    }
}
