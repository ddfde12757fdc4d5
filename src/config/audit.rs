//! `[audit]`: the audit log.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::HumanDuration;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// How long entries are kept; older ones are deleted by a background purge (hourly).
    pub retention: HumanDuration,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            retention: HumanDuration(Duration::from_secs(365 * 86_400)),
        }
    }
}
