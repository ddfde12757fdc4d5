//! Search: messages by text and filters, files by name.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Error, File, Message, Method, query};

/// `GET /search/messages` parameters; only `q` is needed.
#[derive(Debug, Clone, Default)]
pub struct MessageSearch {
    pub q: String,
    pub channel_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    /// `YYYY-MM-DD`: sent on or after that day.
    pub from: Option<String>,
    /// `YYYY-MM-DD`: sent on or before that day.
    pub to: Option<String>,
    pub has_file: bool,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

impl MessageSearch {
    pub fn text(q: impl Into<String>) -> Self {
        Self {
            q: q.into(),
            ..Self::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelRef {
    pub id: Uuid,
    #[serde(default)]
    pub name: Option<String>,
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRef {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MessageHit {
    pub message: Message,
    pub channel: ChannelRef,
    pub user: UserRef,
    pub highlights: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MessageResults {
    pub items: Vec<MessageHit>,
    #[serde(default)]
    pub next_cursor: Option<String>,
    /// Matches, counted up to 1,000.
    pub total: u64,
    /// More than `total` match.
    #[serde(default)]
    pub total_capped: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileHit {
    pub file: File,
    pub uploader: UserRef,
    pub highlight: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileResults {
    pub items: Vec<FileHit>,
    #[serde(default)]
    pub next_cursor: Option<String>,
}

const NONE: Option<&()> = None;

impl crate::Client {
    pub async fn search_messages(&self, search: &MessageSearch) -> Result<MessageResults, Error> {
        let q = query(&[
            ("q", Some(search.q.clone())),
            ("channel_id", search.channel_id.map(|c| c.to_string())),
            ("user_id", search.user_id.map(|u| u.to_string())),
            ("from", search.from.clone()),
            ("to", search.to.clone()),
            ("has_file", search.has_file.then(|| "true".into())),
            ("cursor", search.cursor.clone()),
            ("limit", search.limit.map(|l| l.to_string())),
        ]);
        self.call(Method::GET, &format!("/search/messages{q}"), NONE)
            .await
    }

    pub async fn search_files(&self, q: &str, cursor: Option<&str>) -> Result<FileResults, Error> {
        let q = query(&[("q", Some(q.into())), ("cursor", cursor.map(str::to_owned))]);
        self.call(Method::GET, &format!("/search/files{q}"), NONE)
            .await
    }
}
