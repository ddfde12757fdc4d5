//! A provider's signing keys (JWKS), cached. A token naming a key the cache does not hold is
//! the sign of a key rotation: the set is fetched again — but such forced fetches happen at
//! most once per [`REFETCH_AFTER`], so tokens with made-up key ids cannot make us hammer the
//! provider. The set is also fetched again after [`MAX_AGE`]. Only asymmetric keys verify anything: a JWKS entry that is a shared
//! secret (`oct`) is ignored, so nobody can sign with "the public key".

use std::time::{Duration, Instant};

use jsonwebtoken::{
    Algorithm, DecodingKey,
    jwk::{AlgorithmParameters, Jwk, JwkSet},
};
use tokio::sync::Mutex;

use super::{OidcError, fetch_json};

/// The shortest time between two fetches forced by unknown key ids.
const REFETCH_AFTER: Duration = Duration::from_secs(10);
/// Keys are fetched again this long after the last fetch, even if every key id is known.
const MAX_AGE: Duration = Duration::from_secs(3600);

/// The algorithms a provider may sign with: asymmetric ones only.
pub const ASYMMETRIC: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

#[derive(Default)]
pub struct Jwks {
    cached: Mutex<Option<Cached>>,
}

struct Cached {
    uri: String,
    set: JwkSet,
    fetched: Instant,
    /// When an unknown key id last forced a fetch.
    forced: Option<Instant>,
}

impl Jwks {
    /// The key that verifies a token with header `kid` and `alg`, from the set at `uri`.
    pub async fn key(
        &self,
        http: &reqwest::Client,
        uri: &str,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<DecodingKey, OidcError> {
        if !ASYMMETRIC.contains(&alg) {
            return Err(OidcError::Rejected(format!(
                "tokens signed with {alg:?} are not accepted"
            )));
        }
        let mut cached = self.cached.lock().await;
        let fresh = cached
            .as_ref()
            .is_some_and(|c| c.uri == uri && c.fetched.elapsed() < MAX_AGE);
        if fresh
            && let Some(c) = cached.as_ref()
            && let Some(key) = pick(&c.set, kid, alg)
        {
            return key;
        }
        // Stale or missing: fetch. Fresh but without the key: a forced fetch, rate-limited.
        let last_forced = cached.as_ref().and_then(|c| c.forced);
        let forced = fresh;
        let may_fetch = !forced || last_forced.is_none_or(|at| at.elapsed() >= REFETCH_AFTER);
        if may_fetch {
            let set: JwkSet = fetch_json(http.get(uri), "JWKS", false).await?;
            let now = Instant::now();
            *cached = Some(Cached {
                uri: uri.to_string(),
                set,
                fetched: now,
                forced: if forced { Some(now) } else { last_forced },
            });
        }
        match cached.as_ref().and_then(|c| pick(&c.set, kid, alg)) {
            Some(key) => key,
            None => Err(OidcError::Rejected(format!(
                "no signing key {} for {alg:?} in the provider's key set",
                kid.unwrap_or("(no kid)")
            ))),
        }
    }
}

/// The key for `kid` (or, without a `kid`, the only key that fits `alg`).
fn pick(set: &JwkSet, kid: Option<&str>, alg: Algorithm) -> Option<Result<DecodingKey, OidcError>> {
    // The key's type must suit the algorithm (shared secrets suit nothing), and a key that
    // names its algorithm is used for that one only. `KeyAlgorithm` and `Algorithm` share
    // their variant names.
    let fits = |jwk: &&Jwk| {
        let type_fits = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => matches!(
                alg,
                Algorithm::RS256
                    | Algorithm::RS384
                    | Algorithm::RS512
                    | Algorithm::PS256
                    | Algorithm::PS384
                    | Algorithm::PS512
            ),
            AlgorithmParameters::EllipticCurve(_) => {
                matches!(alg, Algorithm::ES256 | Algorithm::ES384)
            }
            AlgorithmParameters::OctetKeyPair(_) => alg == Algorithm::EdDSA,
            _ => false,
        };
        type_fits
            && jwk
                .common
                .key_algorithm
                .is_none_or(|a| format!("{a:?}") == format!("{alg:?}"))
    };
    let jwk = match kid {
        Some(kid) => set.find(kid).filter(fits)?,
        None => {
            let mut candidates = set.keys.iter().filter(fits);
            let only = candidates.next()?;
            if candidates.next().is_some() {
                return None;
            }
            only
        }
    };
    Some(match DecodingKey::from_jwk(jwk) {
        Ok(key) if key.family().algorithms().contains(&alg) && ASYMMETRIC.contains(&alg) => Ok(key),
        Ok(_) => Err(OidcError::Rejected(format!(
            "key {} does not fit {alg:?}",
            kid.unwrap_or("(no kid)")
        ))),
        Err(e) => Err(OidcError::Rejected(format!("unusable key: {e}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(json: serde_json::Value) -> JwkSet {
        serde_json::from_value(json).unwrap()
    }

    const N: &str = "u1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0_IzW7yWR7QkrmBL7jTKEn5u-qKhbwKfBstIs-bMY2Zkp18gnTxKLxoS2tFczGkPLPgizskuemMghRniWaoLcyehkd3qqGElvW_VDL5AaWTg0nLVkjRo9z-40RQzuVaE8AkAFmxZzow3x-VJYKdjykkJ0iT9wCS0DRTXu269V264Vf_3jvredZiKRkgwlL9xNAwxXFg0x_XFw005UWVRIkdgcKWTjpBP2dPwVZ4WWC-9aGVd-Gyn1o0CLelf4rEjGoXbAAEgAqeGUxrcIlbjXfbcmw";

    #[test]
    fn only_asymmetric_keys_that_fit_the_algorithm_verify() {
        let keys = set(serde_json::json!({ "keys": [
            { "kty": "RSA", "kid": "rsa-1", "alg": "RS256", "n": N, "e": "AQAB" },
            { "kty": "oct", "kid": "secret", "k": "c2VjcmV0" },
        ]}));
        assert!(matches!(
            pick(&keys, Some("rsa-1"), Algorithm::RS256),
            Some(Ok(_))
        ));
        // The key says RS256: a token claiming RS512 with it is refused.
        assert!(pick(&keys, Some("rsa-1"), Algorithm::RS512).is_none());
        // A shared secret in the set never verifies anything.
        assert!(pick(&keys, Some("secret"), Algorithm::HS256).is_none());
        assert!(pick(&keys, Some("secret"), Algorithm::RS256).is_none());
        assert!(pick(&keys, Some("unknown"), Algorithm::RS256).is_none());
        // No kid: only an unambiguous key is used.
        assert!(matches!(pick(&keys, None, Algorithm::RS256), Some(Ok(_))));
    }
}
