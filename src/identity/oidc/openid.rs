//! OpenID Connect: discovery, the authorization-code flow with PKCE, ID-token and
//! access-token verification (OpenID Connect Core 1.0 §3.1, RFC 7636, RFC 9068).

use std::time::{Duration, Instant};

use jsonwebtoken::Validation;
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::Mutex;

use super::{ExternalIdentity, OidcError, SignIn, fetch_json, jwks::Jwks, roles_at};
use crate::config::OidcProvider;

/// The discovery document is fetched again after this long.
const METADATA_MAX_AGE: Duration = Duration::from_secs(3600);
/// Clock skew allowed between us and the provider.
const LEEWAY_SECS: u64 = 60;

/// What discovery tells (the fields CoLink uses).
#[derive(Debug, Clone, Deserialize)]
pub struct Metadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
}

/// The claims of a verified access token.
#[derive(Debug, Clone)]
pub struct AccessClaims {
    pub identity: ExternalIdentity,
    /// Expiry, unix seconds.
    pub exp: i64,
}

pub struct OpenId {
    config: OidcProvider,
    metadata: Mutex<Option<(Metadata, Instant)>>,
    jwks: Jwks,
}

#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    id_token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
}

impl OpenId {
    pub fn new(config: &OidcProvider) -> Self {
        Self {
            config: config.clone(),
            metadata: Mutex::new(None),
            jwks: Jwks::default(),
        }
    }

    fn issuer(&self) -> &str {
        self.config.issuer().unwrap_or_default()
    }

    /// The discovery document, cached; its `issuer` must be exactly the configured one.
    pub async fn metadata(&self, http: &reqwest::Client) -> Result<Metadata, OidcError> {
        let mut cached = self.metadata.lock().await;
        if let Some((metadata, at)) = cached.as_ref()
            && at.elapsed() < METADATA_MAX_AGE
        {
            return Ok(metadata.clone());
        }
        let url = format!("{}/.well-known/openid-configuration", self.issuer());
        let metadata: Metadata = fetch_json(http.get(&url), "discovery", false).await?;
        if metadata.issuer.trim_end_matches('/') != self.issuer() {
            return Err(OidcError::Unavailable(format!(
                "discovery names the issuer {}, not the configured {}",
                metadata.issuer,
                self.issuer()
            )));
        }
        *cached = Some((metadata.clone(), Instant::now()));
        Ok(metadata)
    }

    pub async fn authorize_url(
        &self,
        http: &reqwest::Client,
        redirect_uri: &str,
        state: &str,
        nonce: &str,
        challenge: &str,
    ) -> Result<String, OidcError> {
        let metadata = self.metadata(http).await?;
        let mut url = url::Url::parse(&metadata.authorization_endpoint).map_err(|e| {
            OidcError::Unavailable(format!("authorization_endpoint is not a URL: {e}"))
        })?;
        let mut scopes = vec!["openid", "email", "profile"];
        scopes.extend(self.config.scopes.iter().map(String::as_str));
        scopes.dedup();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.config.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", &scopes.join(" "))
            .append_pair("state", state)
            .append_pair("nonce", nonce)
            .append_pair("code_challenge", challenge)
            .append_pair("code_challenge_method", "S256");
        Ok(url.into())
    }

