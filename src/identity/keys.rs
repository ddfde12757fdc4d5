//! The server's master secret and the keys derived from it: the JWT signing key, the key that
//! encrypts TOTP secrets at rest, and the key recovery codes are stored under (HMAC).

use std::{io::Write, path::Path};

use anyhow::Context;
use base64::{Engine, engine::general_purpose::STANDARD};
use chacha20poly1305::{
    ChaCha20Poly1305, KeyInit, Nonce,
    aead::{Aead, Payload},
};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::opaque::random_bytes;

pub struct Keys {
    pub jwt: [u8; 32],
    encryption: [u8; 32],
    recovery: [u8; 32],
    /// Signs the file URLs CoLink serves itself (`storage::signed`).
    pub file_urls: [u8; 32],
}

impl Keys {
    /// From the configured secret, or from `<data_dir>/secret.key`, created (0600) when missing.
    pub fn load(configured: Option<&str>, data_dir: &Path) -> anyhow::Result<Self> {
        let master = match configured {
            Some(secret) => secret.as_bytes().to_vec(),
            None => load_or_create_key_file(&data_dir.join("secret.key"))?,
        };
        Ok(Self::derive(&master))
    }

    pub fn derive(master: &[u8]) -> Self {
        Self {
            jwt: derive(master, b"colink/jwt-hs256/v1"),
            encryption: derive(master, b"colink/secret-encryption/v1"),
            recovery: derive(master, b"colink/recovery-code-hmac/v1"),
            file_urls: derive(master, b"colink/file-url-hmac/v1"),
        }
    }

    /// Hex HMAC-SHA256 of `data` under the recovery-code key (the stored forms are built on it
    /// in `identity::recovery_code`).
    pub fn recovery_mac(&self, data: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.recovery)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(data.as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Encrypt a small secret (ChaCha20-Poly1305, random nonce); output is base64(nonce‖ct).
    pub fn encrypt(&self, plaintext: &[u8], context: &[u8]) -> String {
        let cipher = ChaCha20Poly1305::new((&self.encryption).into());
        let nonce_bytes = random_bytes::<12>();
        let nonce = Nonce::from(nonce_bytes);
        #[allow(
            clippy::expect_used,
            reason = "encryption with a valid key and an in-memory buffer cannot fail"
        )]
        let ciphertext = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: context,
                },
            )
            .expect("ChaCha20-Poly1305 encryption");
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&ciphertext);
        STANDARD.encode(out)
    }

    pub fn decrypt(&self, encoded: &str, context: &[u8]) -> anyhow::Result<Vec<u8>> {
        let raw = STANDARD
            .decode(encoded)
            .context("stored secret is not base64")?;
        anyhow::ensure!(raw.len() > 12, "stored secret is truncated");
        let (nonce, ciphertext) = raw.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().context("stored secret is truncated")?;
        ChaCha20Poly1305::new((&self.encryption).into())
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context,
                },
            )
            .map_err(|_| anyhow::anyhow!("stored secret does not decrypt with this server's key"))
    }
}

fn derive(master: &[u8], label: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(label);
    h.update([0u8]);
    h.update(master);
    h.finalize().into()
}

fn load_or_create_key_file(path: &Path) -> anyhow::Result<Vec<u8>> {
    if path.exists() {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let key = STANDARD
            .decode(text.trim())
            .with_context(|| format!("{} is not base64", path.display()))?;
        anyhow::ensure!(
            key.len() >= 32,
            "{} holds a key that is too short",
            path.display()
        );
        return Ok(key);
    }
    let key = random_bytes::<32>();
    write_private_file(path, STANDARD.encode(key).as_bytes())?;
    Ok(key.to_vec())
}

/// Create the data dir readable by its owner only (it holds keys, tokens and mail); an existing
/// directory is left as the operator set it up.
pub fn create_private_dir(path: &std::path::Path) -> std::io::Result<()> {
    if path.exists() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(path)
}

/// Write a file readable only by its owner (0600 on Unix).
pub fn write_private_file(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents)
        .and_then(|_| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypts_and_binds_context() {
        let keys = Keys::derive(b"0123456789abcdef0123456789abcdef");
        let sealed = keys.encrypt(b"totp secret", b"user-1");
        assert_eq!(keys.decrypt(&sealed, b"user-1").unwrap(), b"totp secret");
        assert!(keys.decrypt(&sealed, b"user-2").is_err());
        let other = Keys::derive(b"another master key of 32 bytes!!");
        assert!(other.decrypt(&sealed, b"user-1").is_err());
        assert_ne!(keys.jwt, keys.encryption);
        assert_ne!(keys.encryption, keys.recovery);
    }

    #[test]
    fn recovery_macs_are_keyed_hmac_sha256() {
        let keys = Keys::derive(b"0123456789abcdefghijklmnopqrstuv");
        let tag = keys.recovery_mac("001110000011111zzzzz");
        assert_eq!(tag.len(), 64, "{tag}");
        assert_eq!(tag, keys.recovery_mac("001110000011111zzzzz"));
        assert_ne!(tag, keys.recovery_mac("001110000011111zzzzy"));
        let other = Keys::derive(b"another master key of 32 bytes!!");
        assert_ne!(tag, other.recovery_mac("001110000011111zzzzz"));
        // RFC 4231 test case 2, to pin the construction.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        let hex: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[cfg(unix)]
    #[test]
    fn key_file_is_private_and_stable() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let a = Keys::load(None, dir.path()).unwrap();
        let mode = std::fs::metadata(dir.path().join("secret.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let b = Keys::load(None, dir.path()).unwrap();
        assert_eq!(a.jwt, b.jwt);
    }
}
