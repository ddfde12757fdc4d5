//! Identity primitives: password hashing, access tokens (JWT), opaque tokens, TOTP, the server's
//! secret keys, and the per-user token-validity cache.

pub mod jwt;
pub mod keys;
pub mod oidc;
pub mod opaque;
pub mod password;
pub mod recovery_code;
pub mod token_state;
pub mod totp;
