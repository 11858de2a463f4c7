//! Metering and billing on PostgreSQL and SQLite: evaluations billed once,
//! exact sums, rollup rebuilds, invoices per client, closed months and
//! month boundaries in America/Santiago.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sam_core::billing::{
    Billing, BillingConfig, BillingError, InvoiceStatus, LineKind, ModelCost, PlanSettings,
};
use sam_core::engine::{Engine, Outcome};
use sam_core::eval::{
    Assignment, AssignmentInput, Evaluator, EvaluatorError, Grading, GradingRequest, OfflineScorer,
    SubmissionInput, TokenUsage,
};
use sam_core::llm::Prices;
use sam_core::metering::{Month, UsageEvent, UsageGroup, UsageQuery, UsageTotals};
use sam_core::store::{PartnerDb, Store, StoreLocation};
use sam_core::tenancy::{
    Client, GradeScale, InstitutionType, LlmStrategy, NewClient, NewPartner, PartnerSlug, Tier,
};
use sam_tests::{on_both_stores, TestLocation};
use sqlx::{Connection, Executor};

const TOKENS: u64 = 1_234_567;

/// The creation time given to partners whose tests bill January to March
/// 2026, because a month that ended before its partner was created has no
/// invoice.
const CREATED_IN_JANUARY: &str = "2026-01-05T15:00:00Z";

/// 1,234,567 input tokens at 0.15 USD per million.
fn request_usage() -> (TokenUsage, i64) {
    let usage = TokenUsage {
        input_tokens: TOKENS,
        cached_input_tokens: 0,
        output_tokens: 0,
    };
    let prices = Prices {
        input_per_million: Decimal::new(15, 2),
        ..Prices::default()
    };
    let cost = prices.cost_nanos(&usage).unwrap();
    (usage, cost)
}

/// The offline scorer, reporting the usage and cost of one paid model
/// request and counting its calls. When `interrupt` is `(n, store)`, call
/// `n` closes the store after grading, before the engine writes the result.
#[derive(Debug)]
struct MeteredScorer {
    scorer: OfflineScorer,
    calls: AtomicUsize,
    interrupt: Option<(usize, Store)>,
}

impl MeteredScorer {
    fn new(interrupt: Option<(usize, Store)>) -> Arc<Self> {
        Arc::new(Self {
            scorer: OfflineScorer::new(),
            calls: AtomicUsize::new(0),
            interrupt,
        })
    }
}

#[async_trait]
impl Evaluator for MeteredScorer {
    async fn grade(&self, request: GradingRequest<'_>) -> Result<Grading, EvaluatorError> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let mut grading = self.scorer.score(request.assignment, request.submission);
        let (usage, cost) = request_usage();
        grading.provider = "deepseek".to_owned();
        grading.model = "deepseek-chat".to_owned();
        grading.usage = usage;
        grading.cost_nanos = cost;
        if let Some((on, store)) = &self.interrupt {
            if call == *on {
                store.close().await;
            }
        }
        Ok(grading)
    }
}

fn partner(slug: &str, tier: Tier) -> NewPartner {
    NewPartner {
        slug: PartnerSlug::parse(slug).unwrap(),
        name: format!("Partner {slug}"),
        tier,
        strategy: LlmStrategy::CostOptimized,
        daily_quota: None,
        monthly_fee: Some(Decimal::new(10_000, 2)),
        time_zone: None,
    }
}

async fn add_client(db: &PartnerDb, client_id: &str) -> Client {
    db.create_client(NewClient {
        client_id: client_id.to_owned(),
        name: format!("School {client_id}"),
        institution_type: InstitutionType::K12,
        students_count: 10,
        teachers_count: 1,
        grade_scale: GradeScale::default(),
    })
    .await
    .unwrap()
}

async fn add_assignment(db: &PartnerDb, client_id: &str) -> Assignment {
    let assignment = AssignmentInput {
        id: "a1".to_owned(),
        title: None,
        prompt: "What is a variable?".to_owned(),
        reference_answer: Some("A named location in memory that stores a value.".to_owned()),
        max_points: 5.0,
        language: Some("en".to_owned()),
        rubric: None,
    }
    .into_assignment(client_id)
    .unwrap();
    db.create_assignment(&assignment, None).await.unwrap();
    assignment
}

