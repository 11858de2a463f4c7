//! Command-line definition of `samctl`. The help text lives in these doc comments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Exit codes, shown at the end of `--help`.
const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  failure (database, file or evaluator error)
  2  invalid usage or input
  3  not found
  4  conflict: already exists, or not allowed in the current state
  5  a batch finished but some rows failed (each is reported with its line)";

/// Administer SAM: provision partners, clients and users, run evaluations,
/// and read usage.
///
/// Without --database-url, samctl uses the embedded store (SQLite files) in
/// the SAM home folder, so it works on a machine with no database server.
#[derive(Debug, Parser)]
#[command(name = "samctl", version, after_long_help = EXIT_CODES, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// SAM home folder of the embedded store [default: the platform's data folder, such as ~/.local/share/sam]
    #[arg(long, global = true, env = "SAM_HOME", value_name = "DIR")]
    pub home: Option<PathBuf>,

    /// Store URL: postgres://USER@HOST/DB, or sqlite://DIR for an embedded store in DIR
    #[arg(
        long,
        global = true,
        env = "SAM_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,

    /// SAM server URL: run partner-admin commands through its HTTP API with the
    /// credential stored by `samctl login` [default: the login profile's server,
    /// unless a database URL is configured]
    #[arg(long, global = true, env = "SAMCTL_SERVER", value_name = "URL")]
    pub server: Option<String>,

    /// Configuration file [default: config.toml in the SAM home folder, if present]
    #[arg(long, global = true, env = "SAM_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Output format: tables for people, json or csv for scripts
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,

    /// Log format on stderr
    #[arg(long, global = true, value_enum, value_name = "FORMAT")]
    pub log_format: Option<LogFormatArg>,

    /// Print only results and errors: no logs, notes or progress bars
    #[arg(long, short = 'q', global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Print more logs (-v info, -vv debug, -vvv trace)
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Aligned tables.
    Table,
    /// JSON, one document per command.
    Json,
    /// CSV with a header row, safe to open in a spreadsheet.
    Csv,
}

/// Log formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormatArg {
    /// Human-readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create or upgrade the store and write a commented config.toml (safe to re-run)
    Init,
    /// Apply pending migrations to the control tables and every partner
    Migrate {
        /// List every migration and whether it is applied, without applying any
        #[arg(long)]
        status: bool,
    },
    /// Provision and manage partners (tenants)
    #[command(subcommand)]
    Partner(PartnerCommand),
    /// Manage a partner's clients (schools, faculties, municipalities)
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage a partner's users
    #[command(subcommand)]
    User(UserCommand),
    /// Define assignments and their rubrics
    #[command(subcommand)]
    Assignment(AssignmentCommand),
    /// Evaluate every submission in a JSONL or CSV file
    Evaluate(crate::commands::evaluate::EvaluateArgs),
    /// List, review and export stored evaluations
    #[command(subcommand)]
    Evaluation(EvaluationCommand),
    /// Provision a demo partner, client and teacher and evaluate the built-in quickstart answers
    Demo(crate::commands::demo::DemoArgs),
    /// Sign JWTs for users of the HTTP API
    #[command(subcommand)]
    Token(crate::commands::keys::TokenCommand),
    /// Create, list and revoke partner API keys
    #[command(subcommand)]
    Key(crate::commands::keys::KeyCommand),
    /// Store the credential (read from standard input) for a SAM server in the OS keyring
    Login(crate::commands::login::LoginArgs),
    /// Forget the stored server credential
    Logout,
    /// Show the server and credential samctl is logged in with
    Whoami,
    /// Report usage by day, client, model or provider, or rebuild the usage rollups
    Usage(crate::commands::usage::UsageArgs),
    /// Preview, close and export monthly invoices
    #[command(subcommand)]
    Billing(crate::commands::billing::BillingCommand),
}

/// The partner selector shared by tenant-scoped commands.
#[derive(Debug, Args, Clone)]
pub struct PartnerArg {
    /// Partner slug
    #[arg(long, short = 'p', value_name = "SLUG")]
    pub partner: String,
}

