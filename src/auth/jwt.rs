//! Bearer tokens: HS256 with the configured secret (in dev mode an ephemeral one made at
//! start-up) and RS256 with an identity provider's public key.

use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, decode_header, encode};
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

/// The claims salesgraph reads; `iss`, `aud` and `exp` are checked by the validation itself.
#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    role: String,
    #[serde(default)]
    regions: Vec<String>,
    /// Seconds since the epoch; a NumericDate may have a fraction. Optional here so that the
    /// validation, which requires it, names it when missing.
    #[serde(default)]
    exp: Option<f64>,
}

/// A token that passed every check, and when it expires.
#[derive(Debug, Clone)]
struct Verified {
    viewer: Viewer,
    exp: u64,
}

/// Tokens verified lately, by their full text: a dashboard sends the same token with every
/// request, and checking it again (header and claims decoded from JSON, the HMAC computed) was
/// about a seventh of a cached answer's time. A hit is the same bytes that passed before, so
/// only the expiry is checked again; failures are not remembered.
const VERIFIED_TOKENS: u64 = 10_000;

/// How long a verified token is taken on trust before it is checked in full again.
const VERIFIED_FOR: Duration = Duration::from_secs(60);

/// The claims salesgraph writes when it issues a token.
#[derive(Debug, Serialize)]
struct IssuedClaims<'a> {
    sub: &'a str,
    role: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    regions: &'a [String],
    exp: u64,
    iat: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'a str>,
}

/// Seconds of clock difference tolerated between the token's issuer and this server.
pub const LEEWAY_SECONDS: u64 = 30;

/// Signs and verifies tokens: HS256 with a shared secret, RS256 with an identity provider's
/// public key, or both. The token's `alg` picks the key, and only a configured algorithm is
/// accepted, so a public key can never be used as an HMAC secret.
#[derive(Clone)]
pub struct TokenKeys {
    secret: Option<(EncodingKey, DecodingKey)>,
    public_key: Option<DecodingKey>,
    issuer: Option<String>,
    audience: Option<String>,
    /// True when the secret was made at start-up (no SALESGRAPH_JWT_SECRET).
    pub dev_mode: bool,
    verified: moka::sync::Cache<String, Verified>,
}

