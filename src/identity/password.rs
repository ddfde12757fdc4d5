//! argon2id password hashing, run off the async executor.

use argon2::{
    Argon2,
    password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash},
};

/// A hash of a random password, verified against when the account does not exist so that a
/// login for an unknown user costs the same time as one for a known user.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let random = super::opaque::generate();
        Argon2::default()
            .hash_password(random.as_bytes())
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

/// Hashing is CPU-bound and takes 19 MiB: run at most one per core at a time (a process-wide
/// limit, like the cores themselves); further requests wait their turn. Each hash gives its
/// 19 MiB back to the OS as soon as it is done (`memory::release_now`).
fn hashing_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        tokio::sync::Semaphore::new(cores)
    })
}

pub async fn hash(password: &str) -> anyhow::Result<String> {
    let password = password.to_owned();
    let _slot = hashing_slots().acquire().await?;
    tokio::task::spawn_blocking(move || {
        let hashed = Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing password: {e}"));
        crate::memory::release_now();
        hashed
    })
    .await?
}

/// True when `password` matches `stored`. `None` (no such user / no password) still spends the
/// time of one verification and returns false.
pub async fn verify(password: &str, stored: Option<&str>) -> bool {
    let password = password.to_owned();
    let exists = stored.is_some();
    let stored = stored.map(str::to_owned);
    let Ok(_slot) = hashing_slots().acquire().await else {
        return false;
    };
    let matched = tokio::task::spawn_blocking(move || {
        let stored = stored.as_deref().unwrap_or_else(|| dummy_hash());
        let Ok(parsed) = PasswordHash::new(stored) else {
            return false;
        };
        let matched = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        crate::memory::release_now();
        matched
    })
    .await
    .unwrap_or(false);
    matched && exists
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_then_verify() {
        let h = hash("correct horse battery staple").await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse battery staple", Some(&h)).await);
        assert!(!verify("wrong horse battery staple", Some(&h)).await);
        assert!(!verify("anything", None).await);
        assert!(!verify("anything", Some("not a hash")).await);
    }
}
