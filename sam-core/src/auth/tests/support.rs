//! Keys, settings and fixtures shared by the auth tests.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use secrecy::SecretSlice;
use tempfile::TempDir;

use crate::auth::{
    InMemoryDirectory, PartnerStanding, TokenAlgorithm, TokenSettings, UserStanding,
};
use crate::tenancy::{PartnerSlug, Role, SubscriptionStatus};

pub(crate) const AUDIENCE: &str = "sam-api";

pub(crate) fn slug(text: &str) -> PartnerSlug {
    PartnerSlug::parse(text).unwrap()
}

pub(crate) fn settings(algorithm: TokenAlgorithm) -> TokenSettings {
    TokenSettings::new(AUDIENCE, algorithm)
}

/// Generates a random 32-byte HMAC secret.
pub(crate) fn hmac_secret() -> SecretSlice<u8> {
    use rand::RngCore;
    let mut bytes = vec![0_u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    SecretSlice::from(bytes)
}

/// A PEM key pair written by the `openssl` command into a temporary folder.
#[derive(Debug)]
pub(crate) struct PemPair {
    _dir: TempDir,
    pub(crate) private_path: PathBuf,
    pub(crate) public_path: PathBuf,
}

impl PemPair {
    pub(crate) fn private_pem(&self) -> SecretSlice<u8> {
        SecretSlice::from(std::fs::read(&self.private_path).unwrap())
    }

    pub(crate) fn public_pem(&self) -> Vec<u8> {
        std::fs::read(&self.public_path).unwrap()
    }
}

fn openssl(args: &[&str], dir: &Path) {
    let status = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|err| panic!("running openssl failed ({err}); install the openssl CLI"));
    assert!(
        status.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&status.stderr)
    );
}

fn generate_pair(genpkey_args: &[&str]) -> PemPair {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["genpkey"];
    args.extend_from_slice(genpkey_args);
    args.extend_from_slice(&["-out", "private.pem"]);
    openssl(&args, dir.path());
    openssl(
        &[
            "pkey",
            "-in",
            "private.pem",
            "-pubout",
            "-out",
            "public.pem",
        ],
        dir.path(),
    );
    PemPair {
        private_path: dir.path().join("private.pem"),
        public_path: dir.path().join("public.pem"),
        _dir: dir,
    }
}

/// Returns an RSA 2048 key pair, generated once per test run.
pub(crate) fn rsa_pair() -> &'static PemPair {
    static PAIR: OnceLock<PemPair> = OnceLock::new();
    PAIR.get_or_init(|| generate_pair(&["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]))
}

/// Returns a second RSA key pair, for rotation tests.
pub(crate) fn other_rsa_pair() -> &'static PemPair {
    static PAIR: OnceLock<PemPair> = OnceLock::new();
    PAIR.get_or_init(|| generate_pair(&["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]))
}

/// Returns an Ed25519 key pair, generated once per test run.
pub(crate) fn ed25519_pair() -> &'static PemPair {
    static PAIR: OnceLock<PemPair> = OnceLock::new();
    PAIR.get_or_init(|| generate_pair(&["-algorithm", "ed25519"]))
}

pub(crate) fn active_partner() -> PartnerStanding {
    PartnerStanding {
        status: SubscriptionStatus::Active,
        provisioned: true,
    }
}

pub(crate) fn standing(role: Role, client: Option<&str>) -> UserStanding {
    UserStanding {
        role,
        client_id: client.map(str::to_owned),
        active: true,
    }
}

/// Builds a directory with active partners `aptus` and `bravo`, and in `aptus`
/// a partner admin `pa`, a client admin `ca1`, teacher `t1` and student
/// `s1` of client `c1`, plus operator `root`.
pub(crate) fn directory() -> InMemoryDirectory {
    let directory = InMemoryDirectory::new();
    directory.set_partner(slug("aptus"), active_partner());
    directory.set_partner(slug("bravo"), active_partner());
    let aptus = Some(slug("aptus"));
    directory.set_user(None, "root", standing(Role::SuperAdmin, None));
    directory.set_user(
        aptus.clone(),
        "pa",
        standing(Role::PartnerAdmin, Some("c1")),
    );
    directory.set_user(
        aptus.clone(),
        "ca1",
        standing(Role::ClientAdmin, Some("c1")),
    );
    directory.set_user(aptus.clone(), "t1", standing(Role::Teacher, Some("c1")));
    directory.set_user(aptus, "s1", standing(Role::Student, Some("c1")));
    directory
}
