//! A thin JSON client for the CoLink HTTP API with error messages that name the failing step.

use std::{fmt, sync::Arc, time::Duration};

use anyhow::{Context, Result};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;

/// A request that got an unexpected HTTP status; kept as a type so callers can react to
/// e.g. 404 (route not built yet) with `anyhow::Error::downcast_ref`.
#[derive(Debug)]
pub struct HttpError {
    pub step: String,
    pub method: Method,
    pub path: String,
    pub status: StatusCode,
    pub body: String,
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} {} answered {}: {}",
            self.step, self.method, self.path, self.status, self.body
        )?;
        if self.status == StatusCode::NOT_FOUND {
            write!(
                f,
                " (is this route implemented in the server build under test?)"
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for HttpError {}

/// Whether `err` is an [`HttpError`] with status 404.
pub fn is_not_found(err: &anyhow::Error) -> bool {
    err.downcast_ref::<HttpError>()
        .is_some_and(|e| e.status == StatusCode::NOT_FOUND)
}

/// An error with its sources, `outer: inner: innermost` (reqwest's Display shows only the top).
pub fn chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        out.push_str(": ");
        out.push_str(&e.to_string());
        source = e.source();
    }
    out
}

/// Cut a response body for an error message.
pub fn truncate(body: &str, max: usize) -> String {
    let body = body.trim();
    if body.len() <= max {
        return body.to_owned();
    }
    let mut end = max;
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &body[..end])
}

#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    /// `http://host:port`, without a trailing slash.
    pub base: Arc<str>,
}

impl Api {
    /// One shared client: HTTP/1.1 keep-alive with at least `pool` idle connections kept.
    pub fn new(base: &str, pool: usize) -> Result<Api> {
        let http = reqwest::Client::builder()
            .http1_only()
            .pool_max_idle_per_host(pool)
            .pool_idle_timeout(Duration::from_secs(300))
            .tcp_nodelay(true)
            .no_proxy()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .build()
            .context("building the HTTP client")?;
        Ok(Api {
            http,
            base: base.trim_end_matches('/').into(),
        })
    }

    /// Full URL of an API path such as `/channels` (the `/api/v1` prefix is added).
    pub fn url(&self, path: &str) -> String {
        format!("{}/api/v1{}", self.base, path)
    }

    /// `POST` a JSON body (or none) and decode a 2xx JSON answer.
    pub async fn post<T: DeserializeOwned>(
        &self,
        step: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&serde_json::Value>,
    ) -> Result<T> {
        self.call(step, Method::POST, path, token, body).await
    }

    /// `GET` and decode a 2xx JSON answer.
    pub async fn get<T: DeserializeOwned>(
        &self,
        step: &str,
        path: &str,
        token: Option<&str>,
    ) -> Result<T> {
        self.call(step, Method::GET, path, token, None).await
    }

    async fn call<T: DeserializeOwned>(
        &self,
        step: &str,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&serde_json::Value>,
    ) -> Result<T> {
        let mut req = self.http.request(method.clone(), self.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("{step}: {method} /api/v1{path}: request failed"))?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .with_context(|| format!("{step}: {method} /api/v1{path}: reading the response"))?;
        if !status.is_success() {
            return Err(HttpError {
                step: step.to_owned(),
                method,
                path: format!("/api/v1{path}"),
                status,
                body: truncate(&text, 1000),
            }
            .into());
        }
        // An empty 2xx body decodes as JSON null (e.g. a join that answers 204).
        let text = if text.trim().is_empty() {
            "null"
        } else {
            &text
        };
        serde_json::from_str(text).with_context(|| {
            format!(
                "{step}: {method} /api/v1{path} answered {status} with unexpected JSON: {}",
                truncate(text, 500)
            )
        })
    }
}
