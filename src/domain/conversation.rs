//! Channel names, message bodies and emoji.

use super::Invalid;

/// A channel name: 1–80 characters of `a-z 0-9 - _`, stored lowercase ("General" → "general").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelName(String);

impl ChannelName {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let value = raw.trim().trim_start_matches('#').to_lowercase();
        let len = value.chars().count();
        if !(1..=80).contains(&len) {
            return Err(Invalid::new("name", "must be 1 to 80 characters"));
        }
        if !value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            return Err(Invalid::new(
                "name",
                "may contain only lowercase letters, digits, '-' and '_'",
            ));
        }
        Ok(Self(value))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// Markdown message text: 1–40,000 characters, not only whitespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageBody(String);

pub const MAX_MESSAGE_CHARS: usize = 40_000;

impl MessageBody {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        if raw.trim().is_empty() {
            return Err(Invalid::new("content", "must not be empty"));
        }
        if raw.chars().count() > MAX_MESSAGE_CHARS {
            return Err(Invalid::new(
                "content",
                format!("must be at most {MAX_MESSAGE_CHARS} characters"),
            ));
        }
        if raw
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(Invalid::new(
                "content",
                "must not contain control characters",
            ));
        }
        Ok(Self(raw.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A reaction emoji: a shortcode (`thumbsup`, `:+1:`, `skin-tone-2`) stored without colons, or
/// one emoji character sequence (`👍`, `👍🏽`, `🇫🇷`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emoji(String);

impl Emoji {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let value = raw.trim();
        let bad = || Invalid::new("emoji", "must be a shortcode like :thumbsup: or an emoji");
        let shortcode = value.trim_matches(':');
        if !shortcode.is_empty()
            && shortcode.len() <= 64
            && shortcode.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | '+')
            })
        {
            return Ok(Self(shortcode.to_string()));
        }
        // An emoji: no ASCII, whitespace or control characters, short.
        let chars = value.chars().count();
        if (1..=16).contains(&chars)
            && value
                .chars()
                .all(|c| !c.is_ascii() && !c.is_whitespace() && !c.is_control())
        {
            return Ok(Self(value.to_string()));
        }
        Err(bad())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names() {
        assert_eq!(
            ChannelName::parse(" #General ").unwrap().as_str(),
            "general"
        );
        assert!(ChannelName::parse("dev-ops_2").is_ok());
        for bad in ["", "has space", "ümlaut", "dot.name", &"x".repeat(81)] {
            assert!(ChannelName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn message_bodies() {
        assert!(MessageBody::parse("hello\nworld\t!").is_ok());
        assert!(MessageBody::parse(" \n ").is_err());
        assert!(MessageBody::parse(&"x".repeat(MAX_MESSAGE_CHARS)).is_ok());
        assert!(MessageBody::parse(&"x".repeat(MAX_MESSAGE_CHARS + 1)).is_err());
        assert!(MessageBody::parse("bell\u{7}").is_err());
    }

    #[test]
    fn emoji() {
        assert_eq!(Emoji::parse(":thumbsup:").unwrap().as_str(), "thumbsup");
        assert_eq!(Emoji::parse("+1").unwrap().as_str(), "+1");
        assert_eq!(Emoji::parse("👍🏽").unwrap().as_str(), "👍🏽");
        for bad in [
            "",
            "::",
            "thumbs up",
            "<script>",
            ":Thumbsup:",
            "a👍",
            &"x".repeat(65),
        ] {
            assert!(Emoji::parse(bad).is_err(), "{bad}");
        }
    }
}
