//! The effective configuration with its secrets hidden (`colink check-config`,
//! `GET /admin/system`, log lines naming the database).

use super::Config;

impl Config {
    /// The effective configuration as TOML with every secret replaced by `[redacted]`.
    pub fn redacted_toml(&self) -> String {
        match self.redacted() {
            Ok(value) => toml::to_string_pretty(&value).unwrap_or_default(),
            Err(e) => format!("# could not render configuration: {e}\n"),
        }
    }

    /// The same as JSON (`GET /admin/system`).
    pub fn redacted_json(&self) -> serde_json::Value {
        self.redacted()
            .ok()
            .and_then(|value| serde_json::to_value(value).ok())
            .unwrap_or(serde_json::Value::Null)
    }

    fn redacted(&self) -> Result<toml::Value, toml::ser::Error> {
        let mut value = toml::Value::try_from(self)?;
        for path in [
            &["database", "url"][..],
            &["kv", "url"],
            &["bus", "url"],
            &["bus", "sasl_password"],
            &["auth", "secret_key"],
            &["email", "smtp_url"],
            &["storage", "s3", "access_key_id"],
            &["storage", "s3", "secret_access_key"],
        ] {
            redact(&mut value, path);
        }
        let providers = value
            .get_mut("auth")
            .and_then(|auth| auth.get_mut("oidc"))
            .and_then(|oidc| oidc.get_mut("providers"))
            .and_then(toml::Value::as_array_mut);
        for provider in providers.into_iter().flatten() {
            redact(provider, &["client_secret"]);
        }
        let webhooks = value
            .get_mut("plugins")
            .and_then(|plugins| plugins.get_mut("webhooks"))
            .and_then(toml::Value::as_array_mut);
        for webhook in webhooks.into_iter().flatten() {
            redact(webhook, &["secret"]);
            // Webhook URLs often carry their token in the path: only the origin is shown.
            if let Some(url) = webhook.get_mut("url") {
                let origin = url
                    .as_str()
                    .and_then(|u| url::Url::parse(u).ok())
                    .map(|u| format!("{}/[redacted]", u.origin().ascii_serialization()))
                    .unwrap_or_else(|| "[redacted]".to_owned());
                *url = toml::Value::String(origin);
            }
        }
        Ok(value)
    }
}

/// Replace a secret: URLs keep scheme/host (only credentials are hidden), other values vanish.
fn redact(value: &mut toml::Value, path: &[&str]) {
    let mut cursor = value;
    for key in &path[..path.len() - 1] {
        match cursor.get_mut(*key) {
            Some(next) => cursor = next,
            None => return,
        }
    }
    let Some(leaf) = cursor.get_mut(path[path.len() - 1]) else {
        return;
    };
    let shown = leaf.as_str().map(redact_url).unwrap_or_default();
    *leaf = toml::Value::String(shown);
}

/// A URL with its password replaced by `[redacted]`; anything but a URL with a host vanishes.
pub(super) fn redact_url(text: &str) -> String {
    match url::Url::parse(text) {
        Ok(mut url) if url.has_host() => {
            if url.password().is_some() {
                let _ = url.set_password(Some("[redacted]"));
            }
            // The URL encoder escapes the brackets: show the word as written.
            url.to_string().replace("%5Bredacted%5D", "[redacted]")
        }
        _ => "[redacted]".to_string(),
    }
}
