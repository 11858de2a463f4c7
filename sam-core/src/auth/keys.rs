//! Token settings and the loading of signing and verification keys.

use std::path::Path;
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use secrecy::{ExposeSecret, SecretSlice};
use serde::{Deserialize, Serialize};

use super::{AuthError, DEFAULT_ISSUER};

/// Maximum clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
pub const MAX_LEEWAY_SECS: u64 = 60;

/// Maximum token lifetime. Store checks on every request make a token
/// lose its power as soon as the user or partner changes, but a stolen
/// token stays usable until it expires.
pub const MAX_TOKEN_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// Minimum length of an HS256 secret, in bytes (the SHA-256 output size,
/// as RFC 7518 section 3.2 requires).
pub const MIN_HMAC_SECRET_LEN: usize = 32;

/// Maximum length of a key id, in bytes.
pub const MAX_KID_LEN: usize = 64;

/// The signature algorithm of SAM tokens. One is configured; tokens naming
/// any other algorithm are rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenAlgorithm {
    /// HMAC with SHA-256 and a shared secret.
    #[serde(rename = "HS256")]
    Hs256,
    /// RSA PKCS#1 v1.5 with SHA-256, keys in PEM files.
    #[serde(rename = "RS256")]
    Rs256,
    /// Ed25519, keys in PEM files.
    #[serde(rename = "EdDSA")]
    EdDsa,
}

impl TokenAlgorithm {
    pub(crate) fn jwt(self) -> Algorithm {
        match self {
            Self::Hs256 => Algorithm::HS256,
            Self::Rs256 => Algorithm::RS256,
            Self::EdDsa => Algorithm::EdDSA,
        }
    }
}

/// Settings for issuing tokens and the requirements for verifying them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSettings {
    /// The `iss` written and required.
    pub issuer: String,
    /// The `aud` written and required.
    pub audience: String,
    /// The only accepted signature algorithm.
    pub algorithm: TokenAlgorithm,
    /// Lifetime of an issued token, at most [`MAX_TOKEN_TTL`].
    pub ttl: Duration,
    /// Tolerated clock skew in seconds, at most [`MAX_LEEWAY_SECS`].
    pub leeway_secs: u64,
}

impl TokenSettings {
    /// Builds settings with the default issuer, a one-hour lifetime and the
    /// maximum leeway.
    pub fn new(audience: impl Into<String>, algorithm: TokenAlgorithm) -> Self {
        Self {
            issuer: DEFAULT_ISSUER.to_owned(),
            audience: audience.into(),
            algorithm,
            ttl: Duration::from_secs(60 * 60),
            leeway_secs: MAX_LEEWAY_SECS,
        }
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`AuthError::InvalidInput`] naming the setting out of range.
    pub fn validate(&self) -> Result<(), AuthError> {
        if self.issuer.trim().is_empty() {
            return Err(AuthError::invalid_input("issuer", "it is empty"));
        }
        if self.audience.trim().is_empty() {
            return Err(AuthError::invalid_input("audience", "it is empty"));
        }
        if self.ttl.is_zero() || self.ttl > MAX_TOKEN_TTL {
            return Err(AuthError::invalid_input(
                "ttl",
                format!(
                    "{} s is out of range; use 1 to {} seconds",
                    self.ttl.as_secs(),
                    MAX_TOKEN_TTL.as_secs()
                ),
            ));
        }
        if self.leeway_secs > MAX_LEEWAY_SECS {
            return Err(AuthError::invalid_input(
                "leeway_secs",
                format!(
                    "{} is above the maximum of {MAX_LEEWAY_SECS} seconds",
                    self.leeway_secs
                ),
            ));
        }
        Ok(())
    }
}

/// Checks a configured key id: 1 to [`MAX_KID_LEN`] ASCII letters, digits,
/// `.`, `_` or `-`. A key id is only ever a map key, never a path, but a
/// plain id keeps logs and configuration unambiguous.
pub(crate) fn validate_kid(kid: &str) -> Result<(), AuthError> {
    let valid = !kid.is_empty()
        && kid.len() <= MAX_KID_LEN
        && kid
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && !kid.contains("..");
    if valid {
        Ok(())
    } else {
        Err(AuthError::InvalidKey {
            kid: kid.chars().take(80).collect(),
            reason: format!(
                "a key id is 1 to {MAX_KID_LEN} ASCII letters, digits, '.', '_' or '-', \
                 without '..'"
            ),
        })
    }
}

fn invalid_key(kid: &str, reason: impl Into<String>) -> AuthError {
    AuthError::InvalidKey {
        kid: kid.to_owned(),
        reason: reason.into(),
    }
}

