//! The API end to end: a real server on port 0 over real PostgreSQL and
//! Redis, with a wiremock LLM provider.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use reqwest::Method;
use sam_core::auth::Permission;
use serde_json::{json, Value};
use support::{assignment, mount_model, read, submission, TestServer, MAX_BODY};

const C1: &str = "/api/aptus/v1/clients/c1";

/// Creates assignment `a1` owned by `prof` and evaluates one submission of
/// `ana`, returning the evaluation id.
async fn evaluated(server: &TestServer) -> String {
    mount_model(&server.llm, Duration::ZERO).await;
    let (status, _) = server
        .call(
            Method::POST,
            &format!("{C1}/assignments"),
            Some("prof"),
            Some(assignment("a1")),
        )
        .await;
    assert_eq!(status, 201);
    let (status, body) = server
        .call(
            Method::POST,
            &format!("{C1}/evaluations"),
            Some("prof"),
            Some(submission("a1", "s1", "ana")),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_or_bad_credentials_get_401() {
    let server = TestServer::start().await;
    let url = format!("{}{C1}/assignments", server.base);

    let response = server.http.get(&url).send().await.unwrap();
    assert!(response.headers().contains_key("x-request-id"));
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let (status, body) = read(response).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "unauthenticated");
    assert_eq!(body["error"]["request_id"], request_id.as_str());

    let bad_token = server
        .http
        .get(&url)
        .bearer_auth("not.a.token")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_token.status(), 401);
    let bad_key = server
        .http
        .get(&url)
        .header("x-api-key", "sam_abcdefghij_0000")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_key.status(), 401);

    // A deactivated user's token stops working at once.
    let token = server.token("prof").await;
    let (status, _) = read(
        server
            .http
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    let db = server
        .store
        .partner_db(&support::slug("aptus"))
        .await
        .unwrap();
    db.set_user_active("prof", false).await.unwrap();
    let (status, _) = read(
        server
            .http
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_partner_gets_same_404_as_missing() {
    let server = TestServer::start().await;
    let (status, foreign) = server
        .call(
            Method::GET,
            &format!("{C1}/assignments"),
            Some("bprof"),
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (status, missing) = server
        .call(
            Method::GET,
            &format!("{C1}/assignments/nope"),
            Some("prof"),
            None,
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(foreign["error"]["code"], missing["error"]["code"]);
    assert_eq!(foreign["error"]["message"], missing["error"]["message"]);

    let key = server
        .api_key("bravo", None, vec![Permission::CreateEvaluation])
        .await;
    let response = server
        .http
        .get(format!("{}{C1}/assignments", server.base))
        .header("x-api-key", key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);

    let (status, _) = server
        .call(Method::GET, "/api/nosuch/v1/clients", Some("root"), None)
        .await;
    assert_eq!(status, 404);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teacher_evaluates_and_student_reads_feedback() {
    let server = TestServer::start().await;
    let id = evaluated(&server).await;

    let (status, listed) = server
        .call(
            Method::GET,
            &format!("{C1}/assignments"),
            Some("prof"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let (status, seen) = server
        .call(
            Method::GET,
            &format!("{C1}/assignments/a1"),
            Some("ana"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(seen["reference_answer"], Value::Null);
    let (_, seen) = server
        .call(
            Method::GET,
            &format!("{C1}/assignments/a1"),
            Some("prof"),
            None,
        )
        .await;
    assert!(seen["reference_answer"].is_string());

    let (status, evaluation) = server
        .call(
            Method::GET,
            &format!("/api/aptus/v1/evaluations/{id}"),
            Some("prof"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(evaluation["score"], 5.0);
    assert_eq!(evaluation["status"], "draft");
    assert_eq!(evaluation["model"], "deepseek-chat");

    let feedback_path = format!("{C1}/students/ana/feedback");
    let (status, feedback) = server
        .call(Method::GET, &feedback_path, Some("ana"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(feedback, json!([]));

    let (status, approved) = server
        .call(
            Method::POST,
            &format!("/api/aptus/v1/evaluations/{id}/approve"),
            Some("prof"),
            Some(json!({"comment": "ok"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(approved["status"], "approved");
    let (_, feedback) = server
        .call(Method::GET, &feedback_path, Some("ana"), None)
        .await;
    assert_eq!(feedback.as_array().unwrap().len(), 1);
    assert_eq!(feedback[0]["overall_feedback"], "Good work.");

    let (status, _) = server
        .call(Method::GET, &feedback_path, Some("beto"), None)
        .await;
    assert_eq!(status, 404);
    let (status, _) = server
        .call(
            Method::POST,
            &format!("/api/aptus/v1/evaluations/{id}/override"),
            Some("prof"),
            Some(json!({"score": 6, "comment": "better"})),
        )
        .await;
    assert_eq!(status, 409);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn override_sets_teacher_score() {
    let server = TestServer::start().await;
    let id = evaluated(&server).await;
    let path = format!("/api/aptus/v1/evaluations/{id}/override");
    let (status, _) = server
        .call(
            Method::POST,
            &path,
            Some("prof2"),
            Some(json!({"score": 6, "comment": "x"})),
        )
        .await;
    assert_eq!(status, 404, "another teacher's evaluation is hidden");
    let (status, body) = server
        .call(
            Method::POST,
            &path,
            Some("prof"),
            Some(json!({"score": 6, "comment": "fair"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "overridden");
    assert_eq!(body["review"]["teacher_score"], 6.0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evaluation_list_pages_with_cursor() {
    let server = TestServer::start().await;
    evaluated(&server).await;
    for (submission_id, student) in [("s2", "beto"), ("s3", "ana")] {
        let (status, _) = server
            .call(
                Method::POST,
                &format!("{C1}/evaluations"),
                Some("prof"),
                Some(submission("a1", submission_id, student)),
            )
            .await;
        assert_eq!(status, 201);
    }
    let list = format!("{C1}/evaluations?limit=2");
    let (status, page) = server.call(Method::GET, &list, Some("cadmin"), None).await;
    assert_eq!(status, 200);
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let (_, next) = server
        .call(
            Method::GET,
            &format!("{list}&after={cursor}"),
            Some("cadmin"),
            None,
        )
        .await;
    assert_eq!(next["items"].as_array().unwrap().len(), 1);
    assert_eq!(next["next_cursor"], Value::Null);

    let (_, filtered) = server
        .call(
            Method::GET,
            &format!("{C1}/evaluations?student_id=beto"),
            Some("prof"),
            None,
        )
        .await;
    assert_eq!(filtered["items"].as_array().unwrap().len(), 1);
    let (status, _) = server
        .call(
            Method::GET,
            &format!("{C1}/evaluations?limit=0"),
            Some("prof"),
            None,
        )
        .await;
    assert_eq!(status, 400);
    server.stop().await;
}

/// A request and the status each of six callers expects.
type RoleCase = (Method, String, Option<Value>, [(&'static str, u16); 6]);

/// Each role against each endpoint: the expected status per role.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_reach_only_their_scope() {
    let server = TestServer::start().await;
    let id = evaluated(&server).await;
    let evaluation = format!("/api/aptus/v1/evaluations/{id}");
    let mut cases: Vec<RoleCase> = vec![
        (
            Method::GET,
            "/api/aptus/v1/clients".into(),
            None,
            [
                ("root", 200),
                ("padmin", 200),
                ("cadmin", 200),
                ("prof", 403),
                ("ana", 403),
                ("prof_c2", 403),
            ],
        ),
        (
            Method::GET,
            format!("{C1}/users"),
            None,
            [
                ("root", 200),
                ("padmin", 200),
                ("cadmin", 200),
                ("prof", 403),
                ("ana", 403),
                ("prof_c2", 404),
            ],
        ),
        (
            Method::GET,
            format!("{C1}/assignments"),
            None,
            [
                ("root", 200),
                ("padmin", 403),
                ("cadmin", 200),
                ("prof", 200),
                ("ana", 200),
                ("prof_c2", 404),
            ],
        ),
        (
            Method::GET,
            format!("{C1}/assignments/a1"),
            None,
            [
                ("root", 200),
                ("padmin", 403),
                ("cadmin", 200),
                ("prof", 200),
                ("ana", 200),
                ("prof_c2", 404),
            ],
        ),
        (
            Method::POST,
            format!("{C1}/assignments"),
            Some(assignment("a9")),
            [
                ("root", 403),
                ("padmin", 403),
                ("cadmin", 403),
                ("prof", 201),
                ("ana", 403),
                ("prof_c2", 404),
            ],
        ),
        (
            Method::GET,
            format!("{C1}/evaluations"),
            None,
            [
                ("root", 200),
                ("padmin", 403),
                ("cadmin", 200),
                ("prof", 200),
                ("ana", 403),
                ("prof_c2", 404),
            ],
        ),
        (
            Method::GET,
            evaluation.clone(),
            None,
            [
                ("root", 200),
                ("padmin", 403),
                ("cadmin", 200),
                ("prof", 200),
                ("ana", 403),
                ("prof_c2", 404),
            ],
        ),
        (
            Method::POST,
            format!("{C1}/evaluations"),
            Some(submission("a1", "s7", "beto")),
            [
                ("root", 403),
                ("padmin", 403),
                ("cadmin", 403),
                ("ana", 404),
                ("prof_c2", 404),
                ("prof", 201),
            ],
        ),
        (
            Method::GET,
            format!("{C1}/students/ana/feedback"),
            None,
            [
                ("root", 200),
                ("padmin", 403),
                ("cadmin", 200),
                ("prof", 200),
                ("ana", 200),
                ("prof_c2", 404),
            ],
        ),
        (
            Method::GET,
            "/api/aptus/v1/health".into(),
            None,
            [
                ("root", 200),
                ("padmin", 200),
                ("cadmin", 403),
                ("prof", 403),
                ("ana", 403),
                ("prof_c2", 403),
            ],
        ),
        (
            Method::POST,
            format!("{evaluation}/approve"),
            Some(json!({})),
            [
                ("root", 403),
                ("padmin", 403),
                ("cadmin", 403),
                ("ana", 403),
                ("prof_c2", 404),
                ("prof", 200),
            ],
        ),
    ];
    // Later rows reuse the body, so a 409 there means authorization passed.
    cases.push((
        Method::POST,
        format!("{C1}/users"),
        Some(json!({"user_id": "newbie", "role": "student"})),
        [
            ("root", 403),
            ("prof", 403),
            ("ana", 403),
            ("prof_c2", 404),
            ("padmin", 201),
            ("cadmin", 409),
        ],
    ));
    cases.push((
        Method::POST,
        format!("{C1}/evaluations/batch"),
        Some(json!({"items": [submission("a1", "s8", "beto")]})),
        [
            ("root", 403),
            ("padmin", 403),
            ("cadmin", 403),
            ("ana", 404),
            ("prof_c2", 404),
            ("prof", 202),
        ],
    ));
    for (method, path, body, expected) in cases {
        for (user, status) in expected {
            let (actual, response) = server
                .call(method.clone(), &path, Some(user), body.clone())
                .await;
            assert_eq!(actual, status, "{user} {method} {path}: {response}");
        }
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_and_users_created_in_scope() {
    let server = TestServer::start().await;
    let clients = "/api/aptus/v1/clients";
    let new_client = json!({"client_id": "c3", "name": "Colegio Tres", "institution_type": "k12"});
    // A client admin's scope is its own client, so another client id is hidden.
    let (status, _) = server
        .call(
            Method::POST,
            clients,
            Some("cadmin"),
            Some(new_client.clone()),
        )
        .await;
    assert_eq!(status, 404);
    let (status, created) = server
        .call(
            Method::POST,
            clients,
            Some("padmin"),
            Some(new_client.clone()),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(created["client_id"], "c3");
    let (status, _) = server
        .call(Method::POST, clients, Some("padmin"), Some(new_client))
        .await;
    assert_eq!(status, 409);
    let (_, listed) = server
        .call(Method::GET, clients, Some("padmin"), None)
        .await;
    assert_eq!(listed.as_array().unwrap().len(), 3);
    let (_, own) = server
        .call(Method::GET, clients, Some("cadmin"), None)
        .await;
    assert_eq!(own.as_array().unwrap().len(), 1);

    let users = "/api/aptus/v1/clients/c3/users";
    let (status, _) = server
        .call(
            Method::POST,
            users,
            Some("padmin"),
            Some(json!({"user_id": "c3admin", "role": "client_admin"})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = server
        .call(
            Method::POST,
            &format!("{C1}/users"),
            Some("cadmin"),
            Some(json!({"user_id": "newprof", "role": "teacher"})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = server
        .call(
            Method::POST,
            &format!("{C1}/users"),
            Some("cadmin"),
            Some(json!({"user_id": "boss", "role": "client_admin"})),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = server
        .call(
            Method::POST,
            users,
            Some("cadmin"),
            Some(json!({"user_id": "x", "role": "teacher"})),
        )
        .await;
    assert_eq!(status, 404);
    let (_, listed) = server.call(Method::GET, users, Some("padmin"), None).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_key_evaluates_with_either_header() {
    let server = TestServer::start().await;
    mount_model(&server.llm, Duration::ZERO).await;
    let key = server
        .api_key("aptus", Some("c1"), vec![Permission::CreateEvaluation])
        .await;
    let response = server
        .http
        .post(format!("{}{C1}/assignments", server.base))
        .header("x-api-key", &key)
        .json(&assignment("k1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let response = server
        .http
        .post(format!("{}{C1}/evaluations", server.base))
        .bearer_auth(&key)
        .json(&submission("k1", "s1", "ana"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let response = server
        .http
        .get(format!(
            "{}/api/aptus/v1/clients/c2/assignments",
            server.base
        ))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_retry_runs_once() {
    let server = TestServer::start().await;
    mount_model(&server.llm, Duration::ZERO).await;
    let (status, _) = server
        .call(
            Method::POST,
            &format!("{C1}/assignments"),
            Some("prof"),
            Some(assignment("a1")),
        )
        .await;
    assert_eq!(status, 201);
    let url = format!("{C1}/evaluations");
    let body = submission("a1", "s1", "ana");
    let send = |key: &'static str, body: Value| {
        let server = &server;
        let url = url.clone();
        async move {
            server
                .request(Method::POST, &url, Some("prof"))
                .await
                .header("idempotency-key", key)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let first = send("key-1", body.clone()).await;
    assert_eq!(first.status(), 201);
    let first = read(first).await.1;
    let retry = send("key-1", body.clone()).await;
    assert_eq!(retry.status(), 201);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(read(retry).await.1, first);
    assert_eq!(server.llm_calls().await, 1);
    assert_eq!(server.usage_events("c1").await, 1);

    let other = send("key-1", submission("a1", "s2", "ana")).await;
    let (status, error) = read(other).await;
    assert_eq!(status, 422);
    assert_eq!(error["error"]["code"], "idempotency_key_reused");
    assert_eq!(server.llm_calls().await, 1);
    assert_eq!(server.usage_events("c1").await, 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_duplicates_evaluate_once() {
    let server = TestServer::start().await;
    mount_model(&server.llm, Duration::from_millis(800)).await;
    let (status, _) = server
        .call(
            Method::POST,
            &format!("{C1}/assignments"),
            Some("prof"),
            Some(assignment("a1")),
        )
        .await;
    assert_eq!(status, 201);
    let token = server.token("prof").await;
    let url = format!("{}{C1}/evaluations", server.base);
    let send = || {
        server
            .http
            .post(&url)
            .bearer_auth(&token)
            .header("idempotency-key", "same")
            .json(&submission("a1", "s1", "ana"))
            .send()
    };
    let (first, second) = tokio::join!(send(), send());
    let mut statuses = [
        first.unwrap().status().as_u16(),
        second.unwrap().status().as_u16(),
    ];
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 409]);
    assert_eq!(server.llm_calls().await, 1);
    assert_eq!(server.usage_events("c1").await, 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnected_request_frees_idempotency_key() {
    let server = TestServer::start().await;
    mount_model(&server.llm, Duration::from_millis(1500)).await;
    let (status, _) = server
        .call(
            Method::POST,
            &format!("{C1}/assignments"),
            Some("prof"),
            Some(assignment("a1")),
        )
        .await;
    assert_eq!(status, 201);
    let token = server.token("prof").await;
    let url = format!("{}{C1}/evaluations", server.base);
    let send = |timeout: Duration| {
        server
            .http
            .post(&url)
            .timeout(timeout)
            .bearer_auth(&token)
            .header("idempotency-key", "interrupted")
            .json(&submission("a1", "s1", "ana"))
            .send()
    };
    // The client gives up while the model is still grading, as samctl
    // does when it is interrupted with Ctrl-C.
    let abandoned = send(Duration::from_millis(300)).await;
    assert!(abandoned.is_err(), "{abandoned:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let retry = send(Duration::from_secs(10)).await.unwrap();
    let (status, body) = read(retry).await;
    assert!(status == 201 || status == 200, "{status}: {body}");
    assert_eq!(server.usage_events("c1").await, 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_are_limited_and_checked() {
    let server = TestServer::start().await;
    let url = format!("{C1}/assignments");
    let huge = json!({"id": "big", "prompt": "x".repeat(MAX_BODY + 1), "max_points": 7});
    let (status, body) = server
        .call(Method::POST, &url, Some("prof"), Some(huge))
        .await;
    assert_eq!(status, 413);
    assert_eq!(body["error"]["code"], "payload_too_large");

    let malformed = server
        .request(Method::POST, &url, Some("prof"))
        .await
        .header("content-type", "application/json")
        .body("{\"id\": ")
        .send()
        .await
        .unwrap();
    let (status, body) = read(malformed).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "invalid_request");

    let deep = format!("{{\"id\": {}{}}}", "[".repeat(40), "]".repeat(40));
    let deep = server
        .request(Method::POST, &url, Some("prof"))
        .await
        .header("content-type", "application/json")
        .body(deep)
        .send()
        .await
        .unwrap();
    let (status, body) = read(deep).await;
    assert_eq!(status, 400);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("deeper"));

    let (status, body) = server.call(Method::GET, "/no/such/path", None, None).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");

    let (status, body) = server
        .call(
            Method::GET,
            "/api/aptus/v1/evaluations/not-a-uuid",
            Some("prof"),
            None,
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "invalid_request");
    assert!(body["error"]["request_id"].is_string());

    let (status, body) = server.call(Method::DELETE, &url, Some("prof"), None).await;
    assert_eq!(status, 405);
    assert_eq!(body["error"]["code"], "method_not_allowed");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_request_times_out_with_408() {
    let server = TestServer::start_with(sam_server::Limits {
        max_body_bytes: MAX_BODY,
        max_json_depth: 32,
        request_timeout: Duration::from_millis(300),
        batch_concurrency: 1,
    })
    .await;
    mount_model(&server.llm, Duration::from_secs(3)).await;
    let (status, _) = server
        .call(
            Method::POST,
            &format!("{C1}/assignments"),
            Some("prof"),
            Some(assignment("a1")),
        )
        .await;
    assert_eq!(status, 201);
    let (status, body) = server
        .call(
            Method::POST,
            &format!("{C1}/evaluations"),
            Some("prof"),
            Some(submission("a1", "s1", "ana")),
        )
        .await;
    assert_eq!(status, 408);
    assert_eq!(body["error"]["code"], "timeout");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_job_finishes_every_item() {
    let server = TestServer::start().await;
    mount_model(&server.llm, Duration::ZERO).await;
    let (status, _) = server
        .call(
            Method::POST,
            &format!("{C1}/assignments"),
            Some("prof"),
            Some(assignment("a1")),
        )
        .await;
    assert_eq!(status, 201);
    let items: Vec<Value> = (0..4)
        .map(|i| submission("a1", &format!("b{i}"), "ana"))
        .collect();
    let (status, accepted) = server
        .call(
            Method::POST,
            &format!("{C1}/evaluations/batch"),
            Some("prof"),
            Some(json!({"items": items})),
        )
        .await;
    assert_eq!(status, 202);
    let job = format!(
        "/api/aptus/v1/jobs/{}",
        accepted["job_id"].as_str().unwrap()
    );
    let mut last = Value::Null;
    for _ in 0..100 {
        let (status, body) = server.call(Method::GET, &job, Some("prof"), None).await;
        assert_eq!(status, 200);
        last = body;
        if last["state"] == "done" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(last["state"], "done", "{last}");
    for item in last["items"].as_array().unwrap() {
        assert_eq!(item["state"], "done", "{item}");
    }
    let (status, _) = server.call(Method::GET, &job, Some("bprof"), None).await;
    assert_eq!(status, 404);
    let (status, _) = server.call(Method::GET, &job, Some("prof_c2"), None).await;
    assert_eq!(status, 404);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_endpoints_report_checks() {
    let server = TestServer::start().await;
    let (status, body) = server.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok");
    let (status, body) = server.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["checks"]["database"], "ok");
    assert_eq!(body["checks"]["redis"], "ok");
    let (status, body) = server
        .call(Method::GET, "/api/aptus/v1/health", Some("padmin"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["checks"]["schema"], "ok");
    assert_eq!(body["breakers"]["deepseek"], "closed");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_labelled_series() {
    let server = TestServer::start().await;
    evaluated(&server).await;
    // The same text for another submission is served from the cache.
    let mut again = submission("a1", "s1", "ana");
    again["submission_id"] = json!("s1-copy");
    let (status, body) = server
        .call(
            Method::POST,
            &format!("{C1}/evaluations"),
            Some("prof"),
            Some(again),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(body["cached"], true);
    server.call(Method::GET, "/nowhere", None, None).await;

    let text = server
        .http
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for series in [
        r#"sam_api_requests_total{client="c1",partner="aptus",status="201"} 3"#,
        r#"sam_api_requests_total{client="unknown",partner="unknown",status="404"} 1"#,
        r#"sam_llm_latency_seconds_count{model="deepseek-chat",partner="aptus"} 2"#,
        r#"sam_concurrent_users{client="c1",partner="aptus"} 0"#,
        r#"sam_usage_tokens{client="c1",partner="aptus",period="day"} 2700"#,
        "sam_cache_hits_total 1",
    ] {
        assert!(text.contains(series), "missing {series} in:\n{text}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_in_flight_request() {
    let server = TestServer::start().await;
    mount_model(&server.llm, Duration::from_millis(700)).await;
    let (status, _) = server
        .call(
            Method::POST,
            &format!("{C1}/assignments"),
            Some("prof"),
            Some(assignment("a1")),
        )
        .await;
    assert_eq!(status, 201);
    let request = server
        .request(Method::POST, &format!("{C1}/evaluations"), Some("prof"))
        .await
        .json(&submission("a1", "s1", "ana"))
        .send();
    let in_flight = tokio::spawn(request);
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The request is waiting for the model when the shutdown starts.
    server.stop().await;
    let response = in_flight.await.unwrap().unwrap();
    assert_eq!(response.status(), 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partner_admin_manages_api_keys() {
    let server = TestServer::start().await;
    let keys = "/api/aptus/v1/keys";
    let request = json!({"name": "Moodle", "client_id": "c1", "scopes": ["create_evaluation"]});
    let (status, created) = server
        .call(Method::POST, keys, Some("padmin"), Some(request.clone()))
        .await;
    assert_eq!(status, 201, "{created}");
    let key = created["key"].as_str().unwrap().to_owned();
    let prefix = created["prefix"].as_str().unwrap().to_owned();
    assert!(key.starts_with(&format!("sam_{prefix}_")), "{created}");

    let (status, listed) = server.call(Method::GET, keys, Some("padmin"), None).await;
    assert_eq!(status, 200);
    assert_eq!(listed[0]["prefix"], prefix.as_str());
    assert!(
        !listed.to_string().contains(&key),
        "a listed key shows its secret"
    );

    // The new key works, and cannot manage keys itself.
    let with_key = |path: &str| {
        server
            .http
            .get(format!("{}{path}", server.base))
            .header("x-api-key", key.as_str())
    };
    let response = with_key(&format!("{C1}/assignments")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let response = with_key(keys).send().await.unwrap();
    assert_eq!(response.status(), 403);

    // Teachers, platform scopes and other partners' keys are refused.
    let (status, _) = server
        .call(Method::POST, keys, Some("prof"), Some(request))
        .await;
    assert_eq!(status, 403);
    let platform = json!({"name": "all", "scopes": ["view_all"]});
    let (status, _) = server
        .call(Method::POST, keys, Some("padmin"), Some(platform))
        .await;
    assert_eq!(status, 403);
    let other = server
        .api_key("bravo", None, vec![Permission::CreateEvaluation])
        .await;
    let other_prefix = other.split('_').nth(1).unwrap();
    let (status, _) = server
        .call(
            Method::POST,
            &format!("{keys}/{other_prefix}/revoke"),
            Some("padmin"),
            None,
        )
        .await;
    assert_eq!(status, 404);

    // Revocation takes effect at once.
    let (status, revoked) = server
        .call(
            Method::POST,
            &format!("{keys}/{prefix}/revoke"),
            Some("padmin"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{revoked}");
    assert!(revoked["revoked_at"].is_string(), "{revoked}");
    let response = with_key(&format!("{C1}/assignments")).send().await.unwrap();
    assert_eq!(response.status(), 401);
    server.stop().await;
}
