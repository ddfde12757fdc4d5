//! The embedded web app (`src/web.rs`): its files with their types and cache rules, index.html
//! for the app's own routes, compression, revalidation; the API's paths are untouched.
//!
//! Asset names carry Vite's content hash, so the tests read `ui-dist/` (which debug builds serve
//! from disk) to find them instead of naming any.

use std::{io::Read, path::PathBuf};

use reqwest::{Method, StatusCode, header};

use crate::helpers::{TestApp, spawn_app};

fn dist() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("ui-dist")
}

/// The built index.html, when the app has been built into `ui-dist/`.
fn index_html() -> Option<Vec<u8>> {
    std::fs::read(dist().join("index.html")).ok()
}

/// Files under `ui-dist/assets/`, largest first (as `/assets/<name>` paths with their bytes).
fn assets() -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dist().join("assets")) else {
        return Vec::new();
    };
    let mut files: Vec<(String, Vec<u8>)> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let bytes = std::fs::read(e.path()).ok()?;
            Some((format!("/assets/{name}"), bytes))
        })
        .collect();
    files.sort_by_key(|(_, bytes)| std::cmp::Reverse(bytes.len()));
    files
}

async fn get(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = app
        .client
        .get(format!("{}{path}", app.base))
        .header(header::ACCEPT_ENCODING, "identity");
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    req.send().await.unwrap()
}

