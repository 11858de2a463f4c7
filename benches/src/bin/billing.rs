//! Loads usage events for many partners into a fresh PostgreSQL database,
//! builds their rollups, and times a month's invoice export over every
//! partner and a month's usage by day for one partner.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use sam_benches::stats::median;
use sam_core::billing::{export, Billing, BillingConfig, Invoice};
use sam_core::metering::{Month, UsageGroup, UsageQuery};
use sam_core::store::{Store, StoreLocation, StoreOptions};
use sam_core::tenancy::{
    GradeScale, InstitutionType, LlmStrategy, NewClient, NewPartner, PartnerSlug, Tier,
};
use sqlx::{Connection, Executor, PgConnection};

/// Times `billing export` and `usage --by day` over usage events loaded
/// into a new database, which is dropped at the end unless --keep is given.
#[derive(Debug, Parser)]
struct Args {
    /// PostgreSQL server and database to create the benchmark database from
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    postgres_url: String,
    /// Usage events to load, spread evenly over the partners
    #[arg(long, default_value_t = 10_000_000)]
    events: u64,
    /// Partners
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=999))]
    partners: u32,
    /// Clients per partner
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=999))]
    clients: u32,
    /// Timed runs of each query; the median is printed
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..))]
    runs: u32,
    /// Keep the benchmark database instead of dropping it
    #[arg(long)]
    keep: bool,
}

/// Events are spread over the 181 days of January to June 2026, and the
/// timed month is March.
const FIRST_DAY: &str = "2026-01-01";
const DAYS: u64 = 181;
const TIMED_MONTH: &str = "2026-03";

const MODELS: [(&str, &str, i64); 4] = [
    ("self_hosted", "llama-3.1-8b", 0),
    ("deepseek", "deepseek-chat", 270),
    ("deepseek", "deepseek-chat-cached", 70),
    ("anthropic", "claude-sonnet", 3_000),
];

fn main() -> std::process::ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "error: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(Args::parse())) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn progress(message: &str) {
    let _ = writeln!(std::io::stderr(), "{message}");
}

/// Replaces the database name of a PostgreSQL URL.
fn with_database(url: &str, database: &str) -> anyhow::Result<String> {
    let mut parsed = url::Url::parse(url).context("invalid --postgres-url")?;
    parsed.set_path(database);
    Ok(parsed.to_string())
}

async fn run(args: Args) -> anyhow::Result<()> {
    let name = format!("sam_bench_billing_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&args.postgres_url).await?;
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await?;
    let url = with_database(&args.postgres_url, &name)?;
    let result = bench(&args, &url).await;
    if args.keep {
        progress(&format!("kept database {name}"));
    } else {
        admin
            .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
            .await?;
    }
    admin.close().await?;
    result
}

fn partner_slug(index: u32) -> String {
    format!("p{index:03}")
}

async fn bench(args: &Args, url: &str) -> anyhow::Result<()> {
    let store = Store::init(
        &StoreLocation::Postgres(url.to_owned()),
        StoreOptions::default(),
    )
    .await?;
    let started = Instant::now();
    for index in 0..args.partners {
        let slug = PartnerSlug::parse(&partner_slug(index))?;
        store
            .create_partner(NewPartner {
                slug: slug.clone(),
                name: format!("Partner {index}"),
                tier: Tier::ALL[usize::try_from(index)? % Tier::ALL.len()],
                strategy: LlmStrategy::CostOptimized,
                daily_quota: None,
                monthly_fee: None,
                time_zone: None,
            })
            .await?;
        let db = store.partner_db(&slug).await?;
        for client in 0..args.clients {
            db.create_client(NewClient {
                client_id: format!("c{client:03}"),
                name: format!("School {client}"),
                institution_type: InstitutionType::K12,
                students_count: 500,
                teachers_count: 20,
                grade_scale: GradeScale::default(),
            })
            .await?;
        }
    }
    progress(&format!(
        "provisioned {} partners in {:.1} s",
        args.partners,
        started.elapsed().as_secs_f64()
    ));

    let load = load_events(args, url).await?;
    let mut conn = PgConnection::connect(url).await?;
    // The partners are created today, and a month that ended before its
    // partner was created has no invoice, so they are dated back to the
    // timed month's first day.
    let month: Month = TIMED_MONTH.parse()?;
    sqlx::query("UPDATE sam_control.tenants SET created_at = $1")
        .bind(format!("{}T00:00:00.000000Z", month.first_day()))
        .execute(&mut conn)
        .await?;
    let analyze_started = Instant::now();
    conn.execute("VACUUM ANALYZE").await?;
    let analyze = analyze_started.elapsed();
    let rebuild_started = Instant::now();
    for index in 0..args.partners {
        let slug = PartnerSlug::parse(&partner_slug(index))?;
        store
            .partner_db(&slug)
            .await?
            .rebuild_usage_rollups()
            .await?;
    }
    let rebuild = rebuild_started.elapsed();
    conn.execute("ANALYZE").await?;
    conn.close().await?;

    let billing = Billing::new(store.clone(), BillingConfig::default())?;
    let mut export_times = Vec::new();
    let mut exported = (0, 0);
    for _ in 0..args.runs {
        let started = Instant::now();
        let invoices: Vec<Invoice> = billing
            .invoices(month, None)
            .await?
            .into_iter()
            .map(Invoice::without_platform)
            .collect();
        let mut csv = Vec::new();
        export::write_csv(&mut csv, &invoices)?;
        export_times.push(started.elapsed().as_secs_f64());
        let evaluations: i64 = invoices.iter().map(|i| i.evaluations).sum();
        exported = (evaluations, csv.len());
    }

    let db = store
        .partner_db(&PartnerSlug::parse(&partner_slug(0))?)
        .await?;
    let query = UsageQuery {
        range: month.days(),
        client_id: None,
        group: UsageGroup::Day,
    };
    let mut usage_times = Vec::new();
    let mut usage_rows = 0;
    for _ in 0..args.runs {
        let started = Instant::now();
        let report = db.usage(&query).await?;
        usage_times.push(started.elapsed().as_secs_f64());
        usage_rows = report.rows.len();
    }
    let mut raw_times = Vec::new();
    for _ in 0..args.runs {
        let started = Instant::now();
        std::hint::black_box(db.raw_usage_totals(month.days()).await?);
        raw_times.push(started.elapsed().as_secs_f64());
    }
    store.close().await;

    let ms = |values: &[f64]| median(values).map_or(f64::NAN, |m| m * 1000.0);
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{} events, {} partners x {} clients, days {FIRST_DAY} + {DAYS}",
        args.events, args.partners, args.clients
    )?;
    writeln!(
        out,
        "load with COPY: {:.1} s ({:.0} events/s); VACUUM ANALYZE: {:.1} s; \
         rebuild of every partner's rollups: {:.1} s",
        load.as_secs_f64(),
        rate(args.events, load),
        analyze.as_secs_f64(),
        rebuild.as_secs_f64()
    )?;
    writeln!(
        out,
        "billing export {TIMED_MONTH}, all partners, CSV: median {:.1} ms of {} runs \
         ({} evaluations, {} bytes)",
        ms(&export_times),
        args.runs,
        exported.0,
        exported.1
    )?;
    writeln!(
        out,
        "usage --by day {TIMED_MONTH}, one partner: median {:.2} ms of {} runs ({usage_rows} rows)",
        ms(&usage_times),
        args.runs
    )?;
    writeln!(
        out,
        "for comparison, summing the same partner-month from raw events: median {:.1} ms",
        ms(&raw_times)
    )?;
    Ok(())
}

