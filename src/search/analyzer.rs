//! How text becomes search terms, the same way for documents, queries and highlights.
//!
//! - Words are runs of letters and digits; everything else separates them.
//! - CJK text (Han, Kana, Hangul) has no spaces between words: each run of it is cut into
//!   overlapping character bigrams (`東京タワー` → `東京 京タ タワ ワー`; a single character stays
//!   one term), so any substring of two or more characters is found as a phrase of bigrams.
//! - Terms are lowercased, accents are folded to ASCII (`Café` → `cafe`) and English words are
//!   stemmed (`deploying` → `deploy`); terms over 40 bytes are dropped.

use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, Stemmer, TextAnalyzer, Token,
    TokenStream, Tokenizer,
};

/// The name the analyzer is registered under in the index.
pub const NAME: &str = "colink_text";

/// Terms longer than this (bytes, before folding) are not indexed.
const LONGEST_TERM: usize = 40;

/// The analyzer for message text.
pub fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(WordsAndBigrams::default())
        .filter(RemoveLongFilter::limit(LONGEST_TERM))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(Stemmer::new(Language::English))
        .build()
}

/// Changes whenever `analyzer` makes other terms of the same text: terms stored by an older
/// analyzer are made again (the tantivy index's schema version follows it too).
pub const VERSION: i32 = 1;

/// The terms of `text`, in order.
pub fn terms(text: &str) -> Vec<String> {
    positioned_terms(text).into_iter().map(|(_, t)| t).collect()
}

/// The terms of `text` with their positions (from 0; a dropped over-long word leaves a gap,
/// so a phrase never matches across it).
pub fn positioned_terms(text: &str) -> Vec<(usize, String)> {
    let mut analyzer = analyzer();
    let mut stream = analyzer.token_stream(text);
    let mut out = Vec::new();
    while stream.advance() {
        let token = stream.token();
        out.push((token.position, token.text.clone()));
    }
    out
}

/// True for characters of scripts written without spaces between words.
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF      // Hiragana, Katakana
        | 0x3400..=0x4DBF    // CJK Extension A
        | 0x4E00..=0x9FFF    // CJK Unified Ideographs
        | 0xAC00..=0xD7AF    // Hangul syllables
        | 0xF900..=0xFAFF    // CJK Compatibility Ideographs
        | 0x20000..=0x2FFFF  // CJK Extensions B and later
    )
}

/// Words, and bigrams of CJK runs (see the module docs).
#[derive(Clone, Default)]
pub struct WordsAndBigrams {
    token: Token,
}

pub struct WordsAndBigramsStream<'a> {
    text: &'a str,
    /// Byte offset where scanning continues.
    at: usize,
    /// Inside a CJK run: the byte offsets of its characters still to be paired.
    cjk: Vec<usize>,
    /// The next of `cjk` to start a bigram.
    cjk_next: usize,
    /// End of the current CJK run.
    cjk_end: usize,
    token: &'a mut Token,
}

impl Tokenizer for WordsAndBigrams {
    type TokenStream<'a> = WordsAndBigramsStream<'a>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> WordsAndBigramsStream<'a> {
        self.token.reset();
        WordsAndBigramsStream {
            text,
            at: 0,
            cjk: Vec::new(),
            cjk_next: 0,
            cjk_end: 0,
            token: &mut self.token,
        }
    }
}

impl WordsAndBigramsStream<'_> {
    fn emit(&mut self, from: usize, to: usize) -> bool {
        self.token.text.clear();
        self.token.text.push_str(&self.text[from..to]);
        self.token.offset_from = from;
        self.token.offset_to = to;
        self.token.position = self.token.position.wrapping_add(1);
        true
    }

    /// The next bigram of the current CJK run, if any is left: from each character to the one
    /// after the next (or the run's end); a run of one character is its own term.
    fn next_bigram(&mut self) -> Option<(usize, usize)> {
        let from = *self.cjk.get(self.cjk_next)?;
        self.cjk_next += 1;
        let to = self
            .cjk
            .get(self.cjk_next + 1)
            .copied()
            .unwrap_or(self.cjk_end);
        if self.cjk_next + 1 >= self.cjk.len() {
            // That pair ended the run (or the run was one character).
            self.cjk.clear();
            self.cjk_next = 0;
        }
        Some((from, to))
    }
}

impl TokenStream for WordsAndBigramsStream<'_> {
    fn advance(&mut self) -> bool {
        if let Some((from, to)) = self.next_bigram() {
            return self.emit(from, to);
        }
        let rest = &self.text[self.at..];
        let Some((start_rel, first)) = rest.char_indices().find(|(_, c)| c.is_alphanumeric())
        else {
            self.at = self.text.len();
            return false;
        };
        let start = self.at + start_rel;
        let cjk = is_cjk(first);
        let mut end = self.text.len();
        let mut starts = Vec::new();
        for (i, c) in self.text[start..].char_indices() {
            if !c.is_alphanumeric() || is_cjk(c) != cjk {
                end = start + i;
                break;
            }
            if cjk {
                starts.push(start + i);
            }
        }
        self.at = end;
        if cjk {
            self.cjk = starts;
            self.cjk_next = 0;
            self.cjk_end = end;
            match self.next_bigram() {
                Some((from, to)) => self.emit(from, to),
                None => false,
            }
        } else {
            self.emit(start, end)
        }
    }

    fn token(&self) -> &Token {
        self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}

