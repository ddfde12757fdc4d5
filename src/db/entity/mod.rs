//! sea-orm entities, one file per table (schema in the `migration` crate).

pub mod api_client;
pub mod audit_log;
pub mod channel;
pub mod channel_member;
pub mod channel_version;
pub mod credential;
pub mod email_token;
pub mod file;
pub mod invite;
pub mod mention;
pub mod message;
pub mod message_file;
pub mod outbox;
pub mod pin;
pub mod reaction;
pub mod recovery_code;
pub mod refresh_token;
pub mod report;
pub mod search_state;
pub mod thread_follow;
pub mod upload_chunk;
pub mod upload_session;
pub mod user;
pub mod workspace;
pub mod workspace_member;