fn submission(id: &str) -> SubmissionInput {
    SubmissionInput {
        submission_id: id.to_owned(),
        assignment_id: "a1".to_owned(),
        student_id: format!("student_{id}"),
        text: "A variable names a place in memory that holds a value.".to_owned(),
    }
}

fn time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn event(key: &str, client_id: &str, at: &str, cost_nanos: i64) -> UsageEvent {
    UsageEvent {
        idempotency_key: key.to_owned(),
        kind: "evaluation".to_owned(),
        occurred_at: time(at),
        client_id: client_id.to_owned(),
        user_id: None,
        assignment_id: Some("a1".to_owned()),
        evaluation_id: None,
        provider: "deepseek".to_owned(),
        model: "deepseek-chat".to_owned(),
        input_tokens: TOKENS,
        cached_input_tokens: 0,
        output_tokens: 100,
        cost_nanos,
        cache_hit: false,
    }
}

async fn month_usage(
    db: &PartnerDb,
    month: &str,
    group: UsageGroup,
) -> sam_core::metering::UsageReport {
    let month: Month = month.parse().unwrap();
    db.usage(&UsageQuery {
        range: month.days(),
        client_id: None,
        group,
    })
    .await
    .unwrap()
}

/// Returns all usage from 2000 to 2100, read from the rollups, after
/// checking that the raw events have the same totals.
async fn all_usage(db: &PartnerDb) -> UsageTotals {
    let range = sam_core::metering::DateRange::new(
        "2000-01-01".parse().unwrap(),
        "2100-12-31".parse().unwrap(),
    )
    .unwrap();
    let rollups = db
        .usage(&UsageQuery {
            range,
            client_id: None,
            group: UsageGroup::Day,
        })
        .await
        .unwrap()
        .totals;
    let raw = db.raw_usage_totals(range).await.unwrap();
    assert_eq!(rollups, raw, "rollups differ from raw events");
    rollups
}

/// Runs `sql` directly on the partner's data, bypassing SAM.
async fn partner_sql(location: &StoreLocation, slug: &str, table: &str, sql: &str) {
    match location {
        StoreLocation::Postgres(url) => {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            let qualified = format!("\"partner_{slug}\".{table}");
            conn.execute(sql.replace("{table}", &qualified).as_str())
                .await
                .unwrap();
        }
        StoreLocation::Sqlite(home) => {
            let path = home.join("partners").join(format!("{slug}.db"));
            let url = format!("sqlite://{}", path.display());
            let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
            conn.execute(sql.replace("{table}", table).as_str())
                .await
                .unwrap();
        }
    }
}

async fn retried_evaluation_billed_once(location: &TestLocation) {
    let store = location.init().await;
    store
        .create_partner(partner("aptus", Tier::Basic))
        .await
        .unwrap();
    let db = store
        .partner_db(&PartnerSlug::parse("aptus").unwrap())
        .await
        .unwrap();
    let client = add_client(&db, "c1").await;
    let assignment = add_assignment(&db, "c1").await;
    let scorer = MeteredScorer::new(None);
    let engine = Engine::new(scorer.clone());

    let first = engine
        .evaluate(&db, &client, &assignment, None, &submission("s1"))
        .await
        .unwrap();
    let retry = engine
        .evaluate(&db, &client, &assignment, None, &submission("s1"))
        .await
        .unwrap();
    assert!(matches!(first, Outcome::Evaluated(_)));
    assert!(matches!(retry, Outcome::AlreadyEvaluated(_)));
    assert_eq!(first.evaluation().id, retry.evaluation().id);

    // Two requests racing with the same submission id.
    let racing = submission("s2");
    let (a, b) = tokio::join!(
        engine.evaluate(&db, &client, &assignment, None, &racing),
        engine.evaluate(&db, &client, &assignment, None, &racing),
    );
    let evaluated = [a.unwrap(), b.unwrap()]
        .iter()
        .filter(|o| matches!(o, Outcome::Evaluated(_)))
        .count();
    assert_eq!(evaluated, 1);

    let totals = all_usage(&db).await;
    assert_eq!(totals.events, 2);
    let (_, cost) = request_usage();
    assert_eq!(totals.cost_nanos, 2 * cost);
    assert_eq!(totals.input_tokens, 2 * 1_234_567);

    // Recording the same idempotency key directly changes nothing either.
    let again = event("evaluation:c1:a1:s1", "c1", "2026-03-10T12:00:00Z", cost);
    assert!(!db.record_usage(&again).await.unwrap());
    assert_eq!(all_usage(&db).await.events, 2);
}
on_both_stores!(retried_evaluation_billed_once);

