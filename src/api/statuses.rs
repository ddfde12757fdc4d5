//! The error answers of each route, in its signature and in the OpenAPI document.
//!
//! A handler returns [`ApiResult<T, S>`]: `T` is the success response, `S` the error statuses the
//! route can answer, written as a tuple of status markers (`(Authed, Body, NotFound, Conflict)`).
//! Each status is documented as `application/problem+json` ([`ProblemDetails`]) with the error
//! codes of that status from the table in `crate::error`, so the document says exactly which
//! problems a client must handle, and a generated client gets a typed error for each.
//!
//! Markers for what the edge and the extractors answer before a handler runs:
//! - [`Authed`]: 401 (no, expired or revoked token) and 403 (suspended, 2FA enrolment pending);
//! - [`Body`]: 400 (a body that does not parse or breaks a rule), 408 (not sent in time),
//!   413 (too large), 415 (not JSON);
//! - [`BadRequest`]: a query or path parameter that does not parse.

use std::{collections::BTreeMap, marker::PhantomData, sync::OnceLock};

use poem_openapi::{
    ApiResponse, Object,
    registry::{MetaHeader, MetaMediaType, MetaResponse, MetaResponses, Registry},
    types::Type,
};

use crate::error::{AppError, ErrorCode};

/// RFC 9457 problem details, as every error leaves the server.
#[derive(Object)]
#[oai(rename = "Problem")]
pub struct ProblemDetails {
    /// `urn:colink:error:<code>`.
    #[oai(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The stable machine-readable code (see the error table in the README).
    pub code: String,
    /// Validation failures: each offending field.
    #[oai(default, skip_serializing_if_is_empty)]
    pub errors: Vec<FieldProblem>,
}

/// One field of a request that broke a rule.
#[derive(Object)]
pub struct FieldProblem {
    /// The field (`content`, `inner.name`, `ids[2]`).
    pub field: String,
    pub message: String,
}

/// A set of error statuses a route answers.
pub trait Statuses {
    fn push(out: &mut Vec<u16>);
}

