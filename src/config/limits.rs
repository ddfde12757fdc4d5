//! The `[limits]` section: rate limits and lockout budgets, each `max` events per `window`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{ConfigError, HumanDuration};

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub max: u32,
    pub window: HumanDuration,
}

impl RateLimit {
    const fn new(max: u32, window_secs: u64) -> Self {
        Self {
            max,
            window: HumanDuration(Duration::from_secs(window_secs)),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Login attempts per client address (all of them, counted before anything is checked).
    pub login_per_ip: RateLimit,
    /// Wrong passwords per account (see `service::guard` for who is refused once it is reached).
    pub login_per_account: RateLimit,
    /// Second-factor codes tried per user without success (login step two, TOTP removal).
    pub second_factor_per_user: RateLimit,
    pub register_per_ip: RateLimit,
    pub password_reset_per_ip: RateLimit,
    /// Password-reset mails per address; over it a request is still answered 202 but no mail
    /// goes out (the answer must not tell whether the address has an account).
    pub password_reset_per_address: RateLimit,
    /// Verification mails per address (at registration and on resend; a resend over it → 429).
    pub verification_per_address: RateLimit,
    /// In channels with more members than this, only channel owners and admins (and workspace
    /// admins) may notify everyone with `@channel` / `@here`; others' mentions are not expanded.
    pub mention_all_max_members: u32,
    /// Per-user token buckets for writes.
    pub writes: super::WriteLimits,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            login_per_ip: RateLimit::new(10, 15 * 60),
            login_per_account: RateLimit::new(10, 15 * 60),
            second_factor_per_user: RateLimit::new(5, 15 * 60),
            register_per_ip: RateLimit::new(3, 3600),
            password_reset_per_ip: RateLimit::new(5, 3600),
            password_reset_per_address: RateLimit::new(3, 3600),
            verification_per_address: RateLimit::new(3, 3600),
            mention_all_max_members: 50,
            writes: super::WriteLimits::default(),
        }
    }
}

impl LimitsConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &'static str, problem: &str| Err(ConfigError::invalid(key, problem));
        for (key, limit) in [
            ("limits.login_per_ip", self.login_per_ip),
            ("limits.login_per_account", self.login_per_account),
            ("limits.second_factor_per_user", self.second_factor_per_user),
            ("limits.register_per_ip", self.register_per_ip),
            ("limits.password_reset_per_ip", self.password_reset_per_ip),
            (
                "limits.password_reset_per_address",
                self.password_reset_per_address,
            ),
            (
                "limits.verification_per_address",
                self.verification_per_address,
            ),
        ] {
            if limit.max == 0 || limit.window.secs() == 0 {
                return invalid(key, "max and window must be positive");
            }
        }
        Ok(())
    }
}