async fn interrupted_batch_billed_once(location: &TestLocation) {
    let store = location.init().await;
    store
        .create_partner(partner("aptus", Tier::Basic))
        .await
        .unwrap();
    let slug = PartnerSlug::parse("aptus").unwrap();
    let db = store.partner_db(&slug).await.unwrap();
    let client = add_client(&db, "c1").await;
    let assignment = add_assignment(&db, "c1").await;
    let batch = ["s1", "s2", "s3"];

    // The store closes during the second grading, after the model returned
    // its result and before the result is written.
    let scorer = MeteredScorer::new(Some((2, store.clone())));
    let engine = Engine::new(scorer.clone());
    let mut failed = 0;
    for id in batch {
        if engine
            .evaluate(&db, &client, &assignment, None, &submission(id))
            .await
            .is_err()
        {
            failed += 1;
            break;
        }
    }
    assert_eq!(failed, 1, "the batch was not interrupted");
    assert_eq!(scorer.calls.load(Ordering::SeqCst), 2);

    // Resume the whole batch with a fresh store handle.
    let store = location.init().await;
    let db = store.partner_db(&slug).await.unwrap();
    let engine = Engine::new(scorer.clone());
    let mut outcomes = Vec::new();
    for id in batch {
        let outcome = engine
            .evaluate(&db, &client, &assignment, None, &submission(id))
            .await
            .unwrap();
        outcomes.push(matches!(outcome, Outcome::Evaluated(_)));
    }
    assert_eq!(outcomes, [false, true, true], "only s1 was stored before");
    assert_eq!(scorer.calls.load(Ordering::SeqCst), 4);
    let totals = all_usage(&db).await;
    assert_eq!(totals.events, 3);
    let (_, cost) = request_usage();
    assert_eq!(totals.cost_nanos, 3 * cost);
}
on_both_stores!(interrupted_batch_billed_once);

fn at_cost_config(slug: &str, markup: Decimal) -> BillingConfig {
    let mut partners = BTreeMap::new();
    partners.insert(
        slug.to_owned(),
        PlanSettings {
            model_cost: Some(ModelCost::AtCost),
            markup_percent: Some(markup),
            included_evaluations: Some(10),
            price_per_evaluation: Some(Decimal::new(10, 2)),
            ..PlanSettings::default()
        },
    );
    BillingConfig {
        partners,
        ..BillingConfig::default()
    }
}

