use super::Invalid;

/// Names that would collide with mention keywords.
const RESERVED_USERNAMES: &[&str] = &["all", "channel", "here", "everyone", "system"];

/// A login handle: 2–32 characters of `a-z 0-9 . _ -`, starting with a letter or digit,
/// stored lowercase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let value = raw.trim().to_lowercase();
        let bad = |m: &str| Err(Invalid::new("username", m));
        let len = value.chars().count();
        if !(2..=32).contains(&len) {
            return bad("must be 2 to 32 characters");
        }
        if !value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
        {
            return bad("may contain only letters, digits, '.', '_' and '-'");
        }
        if !value.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return bad("must start with a letter or digit");
        }
        if RESERVED_USERNAMES.contains(&value.as_str()) {
            return bad("is reserved");
        }
        Ok(Self(value))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Trimmed free text with a length bound and no control characters.
fn bounded_text(field: &'static str, raw: &str, min: usize, max: usize) -> Result<String, Invalid> {
    let value = raw.trim();
    let len = value.chars().count();
    if len < min || len > max {
        return Err(Invalid::new(
            field,
            format!("must be {min} to {max} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(Invalid::new(field, "must not contain control characters"));
    }
    Ok(value.to_string())
}

macro_rules! text_type {
    ($(#[$doc:meta])* $name:ident, $field:literal, $min:expr, $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            pub fn parse(raw: &str) -> Result<Self, Invalid> {
                bounded_text($field, raw, $min, $max).map(Self)
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
            pub fn into_inner(self) -> String {
                self.0
            }
        }
    };
}

text_type!(
    /// The name shown beside messages.
    DisplayName, "display_name", 1, 64
);
text_type!(
    /// A custom status line ("In a meeting"); may be empty to clear it.
    StatusText, "status_text", 0, 100
);
text_type!(
    /// A status emoji: a shortcode like `:palm_tree:` or the emoji itself.
    StatusEmoji, "status_emoji", 0, 64
);
text_type!(
    /// A workspace's name.
    WorkspaceName, "name", 1, 80
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert_eq!(
            Username::parse("Ada.Lovelace").unwrap().as_str(),
            "ada.lovelace"
        );
        for bad in [
            "a",
            "-ada",
            "ada lovelace",
            "ädä",
            "here",
            "channel",
            &"x".repeat(33),
        ] {
            assert!(Username::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bounded_texts() {
        assert_eq!(DisplayName::parse("  Ada  ").unwrap().as_str(), "Ada");
        assert!(DisplayName::parse("   ").is_err());
        assert!(DisplayName::parse("a\u{0}b").is_err());
        assert!(StatusText::parse("").is_ok());
        assert!(StatusText::parse(&"x".repeat(101)).is_err());
    }
}
