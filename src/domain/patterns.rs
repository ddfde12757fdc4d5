//! The patterns the domain types publish (`PATTERN`), which the OpenAPI schema shows and the API
//! checks requests against before a type's `parse` runs. The tests hold each pattern to its parser:
//! everything the pattern admits, `parse` accepts (so the schema never promises what the server
//! refuses), and the examples the parser refuses, the pattern refuses too.

/// Regular-expression character classes for the patterns the domain types publish (the OpenAPI
/// schema shows them; `api::body` checks requests against them). Written so ECMA-262 (JSON
/// Schema), Rust's `regex` and Python's `re` read them alike: `\uXXXX` escapes, no lookaround.
#[macro_export]
macro_rules! pattern_class {
    // A character that is not a control character (Unicode Cc, what `char::is_control` means).
    (not_control) => {
        r"[^\u0000-\u001F\u007F-\u009F]"
    };
    // The same, but tab, line feed and carriage return are allowed (multi-line text).
    (text) => {
        r"[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]"
    };
    // A character that is neither a control character nor white space (what `str::trim` removes).
    (visible) => {
        r"[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]"
    };
}

#[cfg(test)]
mod tests {
    use regex::Regex;

    use super::super::{
        ChannelName, ClientId, DisplayName, Email, Emoji, MessageBody, StatusEmoji, StatusText,
        Username, WorkspaceName,
    };

    /// Strings that probe the edges: cases, white space, controls, scripts, emoji, lengths.
    fn corpus() -> Vec<String> {
        let mut all: Vec<String> = [
            "",
            " ",
            "a",
            "A",
            "ab",
            "#general",
            "##general",
            "General",
            "release-notes",
            "a_b",
            "has space",
            " padded ",
            "x\n",
            "\tx",
            "a\u{7}b",
            "a\u{85}b",
            "a\u{a0}",
            "\u{a0}",
            "\u{3000}",
            "\u{feff}",
            "ädä",
            "日本",
            "é",
            "👍",
            "👍🏽",
            "🇫🇷",
            "👨\u{200d}👩\u{200d}👧",
            "❤\u{fe0f}",
            "1\u{fe0f}\u{20e3}",
            "#\u{20e3}",
            ":thumbsup:",
            "thumbsup",
            "::a::",
            ":+1:",
            "skin-tone-2",
            "ada@example.com",
            "Ada@Example.COM",
            "a@b",
            "a b@x.com",
            "a@x..com",
            "a@-x.com",
            "@x.com",
            "here",
            "channel",
            "-ada",
            "ada.lovelace",
            "Ada.Lovelace",
            "a\r\nb",
            "line\nbreak",
            "K",
            "İstanbul",
            "\u{212a}elvin",
            "tab\there",
            "end ",
            "x!~",
            "x\u{7f}",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for n in [31, 32, 33, 63, 64, 65, 79, 80, 81, 100, 101, 128, 129] {
            all.push("x".repeat(n));
            all.push(format!(" {}", "x".repeat(n)));
        }
        all.push("👍".repeat(16));
        all.push("👍".repeat(17));
        all
    }

    fn holds(name: &str, pattern: &str, max: Option<usize>, parse: impl Fn(&str) -> bool) {
        let regex = Regex::new(pattern).unwrap_or_else(|e| panic!("{name}: {e}"));
        for s in corpus() {
            let admitted = regex.is_match(&s) && max.is_none_or(|m| s.chars().count() <= m);
            if admitted {
                assert!(
                    parse(&s),
                    "{name}: the pattern admits {s:?} but parse refuses it"
                );
            }
        }
    }

    #[test]
    fn every_pattern_admits_only_what_its_parser_accepts() {
        holds("channel name", ChannelName::PATTERN, None, |s| {
            ChannelName::parse(s).is_ok()
        });
        holds("message", MessageBody::PATTERN, Some(40_000), |s| {
            MessageBody::parse(s).is_ok()
        });
        holds("emoji", Emoji::PATTERN, None, |s| Emoji::parse(s).is_ok());
        holds("username", Username::PATTERN, None, |s| {
            Username::parse(s).is_ok()
        });
        holds("email", Email::PATTERN, Some(254), |s| {
            Email::parse(s).is_ok()
        });
        holds("client id", ClientId::PATTERN, None, |s| {
            ClientId::parse(s).is_ok()
        });
        holds("display name", DisplayName::PATTERN, Some(64), |s| {
            DisplayName::parse(s).is_ok()
        });
        holds("workspace name", WorkspaceName::PATTERN, Some(80), |s| {
            WorkspaceName::parse(s).is_ok()
        });
        holds("status text", StatusText::PATTERN, Some(100), |s| {
            StatusText::parse(s).is_ok()
        });
        holds("status emoji", StatusEmoji::PATTERN, Some(64), |s| {
            StatusEmoji::parse(s).is_ok()
        });
    }

    #[test]
    fn patterns_refuse_what_parsers_refuse() {
        let refused = |pattern: &str, samples: &[&str]| {
            let regex = Regex::new(pattern).unwrap();
            for s in samples {
                assert!(!regex.is_match(s), "{pattern} admits {s:?}");
            }
        };
        refused(ChannelName::PATTERN, &["", "has space", "ädä", "#", "a.b"]);
        refused(
            MessageBody::PATTERN,
            &["", " ", "\n\t", "a\u{7}b", "\u{3000}"],
        );
        refused(Emoji::PATTERN, &["", "é", "日本", "a b", "#", "👍 "]);
        refused(Username::PATTERN, &["a", "-ada", "ada lovelace", "ädä"]);
        refused(
            Email::PATTERN,
            &["plain", "@x.com", "a@", "a b@x.com", "a@x..com"],
        );
        refused(ClientId::PATTERN, &["", "a b", "é"]);
        refused(DisplayName::PATTERN, &["", "   ", "a\u{0}b"]);
        refused(StatusText::PATTERN, &["a\u{1b}b"]);
    }
}
