//! Access tokens: HS256 JWTs signed with a key derived from the server secret.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

const ISSUER: &str = "colink";
const AUDIENCE: &str = "colink-api";

/// What an access token may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Everything the user's role allows.
    Full,
    /// Only TOTP enrollment and reading one's own profile (`auth.require_totp` before enrollment).
    Enroll,
    /// A bot with the `read` scope alone: GET requests and WebSocket events.
    Read,
    /// A bot with the `write` scope alone: requests that change something (posting), no reads.
    Write,
}

impl Scope {
    /// The token of a bot client with these scopes (both: [`Scope::Full`]).
    pub fn for_bot(read: bool, write: bool) -> Option<Self> {
        match (read, write) {
            (true, true) => Some(Scope::Full),
            (true, false) => Some(Scope::Read),
            (false, true) => Some(Scope::Write),
            (false, false) => None,
        }
    }

    /// Whether a request that only reads (`reading`: GET, HEAD) or one that changes something
    /// is allowed; `Enroll` is checked elsewhere.
    pub fn allows(self, reading: bool) -> bool {
        let reads = reading;
        match self {
            Scope::Full | Scope::Enroll => true,
            Scope::Read => reads,
            Scope::Write => !reads,
        }
    }

    /// Whether it may receive events (a WebSocket).
    pub fn reads(self) -> bool {
        matches!(self, Scope::Full | Scope::Read)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: Uuid,
    /// The user's token version when issued; a newer version in the database revokes the token.
    pub ver: i32,
    pub scope: Scope,
    /// The session (refresh-token family) the token was issued in; absent for bot tokens.
    /// Ending the session (logout, refresh-token reuse) revokes the token at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
}

/// What an access token is issued for.
#[derive(Debug, Clone, Copy)]
pub struct Grant {
    pub user_id: Uuid,
    pub version: i32,
    pub scope: Scope,
    pub session: Option<Uuid>,
    /// Seconds until it expires.
    pub ttl_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the access token has expired")]
    Expired,
    #[error("the access token is invalid")]
    Invalid,
}

pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl JwtKeys {
    pub fn new(secret: &[u8; 32]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 0;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    pub fn issue(&self, grant: Grant) -> String {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let claims = Claims {
            sub: grant.user_id,
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            iat: now,
            exp: now.saturating_add(i64::try_from(grant.ttl_secs).unwrap_or(i64::MAX)),
            jti: Uuid::now_v7(),
            ver: grant.version,
            scope: grant.scope,
            sid: grant.session,
        };
        #[allow(
            clippy::expect_used,
            reason = "HS256 over a serialisable struct cannot fail"
        )]
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("signing an access token")
    }

    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejections() {
        let keys = JwtKeys::new(&[7u8; 32]);
        let user = Uuid::now_v7();
        let session = Uuid::now_v7();
        let token = keys.issue(Grant {
            user_id: user,
            version: 3,
            scope: Scope::Full,
            session: Some(session),
            ttl_secs: 60,
        });
        let claims = keys.verify(&token).unwrap();
        assert_eq!(
            (claims.sub, claims.ver, claims.scope, claims.sid),
            (user, 3, Scope::Full, Some(session))
        );

        let other = JwtKeys::new(&[8u8; 32]);
        assert_eq!(other.verify(&token).unwrap_err(), TokenError::Invalid);
        assert_eq!(keys.verify("not.a.jwt").unwrap_err(), TokenError::Invalid);

        let mut tampered = token.clone();
        tampered.insert(tampered.len() - 3, 'x');
        assert!(keys.verify(&tampered).is_err());
    }

    #[test]
    fn expired_tokens_are_reported_as_expired() {
        let keys = JwtKeys::new(&[7u8; 32]);
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let claims = Claims {
            sub: Uuid::now_v7(),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            iat: now - 120,
            exp: now - 60,
            jti: Uuid::now_v7(),
            ver: 0,
            scope: Scope::Full,
            sid: None,
        };
        let token =
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &keys.encoding).unwrap();
        assert_eq!(keys.verify(&token).unwrap_err(), TokenError::Expired);
    }
}
