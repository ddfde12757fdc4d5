//! RFC 9457 problem details: every error leaves the server as `application/problem+json` with a
//! stable `code` from the error table (`crate::error`).

use poem::{
    Response,
    error::ResponseError,
    http::{StatusCode, header},
};
use serde::Serialize;

use crate::error::{AppError, ErrorCode};

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: &'a str,
    code: &'a str,
}

pub fn response(code: ErrorCode, detail: &str, retry_after: Option<u64>) -> Response {
    let status = code.status();
    let body = Problem {
        kind: format!("urn:colink:error:{}", code.as_str()),
        title: code.title(),
        status: status.as_u16(),
        detail,
        code: code.as_str(),
    };
    let mut builder = Response::builder()
        .status(status)
        .content_type("application/problem+json");
    if let Some(secs) = retry_after {
        builder = builder.header(header::RETRY_AFTER, secs.to_string());
    }
    builder.body(serde_json::to_vec(&body).unwrap_or_default())
}

impl ResponseError for AppError {
    fn status(&self) -> StatusCode {
        self.code.status()
    }
    fn as_response(&self) -> Response {
        response(self.code, &self.detail, self.retry_after)
    }
}

/// Render any error that reached the edge: our own as they are; the framework's (bad JSON,
/// missing fields, unknown route, missing credentials…) mapped onto the error table.
pub fn from_poem_error(err: poem::Error) -> Response {
    if err.is::<AppError>() {
        return err.into_response();
    }
    let status = err.status();
    let code = match status {
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => ErrorCode::ValidationFailed,
        StatusCode::UNAUTHORIZED => ErrorCode::Unauthorized,
        StatusCode::FORBIDDEN => ErrorCode::Forbidden,
        StatusCode::NOT_FOUND => ErrorCode::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
        StatusCode::TOO_MANY_REQUESTS => ErrorCode::RateLimited,
        s if s.is_client_error() => ErrorCode::BadRequest,
        _ => {
            tracing::error!(error = %err, "unhandled server error");
            ErrorCode::Internal
        }
    };
    let detail = match code {
        ErrorCode::Internal => "an unexpected error occurred".to_string(),
        ErrorCode::Unauthorized => "a valid bearer access token is required".to_string(),
        ErrorCode::NotFound => "no such resource".to_string(),
        _ => err.to_string(),
    };
    let mut resp = response(code, &detail, None);
    // Keep the framework's status when it differs (e.g. 422 stays 422, 400 stays 400).
    if status.is_client_error() {
        resp.set_status(status);
    }
    resp
}
