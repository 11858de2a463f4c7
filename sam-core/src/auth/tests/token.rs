//! Issuing and verifying bearer tokens, including hostile tokens.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{Duration, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretSlice};
use serde_json::{json, Value};

use super::support::{
    ed25519_pair, hmac_secret, other_rsa_pair, rsa_pair, settings, slug, AUDIENCE,
};
use crate::auth::{
    AuthError, RateLimit, TenantHierarchy, TokenAlgorithm, TokenSigner, TokenSubject,
    TokenVerifier, DEFAULT_ISSUER, MAX_TOKEN_LEN,
};
use crate::tenancy::{InstitutionType, Role, Tier};

pub(crate) fn teacher_subject() -> TokenSubject {
    TokenSubject {
        user_id: "t1".to_owned(),
        email: Some("t1@colegio.cl".to_owned()),
        hierarchy: TenantHierarchy {
            level: Role::Teacher,
            partner_id: Some(slug("aptus")),
            partner_name: Some("Aptus Education".to_owned()),
            client_id: Some("c1".to_owned()),
            client_name: Some("Colegio San Jose".to_owned()),
            institution_type: Some(InstitutionType::K12),
        },
        rate_limit: Some(RateLimit {
            tier: Tier::Premium,
            requests_per_day: 10_000,
        }),
    }
}

struct HmacSetup {
    secret: SecretSlice<u8>,
    signer: TokenSigner,
    verifier: TokenVerifier,
}

fn hmac_setup() -> HmacSetup {
    let secret = hmac_secret();
    let signer = TokenSigner::hmac(settings(TokenAlgorithm::Hs256), "k1", &secret).unwrap();
    let mut verifier = TokenVerifier::new(settings(TokenAlgorithm::Hs256)).unwrap();
    verifier.add_hmac_secret("k1", &secret).unwrap();
    HmacSetup {
        secret,
        signer,
        verifier,
    }
}

fn rsa_verifier() -> TokenVerifier {
    let mut verifier = TokenVerifier::new(settings(TokenAlgorithm::Rs256)).unwrap();
    verifier
        .add_public_pem_file("rs1", &rsa_pair().public_path)
        .unwrap();
    verifier
}

fn now_secs() -> i64 {
    Utc::now().timestamp()
}

/// Valid claims for teacher `t1`, to be altered by each test.
fn claims_json() -> Value {
    let now = now_secs();
    json!({
        "sub": "t1",
        "iss": DEFAULT_ISSUER,
        "aud": AUDIENCE,
        "exp": now + 600,
        "iat": now,
        "nbf": now,
        "jti": "00000000-0000-4000-8000-000000000000",
        "tenant_hierarchy": {
            "level": "teacher",
            "partner_id": "aptus",
            "client_id": "c1",
        },
        "permissions": { "evaluate": true, "view_analytics": false, "manage_users": false },
    })
}

