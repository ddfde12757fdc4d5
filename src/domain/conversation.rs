//! Channel names, message bodies and emoji.

use super::Invalid;

/// A channel name: 1–80 characters of `a-z 0-9 - _`, stored lowercase ("General" → "general").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelName(String);

impl ChannelName {
    /// What [`ChannelName::parse`] accepts: an optional `#`, letters in either case.
    pub const PATTERN: &'static str = "^#?[A-Za-z0-9_-]{1,80}$";

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let value = raw.trim().trim_start_matches('#').to_ascii_lowercase();
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
    /// What [`MessageBody::parse`] accepts (with at most [`MAX_MESSAGE_CHARS`] characters): no
    /// control characters but tab and line breaks, and one character that is not white space.
    pub const PATTERN: &'static str = concat!(
        "^",
        crate::pattern_class!(text),
        "*",
        crate::pattern_class!(visible),
        crate::pattern_class!(text),
        "*$"
    );

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

/// A reaction emoji: a shortcode (`thumbsup`, `:+1:`, `skin-tone-2`: `[a-z0-9_+-]{1,64}`, stored
/// without colons), or one emoji (`👍`, `👍🏽`, `🇫🇷`, `👨‍👩‍👧`, `❤️`, `1️⃣`): pictographs with their
/// modifiers (variation selectors, zero-width joiners, skin tones, tags) — never letters, of any
/// script ("é", "日本" are not emoji).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emoji(String);

/// Most characters in one emoji (a ZWJ family with skin tones is about 11).
const MAX_EMOJI_CHARS: usize = 16;

/// The sender's own id for a message (an idempotency key): 1–128 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientId(String);

