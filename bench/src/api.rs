//! The bench talks to the server through `colink-client`, over one reqwest client tuned for load.

use std::time::Duration;

use anyhow::{Context, Result};
pub use colink_client::{Client, chain, truncate};

/// One shared client: HTTP/1.1 keep-alive with at least `pool` idle connections kept.
pub fn client(base: &str, pool: usize) -> Result<Client> {
    let http = reqwest::Client::builder()
        .http1_only()
        .pool_max_idle_per_host(pool)
        // Below the server's keep-alive limit (`server.header_read_timeout`, 10 s): a connection
        // reused just as the server closes it fails in transport (3 such errors at 500 mix
        // users on PostgreSQL, which alone failed the step's 0.025 % error threshold).
        .pool_idle_timeout(Duration::from_secs(5))
        .tcp_nodelay(true)
        .no_proxy()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        .build()
        .context("building the HTTP client")?;
    Ok(Client::with_http(base, http))
}
