//! What every request gets: problem+json errors, request ids, security headers, CORS, limits,
//! and the documentation endpoints.

use serde_json::json;

use crate::helpers::{spawn_app, spawn_with};

#[tokio::test]
async fn oversized_bodies_get_413_declared_or_streamed() {
    let app = spawn_with(|c| c.server.max_body_bytes = 4096).await;
    let big = json!({"login": "x".repeat(5000), "password": "y"});
    app.post("/auth/login", None, big)
        .await
        .problem(413, "payload_too_large");

    // Chunked (no Content-Length).
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..10).map(|_| Ok(vec![b' '; 1000])).collect();
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let resp = app
        .client
        .post(format!("{}/api/v1/auth/login", app.base))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 413);
}

#[tokio::test]
async fn malformed_requests_are_4xx_problems_never_500() {
    let app = spawn_app().await;
    let (owner, _) = app.setup_owner().await;
    let raw = |body: &'static str, ct: &'static str| {
        app.client
            .post(format!("{}/api/v1/auth/login", app.base))
            .header("content-type", ct)
            .body(body)
            .send()
    };
    for (body, ct, status) in [
        ("{not json", "application/json", 400),
        ("[]", "application/json", 400),
        (
            "{\"login\": {\"a\": 1}, \"password\": [true]}",
            "application/json",
            400,
        ),
        ("", "application/json", 400),
        ("login=a", "text/plain", 415),
    ] {
        let resp = raw(body, ct).await.unwrap();
        assert_eq!(resp.status().as_u16(), status, "{body:?} {ct}");
        assert_eq!(resp.headers()["content-type"], "application/problem+json");
        let problem: serde_json::Value = resp.json().await.unwrap();
        assert!(problem["code"].is_string());
    }
    app.call(reqwest::Method::GET, "/api/v1/nope", None, None)
        .await
        .problem(404, "not_found");
    app.call(reqwest::Method::GET, "/no-such-page", None, None)
        .await
        .problem(404, "not_found");
    app.call(
        reqwest::Method::DELETE,
        "/users/me",
        Some(&owner.access),
        None,
    )
    .await
    .problem(405, "method_not_allowed");
}

#[tokio::test]
async fn request_ids_and_security_headers_on_every_response() {
    let app = spawn_app().await;
    for path in ["/health", "/api/v1/users/me", "/api/openapi.json"] {
        let resp = app
            .client
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        let h = resp.headers();
        assert!(
            uuid::Uuid::parse_str(h["x-request-id"].to_str().unwrap()).is_ok(),
            "{path}"
        );
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert!(h.contains_key("content-security-policy"));
        assert!(h.contains_key("referrer-policy"));
        assert!(
            !h.contains_key("strict-transport-security"),
            "no HSTS on plain http"
        );
    }
    // A caller's request id is echoed.
    let resp = app
        .client
        .get(format!("{}/health", app.base))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "abc-123");

    let https =
        spawn_with(|c| c.server.public_url = Some("https://chat.example.com".parse().unwrap()))
            .await;
    let resp = https
        .client
        .get(format!("{}/health", https.base))
        .send()
        .await
        .unwrap();
    assert!(resp.headers().contains_key("strict-transport-security"));
}

#[tokio::test]
async fn cors_allows_only_configured_origins() {
    let app = spawn_with(|c| c.server.cors_origins = vec!["https://app.example.com".into()]).await;
    let preflight = |origin: &'static str| {
        app.client
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/api/v1/auth/login", app.base),
            )
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let ok = preflight("https://app.example.com").await.unwrap();
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let denied = preflight("https://evil.example.com").await.unwrap();
    assert!(!denied.headers().contains_key("access-control-allow-origin"));

    // No allowlist: no cross-origin grants at all.
    let closed = spawn_app().await;
    let resp = closed
        .client
        .get(format!("{}/health", closed.base))
        .header("origin", "https://anything.example.com")
        .send()
        .await
        .unwrap();
    assert!(!resp.headers().contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn openapi_document_swagger_ui_health_and_ready() {
    let app = spawn_app().await;
    let spec: serde_json::Value = app
        .client
        .get(format!("{}/api/openapi.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    let paths = spec["paths"].as_object().unwrap();
    for p in [
        "/auth/login",
        "/auth/login/totp",
        "/auth/refresh",
        "/setup",
        "/users/me",
        "/workspaces/{id}/invites",
        "/admin/users/{id}/suspend",
    ] {
        assert!(paths.contains_key(p), "missing {p}");
    }
    let docs = app
        .client
        .get(format!("{}/docs", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(docs.status().as_u16(), 200);
    assert!(docs.text().await.unwrap().contains("swagger"));
    let health = app
        .call(reqwest::Method::GET, "/health", None, None)
        .await
        .expect(200);
    assert_eq!(health["status"], "ok");
    let ready = app
        .call(reqwest::Method::GET, "/ready", None, None)
        .await
        .expect(200);
    assert_eq!(ready["checks"]["database"]["status"], "ok");
    assert_eq!(ready["checks"]["kv"]["status"], "ok");
    assert_eq!(ready["checks"]["storage"]["status"], "ok", "{ready}");
}

/// `/ready` answers 503 with the failing check when the database cannot be reached; `/health`
/// (liveness) still answers 200.
#[tokio::test]
async fn ready_answers_503_with_details_when_the_database_is_unreachable() {
    let app = spawn_app().await;
    // Closing the server's pool (a clone shares it) makes every database call fail, as an
    // unreachable database would.
    app.state.db.clone().close().await.unwrap();
    let ready = app
        .call(reqwest::Method::GET, "/ready", None, None)
        .await
        .expect(503);
    assert_eq!(ready["status"], "unavailable", "{ready}");
    assert_eq!(ready["checks"]["database"]["status"], "error", "{ready}");
    assert!(
        !ready["checks"]["database"]["error"]
            .as_str()
            .unwrap()
            .is_empty()
    );
    assert_eq!(ready["checks"]["kv"]["status"], "ok", "{ready}");
    app.call(reqwest::Method::GET, "/health", None, None)
        .await
        .expect(200);
}
