//! A file's name as people see it and as `Content-Disposition` carries it. Uploaders choose any
//! name; it is cleaned, never refused, and never used as a storage path (object keys come from
//! the file's id).

/// A display name for a file: no directories, no control or bidirectional-override characters,
/// no leading dots or surrounding spaces, at most [`FileName::MAX_BYTES`] bytes (the extension
/// kept when it is cut), never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileName(String);

impl FileName {
    pub const MAX_BYTES: usize = 200;

    pub fn sanitize(raw: &str) -> Self {
        // The last path component, whichever separator the client's system uses.
        let base = raw.rsplit(['/', '\\']).next().unwrap_or_default();
        let cleaned: String = base
            .chars()
            .filter(|c| !c.is_control() && !is_format_trick(*c))
            .collect();
        let trimmed = cleaned.trim().trim_start_matches('.').trim();
        let name = if trimmed.is_empty() { "file" } else { trimmed };
        Self(truncate_keeping_extension(name, Self::MAX_BYTES))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }

    /// A `Content-Disposition` value: an ASCII `filename` and the exact UTF-8 `filename*`
    /// (RFC 6266), so no name can end the header or inject another.
    pub fn content_disposition(&self, inline: bool) -> String {
        let ascii: String = self
            .0
            .chars()
            .map(|c| {
                if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let encoded: String = self
            .0
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        let kind = if inline { "inline" } else { "attachment" };
        format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
    }
}

/// Characters that change how the rest of a name displays (`invoice\u{202E}fdp.exe` shows as
/// `invoiceexe.pdf`) or are invisible.
fn is_format_trick(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

fn truncate_keeping_extension(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_string();
    }
    let ext = name
        .rfind('.')
        .map(|i| &name[i..])
        .filter(|e| e.len() <= 16)
        .unwrap_or("");
    let mut stem_end = max - ext.len();
    while !name.is_char_boundary(stem_end) {
        stem_end -= 1;
    }
    format!("{}{ext}", &name[..stem_end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_directories_controls_and_tricks() {
        assert_eq!(FileName::sanitize("../../etc/passwd").as_str(), "passwd");
        assert_eq!(
            FileName::sanitize("C:\\Users\\me\\cv.pdf").as_str(),
            "cv.pdf"
        );
        assert_eq!(
            FileName::sanitize("a\r\nSet-Cookie: x=1").as_str(),
            "aSet-Cookie: x=1"
        );
        assert_eq!(
            FileName::sanitize("invoice\u{202E}fdp.exe").as_str(),
            "invoicefdp.exe"
        );
        assert_eq!(FileName::sanitize("..").as_str(), "file");
        assert_eq!(FileName::sanitize("  .hidden ").as_str(), "hidden");
        assert_eq!(FileName::sanitize("").as_str(), "file");
        assert_eq!(FileName::sanitize("dir/").as_str(), "file");
    }

    #[test]
    fn long_names_are_cut_on_a_character_boundary_keeping_the_extension() {
        let long = format!("{}.png", "é".repeat(5_000));
        let name = FileName::sanitize(&long);
        assert!(name.as_str().len() <= FileName::MAX_BYTES);
        assert!(name.as_str().ends_with(".png"));
        assert!(name.as_str().starts_with('é'));
    }

    #[test]
    fn content_disposition_cannot_be_broken_out_of() {
        let name = FileName::sanitize("r\u{e9}sum\u{e9} \"final\";x.pdf");
        let header = name.content_disposition(false);
        assert_eq!(
            header,
            "attachment; filename=\"r_sum_ _final_;x.pdf\"; \
             filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22%3Bx.pdf"
        );
        assert!(!header.contains('\n') && !header.contains('\r'));
        assert!(
            FileName::sanitize("a.png")
                .content_disposition(true)
                .starts_with("inline;")
        );
    }
}
