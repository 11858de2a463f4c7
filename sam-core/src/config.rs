//! Layered configuration: built-in defaults, then a TOML file, then `SAM_*`
//! environment variables; binaries apply their flags last.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The environment variable that names the configuration file. It is read
/// by the binaries and is not itself a configuration key.
pub const CONFIG_ENV: &str = "SAM_CONFIG";

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Human,
    /// One JSON object per line.
    Json,
}

/// Evaluation engine settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvaluationConfig {
    /// Submissions graded at once in a batch.
    pub concurrency: usize,
    /// Largest submission accepted, in bytes.
    pub max_submission_bytes: usize,
}

impl Default for EvaluationConfig {
    fn default() -> Self {
        Self {
            concurrency: 8,
            max_submission_bytes: crate::engine::DEFAULT_MAX_SUBMISSION_BYTES,
        }
    }
}

/// The whole configuration shared by `samctl`, `sam-server` and embedders.
/// Unknown keys are rejected, so a misspelt key is an error, not a silent default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct SamConfig {
    /// SAM home folder for the embedded store; the platform's data folder when unset.
    pub home: Option<PathBuf>,
    /// `postgres://` or `sqlite://` URL; the embedded store in `home` when unset.
    pub database_url: Option<String>,
    /// Log output format, `human` or `json`.
    pub log_format: LogFormat,
    /// A `tracing` filter such as `warn` or `sam_core=debug,info`; `-v` and `-q` adjust it.
    pub log_level: Option<String>,
    /// Evaluation engine.
    pub evaluation: EvaluationConfig,
    /// Price plans and exchange rate of invoices.
    pub billing: crate::billing::BillingConfig,
}

/// A configuration that could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration{}: {message}", source_name.as_ref().map(|s| format!(" in {s}")).unwrap_or_default())]
pub struct ConfigError {
    /// The file, when the error came from one.
    pub source_name: Option<String>,
    /// What is wrong, naming the key.
    pub message: String,
}

impl SamConfig {
    /// Loads defaults, then `file` if given (it must exist) or `default_file`
    /// if it exists, then `SAM_*` environment variables, where `__`
    /// separates nested keys (`SAM_EVALUATION__CONCURRENCY=4`).
    ///
    /// # Errors
    /// [`ConfigError`] naming the unknown or invalid key.
    pub fn load(file: Option<&Path>, default_file: Option<&Path>) -> Result<Self, ConfigError> {
        let env: HashMap<String, String> = std::env::vars()
            .filter(|(key, _)| key.starts_with("SAM_") && key != CONFIG_ENV)
            .collect();
        Self::load_with_env(file, default_file, env)
    }

