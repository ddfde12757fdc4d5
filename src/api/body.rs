//! JSON request bodies whose parse errors name the offending field.
//!
//! poem-openapi's `Json<T>` refuses a bad body with a message about types (`Type "string"
//! expects an input value`) that does not say which field. [`JsonBody`] parses exactly as
//! `Json<T>` does and documents the same schema; when parsing fails it compares the body with
//! `T`'s schema to find the first field that is missing or of the wrong type, so the problem says
//! `content: is required` and lists it under `errors`.

use poem::{FromRequest, Request, RequestBody, Result};
use poem_openapi::{
    payload::{Json, ParsePayload, Payload},
    registry::{MetaSchema, MetaSchemaRef, Registry},
    types::{ParseFromJSON, Type},
};
use regex::Regex;
use serde_json::Value;
use std::{
    collections::HashMap,
    sync::{OnceLock, PoisonError, RwLock},
};

/// A JSON request body (`application/json`), parsed into `T`.
pub struct JsonBody<T>(pub T);

impl<T> std::ops::Deref for JsonBody<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// A request body that could not be parsed, and the field at fault when it is known.
#[derive(Debug)]
pub struct FieldError {
    /// The offending field (`content`, `inner.name`, `ids[2]`).
    pub field: Option<String>,
    /// What is wrong with it (or with the whole body, without a field).
    pub message: String,
}

impl FieldError {
    pub fn new(field: Option<String>, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{field}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for FieldError {}

impl poem::error::ResponseError for FieldError {
    fn status(&self) -> poem::http::StatusCode {
        poem::http::StatusCode::BAD_REQUEST
    }
}

impl<T: Type> Payload for JsonBody<T> {
    const CONTENT_TYPE: &'static str = <Json<T> as Payload>::CONTENT_TYPE;

    fn check_content_type(content_type: &str) -> bool {
        <Json<T> as Payload>::check_content_type(content_type)
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: ParseFromJSON> ParsePayload for JsonBody<T> {
    const IS_REQUIRED: bool = T::IS_REQUIRED;

    async fn from_request(request: &Request, body: &mut RequestBody) -> Result<Self> {
        let data = Vec::<u8>::from_request(request, body).await?;
        let value = if data.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&data).map_err(|e| {
                FieldError::new(None, format!("the request body is not valid JSON: {e}"))
            })?
        };
        // The schema is the rule: a body that breaks it (a number for a string, a pattern, a
        // length) is refused here even where poem-openapi's parser would be lenient, so the
        // server never accepts what the document says it refuses.
        let (registry, schema) = schema_of::<T>();
        if let Some(schema) = schema {
            if schema.ty == "object" && !value.is_object() {
                return Err(FieldError::new(None, "the request body must be a JSON object").into());
            }
            if let Some((field, message)) = mismatch(registry, schema, &value, "") {
                return Err(FieldError::new(Some(field).filter(|f| !f.is_empty()), message).into());
            }
        }
        match T::parse_from_json(Some(value)) {
            Ok(parsed) => Ok(Self(parsed)),
            Err(e) => {
                // Only on failure: parse the bytes again to look for the field at fault.
                let value = serde_json::from_slice(&data).unwrap_or(Value::Null);
                Err(diagnose::<T>(&value, e.into_message()).into())
            }
        }
    }
}

poem_openapi::impl_apirequest_for_payload!(JsonBody<T>, T: ParseFromJSON);

/// `T`'s schema and the registry its references resolve in, built once per body type.
fn schema_of<T: Type>() -> (&'static Registry, Option<&'static MetaSchema>) {
    static REGISTRIES: OnceLock<RwLock<HashMap<String, &'static (Registry, MetaSchemaRef)>>> =
        OnceLock::new();
    let registries = REGISTRIES.get_or_init(Default::default);
    let name = T::name().into_owned();
    let cached = registries
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&name)
        .copied();
    let entry = cached.unwrap_or_else(|| {
        let mut registry = Registry::new();
        T::register(&mut registry);
        // Leaked once per request body type (a fixed, small set).
        let entry: &'static (Registry, MetaSchemaRef) =
            Box::leak(Box::new((registry, T::schema_ref())));
        registries
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name, entry);
        entry
    });
    let (registry, schema_ref) = entry;
    (registry, resolve(registry, schema_ref))
}

/// Explain why `value` is not a `T`: the first missing or mistyped field, else `reason`.
fn diagnose<T: Type>(value: &Value, reason: String) -> FieldError {
    let (registry, schema) = schema_of::<T>();
    let Some(schema) = schema else {
        return FieldError::new(None, format!("the request body is invalid: {reason}"));
    };
    if schema.ty == "object" && !value.is_object() {
        return FieldError::new(None, "the request body must be a JSON object");
    }
    match mismatch(registry, schema, value, "") {
        Some((field, message)) => FieldError::new(Some(field).filter(|f| !f.is_empty()), message),
        None => FieldError::new(None, format!("the request body is invalid: {reason}")),
    }
}