macro_rules! status_markers {
    ($($(#[$doc:meta])* $name:ident = $status:literal;)*) => {
        $(
            $(#[$doc])*
            pub struct $name;
            impl Statuses for $name {
                fn push(out: &mut Vec<u16>) {
                    out.push($status);
                }
            }
        )*
    };
}

status_markers! {
    /// 400: a parameter or body that does not parse or breaks a rule.
    BadRequest = 400;
    /// 401: no valid credentials.
    Unauthorized = 401;
    /// 403: not allowed.
    Forbidden = 403;
    /// 404: no such resource, or one the caller may not see.
    NotFound = 404;
    /// 408: the body did not arrive in time.
    RequestTimeout = 408;
    /// 409: the resource's state forbids it (taken, archived, already done).
    Conflict = 409;
    /// 410: an invite expired or used up.
    Gone = 410;
    /// 413: the body is too large.
    PayloadTooLarge = 413;
    /// 416: a `Range` that is not in the file.
    RangeNotSatisfiable = 416;
    /// 415: the body is not JSON.
    UnsupportedMediaType = 415;
    /// 422: the content is refused by a moderation rule.
    UnprocessableContent = 422;
    /// 429: a rate limit; `Retry-After` says when to try again.
    TooManyRequests = 429;
    /// 503: a backend (database, key-value store) is unreachable.
    Unavailable = 503;
}

/// What a bearer-token route answers before the handler runs.
pub type Authed = (Unauthorized, Forbidden);
/// What a route with a JSON body answers before the handler runs.
pub type Body = (
    BadRequest,
    RequestTimeout,
    PayloadTooLarge,
    UnsupportedMediaType,
);

macro_rules! tuple_statuses {
    ($($t:ident),*) => {
        impl<$($t: Statuses),*> Statuses for ($($t,)*) {
            #[allow(unused_variables)]
            fn push(out: &mut Vec<u16>) {
                $($t::push(out);)*
            }
        }
    };
}
tuple_statuses!();
tuple_statuses!(A);
tuple_statuses!(A, B);
tuple_statuses!(A, B, C);
tuple_statuses!(A, B, C, D);
tuple_statuses!(A, B, C, D, E);
tuple_statuses!(A, B, C, D, E, F);
tuple_statuses!(A, B, C, D, E, F, G);
tuple_statuses!(A, B, C, D, E, F, G, H);

/// A route's error: an [`AppError`] whose possible statuses `S` are documented.
pub struct Problem<S>(pub AppError, PhantomData<S>);

/// What a handler returns.
pub type ApiResult<T, S> = Result<T, Problem<S>>;

impl<S> From<AppError> for Problem<S> {
    fn from(e: AppError) -> Self {
        Self(e, PhantomData)
    }
}

impl<S> From<crate::domain::Invalid> for Problem<S> {
    fn from(e: crate::domain::Invalid) -> Self {
        Self(e.into(), PhantomData)
    }
}

impl<S> From<Problem<S>> for poem::Error {
    fn from(p: Problem<S>) -> Self {
        poem::Error::from(p.0)
    }
}

impl<S: Statuses + Send + Sync + 'static> ApiResponse for Problem<S> {
    fn meta() -> MetaResponses {
        let mut statuses = Vec::new();
        S::push(&mut statuses);
        statuses.sort_unstable();
        statuses.dedup();
        MetaResponses {
            responses: statuses.into_iter().map(problem_response).collect(),
        }
    }

    fn register(registry: &mut Registry) {
        ProblemDetails::register(registry);
    }
}

fn problem_response(status: u16) -> MetaResponse {
    let headers = if status == 429 {
        vec![MetaHeader {
            name: "Retry-After".into(),
            description: Some("Seconds to wait before trying again.".into()),
            required: true,
            deprecated: false,
            schema: u64::schema_ref(),
        }]
    } else {
        Vec::new()
    };
    MetaResponse {
        description: description(status),
        status: Some(status),
        status_range: None,
        content: vec![MetaMediaType {
            content_type: "application/problem+json",
            schema: ProblemDetails::schema_ref(),
        }],
        headers,
    }
}

/// "Problem: `not_found`" — the codes of the error table with this status, for the document.
fn description(status: u16) -> &'static str {
    static DESCRIPTIONS: OnceLock<BTreeMap<u16, &'static str>> = OnceLock::new();
    let all = DESCRIPTIONS.get_or_init(|| {
        let mut by_status: BTreeMap<u16, Vec<String>> = BTreeMap::new();
        for code in ErrorCode::ALL {
            by_status
                .entry(code.status().as_u16())
                .or_default()
                .push(format!("`{}`", code.as_str()));
        }
        by_status
            .into_iter()
            .map(|(status, codes)| {
                let text = format!("Problem: {}.", codes.join(", "));
                (status, &*Box::leak(text.into_boxed_str()))
            })
            .collect()
    });
    all.get(&status).copied().unwrap_or("Problem.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_documented_once_each_in_order_with_their_codes() {
        type Route = (Authed, Body, NotFound, Forbidden, TooManyRequests);
        let meta = <Problem<Route> as ApiResponse>::meta();
        let statuses: Vec<u16> = meta.responses.iter().filter_map(|r| r.status).collect();
        assert_eq!(statuses, [400, 401, 403, 404, 408, 413, 415, 429]);
        let not_found = &meta.responses[3];
        assert_eq!(not_found.description, "Problem: `not_found`.");
        let limited = &meta.responses[7];
        assert_eq!(limited.headers[0].name, "Retry-After");
        assert!(
            meta.responses
                .iter()
                .all(|r| r.content[0].content_type == "application/problem+json")
        );
    }

    #[test]
    fn every_status_of_the_error_table_has_a_marker_description() {
        for code in ErrorCode::ALL {
            let text = description(code.status().as_u16());
            assert!(text.contains(code.as_str()), "{text}");
        }
    }
}
