use super::Invalid;

/// An email address, trimmed and lowercased (addresses are unique case-insensitively).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// What [`Email::parse`] accepts (with at most 254 characters): a local part of printable
    /// ASCII, a domain of dot-separated labels, spaces around them ignored.
    pub const PATTERN: &'static str =
        r"^ *[\u0021-\u003F\u0041-\u007E]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+ *$";

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let value = raw.trim().to_lowercase();
        let bad = |m: &str| Err(Invalid::new("email", m));
        if value.is_empty() || value.len() > 254 {
            return bad("must be 1 to 254 characters");
        }
        let Some((local, domain)) = value.rsplit_once('@') else {
            return bad("must look like name@example.com");
        };
        if local.is_empty() || local.len() > 64 || local.contains('@') {
            return bad("must look like name@example.com");
        }
        let domain_ok = !domain.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        if !domain_ok || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return bad("must look like name@example.com");
        }
        Ok(Self(value))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_normalises() {
        assert_eq!(
            Email::parse(" Ada@Example.COM ").unwrap().as_str(),
            "ada@example.com"
        );
        assert!(Email::parse("a.b+tag@sub.example.org").is_ok());
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@localhost",
            "a b@x.com",
            "a@x..com",
            "a@-x.com.",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        assert!(Email::parse(&format!("{}@x.com", "a".repeat(65))).is_err());
    }
}
