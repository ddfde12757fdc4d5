//! Integration tests: each test spawns the real server and drives it over HTTP.
//! Runs on SQLite by default and on PostgreSQL when `COLINK_TEST_DATABASE_URL` is set.

mod account;
mod admin;
mod archived;
mod auth;
mod bad_input;
mod channels;
mod cli;
mod cli_usage;
mod database;
mod dms;
mod edge;
mod events;
mod first_run;
mod general;
mod heartbeat;
mod helpers;
mod instrumentation;
mod mentions;
mod messages;
mod pagination;
mod permissions;
mod races;
mod realtime;
mod realtime_channels;
mod setup;
mod threads;
mod totp;
mod users;
mod workspaces;