async fn token_cost_sums_match(location: &TestLocation) {
    let store = location.init().await;
    store
        .create_partner(partner("aptus", Tier::Basic))
        .await
        .unwrap();
    location
        .set_partner_created_at("aptus", time(CREATED_IN_JANUARY))
        .await;
    let slug = PartnerSlug::parse("aptus").unwrap();
    let db = store.partner_db(&slug).await.unwrap();
    add_client(&db, "c1").await;
    let (_, per_request) = request_usage();
    assert_eq!(per_request, 185_185_050, "0.18518505 USD per request");

    // Three requests a day on each of the 31 days of March 2026, at noon
    // in Santiago (15:00 UTC).
    for day in 1..=31 {
        for n in 0..3 {
            let at = format!("2026-03-{day:02}T15:00:0{n}Z");
            let key = format!("march-{day}-{n}");
            assert!(db
                .record_usage(&event(&key, "c1", &at, per_request))
                .await
                .unwrap());
        }
    }
    let by_day = month_usage(&db, "2026-03", UsageGroup::Day).await;
    assert_eq!(by_day.rows.len(), 31);
    for row in &by_day.rows {
        assert_eq!(row.totals.events, 3, "{}", row.key);
        assert_eq!(row.totals.input_tokens, 3 * 1_234_567, "{}", row.key);
        assert_eq!(row.totals.cost_nanos, 3 * per_request, "{}", row.key);
    }
    let day_sum: i64 = by_day.rows.iter().map(|r| r.totals.cost_nanos).sum();
    assert_eq!(day_sum, 93 * per_request);
    assert_eq!(by_day.totals.cost_nanos, 93 * per_request);
    let by_model = month_usage(&db, "2026-03", UsageGroup::Model).await;
    assert_eq!(by_model.totals, by_day.totals);
    assert_eq!(by_model.rows.len(), 1);
    assert_eq!(by_model.rows[0].totals.cost_nanos, 93 * per_request);

    // 93 * 0.18518505 = 17.22220965 USD, billed as 17.22.
    let billing = Billing::new(store.clone(), at_cost_config("aptus", Decimal::ZERO)).unwrap();
    let invoice = billing
        .invoice(&slug, "2026-03".parse().unwrap())
        .await
        .unwrap();
    let model_cost = invoice
        .lines
        .iter()
        .find(|l| l.kind == LineKind::ModelCost)
        .unwrap();
    assert_eq!(model_cost.quantity.to_string(), "17.22220965");
    assert_eq!(model_cost.amount.to_string(), "17.22");
    let platform = invoice.platform.as_ref().unwrap();
    assert_eq!(platform.provider_cost_nanos, 93 * per_request);
}
on_both_stores!(token_cost_sums_match);

