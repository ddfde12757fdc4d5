//! `DirectJson<T>`: a JSON response written straight from `T`'s serde implementation, documented
//! in the OpenAPI document exactly as poem-openapi's `Json<T>` documents it.
//!
//! poem-openapi renders a `Json<T>` by first building a `serde_json::Value` tree of the whole
//! answer (a map per object, a string per key and value) and then writing that tree. For the
//! routes the web app calls on every load and channel switch — the sidebar and history pages,
//! tens of objects each — building and dropping that tree was a sixth of the server's time
//! (docs/benchmarks.md, issue 9). `DirectJson` writes the bytes from the value itself.
//!
//! Invariant: the document a `DirectJson<T>` writes is the one `Json<T>` would write (the same
//! members and values; member order is not significant in JSON). The view types keep their serde
//! and poem-openapi attributes in step for this; debug builds — every API test — check each
//! answer against poem-openapi's own rendering and panic on a difference.

use poem::{IntoResponse, Response, http::StatusCode};
use poem_openapi::{
    ApiResponse,
    payload::Payload,
    registry::{MetaMediaType, MetaResponse, MetaResponses, MetaSchemaRef, Registry},
    types::{ToJSON, Type},
};
use serde::Serialize;

/// A 200 JSON answer written from `T`'s serde implementation (see the module docs).
pub struct DirectJson<T>(pub T);

impl<T: Type> Payload for DirectJson<T> {
    const CONTENT_TYPE: &'static str = "application/json; charset=utf-8";

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: Serialize + ToJSON + Send> IntoResponse for DirectJson<T> {
    fn into_response(self) -> Response {
        #[cfg(debug_assertions)]
        same_as_poem_openapi(&self.0);
        match serde_json::to_vec(&self.0) {
            Ok(body) => Response::builder()
                .content_type(Self::CONTENT_TYPE)
                .body(body),
            // Only a map with non-string keys or a failing `Serialize` impl can get here; the
            // view types have neither.
            Err(err) => {
                tracing::error!(error = %err, "serialising a response");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        }
    }
}

impl<T: Serialize + ToJSON + Send> ApiResponse for DirectJson<T> {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![MetaResponse {
                description: "",
                status: Some(200),
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: Self::CONTENT_TYPE,
                    schema: Self::schema_ref(),
                }],
                headers: vec![],
            }],
        }
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

/// The invariant of this module, checked in debug builds.
#[cfg(debug_assertions)]
fn same_as_poem_openapi<T: Serialize + ToJSON>(value: &T) {
    let direct = serde_json::to_value(value).ok();
    let poem = value.to_json();
    assert_eq!(
        direct,
        poem,
        "DirectJson<{}> differs from poem-openapi's Json rendering",
        std::any::type_name::<T>()
    );
}
