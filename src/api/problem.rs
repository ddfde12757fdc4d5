//! RFC 9457 problem details: every error leaves the server as `application/problem+json` with a
//! stable `code` from the error table (`crate::error`).

use poem::{
    Response,
    error::ResponseError,
    http::{StatusCode, header},
};
use poem_openapi::types::ToJSON;

use super::{
    body::FieldError,
    statuses::{FieldProblem, ProblemDetails},
};
use crate::error::{AppError, ErrorCode};

/// A field named in a problem's `errors`.
pub struct InvalidField<'a> {
    pub field: &'a str,
    pub message: &'a str,
}

pub fn response(code: ErrorCode, detail: &str, retry_after: Option<u64>) -> Response {
    with_fields(code, detail, retry_after, &[])
}

/// A problem listing the offending fields under `errors`.
pub fn with_fields(
    code: ErrorCode,
    detail: &str,
    retry_after: Option<u64>,
    errors: &[InvalidField<'_>],
) -> Response {
    let status = code.status();
    let body = ProblemDetails {
        kind: format!("urn:colink:error:{}", code.as_str()),
        title: code.title().to_string(),
        status: status.as_u16(),
        detail: detail.to_string(),
        code: code.as_str().to_string(),
        errors: errors
            .iter()
            .map(|f| FieldProblem {
                field: f.field.to_string(),
                message: f.message.to_string(),
            })
            .collect(),
    };
    let mut builder = Response::builder()
        .status(status)
        .content_type("application/problem+json");
    if let Some(secs) = retry_after {
        builder = builder.header(header::RETRY_AFTER, secs.to_string());
    }
    builder.body(body.to_json_string())
}

impl ResponseError for AppError {
    fn status(&self) -> StatusCode {
        self.code.status()
    }
    fn as_response(&self) -> Response {
        let fields: Vec<InvalidField<'_>> = self
            .field
            .iter()
            .map(|f| InvalidField {
                field: f.field,
                message: &f.message,
            })
            .collect();
        with_fields(self.code, &self.detail, self.retry_after, &fields)
    }
}

/// Render any error that reached the edge: our own as they are; the framework's (bad JSON,
/// missing fields, unknown route, missing credentials…) mapped onto the error table.
pub fn from_poem_error(err: poem::Error) -> Response {
    if err.is::<AppError>() {
        return err.into_response();
    }
    if let Some(resp) = field_problem(&err) {
        return resp;
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

/// A body, query or path parameter that did not parse: 400 `validation_failed` naming the
/// field (in `detail` and under `errors`) when it is known.
fn field_problem(err: &poem::Error) -> Option<Response> {
    use poem_openapi::error::{ParseParamError, ParsePathError};
    let (field, message) = if let Some(e) = err.downcast_ref::<FieldError>() {
        (e.field.as_deref(), e.message.as_str())
    } else if let Some(e) = err.downcast_ref::<ParseParamError>() {
        (Some(e.name), e.reason.as_str())
    } else if let Some(e) = err.downcast_ref::<ParsePathError>() {
        // poem-openapi names path parameters `param0`, `param1`… internally: not the public name.
        let detail = format!("invalid path parameter: {}", e.reason);
        return Some(with_fields(ErrorCode::ValidationFailed, &detail, None, &[]));
    } else {
        return None;
    };
    let detail = match field {
        Some(field) => format!("{field}: {message}"),
        None => message.to_string(),
    };
    let fields: Vec<InvalidField<'_>> = field
        .map(|field| InvalidField { field, message })
        .into_iter()
        .collect();
    Some(with_fields(
        ErrorCode::ValidationFailed,
        &detail,
        None,
        &fields,
    ))
}
