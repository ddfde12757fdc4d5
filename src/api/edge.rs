//! What every request passes through: request id, body limit, error rendering, security
//! headers, CORS, and one access-log line.

use std::{sync::Arc, time::Instant};

use tracing::Instrument;

use poem::{
    Endpoint, IntoResponse, PathPattern, Request, Response,
    http::{HeaderValue, Method, header},
};

use super::{access_log, problem};
use crate::{config::Config, error::ErrorCode};

pub const REQUEST_ID: &str = "x-request-id";

pub struct EdgePolicy {
    allow: super::allow::AllowTable,
    max_body_bytes: usize,
    body_read_timeout: std::time::Duration,
    hsts: bool,
    metrics: Arc<crate::telemetry::Metrics>,
    route_names: crate::telemetry::metrics::RouteNames,
    /// Requests get a span of their own (OTLP tracing is on).
    traced: bool,
}

impl EdgePolicy {
    pub fn new(
        config: &Config,
        allow: super::allow::AllowTable,
        metrics: Arc<crate::telemetry::Metrics>,
        route_names: crate::telemetry::metrics::RouteNames,
    ) -> Self {
        Self {
            allow,
            max_body_bytes: config.server.max_body_bytes,
            body_read_timeout: config.server.body_read_timeout.0,
            hsts: config
                .server
                .public_url
                .as_ref()
                .is_some_and(|u| u.scheme() == "https"),
            metrics,
            route_names,
            traced: config.telemetry.otlp_endpoint.is_some(),
        }
    }
}

/// Wrap `next` with the edge behaviour, in a span of its own when tracing is on.
pub async fn handle<E: Endpoint>(
    next: Arc<E>,
    req: Request,
    policy: Arc<EdgePolicy>,
) -> poem::Result<Response> {
    if !policy.traced {
        return answer(next, req, policy, None).await;
    }
    let span = crate::telemetry::otlp::request_span(req.method(), req.headers());
    answer(next, req, policy, Some(span.clone()))
        .instrument(span)
        .await
}

async fn answer<E: Endpoint>(
    next: Arc<E>,
    mut req: Request,
    policy: Arc<EdgePolicy>,
    span: Option<tracing::Span>,
) -> poem::Result<Response> {
    let started = Instant::now();
    let request_id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.chars().all(|c| c.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    // Paths and query strings may carry secrets (`/invites/{token}/accept`, `/ws?token=`): the
    // log shows them masked.
    let logged_path = access_log::path(&path);
    let logged_query = req.uri().query().map(access_log::query);

    let (mut resp, db_statements) = crate::db::statements::counted(async {
        let streamed = streams_body(req.method(), &path);
        match if streamed {
            Ok(())
        } else {
            read_body(&mut req, &policy).await
        } {
            Err(resp) => resp,
            Ok(()) => match next.call(req).await {
                Ok(r) => r.into_response(),
                Err(e) => {
                    // The route that matched, for the metrics (the problem is a new response).
                    let route = e.data::<PathPattern>().cloned();
                    let mut resp = problem::from_poem_error(e);
                    if let Some(route) = route {
                        resp.set_data(route);
                    }
                    resp
                }
            },
        }
    })
    .await;

    if resp.status() == poem::http::StatusCode::METHOD_NOT_ALLOWED
        && let Some(methods) = policy.allow.allow(&path)
        && let Ok(v) = HeaderValue::from_str(methods)
    {
        resp.headers_mut().insert(header::ALLOW, v);
    }
    secure(resp.headers_mut(), &request_id, &path, policy.hsts);

    let status = resp.status().as_u16();
    let took = started.elapsed();
    let route = resp
        .data::<PathPattern>()
        .map(|p| policy.route_names.label(&p.0));
    policy
        .metrics
        .observe_request(&method, route.as_deref(), status, took);
    if let Some(span) = &span {
        crate::telemetry::otlp::finish_request_span(span, &method, route.as_deref(), status);
    }
    let latency_ms = took.as_secs_f64() * 1000.0;
    tracing::info!(
        target: "colink::access",
        request_id = %request_id,
        method = %method,
        path = %logged_path,
        query = logged_query.as_deref(),
        status,
        latency_ms = format_args!("{latency_ms:.2}"),
        db_statements,
        "request"
    );
    Ok(resp)
}

/// The request id and the security headers every answer carries.
fn secure(headers: &mut poem::http::HeaderMap, request_id: &str, path: &str, hsts: bool) {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert(REQUEST_ID, v);
    }
    // The web app's HTML brings its own, stricter policy (`web::HTML_CSP`): keep it.
    let csp = if path.starts_with("/docs") {
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'"
    } else {
        "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
    };
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(csp));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if hsts {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
}

/// Routes whose handler streams the body itself, with its own limits (the declared size of a
/// file, a chunk's size) and an idle timeout per read: file content PUT to CoLink's signed
/// upload URLs and resumable-upload chunks.
fn streams_body(method: &Method, path: &str) -> bool {
    if method != Method::PUT {
        return false;
    }
    let Some(rest) = path.strip_prefix("/api/v1/files/") else {
        return false;
    };
    let parts: Vec<&str> = rest.split('/').collect();
    matches!(
        parts.as_slice(),
        [_, "content"] | ["uploads", _, "chunks", _]
    )
}

/// Read the body whole before the handler runs: 413 when it is over the limit (declared by
/// `Content-Length` or streamed), 408 when it does not arrive within `body_read_timeout` (a client
/// trickling its body cannot hold a connection and a handler open).
async fn read_body(req: &mut Request, policy: &EdgePolicy) -> Result<(), Response> {
    let max = policy.max_body_bytes;
    let too_large = || {
        problem::response(
            ErrorCode::PayloadTooLarge,
            &format!("the request body exceeds {max} bytes"),
            None,
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(len) if len > max as u64 => return Err(too_large()),
        Some(0) => return Ok(()),
        None if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) => {
            return Ok(());
        }
        _ => {}
    }
    let body = req.take_body();
    match tokio::time::timeout(policy.body_read_timeout, body.into_bytes_limit(max)).await {
        Ok(Ok(bytes)) => {
            req.set_body(bytes);
            Ok(())
        }
        Ok(Err(poem::error::ReadBodyError::PayloadTooLarge)) => Err(too_large()),
        Ok(Err(e)) => Err(problem::response(
            ErrorCode::BadRequest,
            &format!("the request body could not be read: {e}"),
            None,
        )),
        Err(_) => Err(problem::response(
            ErrorCode::RequestTimeout,
            &format!(
                "the request body did not arrive within {} s",
                policy.body_read_timeout.as_secs()
            ),
            None,
        )),
    }
}
