//! The search box's language, parsed once at the boundary (no IO here).
//!
//! `deploy "release notes" from:@ana in:#ops before:2026-12-01 after:2026-11-01 has:file`
//!
//! - Words must all match (stemmed, accent-folded; see `analyzer`); `"phrases"` match in order.
//!   An unbalanced quote runs to the end of the query.
//! - `from:@user` / `from:user`, `in:#channel` / `in:channel`: may repeat (any of them matches).
//! - `before:DATE` — sent before that day (UTC); `after:DATE` — sent after that day. `DATE` is
//!   `YYYY-MM-DD`.
//! - `has:file` — messages with an attachment.
//! - A word with an unknown `name:` prefix is searched as text, like anything else.

use time::{Date, macros::format_description};

use super::analyzer;
use crate::domain::Invalid;

/// Longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 512;
/// Most words and phrases in one query (each is a clause the index evaluates).
const MAX_CLAUSES: usize = 16;
/// Most terms in one phrase.
const MAX_PHRASE_TERMS: usize = 12;
/// Most `from:` / `in:` operators.
const MAX_OPERATORS: usize = 10;

/// A parsed query: text clauses (as index terms) and filters (as typed by the user; the service
/// resolves names).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchQuery {
    /// One entry per word or phrase: its terms, all of which must occur, in this order. A word
    /// that is CJK text gives several terms (its bigrams), matched as a phrase.
    pub clauses: Vec<Vec<String>>,
    pub from: Vec<String>,
    pub in_channels: Vec<String>,
    pub before: Option<Date>,
    pub after: Option<Date>,
    pub has_file: bool,
}

impl SearchQuery {
    /// Every term of the text clauses, for highlighting.
    pub fn terms(&self) -> Vec<String> {
        self.clauses.iter().flatten().cloned().collect()
    }

    /// True when nothing narrows the search at all.
    pub fn is_empty(&self) -> bool {
        self.clauses.is_empty()
            && self.from.is_empty()
            && self.in_channels.is_empty()
            && self.before.is_none()
            && self.after.is_none()
            && !self.has_file
    }

    /// Parse `q`; an error names what is wrong with it (400 `validation_failed`, field `q`).
    pub fn parse(q: &str) -> Result<Self, Invalid> {
        if q.chars().count() > MAX_QUERY_CHARS {
            return Err(invalid(format!(
                "is longer than {MAX_QUERY_CHARS} characters"
            )));
        }
        let mut query = SearchQuery::default();
        for piece in pieces(q) {
            match piece {
                Piece::Phrase(text) => query.add_text(text)?,
                Piece::Word(word) => query.add_word(word)?,
            }
        }
        // Past the bounds, the rest is ignored (as web search engines do): every query the API
        // lets through is answered.
        query.clauses.truncate(MAX_CLAUSES);
        query.from.truncate(MAX_OPERATORS);
        query
            .in_channels
            .truncate(MAX_OPERATORS.saturating_sub(query.from.len()));
        Ok(query)
    }

    fn add_word(&mut self, word: &str) -> Result<(), Invalid> {
        let Some((name, value)) = word.split_once(':') else {
            return self.add_text(word);
        };
        match (name.to_ascii_lowercase().as_str(), value) {
            ("from", v) if !v.trim_start_matches('@').is_empty() => {
                self.from.push(v.trim_start_matches('@').to_lowercase());
            }
            ("in", v) if !v.trim_start_matches('#').is_empty() => {
                self.in_channels
                    .push(v.trim_start_matches('#').to_lowercase());
            }
            // A date that does not read is searched as text, like an unknown operator.
            ("before", v) if date(v).is_some() => self.before = date(v),
            ("after", v) if date(v).is_some() => self.after = date(v),
            ("has", v) if v.eq_ignore_ascii_case("file") || v.eq_ignore_ascii_case("files") => {
                self.has_file = true;
            }
            _ => return self.add_text(word),
        }
        Ok(())
    }

