//! The web app: the files of `ui-dist/` (the Vite build of `ui/`), embedded in the binary with
//! rust-embed and served at every path the API does not own. (Debug builds read `ui-dist/` from
//! disk at each request instead, so a fresh `vite build` shows without recompiling.)
//!
//! Invariants:
//! - The API, `/api/openapi.json`, `/ws`, `/docs`, `/health` and `/ready` are routed before this
//!   endpoint (`api::routes`). A path under `/api` that reaches it is answered 404 problem+json
//!   (any method), never with the app.
//! - GET and HEAD only: any other method is 405 problem+json with `Allow: GET, HEAD`.
//! - A path naming an embedded file gets that file. A missing file under `/assets/` is 404 (an
//!   old hashed name must not be answered with HTML the browser would run as a script); any other
//!   path gets `index.html` (history fallback: `/setup`, `/login`, `/invite/<token>`,
//!   `/w/<workspace>/c/<channel>` are the app's own routes).
//! - Files under `/assets/` carry Vite's content hash in their names: `Cache-Control: public,
//!   max-age=31536000, immutable`. Everything else, `index.html` first, is `no-cache`
//!   (revalidated on each use, so a new release is picked up at once).
//! - Every answer has a strong `ETag` (the file's SHA-256, with `-br` / `-gz` for a compressed
//!   body, as each encoding is its own representation); a matching `If-None-Match` gets 304.
//! - Text files of at least [`MIN_COMPRESS`] bytes are compressed with brotli and gzip once each,
//!   on first request, and kept in memory (per server, in [`WebApp`]); the client's
//!   `Accept-Encoding` picks one (brotli first) and `Vary: Accept-Encoding` says the answer
//!   depends on it. Formats that are compressed already (images, woff/woff2) go as they are.
//! - HTML gets a strict Content-Security-Policy ([`HTML_CSP`]): scripts, styles, fonts and
//!   connections from this origin only, no inline script or style element, no plugins, no
//!   framing. Vite's build needs nothing more (React sets styles through the CSSOM, which CSP
//!   does not restrict). The edge keeps it and adds the other security headers
//!   (`X-Content-Type-Options`, `X-Frame-Options`, `Referrer-Policy`, HSTS); Swagger UI at
//!   `/docs` keeps its own, looser policy there.

use std::{
    borrow::Cow,
    collections::HashMap,
    io::Write,
    sync::{Arc, OnceLock, PoisonError, RwLock},
};

use bytes::Bytes;
use poem::{
    Endpoint, Request, Response,
    http::{HeaderValue, Method, StatusCode, header},
};

use crate::{api::problem, error::ErrorCode};

/// The built web app, at the crate root. Without it (a checkout before the app's first build)
/// the server still builds and runs, and says so at the app's paths.
#[derive(rust_embed::Embed)]
#[folder = "ui-dist/"]
#[allow_missing = true]
struct Dist;

/// The Content-Security-Policy of every HTML answer.
pub const HTML_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; object-src 'none'; \
    base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

/// Smaller files are sent as they are: compression would save a packet at best.
pub const MIN_COMPRESS: usize = 1024;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";
const INDEX: &str = "index.html";

/// The endpoint serving the web app, with its cache of prepared (hashed, compressed) files.
#[derive(Clone)]
pub struct WebApp {
    cache: Arc<RwLock<HashMap<String, Arc<Prepared>>>>,
    /// The HTML's Content-Security-Policy ([`html_csp`]).
    csp: Arc<str>,
}

impl Default for WebApp {
    fn default() -> Self {
        Self {
            cache: Arc::default(),
            csp: HTML_CSP.into(),
        }
    }
}

/// [`HTML_CSP`], with `file_origin` (where files are stored, when that is another origin: an
/// S3 endpoint) allowed for images and for connections (uploads and downloads go straight to
/// the bucket).
pub fn html_csp(file_origin: Option<&str>) -> String {
    match file_origin {
        None => HTML_CSP.to_string(),
        Some(origin) => HTML_CSP
            .replace(
                "img-src 'self' data: blob:",
                &format!("img-src 'self' data: blob: {origin}"),
            )
            .replace(
                "connect-src 'self'",
                &format!("connect-src 'self' {origin}"),
            ),
    }
}