fn check_hmac_secret(
    kid: &str,
    algorithm: TokenAlgorithm,
    secret: &SecretSlice<u8>,
) -> Result<(), AuthError> {
    if algorithm != TokenAlgorithm::Hs256 {
        return Err(invalid_key(
            kid,
            format!("an HMAC secret cannot be used with {algorithm:?}; give a PEM key file"),
        ));
    }
    let len = secret.expose_secret().len();
    if len < MIN_HMAC_SECRET_LEN {
        return Err(invalid_key(
            kid,
            format!(
                "the HMAC secret is {len} bytes; use at least {MIN_HMAC_SECRET_LEN} random bytes"
            ),
        ));
    }
    Ok(())
}

/// Builds the signing key for an HS256 secret.
pub(crate) fn hmac_encoding_key(
    kid: &str,
    algorithm: TokenAlgorithm,
    secret: &SecretSlice<u8>,
) -> Result<EncodingKey, AuthError> {
    check_hmac_secret(kid, algorithm, secret)?;
    Ok(EncodingKey::from_secret(secret.expose_secret()))
}

/// Builds the verification key for an HS256 secret.
pub(crate) fn hmac_decoding_key(
    kid: &str,
    algorithm: TokenAlgorithm,
    secret: &SecretSlice<u8>,
) -> Result<DecodingKey, AuthError> {
    check_hmac_secret(kid, algorithm, secret)?;
    Ok(DecodingKey::from_secret(secret.expose_secret()))
}

/// Builds the signing key from a PEM private key: PKCS#1 or PKCS#8 RSA for
/// RS256, PKCS#8 Ed25519 for EdDSA.
pub(crate) fn pem_encoding_key(
    kid: &str,
    algorithm: TokenAlgorithm,
    pem: &[u8],
) -> Result<EncodingKey, AuthError> {
    let parsed = match algorithm {
        TokenAlgorithm::Hs256 => {
            return Err(invalid_key(
                kid,
                "HS256 takes an HMAC secret, not a PEM key",
            ))
        }
        TokenAlgorithm::Rs256 => EncodingKey::from_rsa_pem(pem),
        TokenAlgorithm::EdDsa => EncodingKey::from_ed_pem(pem),
    };
    parsed.map_err(|err| {
        invalid_key(
            kid,
            format!("not a PEM {algorithm:?} private key ({:?})", err.kind()),
        )
    })
}

/// Builds the verification key from a PEM public key (SubjectPublicKeyInfo,
/// or PKCS#1 for RSA).
pub(crate) fn pem_decoding_key(
    kid: &str,
    algorithm: TokenAlgorithm,
    pem: &[u8],
) -> Result<DecodingKey, AuthError> {
    let parsed = match algorithm {
        TokenAlgorithm::Hs256 => {
            return Err(invalid_key(
                kid,
                "HS256 takes an HMAC secret, not a PEM key",
            ))
        }
        TokenAlgorithm::Rs256 => DecodingKey::from_rsa_pem(pem),
        TokenAlgorithm::EdDsa => DecodingKey::from_ed_pem(pem),
    };
    parsed.map_err(|err| {
        invalid_key(
            kid,
            format!("not a PEM {algorithm:?} public key ({:?})", err.kind()),
        )
    })
}

/// Reads a key file. The contents stay out of every error.
pub(crate) fn read_key_file(path: &Path) -> Result<SecretSlice<u8>, AuthError> {
    std::fs::read(path)
        .map(SecretSlice::from)
        .map_err(|source| AuthError::KeyFile {
            path: path.display().to_string(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kid_accepts_plain_ids_only() {
        for kid in ["2026-12", "main.v2", "k_1"] {
            assert!(validate_kid(kid).is_ok(), "{kid}");
        }
        let long = "k".repeat(MAX_KID_LEN + 1);
        for kid in ["", "../keys", "a/b", "a\"b", "a b", "..", long.as_str()] {
            assert!(validate_kid(kid).is_err(), "{kid:?}");
        }
    }

    #[test]
    fn settings_cap_leeway_and_ttl() {
        let mut settings = TokenSettings::new("sam-api", TokenAlgorithm::Hs256);
        assert!(settings.validate().is_ok());
        settings.leeway_secs = MAX_LEEWAY_SECS + 1;
        assert!(settings.validate().is_err());
        settings.leeway_secs = 0;
        settings.ttl = MAX_TOKEN_TTL + Duration::from_secs(1);
        assert!(settings.validate().is_err());
        settings.ttl = Duration::ZERO;
        assert!(settings.validate().is_err());
    }

    #[test]
    fn short_hmac_secret_is_rejected_without_echo() {
        let secret = SecretSlice::from(b"short-secret-value".to_vec());
        let err = hmac_encoding_key("k1", TokenAlgorithm::Hs256, &secret)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("18 bytes"), "{err}");
        assert!(!err.contains("short-secret-value"), "{err}");
    }

    #[test]
    fn hmac_secret_is_rejected_for_rs256() {
        let secret = SecretSlice::from(vec![7_u8; 32]);
        assert!(hmac_decoding_key("k1", TokenAlgorithm::Rs256, &secret).is_err());
    }
}
