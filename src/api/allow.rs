//! The `Allow` header of a 405 answer (RFC 9110 §15.5.6): the methods the path does take, read
//! from the OpenAPI document, so it cannot drift from the routes.

use poem::http::Method;

/// Path templates (`/api/v1/channels/{id}`) and the methods each takes.
pub struct AllowTable {
    routes: Vec<(Vec<Segment>, String)>,
}

enum Segment {
    Literal(String),
    Parameter,
}

impl AllowTable {
    /// From the OpenAPI document (JSON) whose paths live under `prefix`.
    pub fn from_spec(spec: &str, prefix: &str) -> Self {
        let doc: serde_json::Value = serde_json::from_str(spec).unwrap_or_default();
        let routes = doc
            .get("paths")
            .and_then(|p| p.as_object())
            .into_iter()
            .flatten()
            .map(|(path, operations)| {
                let mut methods: Vec<String> = operations
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter_map(|(m, _)| Method::from_bytes(m.to_uppercase().as_bytes()).ok())
                    .map(|m| m.to_string())
                    .collect();
                if methods.iter().any(|m| m == "GET") {
                    methods.push("HEAD".into());
                }
                (segments(&format!("{prefix}{path}")), methods.join(", "))
            })
            .collect();
        Self { routes }
    }

    /// The `Allow` value for `path`, when it is a route.
    pub fn allow(&self, path: &str) -> Option<&str> {
        let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        self.routes.iter().find_map(|(template, methods)| {
            let fits = template.len() == parts.len()
                && template.iter().zip(&parts).all(|(t, p)| match t {
                    Segment::Literal(l) => l == p,
                    Segment::Parameter => !p.is_empty(),
                });
            fits.then_some(methods.as_str())
        })
    }
}

fn segments(template: &str) -> Vec<Segment> {
    template
        .trim_end_matches('/')
        .split('/')
        .map(|s| {
            if s.starts_with('{') && s.ends_with('}') {
                Segment::Parameter
            } else {
                Segment::Literal(s.to_string())
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_the_methods_of_the_matching_template() {
        let spec = r#"{"paths": {
            "/channels": {"get": {}, "post": {}},
            "/channels/{id}": {"get": {}, "put": {}, "delete": {}},
            "/auth/login": {"post": {}}
        }}"#;
        let table = AllowTable::from_spec(spec, "/api/v1");
        assert_eq!(table.allow("/api/v1/channels"), Some("GET, POST, HEAD"));
        assert_eq!(table.allow("/api/v1/channels/"), Some("GET, POST, HEAD"));
        assert_eq!(
            table.allow("/api/v1/channels/0193"),
            Some("DELETE, GET, PUT, HEAD")
        );
        assert_eq!(table.allow("/api/v1/auth/login"), Some("POST"));
        assert_eq!(table.allow("/api/v1/nothing"), None);
    }
}