async fn invoice_clients_sum_to_total(location: &TestLocation) {
    let store = location.init().await;
    store
        .create_partner(partner("aptus", Tier::Basic))
        .await
        .unwrap();
    location
        .set_partner_created_at("aptus", time(CREATED_IN_JANUARY))
        .await;
    let slug = PartnerSlug::parse("aptus").unwrap();
    let db = store.partner_db(&slug).await.unwrap();
    // Seven clients with 1 to 7 evaluations at uneven costs, so no line
    // splits evenly.
    for c in 1..=7 {
        let client_id = format!("c{c}");
        add_client(&db, &client_id).await;
        for n in 0..c {
            let key = format!("{client_id}-{n}");
            let cost = 123_456_789 * (n + 1) + c;
            db.record_usage(&event(&key, &client_id, "2026-02-10T15:00:00Z", cost))
                .await
                .unwrap();
        }
    }
    let billing =
        Billing::new(store.clone(), at_cost_config("aptus", Decimal::new(175, 1))).unwrap();

    let invoice = billing
        .invoice(&slug, "2026-02".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(invoice.status, InvoiceStatus::Draft);
    assert_eq!(invoice.evaluations, 28);
    assert_eq!(invoice.clients.len(), 7);
    let overage = invoice
        .lines
        .iter()
        .find(|l| l.kind == LineKind::Overage)
        .unwrap();
    assert_eq!(overage.amount.to_string(), "1.80", "18 beyond 10 at 0.10");

    let client_total: Decimal = invoice.clients.iter().map(|c| c.total).sum();
    assert_eq!(client_total, invoice.total);
    let line_total: Decimal = invoice.lines.iter().map(|l| l.amount).sum();
    assert_eq!(line_total, invoice.total);
    for line in &invoice.lines {
        let parts: Decimal = invoice
            .clients
            .iter()
            .flat_map(|c| &c.lines)
            .filter(|part| part.kind == line.kind)
            .map(|part| part.amount)
            .sum();
        assert_eq!(parts, line.amount, "{:?}", line.kind);
    }
    for client in &invoice.clients {
        assert_eq!(
            client.total.scale(),
            2,
            "{} {}",
            client.client_id,
            client.total
        );
    }
    let partner_view = serde_json::to_value(invoice.clone().without_platform()).unwrap();
    assert!(partner_view.get("platform").is_none());
}
on_both_stores!(invoice_clients_sum_to_total);

async fn closed_month_never_changes(location: &TestLocation) {
    let store = location.init().await;
    store
        .create_partner(partner("aptus", Tier::Basic))
        .await
        .unwrap();
    location
        .set_partner_created_at("aptus", time(CREATED_IN_JANUARY))
        .await;
    let slug = PartnerSlug::parse("aptus").unwrap();
    let db = store.partner_db(&slug).await.unwrap();
    add_client(&db, "c1").await;
    add_client(&db, "c2").await;
    for n in 0..12 {
        let client_id = if n % 2 == 0 { "c1" } else { "c2" };
        db.record_usage(&event(
            &format!("jan-{n}"),
            client_id,
            "2026-01-15T15:00:00Z",
            1_000_000,
        ))
        .await
        .unwrap();
    }
    let billing = Billing::new(store.clone(), at_cost_config("aptus", Decimal::ZERO)).unwrap();
    let january: Month = "2026-01".parse().unwrap();
    let february = january.next();

    let closed = billing.close(&slug, january).await.unwrap();
    assert_eq!(closed.status, InvoiceStatus::Closed);
    assert_eq!(closed.evaluations, 12);
    // 100.00 base fee, 2 beyond 10 at 0.10, 0.012 USD of model cost.
    assert_eq!(closed.total.to_string(), "100.21");
    let err = billing.close(&slug, january).await.unwrap_err();
    assert!(matches!(err, BillingError::AlreadyClosed { .. }), "{err}");

    // Three late January evaluations for c2: January stays as closed, and
    // February carries them as an adjustment.
    for n in 0..3 {
        db.record_usage(&event(
            &format!("late-{n}"),
            "c2",
            "2026-01-31T20:00:00Z",
            1_000_000,
        ))
        .await
        .unwrap();
    }
    let january_again = billing.invoice(&slug, january).await.unwrap();
    assert_eq!(january_again, closed);
    let draft = billing.invoice(&slug, february).await.unwrap();
    let adjustment = draft
        .lines
        .iter()
        .find(|l| l.kind == LineKind::Adjustment)
        .expect("february carries an adjustment");
    assert_eq!(adjustment.adjusts_month, Some(january));
    assert_eq!(adjustment.quantity, Decimal::from(3));
    // 3 more evaluations beyond the included ones at 0.10, and 0.003 USD
    // more model cost, which changes the rounded 0.01 line to 0.02 (0.015).
    assert_eq!(adjustment.amount.to_string(), "0.31");
    let client_sum: Decimal = draft.clients.iter().map(|c| c.total).sum();
    assert_eq!(client_sum, draft.total);

    // Once February closes with it, March carries nothing for January.
    let february_closed = billing.close(&slug, february).await.unwrap();
    assert_eq!(february_closed.total.to_string(), "100.31");
    let march = billing.invoice(&slug, february.next()).await.unwrap();
    assert!(march.lines.iter().all(|l| l.kind != LineKind::Adjustment));

    // The current month has not ended.
    let this_month = Month::of_time(Utc::now(), chrono_tz::America::Santiago);
    let err = billing.close(&slug, this_month).await.unwrap_err();
    assert!(matches!(err, BillingError::MonthNotEnded { .. }), "{err}");
    let stored = store.closed_invoices(&slug).await.unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0], closed);
}
on_both_stores!(closed_month_never_changes);

