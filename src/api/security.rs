//! Bearer authentication for the API. `BearerAuth` admits full tokens only; `EnrollmentAuth`
//! also admits the restricted tokens issued while `auth.require_totp` demands enrollment.

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
};

use poem::Request;
use poem_openapi::{SecurityScheme, auth::Bearer};

use crate::{
    app::AppState,
    config::IpRange,
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
    let reading = matches!(
        *req.method(),
        poem::http::Method::GET | poem::http::Method::HEAD
    );
    if !principal.scope.allows(reading) {
        let needed = if principal.scope == Scope::Read {
            "write"
        } else {
            "read"
        };
        return Err(
            AppError::forbidden(format!("this bot's token lacks the `{needed}` scope")).into(),
        );
    }
    if principal.scope == Scope::Enroll {
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

/// The client's address: the peer's, or, behind a trusted proxy, the one it forwarded.
pub fn meta(state: &AppState, req: &Request) -> RequestMeta {
    let peer = req.remote_addr().as_socket_addr().map(|a| a.ip());
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok());
    RequestMeta {
        ip: peer.map(|peer| client_ip(peer, forwarded, &state.config.server.trusted_proxies)),
    }
}

/// The client behind `peer`. `X-Forwarded-For` is read only when `peer` is a trusted proxy, and
/// from the right: each proxy appends the address it received the request from, so entries
/// left of the first untrusted one were written by that client and prove nothing. Walking left
/// past trusted proxies, the first other address is the client; an entry that is not an address
/// stops the walk at the last trusted hop (nothing beyond it can be believed). When every entry
/// is a trusted proxy, the left-most one is the client.
pub fn client_ip<'a>(
    peer: IpAddr,
    forwarded: impl Iterator<Item = &'a str>,
    trusted: &[IpRange],
) -> IpAddr {
    let peer = peer.to_canonical();
    let is_trusted = |ip: IpAddr| trusted.iter().any(|range| range.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    // Several headers count as one list, in order.
    let entries: Vec<&str> = forwarded.flat_map(|v| v.split(',')).collect();
    let mut client = peer;
    for entry in entries.iter().rev() {
        let Some(ip) = parse_entry(entry) else {
            break;
        };
        client = ip;
        if !is_trusted(ip) {
            break;
        }
    }
    client
}

/// One `X-Forwarded-For` entry: an address, optionally with a port (`1.2.3.4:5678`,
/// `[2001:db8::1]:443`).
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn ranges(list: &[&str]) -> Vec<IpRange> {
        list.iter().map(|r| r.parse().unwrap()).collect()
    }

    fn client(peer: &str, headers: &[&str], trusted: &[&str]) -> IpAddr {
        client_ip(ip(peer), headers.iter().copied(), &ranges(trusted))
    }

    #[test]
    fn the_header_is_ignored_without_trusted_proxies_or_from_an_untrusted_peer() {
        assert_eq!(client("203.0.113.9", &["1.1.1.1"], &[]), ip("203.0.113.9"));
        assert_eq!(
            client("203.0.113.9", &["1.1.1.1"], &["10.0.0.0/8"]),
            ip("203.0.113.9"),
            "the peer is not a proxy of ours: its header is its own invention"
        );
        assert_eq!(client("10.0.0.2", &[], &["10.0.0.0/8"]), ip("10.0.0.2"));
        assert_eq!(client("10.0.0.2", &[""], &["10.0.0.0/8"]), ip("10.0.0.2"));
    }

    #[test]
    fn read_from_the_right_skipping_trusted_proxies() {
        let trusted = ["10.0.0.0/8", "192.168.1.1"];
        assert_eq!(
            client("10.0.0.2", &["198.51.100.7"], &trusted),
            ip("198.51.100.7")
        );
        // A client that sends its own header cannot choose its address: what it wrote sits
        // left of what our proxy appended.
        assert_eq!(
            client("10.0.0.2", &["6.6.6.6, 198.51.100.7"], &trusted),
            ip("198.51.100.7")
        );
        // Two proxies of ours: skip both.
        assert_eq!(
            client(
                "10.0.0.2",
                &["6.6.6.6, 198.51.100.7, 192.168.1.1"],
                &trusted
            ),
            ip("198.51.100.7")
        );
        // Repeated headers are one list, in order.
        assert_eq!(
            client("10.0.0.2", &["6.6.6.6", "198.51.100.7, 10.9.9.9"], &trusted),
            ip("198.51.100.7")
        );
        // Only proxies of ours: the left-most is the client.
        assert_eq!(
            client("10.0.0.2", &["10.1.1.1, 10.2.2.2"], &trusted),
            ip("10.1.1.1")
        );
    }

    #[test]
    fn ipv6_ports_and_mapped_addresses() {
        let trusted = ["::1", "fd00::/8", "127.0.0.1"];
        assert_eq!(
            client("::1", &["2001:db8::7, fd00::2"], &trusted),
            ip("2001:db8::7")
        );
        assert_eq!(
            client("::1", &["[2001:db8::7]:4711"], &trusted),
            ip("2001:db8::7")
        );
        assert_eq!(
            client("::1", &["198.51.100.7:80"], &trusted),
            ip("198.51.100.7")
        );
        // A dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d.
        assert_eq!(
            client("::ffff:127.0.0.1", &["198.51.100.7"], &trusted),
            ip("198.51.100.7")
        );
        assert_eq!(
            client("::1", &["::ffff:198.51.100.7"], &trusted),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn garbage_stops_at_the_last_trusted_hop() {
        let trusted = ["10.0.0.0/8"];
        assert_eq!(client("10.0.0.2", &["unknown"], &trusted), ip("10.0.0.2"));
        assert_eq!(
            client("10.0.0.2", &["198.51.100.7, not-an-ip, 10.3.3.3"], &trusted),
            ip("10.3.3.3")
        );
        // Garbage left of the client is never reached.
        assert_eq!(
            client("10.0.0.2", &["<script>, 198.51.100.7"], &trusted),
            ip("198.51.100.7")
        );
        assert_eq!(client("10.0.0.2", &[",,,"], &trusted), ip("10.0.0.2"));
        assert_eq!(
            client("10.0.0.2", &["1.2.3.4/8, 300.1.1.1"], &trusted),
            ip("10.0.0.2")
        );
    }
}