/// `text` HTML-escaped, with every word whose term is in `wanted` wrapped in `<mark>`. Long
/// texts are cut to a window of about `context` characters around the first match.
pub fn highlight(text: &str, wanted: &[String], context: usize) -> String {
    let mut analyzer = analyzer();
    let mut stream = analyzer.token_stream(text);
    let mut spans: Vec<(usize, usize)> = Vec::new();
    while stream.advance() {
        let token = stream.token();
        if wanted.contains(&token.text) {
            match spans.last_mut() {
                // Overlapping bigrams of one CJK match become one mark.
                Some(last) if token.offset_from <= last.1 => last.1 = last.1.max(token.offset_to),
                _ => spans.push((token.offset_from, token.offset_to)),
            }
        }
    }
    let (from, to) = window(text, spans.first().map(|s| s.0), context);
    let mut out = String::with_capacity(to - from + 32);
    if from > 0 {
        out.push('…');
    }
    let mut at = from;
    for &(start, end) in spans.iter().filter(|s| s.0 >= from && s.1 <= to) {
        escape_into(&mut out, &text[at..start]);
        out.push_str("<mark>");
        escape_into(&mut out, &text[start..end]);
        out.push_str("</mark>");
        at = end;
    }
    escape_into(&mut out, &text[at..to]);
    if to < text.len() {
        out.push('…');
    }
    out
}

/// Byte range of at most about `context` characters of `text`, starting a little before `focus`.
fn window(text: &str, focus: Option<usize>, context: usize) -> (usize, usize) {
    if text.chars().count() <= context {
        return (0, text.len());
    }
    let focus = focus.unwrap_or(0);
    let lead = context / 4;
    let before: Vec<usize> = text[..focus].char_indices().map(|(i, _)| i).collect();
    let mut from = before.len().checked_sub(lead).map_or(0, |k| before[k]);
    // Start at a word boundary when one is near.
    if from > 0
        && let Some(space) = text[from..focus].find(char::is_whitespace)
    {
        from += space + 1;
    }
    let to = text[from..]
        .char_indices()
        .nth(context)
        .map_or(text.len(), |(i, _)| from + i);
    (from, to)
}

pub(crate) fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_lowercased_folded_and_stemmed() {
        assert_eq!(
            terms("Deploying the Café's builds, naïvely!"),
            ["deploy", "the", "cafe", "s", "build", "naiv"]
        );
    }

    #[test]
    fn cjk_runs_become_overlapping_bigrams() {
        assert_eq!(terms("東京タワー"), ["東京", "京タ", "タワ", "ワー"]);
        assert_eq!(terms("東"), ["東"]);
        assert_eq!(terms("gladly"), ["glad"]);
        assert_eq!(terms("東京"), ["東京"]);
        assert_eq!(terms("go 東京 now"), ["go", "東京", "now"]);
        assert_eq!(terms("release東京"), ["releas", "東京"]);
        assert_eq!(terms("서울에서"), ["서울", "울에", "에서"]);
    }

    #[test]
    fn positions_are_consecutive_across_words_and_bigrams() {
        let mut analyzer = analyzer();
        let mut stream = analyzer.token_stream("a 東京タ b");
        let mut positions = Vec::new();
        while stream.advance() {
            positions.push(stream.token().position);
        }
        assert_eq!(positions, [0, 1, 2, 3]);
    }

    #[test]
    fn nothing_but_separators_gives_no_terms() {
        assert!(terms("  ,.;-- !! ").is_empty());
        assert!(terms("").is_empty());
    }

    #[test]
    fn highlights_mark_matches_and_escape_everything_else() {
        let wanted = terms("deploy");
        assert_eq!(
            highlight("<b>Deploying</b> & deployed", &wanted, 200),
            "&lt;b&gt;<mark>Deploying</mark>&lt;/b&gt; &amp; <mark>deployed</mark>"
        );
        assert_eq!(
            highlight("行く東京タワーへ", &terms("東京タワー"), 200),
            "行く<mark>東京タワー</mark>へ"
        );
    }

    #[test]
    fn long_texts_are_cut_around_the_first_match() {
        let text = format!("{} needle {}", "hay ".repeat(200), "straw ".repeat(200));
        let cut = highlight(&text, &terms("needle"), 80);
        assert!(cut.starts_with('…') && cut.ends_with('…'), "{cut}");
        assert!(cut.contains("<mark>needle</mark>"), "{cut}");
        assert!(cut.chars().count() < 100, "{cut}");
    }
}