fn resolve<'r>(registry: &'r Registry, schema: &'r MetaSchemaRef) -> Option<&'r MetaSchema> {
    match schema {
        MetaSchemaRef::Inline(schema) => Some(schema),
        MetaSchemaRef::Reference(name) => registry.schemas.get(name),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// The first place where `value` does not fit `schema`, as (field path, message).
fn mismatch(
    registry: &Registry,
    schema: &MetaSchema,
    value: &Value,
    path: &str,
) -> Option<(String, String)> {
    let wrong = |message: &str| Some((path.to_string(), message.to_string()));
    if value.is_null() {
        return (!schema.nullable).then(|| (path.to_string(), "must not be null".to_string()));
    }
    // A field that refers to another schema and adds to it (`nullable`, a description) is
    // `allOf: [{$ref}]` plus its own keywords.
    for member in &schema.all_of {
        if let Some(found) =
            resolve(registry, member).and_then(|m| mismatch(registry, m, value, path))
        {
            return Some(found);
        }
    }
    match schema.ty {
        "object" => {
            let Value::Object(fields) = value else {
                return wrong("must be an object");
            };
            for (name, property) in &schema.properties {
                let field = join(path, name);
                let Some(property) = resolve(registry, property) else {
                    continue;
                };
                match fields.get(*name) {
                    None | Some(Value::Null) if schema.required.contains(name) => {
                        return Some((field, "is required".into()));
                    }
                    // Optional (it has a default) but not nullable: absent is fine, null is not.
                    Some(Value::Null) if !property.nullable => {
                        return Some((field, "must not be null".into()));
                    }
                    None | Some(Value::Null) => {}
                    Some(v) => {
                        if let Some(found) = mismatch(registry, property, v, &field) {
                            return Some(found);
                        }
                    }
                }
            }
            None
        }
        "array" => {
            let Value::Array(items) = value else {
                return wrong("must be an array");
            };
            if schema.max_items.is_some_and(|max| items.len() > max) {
                let max = schema.max_items.unwrap_or_default();
                return wrong(&format!("must have at most {max} items"));
            }
            if schema.min_items.is_some_and(|min| items.len() < min) {
                let min = schema.min_items.unwrap_or_default();
                return wrong(&format!("must have at least {min} items"));
            }
            let item_schema = schema.items.as_deref().and_then(|s| resolve(registry, s))?;
            items.iter().enumerate().find_map(|(i, item)| {
                mismatch(registry, item_schema, item, &format!("{path}[{i}]"))
            })
        }
        "string" => match value {
            Value::String(text) => scalar_format(schema, text)
                .or_else(|| text_rule(schema, text))
                .map(|m| (path.to_string(), m)),
            _ => wrong("must be a string"),
        },
        "integer" if !(value.is_i64() || value.is_u64()) => wrong("must be an integer"),
        "integer" if schema.format.is_some_and(|f| f.starts_with('u')) && !value.is_u64() => {
            // An integer that is not a u64 is negative.
            wrong("must not be negative")
        }
        "integer" => {
            out_of_range(schema, value).then(|| (path.to_string(), "is out of range".into()))
        }
        "number" if !value.is_number() => wrong("must be a number"),
        "boolean" if !value.is_boolean() => wrong("must be true or false"),
        _ => None,
    }
}

/// Formats and enumerations a string must follow.
fn scalar_format(schema: &MetaSchema, text: &str) -> Option<String> {
    if !schema.enum_items.is_empty() && !schema.enum_items.iter().any(|v| v == text) {
        let allowed: Vec<String> = schema.enum_items.iter().map(Value::to_string).collect();
        return Some(format!("must be one of {}", allowed.join(", ")));
    }
    match schema.format {
        Some("uuid") if uuid::Uuid::parse_str(text).is_err() => Some("must be a UUID".into()),
        Some("date-time")
            if time::OffsetDateTime::parse(
                text,
                &time::format_description::well_known::Rfc3339,
            )
            .is_err() =>
        {
            Some("must be an RFC 3339 date-time".into())
        }
        _ => None,
    }
}

/// Length bounds (in characters, as JSON Schema counts them) and the pattern.
fn text_rule(schema: &MetaSchema, text: &str) -> Option<String> {
    let chars = text.chars().count();
    match (schema.min_length, schema.max_length) {
        (Some(min), _) if chars < min => {
            return Some(if min == 1 {
                "must not be empty".into()
            } else {
                format!("must be at least {min} characters")
            });
        }
        (_, Some(max)) if chars > max => return Some(format!("must be at most {max} characters")),
        _ => {}
    }
    let pattern = schema.pattern.as_deref()?;
    (!matches_pattern(pattern, text)).then(|| {
        schema.description.map_or_else(
            || format!("must match {pattern}"),
            |rule| format!("must be {rule}"),
        )
    })
}

/// Whether `text` matches a schema pattern (compiled once). Every pattern in the document
/// compiles (a test says so); one that did not would match everything.
fn matches_pattern(pattern: &str, text: &str) -> bool {
    static COMPILED: OnceLock<RwLock<HashMap<String, Option<Regex>>>> = OnceLock::new();
    let compiled = COMPILED.get_or_init(Default::default);
    if let Some(regex) = compiled
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(pattern)
    {
        return regex.as_ref().is_none_or(|r| r.is_match(text));
    }
    let regex = Regex::new(pattern).ok();
    let matched = regex.as_ref().is_none_or(|r| r.is_match(text));
    compiled
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(pattern.to_string(), regex);
    matched
}

/// Whether an integer exceeds its type (`int32`, `uint32`…) or the schema's bounds.
fn out_of_range(schema: &MetaSchema, value: &Value) -> bool {
    let as_f64 = value.as_f64().unwrap_or(0.0);
    let (min, max) = match schema.format {
        Some("int8") => (i8::MIN as f64, i8::MAX as f64),
        Some("int16") => (i16::MIN as f64, i16::MAX as f64),
        Some("int32") => (i32::MIN as f64, i32::MAX as f64),
        Some("uint8") => (0.0, u8::MAX as f64),
        Some("uint16") => (0.0, u16::MAX as f64),
        Some("uint32") => (0.0, u32::MAX as f64),
        _ => (f64::MIN, f64::MAX),
    };
    as_f64 < min.max(schema.minimum.unwrap_or(f64::MIN))
        || as_f64 > max.min(schema.maximum.unwrap_or(f64::MAX))
}

#[cfg(test)]
mod tests {
    use poem_openapi::Object;
    use serde_json::json;

    use super::*;

    #[derive(Object)]
    struct Inner {
        name: String,
    }

    #[derive(Object)]
    struct Sample {
        content: String,
        #[oai(nullable)]
        count: Option<u32>,
        #[oai(nullable)]
        id: Option<uuid::Uuid>,
        #[oai(nullable)]
        flags: Option<Vec<bool>>,
        #[oai(nullable)]
        inner: Option<Inner>,
    }

    fn field_of(value: Value) -> (Option<String>, String) {
        let reason = match Sample::parse_from_json(Some(value.clone())) {
            Ok(_) => panic!("{value} parsed"),
            Err(e) => e.into_message(),
        };
        let e = diagnose::<Sample>(&value, reason);
        (e.field, e.message)
    }

    /// What the schema check before parsing says (it refuses what poem-openapi would coerce).
    fn field_of_strict(value: Value) -> (Option<String>, String) {
        let (registry, schema) = schema_of::<Sample>();
        let (field, message) = mismatch(registry, schema.unwrap(), &value, "").unwrap();
        (Some(field), message)
    }

    #[test]
    fn names_the_missing_or_mistyped_field() {
        let field = |v| field_of(v).0;
        assert_eq!(field(json!({})), Some("content".into()));
        assert_eq!(field(json!({"content": null})), Some("content".into()));
        assert_eq!(field(json!({"content": [5]})), Some("content".into()));
        assert_eq!(
            field(json!({"content": "x", "id": 5})),
            Some("id".into()),
            "a number is not a UUID"
        );
        assert_eq!(
            field_of_strict(json!({"content": 5})),
            (Some("content".into()), "must be a string".into()),
            "the schema says string: a number is refused, not taken as its text"
        );
        assert_eq!(
            field(json!({"content": "x", "count": -1})),
            Some("count".into())
        );
        assert_eq!(
            field(json!({"content": "x", "count": 1.5})),
            Some("count".into())
        );
        assert_eq!(
            field(json!({"content": "x", "count": 1u64 << 40})),
            Some("count".into())
        );
        assert_eq!(
            field(json!({"content": "x", "id": "nope"})),
            Some("id".into())
        );
        assert_eq!(
            field(json!({"content": "x", "flags": [true, "no"]})),
            Some("flags[1]".into())
        );
        assert_eq!(
            field(json!({"content": "x", "inner": {}})),
            Some("inner.name".into())
        );
        assert_eq!(field_of(json!({})).1, "is required");
        assert_eq!(field_of(json!({"content": {}})).1, "must be a string");
    }

    #[test]
    fn a_body_that_is_not_an_object_has_no_field() {
        let (field, message) = field_of(json!([1, 2]));
        assert_eq!(field, None);
        assert_eq!(message, "the request body must be a JSON object");
    }
}