#[allow(clippy::cast_precision_loss)]
fn rate(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

/// Loads the events with one `COPY` per partner, two partners at a time.
async fn load_events(args: &Args, url: &str) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let per_partner = args.events / u64::from(args.partners);
    let extra = args.events % u64::from(args.partners);
    let mut pending = Vec::new();
    for index in 0..args.partners {
        let count = per_partner + u64::from(u64::from(index) < extra);
        let url = url.to_owned();
        let clients = args.clients;
        pending.push(tokio::spawn(async move {
            copy_partner(&url, index, count, clients).await
        }));
        if pending.len() == 2 {
            for task in pending.drain(..) {
                task.await??;
            }
            progress(&format!(
                "loaded {} of {} partners, {:.0} s",
                index + 1,
                args.partners,
                started.elapsed().as_secs_f64()
            ));
        }
    }
    for task in pending {
        task.await??;
    }
    Ok(started.elapsed())
}

/// Streams `count` events of one partner through `COPY ... FROM STDIN`.
async fn copy_partner(url: &str, index: u32, count: u64, clients: u32) -> anyhow::Result<()> {
    let slug = partner_slug(index);
    let mut conn = PgConnection::connect(url).await?;
    let statement = format!(
        "COPY \"partner_{slug}\".usage_events (id, idempotency_key, kind, occurred_at, \
         local_day, client_id, user_id, assignment_id, evaluation_id, provider, model, \
         input_tokens, cached_input_tokens, output_tokens, cost_nanos, cache_hit) FROM STDIN"
    );
    let mut copy = conn.copy_in_raw(&statement).await?;
    let first: chrono::NaiveDate = FIRST_DAY.parse()?;
    let mut buffer = String::with_capacity(8 << 20);
    for n in 0..count {
        let day = first + chrono::Days::new(n % DAYS);
        let second = (n / DAYS) % 86_400;
        // Noon in Santiago and later, so the local day is the UTC day.
        let (hour, minute, sec) = (15 + second / 3600 % 9, second / 60 % 60, second % 60);
        let (provider, model, price) = MODELS[usize::try_from(n % 4)?];
        let input = 800 + n % 1_500;
        let cached = if n % 4 == 2 { input / 2 } else { 0 };
        let output = 150 + n % 300;
        let cost = i64::try_from(input + output)? * price;
        let client = (n * 7 + n / 13) % u64::from(clients);
        let cache_hit = u8::from(n % 10 == 0);
        std::fmt::Write::write_fmt(
            &mut buffer,
            format_args!(
                "{slug}-{n}\tevaluation:{slug}:{n}\tevaluation\t{day}T{hour:02}:{minute:02}:{sec:02}.000000Z\t\
                 {day}\tc{client:03}\t\\N\ta1\t\\N\t{provider}\t{model}\t{input}\t{cached}\t{output}\t{cost}\t{cache_hit}\n"
            ),
        )?;
        if buffer.len() >= 8 << 20 {
            copy.send(buffer.as_bytes()).await?;
            buffer.clear();
        }
    }
    copy.send(buffer.as_bytes()).await?;
    copy.finish().await?;
    conn.close().await?;
    Ok(())
}
