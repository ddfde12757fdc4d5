//! Domain types that validate at construction. No IO here.

mod channel;
pub mod clock;
mod conversation;
mod email;
pub mod events;
mod file_name;
pub mod mentions;
mod password;
mod patterns;
mod role;
mod user_fields;

pub use channel::{ChannelKind, ChannelRole};
pub use conversation::{ChannelName, ClientId, Emoji, MAX_MESSAGE_CHARS, MessageBody};
pub use email::Email;
pub use file_name::FileName;
pub use password::{NewPassword, PasswordProblem};
pub use role::Role;
pub use user_fields::{DisplayName, StatusEmoji, StatusText, Username, WorkspaceName};

/// Why a value was refused; the message is shown to the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Invalid {
    pub field: &'static str,
    pub message: String,
}

impl Invalid {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }

    /// The same problem, named after the request field that carried the value (a
    /// `new_password` is checked as a password).
    pub fn for_field(self, field: &'static str) -> Self {
        Self { field, ..self }
    }
}
