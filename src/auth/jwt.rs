//! HS256 tokens with the configured secret; in dev mode an ephemeral secret made at start-up.

use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};

use super::{Role, Viewer};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing bearer token: send `Authorization: Bearer <JWT>`")]
    Missing,
    #[error("malformed Authorization header: expected `Bearer <JWT>`")]
    MalformedHeader,
    #[error("token expired")]
    Expired,
    #[error("invalid token: {0}")]
    Invalid(String),
    #[error("{0}")]
    UnknownRole(String),
    #[error("cannot issue tokens: {0}")]
    Issue(String),
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    role: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    regions: Vec<String>,
    exp: u64,
    #[serde(default)]
    iat: u64,
}

/// Signs and verifies tokens.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// True when the secret was made at start-up (no SALESGRAPH_JWT_SECRET).
    pub dev_mode: bool,
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl TokenKeys {
    pub fn hs256(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.required_spec_claims = HashSet::from(["exp".to_string()]);
        validation.leeway = 30;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            dev_mode: false,
        }
    }

    /// A random secret for dev mode: tokens die with the process.
    pub fn ephemeral() -> Result<Self, AuthError> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret)
            .map_err(|e| AuthError::Issue(format!("no randomness for a dev secret: {e}")))?;
        Ok(Self { dev_mode: true, ..Self::hs256(&secret) })
    }

    pub fn issue(&self, viewer: &Viewer, ttl: Duration) -> Result<String, AuthError> {
        let issued = now();
        let claims = Claims {
            sub: viewer.subject.clone(),
            role: viewer.role.as_str().to_string(),
            regions: viewer.regions.clone(),
            exp: issued + ttl.as_secs(),
            iat: issued,
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| AuthError::Issue(e.to_string()))
    }

    pub fn verify(&self, token: &str) -> Result<Viewer, AuthError> {
        let data = decode::<Claims>(token, &self.decoding, &self.validation).map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => AuthError::Expired,
            ErrorKind::InvalidSignature => AuthError::Invalid("bad signature".into()),
            ErrorKind::InvalidAlgorithm => AuthError::Invalid("algorithm not accepted".into()),
            ErrorKind::MissingRequiredClaim(claim) => AuthError::Invalid(format!("missing claim `{claim}`")),
            _ => AuthError::Invalid("not a valid JWT".into()),
        })?;
        let role = data.claims.role.parse::<Role>().map_err(AuthError::UnknownRole)?;
        Ok(Viewer::new(data.claims.sub, role, data.claims.regions))
    }

    /// The viewer of an `Authorization` header value.
    pub fn verify_header(&self, header: Option<&str>) -> Result<Viewer, AuthError> {
        let header = header.ok_or(AuthError::Missing)?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::MalformedHeader)?;
        self.verify(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn viewer() -> Viewer {
        Viewer::new("ana", Role::Manager, vec!["Europe".into()])
    }

    #[test]
    fn round_trip() {
        let keys = TokenKeys::hs256(b"secret");
        let token = keys.issue(&viewer(), Duration::from_secs(60)).unwrap();
        assert_eq!(keys.verify(&token), Ok(viewer()));
        assert_eq!(keys.verify_header(Some(&format!("Bearer {token}"))), Ok(viewer()));
    }

    #[test]
    fn wrong_secret_expired_and_garbage_are_refused() {
        let token = TokenKeys::hs256(b"other").issue(&viewer(), Duration::from_secs(60)).unwrap();
        assert!(matches!(TokenKeys::hs256(b"secret").verify(&token), Err(AuthError::Invalid(_))));
        let keys = TokenKeys::hs256(b"secret");
        let claims =
            Claims { sub: "x".into(), role: "admin".into(), regions: vec![], exp: now() - 3600, iat: 0 };
        let expired =
            encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(b"secret")).unwrap();
        assert_eq!(keys.verify(&expired), Err(AuthError::Expired));
        assert!(keys.verify("abc.def.ghi").is_err());
        assert_eq!(keys.verify_header(None), Err(AuthError::Missing));
        assert_eq!(keys.verify_header(Some("Basic abc")), Err(AuthError::MalformedHeader));
    }

    #[test]
    fn unknown_role_is_refused() {
        let claims =
            Claims { sub: "x".into(), role: "janitor".into(), regions: vec![], exp: now() + 60, iat: 0 };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(b"s")).unwrap();
        assert!(matches!(TokenKeys::hs256(b"s").verify(&token), Err(AuthError::UnknownRole(_))));
    }
}