fn sign_json(claims: &Value, algorithm: Algorithm, kid: Option<&str>, key: &EncodingKey) -> String {
    let mut header = Header::new(algorithm);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

fn sign_hmac(claims: &Value, kid: &str, secret: &SecretSlice<u8>) -> String {
    let key = EncodingKey::from_secret(secret.expose_secret());
    sign_json(claims, Algorithm::HS256, Some(kid), &key)
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

#[track_caller]
fn assert_rejected(verifier: &TokenVerifier, token: &str) {
    match verifier.verify(token) {
        Err(AuthError::InvalidToken) => {}
        other => panic!("expected InvalidToken, got {other:?}"),
    }
}

#[test]
fn hs256_token_round_trips() {
    let setup = hmac_setup();
    let issued = setup.signer.issue(&teacher_subject()).unwrap();
    let claims = setup.verifier.verify(issued.token.expose_secret()).unwrap();
    assert_eq!(claims, issued.claims);
    assert_eq!(claims.iss, "sam.v3.0");
    assert_eq!(claims.aud, AUDIENCE);
    assert_eq!(claims.exp - claims.iat, 3600);
    assert_eq!(claims.nbf, claims.iat);
    assert!(claims.permissions.evaluate);
    assert_eq!(claims.tenant_hierarchy.level, Role::Teacher);
}

#[test]
fn rs256_token_round_trips_with_pem_files() {
    let signer = TokenSigner::from_pem_file(
        settings(TokenAlgorithm::Rs256),
        "rs1",
        &rsa_pair().private_path,
    )
    .unwrap();
    let issued = signer.issue(&teacher_subject()).unwrap();
    let claims = rsa_verifier().verify(issued.token.expose_secret()).unwrap();
    assert_eq!(claims.sub, "t1");
}

#[test]
fn eddsa_token_round_trips() {
    let pair = ed25519_pair();
    let signer =
        TokenSigner::from_pem(settings(TokenAlgorithm::EdDsa), "ed1", &pair.private_pem()).unwrap();
    let mut verifier = TokenVerifier::new(settings(TokenAlgorithm::EdDsa)).unwrap();
    verifier.add_public_pem("ed1", &pair.public_pem()).unwrap();
    let issued = signer.issue(&teacher_subject()).unwrap();
    let claims = verifier.verify(issued.token.expose_secret()).unwrap();
    assert_eq!(claims.sub, "t1");
}

#[test]
fn super_admin_token_has_no_partner() {
    let setup = hmac_setup();
    let issued = setup
        .signer
        .issue(&TokenSubject::super_admin("root", None))
        .unwrap();
    let claims = setup.verifier.verify(issued.token.expose_secret()).unwrap();
    assert_eq!(claims.tenant_hierarchy.partner_id, None);
    assert_eq!(claims.rate_limit, None);
    let payload = issued.token.expose_secret().split('.').nth(1).unwrap();
    let json: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert!(
        json["tenant_hierarchy"].get("partner_id").is_none(),
        "{json}"
    );
}

#[test]
fn key_rotation_accepts_old_and_new_kid() {
    let old = rsa_pair();
    let new = other_rsa_pair();
    let mut verifier = TokenVerifier::new(settings(TokenAlgorithm::Rs256)).unwrap();
    verifier
        .add_public_pem("2026-06", &old.public_pem())
        .unwrap();
    verifier
        .add_public_pem("2026-12", &new.public_pem())
        .unwrap();
    for (kid, pair) in [("2026-06", old), ("2026-12", new)] {
        let signer =
            TokenSigner::from_pem(settings(TokenAlgorithm::Rs256), kid, &pair.private_pem())
                .unwrap();
        let issued = signer.issue(&teacher_subject()).unwrap();
        assert!(
            verifier.verify(issued.token.expose_secret()).is_ok(),
            "{kid}"
        );
    }

    // The new key's token under the old kid fails the signature check.
    let signer = TokenSigner::from_pem(
        settings(TokenAlgorithm::Rs256),
        "2026-06",
        &new.private_pem(),
    )
    .unwrap();
    let issued = signer.issue(&teacher_subject()).unwrap();
    assert_rejected(&verifier, issued.token.expose_secret());
}

#[test]
fn duplicate_kid_is_rejected() {
    let secret = hmac_secret();
    let mut verifier = TokenVerifier::new(settings(TokenAlgorithm::Hs256)).unwrap();
    verifier.add_hmac_secret("k1", &secret).unwrap();
    assert!(matches!(
        verifier.add_hmac_secret("k1", &secret),
        Err(AuthError::InvalidKey { .. })
    ));
}

#[test]
fn private_key_is_not_a_verification_key() {
    let mut verifier = TokenVerifier::new(settings(TokenAlgorithm::EdDsa)).unwrap();
    let private = ed25519_pair().private_pem();
    let result = verifier.add_public_pem("ed1", private.expose_secret());
    assert!(
        matches!(result, Err(AuthError::InvalidKey { .. })),
        "{result:?}"
    );
}

#[test]
fn missing_key_file_names_path_only() {
    let result = TokenSigner::from_pem_file(
        settings(TokenAlgorithm::Rs256),
        "rs1",
        std::path::Path::new("/nonexistent/sam-key.pem"),
    );
    let err = result.err().unwrap();
    assert!(matches!(err, AuthError::KeyFile { .. }), "{err:?}");
    assert!(
        err.to_string().contains("/nonexistent/sam-key.pem"),
        "{err}"
    );
}

#[test]
fn alg_none_is_rejected() {
    let setup = hmac_setup();
    let body = b64(&claims_json());
    for header in [
        json!({ "alg": "none", "typ": "JWT", "kid": "k1" }),
        json!({ "alg": "None", "kid": "k1" }),
        json!({ "alg": "", "kid": "k1" }),
        json!({ "kid": "k1" }),
    ] {
        let head = b64(&header);
        assert_rejected(&setup.verifier, &format!("{head}.{body}."));
        assert_rejected(&setup.verifier, &format!("{head}.{body}"));
        let sig = URL_SAFE_NO_PAD.encode(b"sig");
        assert_rejected(&setup.verifier, &format!("{head}.{body}.{sig}"));
    }
}

#[test]
fn hs256_signed_with_rsa_public_key_is_rejected() {
    let verifier = rsa_verifier();
    let public_pem = rsa_pair().public_pem();
    let key = EncodingKey::from_secret(&public_pem);
    let token = sign_json(&claims_json(), Algorithm::HS256, Some("rs1"), &key);
    assert_rejected(&verifier, &token);
}

#[test]
fn other_algorithm_than_configured_is_rejected() {
    // An EdDSA token, validly signed, against an RS256 verifier that also
    // has the kid.
    let pair = ed25519_pair();
    let key = EncodingKey::from_ed_pem(pair.private_pem().expose_secret()).unwrap();
    let token = sign_json(&claims_json(), Algorithm::EdDSA, Some("rs1"), &key);
    assert_rejected(&rsa_verifier(), &token);
}

#[test]
fn wrong_issuer_or_audience_is_rejected() {
    let setup = hmac_setup();
    let mut claims = claims_json();
    claims["iss"] = json!("someone.else");
    assert_rejected(&setup.verifier, &sign_hmac(&claims, "k1", &setup.secret));

    let mut claims = claims_json();
    claims["aud"] = json!("other-api");
    assert_rejected(&setup.verifier, &sign_hmac(&claims, "k1", &setup.secret));

    let mut claims = claims_json();
    claims["aud"] = json!(["other-api"]);
    assert_rejected(&setup.verifier, &sign_hmac(&claims, "k1", &setup.secret));

    // A signer with other settings but the same key.
    let mut other = settings(TokenAlgorithm::Hs256);
    other.audience = "other-api".to_owned();
    let signer = TokenSigner::hmac(other, "k1", &setup.secret).unwrap();
    let issued = signer.issue(&teacher_subject()).unwrap();
    assert_rejected(&setup.verifier, issued.token.expose_secret());
}

#[test]
fn expiry_is_checked_with_leeway() {
    let setup = hmac_setup();
    let now = now_secs();

    let mut claims = claims_json();
    claims["iat"] = json!(now - 600);
    claims["nbf"] = json!(now - 600);
    claims["exp"] = json!(now - 30);
    let within = sign_hmac(&claims, "k1", &setup.secret);
    assert!(
        setup.verifier.verify(&within).is_ok(),
        "30 s late is within leeway"
    );

    claims["exp"] = json!(now - 120);
    assert_rejected(&setup.verifier, &sign_hmac(&claims, "k1", &setup.secret));

    // The same through the signer: issued two hours ago with a one-hour TTL.
    let issued = setup
        .signer
        .issue_at(&teacher_subject(), Utc::now() - Duration::hours(2))
        .unwrap();
    assert_rejected(&setup.verifier, issued.token.expose_secret());
}

#[test]
fn nbf_or_iat_in_the_future_is_rejected() {
    let setup = hmac_setup();
    let now = now_secs();

    let mut claims = claims_json();
    claims["nbf"] = json!(now + 600);
    assert_rejected(&setup.verifier, &sign_hmac(&claims, "k1", &setup.secret));

    let mut claims = claims_json();
    claims["iat"] = json!(now + 600);
    assert_rejected(&setup.verifier, &sign_hmac(&claims, "k1", &setup.secret));

    let mut claims = claims_json();
    claims["nbf"] = json!(now + 30);
    let within = sign_hmac(&claims, "k1", &setup.secret);
    assert!(
        setup.verifier.verify(&within).is_ok(),
        "30 s early is within leeway"
    );
}

/// Changes one claim of a valid token.
type AlterClaims = fn(&mut Value);

/// Removes a top-level claim.
fn remove(claims: &mut Value, name: &str) {
    claims.as_object_mut().unwrap().remove(name);
}

#[test]
fn malformed_registered_claims_are_rejected() {
    let setup = hmac_setup();
    let cases: [(&str, AlterClaims); 11] = [
        ("exp as string", |c| c["exp"] = json!(c["exp"].to_string())),
        ("exp missing", |c| remove(c, "exp")),
        ("exp negative", |c| c["exp"] = json!(-1)),
        ("iss missing", |c| remove(c, "iss")),
        ("aud missing", |c| remove(c, "aud")),
        ("nbf missing", |c| remove(c, "nbf")),
        ("sub missing", |c| remove(c, "sub")),
        ("unknown role", |c| {
            c["tenant_hierarchy"]["level"] = json!("root");
        }),
        ("teacher without client", |c| {
            c["tenant_hierarchy"]["client_id"] = Value::Null;
        }),
        ("super admin with partner", |c| {
            c["tenant_hierarchy"]["level"] = json!("super_admin");
        }),
        ("path in partner id", |c| {
            c["tenant_hierarchy"]["partner_id"] = json!("../aptus");
        }),
    ];
    for (name, alter) in cases {
        let mut claims = claims_json();
        alter(&mut claims);
        let token = sign_hmac(&claims, "k1", &setup.secret);
        assert!(
            matches!(setup.verifier.verify(&token), Err(AuthError::InvalidToken)),
            "{name}"
        );
    }
    let mut string_exp = claims_json();
    string_exp["exp"] = json!(string_exp["exp"].to_string());
    assert!(string_exp["exp"].is_string());
}

#[test]
fn unknown_or_hostile_kid_is_rejected() {
    let setup = hmac_setup();
    let claims = claims_json();
    for kid in [
        "k2",
        "../k1",
        "../../etc/passwd",
        "k1\"",
        "k1\" OR \"1\"=\"1",
        "",
        " k1",
    ] {
        let token = sign_hmac(&claims, kid, &setup.secret);
        assert!(
            matches!(setup.verifier.verify(&token), Err(AuthError::InvalidToken)),
            "{kid:?}"
        );
    }
    let key = EncodingKey::from_secret(setup.secret.expose_secret());
    assert_rejected(
        &setup.verifier,
        &sign_json(&claims, Algorithm::HS256, None, &key),
    );
}

#[test]
fn broken_token_text_is_rejected() {
    let setup = hmac_setup();
    let issued = setup.signer.issue(&teacher_subject()).unwrap();
    let token = issued.token.expose_secret();
    let (head, rest) = token.split_once('.').unwrap();
    let (body, signature) = rest.split_once('.').unwrap();

    let mut flipped = signature.to_owned().into_bytes();
    flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();

    let cases = [
        token[..token.len() - 5].to_owned(),
        token[..token.len() / 2].to_owned(),
        format!("{head}.{body}"),
        format!("{head}.{body}.{flipped}"),
        format!("{token}.extra"),
        head.to_owned(),
        "garbage".to_owned(),
        String::new(),
        "..".to_owned(),
        "a.b.c".to_owned(),
        "Bearer x".to_owned(),
        "\u{0}\u{1}.\u{ff}.é".to_owned(),
        "a".repeat(MAX_TOKEN_LEN + 1),
        format!("{head}.{}.{signature}", b64(&json!("not an object"))),
    ];
    for case in &cases {
        assert_rejected(&setup.verifier, case);
    }
}

#[test]
fn rejections_share_one_message() {
    let setup = hmac_setup();
    let mut expired = claims_json();
    expired["exp"] = json!(now_secs() - 3600);
    let mut wrong_aud = claims_json();
    wrong_aud["aud"] = json!("other");
    let messages: Vec<String> = [
        sign_hmac(&expired, "k1", &setup.secret),
        sign_hmac(&wrong_aud, "k1", &setup.secret),
        sign_hmac(&claims_json(), "unknown", &setup.secret),
        "garbage".to_owned(),
    ]
    .iter()
    .map(|token| setup.verifier.verify(token).unwrap_err().to_string())
    .collect();
    for message in &messages {
        assert_eq!(message, "invalid or expired token");
    }
}

#[test]
fn issuing_checks_hierarchy_fits_role() {
    let setup = hmac_setup();
    let mut subject = teacher_subject();
    subject.hierarchy.client_id = None;
    assert!(matches!(
        setup.signer.issue(&subject),
        Err(AuthError::InvalidInput { .. })
    ));
}

#[test]
fn signer_debug_hides_key() {
    let setup = hmac_setup();
    let debug = format!("{:?} {:?}", setup.signer, setup.verifier);
    assert!(debug.contains("k1"), "{debug}");
    let secret_hex = hex::encode(setup.secret.expose_secret());
    assert!(!debug.contains(&secret_hex), "{debug}");
}
