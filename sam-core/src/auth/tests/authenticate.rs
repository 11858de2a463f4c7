//! Store checks that take a valid token's power away.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use secrecy::ExposeSecret;

use super::support::{directory, hmac_secret, settings, slug, standing};
use super::token::teacher_subject;
use crate::auth::{
    authenticate_token, create_api_key, AuthError, Authenticator, InMemoryApiKeyStore, NewApiKey,
    PartnerStanding, Permission, Principal, PrincipalDirectory, TokenAlgorithm, TokenSigner,
    TokenSubject, TokenVerifier, UserStanding,
};
use crate::tenancy::{PartnerSlug, Role, SubscriptionStatus, TenancyError};

fn signer_and_verifier() -> (TokenSigner, TokenVerifier) {
    let secret = hmac_secret();
    let signer = TokenSigner::hmac(settings(TokenAlgorithm::Hs256), "k1", &secret).unwrap();
    let mut verifier = TokenVerifier::new(settings(TokenAlgorithm::Hs256)).unwrap();
    verifier.add_hmac_secret("k1", &secret).unwrap();
    (signer, verifier)
}

fn teacher_token(signer: &TokenSigner) -> String {
    let issued = signer.issue(&teacher_subject()).unwrap();
    issued.token.expose_secret().to_owned()
}

#[tokio::test]
async fn valid_token_yields_principal() {
    let (signer, verifier) = signer_and_verifier();
    let directory = directory();
    let principal = authenticate_token(&verifier, &directory, &teacher_token(&signer))
        .await
        .unwrap();
    assert_eq!(principal.user_id(), Some("t1"));
    assert_eq!(principal.role(), Some(Role::Teacher));
    assert_eq!(principal.partner(), Some(&slug("aptus")));
    assert_eq!(principal.client(), Some("c1"));
}

#[tokio::test]
async fn super_admin_token_skips_partner_check() {
    let (signer, verifier) = signer_and_verifier();
    let issued = signer
        .issue(&TokenSubject::super_admin("root", None))
        .unwrap();
    let principal = authenticate_token(&verifier, &directory(), issued.token.expose_secret())
        .await
        .unwrap();
    assert_eq!(principal.role(), Some(Role::SuperAdmin));
    assert_eq!(principal.partner(), None);
}

#[tokio::test]
async fn suspended_partner_invalidates_token() {
    let (signer, verifier) = signer_and_verifier();
    let token = teacher_token(&signer);
    for status in [SubscriptionStatus::Suspended, SubscriptionStatus::Cancelled] {
        let directory = directory();
        directory.set_partner(
            slug("aptus"),
            PartnerStanding {
                status,
                provisioned: true,
            },
        );
        let result = authenticate_token(&verifier, &directory, &token).await;
        assert!(matches!(result, Err(AuthError::InvalidToken)), "{status}");
    }
    let directory = directory();
    directory.set_partner(
        slug("aptus"),
        PartnerStanding {
            status: SubscriptionStatus::Active,
            provisioned: false,
        },
    );
    let result = authenticate_token(&verifier, &directory, &token).await;
    assert!(matches!(result, Err(AuthError::InvalidToken)));
}

#[tokio::test]
async fn deleted_user_invalidates_token() {
    let (signer, verifier) = signer_and_verifier();
    let token = teacher_token(&signer);
    let directory = directory();
    directory.remove_user(Some(slug("aptus")), "t1");
    let result = authenticate_token(&verifier, &directory, &token).await;
    assert!(matches!(result, Err(AuthError::InvalidToken)));
}

#[tokio::test]
async fn deactivated_user_invalidates_token() {
    let (signer, verifier) = signer_and_verifier();
    let token = teacher_token(&signer);
    let directory = directory();
    let mut inactive = standing(Role::Teacher, Some("c1"));
    inactive.active = false;
    directory.set_user(Some(slug("aptus")), "t1", inactive);
    let result = authenticate_token(&verifier, &directory, &token).await;
    assert!(matches!(result, Err(AuthError::InvalidToken)));
}

