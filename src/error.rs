//! The one table of error codes. Services fail with an [`AppError`]; the API renders it as RFC 9457
//! problem+json (`api::problem`). Codes are stable: clients match on them.

use poem::http::StatusCode;

macro_rules! error_codes {
    ($($variant:ident => ($status:ident, $code:literal, $title:literal),)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ErrorCode { $($variant,)* }

        impl ErrorCode {
            pub fn status(self) -> StatusCode {
                match self { $(ErrorCode::$variant => StatusCode::$status,)* }
            }
            /// The stable machine-readable code.
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $code,)* }
            }
            pub fn title(self) -> &'static str {
                match self { $(ErrorCode::$variant => $title,)* }
            }
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];
        }
    };
}

error_codes! {
    BadRequest => (BAD_REQUEST, "bad_request", "Bad request"),
    ValidationFailed => (BAD_REQUEST, "validation_failed", "Validation failed"),
    UnsupportedFileType => (BAD_REQUEST, "unsupported_file_type", "File type not allowed"),
    InvalidToken => (BAD_REQUEST, "invalid_token", "Invalid or expired token"),
    InvalidCode => (BAD_REQUEST, "invalid_code", "Invalid code"),
    SsoExpired => (BAD_REQUEST, "sso_expired", "Sign-in attempt expired"),
    Unauthorized => (UNAUTHORIZED, "unauthorized", "Authentication required"),
    TokenExpired => (UNAUTHORIZED, "token_expired", "Access token expired"),
    TokenRevoked => (UNAUTHORIZED, "token_revoked", "Token revoked"),
    InvalidCredentials => (UNAUTHORIZED, "invalid_credentials", "Invalid credentials"),
    InvalidClient => (UNAUTHORIZED, "invalid_client", "Invalid client"),
    Forbidden => (FORBIDDEN, "forbidden", "Forbidden"),
    InvalidPassword => (FORBIDDEN, "invalid_password", "Wrong current password"),
    AccountSuspended => (FORBIDDEN, "account_suspended", "Account suspended"),
    RegistrationClosed => (FORBIDDEN, "registration_closed", "Registration closed"),
    InviteRequired => (FORBIDDEN, "invite_required", "Invite required"),
    TotpEnrollmentRequired => (FORBIDDEN, "totp_enrollment_required", "Two-factor enrollment required"),
    CsrfFailed => (FORBIDDEN, "csrf_failed", "CSRF check failed"),
    PasswordLoginDisabled => (FORBIDDEN, "password_login_disabled", "Password sign-in disabled"),
    SsoRejected => (FORBIDDEN, "sso_rejected", "Identity provider sign-in refused"),
    SsoEmailUnverified => (FORBIDDEN, "sso_email_unverified", "Email not verified by the identity provider"),
    SsoNoAccount => (FORBIDDEN, "sso_no_account", "No account for this identity"),
    NotFound => (NOT_FOUND, "not_found", "Not found"),
    MethodNotAllowed => (METHOD_NOT_ALLOWED, "method_not_allowed", "Method not allowed"),
    RequestTimeout => (REQUEST_TIMEOUT, "request_timeout", "Request timeout"),
    Conflict => (CONFLICT, "conflict", "Conflict"),
    AlreadySetUp => (CONFLICT, "already_set_up", "Setup already completed"),
    SetupRequired => (CONFLICT, "setup_required", "Setup not completed"),
    ChannelArchived => (CONFLICT, "channel_archived", "Channel archived"),
    LastOwner => (CONFLICT, "last_owner", "Last owner"),
    InviteExpired => (GONE, "invite_expired", "Invite expired or used up"),
    ContentBlocked => (UNPROCESSABLE_ENTITY, "content_blocked", "Content blocked"),
    PayloadTooLarge => (PAYLOAD_TOO_LARGE, "payload_too_large", "Payload too large"),
    RangeNotSatisfiable => (RANGE_NOT_SATISFIABLE, "range_not_satisfiable", "Range not satisfiable"),
    UnsupportedMediaType => (UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "Unsupported media type"),
    RateLimited => (TOO_MANY_REQUESTS, "rate_limited", "Too many requests"),
    Internal => (INTERNAL_SERVER_ERROR, "internal", "Internal server error"),
    Unavailable => (SERVICE_UNAVAILABLE, "unavailable", "Service unavailable"),
    SearchUnavailable => (SERVICE_UNAVAILABLE, "search_unavailable", "Search unavailable"),
    SsoUnavailable => (SERVICE_UNAVAILABLE, "sso_unavailable", "Identity provider unavailable"),
}

#[derive(Debug, thiserror::Error)]
#[error("{}: {detail}", code.as_str())]
pub struct AppError {
    pub code: ErrorCode,
    pub detail: String,
    /// Seconds, for 429 responses.
    pub retry_after: Option<u64>,
    /// The field a validation failure is about, when known (rendered under `errors`).
    pub field: Option<crate::domain::Invalid>,
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
            retry_after: None,
            field: None,
        }
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, detail)
    }
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, detail)
    }
    pub fn validation(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::ValidationFailed, detail)
    }
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthorized, detail)
    }
    pub fn rate_limited(retry_after: u64) -> Self {
        Self {
            code: ErrorCode::RateLimited,
            detail: format!("too many attempts; try again in {retry_after} s"),
            retry_after: Some(retry_after.max(1)),
            field: None,
        }
    }
    /// An unexpected failure: logged in full here, shown to the client without details.
    pub fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(error = %error, "internal error");
        Self::new(ErrorCode::Internal, "an unexpected error occurred")
    }
}

impl From<crate::domain::Invalid> for AppError {
    fn from(e: crate::domain::Invalid) -> Self {
        Self {
            field: Some(e.clone()),
            ..Self::validation(e.to_string())
        }
    }
}

impl From<sea_orm::DbErr> for AppError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::internal(format!("database: {e}"))
    }
}

impl From<sea_orm::TransactionError<AppError>> for AppError {
    fn from(e: sea_orm::TransactionError<AppError>) -> Self {
        match e {
            sea_orm::TransactionError::Connection(db) => db.into(),
            sea_orm::TransactionError::Transaction(app) => app,
        }
    }
}

impl From<crate::kv::KvError> for AppError {
    fn from(e: crate::kv::KvError) -> Self {
        Self::internal(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_snake_case_and_never_500_for_client_errors() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "duplicate {}", code.as_str());
            assert!(
                code.as_str()
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_')
            );
            let server_side = [
                ErrorCode::Internal,
                ErrorCode::Unavailable,
                ErrorCode::SearchUnavailable,
                ErrorCode::SsoUnavailable,
            ];
            if !server_side.contains(code) {
                assert!(code.status().is_client_error(), "{}", code.as_str());
            }
        }
    }
}
