//! The postgres backend's terms and queries as `tsvector` and `tsquery` literals: the analyzer's
//! terms with their positions, the pairs of adjacent terms (see `postgres_index`'s module docs),
//! and lexemes quoted so that no term can break out of its literal.

use std::fmt::Write as _;

use super::analyzer;

/// PostgreSQL keeps word positions up to this; later words share it.
const MAX_POSITION: usize = 16_383;

/// `text` as a `tsvector` literal: each term quoted, with its position (from 1), then each
/// pair of adjacent terms, once, without a position (see the module docs).
pub fn tsvector(text: &str) -> String {
    let terms = analyzer::positioned_terms(text);
    let mut out = String::with_capacity(text.len() * 3);
    for (position, term) in &terms {
        if !out.is_empty() {
            out.push(' ');
        }
        quote_into(&mut out, term);
        let _ = write!(out, ":{}", (position + 1).min(MAX_POSITION));
    }
    let mut pairs: Vec<String> = terms
        .windows(2)
        .filter(|w| w[1].0 == w[0].0 + 1)
        .map(|w| pair(&w[0].1, &w[1].1))
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    for pair in &pairs {
        out.push(' ');
        quote_into(&mut out, pair);
    }
    out
}

/// Two adjacent terms as one lexeme. Terms never hold a space, so no pair is also a term.
fn pair(first: &str, second: &str) -> String {
    format!("{first} {second}")
}

/// Every clause must match: `'deploy' & ( 'releas' <-> 'note' )`; `None` without clauses.
/// What ranks the matches (`ts_rank`).
pub(super) fn tsquery(clauses: &[Vec<String>]) -> Option<String> {
    let parts: Vec<String> = clauses.iter().filter_map(|c| phrase(c)).collect();
    (!parts.is_empty()).then(|| parts.join(" & "))
}

/// The same condition as [`tsquery`] with each phrase's pairs of adjacent terms asked for too:
/// `'deploy' & 'releas note' & ( 'releas' <-> 'note' )`. What finds the matches.
pub(super) fn matching(clauses: &[Vec<String>]) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    for clause in clauses {
        let Some(chain) = phrase(clause) else {
            continue;
        };
        let mut pairs: Vec<String> = clause.windows(2).map(|w| pair(&w[0], &w[1])).collect();
        pairs.sort_unstable();
        pairs.dedup();
        for pair in pairs {
            let mut quoted = String::new();
            quote_into(&mut quoted, &pair);
            parts.push(quoted);
        }
        parts.push(chain);
    }
    (!parts.is_empty()).then(|| parts.join(" & "))
}

/// Terms in this order, each right after the one before: `( 'a' <-> 'b' )`, or `'a'` alone.
pub(super) fn phrase(terms: &[String]) -> Option<String> {
    let mut out = String::new();
    match terms {
        [] => return None,
        [one] => quote_into(&mut out, one),
        many => {
            out.push_str("( ");
            for (i, term) in many.iter().enumerate() {
                if i > 0 {
                    out.push_str(" <-> ");
                }
                quote_into(&mut out, term);
            }
            out.push_str(" )");
        }
    }
    Some(out)
}

/// A lexeme in quotes, as `tsvector` and `tsquery` literals read it (quotes doubled,
/// backslashes escaped; the analyzer's terms have neither, but no term can break out).
fn quote_into(out: &mut String, term: &str) {
    out.push('\'');
    for c in term.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('\'');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_stored_with_their_positions() {
        assert_eq!(
            tsvector("Deploying the Café, 東京都!"),
            "'deploy':1 'the':2 'cafe':3 '東京':4 '京都':5 \
             'cafe 東京' 'deploy the' 'the cafe' '東京 京都'"
        );
        assert_eq!(tsvector(""), "");
        assert_eq!(tsvector("one"), "'one':1");
    }

    #[test]
    fn pairs_are_of_adjacent_terms_only_and_stored_once() {
        // The over-long word leaves a gap: no pair across it.
        let long = "x".repeat(60);
        assert_eq!(
            tsvector(&format!("ship it {long} ship it")),
            "'ship':1 'it':2 'ship':4 'it':5 'ship it'"
        );
    }

    #[test]
    fn a_phrase_is_matched_by_its_pairs_and_its_chain_and_ranked_by_its_chain() {
        let clauses = vec![
            vec!["deploy".to_string()],
            vec![
                "releas".to_string(),
                "note".to_string(),
                "draft".to_string(),
            ],
        ];
        assert_eq!(
            matching(&clauses).as_deref(),
            Some(
                "'deploy' & 'note draft' & 'releas note' & \
                 ( 'releas' <-> 'note' <-> 'draft' )"
            )
        );
        assert_eq!(
            tsquery(&clauses).as_deref(),
            Some("'deploy' & ( 'releas' <-> 'note' <-> 'draft' )")
        );
        assert_eq!(matching(&[vec![]]), None);
    }

    #[test]
    fn a_query_needs_every_clause_and_phrases_in_order() {
        let clauses = vec![
            vec!["deploy".to_string()],
            vec!["releas".to_string(), "note".to_string()],
        ];
        assert_eq!(
            tsquery(&clauses).as_deref(),
            Some("'deploy' & ( 'releas' <-> 'note' )")
        );
        assert_eq!(tsquery(&[]), None);
        assert_eq!(tsquery(&[vec![]]), None);
    }

    #[test]
    fn quotes_cannot_break_out_of_a_lexeme() {
        let mut out = String::new();
        quote_into(&mut out, "it's\\");
        assert_eq!(out, "'it''s\\\\'");
    }
}
