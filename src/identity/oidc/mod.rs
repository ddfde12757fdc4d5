//! Identity providers (`[[auth.oidc.providers]]`): the protocol side of signing in elsewhere.
//!
//! - **OpenID Connect** (`openid.rs`): discovery, the authorization-code flow with PKCE (S256)
//!   and a nonce, the code exchange, and ID-token verification against the provider's JWKS
//!   (`jwks.rs`: cached, fetched again when a token names an unknown key — key rotation — at
//!   most every few seconds). Access tokens the provider issued for `audience` are verified
//!   the same way, so the API accepts them as bearer tokens.
//! - **GitHub** (`github.rs`): OAuth2 (no ID token); the person comes from `GET /user` and their
//!   primary verified email from `GET /user/emails`.
//!
//! Both end in an [`ExternalIdentity`]: who the provider says the person is. Linking it to an
//! account, creating one, and mapping roles is `service::sso`'s business. Nothing here logs a
//! token or a code.

mod github;
mod jwks;
mod openid;

use std::{collections::HashMap, sync::Arc, time::Duration};

use serde::de::DeserializeOwned;

use crate::config::{OidcProvider, ProviderKind};

pub use openid::{AccessClaims, Metadata};

/// How long a provider may take to answer one request.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest provider response read (discovery documents and key sets are a few kB).
const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// Who the provider says the person is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalIdentity {
    /// The provider's stable id for the person (OIDC `sub`; GitHub's numeric id).
    pub subject: String,
    pub email: Option<String>,
    /// Whether the provider vouches for `email` (OIDC `email_verified`; GitHub: a verified
    /// primary email). Accounts are linked by verified emails only.
    pub email_verified: bool,
    /// `preferred_username` / GitHub `login`: the wish for a new account's username.
    pub username: Option<String>,
    pub name: Option<String>,
    /// The roles at `roles_claim`; `None` when the provider has no `roles_claim`.
    pub roles: Option<Vec<String>>,
}

/// A provider failed or refused: the message is for logs and the audit trail, never shown
/// with secrets in it.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The provider could not be reached or answered something unusable.
    #[error("identity provider unavailable: {0}")]
    Unavailable(String),
    /// The provider's answer does not prove who the person is (bad signature, wrong issuer,
    /// audience or nonce, expired, an error from the token endpoint).
    #[error("identity provider response rejected: {0}")]
    Rejected(String),
    /// A token that was valid once (an expired access token).
    #[error("token expired: {0}")]
    Expired(String),
}

/// Where to send the person, and what to keep until they come back.
pub struct Authorization {
    pub url: String,
    /// The PKCE verifier for the code exchange.
    pub verifier: String,
    /// The nonce the ID token must carry (OIDC).
    pub nonce: String,
}

/// What a successful code exchange gives.
pub struct SignIn {
    pub identity: ExternalIdentity,
    /// The raw ID token (OIDC), kept as `id_token_hint` for the provider's logout.
    pub id_token: Option<String>,
}

/// One configured provider.
pub struct Provider {
    pub config: OidcProvider,
    openid: Option<openid::OpenId>,
}

impl Provider {
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// The provider's authorization URL for this login attempt.
    pub async fn authorize(
        &self,
        http: &reqwest::Client,
        redirect_uri: &str,
        state: &str,
    ) -> Result<Authorization, OidcError> {
        let pkce = Pkce::new();
        let nonce = random_token();
        let url = match &self.openid {
            Some(openid) => {
                openid
                    .authorize_url(http, redirect_uri, state, &nonce, &pkce.challenge)
                    .await?
            }
            None => github::authorize_url(&self.config, redirect_uri, state, &pkce.challenge),
        };
        Ok(Authorization {
            url,
            verifier: pkce.verifier,
            nonce,
        })
    }

