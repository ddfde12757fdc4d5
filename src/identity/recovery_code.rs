//! Recovery codes: the second factor of last resort, shown once at enrollment.
//!
//! A code is 20 characters of Crockford base32 (100 bits), shown as four groups of five:
//! `7hq2m-xk9d4-p0zr8-c3vtn`. Typing is forgiving: case, spaces and dashes do not matter, and
//! `o`, `i`, `l` read as `0`, `1`, `1`. At rest a code is kept only as
//! `v2:` + HMAC-SHA256(server recovery key, normalised code), so a copy of the database alone
//! does not allow testing guesses offline.
//!
//! Codes issued before this format (10 characters, `xxxxx-xxxxx`, stored as a plain SHA-256) keep
//! working until used or replaced by a new enrollment.

use super::opaque;

/// Crockford's base32 alphabet, lowercase: no i, l, o, u.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
const GROUPS: usize = 4;
const GROUP_LEN: usize = 5;
const LEN: usize = GROUPS * GROUP_LEN;
/// Prefix of the keyed (current) stored form.
pub const KEYED_PREFIX: &str = "v2:";

/// A fresh code, e.g. `7hq2m-xk9d4-p0zr8-c3vtn`.
pub fn generate() -> String {
    // Each random byte gives 5 uniform bits (32 divides 256): 20 characters, 100 bits.
    let bytes = opaque::random_bytes::<LEN>();
    let chars: Vec<char> = bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(b & 31)]))
        .collect();
    chars
        .chunks(GROUP_LEN)
        .map(|group| group.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// The canonical form of a typed current-format code, or `None` when it cannot be one.
pub fn normalize(code: &str) -> Option<String> {
    let normalized: String = code
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '\t'))
        .map(|c| match c.to_ascii_lowercase() {
            'o' => '0',
            'i' | 'l' => '1',
            other => other,
        })
        .collect();
    (normalized.len() == LEN && normalized.bytes().all(|b| ALPHABET.contains(&b)))
        .then_some(normalized)
}

/// The stored form of a code issued before the current format (plain SHA-256 of its letters
/// and digits, lowercased), or `None` when `code` cannot be one.
pub fn legacy_hash(code: &str) -> Option<String> {
    let normalized: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (normalized.len() == 10).then(|| opaque::hash(&normalized))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_four_groups_of_five_base32_characters() {
        let code = generate();
        assert_eq!(code.len(), 23, "{code}");
        let groups: Vec<&str> = code.split('-').collect();
        assert_eq!(groups.len(), 4);
        assert!(
            groups
                .iter()
                .all(|g| g.len() == 5 && g.bytes().all(|b| ALPHABET.contains(&b)))
        );
        assert_ne!(code, generate());
    }

    #[test]
    fn typing_is_forgiving() {
        let code = generate();
        let canonical = normalize(&code).unwrap();
        assert_eq!(canonical.len(), 20);
        assert_eq!(
            normalize(&code.to_uppercase()).as_deref(),
            Some(&*canonical)
        );
        assert_eq!(
            normalize(&code.replace('-', " ")).as_deref(),
            Some(&*canonical)
        );
        assert_eq!(
            normalize(&code.replace('-', "")).as_deref(),
            Some(&*canonical)
        );
        assert_eq!(
            normalize("0o1il-00000-11111-zzzzz").as_deref(),
            Some("001110000011111zzzzz")
        );
        assert_eq!(normalize("short"), None);
        assert_eq!(
            normalize("uuuuu-uuuuu-uuuuu-uuuuu"),
            None,
            "u is not in the alphabet"
        );
        assert_eq!(normalize("ééééé-ééééé-ééééé-ééééé"), None);
    }

    #[test]
    fn legacy_codes_keep_their_old_hash() {
        assert_eq!(legacy_hash("ABCDE-fghjk"), Some(opaque::hash("abcdefghjk")));
        assert_eq!(legacy_hash(&generate()), None);
    }
}