/// One embedded file, ready to send.
struct Prepared {
    hash: [u8; 32],
    body: Bytes,
    content_type: &'static str,
    cache_control: &'static str,
    html: bool,
    /// Worth compressing: a text format of at least [`MIN_COMPRESS`] bytes.
    compressible: bool,
    etag: String,
    /// Compressed bodies, made on first use; `None` when not smaller than the file.
    br: OnceLock<Option<Bytes>>,
    gzip: OnceLock<Option<Bytes>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Coding {
    Identity,
    Brotli,
    Gzip,
}

impl Coding {
    fn name(self) -> Option<&'static str> {
        match self {
            Coding::Identity => None,
            Coding::Brotli => Some("br"),
            Coding::Gzip => Some("gzip"),
        }
    }
    fn etag_suffix(self) -> &'static str {
        match self {
            Coding::Identity => "",
            Coding::Brotli => "-br",
            Coding::Gzip => "-gz",
        }
    }
}

/// What a path asks for.
enum Target {
    /// A path the API owns: never the app.
    Api,
    /// An embedded file: its path inside `ui-dist/`, and the file.
    File(String, rust_embed::EmbeddedFile),
    /// A hashed asset that does not exist.
    MissingAsset,
    /// Anything else: the app's own route.
    App,
}

fn target(path: &str) -> Target {
    if path == "/api" || path.starts_with("/api/") {
        return Target::Api;
    }
    let relative = path.strip_prefix('/').unwrap_or(path);
    // `..`, `.`, empty segments and backslashes never name an embedded file.
    let plain = !relative.is_empty()
        && relative
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != ".." && !s.contains(['\\', '\0']));
    if let Some(file) = Dist::get(relative).filter(|_| plain) {
        Target::File(relative.to_owned(), file)
    } else if relative.starts_with("assets/") {
        Target::MissingAsset
    } else {
        Target::App
    }
}

impl Endpoint for WebApp {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let file = match target(req.uri().path()) {
            Target::Api | Target::MissingAsset => {
                return Ok(problem::response(
                    ErrorCode::NotFound,
                    "no such resource",
                    None,
                ));
            }
            _ if !matches!(*req.method(), Method::GET | Method::HEAD) => {
                let mut resp = problem::response(
                    ErrorCode::MethodNotAllowed,
                    "the web app's pages and files take GET and HEAD only",
                    None,
                );
                resp.headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
                return Ok(resp);
            }
            Target::File(path, file) => (path, file),
            Target::App => match Dist::get(INDEX) {
                Some(file) => (INDEX.to_owned(), file),
                None => {
                    return Ok(problem::response(
                        ErrorCode::NotFound,
                        "the web app is not part of this build (ui-dist/ has no index.html)",
                        None,
                    ));
                }
            },
        };
        Ok(respond(&req, self.prepared(file.0, file.1), &self.csp).await)
    }
}

impl WebApp {
    pub fn new() -> Self {
        Self::default()
    }

    /// Allow the origin files are stored at (see [`html_csp`]).
    pub fn with_file_origin(mut self, origin: Option<&str>) -> Self {
        self.csp = html_csp(origin).into();
        self
    }

    /// The embedded `file` at `path`, prepared: from the cache unless its content changed
    /// (which only happens in debug builds, as they read `ui-dist/` from disk).
    fn prepared(&self, path: String, file: rust_embed::EmbeddedFile) -> Arc<Prepared> {
        let hash = file.metadata.sha256_hash();
        let cached = self
            .cache
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&path)
            .filter(|p| p.hash == hash)
            .cloned();
        if let Some(p) = cached {
            return p;
        }
        let prepared = Arc::new(Prepared::new(&path, file.data, hash));
        self.cache
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(path, prepared.clone());
        prepared
    }
}