#[derive(Debug, Subcommand)]
pub enum PartnerCommand {
    /// Provision a partner: record it and create its schema or database file
    Create {
        /// Slug: a lower-case letter, then letters, digits or '_', at most 40 characters
        slug: String,
        /// Display name
        #[arg(long)]
        name: String,
        /// Commercial tier
        #[arg(long, value_parser = ["basic", "standard", "premium", "enterprise"])]
        tier: String,
        /// LLM routing strategy
        #[arg(long, default_value = "cost_optimized", value_parser = ["cost_optimized", "performance", "redundancy"])]
        strategy: String,
        /// Evaluations allowed per day [default: the tier's]
        #[arg(long, value_name = "N")]
        daily_quota: Option<i64>,
        /// Monthly base fee in USD [default: the tier's]
        #[arg(long, value_name = "AMOUNT")]
        monthly_fee: Option<String>,
        /// IANA time zone of quota days and billing months
        #[arg(long, default_value = "America/Santiago", value_name = "ZONE")]
        time_zone: String,
    },
    /// List partners
    List,
    /// Show one partner
    Show {
        /// Partner slug
        slug: String,
    },
    /// Stop serving a partner's requests; its data is kept
    Suspend {
        /// Partner slug
        slug: String,
    },
    /// Serve a suspended partner again
    Resume {
        /// Partner slug
        slug: String,
    },
    /// Delete a partner and ALL of its data (its schema or database file)
    Delete {
        /// Partner slug
        slug: String,
        /// Confirm the deletion; without it nothing is deleted
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Create a client in a partner
    Create {
        #[command(flatten)]
        partner: PartnerArg,
        /// Client id, unique within the partner
        client_id: String,
        /// Display name
        #[arg(long)]
        name: String,
        /// Kind of institution
        #[arg(long = "type", value_parser = ["k12", "university", "technical", "municipal"])]
        institution_type: String,
        /// Number of students
        #[arg(long, default_value_t = 0)]
        students: i64,
        /// Number of teachers
        #[arg(long, default_value_t = 0)]
        teachers: i64,
        /// Fraction of the points needed for the passing grade 4.0
        #[arg(long, default_value = "0.6")]
        exigencia: String,
    },
    /// List a partner's clients
    List {
        #[command(flatten)]
        partner: PartnerArg,
    },
    /// Show one client
    Show {
        #[command(flatten)]
        partner: PartnerArg,
        /// Client id
        client_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user in a client
    Create {
        #[command(flatten)]
        partner: PartnerArg,
        /// Client the user belongs to
        #[arg(long, short = 'c', value_name = "CLIENT_ID")]
        client: String,
        /// User id, unique within the partner
        user_id: String,
        /// Role
        #[arg(long, value_parser = ["super_admin", "partner_admin", "client_admin", "teacher", "student"])]
        role: String,
        /// Contact e-mail
        #[arg(long)]
        email: Option<String>,
    },
    /// List a partner's users
    List {
        #[command(flatten)]
        partner: PartnerArg,
        /// Only this client's users
        #[arg(long, short = 'c', value_name = "CLIENT_ID")]
        client: Option<String>,
    },
}

/// The partner and client that tenant data commands act on.
#[derive(Debug, Args, Clone)]
pub struct TenantArgs {
    /// Partner slug
    #[arg(long, short = 'p', value_name = "SLUG")]
    pub partner: String,
    /// Client id
    #[arg(long, short = 'c', value_name = "CLIENT_ID")]
    pub client: String,
}

#[derive(Debug, Subcommand)]
pub enum AssignmentCommand {
    /// Create one assignment from a TOML or JSON file
    Create {
        #[command(flatten)]
        tenant: TenantArgs,
        /// Assignment file (.toml or .json): id, prompt, max_points, and optional
        /// title, reference_answer, language (es|en) and rubric.criteria
        #[arg(long, short = 'f')]
        file: PathBuf,
    },
    /// Create many assignments from a JSONL or CSV file
    Import(crate::commands::assignment::ImportArgs),
    /// List a client's assignments
    List {
        #[command(flatten)]
        tenant: TenantArgs,
    },
    /// Show one assignment with its rubric
    Show {
        #[command(flatten)]
        tenant: TenantArgs,
        /// Assignment id
        assignment_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum EvaluationCommand {
    /// List evaluations
    List(crate::commands::evaluation::ListArgs),
    /// Show one evaluation with its feedback per criterion
    Show {
        #[command(flatten)]
        partner: PartnerArg,
        /// Evaluation id
        id: String,
    },
    /// Approve an AI evaluation as it is; students can then see it
    Approve {
        #[command(flatten)]
        partner: PartnerArg,
        /// Evaluation id
        id: String,
        /// Reviewing teacher's user id
        #[arg(long)]
        teacher: String,
        /// Optional comment for the student
        #[arg(long)]
        comment: Option<String>,
    },
    /// Replace an AI score with the teacher's; the AI result is kept beside it
    Override {
        #[command(flatten)]
        partner: PartnerArg,
        /// Evaluation id
        id: String,
        /// Reviewing teacher's user id
        #[arg(long)]
        teacher: String,
        /// The teacher's score in points
        #[arg(long)]
        score: f64,
        /// The reason for the new score
        #[arg(long)]
        comment: String,
    },
    /// Export evaluations as CSV or JSONL
    Export(crate::commands::evaluation::ExportArgs),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn partner_create_parses() {
        let cli = Cli::try_parse_from([
            "samctl", "partner", "create", "aptus", "--name", "Aptus", "--tier", "premium",
        ])
        .unwrap();
        assert!(matches!(
            cli.command,
            Command::Partner(PartnerCommand::Create { .. })
        ));
    }

    #[test]
    fn unknown_tier_is_rejected() {
        let err = Cli::try_parse_from([
            "samctl", "partner", "create", "aptus", "--name", "Aptus", "--tier", "gold",
        ])
        .unwrap_err();
        assert!(err.to_string().contains("gold"));
    }

    #[test]
    fn usage_parses_month_and_grouping() {
        let cli = Cli::try_parse_from([
            "samctl", "usage", "-p", "aptus", "--month", "2026-03", "--by", "client",
        ])
        .unwrap();
        let Command::Usage(args) = cli.command else {
            panic!("not a usage command");
        };
        assert!(args.command.is_none());
        assert_eq!(args.report.month.as_deref(), Some("2026-03"));
        assert_eq!(args.report.by, crate::commands::usage::GroupArg::Client);
    }

    #[test]
    fn usage_month_conflicts_with_range() {
        let err = Cli::try_parse_from([
            "samctl",
            "usage",
            "--month",
            "2026-03",
            "--from",
            "2026-03-01",
            "--to",
            "2026-03-02",
        ])
        .unwrap_err();
        assert!(err.to_string().contains("--month"), "{err}");
        let err = Cli::try_parse_from(["samctl", "usage", "--from", "2026-03-01"]).unwrap_err();
        assert!(err.to_string().contains("--to"), "{err}");
    }

    #[test]
    fn usage_rebuild_parses() {
        let cli =
            Cli::try_parse_from(["samctl", "usage", "rebuild", "--partner", "aptus"]).unwrap();
        let Command::Usage(args) = cli.command else {
            panic!("not a usage command");
        };
        assert!(args.command.is_some());
    }

    #[test]
    fn billing_export_needs_format() {
        let err =
            Cli::try_parse_from(["samctl", "billing", "export", "--month", "2026-03"]).unwrap_err();
        assert!(err.to_string().contains("--format"), "{err}");
        let cli =
            Cli::try_parse_from(["samctl", "billing", "close", "--month", "2026-03", "--yes"])
                .unwrap();
        assert!(matches!(cli.command, Command::Billing(_)));
    }

    #[test]
    fn server_is_global() {
        let cli = Cli::try_parse_from([
            "samctl",
            "client",
            "list",
            "-p",
            "aptus",
            "--server",
            "http://127.0.0.1:8000",
        ])
        .unwrap();
        assert_eq!(cli.global.server.as_deref(), Some("http://127.0.0.1:8000"));
    }

    #[test]
    fn output_format_is_global() {
        let cli = Cli::try_parse_from(["samctl", "partner", "list", "--output", "json"]).unwrap();
        assert_eq!(cli.global.output, OutputFormat::Json);
    }
}
