//! The typed token configuration: settings, key files and secret variables.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretSlice;
use serde::{Deserialize, Serialize};

use super::{
    AuthError, TokenAlgorithm, TokenSettings, TokenSigner, TokenVerifier, DEFAULT_ISSUER,
    MAX_LEEWAY_SECS,
};

/// Token settings and keys as written in the configuration file.
///
/// Secrets never appear in the file: an HS256 secret is read from the
/// environment variable that `secret_env` names, and PEM keys from files.
///
/// ```toml
/// audience = "sam-api"
/// algorithm = "RS256"
/// signing_kid = "2026-12"
///
/// [[keys]]
/// kid = "2026-12"
/// private_key_file = "/etc/sam/jwt-2026-12.key"
/// public_key_file = "/etc/sam/jwt-2026-12.pub"
///
/// [[keys]]
/// kid = "2026-06"
/// public_key_file = "/etc/sam/jwt-2026-06.pub"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// The `iss` of issued tokens; `sam.v3.0` when not given.
    #[serde(default = "default_issuer")]
    pub issuer: String,
    /// The `aud` of issued tokens.
    pub audience: String,
    /// The only accepted algorithm: `HS256`, `RS256` or `EdDSA`.
    pub algorithm: TokenAlgorithm,
    /// Token lifetime in seconds; 3600 when not given.
    #[serde(default = "default_ttl_secs")]
    pub ttl_secs: u64,
    /// Tolerated clock skew in seconds, at most 60; 60 when not given.
    #[serde(default = "default_leeway_secs")]
    pub leeway_secs: u64,
    /// The key id new tokens are signed with. Its key needs a secret or a
    /// private key file.
    pub signing_kid: String,
    /// Every key that verifies tokens, the signing key included.
    pub keys: Vec<KeyConfig>,
}

/// One verification key, and for the signing key also its private half.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    /// The key id written to and matched against the token header's `kid`.
    pub kid: String,
    /// HS256 only: the environment variable whose value (its UTF-8 bytes,
    /// at least 32) is the shared secret.
    #[serde(default)]
    pub secret_env: Option<String>,
    /// RS256 and EdDSA: the PEM public key file.
    #[serde(default)]
    pub public_key_file: Option<PathBuf>,
    /// RS256 and EdDSA: the PEM private key file; needed only for the
    /// signing key.
    #[serde(default)]
    pub private_key_file: Option<PathBuf>,
}

fn default_issuer() -> String {
    DEFAULT_ISSUER.to_owned()
}

fn default_ttl_secs() -> u64 {
    3600
}

fn default_leeway_secs() -> u64 {
    MAX_LEEWAY_SECS
}

impl TokenConfig {
    /// Returns the settings this configuration describes.
    pub fn settings(&self) -> TokenSettings {
        TokenSettings {
            issuer: self.issuer.clone(),
            audience: self.audience.clone(),
            algorithm: self.algorithm,
            ttl: Duration::from_secs(self.ttl_secs),
            leeway_secs: self.leeway_secs,
        }
    }

    /// Builds the verifier with every configured key, reading secrets from
    /// the process environment.
    ///
    /// # Errors
    /// See [`build_verifier_with`](Self::build_verifier_with).
    pub fn build_verifier(&self) -> Result<TokenVerifier, AuthError> {
        self.build_verifier_with(|name| std::env::var(name).ok())
    }

    /// Builds the verifier, reading secrets through `env`.
    ///
    /// # Errors
    /// [`AuthError::InvalidInput`] for bad settings or an empty key list,
    /// [`AuthError::InvalidKey`] for a key that lacks its material, names a
    /// missing variable or does not parse, and [`AuthError::KeyFile`] for an
    /// unreadable file.
    pub fn build_verifier_with(
        &self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<TokenVerifier, AuthError> {
        if self.keys.is_empty() {
            return Err(AuthError::invalid_input(
                "keys",
                "configure at least one key with its kid",
            ));
        }
        let mut verifier = TokenVerifier::new(self.settings())?;
        for key in &self.keys {
            if self.algorithm == TokenAlgorithm::Hs256 {
                verifier.add_hmac_secret(&key.kid, &read_secret(key, &env)?)?;
            } else {
                let path = key
                    .public_key_file
                    .as_ref()
                    .ok_or_else(|| missing(&key.kid, "public_key_file", self.algorithm))?;
                verifier.add_public_pem_file(&key.kid, path)?;
            }
        }
        Ok(verifier)
    }

    /// Builds the signer for `signing_kid`, reading secrets from the process
    /// environment.
    ///
    /// # Errors
    /// See [`build_signer_with`](Self::build_signer_with).
    pub fn build_signer(&self) -> Result<TokenSigner, AuthError> {
        self.build_signer_with(|name| std::env::var(name).ok())
    }

    /// Builds the signer for `signing_kid`, reading secrets through `env`.
    ///
    /// # Errors
    /// [`AuthError::InvalidInput`] for bad settings, [`AuthError::InvalidKey`]
    /// when `signing_kid` is not among the keys or its key lacks a secret or
    /// private key file or does not parse, and [`AuthError::KeyFile`] for an
    /// unreadable file.
    pub fn build_signer_with(
        &self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<TokenSigner, AuthError> {
        let key = self
            .keys
            .iter()
            .find(|key| key.kid == self.signing_kid)
            .ok_or_else(|| AuthError::InvalidKey {
                kid: self.signing_kid.clone(),
                reason: "signing_kid names no entry of keys".to_owned(),
            })?;
        if self.algorithm == TokenAlgorithm::Hs256 {
            return TokenSigner::hmac(self.settings(), &key.kid, &read_secret(key, &env)?);
        }
        let path = key
            .private_key_file
            .as_ref()
            .ok_or_else(|| missing(&key.kid, "private_key_file", self.algorithm))?;
        TokenSigner::from_pem_file(self.settings(), &key.kid, path)
    }
}

fn missing(kid: &str, field: &str, algorithm: TokenAlgorithm) -> AuthError {
    AuthError::InvalidKey {
        kid: kid.to_owned(),
        reason: format!("{algorithm:?} needs {field} on this key"),
    }
}

fn read_secret(
    key: &KeyConfig,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<SecretSlice<u8>, AuthError> {
    let name = key
        .secret_env
        .as_deref()
        .ok_or_else(|| missing(&key.kid, "secret_env", TokenAlgorithm::Hs256))?;
    let value = env(name).ok_or_else(|| AuthError::InvalidKey {
        kid: key.kid.clone(),
        reason: format!("environment variable {name} is not set"),
    })?;
    Ok(SecretSlice::from(value.into_bytes()))
}
