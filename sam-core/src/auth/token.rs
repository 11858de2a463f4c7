//! Issuing and verifying signed bearer tokens.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use chrono::{DateTime, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use uuid::Uuid;

use super::keys::{
    hmac_decoding_key, hmac_encoding_key, pem_decoding_key, pem_encoding_key, read_key_file,
    validate_kid,
};
use super::principal::check_binding;
use super::{AuthError, Claims, TokenPermissions, TokenSettings, TokenSubject};

/// Maximum length of a presented token, in bytes. Longer input is rejected
/// before any decoding.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// A token just issued. The token text is shown to its holder once.
#[derive(Debug)]
pub struct IssuedToken {
    /// The signed token, to send as `Authorization: Bearer <token>`.
    pub token: SecretString,
    /// The claims inside it.
    pub claims: Claims,
}

/// Signs tokens with one key, named by its key id (`kid`).
pub struct TokenSigner {
    settings: TokenSettings,
    kid: String,
    key: EncodingKey,
}

impl fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSigner")
            .field("settings", &self.settings)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl TokenSigner {
    /// Builds an HS256 signer from a shared secret of at least
    /// [`MIN_HMAC_SECRET_LEN`](super::MIN_HMAC_SECRET_LEN) bytes.
    ///
    /// # Errors
    /// [`AuthError::InvalidInput`] for bad settings, [`AuthError::InvalidKey`]
    /// for a bad key id, a short secret or a non-HS256 algorithm.
    pub fn hmac(
        settings: TokenSettings,
        kid: impl Into<String>,
        secret: &SecretSlice<u8>,
    ) -> Result<Self, AuthError> {
        let kid = kid.into();
        settings.validate()?;
        validate_kid(&kid)?;
        let key = hmac_encoding_key(&kid, settings.algorithm, secret)?;
        Ok(Self { settings, kid, key })
    }

    /// Builds an RS256 or EdDSA signer from a PEM private key.
    ///
    /// # Errors
    /// As [`hmac`](Self::hmac), and [`AuthError::InvalidKey`] when the PEM
    /// text is not a private key of the configured algorithm.
    pub fn from_pem(
        settings: TokenSettings,
        kid: impl Into<String>,
        pem: &SecretSlice<u8>,
    ) -> Result<Self, AuthError> {
        let kid = kid.into();
        settings.validate()?;
        validate_kid(&kid)?;
        let key = pem_encoding_key(&kid, settings.algorithm, pem.expose_secret())?;
        Ok(Self { settings, kid, key })
    }

    /// Builds an RS256 or EdDSA signer from a PEM private key file.
    ///
    /// # Errors
    /// As [`from_pem`](Self::from_pem), and [`AuthError::KeyFile`] when the
    /// file cannot be read.
    pub fn from_pem_file(
        settings: TokenSettings,
        kid: impl Into<String>,
        path: &Path,
    ) -> Result<Self, AuthError> {
        let pem = read_key_file(path)?;
        Self::from_pem(settings, kid, &pem)
    }

    /// Returns the settings tokens are issued with.
    pub fn settings(&self) -> &TokenSettings {
        &self.settings
    }

    /// Issues a token for `subject`, valid from now for the configured TTL.
    ///
    /// # Errors
    /// See [`issue_at`](Self::issue_at).
    pub fn issue(&self, subject: &TokenSubject) -> Result<IssuedToken, AuthError> {
        self.issue_at(subject, Utc::now())
    }

    /// Issues a token for `subject` as if the time were `now`.
    ///
    /// # Errors
    /// [`AuthError::InvalidInput`] when the subject's hierarchy does not fit
    /// its role or `now` is before the Unix epoch, [`AuthError::Signing`]
    /// when signing fails.
    pub fn issue_at(
        &self,
        subject: &TokenSubject,
        now: DateTime<Utc>,
    ) -> Result<IssuedToken, AuthError> {
        let hierarchy = &subject.hierarchy;
        check_binding(
            hierarchy.level,
            hierarchy.partner_id.is_some(),
            hierarchy.client_id.is_some(),
        )?;
        let iat = u64::try_from(now.timestamp())
            .map_err(|_| AuthError::invalid_input("now", "it is before 1970"))?;
        let claims = Claims {
            sub: subject.user_id.clone(),
            email: subject.email.clone(),
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone(),
            exp: iat.saturating_add(self.settings.ttl.as_secs()),
            iat,
            nbf: iat,
            jti: Uuid::new_v4().to_string(),
            tenant_hierarchy: hierarchy.clone(),
            permissions: TokenPermissions::for_role(hierarchy.level),
            rate_limit: subject.rate_limit,
        };
        let mut header = Header::new(self.settings.algorithm.jwt());
        header.kid = Some(self.kid.clone());
        let token =
            jsonwebtoken::encode(&header, &claims, &self.key).map_err(AuthError::Signing)?;
        Ok(IssuedToken {
            token: SecretString::from(token),
            claims,
        })
    }
}

/// Verifies tokens against a fixed set of keys selected by `kid`.
///
/// Several keys allow rotation: sign with the new key while the old one
/// still verifies tokens issued before the switch. Every key uses the one
/// configured algorithm.
pub struct TokenVerifier {
    settings: TokenSettings,
    keys: HashMap<String, DecodingKey>,
    validation: Validation,
}