async fn month_before_creation_has_no_invoice(location: &TestLocation) {
    let store = location.init().await;
    for slug in ["aptus", "bravo"] {
        store
            .create_partner(partner(slug, Tier::Basic))
            .await
            .unwrap();
    }
    // 02:30 UTC on 1 March is 23:30 on 28 February in Santiago, so aptus
    // was created in February.
    location
        .set_partner_created_at("aptus", time("2026-03-01T02:30:00Z"))
        .await;
    location
        .set_partner_created_at("bravo", time("2025-12-20T12:00:00Z"))
        .await;
    let aptus = PartnerSlug::parse("aptus").unwrap();
    let db = store.partner_db(&aptus).await.unwrap();
    add_client(&db, "c1").await;
    db.record_usage(&event("feb-1", "c1", "2026-02-28T12:00:00Z", 1_000_000))
        .await
        .unwrap();
    let billing = Billing::new(store.clone(), at_cost_config("aptus", Decimal::ZERO)).unwrap();
    let january: Month = "2026-01".parse().unwrap();
    let february = january.next();

    let err = billing.invoice(&aptus, january).await.unwrap_err();
    let BillingError::BeforePartnerCreated {
        created_on,
        first_month,
        ..
    } = &err
    else {
        panic!("expected BeforePartnerCreated, got {err}");
    };
    assert_eq!(created_on, "2026-02-28");
    assert_eq!(first_month, "2026-02");
    let message = err.to_string();
    assert!(message.contains("aptus"), "{message}");
    assert!(message.contains("2026-01"), "{message}");
    let err = billing.close(&aptus, january).await.unwrap_err();
    assert!(
        matches!(err, BillingError::BeforePartnerCreated { .. }),
        "{err}"
    );
    assert!(store.closed_invoices(&aptus).await.unwrap().is_empty());

    // Every partner's January: aptus is left out, bravo is billed.
    let all = billing.invoices(january, None).await.unwrap();
    let partners: Vec<&str> = all.iter().map(|i| i.partner_id.as_str()).collect();
    assert_eq!(partners, ["bravo"]);
    let only = billing.invoices(january, Some(&aptus)).await.unwrap_err();
    assert!(
        matches!(only, BillingError::BeforePartnerCreated { .. }),
        "{only}"
    );

    // The month of the creation is billed in full, base fee included.
    let closed = billing.close(&aptus, february).await.unwrap();
    assert_eq!(closed.evaluations, 1);
    let base_fee = closed
        .lines
        .iter()
        .find(|l| l.kind == LineKind::BaseFee)
        .unwrap();
    assert_eq!(base_fee.amount.to_string(), "100.00");
    let all = billing.invoices(february, None).await.unwrap();
    let partners: Vec<&str> = all.iter().map(|i| i.partner_id.as_str()).collect();
    assert_eq!(partners, ["aptus", "bravo"]);
}
on_both_stores!(month_before_creation_has_no_invoice);

async fn santiago_month_boundaries(location: &TestLocation) {
    let store = location.init().await;
    store
        .create_partner(partner("aptus", Tier::Basic))
        .await
        .unwrap();
    let db = store
        .partner_db(&PartnerSlug::parse("aptus").unwrap())
        .await
        .unwrap();
    add_client(&db, "c1").await;
    let cases = [
        // Summer time (UTC-3): 02:30 UTC on 1 March is 28 February.
        ("2026-03-01T02:30:00Z", "2026-02"),
        ("2026-03-01T03:00:00Z", "2026-03"),
        // 1 April is still summer time: 03:30 UTC is 00:30 local.
        ("2026-04-01T03:30:00Z", "2026-04"),
        // After the change on 5 April (UTC-4): 03:30 UTC on 1 May is 30 April.
        ("2026-05-01T03:30:00Z", "2026-04"),
        ("2026-06-01T03:30:00Z", "2026-05"),
        ("2026-06-01T04:00:00Z", "2026-06"),
        // Before the change on 6 September: 1 September starts at 04:00 UTC.
        ("2026-09-01T03:59:00Z", "2026-08"),
        // After it (UTC-3): 1 October starts at 03:00 UTC.
        ("2026-10-01T02:59:00Z", "2026-09"),
        ("2026-10-01T03:00:00Z", "2026-10"),
    ];
    for (n, (at, _)) in cases.iter().enumerate() {
        db.record_usage(&event(&format!("e{n}"), "c1", at, 1))
            .await
            .unwrap();
    }
    let expected = |month: &str| cases.iter().filter(|(_, m)| *m == month).count();
    for month in [
        "2026-02", "2026-03", "2026-04", "2026-05", "2026-06", "2026-08", "2026-09", "2026-10",
    ] {
        let usage = month_usage(&db, month, UsageGroup::Client).await;
        let events = usize::try_from(usage.totals.events).unwrap();
        assert_eq!(events, expected(month), "{month}");
    }
}
on_both_stores!(santiago_month_boundaries);

