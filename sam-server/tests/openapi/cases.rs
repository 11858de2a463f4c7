//! The requests of the contract cases, each with the data it needs made
//! under ids of its own, so the cases run in any order on one server.

use reqwest::{Method, Response};
use serde_json::{json, Value};

use super::support::limits::RateLimits;
use super::support::{assignment, submission, TestServer};

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
