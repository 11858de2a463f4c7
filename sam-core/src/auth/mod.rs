//! Authentication (signed bearer tokens and API keys) and role-based access
//! control over the tenant hierarchy.

// Test code may unwrap; the library build still denies it.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod action;
mod api_key;
mod api_key_store;
mod authenticate;
mod authorize;
mod claims;
mod config;
mod directory;
mod error;
mod keys;
mod permission;
mod principal;
mod token;

pub use action::{Action, Target};
pub use api_key::{
    authenticate_api_key, create_api_key, generate_api_key, hash_secret, hashes_match,
    parse_api_key, GeneratedApiKey, NewApiKey, API_KEY_PREFIX, KEY_PREFIX_LEN, KEY_SECRET_BYTES,
    LAST_USED_RESOLUTION,
};
pub use api_key_store::{ApiKeyRecord, ApiKeyStore, InMemoryApiKeyStore};
pub use authenticate::{authenticate_token, Authenticator, Credential};
pub use authorize::authorize;
pub use claims::{
    Claims, RateLimit, TenantHierarchy, TokenPermissions, TokenSubject, DEFAULT_ISSUER,
};
pub use config::{KeyConfig, TokenConfig};
pub use directory::{InMemoryDirectory, PartnerStanding, PrincipalDirectory, UserStanding};
pub use error::AuthError;
pub use keys::{
    TokenAlgorithm, TokenSettings, MAX_KID_LEN, MAX_LEEWAY_SECS, MAX_TOKEN_TTL, MIN_HMAC_SECRET_LEN,
};
pub use permission::{role_permissions, Permission};
pub use principal::{ApiKeyPrincipal, Principal, UserPrincipal};
pub use token::{IssuedToken, TokenSigner, TokenVerifier, MAX_TOKEN_LEN};

#[cfg(test)]
mod tests;