async fn rebuild_gives_identical_totals(location: &TestLocation) {
    let store = location.init().await;
    store
        .create_partner(partner("aptus", Tier::Basic))
        .await
        .unwrap();
    let db = store
        .partner_db(&PartnerSlug::parse("aptus").unwrap())
        .await
        .unwrap();
    for c in ["c1", "c2", "c3"] {
        add_client(&db, c).await;
    }
    for n in 0..60_i64 {
        let client_id = ["c1", "c2", "c3"][usize::try_from(n % 3).unwrap()];
        let mut e = event(
            &format!("e{n}"),
            client_id,
            "2026-03-01T15:00:00Z",
            1_000 + n,
        );
        e.occurred_at += chrono::Duration::hours(n * 7);
        e.cache_hit = n % 4 == 0;
        if n % 5 == 0 {
            e.model = "claude-sonnet".to_owned();
            e.provider = "anthropic".to_owned();
        }
        db.record_usage(&e).await.unwrap();
    }
    let before_day = month_usage(&db, "2026-03", UsageGroup::Day).await;
    let before_model = month_usage(&db, "2026-03", UsageGroup::Model).await;
    let before_total = all_usage(&db).await;
    assert_eq!(before_total.events, 60);
    assert_eq!(before_total.cache_hits, 15);

    // Damage the rollups behind SAM's back, then rebuild.
    partner_sql(
        &location.location,
        "aptus",
        "usage_daily",
        "UPDATE {table} SET events = events + 5, cost_nanos = 0 WHERE client_id = 'c2'",
    )
    .await;
    partner_sql(
        &location.location,
        "aptus",
        "usage_daily",
        "DELETE FROM {table} WHERE client_id = 'c3'",
    )
    .await;
    let summary = db.rebuild_usage_rollups().await.unwrap();
    assert_ne!(summary.before, before_total);
    assert_eq!(summary.after, before_total);
    assert_eq!(
        month_usage(&db, "2026-03", UsageGroup::Day).await,
        before_day
    );
    assert_eq!(
        month_usage(&db, "2026-03", UsageGroup::Model).await,
        before_model
    );
    assert_eq!(all_usage(&db).await, before_total);
    // A second rebuild changes nothing.
    assert_eq!(
        db.rebuild_usage_rollups().await.unwrap().before,
        before_total
    );
}
on_both_stores!(rebuild_gives_identical_totals);

async fn rebuild_during_writes_stays_exact(location: &TestLocation) {
    let store = location.init().await;
    store
        .create_partner(partner("aptus", Tier::Basic))
        .await
        .unwrap();
    let db = store
        .partner_db(&PartnerSlug::parse("aptus").unwrap())
        .await
        .unwrap();
    add_client(&db, "c1").await;
    let writer_db = db.clone();
    let writer = tokio::spawn(async move {
        for n in 0..150 {
            let e = event(&format!("w{n}"), "c1", "2026-03-05T15:00:00Z", 7);
            assert!(writer_db.record_usage(&e).await.unwrap());
        }
    });
    for _ in 0..5 {
        db.rebuild_usage_rollups().await.unwrap();
        tokio::task::yield_now().await;
    }
    writer.await.unwrap();
    let totals = all_usage(&db).await;
    assert_eq!(totals.events, 150);
    assert_eq!(totals.cost_nanos, 150 * 7);
}
on_both_stores!(rebuild_during_writes_stays_exact);
