//! The `[server]` section: where CoLink listens and the limits every connection lives under.

use std::{net::SocketAddr, time::Duration};

use serde::{Deserialize, Serialize};

use super::{HumanDuration, IpRange};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    pub bind: SocketAddr,
    /// Base URL users reach CoLink at; used in mails and invite links.
    pub public_url: Option<url::Url>,
    /// Origins allowed by CORS. Empty: no cross-origin access.
    pub cors_origins: Vec<String>,
    pub max_body_bytes: usize,
    /// Open connections (HTTP and WebSocket) at most; at the cap new clients wait to be accepted.
    pub max_connections: usize,
    /// A request head must arrive whole within this, counted from when the connection is ready
    /// for it: slow-header clients are cut off, and idle keep-alive connections close after it.
    pub header_read_timeout: HumanDuration,
    /// A request body must arrive whole within this (408 otherwise).
    pub body_read_timeout: HumanDuration,
    /// A write to a client that makes no progress for this long (the client stopped reading)
    /// closes the connection: HTTP responses and WebSocket frames alike.
    pub write_timeout: HumanDuration,
    /// Reverse proxies (addresses or CIDR blocks) whose `X-Forwarded-For` is believed. The
    /// header is read only when the direct peer is one of them, from the right, skipping these;
    /// the first other address is the client. Empty: the header is ignored.
    pub trusted_proxies: Vec<IpRange>,
    /// On SIGTERM: how long in-flight requests may take to finish and the background work
    /// (queued messages, the outbox relay, search commits) to flush before the process exits.
    /// Below Kubernetes' default grace period (30 s), so the pod exits before it is killed.
    pub shutdown_timeout: HumanDuration,
    /// Replaced by `trusted_proxies`; accepted only to refuse it with a helpful message.
    #[serde(default, skip_serializing)]
    pub trust_forwarded_for: Option<toml::Value>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            cors_origins: Vec::new(),
            max_body_bytes: 1024 * 1024,
            max_connections: 16_384,
            header_read_timeout: HumanDuration(Duration::from_secs(10)),
            body_read_timeout: HumanDuration(Duration::from_secs(30)),
            write_timeout: HumanDuration(Duration::from_secs(30)),
            trusted_proxies: Vec::new(),
            shutdown_timeout: HumanDuration(Duration::from_secs(20)),
            trust_forwarded_for: None,
        }
    }
}
