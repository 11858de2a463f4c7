//! Building signers and verifiers from the token configuration.

use secrecy::ExposeSecret;

use super::support::rsa_pair;
use super::token::teacher_subject;
use crate::auth::{AuthError, TokenConfig};

const SECRET: &str = "0123456789abcdef0123456789abcdef-test-only";

fn env(name: &str) -> Option<String> {
    (name == "SAM_JWT_SECRET_K1").then(|| SECRET.to_owned())
}

fn hs256_config() -> TokenConfig {
    toml::from_str(
        r#"
        audience = "sam-api"
        algorithm = "HS256"
        signing_kid = "k1"

        [[keys]]
        kid = "k1"
        secret_env = "SAM_JWT_SECRET_K1"
        "#,
    )
    .unwrap()
}

#[test]
fn hs256_config_builds_matching_pair() {
    let config = hs256_config();
    assert_eq!(config.issuer, "sam.v3.0");
    assert_eq!(config.ttl_secs, 3600);
    assert_eq!(config.leeway_secs, 60);

    let signer = config.build_signer_with(env).unwrap();
    let verifier = config.build_verifier_with(env).unwrap();
    let issued = signer.issue(&teacher_subject()).unwrap();
    assert!(verifier.verify(issued.token.expose_secret()).is_ok());
}

#[test]
fn rs256_config_reads_pem_files() {
    let pair = rsa_pair();
    let text = format!(
        r#"
        audience = "sam-api"
        algorithm = "RS256"
        signing_kid = "2026-12"

        [[keys]]
        kid = "2026-12"
        private_key_file = {private:?}
        public_key_file = {public:?}
        "#,
        private = pair.private_path.display().to_string(),
        public = pair.public_path.display().to_string(),
    );
    let config: TokenConfig = toml::from_str(&text).unwrap();
    let signer = config.build_signer_with(|_| None).unwrap();
    let verifier = config.build_verifier_with(|_| None).unwrap();
    let issued = signer.issue(&teacher_subject()).unwrap();
    assert!(verifier.verify(issued.token.expose_secret()).is_ok());
}

#[test]
fn missing_secret_variable_is_named() {
    let err = hs256_config()
        .build_verifier_with(|_| None)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("SAM_JWT_SECRET_K1"), "{err}");
    assert!(err.contains("not set"), "{err}");
}

#[test]
fn unknown_config_key_is_rejected() {
    let text = r#"
        audience = "sam-api"
        algorithm = "HS256"
        signing_kid = "k1"
        leway_secs = 30
        keys = []
    "#;
    let err = toml::from_str::<TokenConfig>(text).unwrap_err().to_string();
    assert!(err.contains("leway_secs"), "{err}");
}

#[test]
fn unsupported_algorithm_is_rejected() {
    let text = r#"
        audience = "sam-api"
        algorithm = "none"
        signing_kid = "k1"
        keys = []
    "#;
    assert!(toml::from_str::<TokenConfig>(text).is_err());
}

#[test]
fn signing_kid_must_be_configured() {
    let mut config = hs256_config();
    config.signing_kid = "k2".to_owned();
    let result = config.build_signer_with(env);
    assert!(
        matches!(result, Err(AuthError::InvalidKey { .. })),
        "{result:?}"
    );
}

#[test]
fn excessive_leeway_is_rejected() {
    let mut config = hs256_config();
    config.leeway_secs = 61;
    let result = config.build_verifier_with(env);
    assert!(
        matches!(result, Err(AuthError::InvalidInput { .. })),
        "{result:?}"
    );
}

#[test]
fn empty_key_list_is_rejected() {
    let mut config = hs256_config();
    config.keys.clear();
    let result = config.build_verifier_with(env);
    assert!(
        matches!(result, Err(AuthError::InvalidInput { .. })),
        "{result:?}"
    );
}

#[test]
fn rs256_key_without_file_is_rejected() {
    let mut config = hs256_config();
    config.algorithm = crate::auth::TokenAlgorithm::Rs256;
    let result = config.build_verifier_with(env);
    let err = result.err().unwrap().to_string();
    assert!(err.contains("public_key_file"), "{err}");
}
