//! What a file really is, from its first bytes, and whether that agrees with the type the
//! uploader declared: a `.png` that is an executable, or text declared as an image, is refused.
//!
//! The check is deliberately small: magic numbers for the formats people share in chat, a
//! textual test for the rest. A declared type that has a magic number must match it; a file whose
//! bytes have one must be declared as (a specialisation of) that type; executables are refused
//! unless the allowlist names their exact type.

/// How many leading bytes [`sniff`] looks at.
pub const HEAD_BYTES: usize = 512;

/// What the first bytes say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    /// A format recognised by its magic number.
    Format(&'static str),
    /// A program: Windows PE, ELF, Mach-O or a script with `#!`.
    Executable(&'static str),
    /// Text: valid UTF-8 without NUL bytes.
    Text,
    /// Binary data of no recognised format.
    Unknown,
}

pub fn sniff(head: &[u8]) -> Sniffed {
    let starts = |magic: &[u8]| head.starts_with(magic);
    let at = |offset: usize, magic: &[u8]| head.get(offset..offset + magic.len()) == Some(magic);
    let format = if starts(b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else if starts(b"\xff\xd8\xff") {
        "image/jpeg"
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        "image/gif"
    } else if starts(b"RIFF") && at(8, b"WEBP") {
        "image/webp"
    } else if starts(b"RIFF") && at(8, b"WAVE") {
        "audio/wav"
    } else if starts(b"%PDF-") {
        "application/pdf"
    } else if starts(b"PK\x03\x04") || starts(b"PK\x05\x06") {
        "application/zip"
    } else if starts(b"\x1f\x8b") {
        "application/gzip"
    } else if starts(b"ID3") || starts(b"\xff\xfb") || starts(b"\xff\xf3") || starts(b"\xff\xf2") {
        "audio/mpeg"
    } else if starts(b"OggS") {
        "audio/ogg"
    } else if at(4, b"ftypqt") {
        "video/quicktime"
    } else if at(4, b"ftyp") {
        "video/mp4"
    } else if starts(b"\x1a\x45\xdf\xa3") {
        "video/webm"
    } else if starts(b"MZ") {
        return Sniffed::Executable("application/x-msdownload");
    } else if starts(b"\x7fELF") {
        return Sniffed::Executable("application/x-executable");
    } else if [
        b"\xfe\xed\xfa\xce",
        b"\xfe\xed\xfa\xcf",
        b"\xce\xfa\xed\xfe",
        b"\xcf\xfa\xed\xfe",
        b"\xca\xfe\xba\xbe",
    ]
    .iter()
    .any(|m| starts(*m))
    {
        return Sniffed::Executable("application/x-mach-binary");
    } else if starts(b"#!") {
        return Sniffed::Executable("text/x-shellscript");
    } else if is_text(head) {
        return Sniffed::Text;
    } else {
        return Sniffed::Unknown;
    };
    Sniffed::Format(format)
}

/// Valid UTF-8 without NUL (a multi-byte character cut off at the end of the head is fine).
fn is_text(head: &[u8]) -> bool {
    if head.contains(&0) {
        return false;
    }
    match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none() && head.len() - e.valid_up_to() < 4,
    }
}

/// Declared types that are containers of a sniffed format (an Office document is a zip).
fn specialises(declared: &str, format: &str) -> bool {
    match format {
        "application/zip" => {
            declared.starts_with("application/vnd.openxmlformats-officedocument.")
                || declared.starts_with("application/vnd.oasis.opendocument.")
                || declared == "application/epub+zip"
                || declared == "application/x-zip-compressed"
        }
        "image/jpeg" => declared == "image/jpg" || declared == "image/pjpeg",
        "audio/wav" => declared == "audio/x-wav" || declared == "audio/wave",
        "audio/ogg" => declared == "video/ogg" || declared == "application/ogg",
        "video/mp4" => declared == "audio/mp4" || declared == "video/quicktime",
        "video/webm" => declared == "audio/webm",
        "application/gzip" => declared == "application/x-gzip",
        _ => false,
    }
}

/// Types whose files always begin with a magic number [`sniff`] knows: declaring one for bytes
/// that lack it is a disguise.
fn has_magic(declared: &str) -> bool {
    matches!(
        declared,
        "image/png"
            | "image/jpeg"
            | "image/jpg"
            | "image/gif"
            | "image/webp"
            | "application/pdf"
            | "application/zip"
            | "application/gzip"
            | "video/webm"
    ) || specialises(declared, "application/zip")
}

/// Textual types: what [`Sniffed::Text`] content may be declared as.
fn is_textual(declared: &str) -> bool {
    declared.starts_with("text/")
        || matches!(
            declared,
            "application/json" | "application/xml" | "application/x-yaml" | "application/yaml"
        )
}

/// The type a file is stored and served with: the declared one when the bytes agree with it,
/// else why not.
pub fn resolve(declared: &str, sniffed: Sniffed) -> Result<String, String> {
    match sniffed {
        Sniffed::Executable(kind) if declared == kind => Ok(declared.to_string()),
        Sniffed::Executable(kind) => Err(format!("the file is a program ({kind}), not {declared}")),
        Sniffed::Format(format) if declared == format || specialises(declared, format) => {
            Ok(declared.to_string())
        }
        Sniffed::Format(format) => Err(format!("the file is {format}, not {declared}")),
        Sniffed::Text if is_textual(declared) => Ok(declared.to_string()),
        Sniffed::Text if has_magic(declared) || declared.starts_with("image/") => {
            Err(format!("the file is text, not {declared}"))
        }
        Sniffed::Unknown if has_magic(declared) || is_textual(declared) => {
            Err(format!("the file's content does not match {declared}"))
        }
        Sniffed::Text | Sniffed::Unknown => Ok(declared.to_string()),
    }
}

/// A declared `Content-Type` as compared: lowercase, without parameters (`; charset=…`).
pub fn normalise(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Images a browser may show inline from our origin (never SVG: it can carry script).
pub fn is_safe_image(content_type: &str) -> bool {
    matches!(
        content_type,
        "image/png" | "image/jpeg" | "image/gif" | "image/webp"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    #[test]
    fn formats_are_known_by_their_first_bytes() {
        assert_eq!(sniff(PNG), Sniffed::Format("image/png"));
        assert_eq!(
            sniff(b"\xff\xd8\xff\xe0JFIF"),
            Sniffed::Format("image/jpeg")
        );
        assert_eq!(sniff(b"GIF89a.."), Sniffed::Format("image/gif"));
        assert_eq!(
            sniff(b"RIFF\0\0\0\0WEBPVP8 "),
            Sniffed::Format("image/webp")
        );
        assert_eq!(sniff(b"%PDF-1.7"), Sniffed::Format("application/pdf"));
        assert_eq!(sniff(b"PK\x03\x04...."), Sniffed::Format("application/zip"));
        assert_eq!(sniff(b"\0\0\0\x18ftypmp42"), Sniffed::Format("video/mp4"));
        assert_eq!(
            sniff(b"MZ\x90\0"),
            Sniffed::Executable("application/x-msdownload")
        );
        assert_eq!(
            sniff(b"\x7fELF\x02"),
            Sniffed::Executable("application/x-executable")
        );
        assert_eq!(
            sniff(b"#!/bin/sh\nrm -rf /"),
            Sniffed::Executable("text/x-shellscript")
        );
        assert_eq!(sniff("héllo, wörld".as_bytes()), Sniffed::Text);
        assert_eq!(sniff(b""), Sniffed::Text);
        assert_eq!(sniff(b"a\0b"), Sniffed::Unknown);
        // A multi-byte character cut by the head's end is still text; invalid UTF-8 is not.
        assert_eq!(sniff(&"é".as_bytes()[..1]), Sniffed::Text);
        assert_eq!(sniff(b"\xc3\x28abc"), Sniffed::Unknown);
    }

    #[test]
    fn the_declared_type_must_agree_with_the_bytes() {
        assert_eq!(resolve("image/png", sniff(PNG)).as_deref(), Ok("image/png"));
        let docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
        assert_eq!(resolve(docx, sniff(b"PK\x03\x04")).as_deref(), Ok(docx));
        assert_eq!(
            resolve("text/csv", sniff(b"a,b\n1,2\n")).as_deref(),
            Ok("text/csv")
        );
        // A disguised program, and other disguises.
        assert!(resolve("image/png", sniff(b"MZ\x90\0\x03")).is_err());
        assert!(resolve("text/plain", sniff(b"\x7fELF")).is_err());
        assert!(resolve("image/png", sniff(b"GIF89a")).is_err());
        assert!(resolve("image/png", sniff(b"just text")).is_err());
        assert!(resolve("application/pdf", sniff(b"\x01\x02\x03\0")).is_err());
        assert!(resolve("text/plain", sniff(b"\x01\x02\x03\0")).is_err());
        // Unknown binary declared as a type without a magic number is taken as declared.
        assert_eq!(
            resolve("application/octet-stream", sniff(b"\x01\0")).as_deref(),
            Ok("application/octet-stream")
        );
    }

    #[test]
    fn declared_types_are_compared_without_case_or_parameters() {
        assert_eq!(normalise("Text/Plain; charset=UTF-8"), "text/plain");
        assert!(is_safe_image("image/webp"));
        assert!(!is_safe_image("image/svg+xml"));
    }
}
