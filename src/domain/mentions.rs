//! Mentions in message text: `@username`, `@channel`, `@here` (also `@all`/`@everyone` as
//! `@channel`). Not inside code (`inline` or fenced), not in email addresses.

use std::collections::BTreeSet;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mentions {
    /// Lowercased usernames, deduplicated, in sorted order.
    pub usernames: BTreeSet<String>,
    pub channel: bool,
    pub here: bool,
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

pub fn parse(text: &str) -> Mentions {
    let mut out = Mentions::default();
    for segment in prose(text) {
        let chars: Vec<char> = segment.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let starts_word = i == 0
                || !(chars[i - 1].is_alphanumeric() || matches!(chars[i - 1], '_' | '.' | '@'));
            if chars[i] == '@' && starts_word {
                let mut j = i + 1;
                while j < chars.len() && is_name_char(chars[j]) {
                    j += 1;
                }
                // A trailing '.', '-' or '_' is punctuation ("thanks @ada."), not the name.
                let mut name: String = chars[i + 1..j].iter().collect();
                while name.ends_with(['.', '-', '_']) {
                    name.pop();
                }
                let name = name.to_lowercase();
                match name.as_str() {
                    "" => {}
                    "channel" | "all" | "everyone" => out.channel = true,
                    "here" => out.here = true,
                    _ if name.len() >= 2 && name.len() <= 32 => {
                        out.usernames.insert(name);
                    }
                    _ => {}
                }
                i = j;
            } else {
                i += 1;
            }
        }
    }
    out
}

/// The parts of markdown text outside code spans and fenced code blocks.
fn prose(text: &str) -> Vec<String> {
    let mut segments = Vec::new();
    let mut current = String::new();
    let mut in_fence = false;
    for line in text.split_inclusive('\n') {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        // Inline code: text between pairs of backticks.
        let mut in_code = false;
        for part in line.split('`') {
            if !in_code {
                current.push_str(part);
            } else {
                segments.push(std::mem::take(&mut current));
            }
            in_code = !in_code;
        }
        // An unmatched backtick leaves the rest as code; treat it as prose again next line.
    }
    segments.push(current);
    segments
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<String> {
        parse(text).usernames.into_iter().collect()
    }

    #[test]
    fn usernames_are_found_and_normalised() {
        assert_eq!(
            names("hi @Ada and @bob.smith, see @carol-x!"),
            ["ada", "bob.smith", "carol-x"]
        );
        assert_eq!(names("@ada @ada @ADA"), ["ada"]);
        assert_eq!(names("thanks @ada."), ["ada"]);
        assert_eq!(names("(@ada)"), ["ada"]);
    }

    #[test]
    fn not_mentions() {
        assert!(names("mail ada@example.com").is_empty());
        assert!(names("price@@ada").is_empty());
        assert!(names("a lone @ sign").is_empty());
        assert!(names("`@ada` in code").is_empty());
        assert!(names("```\n@ada\n```").is_empty());
        assert!(names("@a").is_empty(), "too short to be a username");
        assert_eq!(names("`code` then @ada"), ["ada"]);
    }

    #[test]
    fn broadcasts() {
        let m = parse("@channel heads up, @here too");
        assert!(m.channel && m.here && m.usernames.is_empty());
        assert!(parse("@everyone").channel);
        assert!(parse("@all").channel);
        assert!(!parse("`@channel`").channel);
    }
}
