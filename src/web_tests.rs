//! Unit tests of the web app endpoint (`web.rs`).
use super::*;

fn request(headers: &[(&str, &str)]) -> Request {
    let mut builder = Request::builder();
    for (name, value) in headers {
        builder = builder.header(name.to_string(), value.to_string());
    }
    builder.finish()
}

#[test]
fn accept_encoding_honours_weights_and_the_wildcard() {
    let cases: [(&'static str, (bool, bool)); 8] = [
        ("", (false, false)),
        ("gzip, deflate, br, zstd", (true, true)),
        ("gzip", (false, true)),
        ("br;q=0, gzip;q=0.5", (false, true)),
        ("*", (true, true)),
        ("*;q=0, gzip", (false, true)),
        ("BR; Q=0.1", (true, false)),
        ("identity", (false, false)),
    ];
    for (value, expected) in cases {
        assert_eq!(
            accepted(&request(&[("accept-encoding", value)])),
            expected,
            "{value}"
        );
    }
}

#[test]
fn paths_map_to_files_the_app_or_404() {
    assert!(matches!(target("/api"), Target::Api));
    assert!(matches!(target("/api/v2/x"), Target::Api));
    assert!(matches!(target("/apix"), Target::App));
    assert!(matches!(target("/"), Target::App));
    if Dist::get(INDEX).is_some() {
        assert!(matches!(target("/index.html"), Target::File(p, _) if p == "index.html"));
    }
    assert!(matches!(target("/w/acme/c/general"), Target::App));
    assert!(matches!(
        target("/assets/missing-0000.js"),
        Target::MissingAsset
    ));
    assert!(matches!(
        target("/assets/../index.html"),
        Target::MissingAsset
    ));
    assert!(matches!(target("/../Cargo.toml"), Target::App));
    assert!(matches!(target("//index.html"), Target::App));
}

#[test]
fn if_none_match_compares_weakly_and_takes_lists() {
    let etag = "\"abc\"";
    assert!(if_none_match(
        &request(&[("if-none-match", "\"abc\"")]),
        etag
    ));
    assert!(if_none_match(
        &request(&[("if-none-match", "\"x\", W/\"abc\"")]),
        etag
    ));
    assert!(if_none_match(&request(&[("if-none-match", "*")]), etag));
    assert!(!if_none_match(
        &request(&[("if-none-match", "\"abc-br\"")]),
        etag
    ));
    assert!(!if_none_match(&request(&[]), etag));
}

#[test]
fn warming_compresses_every_embedded_text_file_ahead_of_requests() {
    let web = WebApp::new();
    web.warm();
    let cache = web.cache.read().unwrap_or_else(PoisonError::into_inner);
    assert_eq!(cache.len(), Dist::iter().count());
    for p in cache.values().filter(|p| p.compressible) {
        assert!(p.br.get().is_some() && p.gzip.get().is_some());
    }
}

#[test]
fn compression_round_trips_and_skips_what_does_not_shrink() {
    use std::io::Read;
    let text = "const answer = 42;\n".repeat(200);
    let br = brotli(text.as_bytes()).expect("text shrinks");
    let mut out = Vec::new();
    brotli::Decompressor::new(&br[..], 4096)
        .read_to_end(&mut out)
        .unwrap();
    assert_eq!(out, text.as_bytes());
    let gz = gzip(text.as_bytes()).expect("text shrinks");
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut out)
        .unwrap();
    assert_eq!(out, text.as_bytes());
    let noise = crate::identity::opaque::random_bytes::<64>();
    assert!(gzip(&noise).is_none() && brotli(&noise).is_none());
}

fn bundle(path: &str, size: usize) -> Arc<Prepared> {
    let text = "export const greeting = 'hello';\n".repeat(size / 33 + 1);
    let data = text.as_bytes()[..size].to_vec();
    let hash = crate::identity::opaque::random_bytes::<32>();
    Arc::new(Prepared::new(path, Cow::Owned(data), hash))
}