fn verified_tokens() -> moka::sync::Cache<String, Verified> {
    moka::sync::Cache::builder().max_capacity(VERIFIED_TOKENS).time_to_live(VERIFIED_FOR).build()
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl TokenKeys {
    pub fn hs256(secret: &[u8]) -> Self {
        Self {
            secret: Some((EncodingKey::from_secret(secret), DecodingKey::from_secret(secret))),
            public_key: None,
            issuer: None,
            audience: None,
            dev_mode: false,
            verified: verified_tokens(),
        }
    }

    /// Verification only: RS256 tokens come from an identity provider holding the private key.
    pub fn rs256(public_key_pem: &[u8]) -> Result<Self, AuthError> {
        let key = DecodingKey::from_rsa_pem(public_key_pem)
            .map_err(|e| AuthError::Issue(format!("the RS256 public key is not an RSA PEM key: {e}")))?;
        Ok(Self {
            secret: None,
            public_key: Some(key),
            issuer: None,
            audience: None,
            dev_mode: false,
            verified: verified_tokens(),
        })
    }

    /// Adds RS256 verification beside the HS256 secret.
    pub fn with_public_key(mut self, public_key_pem: &[u8]) -> Result<Self, AuthError> {
        self.public_key = Self::rs256(public_key_pem)?.public_key;
        self.verified.invalidate_all();
        Ok(self)
    }

    /// Requires these `iss` and `aud` claims (when set) and writes them into issued tokens.
    pub fn with_claims(mut self, issuer: Option<String>, audience: Option<String>) -> Self {
        self.issuer = issuer.filter(|s| !s.is_empty());
        self.audience = audience.filter(|s| !s.is_empty());
        self.verified.invalidate_all();
        self
    }

    /// A random secret for dev mode: tokens die with the process.
    pub fn ephemeral() -> Result<Self, AuthError> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret)
            .map_err(|e| AuthError::Issue(format!("no randomness for a dev secret: {e}")))?;
        Ok(Self { dev_mode: true, ..Self::hs256(&secret) })
    }

    /// In dev mode, one ready-made viewer and token per role (the manager scoped to Europe), for
    /// the start-up banner and the dashboard's sign-in; outside dev mode, none.
    pub fn dev_tokens(&self, ttl: Duration) -> Result<Vec<(Viewer, String)>, AuthError> {
        if !self.dev_mode {
            return Ok(Vec::new());
        }
        [
            (Role::Admin, vec![]),
            (Role::Executive, vec![]),
            (Role::Manager, vec!["Europe".to_string()]),
            (Role::Analyst, vec![]),
        ]
        .into_iter()
        .map(|(role, regions)| {
            let viewer = Viewer::new(format!("dev-{role}"), role, regions);
            let token = self.issue(&viewer, ttl)?;
            Ok((viewer, token))
        })
        .collect()
    }

    pub fn issue(&self, viewer: &Viewer, ttl: Duration) -> Result<String, AuthError> {
        let Some((encoding, _)) = &self.secret else {
            return Err(AuthError::Issue(
                "no HS256 secret configured (RS256 tokens come from your identity provider)".into(),
            ));
        };
        let issued = now();
        let claims = IssuedClaims {
            sub: &viewer.subject,
            role: viewer.role.as_str(),
            regions: &viewer.regions,
            exp: issued + ttl.as_secs(),
            iat: issued,
            iss: self.issuer.as_deref(),
            aud: self.audience.as_deref(),
        };
        encode(&Header::new(Algorithm::HS256), &claims, encoding).map_err(|e| AuthError::Issue(e.to_string()))
    }

    fn validation(&self, algorithm: Algorithm) -> Validation {
        let mut validation = Validation::new(algorithm);
        let mut required = HashSet::from(["exp".to_string()]);
        validation.leeway = LEEWAY_SECONDS;
        // A token whose `nbf` lies ahead is not valid yet (jsonwebtoken skips the check unless asked).
        validation.validate_nbf = true;
        match &self.issuer {
            Some(issuer) => {
                validation.set_issuer(&[issuer]);
                required.insert("iss".to_string());
            }
            None => validation.iss = None,
        }
        match &self.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                required.insert("aud".to_string());
            }
            None => validation.validate_aud = false,
        }
        validation.required_spec_claims = required;
        validation
    }

    pub fn verify(&self, token: &str) -> Result<Viewer, AuthError> {
        self.verify_at(token, now()).map(|(viewer, _)| viewer)
    }

    /// The viewer of an `Authorization` header value and the second (since the epoch) its
    /// token stops being accepted: what a long-lived connection must end by.
    pub fn verify_header_until(&self, header: Option<&str>) -> Result<(Viewer, u64), AuthError> {
        let token = bearer_token(header)?;
        self.verify_at(token, now()).map(|(viewer, exp)| (viewer, exp.saturating_add(LEEWAY_SECONDS)))
    }

    /// [`Self::verify`] at the time `now` (seconds since the epoch), for a token verified
    /// before; a token not seen lately is checked in full against the real clock.
    fn verify_at(&self, token: &str, now: u64) -> Result<(Viewer, u64), AuthError> {
        if let Some(known) = self.verified.get(token) {
            if now > known.exp.saturating_add(LEEWAY_SECONDS) {
                self.verified.invalidate(token);
                return Err(AuthError::Expired);
            }
            return Ok((known.viewer, known.exp));
        }
        let verified = self.verify_in_full(token)?;
        self.verified.insert(token.to_string(), verified.clone());
        Ok((verified.viewer, verified.exp))
    }

    fn verify_in_full(&self, token: &str) -> Result<Verified, AuthError> {
        // `alg: none` and unknown algorithms fail here: the header type has no such variant.
        let header = decode_header(token).map_err(|_| AuthError::Invalid("not a valid JWT".into()))?;
        let key = match header.alg {
            Algorithm::HS256 => self.secret.as_ref().map(|(_, decoding)| decoding),
            Algorithm::RS256 => self.public_key.as_ref(),
            _ => None,
        }
        .ok_or_else(|| AuthError::Invalid(format!("algorithm {:?} not accepted", header.alg)))?;
        let data =
            decode::<Claims>(token, key, &self.validation(header.alg)).map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => AuthError::Expired,
                ErrorKind::InvalidSignature => AuthError::Invalid("bad signature".into()),
                ErrorKind::InvalidAlgorithm => AuthError::Invalid("algorithm not accepted".into()),
                ErrorKind::InvalidIssuer => AuthError::Invalid("wrong issuer".into()),
                ErrorKind::InvalidAudience => AuthError::Invalid("wrong audience".into()),
                ErrorKind::ImmatureSignature => AuthError::Invalid("token not yet valid".into()),
                ErrorKind::MissingRequiredClaim(claim) => {
                    AuthError::Invalid(format!("missing claim `{claim}`"))
                }
                _ => AuthError::Invalid("not a valid JWT".into()),
            })?;
        let role = data.claims.role.parse::<Role>().map_err(AuthError::UnknownRole)?;
        Ok(Verified {
            viewer: Viewer::new(data.claims.sub, role, data.claims.regions),
            exp: data.claims.exp.unwrap_or(0.0).max(0.0) as u64,
        })
    }

    /// The viewer of an `Authorization` header value.
    pub fn verify_header(&self, header: Option<&str>) -> Result<Viewer, AuthError> {
        self.verify(bearer_token(header)?)
    }
}

