//! Recovery codes: the second factor of last resort, shown once at enrollment.
//!
//! A code is 20 characters of Crockford base32 (100 bits), shown as four groups of five:
//! `7hq2m-xk9d4-p0zr8-c3vtn`. Typing is forgiving: case, spaces and dashes do not matter, and
//! `o`, `i`, `l` read as `0`, `1`, `1`. At rest a code is kept only as
//! `v2:` + HMAC-SHA256(recovery key, normalised code); the recovery key is derived from the
//! server's master secret, so a copy of the database alone does not allow testing guesses offline.
//!
//! Codes issued before this format (10 characters, `xxxxx-xxxxx`, ≈ 50 bits) were stored as a
//! plain SHA-256. They keep working until used or replaced by a new enrollment, but at start-up
//! their rows are re-keyed to `v1k:` + HMAC(recovery key, `v1:` + that SHA-256), which needs no
//! plaintext, so they too are only checkable with the server key.

use super::{keys::Keys, opaque};

/// Crockford's base32 alphabet, lowercase: no i, l, o, u.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
const GROUPS: usize = 4;
const GROUP_LEN: usize = 5;
const LEN: usize = GROUPS * GROUP_LEN;
const KEYED_PREFIX: &str = "v2:";
/// Prefix of a re-keyed legacy code; stored forms without a `v…:` prefix are legacy plain hashes.
pub const LEGACY_KEYED_PREFIX: &str = "v1k:";

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

/// The stored form of a current-format code (already normalised).
pub fn stored(keys: &Keys, normalized: &str) -> String {
    format!("{KEYED_PREFIX}{}", keys.recovery_mac(normalized))
}

/// A legacy row's plain SHA-256, re-keyed.
pub fn rekeyed_legacy(keys: &Keys, legacy_sha256: &str) -> String {
    format!(
        "{LEGACY_KEYED_PREFIX}{}",
        keys.recovery_mac(&format!("v1:{legacy_sha256}"))
    )
}

/// Every stored form a typed `code` could match: keyed current format, re-keyed legacy, and
/// plain legacy (a row not re-keyed yet).
pub fn candidates(keys: &Keys, code: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(normalized) = normalize(code) {
        out.push(stored(keys, &normalized));
    }
    if let Some(legacy) = legacy_hash(code) {
        out.push(rekeyed_legacy(keys, &legacy));
        out.push(legacy);
    }
    out
}

/// The plain SHA-256 a code of the former format was stored as (its letters and digits,
/// lowercased), or `None` when `code` cannot be one.
fn legacy_hash(code: &str) -> Option<String> {
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
    fn stored_forms_are_keyed_and_legacy_codes_still_match() {
        let keys = Keys::derive(b"0123456789abcdefghijklmnopqrstuv");
        let other = Keys::derive(b"another master key of 32 bytes!!");
        let code = generate();
        let stored_form = stored(&keys, &normalize(&code).unwrap());
        assert!(stored_form.starts_with("v2:") && stored_form.len() == 67);
        assert_ne!(stored_form, stored(&other, &normalize(&code).unwrap()));
        assert_eq!(candidates(&keys, &code.to_uppercase()), vec![stored_form]);

        let plain = opaque::hash("abcdefghjk");
        let rekeyed = rekeyed_legacy(&keys, &plain);
        assert!(rekeyed.starts_with("v1k:"));
        let found = candidates(&keys, "ABCDE-fghjk");
        assert!(found.contains(&rekeyed) && found.contains(&plain));
        assert!(candidates(&keys, "nope").is_empty());
    }
}
