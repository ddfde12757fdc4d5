//! Bearer authentication for the API. `BearerAuth` admits full tokens only; `EnrollmentAuth`
//! also admits the restricted tokens issued while `auth.require_totp` demands enrollment.

use std::{net::IpAddr, sync::Arc};

use poem::Request;
use poem_openapi::{SecurityScheme, auth::Bearer};

use crate::{
    app::AppState,
    error::{AppError, ErrorCode},
    identity::jwt::Scope,
    service::{Principal, RequestMeta, authn},
};

#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT", checker = "check_full")]
pub struct BearerAuth(pub Principal);

#[derive(SecurityScheme)]
#[oai(
    rename = "BearerAuthEnrollment",
    ty = "bearer",
    bearer_format = "JWT",
    checker = "check_any_scope"
)]
pub struct EnrollmentAuth(pub Principal);

pub fn state(req: &Request) -> poem::Result<&Arc<AppState>> {
    req.data::<Arc<AppState>>()
        .ok_or_else(|| AppError::internal("application state missing from the request").into())
}

async fn check_full(req: &Request, bearer: Bearer) -> poem::Result<Principal> {
    let principal = authn::authenticate(state(req)?, &bearer.token).await?;
    if principal.scope != Scope::Full {
        return Err(AppError::new(
            ErrorCode::TotpEnrollmentRequired,
            "this server requires two-factor authentication: enroll with /auth/totp/setup first",
        )
        .into());
    }
    Ok(principal)
}

async fn check_any_scope(req: &Request, bearer: Bearer) -> poem::Result<Principal> {
    Ok(authn::authenticate(state(req)?, &bearer.token).await?)
}

/// The client's address (the left-most `X-Forwarded-For` entry when configured to trust it).
pub fn meta(state: &AppState, req: &Request) -> RequestMeta {
    let forwarded = state
        .config
        .server
        .trust_forwarded_for
        .then(|| {
            req.headers()
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .and_then(|ip| ip.trim().parse::<IpAddr>().ok())
        })
        .flatten();
    RequestMeta {
        ip: forwarded.or_else(|| req.remote_addr().as_socket_addr().map(|a| a.ip())),
    }
}
