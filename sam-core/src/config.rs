//! Layered configuration: built-in defaults, then a TOML file, then `SAM_*`
//! environment variables; binaries apply their flags last.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::cache::CacheConfig;
use crate::llm::RouterConfig;

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

/// The backend that caches graded results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheBackendKind {
    /// In the process's memory; lost on exit.
    #[default]
    Memory,
    /// A Redis server or Redis Cluster, shared by every process.
    Redis,
    /// No cache.
    None,
}

/// Cache settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheSettings {
    /// `memory`, `redis` or `none`.
    pub backend: CacheBackendKind,
    /// Redis URL for the `redis` backend, such as `redis://127.0.0.1:6379`.
    pub redis_url: Option<String>,
    /// Redis Cluster node URLs; when given, the `redis` backend uses the cluster.
    pub cluster_nodes: Vec<String>,
    /// Prefix of every Redis key, to share one Redis between deployments.
    pub key_prefix: String,
    /// Entries kept by the `memory` backend.
    pub max_entries: u64,
    /// Lifetimes and the partners that share the global level.
    pub levels: CacheConfig,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            backend: CacheBackendKind::Memory,
            redis_url: None,
            cluster_nodes: Vec::new(),
            key_prefix: String::new(),
            max_entries: 100_000,
            levels: CacheConfig::default(),
        }
    }
}

/// HTTP server settings, read by `sam-server` only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on; the `--listen` flag overrides it.
    pub listen: String,
    /// Largest request body accepted, in bytes; larger bodies get 413.
    pub max_body_bytes: usize,
    /// Deepest nesting of arrays and objects accepted in a JSON body.
    pub max_json_depth: usize,
    /// Time allowed for one request, in seconds; slower requests get 408.
    pub request_timeout_secs: u64,
    /// Time allowed for in-flight requests to finish after SIGINT or SIGTERM, in seconds.
    pub shutdown_grace_secs: u64,
    /// Redis URL of the shared rate-limit and quota counters, also checked by
    /// `/readyz`; per-instance limits when unset. The grading cache is set in `[cache]`.
    pub redis_url: Option<String>,
    /// Milliseconds a partner, API key, client or assignment record is
    /// reused between requests before it is read again; 0 reads it on every
    /// request. A partner
    /// suspended or a key revoked through another process or replica is
    /// refused here within this time; through this server, at once.
    pub lookup_cache_ms: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8000".to_owned(),
            max_body_bytes: 1024 * 1024,
            max_json_depth: 32,
            request_timeout_secs: 120,
            shutdown_grace_secs: 30,
            redis_url: None,
            lookup_cache_ms: 1_000,
        }
    }
}

/// The whole configuration shared by `samctl`, `sam-server` and embedders.
/// Unknown keys are rejected, so a misspelt key is an error, not a silent default.
#[derive(Debug, Clone, Deserialize, Default)]
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
    /// LLM providers and routing; with no provider, the offline scorer grades alone.
    pub llm: RouterConfig,
    /// Cache of graded results.
    pub cache: CacheSettings,
    /// HTTP server.
    pub server: ServerConfig,
    /// Bearer token verification; the server rejects every token when unset,
    /// so only API keys work.
    pub auth: Option<crate::auth::TokenConfig>,
    /// Request rates per tier and partner, and how the daily quota is kept.
    pub limits: crate::limits::LimitsConfig,
    /// Price plans and exchange rate of invoices.
    pub billing: crate::billing::BillingConfig,
}

/// A configuration that could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration{}: {message}", source_name.as_ref().map(|s| format!(" in {s}")).unwrap_or_default())]
pub struct ConfigError {
    /// The file, when the error came from one.
    pub source_name: Option<String>,
    /// The problem, naming the key.
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
            // The error names the key by its last segment, so an environment
            // variable is blamed when its last segment appears in the message.
            let from_env = env_names.iter().any(|name| {
                let key = name.trim_start_matches("SAM_").to_lowercase();
                let last = key.rsplit("__").next().unwrap_or(&key);
                message.contains(&format!("`{last}`"))
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
        assert_eq!(config.evaluation, EvaluationConfig::default());
        assert_eq!(config.log_format, LogFormat::Human);
        assert!(config.database_url.is_none());
        assert!(config.llm.providers.is_empty());
        assert_eq!(config.cache.backend, CacheBackendKind::Memory);
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
    fn nested_env_typo_is_blamed_on_env() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "[evaluation]\nconcurrency = 3\n").unwrap();
        let err = SamConfig::load_with_env(
            Some(&path),
            None,
            env(&[("SAM_EVALUATION__CONCURENCY", "4")]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("concurency"), "{err}");
        assert!(err.contains("environment"), "{err}");
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
    fn server_and_auth_sections_parse() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(
            &path,
            "[server]\nlisten = \"0.0.0.0:9000\"\nmax_body_bytes = 4096\n\
             redis_url = \"redis://127.0.0.1:6379\"\n\
             [auth]\naudience = \"sam-api\"\nalgorithm = \"HS256\"\nsigning_kid = \"k1\"\n\
             [[auth.keys]]\nkid = \"k1\"\nsecret_env = \"JWT_SIGNING_SECRET\"\n",
        )
        .unwrap();
        let config = SamConfig::load_with_env(Some(&path), None, HashMap::new()).unwrap();
        assert_eq!(config.server.listen, "0.0.0.0:9000");
        assert_eq!(config.server.max_body_bytes, 4096);
        assert_eq!(config.server.max_json_depth, 32);
        let auth = config.auth.unwrap();
        assert_eq!(
            auth.keys[0].secret_env.as_deref(),
            Some("JWT_SIGNING_SECRET")
        );
        let secret = "s".repeat(40);
        assert!(auth.build_verifier_with(|_| Some(secret.clone())).is_ok());
    }

    #[test]
    fn unknown_server_key_is_named() {
        let err =
            SamConfig::load_with_env(None, None, env(&[("SAM_SERVER__LISTN", "127.0.0.1:1")]))
                .unwrap_err();
        assert!(err.to_string().contains("listn"), "{err}");
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
        assert_eq!(config.evaluation, EvaluationConfig::default());
        assert!(config.llm.providers.is_empty());
    }

    #[test]
    fn providers_and_cache_parse_from_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(
            &path,
            "[[llm.providers]]\nname = \"deepseek\"\nkind = \"open_ai_compatible\"\n\
             base_url = \"http://127.0.0.1:9\"\nmodel = \"deepseek-chat\"\napi_key = \"env:DEEPSEEK_API_KEY\"\n\
             [llm.providers.prices]\ninput_per_million = \"0.27\"\ncached_input_per_million = \"0.07\"\n\
             output_per_million = \"1.10\"\n[cache]\nbackend = \"redis\"\nredis_url = \"redis://127.0.0.1:6379\"\n\
             [cache.levels]\ntenant_ttl = 60\n",
        )
        .unwrap();
        let config = SamConfig::load_with_env(Some(&path), None, HashMap::new()).unwrap();
        assert_eq!(config.llm.providers.len(), 1);
        assert_eq!(config.llm.providers[0].model, "deepseek-chat");
        assert_eq!(config.cache.backend, CacheBackendKind::Redis);
        assert_eq!(config.cache.levels.tenant_ttl.as_secs(), 60);
    }
}
