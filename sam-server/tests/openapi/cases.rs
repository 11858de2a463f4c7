//! The requests of the contract cases, each with the data it needs made
//! under ids of its own, so the cases run in any order on one server.

use chrono::{NaiveDate, Utc};
use reqwest::{Method, Response};
use rust_decimal::Decimal;
use sam_core::auth::Permission;
use sam_core::billing::{Billing, BillingConfig, Currency, PlanSettings};
use sam_core::metering::{parse_zone, Month};
use serde_json::{json, Value};

use super::support::limits::RateLimits;
use super::support::{assignment, slug, submission, TestServer};

const C1: &str = "/api/aptus/v1/clients/c1";
const MISSING_ID: &str = "0190d5c4-0000-7000-8000-000000000000";

async fn send(
    server: &TestServer,
    method: Method,
    path: &str,
    user: Option<&str>,
    body: Option<Value>,
) -> Response {
    let mut request = server.request(method, path, user).await;
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

/// Sends a request with the API key `key` in `X-Api-Key`.
async fn send_with_key(server: &TestServer, method: Method, path: &str, key: &str) -> Response {
    server
        .http
        .request(method, format!("{}{path}", server.base))
        .header("x-api-key", key)
        .send()
        .await
        .unwrap()
}

/// Creates assignment `id` of client `c1`, owned by `prof`.
async fn new_assignment(server: &TestServer, id: &str) {
    let path = format!("{C1}/assignments");
    let (status, body) = server
        .call(Method::POST, &path, Some("prof"), Some(assignment(id)))
        .await;
    assert_eq!(status, 201, "creating assignment {id}: {body}");
}

/// Evaluates submission `id` of `ana` to a new assignment of the same
/// id, returning the evaluation id.
async fn new_evaluation(server: &TestServer, id: &str) -> String {
    new_assignment(server, id).await;
    let path = format!("{C1}/evaluations");
    let (status, body) = server
        .call(
            Method::POST,
            &path,
            Some("prof"),
            Some(submission(id, id, "ana")),
        )
        .await;
    assert_eq!(status, 201, "evaluating {id}: {body}");
    body["id"].as_str().unwrap().to_owned()
}

pub(super) async fn healthz(server: &TestServer) -> Response {
    send(server, Method::GET, "/healthz", None, None).await
}

pub(super) async fn readyz(server: &TestServer) -> Response {
    send(server, Method::GET, "/readyz", None, None).await
}

pub(super) async fn readyz_without_redis(_: &TestServer) -> Response {
    // A server whose limits and readiness check use a port where
    // nothing listens.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = format!("redis://{}", listener.local_addr().unwrap());
    drop(listener);
    let other = TestServer::start_limited(RateLimits::new("").with_redis(Some(&closed))).await;
    let response = send(&other, Method::GET, "/readyz", None, None).await;
    other.stop().await;
    response
}

pub(super) async fn partner_health(server: &TestServer) -> Response {
    send(
        server,
        Method::GET,
        "/api/aptus/v1/health",
        Some("padmin"),
        None,
    )
    .await
}

pub(super) async fn partner_health_without_schema(server: &TestServer) -> Response {
    // Authentication reads the partner's users, and the schema check
    // its clients.
    let token = server.token("padmin").await;
    server
        .execute_sql("ALTER TABLE partner_aptus.clients RENAME TO clients_hidden")
        .await;
    let response = server
        .http
        .get(format!("{}/api/aptus/v1/health", server.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    server
        .execute_sql("ALTER TABLE partner_aptus.clients_hidden RENAME TO clients")
        .await;
    response
}

fn client_body(id: &str) -> Value {
    json!({"client_id": id, "name": "Colegio", "institution_type": "k12"})
}

pub(super) async fn create_client(server: &TestServer) -> Response {
    let body = client_body("contract_new");
    let path = "/api/aptus/v1/clients";
    send(server, Method::POST, path, Some("padmin"), Some(body)).await
}

pub(super) async fn create_existing_client(server: &TestServer) -> Response {
    let body = client_body("c2");
    let path = "/api/aptus/v1/clients";
    send(server, Method::POST, path, Some("padmin"), Some(body)).await
}

pub(super) async fn list_clients(server: &TestServer) -> Response {
    send(
        server,
        Method::GET,
        "/api/aptus/v1/clients",
        Some("padmin"),
        None,
    )
    .await
}

pub(super) async fn create_user(server: &TestServer) -> Response {
    let body = json!({"user_id": "contract_teacher", "role": "teacher"});
    let path = format!("{C1}/users");
    send(server, Method::POST, &path, Some("cadmin"), Some(body)).await
}

pub(super) async fn create_existing_user(server: &TestServer) -> Response {
    let body = json!({"user_id": "prof", "role": "teacher"});
    let path = format!("{C1}/users");
    send(server, Method::POST, &path, Some("cadmin"), Some(body)).await
}

pub(super) async fn list_users(server: &TestServer) -> Response {
    let path = format!("{C1}/users");
    send(server, Method::GET, &path, Some("cadmin"), None).await
}

pub(super) async fn create_assignment(server: &TestServer) -> Response {
    let path = format!("{C1}/assignments");
    let body = assignment("created");
    send(server, Method::POST, &path, Some("prof"), Some(body)).await
}

pub(super) async fn create_existing_assignment(server: &TestServer) -> Response {
    new_assignment(server, "taken").await;
    let path = format!("{C1}/assignments");
    let body = assignment("taken");
    send(server, Method::POST, &path, Some("prof"), Some(body)).await
}

pub(super) async fn list_assignments(server: &TestServer) -> Response {
    new_assignment(server, "listed").await;
    let path = format!("{C1}/assignments");
    send(server, Method::GET, &path, Some("prof"), None).await
}

pub(super) async fn get_assignment(server: &TestServer) -> Response {
    new_assignment(server, "fetched").await;
    let path = format!("{C1}/assignments/fetched");
    send(server, Method::GET, &path, Some("prof"), None).await
}

pub(super) async fn get_missing_assignment(server: &TestServer) -> Response {
    let path = format!("{C1}/assignments/never_created");
    send(server, Method::GET, &path, Some("prof"), None).await
}

pub(super) async fn evaluate(server: &TestServer) -> Response {
    new_assignment(server, "graded").await;
    let path = format!("{C1}/evaluations");
    let body = submission("graded", "graded", "ana");
    send(server, Method::POST, &path, Some("prof"), Some(body)).await
}

pub(super) async fn evaluate_again(server: &TestServer) -> Response {
    new_evaluation(server, "again").await;
    let path = format!("{C1}/evaluations");
    let body = submission("again", "again", "ana");
    send(server, Method::POST, &path, Some("prof"), Some(body)).await
}

pub(super) async fn evaluate_changed_text(server: &TestServer) -> Response {
    new_evaluation(server, "changed").await;
    let path = format!("{C1}/evaluations");
    let mut body = submission("changed", "changed", "ana");
    body["text"] = json!("A different answer under the same submission id.");
    send(server, Method::POST, &path, Some("prof"), Some(body)).await
}

pub(super) async fn list_evaluations(server: &TestServer) -> Response {
    new_evaluation(server, "paged").await;
    let path = format!("{C1}/evaluations");
    send(server, Method::GET, &path, Some("prof"), None).await
}

pub(super) async fn start_batch(server: &TestServer) -> Response {
    new_assignment(server, "batched").await;
    let path = format!("{C1}/evaluations/batch");
    let body = json!({"items": [submission("batched", "batched", "ana")]});
    send(server, Method::POST, &path, Some("prof"), Some(body)).await
}

pub(super) async fn student_feedback(server: &TestServer) -> Response {
    let id = new_evaluation(server, "released").await;
    let approve = format!("/api/aptus/v1/evaluations/{id}/approve");
    let (status, body) = server
        .call(Method::POST, &approve, Some("prof"), None)
        .await;
    assert_eq!(status, 200, "approving {id}: {body}");
    let path = format!("{C1}/students/ana/feedback");
    send(server, Method::GET, &path, Some("ana"), None).await
}

pub(super) async fn get_evaluation(server: &TestServer) -> Response {
    let id = new_evaluation(server, "read").await;
    let path = format!("/api/aptus/v1/evaluations/{id}");
    send(server, Method::GET, &path, Some("prof"), None).await
}

pub(super) async fn get_missing_evaluation(server: &TestServer) -> Response {
    let path = format!("/api/aptus/v1/evaluations/{MISSING_ID}");
    send(server, Method::GET, &path, Some("prof"), None).await
}

pub(super) async fn approve(server: &TestServer) -> Response {
    let id = new_evaluation(server, "approved").await;
    let path = format!("/api/aptus/v1/evaluations/{id}/approve");
    let body = json!({"comment": "Well argued."});
    send(server, Method::POST, &path, Some("prof"), Some(body)).await
}

pub(super) async fn approve_reviewed(server: &TestServer) -> Response {
    let id = new_evaluation(server, "approved_twice").await;
    let path = format!("/api/aptus/v1/evaluations/{id}/approve");
    let (status, body) = server.call(Method::POST, &path, Some("prof"), None).await;
    assert_eq!(status, 200, "approving {id}: {body}");
    send(server, Method::POST, &path, Some("prof"), None).await
}

fn override_body() -> Value {
    json!({"score": 6, "comment": "The example earns a point."})
}

pub(super) async fn override_score(server: &TestServer) -> Response {
    let id = new_evaluation(server, "overridden").await;
    let path = format!("/api/aptus/v1/evaluations/{id}/override");
    send(
        server,
        Method::POST,
        &path,
        Some("prof"),
        Some(override_body()),
    )
    .await
}

pub(super) async fn override_reviewed(server: &TestServer) -> Response {
    let id = new_evaluation(server, "overridden_twice").await;
    let path = format!("/api/aptus/v1/evaluations/{id}/override");
    let (status, body) = server
        .call(Method::POST, &path, Some("prof"), Some(override_body()))
        .await;
    assert_eq!(status, 200, "overriding {id}: {body}");
    send(
        server,
        Method::POST,
        &path,
        Some("prof"),
        Some(override_body()),
    )
    .await
}

pub(super) async fn get_job(server: &TestServer) -> Response {
    new_assignment(server, "job").await;
    let batch = format!("{C1}/evaluations/batch");
    let body = json!({"items": [submission("job", "job", "ana")]});
    let (status, accepted) = server
        .call(Method::POST, &batch, Some("prof"), Some(body))
        .await;
    assert_eq!(status, 202, "starting a batch: {accepted}");
    let path = format!(
        "/api/aptus/v1/jobs/{}",
        accepted["job_id"].as_str().unwrap()
    );
    send(server, Method::GET, &path, Some("prof"), None).await
}

pub(super) async fn get_missing_job(server: &TestServer) -> Response {
    let path = format!("/api/aptus/v1/jobs/{MISSING_ID}");
    send(server, Method::GET, &path, Some("prof"), None).await
}

pub(super) async fn partner_health_as_student(server: &TestServer) -> Response {
    send(
        server,
        Method::GET,
        "/api/aptus/v1/health",
        Some("ana"),
        None,
    )
    .await
}

pub(super) async fn create_client_invalid_type(server: &TestServer) -> Response {
    let mut body = client_body("contract_invalid");
    body["institution_type"] = json!("castle");
    let path = "/api/aptus/v1/clients";
    send(server, Method::POST, path, Some("padmin"), Some(body)).await
}

pub(super) async fn create_client_as_client_admin(server: &TestServer) -> Response {
    let body = client_body("c1");
    let path = "/api/aptus/v1/clients";
    send(server, Method::POST, path, Some("cadmin"), Some(body)).await
}

pub(super) async fn list_clients_as_teacher(server: &TestServer) -> Response {
    let path = "/api/aptus/v1/clients";
    send(server, Method::GET, path, Some("prof"), None).await
}

pub(super) async fn create_user_invalid_role(server: &TestServer) -> Response {
    let body = json!({"user_id": "contract_wizard", "role": "wizard"});
    let path = format!("{C1}/users");
    send(server, Method::POST, &path, Some("cadmin"), Some(body)).await
}

pub(super) async fn create_user_as_teacher(server: &TestServer) -> Response {
    let body = json!({"user_id": "contract_by_teacher", "role": "student"});
    let path = format!("{C1}/users");
    send(server, Method::POST, &path, Some("prof"), Some(body)).await
}

pub(super) async fn list_users_as_teacher(server: &TestServer) -> Response {
    let path = format!("{C1}/users");
    send(server, Method::GET, &path, Some("prof"), None).await
}

pub(super) async fn create_assignment_without_prompt(server: &TestServer) -> Response {
    let path = format!("{C1}/assignments");
    let mut body = assignment("no_prompt");
    body.as_object_mut().unwrap().remove("prompt");
    send(server, Method::POST, &path, Some("prof"), Some(body)).await
}

pub(super) async fn create_assignment_as_student(server: &TestServer) -> Response {
    let path = format!("{C1}/assignments");
    let body = assignment("by_student");
    send(server, Method::POST, &path, Some("ana"), Some(body)).await
}

pub(super) async fn evaluate_without_text(server: &TestServer) -> Response {
    new_assignment(server, "no_text").await;
    let path = format!("{C1}/evaluations");
    let mut body = submission("no_text", "no_text", "ana");
    body.as_object_mut().unwrap().remove("text");
    send(server, Method::POST, &path, Some("prof"), Some(body)).await
}

pub(super) async fn evaluate_as_student(server: &TestServer) -> Response {
    new_assignment(server, "self_graded").await;
    let path = format!("{C1}/evaluations");
    let body = submission("self_graded", "self_graded", "ana");
    send(server, Method::POST, &path, Some("ana"), Some(body)).await
}

pub(super) async fn list_evaluations_invalid_limit(server: &TestServer) -> Response {
    let path = format!("{C1}/evaluations?limit=many");
    send(server, Method::GET, &path, Some("prof"), None).await
}

pub(super) async fn list_evaluations_as_student(server: &TestServer) -> Response {
    let path = format!("{C1}/evaluations");
    send(server, Method::GET, &path, Some("ana"), None).await
}

pub(super) async fn start_empty_batch(server: &TestServer) -> Response {
    let path = format!("{C1}/evaluations/batch");
    let body = json!({"items": []});
    send(server, Method::POST, &path, Some("prof"), Some(body)).await
}

pub(super) async fn start_batch_as_student(server: &TestServer) -> Response {
    new_assignment(server, "batched_by_student").await;
    let path = format!("{C1}/evaluations/batch");
    let item = submission("batched_by_student", "batched_by_student", "ana");
    let body = json!({ "items": [item] });
    send(server, Method::POST, &path, Some("ana"), Some(body)).await
}

pub(super) async fn student_feedback_without_scope(server: &TestServer) -> Response {
    // A partner-wide key that may only create evaluations.
    let key = server
        .api_key("aptus", None, vec![Permission::CreateEvaluation])
        .await;
    let path = format!("{C1}/students/ana/feedback");
    send_with_key(server, Method::GET, &path, &key).await
}

pub(super) async fn get_evaluation_invalid_id(server: &TestServer) -> Response {
    let path = "/api/aptus/v1/evaluations/not-a-uuid";
    send(server, Method::GET, path, Some("prof"), None).await
}

pub(super) async fn get_evaluation_as_student(server: &TestServer) -> Response {
    // The student's own evaluation, still a draft.
    let id = new_evaluation(server, "read_by_student").await;
    let path = format!("/api/aptus/v1/evaluations/{id}");
    send(server, Method::GET, &path, Some("ana"), None).await
}

pub(super) async fn approve_invalid_body(server: &TestServer) -> Response {
    let id = new_evaluation(server, "approved_badly").await;
    let path = format!("/api/aptus/v1/evaluations/{id}/approve");
    let body = json!({"comment": 7});
    send(server, Method::POST, &path, Some("prof"), Some(body)).await
}

pub(super) async fn approve_as_student(server: &TestServer) -> Response {
    let id = new_evaluation(server, "approved_by_student").await;
    let path = format!("/api/aptus/v1/evaluations/{id}/approve");
    send(server, Method::POST, &path, Some("ana"), None).await
}

pub(super) async fn override_invalid_id(server: &TestServer) -> Response {
    let path = "/api/aptus/v1/evaluations/not-a-uuid/override";
    let body = override_body();
    send(server, Method::POST, path, Some("prof"), Some(body)).await
}

pub(super) async fn override_as_student(server: &TestServer) -> Response {
    let id = new_evaluation(server, "overridden_by_student").await;
    let path = format!("/api/aptus/v1/evaluations/{id}/override");
    let body = override_body();
    send(server, Method::POST, &path, Some("ana"), Some(body)).await
}

pub(super) async fn get_job_invalid_id(server: &TestServer) -> Response {
    let path = "/api/aptus/v1/jobs/not-a-uuid";
    send(server, Method::GET, path, Some("prof"), None).await
}

pub(super) async fn get_job_as_student(server: &TestServer) -> Response {
    new_assignment(server, "job_for_student").await;
    let batch = format!("{C1}/evaluations/batch");
    let item = submission("job_for_student", "job_for_student", "ana");
    let (status, accepted) = server
        .call(
            Method::POST,
            &batch,
            Some("prof"),
            Some(json!({ "items": [item] })),
        )
        .await;
    assert_eq!(status, 202, "starting a batch: {accepted}");
    let path = format!(
        "/api/aptus/v1/jobs/{}",
        accepted["job_id"].as_str().unwrap()
    );
    send(server, Method::GET, &path, Some("ana"), None).await
}

const KEYS: &str = "/api/aptus/v1/keys";

pub(super) async fn create_key(server: &TestServer) -> Response {
    let body = json!({"name": "Moodle", "scopes": ["create_evaluation"]});
    send(server, Method::POST, KEYS, Some("padmin"), Some(body)).await
}

pub(super) async fn create_key_invalid_scope(server: &TestServer) -> Response {
    let body = json!({"name": "Moodle", "scopes": ["rule_the_world"]});
    send(server, Method::POST, KEYS, Some("padmin"), Some(body)).await
}

pub(super) async fn create_key_as_teacher(server: &TestServer) -> Response {
    let body = json!({"name": "Moodle"});
    send(server, Method::POST, KEYS, Some("prof"), Some(body)).await
}

pub(super) async fn create_key_for_missing_client(server: &TestServer) -> Response {
    let body = json!({"name": "Moodle", "client_id": "never_created"});
    send(server, Method::POST, KEYS, Some("padmin"), Some(body)).await
}

pub(super) async fn list_keys(server: &TestServer) -> Response {
    server
        .api_key("aptus", None, vec![Permission::CreateEvaluation])
        .await;
    send(server, Method::GET, KEYS, Some("padmin"), None).await
}

pub(super) async fn list_keys_as_teacher(server: &TestServer) -> Response {
    send(server, Method::GET, KEYS, Some("prof"), None).await
}

/// Returns the public prefix of a key `sam_<prefix>_<secret>`.
fn key_prefix(key: &str) -> String {
    let rest = key.strip_prefix("sam_").unwrap();
    rest.split_once('_').unwrap().0.to_owned()
}

pub(super) async fn revoke_key(server: &TestServer) -> Response {
    let key = server
        .api_key("aptus", None, vec![Permission::CreateEvaluation])
        .await;
    let path = format!("{KEYS}/{}/revoke", key_prefix(&key));
    send(server, Method::POST, &path, Some("padmin"), None).await
}

pub(super) async fn revoke_key_as_teacher(server: &TestServer) -> Response {
    let key = server
        .api_key("aptus", None, vec![Permission::CreateEvaluation])
        .await;
    let path = format!("{KEYS}/{}/revoke", key_prefix(&key));
    send(server, Method::POST, &path, Some("prof"), None).await
}

pub(super) async fn revoke_missing_key(server: &TestServer) -> Response {
    let path = format!("{KEYS}/abcdefghij/revoke");
    send(server, Method::POST, &path, Some("padmin"), None).await
}

const USAGE: &str = "/api/aptus/v1/usage";

pub(super) async fn usage(server: &TestServer) -> Response {
    let path = format!("{USAGE}?by=client");
    send(server, Method::GET, &path, Some("padmin"), None).await
}

pub(super) async fn usage_invalid_month(server: &TestServer) -> Response {
    let path = format!("{USAGE}?month=2026-13");
    send(server, Method::GET, &path, Some("padmin"), None).await
}

pub(super) async fn usage_as_teacher(server: &TestServer) -> Response {
    send(server, Method::GET, USAGE, Some("prof"), None).await
}

pub(super) async fn usage_of_missing_client(server: &TestServer) -> Response {
    let path = format!("{USAGE}?client=never_created");
    send(server, Method::GET, &path, Some("padmin"), None).await
}

/// Sends `path` as `padmin` while the partner's daily rollups are renamed
/// away, so the store's query fails.
async fn send_without_rollups(server: &TestServer, path: &str) -> Response {
    let token = server.token("padmin").await;
    server
        .execute_sql("ALTER TABLE partner_aptus.usage_daily RENAME TO usage_daily_hidden")
        .await;
    let response = server
        .http
        .get(format!("{}{path}", server.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    server
        .execute_sql("ALTER TABLE partner_aptus.usage_daily_hidden RENAME TO usage_daily")
        .await;
    response
}

pub(super) async fn usage_without_rollups(server: &TestServer) -> Response {
    send_without_rollups(server, USAGE).await
}

/// Returns the current month in the default partner time zone.
fn this_month() -> Month {
    Month::of_time(Utc::now(), parse_zone("America/Santiago").unwrap())
}

fn invoice_path(month: Month) -> String {
    format!("/api/aptus/v1/invoices/{month}")
}

pub(super) async fn invoice(server: &TestServer) -> Response {
    let path = invoice_path(this_month());
    send(server, Method::GET, &path, Some("padmin"), None).await
}

pub(super) async fn invoice_invalid_month(server: &TestServer) -> Response {
    let path = "/api/aptus/v1/invoices/2026-3";
    send(server, Method::GET, path, Some("padmin"), None).await
}

pub(super) async fn invoice_as_teacher(server: &TestServer) -> Response {
    let path = invoice_path(this_month());
    send(server, Method::GET, &path, Some("prof"), None).await
}

pub(super) async fn invoice_before_creation(server: &TestServer) -> Response {
    let before = this_month().first_day().pred_opt().unwrap();
    let path = invoice_path(Month::of_day(before));
    send(server, Method::GET, &path, Some("padmin"), None).await
}

pub(super) async fn invoice_without_rollups(server: &TestServer) -> Response {
    send_without_rollups(server, &invoice_path(this_month())).await
}

/// Returns the invoice of the current month of partner `ledger`, created
/// last month, whose last month was closed under a CLP plan and then got
/// one more evaluation. The server bills it in USD, the built-in plans'
/// currency, so the adjustment cannot be billed.
pub(super) async fn invoice_after_currency_change(server: &TestServer) -> Response {
    server.add_partner("ledger", 1000, Some("UTC")).await;
    let zone = parse_zone("UTC").unwrap();
    let this_month = Month::of_time(Utc::now(), zone);
    let last_day: NaiveDate = this_month.first_day().pred_opt().unwrap();
    let last_month = Month::of_day(last_day);
    let created = last_month
        .first_day()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    server
        .execute_sql(&format!(
            "UPDATE sam_control.tenants SET created_at = '{}' WHERE partner_id = 'ledger'",
            created.to_rfc3339()
        ))
        .await;

    let mut config = BillingConfig::default();
    let clp = PlanSettings {
        currency: Some(Currency::Clp),
        included_evaluations: Some(0),
        price_per_evaluation: Some(Decimal::from(100)),
        ..PlanSettings::default()
    };
    config.partners.insert("ledger".to_owned(), clp);
    let billing = Billing::new(server.store.clone(), config).unwrap();
    billing.close(&slug("ledger"), last_month).await.unwrap();
    server
        .execute_sql(&format!(
            "INSERT INTO partner_ledger.usage_daily (local_day, client_id, provider, model, \
             events, input_tokens, cached_input_tokens, output_tokens, cost_nanos, cache_hits) \
             VALUES ('{last_day}', 'c1', 'deepseek', 'deepseek-chat', 1, 1200, 0, 150, 0, 0)"
        ))
        .await;

    let key = server
        .api_key("ledger", None, vec![Permission::ViewBilling])
        .await;
    let path = format!("/api/ledger/v1/invoices/{this_month}");
    send_with_key(server, Method::GET, &path, &key).await
}
