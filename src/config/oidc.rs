//! `[auth.oidc]`: sign-in through external identity providers — any OpenID Connect provider
//! (Keycloak, Google, Entra ID, Authentik…) and GitHub (OAuth2, not OIDC).
//!
//! ```toml
//! [[auth.oidc.providers]]
//! name = "keycloak"                                   # in URLs: /auth/oidc/keycloak/start
//! issuer = "https://sso.example.com/realms/colink"
//! client_id = "colink-web"
//! audience = "colink-api"          # also accept the provider's access tokens as bearer tokens
//! roles_claim = "realm_access.roles"
//! ```

use serde::{Deserialize, Serialize};

use super::{ConfigError, Secret};

/// What protocol a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// OpenID Connect: discovery from `issuer`, authorization code + PKCE, a signed ID token.
    #[default]
    Oidc,
    /// GitHub's OAuth2 (no ID token): the profile and verified emails come from its API.
    Github,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OidcConfig {
    pub providers: Vec<OidcProvider>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OidcProvider {
    /// The provider's id in URLs and in linked identities: 1–32 of `a-z 0-9 -`. Changing it
    /// unlinks every account linked through it.
    pub name: String,
    /// The sign-in button's label. Default: `name`, capitalised (`github`: GitHub).
    pub display_name: Option<String>,
    pub kind: ProviderKind,
    /// OIDC: the issuer URL (discovery at `<issuer>/.well-known/openid-configuration`).
    pub issuer: Option<String>,
    pub client_id: String,
    /// Confidential clients (and GitHub) only; public clients rely on PKCE alone.
    pub client_secret: Option<Secret>,
    /// Scopes asked for besides `openid` (OIDC) — GitHub: `read:user user:email`.
    pub scopes: Vec<String>,
    /// OIDC: when set, the provider's access tokens whose `aud` contains this value are
    /// accepted as `Authorization: Bearer` tokens by the API (Keycloak: `colink-api`).
    pub audience: Option<String>,
    /// OIDC: a dot path to the claim listing the user's roles (Keycloak:
    /// `realm_access.roles`). Unset: roles are managed in CoLink only.
    pub roles_claim: Option<String>,
    /// With `roles_claim`: holding one of these roles makes the user an admin; losing them all
    /// makes an admin a member again (owners are never changed by a provider).
    pub admin_roles: Vec<String>,
    /// Create an account on first sign-in (joining the default workspace) when no account has
    /// the provider's verified email. `false`: only existing accounts can sign in.
    pub create_users: bool,
    /// GitHub only: the web and API base URLs (GitHub Enterprise: `https://ghe.example.com`
    /// and `https://ghe.example.com/api/v3`).
    pub github_url: String,
    pub github_api_url: String,
}

impl Default for OidcProvider {
    fn default() -> Self {
        Self {
            name: String::new(),
            display_name: None,
            kind: ProviderKind::Oidc,
            issuer: None,
            client_id: String::new(),
            client_secret: None,
            scopes: Vec::new(),
            audience: None,
            roles_claim: None,
            admin_roles: vec!["admin".into()],
            create_users: true,
            github_url: "https://github.com".into(),
            github_api_url: "https://api.github.com".into(),
        }
    }
}

impl OidcProvider {
    /// The sign-in button's label.
    pub fn label(&self) -> String {
        if let Some(label) = &self.display_name {
            return label.clone();
        }
        if self.kind == ProviderKind::Github && self.name == "github" {
            return "GitHub".into();
        }
        let mut chars = self.name.chars();
        match chars.next() {
            Some(first) => first.to_uppercase().chain(chars).collect(),
            None => String::new(),
        }
    }

    /// The issuer without a trailing slash (OIDC providers only).
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref().map(|i| i.trim_end_matches('/'))
    }
}

pub(super) fn is_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

pub(super) fn is_http_url(text: &str) -> bool {
    url::Url::parse(text).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
}

