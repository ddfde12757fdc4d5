//! URLs CoLink signs itself (the `fs` backend): an upload or download URL carries its expiry and
//! an HMAC-SHA256 over the method, the file id, the object (original or thumbnail) and that
//! expiry, under a key derived from the server's master secret. Changing any part, or using it
//! after it expired, makes it worthless.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

/// Which object of a file a URL reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Original,
    Thumbnail,
}

impl Variant {
    pub fn as_str(self) -> &'static str {
        match self {
            Variant::Original => "original",
            Variant::Thumbnail => "thumb",
        }
    }
}

pub struct UrlSigner {
    key: [u8; 32],
}

impl UrlSigner {
    pub fn new(key: [u8; 32]) -> Self {
        Self { key }
    }

    fn mac(&self, method: &str, id: Uuid, variant: Variant, expires: i64) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(format!("{method}\n{id}\n{}\n{expires}", variant.as_str()).as_bytes());
        mac
    }

    /// The hex signature for this request.
    pub fn sign(&self, method: &str, id: Uuid, variant: Variant, expires: i64) -> String {
        self.mac(method, id, variant, expires)
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Whether `signature` is this request's (compared in constant time) and `expires` (Unix
    /// seconds) is still ahead of `now`.
    pub fn verify(
        &self,
        method: &str,
        id: Uuid,
        variant: Variant,
        expires: i64,
        signature: &str,
        now: i64,
    ) -> bool {
        if expires < now || signature.len() != 64 {
            return false;
        }
        let Some(bytes) = decode_hex(signature) else {
            return false;
        };
        self.mac(method, id, variant, expires)
            .verify_slice(&bytes)
            .is_ok()
    }
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_holds_only_for_its_request_and_until_it_expires() {
        let signer = UrlSigner::new([7; 32]);
        let id = Uuid::now_v7();
        let sig = signer.sign("PUT", id, Variant::Original, 1_000);
        assert!(signer.verify("PUT", id, Variant::Original, 1_000, &sig, 999));
        assert!(signer.verify("PUT", id, Variant::Original, 1_000, &sig, 1_000));
        // Expired.
        assert!(!signer.verify("PUT", id, Variant::Original, 1_000, &sig, 1_001));
        // Another method, file, object or expiry.
        assert!(!signer.verify("GET", id, Variant::Original, 1_000, &sig, 0));
        assert!(!signer.verify("PUT", Uuid::now_v7(), Variant::Original, 1_000, &sig, 0));
        assert!(!signer.verify("PUT", id, Variant::Thumbnail, 1_000, &sig, 0));
        assert!(!signer.verify("PUT", id, Variant::Original, 2_000, &sig, 0));
        // Another key, or a mangled signature.
        assert!(!UrlSigner::new([8; 32]).verify("PUT", id, Variant::Original, 1_000, &sig, 0));
        let mut bad = sig.clone();
        bad.replace_range(0..1, if sig.starts_with('0') { "1" } else { "0" });
        assert!(!signer.verify("PUT", id, Variant::Original, 1_000, &bad, 0));
        assert!(!signer.verify("PUT", id, Variant::Original, 1_000, "zz", 0));
        assert!(!signer.verify("PUT", id, Variant::Original, 1_000, &"é".repeat(32), 0));
    }
}
