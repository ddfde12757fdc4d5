//! GitHub sign-in: OAuth2's authorization-code flow (with PKCE, which GitHub supports), then
//! `GET /user` for the person and `GET /user/emails` for their primary verified email. GitHub
//! issues no ID token; the subject is the numeric user id, which survives renames.

use serde::Deserialize;

use super::{ExternalIdentity, OidcError, SignIn, fetch_json};
use crate::config::OidcProvider;

fn base(url: &str) -> &str {
    url.trim_end_matches('/')
}

pub fn authorize_url(
    config: &OidcProvider,
    redirect_uri: &str,
    state: &str,
    challenge: &str,
) -> String {
    let scopes = if config.scopes.is_empty() {
        "read:user user:email".to_string()
    } else {
        config.scopes.join(" ")
    };
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", &config.client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", &scopes)
        .append_pair("state", state)
        .append_pair("allow_signup", "false")
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    format!("{}/login/oauth/authorize?{query}", base(&config.github_url))
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

#[derive(Deserialize)]
struct GithubUser {
    id: u64,
    login: String,
    name: Option<String>,
}

#[derive(Deserialize)]
struct GithubEmail {
    email: String,
    primary: bool,
    verified: bool,
}

pub async fn sign_in(
    config: &OidcProvider,
    http: &reqwest::Client,
    redirect_uri: &str,
    code: &str,
    verifier: &str,
) -> Result<SignIn, OidcError> {
    let secret = config
        .client_secret
        .as_ref()
        .map(|s| s.expose())
        .unwrap_or_default();
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", &config.client_id)
        .append_pair("client_secret", secret)
        .append_pair("code", code)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("code_verifier", verifier)
        .finish();
    let request = http
        .post(format!(
            "{}/login/oauth/access_token",
            base(&config.github_url)
        ))
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(body);
    // GitHub answers 200 with an `error` field when it refuses a code.
    let tokens: TokenResponse = fetch_json(request, "GitHub token endpoint", true).await?;
    let access_token = match (tokens.access_token, tokens.error) {
        (Some(token), None) => token,
        (_, error) => {
            return Err(OidcError::Rejected(format!(
                "GitHub refused the code: {} {}",
                error.unwrap_or_default(),
                tokens.error_description.unwrap_or_default()
            )));
        }
    };
    let api = base(&config.github_api_url);
    let get = |path: &str| {
        http.get(format!("{api}{path}"))
            .bearer_auth(&access_token)
            .header("X-GitHub-Api-Version", "2022-11-28")
    };
    let user: GithubUser = fetch_json(get("/user"), "GitHub /user", false).await?;
    let emails: Vec<GithubEmail> =
        fetch_json(get("/user/emails"), "GitHub /user/emails", false).await?;
    let primary = emails.into_iter().find(|e| e.primary && e.verified);
    Ok(SignIn {
        identity: ExternalIdentity {
            subject: user.id.to_string(),
            email_verified: primary.is_some(),
            email: primary.map(|e| e.email),
            username: Some(user.login),
            name: user.name.filter(|n| !n.trim().is_empty()),
            roles: None,
        },
        id_token: None,
    })
}
