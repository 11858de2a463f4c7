//! Storage of the server credential `samctl login` keeps: the OS keyring when
//! the machine has one, otherwise a file readable only by the user.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

/// Keyring service name under which credentials are stored, one entry per server URL.
const KEYRING_SERVICE: &str = "sam";

/// The kind of secret a credential is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// A partner API key, sent as `X-Api-Key`.
    ApiKey,
    /// A JWT, sent as `Authorization: Bearer`.
    Token,
}

/// A stored credential. `Debug` never shows the secret.
#[derive(Clone, Serialize, Deserialize)]
pub struct Credential {
    pub kind: CredentialKind,
    pub secret: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("kind", &self.kind)
            .field("secret", &"***")
            .finish()
    }
}

/// The place a credential is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Vault {
    /// The OS keyring.
    Keyring,
    /// The credentials file in the SAM home folder.
    File,
}

/// The server `samctl` talks to after `login`, and where its credential is.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Profile {
    pub server: String,
    pub kind: CredentialKind,
    pub vault: Vault,
}

/// The credential files of one SAM home folder.
#[derive(Debug)]
pub struct Credentials {
    profile_path: PathBuf,
    file_path: PathBuf,
}

impl Credentials {
    /// Uses `profile.json` and `credentials.json` in `home`.
    pub fn in_home(home: &Path) -> Self {
        Self {
            profile_path: home.join("profile.json"),
            file_path: home.join("credentials.json"),
        }
    }

    /// Stores `credential` for `server` and makes it the current profile.
    /// Tries the keyring unless `use_keyring` is false, and falls back to the
    /// file when the keyring fails. Returns where it was stored.
    pub fn save(
        &self,
        server: &str,
        credential: &Credential,
        use_keyring: bool,
    ) -> anyhow::Result<Vault> {
        let vault = if use_keyring && save_in_keyring(server, credential).is_ok() {
            Vault::Keyring
        } else {
            self.save_in_file(server, credential)?;
            Vault::File
        };
        let profile = Profile {
            server: server.to_owned(),
            kind: credential.kind,
            vault,
        };
        write_private(&self.profile_path, &serde_json::to_vec_pretty(&profile)?)?;
        Ok(vault)
    }

    /// Returns the current profile, if `login` has been run.
    pub fn profile(&self) -> anyhow::Result<Option<Profile>> {
        match std::fs::read(&self.profile_path) {
            Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes).with_context(|| {
                format!(
                    "invalid {}; run `samctl login` again",
                    self.profile_path.display()
                )
            })?)),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => {
                Err(err).with_context(|| format!("cannot read {}", self.profile_path.display()))
            }
        }
    }

    /// Returns the credential of the current profile.
    pub fn load(&self, profile: &Profile) -> anyhow::Result<Credential> {
        match profile.vault {
            Vault::Keyring => {
                let entry = keyring::Entry::new(KEYRING_SERVICE, &profile.server)?;
                let text = entry.get_password().with_context(|| {
                    format!(
                        "no credential for {} in the keyring; run `samctl login` again",
                        profile.server
                    )
                })?;
                Ok(serde_json::from_str(&text)?)
            }
            Vault::File => self.read_file()?.remove(&profile.server).with_context(|| {
                format!(
                    "no credential for {}; run `samctl login` again",
                    profile.server
                )
            }),
        }
    }

    /// Returns the credential stored for `server`: the current profile's
    /// when it is for `server`, else one saved by an earlier login to it.
    pub fn load_for(&self, server: &str) -> anyhow::Result<Credential> {
        if let Some(profile) = self.profile()? {
            if profile.server == server {
                return self.load(&profile);
            }
        }
        if let Some(credential) = self.read_file()?.remove(server) {
            return Ok(credential);
        }
        let from_keyring = keyring::Entry::new(KEYRING_SERVICE, server)
            .and_then(|entry| entry.get_password())
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok());
        from_keyring.ok_or_else(|| {
            anyhow::anyhow!(
                "no credential for {server}; run `samctl login --server {server}` first"
            )
        })
    }

    /// Removes the current profile and its credential. Returns the server it was for.
    pub fn delete(&self) -> anyhow::Result<Option<String>> {
        let Some(profile) = self.profile()? else {
            return Ok(None);
        };
        match profile.vault {
            Vault::Keyring => {
                let entry = keyring::Entry::new(KEYRING_SERVICE, &profile.server)?;
                match entry.delete_credential() {
                    Ok(()) | Err(keyring::Error::NoEntry) => {}
                    Err(err) => {
                        return Err(err).context("cannot remove the credential from the keyring")
                    }
                }
            }
            Vault::File => {
                let mut all = self.read_file()?;
                all.remove(&profile.server);
                write_private(&self.file_path, &serde_json::to_vec_pretty(&all)?)?;
            }
        }
        std::fs::remove_file(&self.profile_path)
            .with_context(|| format!("cannot remove {}", self.profile_path.display()))?;
        Ok(Some(profile.server))
    }

    fn read_file(&self) -> anyhow::Result<BTreeMap<String, Credential>> {
        match std::fs::read(&self.file_path) {
            Ok(bytes) => Ok(serde_json::from_slice(&bytes)
                .with_context(|| format!("invalid {}", self.file_path.display()))?),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(err) => {
                Err(err).with_context(|| format!("cannot read {}", self.file_path.display()))
            }
        }
    }

    fn save_in_file(&self, server: &str, credential: &Credential) -> anyhow::Result<()> {
        let mut all = self.read_file()?;
        all.insert(server.to_owned(), credential.clone());
        write_private(&self.file_path, &serde_json::to_vec_pretty(&all)?)
    }
}

