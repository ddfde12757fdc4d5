//! A real OpenID Connect provider for the sign-in tests: `oidc-provider` (npm, a certified OP)
//! dressed as a Keycloak realm (`scripts/backends/oidc-provider/server.mjs`, installed by
//! `scripts/backends/oidc.sh`), one process per test on its own port; and a browser stand-in
//! (a cookie jar, redirects followed by hand) that drives its login form.

use std::{process::Stdio, sync::Arc, time::Duration};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use colink::config::OidcProvider;
use reqwest::{StatusCode, cookie::CookieStore, header::LOCATION};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::{
    backends::free_port,
    helpers::{Session, TestApp, spawn_with},
};

pub struct Idp {
    child: tokio::process::Child,
    dir: Arc<tempfile::TempDir>,
    pub port: u16,
    redirect_uris: Vec<String>,
}

/// A public client's redirect URI the tests use as an app of their own (not CoLink).
pub const TEST_CLIENT_REDIRECT: &str = "http://127.0.0.1:9/test-client/callback";

fn server_script() -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/backends/oidc.sh");
    let out = std::process::Command::new(script)
        .arg("path")
        .stderr(Stdio::inherit())
        .output()
        .expect("scripts/backends/oidc.sh runs");
    assert!(out.status.success(), "scripts/backends/oidc.sh path failed");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

impl Idp {
    /// Start the provider on `port` with these accounts (login → claims), accepting these
    /// redirect URIs (and post-logout redirect URIs) for `colink-web`.
    pub async fn start(port: u16, accounts: Value, redirect_uris: &[String]) -> Idp {
        let dir = Arc::new(tempfile::tempdir().unwrap());
        Self::spawn(port, dir, accounts, redirect_uris.to_vec(), false).await
    }

    /// Stop and start again on the same port with the same keys (`rotate`: a new signing key
    /// in front of them).
    pub async fn restart(mut self, accounts: Value, rotate: bool) -> Idp {
        let _ = self.child.kill().await;
        let (dir, uris) = (self.dir.clone(), self.redirect_uris.clone());
        Self::spawn(self.port, dir, accounts, uris, rotate).await
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }

