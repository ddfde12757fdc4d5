//! `[plugins]`: programs that receive CoLink's events — today outgoing webhooks
//! (`[[plugins.webhooks]]`), delivered by the work consumer in `plugins`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{ConfigError, HumanDuration, Secret};
use crate::domain::events::EventKind;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PluginsConfig {
    /// How long a delivery may take (connecting, sending and the answer's head) before it
    /// counts as failed.
    pub timeout: HumanDuration,
    /// The wait before the second attempt of a failed delivery; the third waits twice as long.
    /// After the third the event is set aside (Kafka: copied to `<topic_prefix>dlq`).
    pub retry_delay: HumanDuration,
    pub webhooks: Vec<WebhookConfig>,
}

impl Default for PluginsConfig {
    fn default() -> Self {
        Self {
            timeout: HumanDuration(Duration::from_secs(10)),
            retry_delay: HumanDuration(Duration::from_secs(5)),
            webhooks: Vec::new(),
        }
    }
}

/// One outgoing webhook: every event of the chosen types, POSTed as JSON and signed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Its name in logs, metrics and the DLQ: 1–32 of `a-z 0-9 -`.
    pub name: String,
    /// Where events are POSTed: an http(s) URL.
    pub url: String,
    /// The key of the `X-CoLink-Signature` HMAC (at least 16 characters): the receiver checks
    /// that a request comes from this server.
    pub secret: Secret,
    /// The event types it receives (`message.created` …); empty: every type
    /// ([`WEBHOOK_EVENTS`]).
    #[serde(default)]
    pub events: Vec<String>,
}

/// The types a webhook can receive: SPEC §7's, not the server's internal signals
/// (`session.revoked`, `channel.restricted`).
pub const WEBHOOK_EVENTS: &[EventKind] = &[
    EventKind::MessageCreated,
    EventKind::MessageUpdated,
    EventKind::MessageDeleted,
    EventKind::ReactionAdded,
    EventKind::ReactionRemoved,
    EventKind::ChannelCreated,
    EventKind::ChannelUpdated,
    EventKind::ChannelArchived,
    EventKind::MemberJoined,
    EventKind::MemberLeft,
    EventKind::ConversationRead,
    EventKind::ThreadUpdated,
    EventKind::FileUploaded,
    EventKind::ModerationAction,
    EventKind::UserUpdated,
];

/// The most webhooks one server delivers to.
const MAX_WEBHOOKS: usize = 32;
const MIN_SECRET_LEN: usize = 16;

impl WebhookConfig {
    /// The types it receives (validated: every name is one of [`WEBHOOK_EVENTS`]).
    pub fn kinds(&self) -> Vec<EventKind> {
        if self.events.is_empty() {
            return WEBHOOK_EVENTS.to_vec();
        }
        WEBHOOK_EVENTS
            .iter()
            .copied()
            .filter(|k| self.events.iter().any(|e| e == k.as_str()))
            .collect()
    }
}

impl PluginsConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.timeout.0 < Duration::from_secs(1) || self.timeout.0 > Duration::from_secs(60) {
            return Err(ConfigError::invalid(
                "plugins.timeout",
                "must be between 1s and 1m",
            ));
        }
        if self.retry_delay.0 > Duration::from_secs(60) {
            return Err(ConfigError::invalid(
                "plugins.retry_delay",
                "must be at most 1m",
            ));
        }
        const KEY: &str = "plugins.webhooks";
        let invalid = |problem: String| Err(ConfigError::invalid(KEY, problem));
        if self.webhooks.len() > MAX_WEBHOOKS {
            return invalid(format!("at most {MAX_WEBHOOKS} webhooks"));
        }
        let mut seen = std::collections::HashSet::new();
        for hook in &self.webhooks {
            if !super::oidc::is_name(&hook.name) {
                return invalid(format!(
                    "name `{}`: 1–32 characters of a-z, 0-9 and -",
                    hook.name
                ));
            }
            if !seen.insert(hook.name.as_str()) {
                return invalid(format!("name `{}` is used twice", hook.name));
            }
            let at =
                |field: &str, problem: &str| invalid(format!("{}: {field} {problem}", hook.name));
            if !super::oidc::is_http_url(&hook.url) {
                return at("url", "must be an http(s) URL");
            }
            if hook.secret.expose().chars().count() < MIN_SECRET_LEN {
                return at("secret", "must be at least 16 characters");
            }
            if let Some(unknown) = hook
                .events
                .iter()
                .find(|e| !WEBHOOK_EVENTS.iter().any(|k| k.as_str() == e.as_str()))
            {
                let known: Vec<&str> = WEBHOOK_EVENTS.iter().map(|k| k.as_str()).collect();
                return at(
                    "events",
                    &format!("has `{unknown}`, not one of {}", known.join(", ")),
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(name: &str, url: &str, secret: &str, events: &[&str]) -> WebhookConfig {
        WebhookConfig {
            name: name.into(),
            url: url.into(),
            secret: Secret::new(secret),
            events: events.iter().map(|e| (*e).to_owned()).collect(),
        }
    }

    fn problem(webhooks: Vec<WebhookConfig>) -> Option<String> {
        let config = PluginsConfig {
            webhooks,
            ..PluginsConfig::default()
        };
        config.validate().err().map(|e| e.to_string())
    }

    const SECRET: &str = "0123456789abcdef";

    #[test]
    fn webhooks_are_checked_field_by_field() {
        assert_eq!(
            problem(vec![hook("ci", "https://ci.example/h", SECRET, &[])]),
            None
        );
        let cases = [
            (hook("CI", "https://x.example", SECRET, &[]), "name `CI`"),
            (hook("ci", "ftp://x.example", SECRET, &[]), "ci: url"),
            (hook("ci", "https://x.example", "short", &[]), "ci: secret"),
            (
                hook("ci", "https://x.example", SECRET, &["session.revoked"]),
                "has `session.revoked`",
            ),
        ];
        for (webhook, expected) in cases {
            let said = problem(vec![webhook]).expect("refused");
            assert!(said.contains("plugins.webhooks"), "{said}");
            assert!(said.contains(expected), "{said} / {expected}");
        }
        let twice = problem(vec![
            hook("ci", "https://a.example", SECRET, &[]),
            hook("ci", "https://b.example", SECRET, &[]),
        ]);
        assert!(twice.is_some_and(|p| p.contains("used twice")));
    }

    #[test]
    fn a_webhook_receives_the_types_it_names_or_every_public_type() {
        let all = hook("a", "https://x.example", SECRET, &[]);
        assert_eq!(all.kinds(), WEBHOOK_EVENTS);
        assert!(!all.kinds().contains(&EventKind::SessionRevoked));
        let some = hook(
            "b",
            "https://x.example",
            SECRET,
            &["reaction.added", "message.created"],
        );
        assert_eq!(
            some.kinds(),
            vec![EventKind::MessageCreated, EventKind::ReactionAdded]
        );
    }

    #[test]
    fn timeouts_and_delays_are_bounded() {
        let mut config = PluginsConfig {
            timeout: HumanDuration(Duration::ZERO),
            ..PluginsConfig::default()
        };
        assert!(config.validate().is_err());
        config.timeout = HumanDuration(Duration::from_secs(10));
        config.retry_delay = HumanDuration(Duration::from_secs(3600));
        let said = config.validate().err().map(|e| e.to_string());
        assert!(said.is_some_and(|s| s.contains("plugins.retry_delay")));
    }
}