impl WebApp {
    /// Prepare every embedded file and compress those worth it now, so the first visitor after
    /// a start does not wait for brotli (quality 11 takes ~0.4 s on the 400 kB bundle). Blocks:
    /// call it off the async workers. A release server runs it at start (see `api::routes`).
    pub fn warm(&self) {
        for path in Dist::iter() {
            let Some(file) = Dist::get(&path) else {
                continue;
            };
            let prepared = self.prepared(path.into_owned(), file);
            if prepared.compressible {
                prepared.encode(Coding::Brotli);
                prepared.encode(Coding::Gzip);
            }
        }
    }

    /// [`Self::warm`] on a thread of its own that ends when it is done. The compressors' working
    /// memory (tens of MiB for brotli at quality 11) is freed with its thread; a pooled thread
    /// would keep it in the allocator's per-thread cache while idle (an idle release server
    /// held ~125 MiB for its first 10 s and ~50 MiB after; ~40 MiB with this). It is given back
    /// to the OS at once (`memory::release_now`), not after the allocator's purge delay: a
    /// first login or upload in the server's first seconds otherwise started ~25 MiB higher.
    pub fn warm_in_background(&self) {
        let this = self.clone();
        let spawned = std::thread::Builder::new()
            .name("web-warm".into())
            .spawn(move || {
                this.warm();
                crate::memory::release_now();
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "could not start compressing the web app ahead of requests");
        }
    }
}

impl Prepared {
    fn new(path: &str, data: Cow<'static, [u8]>, hash: [u8; 32]) -> Self {
        let (content_type, compressed_format) = content_type(path);
        let body = match data {
            Cow::Borrowed(b) => Bytes::from_static(b),
            Cow::Owned(v) => Bytes::from(v),
        };
        let etag = hash[..16].iter().map(|b| format!("{b:02x}")).collect();
        Self {
            hash,
            compressible: !compressed_format && body.len() >= MIN_COMPRESS,
            body,
            content_type,
            cache_control: if path.starts_with("assets/") {
                IMMUTABLE
            } else {
                REVALIDATE
            },
            html: content_type.starts_with("text/html"),
            etag,
            br: OnceLock::new(),
            gzip: OnceLock::new(),
        }
    }

    fn etag(&self, coding: Coding) -> String {
        format!("\"{}{}\"", self.etag, coding.etag_suffix())
    }

    /// The body in `coding`, compressing it on first use (off the async workers).
    async fn encoded(self: &Arc<Self>, coding: Coding) -> Option<Bytes> {
        if coding == Coding::Identity {
            return Some(self.body.clone());
        }
        if let Some(done) = self.cell(coding).get() {
            return done.clone();
        }
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.encode(coding))
            .await
            .ok()
            .flatten()
    }

    /// The body in `coding`, compressing it here if it is not yet (blocks).
    fn encode(&self, coding: Coding) -> Option<Bytes> {
        if coding == Coding::Identity {
            return Some(self.body.clone());
        }
        self.cell(coding)
            .get_or_init(|| match coding {
                Coding::Brotli => brotli(&self.body),
                _ => gzip(&self.body),
            })
            .clone()
    }

    fn cell(&self, coding: Coding) -> &OnceLock<Option<Bytes>> {
        match coding {
            Coding::Brotli => &self.br,
            _ => &self.gzip,
        }
    }
}

async fn respond(req: &Request, file: Arc<Prepared>, csp: &str) -> Response {
    let (take_br, take_gzip) = accepted(req);
    let mut chosen = (Coding::Identity, None);
    if file.compressible {
        for (coding, wanted) in [(Coding::Brotli, take_br), (Coding::Gzip, take_gzip)] {
            if wanted && let Some(body) = file.encoded(coding).await {
                chosen = (coding, Some(body));
                break;
            }
        }
    }
    let (coding, body) = chosen;
    let etag = file.etag(coding);
    let not_modified = if_none_match(req, &etag);

    let mut builder = Response::builder()
        .header(header::ETAG, &etag)
        .header(header::CACHE_CONTROL, file.cache_control);
    if file.compressible {
        builder = builder.header(header::VARY, "Accept-Encoding");
    }
    if not_modified {
        return builder.status(StatusCode::NOT_MODIFIED).finish();
    }
    builder = builder.header(header::CONTENT_TYPE, file.content_type);
    if let Some(name) = coding.name() {
        builder = builder.header(header::CONTENT_ENCODING, name);
    }
    if file.html {
        builder = builder.header(header::CONTENT_SECURITY_POLICY, csp);
    }
    // HEAD: hyper sends the headers (Content-Length included) and drops the body.
    builder.body(body.unwrap_or_else(|| file.body.clone()))
}