impl fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut kids: Vec<&String> = self.keys.keys().collect();
        kids.sort();
        f.debug_struct("TokenVerifier")
            .field("settings", &self.settings)
            .field("kids", &kids)
            .finish_non_exhaustive()
    }
}

impl TokenVerifier {
    /// Builds a verifier with no keys yet.
    ///
    /// # Errors
    /// [`AuthError::InvalidInput`] for bad settings.
    pub fn new(settings: TokenSettings) -> Result<Self, AuthError> {
        settings.validate()?;
        let mut validation = Validation::new(settings.algorithm.jwt());
        validation.leeway = settings.leeway_secs;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        Ok(Self {
            settings,
            keys: HashMap::new(),
            validation,
        })
    }

    /// Adds an HS256 secret under `kid`.
    ///
    /// # Errors
    /// [`AuthError::InvalidKey`] for a bad or duplicate key id, a short
    /// secret or a non-HS256 algorithm.
    pub fn add_hmac_secret(
        &mut self,
        kid: &str,
        secret: &SecretSlice<u8>,
    ) -> Result<(), AuthError> {
        let key = hmac_decoding_key(kid, self.settings.algorithm, secret)?;
        self.insert(kid, key)
    }

    /// Adds a PEM public key under `kid`.
    ///
    /// # Errors
    /// [`AuthError::InvalidKey`] for a bad or duplicate key id, or PEM text
    /// that is not a public key of the configured algorithm.
    pub fn add_public_pem(&mut self, kid: &str, pem: &[u8]) -> Result<(), AuthError> {
        let key = pem_decoding_key(kid, self.settings.algorithm, pem)?;
        self.insert(kid, key)
    }

    /// Adds a PEM public key file under `kid`.
    ///
    /// # Errors
    /// As [`add_public_pem`](Self::add_public_pem), and
    /// [`AuthError::KeyFile`] when the file cannot be read.
    pub fn add_public_pem_file(&mut self, kid: &str, path: &Path) -> Result<(), AuthError> {
        let pem = read_key_file(path)?;
        self.add_public_pem(kid, pem.expose_secret())
    }

    fn insert(&mut self, kid: &str, key: DecodingKey) -> Result<(), AuthError> {
        validate_kid(kid)?;
        if self.keys.contains_key(kid) {
            return Err(AuthError::InvalidKey {
                kid: kid.to_owned(),
                reason: "the key id is configured twice".to_owned(),
            });
        }
        self.keys.insert(kid.to_owned(), key);
        Ok(())
    }

    /// Returns the settings tokens are checked against.
    pub fn settings(&self) -> &TokenSettings {
        &self.settings
    }

    /// Verifies a token's signature and claims and returns the claims.
    ///
    /// The header must name the configured algorithm and a configured `kid`.
    /// The claims need `exp`, `nbf`, `iss`, `aud` and `sub`, the configured
    /// issuer and audience, `exp` and `nbf` met within the leeway, `iat` not
    /// in the future beyond the leeway, and a hierarchy that fits the role.
    /// The header fields `jku`, `jwk`, `x5u` and `x5c` are never read.
    ///
    /// # Errors
    /// [`AuthError::InvalidToken`] for every failure. The reason is logged
    /// at debug level; the token is not.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        self.check(token).map_err(|reason| {
            tracing::debug!(reason, "bearer token rejected");
            AuthError::InvalidToken
        })
    }

    fn check(&self, token: &str) -> Result<Claims, &'static str> {
        if token.len() > MAX_TOKEN_LEN {
            return Err("token too long");
        }
        let header = jsonwebtoken::decode_header(token).map_err(|err| describe(err.kind()))?;
        if header.alg != self.settings.algorithm.jwt() {
            return Err("algorithm not the configured one");
        }
        let kid = header.kid.ok_or("missing kid")?;
        let key = self.keys.get(&kid).ok_or("unknown kid")?;
        let data = jsonwebtoken::decode::<Claims>(token, key, &self.validation)
            .map_err(|err| describe(err.kind()))?;
        let claims = data.claims;

        let now = u64::try_from(Utc::now().timestamp()).unwrap_or(0);
        if claims.iat > now.saturating_add(self.settings.leeway_secs) {
            return Err("iat in the future");
        }
        let hierarchy = &claims.tenant_hierarchy;
        check_binding(
            hierarchy.level,
            hierarchy.partner_id.is_some(),
            hierarchy.client_id.is_some(),
        )
        .map_err(|_| "tenant hierarchy does not fit the role")?;
        Ok(claims)
    }
}

/// Names a verification failure for the debug log. Decoding errors are not
/// shown in full because serde messages can quote claim values.
fn describe(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidSignature => "bad signature",
        ErrorKind::ExpiredSignature => "expired",
        ErrorKind::ImmatureSignature => "nbf in the future",
        ErrorKind::InvalidIssuer => "wrong issuer",
        ErrorKind::InvalidAudience => "wrong audience",
        ErrorKind::InvalidSubject => "wrong subject",
        ErrorKind::MissingRequiredClaim(_) => "missing or malformed registered claim",
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            "algorithm not the configured one"
        }
        ErrorKind::Json(_) => "malformed JSON or claims",
        ErrorKind::Base64(_) | ErrorKind::Utf8(_) | ErrorKind::InvalidToken => "malformed token",
        _ => "verification failed",
    }
}
