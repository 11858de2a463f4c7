//! `samctl demo`: a demo partner, client and teacher, and an evaluation of
//! the built-in quickstart answers, to show the main job end to end.

use std::path::Path;
use std::process::ExitCode;

use clap::Args;
use sam_core::eval::AssignmentInput;
use sam_core::store::{EvaluationFilter, Store, StoreOptions};
use sam_core::tenancy::{
    GradeScale, InstitutionType, LlmStrategy, NewClient, NewPartner, NewUser, PartnerSlug, Role,
    TenancyError, Tier,
};

use crate::app::Context;
use crate::cli::{OutputFormat, TenantArgs};
use crate::commands::evaluate::{self, EvaluateArgs};
use crate::commands::{billing, usage};
use crate::input::parse_rows;
use crate::output::{self, Listing};

const QUICKSTART_ASSIGNMENTS: &str = include_str!("../../../examples/quickstart/assignments.jsonl");
const QUICKSTART_ANSWERS: &str = include_str!("../../../examples/quickstart/answers.jsonl");

/// Options of `samctl demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Slug of the demo partner
    #[arg(long, default_value = "demo")]
    pub partner: String,
    /// Id of the demo client
    #[arg(long, default_value = "colegio_demo")]
    pub client: String,
    /// Id of the demo teacher
    #[arg(long, default_value = "prof_demo")]
    pub teacher: String,
}

/// Runs `result`, treating "already exists" as success so the demo can be re-run.
fn existing_is_fine<T>(result: Result<T, TenancyError>) -> anyhow::Result<()> {
    match result {
        Ok(_) | Err(TenancyError::AlreadyExists { .. }) => Ok(()),
        Err(err) => Err(err.into()),
    }
}

/// Returns the global option that points later commands at this store, so
/// the suggested commands work when copied as they are.
fn store_flag(context: &Context) -> String {
    match &context.location {
        sam_core::store::StoreLocation::Sqlite(home) => format!("--home {} ", home.display()),
        sam_core::store::StoreLocation::Postgres(_) => {
            "--database-url \"$SAM_DATABASE_URL\" ".to_owned()
        }
    }
}

pub async fn run(context: &Context, args: DemoArgs) -> anyhow::Result<ExitCode> {
    let store = Store::init(&context.location, StoreOptions::default()).await?;
    let slug = PartnerSlug::parse(&args.partner)?;
    existing_is_fine(
        store
            .create_partner(NewPartner {
                slug: slug.clone(),
                name: "Demo Partner".to_owned(),
                tier: Tier::Standard,
                strategy: LlmStrategy::CostOptimized,
                daily_quota: None,
                monthly_fee: None,
                time_zone: None,
            })
            .await,
    )?;
    let db = store.partner_db(&slug).await?;
    existing_is_fine(
        db.create_client(NewClient {
            client_id: args.client.clone(),
            name: "Colegio Demo".to_owned(),
            institution_type: InstitutionType::K12,
            students_count: 9,
            teachers_count: 1,
            grade_scale: GradeScale::default(),
        })
        .await,
    )?;
    existing_is_fine(
        db.create_user(NewUser {
            user_id: args.teacher.clone(),
            client_id: args.client.clone(),
            role: Role::Teacher,
            email: Some("prof.demo@example.org".to_owned()),
        })
        .await,
    )?;
    for line in QUICKSTART_ASSIGNMENTS
        .lines()
        .filter(|l| !l.trim().is_empty())
    {
        let input: AssignmentInput = serde_json::from_str(line)?;
        let assignment = input.into_assignment(&args.client)?;
        if db
            .assignment(&args.client, &assignment.assignment_id)
            .await
            .is_err()
        {
            db.create_assignment(&assignment, Some(&args.teacher))
                .await?;
        }
    }

    let client = db.client(&args.client).await?;
    let evaluate_args = EvaluateArgs {
        tenant: TenantArgs {
            partner: args.partner.clone(),
            client: args.client.clone(),
        },
        file: "quickstart/answers.jsonl".into(),
        assignment: None,
        assignment_field: "assignment_id".to_owned(),
        id_field: "id".to_owned(),
        student_field: "student_id".to_owned(),
        text_field: "text".to_owned(),
        teacher: Some(args.teacher.clone()),
        concurrency: None,
        results: None,
        providers: Vec::new(),
    };
    let rows = parse_rows(
        Path::new("quickstart/answers.jsonl"),
        Some("jsonl"),
        QUICKSTART_ANSWERS.as_bytes(),
    )?;
    let (engine, _) = crate::evaluator::build_engine(context, db.partner(), &[]).await?;
    let summary =
        evaluate::evaluate_file(context, &db, &client, &engine, &evaluate_args, rows).await?;

    let filter = EvaluationFilter {
        client_id: Some(args.client.clone()),
        ..EvaluationFilter::default()
    };
    let mut evaluations = db.evaluations(&filter).await?;
    evaluations.sort_by(|a, b| {
        (&a.assignment_id, &a.submission_id).cmp(&(&b.assignment_id, &b.submission_id))
    });
    if context.output == OutputFormat::Json {
        output::print(
            &Listing {
                columns: vec![],
                rows: vec![],
                json: serde_json::json!({ "summary": summary, "evaluations": evaluations }),
            },
            context.output,
        )?;
    } else {
        output::note(
            context.output,
            &format!("SAM demo in {}\n", store.describe()),
        )?;
        let listing = Listing::new(
            vec![
                "assignment",
                "student",
                "score",
                "grade",
                "flags",
                "feedback",
            ],
            &evaluations,
            |e| {
                vec![
                    e.assignment_id.clone(),
                    e.student_id.clone(),
                    format!("{:.1}/{}", e.score, e.max_points),
                    format!("{:.1}", e.grade),
                    e.flags.join(" "),
                    e.overall_feedback.chars().take(90).collect(),
                ]
            },
        )?;
        output::print(&listing, context.output)?;
        output::note(context.output, "\nSummary")?;
        output::print(&summary.listing()?, context.output)?;
        let partner = db.partner().clone();
        let zone = sam_core::metering::parse_zone(&partner.time_zone)?;
        let month = sam_core::metering::Month::of_time(chrono::Utc::now(), zone).to_string();
        output::note(
            context.output,
            &format!("\nUsage this month ({month}) by client"),
        )?;
        usage::run(
            context,
            usage::UsageArgs {
                command: None,
                report: usage::ReportArgs {
                    partner: Some(args.partner.clone()),
                    client: None,
                    from: None,
                    to: None,
                    month: Some(month.clone()),
                    by: usage::GroupArg::Client,
                },
            },
        )
        .await?;
        output::note(
            context.output,
            &format!("\nBilling preview for {month} (draft until the month is closed)"),
        )?;
        billing::run(
            context,
            billing::BillingCommand::Preview {
                partner: Some(args.partner.clone()),
                month,
                platform: false,
            },
        )
        .await?;
        output::note(
            context.output,
            &format!(
                "\nNext: samctl {g}evaluation list --partner {p} --client {c}\n      \
                 samctl {g}evaluation approve --partner {p} ID --teacher {t}",
                g = store_flag(context),
                p = args.partner,
                c = args.client,
                t = args.teacher
            ),
        )?;
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