    /// A word (which may still be several terms: `e-mail`, CJK text) or a phrase.
    fn add_text(&mut self, text: &str) -> Result<(), Invalid> {
        let mut terms = analyzer::terms(text);
        if terms.is_empty() {
            return Ok(());
        }
        terms.truncate(MAX_PHRASE_TERMS);
        self.clauses.push(terms);
        Ok(())
    }
}

enum Piece<'a> {
    Word(&'a str),
    Phrase(&'a str),
}

/// Words separated by whitespace, and quoted phrases (an unclosed quote runs to the end).
fn pieces(q: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = q;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return out;
        }
        if let Some(inner) = rest.strip_prefix('"') {
            let end = inner.find('"').unwrap_or(inner.len());
            out.push(Piece::Phrase(&inner[..end]));
            rest = inner.get(end + 1..).unwrap_or("");
        } else {
            let end = rest
                .find(|c: char| c.is_whitespace() || c == '"')
                .unwrap_or(rest.len());
            out.push(Piece::Word(&rest[..end]));
            rest = &rest[end..];
        }
    }
}

fn date(value: &str) -> Option<Date> {
    Date::parse(value, format_description!("[year]-[month]-[day]")).ok()
}

fn invalid(message: String) -> Invalid {
    Invalid::new("q", message)
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    fn parse(q: &str) -> SearchQuery {
        SearchQuery::parse(q).unwrap()
    }

    #[test]
    fn words_phrases_and_operators() {
        let q = parse(
            r#"Deploying "Release Notes" from:@Ana in:#ops before:2026-12-01 after:2026-11-01 has:file"#,
        );
        assert_eq!(q.clauses, [vec!["deploy"], vec!["releas", "note"]]);
        assert_eq!(q.from, ["ana"]);
        assert_eq!(q.in_channels, ["ops"]);
        assert_eq!(q.before, Some(date!(2026 - 12 - 01)));
        assert_eq!(q.after, Some(date!(2026 - 11 - 01)));
        assert!(q.has_file);
    }

    #[test]
    fn operators_without_marks_and_repeated() {
        let q = parse("from:ana from:@bo in:general IN:#Ops");
        assert_eq!(q.from, ["ana", "bo"]);
        assert_eq!(q.in_channels, ["general", "ops"]);
        assert!(q.clauses.is_empty() && !q.is_empty());
    }

    #[test]
    fn unknown_or_empty_operators_are_text() {
        let q = parse("http://example.com from: in:# todo:later");
        assert!(q.from.is_empty() && q.in_channels.is_empty());
        assert_eq!(
            q.clauses,
            [
                vec!["http", "exampl", "com"],
                vec!["from"],
                vec!["in"],
                vec!["todo", "later"]
            ]
        );
    }

    #[test]
    fn hostile_input_parses_or_is_refused_cleanly() {
        assert_eq!(
            parse(r#""unclosed phrase"#).clauses,
            [vec!["unclos", "phrase"]]
        );
        assert!(parse(r#"""  "" ".*+?[]{}()^$|\""#).clauses.is_empty());
        assert!(parse("").is_empty());
        assert_eq!(
            parse(".* [a-z]+ (x|y)").clauses,
            [vec!["a", "z"], vec!["x", "y"]]
        );
        let err = SearchQuery::parse(&"a ".repeat(300)).unwrap_err();
        assert_eq!(err.field, "q", "600 characters");
        assert_eq!(
            parse(&"word ".repeat(17)).clauses.len(),
            16,
            "the 17th is ignored"
        );
        assert_eq!(
            parse(&format!("\"{}\"", "w ".repeat(13))).clauses[0].len(),
            12
        );
        assert_eq!(
            parse("before:yesterday").clauses,
            [vec!["befor", "yesterday"]]
        );
        assert_eq!(parse("after:2026-02-30").after, None);
    }

    #[test]
    fn cjk_words_are_phrases_of_bigrams() {
        assert_eq!(
            parse("東京タワー").clauses,
            [vec!["東京", "京タ", "タワ", "ワー"]]
        );
    }
}
