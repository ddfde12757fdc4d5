//! The bench talks to the server through `colink-client`, over one reqwest client tuned for load.

use std::time::Duration;

use anyhow::{Context, Result};
pub use colink_client::{Client, chain, truncate};

/// One shared client: HTTP/1.1 keep-alive with at least `pool` idle connections kept.
pub fn client(base: &str, pool: usize) -> Result<Client> {
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
    Ok(Client::with_http(base, http))
}