/// Whether the client takes brotli and gzip (`Accept-Encoding`, RFC 9110 §12.5.3: `q=0` refuses
/// a coding, `*` stands for those not named).
fn accepted(req: &Request) -> (bool, bool) {
    let (mut br, mut gzip, mut any) = (None, None, None);
    let values = req.headers().get_all(header::ACCEPT_ENCODING);
    for item in values
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
    {
        let (coding, params) = item.split_once(';').unwrap_or((item, ""));
        let weight_ok = params
            .split(';')
            .filter_map(|p| {
                let (key, value) = p.split_once('=')?;
                key.trim().eq_ignore_ascii_case("q").then_some(value)
            })
            .all(|q| q.trim().parse::<f32>().is_ok_and(|q| q > 0.0));
        let coding = coding.trim();
        if coding.eq_ignore_ascii_case("br") {
            br = Some(weight_ok);
        } else if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
            gzip = Some(weight_ok);
        } else if coding == "*" {
            any = Some(weight_ok);
        }
    }
    (br.or(any).unwrap_or(false), gzip.or(any).unwrap_or(false))
}

/// `If-None-Match` names `etag` (weak comparison, RFC 9110 §13.1.2) or is `*`.
fn if_none_match(req: &Request, etag: &str) -> bool {
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
}

/// The `Content-Type` for `path`, and whether the format is compressed already.
fn content_type(path: &str) -> (&'static str, bool) {
    let extension = path
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "html" | "htm" => ("text/html; charset=utf-8", false),
        "js" | "mjs" => ("text/javascript; charset=utf-8", false),
        "css" => ("text/css; charset=utf-8", false),
        "json" | "map" => ("application/json", false),
        "webmanifest" => ("application/manifest+json", false),
        "svg" => ("image/svg+xml", false),
        "txt" => ("text/plain; charset=utf-8", false),
        "xml" => ("application/xml", false),
        "wasm" => ("application/wasm", false),
        "ico" => ("image/x-icon", false),
        "ttf" => ("font/ttf", false),
        "otf" => ("font/otf", false),
        "png" => ("image/png", true),
        "jpg" | "jpeg" => ("image/jpeg", true),
        "gif" => ("image/gif", true),
        "webp" => ("image/webp", true),
        "avif" => ("image/avif", true),
        "woff" => ("font/woff", true),
        "woff2" => ("font/woff2", true),
        _ => ("application/octet-stream", true),
    }
}

fn gzip(data: &[u8]) -> Option<Bytes> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 2),
        flate2::Compression::best(),
    );
    encoder.write_all(data).ok()?;
    smaller(encoder.finish().ok()?, data)
}

fn brotli(data: &[u8]) -> Option<Bytes> {
    // A window no larger than the file (the streaming encoder does not shrink it itself): the
    // same output, and the match finder's tables scale with the window (32 MiB at the default
    // 2^22, 4 MiB for a 400 kB bundle).
    let lgwin = data
        .len()
        .max(2)
        .next_power_of_two()
        .trailing_zeros()
        .clamp(16, 22);
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        lgwin: i32::try_from(lgwin).unwrap_or(22),
        size_hint: data.len(),
        ..Default::default()
    };
    let mut out = Vec::with_capacity(data.len() / 2);
    brotli::BrotliCompress(&mut &data[..], &mut out, &params).ok()?;
    smaller(out, data)
}

fn smaller(compressed: Vec<u8>, original: &[u8]) -> Option<Bytes> {
    (compressed.len() < original.len()).then(|| Bytes::from(compressed))
}

#[cfg(test)]
#[path = "web_tests.rs"]
mod tests;
