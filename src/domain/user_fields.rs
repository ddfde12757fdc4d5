use super::Invalid;

/// Names that would collide with mention keywords.
const RESERVED_USERNAMES: &[&str] = &["all", "channel", "here", "everyone", "system"];

/// A login handle: 2–32 characters of `a-z 0-9 . _ -`, starting with a letter or digit,
/// stored lowercase. A well-formed handle may still be reserved ([`Username::is_reserved`]):
/// that is a name taken by the system, refused like a taken one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    /// What [`Username::parse`] accepts (letters in either case).
    pub const PATTERN: &'static str = "^[A-Za-z0-9][A-Za-z0-9._-]{1,31}$";

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let value = raw.trim().to_ascii_lowercase();
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
        Ok(Self(value))
    }
    /// Names that would collide with mention keywords (`@channel`, `@here`…).
    pub fn is_reserved(&self) -> bool {
        RESERVED_USERNAMES.contains(&self.0.as_str())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Free text: at most `max` characters as sent, no control characters, and (when `min` is 1)
/// not only white space; stored trimmed.
fn bounded_text(field: &'static str, raw: &str, min: usize, max: usize) -> Result<String, Invalid> {
    let value = raw.trim();
    if value.chars().count() < min || raw.chars().count() > max {
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
            /// The most characters, as sent (before trimming).
            pub const MAX_CHARS: usize = $max;
            /// What [`Self::parse`] accepts: no control characters and, unless the text may be
            /// empty, one character that is not white space.
            pub const PATTERN: &'static str = if $min == 0 {
                concat!("^", $crate::pattern_class!(not_control), "*$")
            } else {
                concat!(
                    "^",
                    $crate::pattern_class!(not_control),
                    "*",
                    $crate::pattern_class!(visible),
                    $crate::pattern_class!(not_control),
                    "*$"
                )
            };

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
        for bad in ["a", "-ada", "ada lovelace", "ädä", &"x".repeat(33)] {
            assert!(Username::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reserved_usernames_are_well_formed_but_reserved() {
        for name in ["here", "Channel", "all"] {
            assert!(Username::parse(name).unwrap().is_reserved(), "{name}");
        }
        assert!(!Username::parse("ada").unwrap().is_reserved());
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
