//! Domain newtypes as request fields (the schema's description is the rule, as a noun phrase that
//! reads after "must be"): each is a poem-openapi type whose schema carries the
//! domain's rule (pattern and length), so the OpenAPI document shows it, [`super::body::JsonBody`]
//! refuses a body that breaks it before a handler runs, naming the field, and the handler gets the
//! parsed (normalised) value. The domain types stay free of HTTP; the rules live there
//! (`PATTERN`, `parse`), and the tests in `crate::domain` prove the two agree.

use std::borrow::Cow;

use poem_openapi::{
    registry::{MetaSchema, MetaSchemaRef},
    types::{ParseError, ParseFromJSON, ParseFromParameter, ParseResult, ToJSON, Type},
};
use serde_json::Value;

use crate::domain::{
    ChannelName, ClientId, DisplayName, Email, Emoji, MAX_MESSAGE_CHARS, MessageBody, StatusEmoji,
    StatusText, Username, WorkspaceName,
};

macro_rules! string_field {
    ($ty:ty, $name:literal, $rule:literal, min: $min:expr, max: $max:expr) => {
        impl Type for $ty {
            const IS_REQUIRED: bool = true;
            type RawValueType = Self;
            type RawElementValueType = Self;

            fn name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }

            fn schema_ref() -> MetaSchemaRef {
                MetaSchemaRef::Inline(Box::new(MetaSchema {
                    description: Some($rule),
                    pattern: Some(<$ty>::PATTERN.to_string()),
                    min_length: $min,
                    max_length: $max,
                    ..MetaSchema::new("string")
                }))
            }

            fn as_raw_value(&self) -> Option<&Self::RawValueType> {
                Some(self)
            }

            fn raw_element_iter<'a>(
                &'a self,
            ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
                Box::new(self.as_raw_value().into_iter())
            }
        }

        impl ParseFromJSON for $ty {
            fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
                match value {
                    Some(Value::String(text)) => {
                        <$ty>::parse(&text).map_err(|e| ParseError::custom(e.message))
                    }
                    other => Err(ParseError::expected_type(other.unwrap_or_default())),
                }
            }
        }

        impl ParseFromParameter for $ty {
            fn parse_from_parameter(value: &str) -> ParseResult<Self> {
                <$ty>::parse(value).map_err(|e| ParseError::custom(e.message))
            }
        }

        impl ToJSON for $ty {
            fn to_json(&self) -> Option<Value> {
                Some(Value::String(self.as_str().to_string()))
            }
        }
    };
}

string_field!(
    ChannelName,
    "channel_name",
    "1–80 letters, digits, '-' or '_', optionally after a '#' (stored lowercase)",
    min: None,
    max: None
);
string_field!(
    MessageBody,
    "message_body",
    "markdown of 1–40,000 characters, not only white space, without control characters but tab and line breaks",
    min: Some(1),
    max: Some(MAX_MESSAGE_CHARS)
);
string_field!(
    Emoji,
    "emoji",
    "a shortcode such as `thumbsup` or `:+1:`, or one emoji such as 👍",
    min: None,
    max: None
);
string_field!(
    Username,
    "username",
    "2–32 letters, digits, '.', '_' or '-', starting with a letter or digit (stored lowercase)",
    min: None,
    max: None
);
string_field!(
    Email,
    "email",
    "an email address such as name@example.com (stored lowercase)",
    min: None,
    max: Some(254)
);
string_field!(
    DisplayName,
    "display_name",
    "1–64 characters, not only white space, without control characters (stored trimmed)",
    min: Some(1),
    max: Some(DisplayName::MAX_CHARS)
);
string_field!(
    WorkspaceName,
    "workspace_name",
    "1–80 characters, not only white space, without control characters (stored trimmed)",
    min: Some(1),
    max: Some(WorkspaceName::MAX_CHARS)
);
string_field!(
    StatusText,
    "status_text",
    "at most 100 characters without control characters (empty clears the status)",
    min: None,
    max: Some(StatusText::MAX_CHARS)
);
string_field!(
    StatusEmoji,
    "status_emoji",
    "at most 64 characters without control characters, such as `:palm_tree:` (empty clears it)",
    min: None,
    max: Some(StatusEmoji::MAX_CHARS)
);
string_field!(
    ClientId,
    "client_id",
    "1–128 visible ASCII characters: your id for the message, sending it again returns the original",
    min: None,
    max: None
);
