//! CoLink: self-hosted team chat in one binary.
//!
//! Layers: `api` (HTTP) → `service` (use cases) → `db` / ports (`kv`, mail). `domain` holds the
//! validated types; `identity` the crypto; `app` wires it all.

pub mod api;
pub mod app;
pub mod backup;
pub mod bus;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod db;
pub mod domain;
pub mod email;
pub mod error;
pub mod identity;
pub mod kv;
pub mod memory;
pub mod plugins;
pub mod realtime;
pub mod search;
pub mod server;
pub mod service;
pub mod storage;
pub mod supervisor;
pub mod telemetry;
pub mod web;
pub mod workers;

pub use app::App;
pub use config::Config;

/// rustls needs its crypto provider chosen once per process (ring; see DEPENDENCIES.md).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