    /// Exchange the code the person came back with; verify what the provider says.
    pub async fn sign_in(
        &self,
        http: &reqwest::Client,
        redirect_uri: &str,
        code: &str,
        verifier: &str,
        nonce: &str,
    ) -> Result<SignIn, OidcError> {
        match &self.openid {
            Some(openid) => {
                openid
                    .sign_in(http, redirect_uri, code, verifier, nonce)
                    .await
            }
            None => github::sign_in(&self.config, http, redirect_uri, code, verifier).await,
        }
    }

    /// Verify a bearer access token this provider issued for its `audience`.
    pub async fn verify_access_token(
        &self,
        http: &reqwest::Client,
        token: &str,
    ) -> Result<AccessClaims, OidcError> {
        match (&self.openid, &self.config.audience) {
            (Some(openid), Some(audience)) => openid.verify_access(http, token, audience).await,
            _ => Err(OidcError::Rejected(
                "this provider's access tokens are not accepted".into(),
            )),
        }
    }

    /// The provider's logout URL (RP-initiated logout), when it has one.
    pub async fn end_session_url(
        &self,
        http: &reqwest::Client,
        id_token: Option<&str>,
        post_logout_redirect_uri: &str,
    ) -> Option<String> {
        let openid = self.openid.as_ref()?;
        openid
            .end_session_url(http, id_token, post_logout_redirect_uri)
            .await
    }
}

/// Every configured provider, with one HTTP client for talking to them.
pub struct Providers {
    http: reqwest::Client,
    by_name: HashMap<String, Arc<Provider>>,
    /// In configuration order, for the sign-in page.
    order: Vec<String>,
    /// (provider, subject) → user id, for bearer tokens: a link never moves to another user,
    /// so entries stay right until the user is deleted (and then point at nobody).
    links: std::sync::Mutex<HashMap<(String, String), uuid::Uuid>>,
}

/// The most links cached; the cache starts over when full.
const MAX_CACHED_LINKS: usize = 10_000;

impl Providers {
    pub fn new(configs: &[OidcProvider]) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .connect_timeout(HTTP_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("colink/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let mut by_name = HashMap::new();
        let mut order = Vec::new();
        for config in configs {
            let openid = match config.kind {
                ProviderKind::Oidc => Some(openid::OpenId::new(config)),
                ProviderKind::Github => None,
            };
            order.push(config.name.clone());
            by_name.insert(
                config.name.clone(),
                Arc::new(Provider {
                    config: config.clone(),
                    openid,
                }),
            );
        }
        Ok(Self {
            http,
            by_name,
            order,
            links: std::sync::Mutex::default(),
        })
    }

    /// The cached user linked to `subject` at `provider`.
    pub fn cached_link(&self, provider: &str, subject: &str) -> Option<uuid::Uuid> {
        let links = self
            .links
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        links
            .get(&(provider.to_string(), subject.to_string()))
            .copied()
    }

    pub fn cache_link(&self, provider: &str, subject: &str, user: uuid::Uuid) {
        let mut links = self
            .links
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if links.len() >= MAX_CACHED_LINKS {
            links.clear();
        }
        links.insert((provider.to_string(), subject.to_string()), user);
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn get(&self, name: &str) -> Option<Arc<Provider>> {
        self.by_name.get(name).cloned()
    }

    /// The providers in configuration order.
    pub fn all(&self) -> impl Iterator<Item = &Arc<Provider>> {
        self.order.iter().filter_map(|name| self.by_name.get(name))
    }

    /// The provider whose access tokens the API accepts and whose issuer is `iss`.
    pub fn bearer_issuer(&self, iss: &str) -> Option<Arc<Provider>> {
        self.all()
            .find(|p| p.config.audience.is_some() && p.config.issuer() == Some(iss))
            .cloned()
    }

    /// Whether any provider's access tokens are accepted as bearer tokens.
    pub fn accepts_bearer(&self) -> bool {
        self.all()
            .any(|p| p.openid.is_some() && p.config.audience.is_some())
    }
}

/// A PKCE pair (RFC 7636, S256).
struct Pkce {
    verifier: String,
    challenge: String,
}

impl Pkce {
    fn new() -> Self {
        use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
        use sha2::Digest;
        let verifier = URL_SAFE_NO_PAD.encode(super::opaque::random_bytes::<32>());
        let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
        Self {
            verifier,
            challenge,
        }
    }
}

/// 256 random bits, base64url: states and nonces.
pub fn random_token() -> String {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    URL_SAFE_NO_PAD.encode(super::opaque::random_bytes::<32>())
}

/// Send `request` and read a JSON answer of at most [`MAX_RESPONSE_BYTES`]. A non-2xx status
/// is `Rejected` when `rejected_on_4xx` (a token endpoint refusing a code), else `Unavailable`.
async fn fetch_json<T: DeserializeOwned>(
    request: reqwest::RequestBuilder,
    what: &str,
    rejected_on_4xx: bool,
) -> Result<T, OidcError> {
    let unavailable = |e: String| OidcError::Unavailable(format!("{what}: {e}"));
    let mut response = request
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| unavailable(e.without_url().to_string()))?;
    let status = response.status();
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| unavailable(e.without_url().to_string()))?
    {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(unavailable("the response is too large".into()));
        }
        body.extend_from_slice(&chunk);
    }
    if !status.is_success() {
        let detail = error_detail(&body);
        let message = format!("{what}: {status}{detail}");
        return Err(if rejected_on_4xx && status.is_client_error() {
            OidcError::Rejected(message)
        } else {
            OidcError::Unavailable(message)
        });
    }
    serde_json::from_slice(&body).map_err(|e| unavailable(format!("unreadable JSON: {e}")))
}