fn header(resp: &Response, name: header::HeaderName) -> &str {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

#[tokio::test]
async fn assets_are_compressed_once_cached_for_a_year_and_revalidated() {
    let file = bundle("assets/index-AbC123.js", 8000);
    let br = respond(
        &request(&[("accept-encoding", "gzip, br")]),
        file.clone(),
        HTML_CSP,
    )
    .await;
    assert_eq!(br.status(), StatusCode::OK);
    assert_eq!(header(&br, header::CONTENT_ENCODING), "br");
    assert_eq!(header(&br, header::CACHE_CONTROL), IMMUTABLE);
    assert_eq!(header(&br, header::VARY), "Accept-Encoding");
    assert_eq!(
        header(&br, header::CONTENT_TYPE),
        "text/javascript; charset=utf-8"
    );
    assert!(br.headers().get(header::CONTENT_SECURITY_POLICY).is_none());
    let etag = header(&br, header::ETAG).to_owned();
    assert!(etag.starts_with('"') && etag.ends_with("-br\""), "{etag}");
    let compressed = file.br.get().cloned().flatten().expect("cached");

    // The cached body is reused, not compressed again.
    let again = respond(
        &request(&[("accept-encoding", "br")]),
        file.clone(),
        HTML_CSP,
    )
    .await;
    let body = again.into_body().into_bytes().await.unwrap();
    assert_eq!(body.as_ptr(), compressed.as_ptr());

    let gz = respond(
        &request(&[("accept-encoding", "gzip")]),
        file.clone(),
        HTML_CSP,
    )
    .await;
    assert_eq!(header(&gz, header::CONTENT_ENCODING), "gzip");
    let plain = respond(&request(&[]), file.clone(), HTML_CSP).await;
    assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
    let plain_etag = header(&plain, header::ETAG).to_owned();
    assert_ne!(plain_etag, etag);
    assert_eq!(plain.into_body().into_bytes().await.unwrap(), file.body);

    let revalidated = respond(
        &request(&[("accept-encoding", "br"), ("if-none-match", &etag)]),
        file.clone(),
        HTML_CSP,
    )
    .await;
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header(&revalidated, header::ETAG), etag);
    assert!(
        revalidated
            .into_body()
            .into_bytes()
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn small_and_precompressed_files_go_as_they_are() {
    for file in [
        bundle("assets/tiny-1.js", MIN_COMPRESS - 1),
        bundle("assets/font-1.woff2", 8000),
    ] {
        let resp = respond(&request(&[("accept-encoding", "br, gzip")]), file, HTML_CSP).await;
        assert!(resp.headers().get(header::CONTENT_ENCODING).is_none());
        assert!(resp.headers().get(header::VARY).is_none());
    }
    let page = respond(&request(&[]), bundle("index.html", 500), HTML_CSP).await;
    assert_eq!(header(&page, header::CACHE_CONTROL), REVALIDATE);
    assert_eq!(header(&page, header::CONTENT_SECURITY_POLICY), HTML_CSP);
    assert_eq!(
        header(&page, header::CONTENT_TYPE),
        "text/html; charset=utf-8"
    );
}

#[test]
fn content_types_of_the_build() {
    assert_eq!(
        content_type("assets/index-AbC123.js").0,
        "text/javascript; charset=utf-8"
    );
    assert_eq!(content_type("index.html").0, "text/html; charset=utf-8");
    assert_eq!(content_type("assets/x.woff2"), ("font/woff2", true));
    assert_eq!(content_type("favicon.svg"), ("image/svg+xml", false));
    assert_eq!(content_type("LICENSE"), ("application/octet-stream", true));
}

#[test]
fn the_policy_allows_the_file_store_when_it_is_another_origin() {
    assert_eq!(super::html_csp(None), HTML_CSP);
    let csp = super::html_csp(Some("https://files.example.com"));
    assert!(
        csp.contains("img-src 'self' data: blob: https://files.example.com;"),
        "{csp}"
    );
    assert!(
        csp.contains("connect-src 'self' https://files.example.com;"),
        "{csp}"
    );
    assert!(csp.contains("script-src 'self';"), "{csp}");
}