impl ClientId {
    pub const PATTERN: &'static str = r"^[\u0021-\u007E]{1,128}$";

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        if raw.is_empty() || raw.len() > 128 || !raw.chars().all(|c| c.is_ascii_graphic()) {
            return Err(Invalid::new(
                "client_id",
                "must be 1 to 128 visible ASCII characters",
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

/// The pictographs of [`is_pictograph`], as a regular-expression class body.
macro_rules! pictographs {
    () => {
        "\u{1F000}-\u{1FAFF}\u{2600}-\u{27BF}\u{2300}-\u{23FF}\u{2190}-\u{21FF}\u{2900}-\u{297F}\
         \u{25A0}-\u{25FF}\u{2B00}-\u{2BFF}\u{A9}\u{AE}\u{203C}\u{2049}\u{2122}\u{2139}\u{24C2}\
         \u{3030}\u{303D}\u{3297}\u{3299}"
    };
}

impl Emoji {
    /// What [`Emoji::parse`] accepts: a shortcode with optional colons, a keycap, or a pictograph
    /// followed by at most 15 pictographs or modifiers (the characters themselves, not escapes,
    /// because ECMA-262 without the `u` flag cannot escape characters beyond the BMP).
    pub const PATTERN: &'static str = concat!(
        "^(?::?[a-z0-9_+-]{1,64}:?|[0-9#*]\u{FE0F}?\u{20E3}|[",
        pictographs!(),
        "][",
        pictographs!(),
        "\u{FE0E}\u{FE0F}\u{200D}\u{20E3}\u{E0020}-\u{E007F}]{0,15})$"
    );

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let value = raw.trim();
        let shortcode = value.trim_matches(':');
        if (1..=64).contains(&shortcode.len())
            && shortcode.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | '+')
            })
        {
            return Ok(Self(shortcode.to_string()));
        }
        if is_emoji(value) {
            return Ok(Self(value.to_string()));
        }
        Err(Invalid::new(
            "emoji",
            "must be a shortcode like :thumbsup: or an emoji",
        ))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One emoji sequence: a pictograph first, then pictographs or modifiers only; or a keycap.
fn is_emoji(value: &str) -> bool {
    let chars: Vec<char> = value.chars().collect();
    match chars.as_slice() {
        [] => false,
        // Keycaps: 0-9, # or *, an optional VS16, then the combining enclosing keycap.
        ['0'..='9' | '#' | '*', rest @ ..] => {
            matches!(rest, ['\u{FE0F}', '\u{20E3}'] | ['\u{20E3}'])
        }
        [first, rest @ ..] => {
            chars.len() <= MAX_EMOJI_CHARS
                && is_pictograph(*first)
                && rest.iter().all(|c| is_pictograph(*c) || is_modifier(*c))
        }
    }
}

/// Characters that are emoji (or emoji parts such as regional indicators) on their own: the
/// pictographic blocks and the handful of older symbols with emoji presentation.
fn is_pictograph(c: char) -> bool {
    matches!(u32::from(c),
        // Mahjong, dominoes, cards, enclosed alphanumerics (🅰 🆗, regional indicators 🇦–🇿),
        // enclosed ideographs, pictographs, emoticons, transport, skin tones, supplemental
        // symbols and pictographs, chess, symbols and pictographs extended-A.
        0x1F000..=0x1FAFF
        // Miscellaneous symbols (☀ ☕ ♥) and dingbats (✂ ✅ ❤).
        | 0x2600..=0x27BF
        // Miscellaneous technical (⌚ ⌛ ⏩ ⏰).
        | 0x2300..=0x23FF
        // Arrows (↔ ↩), supplemental arrows-B (⤴ ⤵), geometric shapes (▪ ▶ ◀ ◻).
        | 0x2190..=0x21FF
        | 0x2900..=0x297F
        | 0x25A0..=0x25FF
        // Miscellaneous symbols and arrows (⬅ ⬛ ⭐ ⭕).
        | 0x2B00..=0x2BFF
        // © ® ‼ ⁉ ™ ℹ Ⓜ 〰 〽 ㊗ ㊙
        | 0x00A9 | 0x00AE | 0x203C | 0x2049 | 0x2122 | 0x2139 | 0x24C2
        | 0x3030 | 0x303D | 0x3297 | 0x3299
    )
}

/// Characters that only modify or join pictographs.
fn is_modifier(c: char) -> bool {
    matches!(
        u32::from(c),
        // Variation selectors (text / emoji presentation).
        0xFE0E | 0xFE0F
        // Zero-width joiner (👨‍👩‍👧).
        | 0x200D
        // Combining enclosing keycap.
        | 0x20E3
        // Tags (subdivision flags 🏴󠁧󠁢󠁳󠁣󠁴󠁿).
        | 0xE0020..=0xE007F
    )
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
    fn emoji_shortcodes() {
        assert_eq!(Emoji::parse(":thumbsup:").unwrap().as_str(), "thumbsup");
        assert_eq!(Emoji::parse("+1").unwrap().as_str(), "+1");
        assert_eq!(
            Emoji::parse(" :skin-tone-2: ").unwrap().as_str(),
            "skin-tone-2"
        );
        assert_eq!(Emoji::parse("100").unwrap().as_str(), "100");
        assert!(Emoji::parse(&"x".repeat(64)).is_ok());
        for bad in [
            "",
            "::",
            "thumbs up",
            "<script>",
            ":Thumbsup:",
            "thumbs.up",
            &"x".repeat(65),
        ] {
            assert!(Emoji::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn emoji_characters() {
        for good in [
            "👍",
            "👍🏽",
            "🇫🇷",
            "🎉",
            "👨\u{200D}👩\u{200D}👧\u{200D}👦",
            "👩🏽\u{200D}💻",
            "❤\u{FE0F}",
            "☕",
            "⭐",
            "✅",
            "©\u{FE0F}",
            "1\u{FE0F}\u{20E3}",
            "#\u{20E3}",
            "🏴\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}",
            "🅰\u{FE0F}",
        ] {
            assert_eq!(Emoji::parse(good).unwrap().as_str(), good, "{good}");
        }
    }

    #[test]
    fn letters_of_any_script_are_not_emoji() {
        for bad in [
            "é",
            "日本",
            "Ω",
            "ß",
            "Привет",
            "مرحبا",
            "٣",
            "한",
            "a👍",
            "👍a",
            "👍é",
            "😀 😀",
            "👍\u{200B}",
            "\u{FE0F}",
            "\u{200D}👍",
            "\u{20E3}",
            "1\u{FE0F}",
            "11\u{20E3}",
            "👍\u{7}",
            &"👍".repeat(17),
        ] {
            assert!(Emoji::parse(bad).is_err(), "{bad:?}");
        }
    }
}
