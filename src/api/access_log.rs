//! What the access log may show of a request URI: secrets in path segments and query values are
//! replaced by `[redacted]` before anything is logged.

use url::form_urlencoded;

pub const REDACTED: &str = "[redacted]";

/// Path segments whose *next* segment is a secret: `/api/v1/invites/{token}/accept`, and the
/// invite link the web app will serve (`/invite/{token}`).
const SECRET_AFTER: &[&str] = &["invites", "invite"];

/// The path with every secret segment replaced by `[redacted]`.
pub fn path(raw: &str) -> String {
    let mut out = Vec::new();
    let mut secret_next = false;
    for segment in raw.split('/') {
        if secret_next && !segment.is_empty() {
            out.push(REDACTED);
            secret_next = false;
            continue;
        }
        secret_next = SECRET_AFTER.contains(&segment);
        out.push(segment);
    }
    out.join("/")
}

/// Query parameter names whose values are secrets (`/ws?token=`, OAuth `?code=&state=`, …):
/// these exactly, and any name containing `token`, `secret` or `password`.
fn is_secret_param(name: &str) -> bool {
    const EXACT: &[&str] = &[
        "ticket",
        "code",
        "state",
        "key",
        "api_key",
        "sig",
        "signature",
    ];
    const CONTAINS: &[&str] = &["token", "secret", "password", "passwd"];
    let name = name.to_ascii_lowercase();
    EXACT.contains(&name.as_str()) || CONTAINS.iter().any(|c| name.contains(c))
}

/// The query string (without `?`) with the values of secret parameters replaced, re-encoded so
/// the log line holds no raw control characters.
pub fn query(raw: &str) -> String {
    let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    form_urlencoded::parse(raw.as_bytes())
        .map(|(name, value)| {
            let value = if is_secret_param(&name) {
                REDACTED.to_string()
            } else {
                encode(&value)
            };
            format!("{}={value}", encode(&name))
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invite_tokens_are_masked_in_paths() {
        assert_eq!(
            path("/api/v1/invites/abcDEF123/accept"),
            "/api/v1/invites/[redacted]/accept"
        );
        assert_eq!(path("/api/v1/invites/abc"), "/api/v1/invites/[redacted]");
        assert_eq!(path("/invite/abc"), "/invite/[redacted]");
        assert_eq!(
            path("/api/v1/workspaces/0190/invites"),
            "/api/v1/workspaces/0190/invites"
        );
        assert_eq!(path("/api/v1/users/me"), "/api/v1/users/me");
        assert_eq!(path("/"), "/");
    }

    #[test]
    fn secret_query_values_are_redacted() {
        assert_eq!(query("token=abc&limit=5"), "token=[redacted]&limit=5");
        assert_eq!(
            query("ticket=t&code=c&state=s&access_token=a&refresh_token=r&client_secret=x"),
            "ticket=[redacted]&code=[redacted]&state=[redacted]&access_token=[redacted]\
             &refresh_token=[redacted]&client_secret=[redacted]"
        );
        // Percent-encoded names are decoded before the check; values are re-encoded.
        assert_eq!(query("%74oken=abc"), "token=[redacted]");
        assert_eq!(query("TOKEN=abc"), "TOKEN=[redacted]");
        assert_eq!(query("q=a%20b%0A"), "q=a+b%0A");
        assert_eq!(query("cursor=alice"), "cursor=alice");
    }
}