    pub async fn sign_in(
        &self,
        http: &reqwest::Client,
        redirect_uri: &str,
        code: &str,
        verifier: &str,
        nonce: &str,
    ) -> Result<SignIn, OidcError> {
        let metadata = self.metadata(http).await?;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
            ("client_id", self.config.client_id.as_str()),
        ];
        if let Some(secret) = &self.config.client_secret {
            form.push(("client_secret", secret.expose()));
        }
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let request = http
            .post(&metadata.token_endpoint)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body);
        let tokens: TokenResponse = fetch_json(request, "token endpoint", true).await?;
        let id_token = tokens
            .id_token
            .ok_or_else(|| OidcError::Rejected("the token response has no id_token".into()))?;
        let claims = self
            .verify(http, &metadata, &id_token, &self.config.client_id)
            .await?;
        if claims.get("nonce").and_then(Value::as_str) != Some(nonce) {
            return Err(OidcError::Rejected(
                "the ID token's nonce does not match".into(),
            ));
        }
        // Several audiences: this client must be the authorized party (Core §3.1.3.7).
        if let Some(Value::Array(aud)) = claims.get("aud")
            && aud.len() > 1
            && claims.get("azp").and_then(Value::as_str) != Some(self.config.client_id.as_str())
        {
            return Err(OidcError::Rejected(
                "the ID token's azp is not this client".into(),
            ));
        }
        let mut identity = self.identity(&claims)?;
        if identity.email.is_none()
            && let (Some(userinfo), Some(access)) =
                (&metadata.userinfo_endpoint, &tokens.access_token)
        {
            self.complete_from_userinfo(http, userinfo, access, &mut identity)
                .await;
        }
        Ok(SignIn {
            identity,
            id_token: Some(id_token),
        })
    }

    /// Some providers put only `sub` in the ID token: the email comes from userinfo, for the
    /// same subject. A failure leaves the identity as it was.
    async fn complete_from_userinfo(
        &self,
        http: &reqwest::Client,
        endpoint: &str,
        access_token: &str,
        identity: &mut ExternalIdentity,
    ) {
        let request = http.get(endpoint).bearer_auth(access_token);
        match fetch_json::<Value>(request, "userinfo", true).await {
            Ok(info) if info.get("sub").and_then(Value::as_str) == Some(&identity.subject) => {
                identity.email = string(&info, "email");
                identity.email_verified = info.get("email_verified") == Some(&Value::Bool(true));
                identity.username = identity
                    .username
                    .take()
                    .or_else(|| string(&info, "preferred_username"));
                identity.name = identity.name.take().or_else(|| string(&info, "name"));
            }
            Ok(_) => {
                tracing::warn!(provider = %self.config.name, "userinfo answered for another subject")
            }
            Err(e) => tracing::warn!(provider = %self.config.name, error = %e, "userinfo failed"),
        }
    }

    /// Verify an access token issued for `audience` (RFC 9068 JWT access tokens, as Keycloak
    /// issues them).
    pub async fn verify_access(
        &self,
        http: &reqwest::Client,
        token: &str,
        audience: &str,
    ) -> Result<AccessClaims, OidcError> {
        let metadata = self.metadata(http).await?;
        let claims = self.verify(http, &metadata, token, audience).await?;
        let exp = claims
            .get("exp")
            .and_then(Value::as_i64)
            .unwrap_or_default();
        Ok(AccessClaims {
            identity: self.identity(&claims)?,
            exp,
        })
    }

    /// Signature (a key from the provider's JWKS), issuer, audience, expiry.
    async fn verify(
        &self,
        http: &reqwest::Client,
        metadata: &Metadata,
        token: &str,
        audience: &str,
    ) -> Result<Value, OidcError> {
        let rejected = |e: jsonwebtoken::errors::Error| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => OidcError::Expired(e.to_string()),
            _ => OidcError::Rejected(e.to_string()),
        };
        let header = jsonwebtoken::decode_header(token).map_err(rejected)?;
        let key = self
            .jwks
            .key(http, &metadata.jwks_uri, header.kid.as_deref(), header.alg)
            .await?;
        let mut validation = Validation::new(header.alg);
        validation.algorithms = vec![header.alg];
        validation.set_issuer(&[metadata.issuer.as_str(), self.issuer()]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECS;
        let data = jsonwebtoken::decode::<Value>(token, &key, &validation).map_err(rejected)?;
        Ok(data.claims)
    }

    fn identity(&self, claims: &Value) -> Result<ExternalIdentity, OidcError> {
        let subject = string(claims, "sub")
            .filter(|s| !s.is_empty() && s.len() <= 255)
            .ok_or_else(|| OidcError::Rejected("the token has no usable sub".into()))?;
        Ok(ExternalIdentity {
            subject,
            email: string(claims, "email"),
            email_verified: claims.get("email_verified") == Some(&Value::Bool(true)),
            username: string(claims, "preferred_username"),
            name: string(claims, "name"),
            roles: self
                .config
                .roles_claim
                .as_deref()
                .map(|path| roles_at(claims, path)),
        })
    }

    /// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).
    pub async fn end_session_url(
        &self,
        http: &reqwest::Client,
        id_token: Option<&str>,
        post_logout_redirect_uri: &str,
    ) -> Option<String> {
        let endpoint = self.metadata(http).await.ok()?.end_session_endpoint?;
        let mut url = url::Url::parse(&endpoint).ok()?;
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("client_id", &self.config.client_id)
                .append_pair("post_logout_redirect_uri", post_logout_redirect_uri);
            if let Some(hint) = id_token {
                query.append_pair("id_token_hint", hint);
            }
        }
        Some(url.into())
    }
}

/// A string claim, bounded (claims become usernames and emails).
fn string(claims: &Value, name: &str) -> Option<String> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty() && s.len() <= 320)
        .map(str::to_string)
}