#[tokio::test]
async fn changed_role_invalidates_token() {
    let (signer, verifier) = signer_and_verifier();
    let token = teacher_token(&signer);
    let directory = directory();
    directory.set_user(
        Some(slug("aptus")),
        "t1",
        standing(Role::Student, Some("c1")),
    );
    let result = authenticate_token(&verifier, &directory, &token).await;
    assert!(matches!(result, Err(AuthError::InvalidToken)));
}

#[tokio::test]
async fn moved_client_invalidates_token() {
    let (signer, verifier) = signer_and_verifier();
    let token = teacher_token(&signer);
    let directory = directory();
    directory.set_user(
        Some(slug("aptus")),
        "t1",
        standing(Role::Teacher, Some("c2")),
    );
    let result = authenticate_token(&verifier, &directory, &token).await;
    assert!(matches!(result, Err(AuthError::InvalidToken)));
}

#[tokio::test]
async fn user_of_other_partner_is_rejected() {
    let (signer, verifier) = signer_and_verifier();
    let token = teacher_token(&signer);
    let directory = directory();
    directory.remove_user(Some(slug("aptus")), "t1");
    directory.set_user(
        Some(slug("bravo")),
        "t1",
        standing(Role::Teacher, Some("c1")),
    );
    let result = authenticate_token(&verifier, &directory, &token).await;
    assert!(matches!(result, Err(AuthError::InvalidToken)));
}

/// A directory whose every lookup fails, as a database outage would.
struct FailingDirectory;

#[async_trait]
impl PrincipalDirectory for FailingDirectory {
    async fn partner_standing(
        &self,
        _partner: &PartnerSlug,
    ) -> Result<Option<PartnerStanding>, AuthError> {
        Err(TenancyError::Corrupt {
            column: "subscription_status",
            reason: "test outage".to_owned(),
        }
        .into())
    }

    async fn user_standing(
        &self,
        _partner: Option<&PartnerSlug>,
        _user_id: &str,
    ) -> Result<Option<UserStanding>, AuthError> {
        Err(TenancyError::Corrupt {
            column: "role",
            reason: "test outage".to_owned(),
        }
        .into())
    }
}

#[tokio::test]
async fn store_failure_is_not_a_credential_failure() {
    let (signer, verifier) = signer_and_verifier();
    let result = authenticate_token(&verifier, &FailingDirectory, &teacher_token(&signer)).await;
    assert!(matches!(result, Err(AuthError::Store(_))), "{result:?}");
}

#[tokio::test]
async fn bad_token_fails_before_store() {
    let (_, verifier) = signer_and_verifier();
    let result = authenticate_token(&verifier, &FailingDirectory, "garbage").await;
    assert!(matches!(result, Err(AuthError::InvalidToken)));
}

#[tokio::test]
async fn authenticator_accepts_token_and_api_key() {
    let (signer, verifier) = signer_and_verifier();
    let keys = Arc::new(InMemoryApiKeyStore::new());
    let new_key = NewApiKey {
        partner: slug("aptus"),
        client_id: None,
        name: "reporting".to_owned(),
        scopes: vec![Permission::ViewBilling],
        expires_at: None,
    };
    let generated = create_api_key(keys.as_ref(), &new_key, Utc::now())
        .await
        .unwrap();
    let authenticator = Authenticator::new(verifier, Arc::new(directory()), keys);

    let header = format!("Bearer {}", teacher_token(&signer));
    let principal = authenticator.authenticate(Some(&header)).await.unwrap();
    assert_eq!(principal.user_id(), Some("t1"));

    let header = format!("Bearer {}", generated.key.expose_secret());
    let principal = authenticator.authenticate(Some(&header)).await.unwrap();
    assert!(matches!(principal, Principal::ApiKey(_)));

    let result = authenticator.authenticate(None).await;
    assert!(matches!(result, Err(AuthError::Unauthenticated)));
    let result = authenticator.authenticate(Some("Bearer garbage")).await;
    assert!(matches!(result, Err(AuthError::InvalidToken)));
    let result = authenticator.authenticate(Some("Bearer sam_garbage")).await;
    assert!(matches!(result, Err(AuthError::InvalidApiKey)));
}