    /// Like [`SamConfig::load`] with an explicit environment, for tests.
    ///
    /// # Errors
    /// [`ConfigError`] naming the unknown or invalid key.
    pub fn load_with_env(
        file: Option<&Path>,
        default_file: Option<&Path>,
        env: HashMap<String, String>,
    ) -> Result<Self, ConfigError> {
        let mut builder = config::Config::builder();
        let mut source_name = None;
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError {
                    source_name: Some(path.display().to_string()),
                    message: "the file does not exist".to_owned(),
                });
            }
            source_name = Some(path.display().to_string());
            builder = builder.add_source(config::File::from(path).format(config::FileFormat::Toml));
        } else if let Some(path) = default_file.filter(|p| p.is_file()) {
            source_name = Some(path.display().to_string());
            builder = builder.add_source(config::File::from(path).format(config::FileFormat::Toml));
        }
        let env_names: Vec<String> = env.keys().cloned().collect();
        builder = builder.add_source(
            config::Environment::with_prefix("SAM")
                .prefix_separator("_")
                .separator("__")
                .try_parsing(true)
                .source(Some(env.into_iter().collect())),
        );
        let built = builder.build().map_err(|err| ConfigError {
            source_name: source_name.clone(),
            message: err.to_string(),
        })?;
        built.try_deserialize().map_err(|err| {
            let message = err.to_string();
            let from_env = env_names.iter().any(|name| {
                message.contains(
                    &name
                        .trim_start_matches("SAM_")
                        .to_lowercase()
                        .replace("__", "."),
                )
            });
            ConfigError {
                source_name: if from_env {
                    Some("SAM_* environment variables".to_owned())
                } else {
                    source_name
                },
                message,
            }
        })
    }

    /// Returns the commented default configuration file that `samctl init` writes.
    pub fn commented_default() -> String {
        let defaults = Self::default();
        format!(
            "# SAM configuration. Every key is optional; environment variables\n\
             # override it (SAM_DATABASE_URL, SAM_LOG_FORMAT, SAM_EVALUATION__CONCURRENCY),\n\
             # and command-line flags override both. Unknown keys are rejected.\n\
             \n\
             # PostgreSQL in production; the embedded SQLite store in this folder when unset.\n\
             # database_url = \"postgres://sam@127.0.0.1:5432/sam\"\n\
             \n\
             # Log lines as \"human\" text or \"json\" objects.\n\
             log_format = \"human\"\n\
             # A tracing filter; -v and -q on the command line adjust it.\n\
             # log_level = \"warn\"\n\
             \n\
             [evaluation]\n\
             # Submissions graded at once in a batch.\n\
             concurrency = {concurrency}\n\
             # Largest submission accepted, in bytes.\n\
             max_submission_bytes = {max_bytes}\n\
             \n\
             [billing]\n\
             # Chilean pesos per US dollar, for CLP plans that bill model cost at cost.\n\
             # usd_to_clp = \"950\"\n\
             #\n\
             # Each tier has a built-in plan (USD; the partner's recorded monthly fee;\n\
             # 2000/10000/30000/200000 evaluations included and 0.10/0.08/0.06/0.04 per\n\
             # further evaluation for basic/standard/premium/enterprise; model cost\n\
             # included, except enterprise: at cost plus 20%). Any key below changes it.\n\
             # Amounts are decimal strings. Invoice lines are rounded once, half away\n\
             # from zero, to cents (USD) or whole pesos (CLP).\n\
             # [billing.tiers.basic]\n\
             # currency = \"USD\"                 # USD or CLP\n\
             # base_fee = \"500\"                 # unset: the partner's recorded monthly fee\n\
             # included_evaluations = 2000        # per month\n\
             # price_per_evaluation = \"0.10\"     # each evaluation beyond the included ones\n\
             # model_cost = \"included\"          # or \"at_cost\"\n\
             # markup_percent = \"0\"             # on model cost billed at cost\n\
             #\n\
             # A partner's plan overrides any of those keys, by partner slug:\n\
             # [billing.partners.aptus]\n\
             # currency = \"CLP\"\n\
             # base_fee = \"450000\"\n",
            concurrency = defaults.evaluation.concurrency,
            max_bytes = defaults.evaluation.max_submission_bytes,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_without_file_or_env() {
        let config = SamConfig::load_with_env(None, None, HashMap::new()).unwrap();
        assert_eq!(config, SamConfig::default());
    }

    #[test]
    fn env_overrides_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "[evaluation]\nconcurrency = 3\n").unwrap();
        let config = SamConfig::load_with_env(Some(&path), None, HashMap::new()).unwrap();
        assert_eq!(config.evaluation.concurrency, 3);
        let config = SamConfig::load_with_env(
            Some(&path),
            None,
            env(&[("SAM_EVALUATION__CONCURRENCY", "5")]),
        )
        .unwrap();
        assert_eq!(config.evaluation.concurrency, 5);
    }

    #[test]
    fn unknown_file_key_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "[evaluation]\nconcurency = 3\n").unwrap();
        let err = SamConfig::load_with_env(Some(&path), None, HashMap::new()).unwrap_err();
        assert!(err.to_string().contains("concurency"), "{err}");
        assert!(err.to_string().contains("config.toml"), "{err}");
    }

    #[test]
    fn unknown_env_key_is_named() {
        let err =
            SamConfig::load_with_env(None, None, env(&[("SAM_DATABSE_URL", "x")])).unwrap_err();
        assert!(err.to_string().contains("databse_url"), "{err}");
    }

    #[test]
    fn missing_explicit_file_is_an_error() {
        let err = SamConfig::load_with_env(
            Some(Path::new("/nonexistent/sam.toml")),
            None,
            HashMap::new(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");
    }

    #[test]
    fn billing_plans_from_file_and_env() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(
            &path,
            "[billing]\nusd_to_clp = \"943.5\"\n\
             [billing.tiers.basic]\ncurrency = \"CLP\"\nincluded_evaluations = 50\n\
             price_per_evaluation = \"90\"\nmodel_cost = \"at_cost\"\nmarkup_percent = \"15\"\n\
             [billing.partners.aptus]\nbase_fee = \"1200.50\"\n",
        )
        .unwrap();
        let config = SamConfig::load_with_env(
            Some(&path),
            None,
            env(&[("SAM_BILLING__TIERS__PREMIUM__PRICE_PER_EVALUATION", "0.07")]),
        )
        .unwrap();
        let billing = &config.billing;
        assert_eq!(billing.usd_to_clp.unwrap().to_string(), "943.5");
        let basic = &billing.tiers.basic;
        assert_eq!(basic.currency, Some(crate::billing::Currency::Clp));
        assert_eq!(basic.included_evaluations, Some(50));
        assert_eq!(basic.markup_percent.unwrap().to_string(), "15");
        let premium = billing.tiers.premium.price_per_evaluation.unwrap();
        assert_eq!(premium.to_string(), "0.07");
        let aptus = &billing.partners["aptus"];
        assert_eq!(aptus.base_fee.unwrap().to_string(), "1200.50");
        assert_eq!(aptus.currency, None);
    }

    #[test]
    fn unknown_billing_key_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "[billing.partners.aptus]\nbase_fe = \"1\"\n").unwrap();
        let err = SamConfig::load_with_env(Some(&path), None, HashMap::new()).unwrap_err();
        assert!(err.to_string().contains("base_fe"), "{err}");
    }

    #[test]
    fn commented_default_parses_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, SamConfig::commented_default()).unwrap();
        let config = SamConfig::load_with_env(Some(&path), None, HashMap::new()).unwrap();
        assert_eq!(config, SamConfig::default());
    }
}
