//! `colink healthcheck`: is the server at `server.bind` alive? For a container's HEALTHCHECK
//! (the image has no shell and no curl) and for scripts; `colink status` says more.

use std::time::Duration;

use crate::config::Config;

pub async fn run(config: &Config) -> anyhow::Result<()> {
    let url = format!("http://{}/health", super::status::local_address(config));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .no_proxy()
        .build()?;
    let answer = client
        .get(&url)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("no answer from {url}: {e}"))?;
    let status = answer.status();
    anyhow::ensure!(status == reqwest::StatusCode::OK, "{url} answered {status}");
    super::output::print(&format!("{url}: OK\n"))
}
