//! Integration tests: each test spawns the real server and drives it over HTTP.
//! Runs on SQLite by default and on PostgreSQL when `COLINK_TEST_DATABASE_URL` is set.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    reason = "test helpers and scenarios: a failed unwrap is the test failing, a scenario reads top to bottom"
)]

mod account;
mod admin;
mod admin_channels;
mod archived;
mod audit_log;
mod auth;
mod backends;
mod backup;
mod bad_input;
mod channels;
mod cli;
mod cli_usage;
mod connections;
mod contract;
mod counts;
mod database;
mod dms;
mod drive;
mod durability;
mod edge;
mod events;
mod file_refusals;
mod files;
mod first_run;
mod followed_threads;
mod general;
mod github_sign_in;
mod guests;
mod heartbeat;
mod helpers;
mod idp;
mod instrumentation;
mod kafka;
mod kafka_broker;
mod latest_page;
mod lockout;
mod mentions;
mod messages;
mod metrics;
mod moderation;
mod moderation_rules;
mod node_failover;
mod nodes;
mod oidc;
mod operator_cli;
mod pagination;
mod password;
mod people;
mod permissions;
mod plugins;
mod races;
mod reactions;
mod readiness;
mod realtime;
mod realtime_channels;
mod realtime_delivery;
mod resume_load;
mod s3;
mod scanning;
mod sdk;
mod search;
mod search_admin;
mod search_counts;
mod search_postgres;
mod served;
mod sessions;
mod settings;
mod setup;
mod shutdown;
mod statements;
mod stats;
mod supervisor;
mod threads;
mod totp;
mod tracing_otlp;
mod uploads;
mod users;
mod web;
mod web_session;
mod wire_format;
mod workspaces;
mod write_limits;
mod ws_client;
