//! The dataset's accounts: bots (client credentials), so a reused dataset logs in without
//! argon2 and without the owner. Tokens are fetched again before they expire.

use std::{
    sync::{Arc, RwLock},
    time::Duration,
};

use anyhow::{Context, Result};
use colink_client::Client;
use serde::{Deserialize, Serialize};

use crate::bootstrap;

/// Concurrent token requests.
const TOKEN_CONCURRENCY: usize = 32;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Credentials {
    pub username: String,
    pub client_id: String,
    pub client_secret: String,
    /// The bot's user id (absent in manifests written before it was recorded).
    #[serde(default)]
    pub user_id: Option<colink_client::Uuid>,
}

/// Every account's credentials and its client with a current access token.
pub struct Accounts {
    pub creds: Vec<Credentials>,
    clients: Vec<RwLock<Client>>,
    /// Access token lifetime, seconds.
    pub ttl: u64,
}

impl Accounts {
    /// Fetch a token for every account.
    pub async fn log_in(api: &Client, creds: Vec<Credentials>) -> Result<Arc<Accounts>> {
        let tokens = fetch_tokens(api, &creds).await?;
        let ttl = tokens.first().map_or(900, |t| t.1);
        let clients = tokens
            .into_iter()
            .map(|(token, _)| RwLock::new(api.with_token(token)))
            .collect();
        Ok(Arc::new(Accounts {
            creds,
            clients,
            ttl,
        }))
    }

    pub fn len(&self) -> usize {
        self.clients.len()
    }

    /// Account `i`'s client with its current token.
    pub fn client(&self, i: usize) -> Client {
        match self.clients[i].read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// New tokens for every account.
    pub async fn refresh(&self, api: &Client) -> Result<()> {
        let tokens = fetch_tokens(api, &self.creds).await?;
        for (slot, (token, _)) in self.clients.iter().zip(tokens) {
            let client = api.with_token(token);
            match slot.write() {
                Ok(mut c) => *c = client,
                Err(poisoned) => *poisoned.into_inner() = client,
            }
        }
        Ok(())
    }

    /// Refresh every token two minutes before it expires; abort the handle when done.
    pub fn spawn_refresher(self: &Arc<Self>, api: Client) -> tokio::task::JoinHandle<()> {
        let every = Duration::from_secs(self.ttl.saturating_sub(120).max(30));
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                if let Err(e) = me.refresh(&api).await {
                    eprintln!("warning: refreshing tokens: {e:#}");
                }
            }
        })
    }
}

/// (access token, lifetime in s) per account, in order.
async fn fetch_tokens(api: &Client, creds: &[Credentials]) -> Result<Vec<(String, u64)>> {
    let creds: Arc<[Credentials]> = creds.into();
    bootstrap::run_limited(creds.len(), TOKEN_CONCURRENCY, |i| {
        let (api, creds) = (api.clone(), creds.clone());
        async move {
            let c = &creds[i];
            let t = api
                .client_token(&c.client_id, &c.client_secret)
                .await
                .with_context(|| format!("token for {}", c.username))?;
            Ok((t.access_token, t.expires_in))
        }
    })
    .await
}