/// Stores the credential in the keyring and reads it back, so a keyring
/// that accepts writes but keeps nothing counts as missing.
fn save_in_keyring(server: &str, credential: &Credential) -> anyhow::Result<()> {
    let entry = keyring::Entry::new(KEYRING_SERVICE, server)?;
    let text = serde_json::to_string(credential)?;
    entry.set_password(&text)?;
    if entry.get_password()? != text {
        anyhow::bail!("the keyring did not keep the credential");
    }
    Ok(())
}

/// Writes `bytes` to `path` readable and writable by the owner only,
/// through a temporary file so a crash never leaves half a file.
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let temporary = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(&temporary)
        .with_context(|| format!("cannot write {}", temporary.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credential() -> Credential {
        Credential {
            kind: CredentialKind::ApiKey,
            secret: "sam_abcdefghij_0123".to_owned(),
        }
    }

    #[test]
    fn file_fallback_round_trips_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let store = Credentials::in_home(dir.path());
        let vault = store
            .save("http://127.0.0.1:8000", &credential(), false)
            .unwrap();
        assert_eq!(vault, Vault::File);
        let profile = store.profile().unwrap().unwrap();
        assert_eq!(profile.server, "http://127.0.0.1:8000");
        assert_eq!(store.load(&profile).unwrap().secret, "sam_abcdefghij_0123");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("credentials.json"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(
            store.delete().unwrap().as_deref(),
            Some("http://127.0.0.1:8000")
        );
        assert!(store.profile().unwrap().is_none());
        assert!(
            !std::fs::read_to_string(dir.path().join("credentials.json"))
                .unwrap()
                .contains("sam_abcdefghij")
        );
    }

    #[test]
    fn debug_hides_secret() {
        assert!(!format!("{:?}", credential()).contains("0123"));
    }

    #[test]
    fn keyring_round_trips_where_available() {
        let dir = tempfile::tempdir().unwrap();
        let store = Credentials::in_home(dir.path());
        let server = format!("http://127.0.0.1:1/{}", std::process::id());
        let vault = store.save(&server, &credential(), true).unwrap();
        if vault == Vault::File {
            eprintln!("skipped: this machine has no usable keyring; the file fallback was used");
            return;
        }
        let profile = store.profile().unwrap().unwrap();
        assert_eq!(store.load(&profile).unwrap().secret, "sam_abcdefghij_0123");
        assert!(
            !dir.path().join("credentials.json").exists(),
            "keyring login writes no secret file"
        );
        store.delete().unwrap();
        assert!(keyring::Entry::new(KEYRING_SERVICE, &server)
            .unwrap()
            .get_password()
            .is_err());
    }
}
