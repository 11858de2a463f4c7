//! Sources of a provider's API key: an environment variable, the OS
//! keyring, or (in tests) a literal.

use std::fmt;

use secrecy::SecretString;

use super::RouterError;

/// A reference to an API key. Its `Debug` and `Display` output show where
/// the key comes from but never a literal key.
#[derive(Clone)]
pub enum SecretSource {
    /// The environment variable with this name, written `env:NAME`.
    Env(String),
    /// The OS keyring entry, written `keyring:SERVICE/USER`.
    Keyring {
        /// Keyring service name.
        service: String,
        /// Keyring user name.
        user: String,
    },
    /// A key given in place. Meant for tests; configuration files should
    /// name an `env:` or `keyring:` reference instead.
    Literal(SecretString),
}

impl SecretSource {
    /// Parses `env:NAME` or `keyring:SERVICE/USER`. Literal keys are not
    /// accepted from text, so a key pasted into a config file is rejected.
    ///
    /// # Errors
    /// [`RouterError::InvalidConfig`] for any other form.
    pub fn parse(field: &str, text: &str) -> Result<Self, RouterError> {
        let expected = "expected env:NAME or keyring:SERVICE/USER";
        if let Some(name) = text.strip_prefix("env:") {
            if name.is_empty() {
                return Err(RouterError::invalid(field, text, expected));
            }
            return Ok(Self::Env(name.to_owned()));
        }
        if let Some(rest) = text.strip_prefix("keyring:") {
            return match rest.split_once('/') {
                Some((service, user)) if !service.is_empty() && !user.is_empty() => {
                    Ok(Self::Keyring {
                        service: service.to_owned(),
                        user: user.to_owned(),
                    })
                }
                _ => Err(RouterError::invalid(field, text, expected)),
            };
        }
        // The text may be a pasted key, so it is not echoed in the error.
        Err(RouterError::invalid(field, "<hidden>", expected))
    }

    /// Reads the key.
    ///
    /// # Errors
    /// [`RouterError::Secret`] when the variable is unset or the keyring
    /// entry cannot be read.
    pub fn resolve(&self) -> Result<SecretString, RouterError> {
        match self {
            Self::Env(name) => {
                std::env::var(name)
                    .map(SecretString::from)
                    .map_err(|err| RouterError::Secret {
                        reference: self.to_string(),
                        reason: format!("{err}; set the environment variable"),
                    })
            }
            Self::Keyring { service, user } => keyring::Entry::new(service, user)
                .and_then(|entry| entry.get_password())
                .map(SecretString::from)
                .map_err(|err| RouterError::Secret {
                    reference: self.to_string(),
                    reason: format!(
                        "{err}; store the key in the OS keyring under this service and user"
                    ),
                }),
            Self::Literal(secret) => Ok(secret.clone()),
        }
    }
}

impl fmt::Display for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Env(name) => write!(f, "env:{name}"),
            Self::Keyring { service, user } => write!(f, "keyring:{service}/{user}"),
            Self::Literal(_) => f.write_str("literal:<hidden>"),
        }
    }
}

impl fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn parse_env_and_keyring() {
        let env = SecretSource::parse("api_key", "env:DEEPSEEK_API_KEY").unwrap();
        assert_eq!(env.to_string(), "env:DEEPSEEK_API_KEY");
        let keyring = SecretSource::parse("api_key", "keyring:sam/claude").unwrap();
        assert_eq!(keyring.to_string(), "keyring:sam/claude");
    }

    #[test]
    fn pasted_key_rejected_without_echo() {
        let err = SecretSource::parse("api_key", "sk-live-123")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("sk-live-123"), "{err}");
        assert!(err.contains("env:NAME"), "{err}");
    }

    #[test]
    fn literal_hidden_in_debug() {
        let source = SecretSource::Literal(SecretString::from("sk-test-abc"));
        assert!(!format!("{source:?}").contains("sk-test-abc"));
        assert_eq!(source.resolve().unwrap().expose_secret(), "sk-test-abc");
    }

    #[test]
    fn missing_env_names_reference() {
        let source = SecretSource::Env("SAM_TEST_UNSET_VARIABLE_9F3A".to_owned());
        let err = source.resolve().unwrap_err().to_string();
        assert!(err.contains("env:SAM_TEST_UNSET_VARIABLE_9F3A"), "{err}");
    }
}
