//! [`SamBuilder`]: where the store lives, what grades, and whether to
//! create or upgrade the store on start.

use std::path::PathBuf;
use std::sync::Arc;

use super::grader::Grader;
use super::Sam;
use crate::config::SamConfig;
use crate::eval::Evaluator;
use crate::store::{Store, StoreLocation, StoreOptions};
use crate::Error;

/// Builds a [`Sam`] handle. Start with [`Sam::builder`].
///
/// The store is the embedded one in [`embedded`](Self::embedded)'s folder
/// or the database of [`database_url`](Self::database_url); when neither
/// is called, the `database_url` or `home` of [`config`](Self::config).
#[derive(Debug, Default)]
#[must_use = "a builder does nothing until `build` is awaited"]
pub struct SamBuilder {
    location: Option<Location>,
    config: SamConfig,
    evaluator: Option<Arc<dyn Evaluator>>,
    init: bool,
    options: StoreOptions,
}

/// A store location as given to the builder, parsed in `build`.
#[derive(Debug)]
enum Location {
    Home(PathBuf),
    Url(String),
}

impl SamBuilder {
    /// Keeps the data in SQLite files inside `home`: one control database
    /// and one file per partner. The folder is created by [`init`](Self::init).
    pub fn embedded(mut self, home: impl Into<PathBuf>) -> Self {
        self.location = Some(Location::Home(home.into()));
        self
    }

    /// Keeps the data in the database at `url`: `postgres://USER@HOST/DB`
    /// for one schema per partner, or `sqlite://HOME_DIR` for the embedded store.
    pub fn database_url(mut self, url: impl Into<String>) -> Self {
        self.location = Some(Location::Url(url.into()));
        self
    }

    /// Uses `config` for the evaluator (its `llm`, `cache` and `evaluation`
    /// sections) and, unless a location was given, for the store.
    pub fn config(mut self, config: SamConfig) -> Self {
        self.config = config;
        self
    }

    /// Grades with `evaluator` instead of the one the configuration's `llm`
    /// and `cache` sections describe. `evaluation.max_submission_bytes` still applies.
    pub fn evaluator(mut self, evaluator: Arc<dyn Evaluator>) -> Self {
        self.evaluator = Some(evaluator);
        self
    }

    /// Sets whether [`build`](Self::build) creates the store if it is
    /// missing and applies pending migrations (`true`), or only opens an
    /// initialised store (`false`, the default).
    pub fn init(mut self, init: bool) -> Self {
        self.init = init;
        self
    }

    /// Sets the connection pool settings.
    pub fn store_options(mut self, options: StoreOptions) -> Self {
        self.options = options;
        self
    }

    /// Opens (or, with [`init`](Self::init), creates) the store and builds
    /// the evaluator.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a missing or malformed location or an
    /// unusable `llm` or `cache` setting, and [`Error::Unavailable`] when
    /// the store cannot be reached or was never initialised.
    pub async fn build(self) -> Result<Sam, Error> {
        let location = self.resolve_location()?;
        let grader = match self.evaluator {
            Some(evaluator) => {
                Grader::with_evaluator(evaluator, self.config.evaluation.max_submission_bytes)
            }
            None => Grader::from_config(&self.config)?,
        };
        let store = if self.init {
            Store::init(&location, self.options).await?
        } else {
            Store::open(&location, self.options).await?
        };
        tracing::debug!(store = %store.describe(), "SAM handle opened");
        Ok(Sam::from_parts(store, grader))
    }

    fn resolve_location(&self) -> Result<StoreLocation, Error> {
        let parse = |url: &str| {
            StoreLocation::parse(url).map_err(|err| {
                Error::invalid_input(
                    "database_url",
                    redacted_scheme(url),
                    format!("{err}; expected postgres://USER@HOST/DB or sqlite://HOME_DIR"),
                )
            })
        };
        match (&self.location, &self.config.database_url, &self.config.home) {
            (Some(Location::Home(home)), _, _) => Ok(StoreLocation::Sqlite(home.clone())),
            (Some(Location::Url(url)), _, _) | (None, Some(url), _) => parse(url),
            (None, None, Some(home)) => Ok(StoreLocation::Sqlite(home.clone())),
            (None, None, None) => Err(Error::invalid_input(
                "store",
                "",
                "call embedded(HOME_DIR) or database_url(URL), or set home or database_url in the config",
            )),
        }
    }
}

/// Returns the part of a URL before `://`, so an error never shows a password.
fn redacted_scheme(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, _)) => format!("{scheme}://..."),
        None => "<not a URL>".to_owned(),
    }
}
