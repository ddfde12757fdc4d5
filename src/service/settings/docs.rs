//! The documentation of each configuration key, read from `config.example.toml` (the one place
//! every key is documented, with its default): the comment lines right above a key (or above
//! its commented-out example) are its text; a table header such as `[limits.login_per_ip]`
//! documents the table as one key.

use std::{collections::HashMap, sync::OnceLock};

const EXAMPLE: &str = include_str!("../../../config.example.toml");

/// `section.key` → its comment, for every key and table of `config.example.toml`.
pub fn of(key: &str) -> Option<&'static str> {
    static DOCS: OnceLock<HashMap<String, String>> = OnceLock::new();
    DOCS.get_or_init(|| parse(EXAMPLE))
        .get(key)
        .map(String::as_str)
}

fn parse(text: &str) -> HashMap<String, String> {
    let mut docs = HashMap::new();
    let mut section = String::new();
    let mut comment: Vec<&str> = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() {
            comment.clear();
        } else if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = header.trim().to_string();
            if !comment.is_empty() {
                docs.insert(section.clone(), comment.join(" "));
            }
            comment.clear();
        } else if let Some(key) = key_of(line) {
            let full = if section.is_empty() {
                key.to_string()
            } else {
                format!("{section}.{key}")
            };
            if !comment.is_empty() {
                docs.entry(full).or_insert_with(|| comment.join(" "));
            }
            // A commented example right after a key's text keeps that text for the next one.
            if !line.starts_with('#') {
                comment.clear();
            }
        } else if let Some(text) = line.strip_prefix('#') {
            comment.push(text.trim());
        }
    }
    docs
}

/// The key of `key = value` or of a commented example `# key = value`.
fn key_of(line: &str) -> Option<&str> {
    let body = line.strip_prefix('#').map_or(line, str::trim);
    let (key, _) = body.split_once('=')?;
    let key = key.trim();
    (!key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_')).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_tables_get_the_comment_above_them() {
        let docs = parse(
            "# Top.\ndata_dir = \"x\"\n\n[server]\n# Where to listen.\nbind = \"a\"\n\
             # The public URL.\n# public_url = \"https://x\"\n\n# Login attempts.\n\
             [limits.login_per_ip]\nmax = 10\n",
        );
        assert_eq!(docs["data_dir"], "Top.");
        assert_eq!(docs["server.bind"], "Where to listen.");
        assert_eq!(docs["server.public_url"], "The public URL.");
        assert_eq!(docs["limits.login_per_ip"], "Login attempts.");
    }

    #[test]
    fn every_run_time_setting_is_documented_in_the_example() {
        for key in super::super::RUNTIME_KEYS {
            assert!(
                of(key).is_some(),
                "{key} has no comment in config.example.toml"
            );
        }
    }
}
