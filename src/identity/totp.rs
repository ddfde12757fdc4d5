//! RFC 6238 TOTP (SHA-1, 6 digits, 30 s steps, ±1 step of clock skew) via totp-rs.

use totp_rs::{Builder, Secret, Totp};

const ISSUER: &str = "CoLink";

/// A fresh 160-bit secret.
pub fn generate_secret() -> Vec<u8> {
    Secret::generate().as_bytes().to_vec()
}

pub fn base32(secret: &[u8]) -> String {
    Secret::from(secret.to_vec()).to_base32()
}

fn totp(secret: &[u8], account: &str) -> anyhow::Result<Totp> {
    Builder::new()
        .with_secret(Secret::from(secret.to_vec()))
        .with_digits(6)
        .with_step_duration(30)
        .with_skew(1)
        .with_issuer(Some(ISSUER))
        .with_account_name(account.replace(':', "_"))
        .build()
        .map_err(|e| anyhow::anyhow!("building TOTP: {e}"))
}

/// The `otpauth://` URL authenticator apps scan.
pub fn otpauth_url(secret: &[u8], account: &str) -> anyhow::Result<String> {
    totp(secret, account)?
        .to_url()
        .map_err(|e| anyhow::anyhow!("TOTP URL: {e}"))
}

/// The time step `code` is valid for at `unix_time`, if any. Callers refuse a step that is not
/// newer than the last one accepted, so each code works once.
pub fn matching_step(secret: &[u8], code: &str, unix_time: u64) -> Option<i64> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let totp = totp(secret, "user").ok()?;
    totp.check(code, unix_time)
        .and_then(|step| i64::try_from(step).ok())
}

pub fn now_unix() -> u64 {
    u64::try_from(time::OffsetDateTime::now_utc().unix_timestamp()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use totp_rs::Algorithm;

    /// RFC 6238 appendix B: SHA-1, secret "12345678901234567890", 8 digits.
    #[test]
    fn rfc6238_test_vectors() {
        let vectors = [
            (59u64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ];
        let totp = Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_secret(Secret::from(b"12345678901234567890".to_vec()))
            .with_digits(8)
            .with_step_duration(30)
            .with_skew(0)
            .build()
            .unwrap();
        for (t, expected) in vectors {
            assert_eq!(totp.generate(t).to_string(), expected, "T={t}");
        }
    }

    #[test]
    fn codes_match_their_step_within_skew() {
        let secret = generate_secret();
        let t = 1_700_000_000u64;
        let code = totp(&secret, "a").unwrap().generate(t).to_string();
        assert_eq!(matching_step(&secret, &code, t), Some((t / 30) as i64));
        assert!(
            matching_step(&secret, &code, t + 30).is_some(),
            "one step of skew"
        );
        assert!(matching_step(&secret, &code, t + 90).is_none());
        assert!(matching_step(&secret, "12345", t).is_none());
        assert!(matching_step(&secret, "abcdef", t).is_none());
        assert!(
            otpauth_url(&secret, "ada@example.com")
                .unwrap()
                .starts_with("otpauth://totp/")
        );
    }
}