/// The OAuth2 `error` (and description) of an error body, bounded, for the log.
fn error_detail(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct OAuthError {
        error: String,
        error_description: Option<String>,
    }
    match serde_json::from_slice::<OAuthError>(body) {
        Ok(e) => {
            let text = match e.error_description {
                Some(d) => format!(" {}: {d}", e.error),
                None => format!(" {}", e.error),
            };
            text.chars().take(300).collect()
        }
        Err(_) => String::new(),
    }
}

/// The string list at the dot `path` of `claims` (a single string counts as a list of one).
pub fn roles_at(claims: &serde_json::Value, path: &str) -> Vec<String> {
    let mut cursor = claims;
    for key in path.split('.') {
        match cursor.get(key) {
            Some(next) => cursor = next,
            None => return Vec::new(),
        }
    }
    match cursor {
        serde_json::Value::String(role) => vec![role.clone()],
        serde_json::Value::Array(items) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_follow_a_dot_path() {
        let claims = serde_json::json!({
            "realm_access": { "roles": ["user", "admin", 3] },
            "group": "staff",
        });
        assert_eq!(roles_at(&claims, "realm_access.roles"), ["user", "admin"]);
        assert_eq!(roles_at(&claims, "group"), ["staff"]);
        assert!(roles_at(&claims, "realm_access.missing").is_empty());
        assert!(roles_at(&claims, "realm_access").is_empty());
    }

    #[test]
    fn pkce_challenge_is_the_s256_of_the_verifier() {
        // RFC 7636, appendix B.
        use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
        use sha2::Digest;
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
        assert_eq!(challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        let pkce = Pkce::new();
        assert_eq!(pkce.verifier.len(), 43);
        assert_eq!(
            pkce.challenge,
            URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(pkce.verifier.as_bytes()))
        );
        assert_ne!(random_token(), random_token());
    }

    #[test]
    fn error_bodies_are_summarised_briefly() {
        let body = br#"{"error":"invalid_grant","error_description":"code expired"}"#;
        assert_eq!(error_detail(body), " invalid_grant: code expired");
        assert_eq!(error_detail(b"<html>"), "");
    }
}