impl OidcConfig {
    pub(super) fn validate(&self, password_login: bool) -> Result<(), ConfigError> {
        const KEY: &str = "auth.oidc.providers";
        let invalid = |problem: String| Err(ConfigError::invalid(KEY, problem));
        let mut seen = std::collections::HashSet::new();
        for p in &self.providers {
            if !is_name(&p.name) {
                return invalid(format!(
                    "name `{}`: 1–32 characters of a-z, 0-9 and -",
                    p.name
                ));
            }
            if !seen.insert(p.name.as_str()) {
                return invalid(format!("name `{}` is used twice", p.name));
            }
            let at = |field: &str, problem: &str| invalid(format!("{}: {field} {problem}", p.name));
            if p.client_id.trim().is_empty() {
                return at("client_id", "is required");
            }
            match p.kind {
                ProviderKind::Oidc => {
                    match p.issuer() {
                        Some(issuer) if is_http_url(issuer) => {}
                        _ => return at("issuer", "must be the provider's http(s) issuer URL"),
                    }
                    if let Some(path) = &p.roles_claim
                        && (path.is_empty() || path.split('.').any(str::is_empty))
                    {
                        return at(
                            "roles_claim",
                            "must be a dot path such as realm_access.roles",
                        );
                    }
                }
                ProviderKind::Github => {
                    if p.client_secret.is_none() {
                        return at("client_secret", "is required for GitHub");
                    }
                    if p.issuer.is_some() || p.audience.is_some() || p.roles_claim.is_some() {
                        return at(
                            "issuer/audience/roles_claim",
                            "apply to OIDC providers only (kind = \"oidc\")",
                        );
                    }
                    if !is_http_url(&p.github_url) || !is_http_url(&p.github_api_url) {
                        return at("github_url/github_api_url", "must be http(s) URLs");
                    }
                }
            }
        }
        if !password_login && self.providers.is_empty() {
            return Err(ConfigError::invalid(
                "auth.password_login",
                "false needs at least one [[auth.oidc.providers]]: nobody could sign in",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keycloak() -> OidcProvider {
        OidcProvider {
            name: "keycloak".into(),
            issuer: Some("https://sso.example.com/realms/colink/".into()),
            client_id: "colink-web".into(),
            ..OidcProvider::default()
        }
    }

    fn problem(config: &OidcConfig, password_login: bool) -> String {
        match config.validate(password_login) {
            Ok(()) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_keycloak_provider_is_valid_and_labelled() {
        let p = keycloak();
        let config = OidcConfig {
            providers: vec![p.clone()],
        };
        assert_eq!(problem(&config, false), "");
        assert_eq!(p.label(), "Keycloak");
        assert_eq!(p.issuer(), Some("https://sso.example.com/realms/colink"));
    }

    #[test]
    fn mistakes_name_the_key_and_the_provider() {
        let bad = |change: fn(&mut OidcProvider)| {
            let mut p = keycloak();
            change(&mut p);
            problem(&OidcConfig { providers: vec![p] }, true)
        };
        assert!(bad(|p| p.name = "Key Cloak".into()).contains("auth.oidc.providers"));
        assert!(bad(|p| p.issuer = None).contains("keycloak: issuer"));
        assert!(bad(|p| p.issuer = Some("sso.example.com".into())).contains("issuer"));
        assert!(bad(|p| p.client_id = " ".into()).contains("client_id"));
        assert!(
            bad(|p| p.roles_claim = Some("realm_access..roles".into())).contains("roles_claim")
        );
        assert!(
            bad(|p| {
                p.kind = ProviderKind::Github;
                p.issuer = None;
            })
            .contains("client_secret")
        );
        let twice = OidcConfig {
            providers: vec![keycloak(), keycloak()],
        };
        assert!(problem(&twice, true).contains("used twice"));
        assert!(problem(&OidcConfig::default(), false).contains("auth.password_login"));
        assert_eq!(problem(&OidcConfig::default(), true), "");
    }
}