    async fn spawn(
        port: u16,
        dir: Arc<tempfile::TempDir>,
        accounts: Value,
        redirect_uris: Vec<String>,
        rotate: bool,
    ) -> Idp {
        let accounts_file = dir.path().join("accounts.json");
        std::fs::write(&accounts_file, accounts.to_string()).unwrap();
        let mut command = tokio::process::Command::new("node");
        command
            .arg(server_script())
            .args(["--port", &port.to_string()])
            .arg("--accounts")
            .arg(&accounts_file)
            .arg("--keys")
            .arg(dir.path().join("keys.json"));
        if rotate {
            command.arg("--rotate");
        }
        for uri in redirect_uris
            .iter()
            .map(String::as_str)
            .chain([TEST_CLIENT_REDIRECT])
        {
            command.args(["--redirect-uri", uri]);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.starts_with("oidc-provider ready") {
                    return true;
                }
            }
            false
        })
        .await;
        assert_eq!(ready, Ok(true), "oidc-provider did not start");
        Idp {
            child,
            dir,
            port,
            redirect_uris,
        }
    }

    pub fn issuer(&self) -> String {
        issuer(self.port)
    }

    fn endpoint(&self, name: &str) -> String {
        format!("{}/protocol/openid-connect/{name}", self.issuer())
    }

    /// An access token for `login`, as an app of its own gets it from the provider (code flow
    /// with PKCE as client `colink-web`): a JWT for the audience `colink-api`.
    pub async fn access_token(&self, login: &str) -> String {
        self.tokens(login).await["access_token"]
            .as_str()
            .expect("an access token")
            .to_string()
    }

    /// The provider's token response for `login` (see [`Idp::access_token`]).
    pub async fn tokens(&self, login: &str) -> Value {
        let browser = Browser::new();
        let verifier = URL_SAFE_NO_PAD.encode([7u8; 32]);
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let mut auth = url::Url::parse(&self.endpoint("auth")).unwrap();
        auth.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", "colink-web")
            .append_pair("redirect_uri", TEST_CLIENT_REDIRECT)
            .append_pair("scope", "openid email profile")
            .append_pair("state", "s")
            .append_pair("nonce", "n")
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        let back = browser.log_in_at_provider(auth.as_str(), login).await;
        let code = query_value(&back, "code").expect("a code");
        browser
            .client
            .post(self.endpoint("token"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", TEST_CLIENT_REDIRECT),
                ("client_id", "colink-web"),
                ("code_verifier", &verifier),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

pub fn issuer(port: u16) -> String {
    format!("http://127.0.0.1:{port}/realms/colink")
}

/// The Keycloak provider as `packaging/terraform` configures it.
pub fn keycloak(issuer: &str) -> OidcProvider {
    OidcProvider {
        name: "keycloak".into(),
        issuer: Some(issuer.to_string()),
        client_id: "colink-web".into(),
        audience: Some("colink-api".into()),
        roles_claim: Some("realm_access.roles".into()),
        ..OidcProvider::default()
    }
}

/// A provider account: `email` verified unless said otherwise, with these realm roles.
pub fn account(login: &str, email: &str, verified: bool, roles: &[&str]) -> Value {
    serde_json::json!({
        "sub": format!("kc-{login}"),
        "email": email,
        "email_verified": verified,
        "preferred_username": login,
        "name": format!("{login} Example"),
        "realm_access": { "roles": roles },
    })
}

/// CoLink on a port chosen beforehand (the provider must know its redirect URI), with its
/// public URL set to it, signing in through `providers`, set up: the owner's session too.
pub async fn colink_with(
    providers: Vec<OidcProvider>,
    tweak: impl FnOnce(&mut colink::Config),
) -> (TestApp, Session) {
    let port = free_port();
    let app = spawn_with(move |c| {
        c.server.bind = format!("127.0.0.1:{port}").parse().unwrap();
        c.server.public_url = Some(format!("http://127.0.0.1:{port}").parse().unwrap());
        c.auth.oidc.providers = providers;
        tweak(c);
    })
    .await;
    let (owner, _) = app.setup_owner().await;
    (app, owner)
}

/// The redirect URIs CoLink at `app` uses with the provider `name`: its callback, and the
/// sign-in page it comes back to after the provider's logout.
pub fn colink_uris(app: &TestApp, name: &str) -> Vec<String> {
    vec![
        format!("{}/api/v1/auth/oidc/{name}/callback", app.base),
        format!("{}/login", app.base),
    ]
}

/// A browser: a cookie jar, redirects followed by hand so each hop can be checked.
pub struct Browser {
    pub client: reqwest::Client,
    jar: Arc<reqwest::cookie::Jar>,
}

impl Browser {
    pub fn new() -> Self {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Self { client, jar }
    }

    /// GET `url`; the status and the `Location` it points to (absolute).
    pub async fn visit(&self, url: &str) -> (StatusCode, Option<String>) {
        let response = self.client.get(url).send().await.unwrap();
        let status = response.status();
        (status, location(url, &response))
    }

    /// The value of cookie `name` this browser would send to `url`.
    pub fn cookie(&self, url: &str, name: &str) -> Option<String> {
        let header = self.jar.cookies(&url.parse().unwrap())?;
        header
            .to_str()
            .ok()?
            .split("; ")
            .filter_map(|pair| pair.split_once('='))
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.to_string())
    }

    /// From the provider's authorization URL through its login form as `login` (unless this
    /// browser is signed in there already), to the redirect back to the client (returned,
    /// not followed).
    pub async fn log_in_at_provider(&self, auth_url: &str, login: &str) -> String {
        let (status, interaction) = self.visit(auth_url).await;
        assert_eq!(
            status,
            StatusCode::SEE_OTHER,
            "the provider answers with a redirect"
        );
        let interaction = interaction.unwrap();
        if !interaction.contains("/interaction/") {
            return interaction;
        }
        let form = self
            .client
            .post(&interaction)
            .form(&[("prompt", "login"), ("login", login), ("password", "x")])
            .send()
            .await
            .unwrap();
        assert_eq!(
            form.status(),
            StatusCode::SEE_OTHER,
            "the provider accepts {login}"
        );
        let resume = location(&interaction, &form).unwrap();
        let (status, back) = self.visit(&resume).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        back.unwrap()
    }

    /// The whole web sign-in at CoLink through provider `name` as `login`: start, the
    /// provider's login, the callback. Returns where CoLink finally sends the browser.
    pub async fn sign_in(&self, app: &TestApp, name: &str, login: &str) -> String {
        let start = format!(
            "{}/api/v1/auth/oidc/{name}/start?return_to=/c/general",
            app.base
        );
        let (status, to_provider) = self.visit(&start).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let back = self.log_in_at_provider(&to_provider.unwrap(), login).await;
        assert!(back.starts_with(&app.base), "back to CoLink: {back}");
        let (status, landing) = self.visit(&back).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        landing.unwrap()
    }

    /// After a sign-in: an access token from `POST /auth/web/refresh`, as the web app gets it.
    pub async fn access_token(&self, app: &TestApp) -> String {
        let csrf = self
            .cookie(&app.base, "colink_csrf")
            .expect("a CSRF cookie");
        let reply: Value = self
            .client
            .post(format!("{}/api/v1/auth/web/refresh", app.base))
            .header("X-CSRF-Token", csrf)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        reply["access_token"]
            .as_str()
            .expect("an access token")
            .to_string()
    }
}

fn location(from: &str, response: &reqwest::Response) -> Option<String> {
    let value = response.headers().get(LOCATION)?.to_str().ok()?;
    Some(url::Url::parse(from).ok()?.join(value).ok()?.to_string())
}

/// The value of query parameter `name` in `url`.
pub fn query_value(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}