/// The token of a `Bearer <JWT>` header value.
fn bearer_token(header: Option<&str>) -> Result<&str, AuthError> {
    let header = header.ok_or(AuthError::Missing)?;
    header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(AuthError::MalformedHeader)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    const PRIVATE_PEM: &[u8] = include_bytes!("../../tests/fixtures/jwt-test-rs256-private.pem");
    const PUBLIC_PEM: &[u8] = include_bytes!("../../tests/fixtures/jwt-test-rs256-public.pem");

    fn viewer() -> Viewer {
        Viewer::new("ana", Role::Manager, vec!["Europe".into()])
    }

    fn claims(role: &str, exp: u64) -> serde_json::Value {
        serde_json::json!({ "sub": "x", "role": role, "exp": exp })
    }

    fn sign(algorithm: Algorithm, key: &EncodingKey, claims: &serde_json::Value) -> String {
        encode(&Header::new(algorithm), claims, key).unwrap()
    }

    #[test]
    fn round_trip() {
        let keys = TokenKeys::hs256(b"secret");
        let token = keys.issue(&viewer(), Duration::from_secs(60)).unwrap();
        assert_eq!(keys.verify(&token), Ok(viewer()));
        assert_eq!(keys.verify_header(Some(&format!("Bearer {token}"))), Ok(viewer()));
    }

    #[test]
    fn a_token_verified_before_still_expires_and_its_forgeries_still_fail() {
        let keys = TokenKeys::hs256(b"secret");
        let token = keys.issue(&viewer(), Duration::from_secs(60)).unwrap();
        assert_eq!(keys.verify(&token), Ok(viewer()), "checked in full, then remembered");
        assert_eq!(
            keys.verify_at(&token, now() + 30).map(|(viewer, _)| viewer),
            Ok(viewer()),
            "remembered, within its life"
        );
        assert_eq!(keys.verify_at(&token, now() + 60 + LEEWAY_SECONDS + 1), Err(AuthError::Expired));
        // The same claims under another signature are other bytes: checked in full, refused.
        let (body, signature) = token.rsplit_once('.').unwrap();
        let forged = format!("{body}.{}", signature.chars().rev().collect::<String>());
        assert!(matches!(keys.verify(&forged), Err(AuthError::Invalid(_))));
        let other = TokenKeys::hs256(b"other");
        assert!(matches!(other.verify(&token), Err(AuthError::Invalid(_))), "each key set remembers its own");
    }

    #[test]
    fn not_before_case_and_spacing_of_roles_are_checked() {
        let keys = TokenKeys::hs256(b"secret");
        let key = EncodingKey::from_secret(b"secret");
        let later =
            serde_json::json!({ "sub": "x", "role": "admin", "exp": now() + 3600, "nbf": now() + 600 });
        assert_eq!(
            keys.verify(&sign(Algorithm::HS256, &key, &later)),
            Err(AuthError::Invalid("token not yet valid".into()))
        );
        for role in ["Admin", "admin ", "ADMIN"] {
            let token = sign(Algorithm::HS256, &key, &claims(role, now() + 60));
            assert!(matches!(keys.verify(&token), Err(AuthError::UnknownRole(_))), "{role:?} accepted");
        }
        let until = keys.verify_header_until(Some(&format!(
            "Bearer {}",
            keys.issue(&viewer(), Duration::from_secs(60)).unwrap()
        )));
        assert!(until.is_ok_and(|(_, until)| until >= now() + 60 && until <= now() + 60 + LEEWAY_SECONDS));
    }

    #[test]
    fn wrong_secret_expired_and_garbage_are_refused() {
        let token = TokenKeys::hs256(b"other").issue(&viewer(), Duration::from_secs(60)).unwrap();
        assert!(matches!(TokenKeys::hs256(b"secret").verify(&token), Err(AuthError::Invalid(_))));
        let keys = TokenKeys::hs256(b"secret");
        let expired =
            sign(Algorithm::HS256, &EncodingKey::from_secret(b"secret"), &claims("admin", now() - 3600));
        assert_eq!(keys.verify(&expired), Err(AuthError::Expired));
        let within_leeway =
            sign(Algorithm::HS256, &EncodingKey::from_secret(b"secret"), &claims("admin", now() - 5));
        assert!(keys.verify(&within_leeway).is_ok(), "a few seconds of clock skew are tolerated");
        let no_exp = sign(
            Algorithm::HS256,
            &EncodingKey::from_secret(b"secret"),
            &serde_json::json!({"sub": "x", "role": "admin"}),
        );
        assert!(matches!(keys.verify(&no_exp), Err(AuthError::Invalid(m)) if m.contains("exp")));
        assert!(keys.verify("abc.def.ghi").is_err());
        assert_eq!(keys.verify_header(None), Err(AuthError::Missing));
        assert_eq!(keys.verify_header(Some("Basic abc")), Err(AuthError::MalformedHeader));
    }

    #[test]
    fn unknown_role_is_refused() {
        let token = sign(Algorithm::HS256, &EncodingKey::from_secret(b"s"), &claims("janitor", now() + 60));
        assert!(matches!(TokenKeys::hs256(b"s").verify(&token), Err(AuthError::UnknownRole(_))));
    }

    #[test]
    fn rs256_tokens_verify_with_the_public_key() {
        let keys = TokenKeys::rs256(PUBLIC_PEM).unwrap();
        let private = EncodingKey::from_rsa_pem(PRIVATE_PEM).unwrap();
        let token = sign(Algorithm::RS256, &private, &claims("executive", now() + 60));
        assert_eq!(keys.verify(&token).map(|v| v.role), Ok(Role::Executive));
        assert!(keys.issue(&viewer(), Duration::from_secs(60)).is_err(), "no secret, no issuing");
    }

    #[test]
    fn attacks_are_refused() {
        let both = TokenKeys::hs256(b"secret").with_public_key(PUBLIC_PEM).unwrap();
        let rs_only = TokenKeys::rs256(PUBLIC_PEM).unwrap();
        // alg none: an unsigned token.
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(claims("admin", now() + 60).to_string());
        for keys in [&both, &rs_only] {
            assert!(keys.verify(&format!("{header}.{body}.")).is_err(), "alg none");
        }
        // Key confusion: the public key as an HMAC secret.
        let confused =
            sign(Algorithm::HS256, &EncodingKey::from_secret(PUBLIC_PEM), &claims("admin", now() + 60));
        assert!(rs_only.verify(&confused).is_err());
        assert!(both.verify(&confused).is_err());
        // A tampered claim: the analyst's token edited to say admin.
        let honest = TokenKeys::hs256(b"secret")
            .issue(&Viewer::new("eve", Role::Analyst, vec![]), Duration::from_secs(60))
            .unwrap();
        let parts: Vec<&str> = honest.split('.').collect();
        let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        let forged = URL_SAFE_NO_PAD.encode(payload.replace("analyst", "admin"));
        assert_eq!(
            both.verify(&format!("{}.{forged}.{}", parts[0], parts[2])),
            Err(AuthError::Invalid("bad signature".into()))
        );
    }

    #[test]
    fn issuer_and_audience_are_checked_when_configured() {
        let keys =
            TokenKeys::hs256(b"s").with_claims(Some("https://idp.example".into()), Some("salesgraph".into()));
        let token = keys.issue(&viewer(), Duration::from_secs(60)).unwrap();
        assert_eq!(keys.verify(&token), Ok(viewer()));
        let plain = TokenKeys::hs256(b"s").issue(&viewer(), Duration::from_secs(60)).unwrap();
        assert!(
            matches!(keys.verify(&plain), Err(AuthError::Invalid(m)) if m.contains("iss") || m.contains("aud"))
        );
        let other = TokenKeys::hs256(b"s")
            .with_claims(Some("https://evil.example".into()), Some("salesgraph".into()));
        let wrong = other.issue(&viewer(), Duration::from_secs(60)).unwrap();
        assert_eq!(keys.verify(&wrong), Err(AuthError::Invalid("wrong issuer".into())));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn keys() -> TokenKeys {
            TokenKeys::hs256(b"secret").with_public_key(PUBLIC_PEM).unwrap()
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

            #[test]
            fn arbitrary_text_never_verifies(text in any::<String>()) {
                prop_assert!(keys().verify(&text).is_err());
                let header = format!("Bearer {text}");
                prop_assert!(keys().verify_header(Some(&header)).is_err());
            }

            #[test]
            fn arbitrary_segments_never_verify(
                header in any::<Vec<u8>>(),
                body in any::<Vec<u8>>(),
                signature in any::<Vec<u8>>(),
            ) {
                let token = format!(
                    "{}.{}.{}",
                    URL_SAFE_NO_PAD.encode(header),
                    URL_SAFE_NO_PAD.encode(body),
                    URL_SAFE_NO_PAD.encode(signature)
                );
                prop_assert!(keys().verify(&token).is_err());
            }

            #[test]
            fn any_algorithm_with_a_forged_signature_is_refused(
                alg in prop::sample::select(vec!["none", "None", "HS256", "HS384", "HS512", "RS256", "ES256", "PS256", "EdDSA", ""]),
                role in prop::sample::select(vec!["admin", "executive", "manager", "analyst", "root", ""]),
                signature in any::<Vec<u8>>(),
            ) {
                let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#));
                let body = URL_SAFE_NO_PAD.encode(claims(role, now() + 60).to_string());
                let token = format!("{header}.{body}.{}", URL_SAFE_NO_PAD.encode(signature));
                prop_assert!(keys().verify(&token).is_err());
            }
        }
    }
}
