//! What can go wrong: the transport, the server's RFC 9457 problem (+ `Retry-After` on 429), an
//! answer that does not decode, or the WebSocket.

use std::{fmt, time::Duration};

use reqwest::{Method, StatusCode, header::HeaderMap};
use serde::{Deserialize, Serialize};

/// An RFC 9457 problem, as the server sends it (`application/problem+json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The stable machine code (`not_found`, `validation_failed`, `rate_limited`…).
    pub code: String,
    /// One entry per offending field, for validation failures.
    #[serde(default)]
    pub errors: Vec<FieldProblem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldProblem {
    pub field: String,
    pub message: String,
}

/// A request the server answered with a status outside 2xx.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub method: Method,
    /// The URL path (and query) that was requested.
    pub path: String,
    pub status: StatusCode,
    /// The problem document, when the body was one.
    pub problem: Option<Problem>,
    /// The body as text when it was not a problem document (cut to 1,000 bytes).
    pub body: String,
    /// `Retry-After` (seconds), sent with 429.
    pub retry_after: Option<Duration>,
}

impl ApiError {
    /// Build from a non-2xx answer.
    pub fn new(
        method: Method,
        path: String,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Self {
        let problem = serde_json::from_slice::<Problem>(body).ok();
        let body = if problem.is_some() {
            String::new()
        } else {
            truncate(&String::from_utf8_lossy(body), 1000)
        };
        ApiError {
            method,
            path,
            status,
            problem,
            body,
            retry_after: retry_after(headers),
        }
    }

    /// The problem's `code`, if the answer was a problem document.
    pub fn code(&self) -> Option<&str> {
        self.problem.as_ref().map(|p| p.code.as_str())
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} answered {}", self.method, self.path, self.status)?;
        match &self.problem {
            Some(p) => {
                write!(f, ": {} ({})", p.detail, p.code)?;
                for e in &p.errors {
                    write!(f, "; {}: {}", e.field, e.message)?;
                }
            }
            None if !self.body.is_empty() => write!(f, ": {}", self.body)?,
            None => {}
        }
        if let Some(wait) = self.retry_after {
            write!(f, " (retry after {} s)", wait.as_secs())?;
        }
        if self.status == StatusCode::NOT_FOUND && self.problem.is_none() {
            write!(f, " (is this route implemented in the server build?)")?;
        }
        Ok(())
    }
}

/// `Retry-After` in seconds (the server never sends the HTTP-date form).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse().ok().map(Duration::from_secs)
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request did not complete: connect, timeout, or reading the body.
    #[error("{method} {path}: {}", chain(source))]
    Transport {
        method: Method,
        path: String,
        source: reqwest::Error,
    },
    /// The server answered with an error status.
    #[error("{0}")]
    Api(Box<ApiError>),
    /// A 2xx answer (or WebSocket frame) that is not the expected JSON.
    #[error("{context}: unexpected JSON ({source}): {body}")]
    Decode {
        context: String,
        body: String,
        source: serde_json::Error,
    },
    /// The WebSocket failed (handshake, read or write).
    #[error("WebSocket: {0}")]
    WebSocket(Box<tokio_tungstenite::tungstenite::Error>),
    /// The WebSocket was closed, with the close code when the server sent one.
    #[error("WebSocket closed{}", .code.map(|c| format!(" with code {c}")).unwrap_or_default())]
    Closed { code: Option<u16> },
    /// The server answered a WebSocket frame with an `error` frame.
    #[error("WebSocket error frame: {code}: {message}")]
    Refused { code: String, message: String },
    /// A call that needs a token on a client without one.
    #[error("this call needs a token: use Client::with_token")]
    NoToken,
}

impl Error {
    /// The HTTP status of an [`Error::Api`].
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Api(e) => Some(e.status),
            _ => None,
        }
    }

    /// The problem of an [`Error::Api`] answered with problem+json.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            Error::Api(e) => e.problem.as_ref(),
            _ => None,
        }
    }

    /// The problem's machine `code`.
    pub fn code(&self) -> Option<&str> {
        self.problem().map(|p| p.code.as_str())
    }

    /// How long to wait before retrying (429 with `Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Api(e) => e.retry_after,
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.status() == Some(StatusCode::NOT_FOUND)
    }

    pub(crate) fn decode(
        context: impl Into<String>,
        body: &[u8],
        source: serde_json::Error,
    ) -> Self {
        Error::Decode {
            context: context.into(),
            body: truncate(&String::from_utf8_lossy(body), 500),
            source,
        }
    }
}

impl From<tokio_tungstenite::tungstenite::Error> for Error {
    fn from(e: tokio_tungstenite::tungstenite::Error) -> Self {
        Error::WebSocket(Box::new(e))
    }
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

/// Cut text for an error message (at a character boundary, marked with `…`).
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

#[cfg(test)]
mod tests {
    use super::*;

    fn api_error(status: u16, headers: &[(&str, &str)], body: &str) -> ApiError {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(
                reqwest::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        ApiError::new(
            Method::POST,
            "/api/v1/channels".into(),
            StatusCode::from_u16(status).unwrap(),
            &map,
            body.as_bytes(),
        )
    }

    #[test]
    fn a_validation_problem_keeps_its_fields() {
        let e = api_error(
            400,
            &[("content-type", "application/problem+json")],
            r#"{"type":"https://colink.dev/problems/validation_failed","title":"Bad Request",
                "status":400,"detail":"the body is invalid","code":"validation_failed",
                "errors":[{"field":"name","message":"1–80 letters"}]}"#,
        );
        let p = e.problem.as_ref().expect("a problem");
        assert_eq!(p.code, "validation_failed");
        assert_eq!(p.status, 400);
        assert_eq!(
            p.errors,
            vec![FieldProblem {
                field: "name".into(),
                message: "1–80 letters".into()
            }]
        );
        assert!(e.body.is_empty());
        let shown = Error::Api(Box::new(e)).to_string();
        assert!(shown.contains("validation_failed") && shown.contains("name: 1–80 letters"));
    }

    #[test]
    fn rate_limited_carries_retry_after() {
        let e = api_error(
            429,
            &[("retry-after", "7")],
            r#"{"type":"about:blank","title":"Too Many Requests","status":429,
                "detail":"slow down","code":"rate_limited"}"#,
        );
        let e = Error::Api(Box::new(e));
        assert_eq!(e.code(), Some("rate_limited"));
        assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
        assert_eq!(e.problem().unwrap().errors, vec![]);
    }

    #[test]
    fn a_body_that_is_no_problem_is_kept_as_text() {
        let e = api_error(502, &[], "<html>bad gateway</html>");
        assert!(e.problem.is_none());
        assert_eq!(e.body, "<html>bad gateway</html>");
        assert_eq!(e.code(), None);
        assert!(
            e.to_string()
                .ends_with("502 Bad Gateway: <html>bad gateway</html>")
        );
    }

    #[test]
    fn truncate_cuts_at_a_character_boundary() {
        assert_eq!(truncate("héllo", 2), "h…");
        assert_eq!(truncate(" short ", 10), "short");
    }
}
