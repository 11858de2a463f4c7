//! Shared pieces of the example programs: the store options every program
//! takes, partner and client provisioning, and logging set-up.

use std::path::PathBuf;

use anyhow::Context as _;
use sam_core::config::SamConfig;
use sam_core::tenancy::{
    Client, GradeScale, InstitutionType, LlmStrategy, NewClient, NewPartner, Partner, PartnerSlug,
    Tier,
};
use sam_core::{Error, Sam};

/// Store location and configuration options shared by the example programs.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// SAM home folder of the embedded SQLite store.
    #[arg(long, conflicts_with = "database_url")]
    pub home: Option<PathBuf>,
    /// Store URL, `postgres://USER@HOST/DB` or `sqlite://HOME_DIR`.
    #[arg(long)]
    pub database_url: Option<String>,
    /// SAM configuration file (TOML); its `llm` section selects LLM
    /// providers. Without one, the offline rubric scorer grades.
    #[arg(long)]
    pub config: Option<PathBuf>,
}

impl StoreArgs {
    /// Opens a [`Sam`] handle, creating or upgrading the store first when `init` is set.
    ///
    /// # Errors
    /// An invalid configuration file, no store location, or a store that
    /// cannot be opened.
    pub async fn open(&self, init: bool) -> anyhow::Result<Sam> {
        let config = match &self.config {
            Some(path) => SamConfig::load(Some(path), None)?,
            None => SamConfig::default(),
        };
        let mut builder = Sam::builder().config(config).init(init);
        if let Some(home) = &self.home {
            builder = builder.embedded(home);
        }
        if let Some(url) = &self.database_url {
            builder = builder.database_url(url);
        }
        builder.build().await.context("cannot open the SAM store")
    }
}

/// Returns the partner `slug`, creating it on the basic tier when it does not exist.
///
/// # Errors
/// An invalid slug or a store error.
pub async fn ensure_partner(sam: &Sam, slug: &str) -> Result<Partner, Error> {
    match sam.partner(slug).await {
        Ok(partner) => Ok(partner),
        Err(Error::NotFound { .. }) => {
            sam.create_partner(NewPartner {
                slug: PartnerSlug::parse(slug)?,
                name: slug.to_owned(),
                tier: Tier::Basic,
                strategy: LlmStrategy::CostOptimized,
                daily_quota: None,
                monthly_fee: None,
                time_zone: None,
            })
            .await
        }
        Err(err) => Err(err),
    }
}

/// Returns the client `client_id` of `partner`, creating it as a K-12
/// school on the default Chilean grade scale when it does not exist.
///
/// # Errors
/// An invalid id, an unknown partner, or a store error.
pub async fn ensure_school(sam: &Sam, partner: &str, client_id: &str) -> Result<Client, Error> {
    let new = NewClient {
        client_id: client_id.to_owned(),
        name: client_id.to_owned(),
        institution_type: InstitutionType::K12,
        students_count: 0,
        teachers_count: 0,
        grade_scale: GradeScale::default(),
    };
    sam.ensure_client(partner, new).await
}

/// Sends `tracing` output to stderr at the level in `RUST_LOG`, `info` by default.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