fn text(resp: &reqwest::Response, name: header::HeaderName) -> String {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn the_app_routes_get_index_html_with_a_strict_policy() {
    let app = spawn_app().await;
    let Some(index) = index_html() else {
        // A checkout without the built app: its paths say so, as a problem.
        let resp = get(&app, "/setup", &[]).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        return;
    };
    for path in [
        "/",
        "/index.html",
        "/setup",
        "/setup?token=abc",
        "/login",
        "/invite/some-token",
        "/reset-password?token=xyz",
        "/w/x/c/y",
        "/w/acme.example/c/general/",
    ] {
        let resp = get(&app, path, &[]).await;
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        assert_eq!(
            text(&resp, header::CONTENT_TYPE),
            "text/html; charset=utf-8",
            "{path}"
        );
        assert_eq!(text(&resp, header::CACHE_CONTROL), "no-cache", "{path}");
        assert_eq!(
            text(&resp, header::CONTENT_SECURITY_POLICY),
            colink::web::HTML_CSP,
            "{path}"
        );
        assert_eq!(text(&resp, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
        assert_eq!(text(&resp, header::X_FRAME_OPTIONS), "DENY");
        assert!(resp.headers().contains_key(header::REFERRER_POLICY));
        let etag = text(&resp, header::ETAG);
        assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
        assert_eq!(resp.bytes().await.unwrap(), index, "{path}");
    }
    // HEAD: the same headers, no body.
    let head = app
        .client
        .head(format!("{}/w/x/c/y", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(
        text(&head, header::CONTENT_TYPE),
        "text/html; charset=utf-8"
    );
    assert!(head.bytes().await.unwrap().is_empty());
    // Revalidation.
    let etag = text(&get(&app, "/", &[]).await, header::ETAG);
    let again = get(&app, "/login", &[("if-none-match", &etag)]).await;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn hashed_assets_are_typed_immutable_compressed_and_revalidated() {
    let app = spawn_app().await;
    let assets = assets();
    if assets.is_empty() {
        // No build with assets yet: src/web.rs's unit tests cover the same rules on made-up
        // files; a missing asset is still 404 (below).
        eprintln!("ui-dist/assets is empty or missing: nothing to fetch");
    }
    for (path, bytes) in assets.iter().take(3) {
        let plain = get(&app, path, &[]).await;
        assert_eq!(plain.status(), StatusCode::OK, "{path}");
        assert_eq!(
            text(&plain, header::CACHE_CONTROL),
            "public, max-age=31536000, immutable",
            "{path}"
        );
        let expected_type = match path.rsplit_once('.').map(|(_, e)| e) {
            Some("js") => Some("text/javascript; charset=utf-8"),
            Some("css") => Some("text/css; charset=utf-8"),
            Some("svg") => Some("image/svg+xml"),
            Some("png") => Some("image/png"),
            Some("woff2") => Some("font/woff2"),
            _ => None,
        };
        if let Some(expected) = expected_type {
            assert_eq!(text(&plain, header::CONTENT_TYPE), expected, "{path}");
        }
        assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
        // Not HTML: the edge's general policy, not the page's.
        assert_ne!(
            text(&plain, header::CONTENT_SECURITY_POLICY),
            colink::web::HTML_CSP
        );
        let etag = text(&plain, header::ETAG);
        assert_eq!(plain.bytes().await.unwrap(), bytes.as_slice(), "{path}");

        let not_modified = get(&app, path, &[("if-none-match", &etag)]).await;
        assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED, "{path}");
        assert_eq!(text(&not_modified, header::ETAG), etag);

        let compressible = bytes.len() >= colink::web::MIN_COMPRESS
            && matches!(expected_type, Some(t) if !t.starts_with("image/png") && t != "font/woff2");
        for (accept, coding) in [("gzip, deflate, br", "br"), ("gzip", "gzip")] {
            let resp = get(&app, path, &[("accept-encoding", accept)]).await;
            assert_eq!(resp.status(), StatusCode::OK);
            if !compressible {
                assert!(resp.headers().get(header::CONTENT_ENCODING).is_none());
                continue;
            }
            assert_eq!(text(&resp, header::CONTENT_ENCODING), coding, "{path}");
            assert_eq!(text(&resp, header::VARY), "Accept-Encoding");
            let tag = text(&resp, header::ETAG);
            assert_ne!(tag, etag, "each encoding is its own representation");
            let body = resp.bytes().await.unwrap();
            assert!(body.len() < bytes.len());
            let mut decoded = Vec::new();
            if coding == "br" {
                brotli::Decompressor::new(&body[..], 4096)
                    .read_to_end(&mut decoded)
                    .unwrap();
            } else {
                flate2::read::GzDecoder::new(&body[..])
                    .read_to_end(&mut decoded)
                    .unwrap();
            }
            assert_eq!(decoded, bytes.as_slice(), "{path} {coding}");
            let revalidated = get(
                &app,
                path,
                &[("accept-encoding", accept), ("if-none-match", &tag)],
            )
            .await;
            assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
        }
    }

    // A hashed name that is not (or no longer) there is 404, not the app's HTML.
    let missing = app
        .call(
            Method::GET,
            &format!("{}/assets/missing-0000.js", app.base),
            None,
            None,
        )
        .await;
    missing.problem(404, "not_found");
}

#[tokio::test]
async fn api_paths_and_other_methods_keep_their_answers() {
    let app = spawn_app().await;
    app.call(Method::GET, "/api/v1/nope", None, None)
        .await
        .problem(404, "not_found");
    app.call(Method::GET, "/api/v2/anything", None, None)
        .await
        .problem(404, "not_found");
    app.call(Method::POST, "/api/nothing", None, None)
        .await
        .problem(404, "not_found");
    app.call(Method::GET, "/health", None, None)
        .await
        .expect(200);
    app.call(Method::GET, "/ready", None, None)
        .await
        .expect(200);
    let spec = app.call(Method::GET, "/api/openapi.json", None, None).await;
    assert!(spec.expect(200)["paths"]["/auth/login"].is_object());
    let docs = get(&app, "/docs", &[]).await;
    assert_eq!(docs.status(), StatusCode::OK);
    assert!(
        text(&docs, header::CONTENT_SECURITY_POLICY).contains("'unsafe-inline'"),
        "Swagger UI keeps its own policy"
    );
    // Only GET and HEAD on the app's paths (a full URL: the client puts bare paths under /api/v1).
    let setup_page = format!("{}/setup", app.base);
    for method in [Method::POST, Method::PUT, Method::DELETE] {
        let reply = app.call(method.clone(), &setup_page, None, None).await;
        assert_eq!(reply.headers["allow"], "GET, HEAD", "{method}");
        reply.problem(405, "method_not_allowed");
    }
    // The API's own 405 still names the API's methods.
    let reply = app
        .call(Method::DELETE, "/api/v1/auth/login", None, None)
        .await;
    assert_eq!(reply.headers["allow"], "POST");
    reply.problem(405, "method_not_allowed");
}
