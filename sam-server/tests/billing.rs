//! Usage reports and invoices over the API: numbers that match the
//! evaluations made through it, and each role's scope.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::str::FromStr;
use std::time::Duration;

use reqwest::Method;
use rust_decimal::Decimal;
use sam_core::auth::Permission;
use serde_json::Value;
use support::{assignment, mount_model, submission, TestServer};

/// Returns the current month in America/Santiago, the default partner time zone.
fn this_month() -> String {
    let zone = sam_core::metering::parse_zone("America/Santiago").unwrap();
    sam_core::metering::Month::of_time(chrono::Utc::now(), zone).to_string()
}

fn decimal(value: &Value) -> Decimal {
    Decimal::from_str(
        value
            .as_str()
            .unwrap_or_else(|| panic!("{value} is no string")),
    )
    .unwrap()
}

/// Evaluates two submissions in client `c1` (teacher `prof`) and one in
/// `c2` (teacher `prof_c2`) through the API.
async fn three_evaluations(server: &TestServer) {
    mount_model(&server.llm, Duration::ZERO).await;
    let work = [
        ("c1", "prof", "a1", "s1", "ana"),
        ("c1", "prof", "a1", "s2", "beto"),
        ("c2", "prof_c2", "a2", "s3", "carla"),
    ];
    for (client, teacher, assignment_id, _, _) in [work[0], work[2]] {
        let (status, body) = server
            .call(
                Method::POST,
                &format!("/api/aptus/v1/clients/{client}/assignments"),
                Some(teacher),
                Some(assignment(assignment_id)),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    for (client, teacher, assignment_id, submission_id, student) in work {
        let (status, body) = server
            .call(
                Method::POST,
                &format!("/api/aptus/v1/clients/{client}/evaluations"),
                Some(teacher),
                Some(submission(assignment_id, submission_id, student)),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
}

async fn get(server: &TestServer, path: &str, user: &str) -> (u16, Value) {
    server.call(Method::GET, path, Some(user), None).await
}

fn line<'a>(lines: &'a Value, kind: &str) -> &'a Value {
    lines
        .as_array()
        .unwrap()
        .iter()
        .find(|line| line["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} line in {lines}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partner_admin_sees_usage_and_invoice() {
    let server = TestServer::start().await;
    three_evaluations(&server).await;
    assert_eq!(server.usage_events("c1").await, 2);
    assert_eq!(server.usage_events("c2").await, 1);

    let (status, usage) = get(&server, "/api/aptus/v1/usage?by=client", "padmin").await;
    assert_eq!(status, 200, "{usage}");
    assert_eq!(usage["totals"]["events"], 3, "{usage}");
    let report = &usage["reports"][0];
    assert_eq!(report["partner"], "aptus");
    assert_eq!(report["group"], "client");
    let rows: Vec<(&str, i64)> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["key"].as_str().unwrap(),
                row["events"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows, [("c1", 2), ("c2", 1)]);
    // The mock model reports 1200 input tokens per evaluation.
    assert_eq!(usage["totals"]["input_tokens"], 3 * 1200, "{usage}");

    let month = this_month();
    let (status, by_day) = get(
        &server,
        &format!("/api/aptus/v1/usage?month={month}"),
        "padmin",
    )
    .await;
    assert_eq!(status, 200, "{by_day}");
    assert_eq!(by_day["reports"][0]["group"], "day");
    assert_eq!(by_day["totals"]["events"], 3);
    let (status, default_month) = get(&server, "/api/aptus/v1/usage", "padmin").await;
    assert_eq!(status, 200);
    assert_eq!(default_month, by_day, "the default is the current month");

    let (status, invoice) = get(
        &server,
        &format!("/api/aptus/v1/invoices/{month}"),
        "padmin",
    )
    .await;
    assert_eq!(status, 200, "{invoice}");
    assert_eq!(invoice["status"], "draft");
    assert_eq!(invoice["partner_id"], "aptus");
    assert_eq!(invoice["evaluations"], 3);
    assert!(invoice.get("platform").is_none(), "{invoice}");
    let plan = &invoice["plan"];
    let lines = &invoice["lines"];
    assert_eq!(
        decimal(&line(lines, "base_fee")["amount"]),
        decimal(&plan["base_fee"])
    );
    assert!(
        plan["included_evaluations"].as_u64().unwrap() >= 3,
        "{plan}"
    );
    assert_eq!(
        decimal(&line(lines, "included_allowance")["quantity"]),
        Decimal::from(3)
    );
    assert!(decimal(&line(lines, "overage")["amount"]).is_zero());
    assert_eq!(decimal(&invoice["total"]), decimal(&plan["base_fee"]));
    let clients = invoice["clients"].as_array().unwrap();
    let evaluations: Vec<(&str, i64)> = clients
        .iter()
        .map(|c| {
            (
                c["client_id"].as_str().unwrap(),
                c["evaluations"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(evaluations, [("c1", 2), ("c2", 1)]);
    let client_sum: Decimal = clients.iter().map(|c| decimal(&c["total"])).sum();
    assert_eq!(client_sum, decimal(&invoice["total"]));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_admin_sees_own_client_only() {
    let server = TestServer::start().await;
    three_evaluations(&server).await;

    let (status, usage) = get(&server, "/api/aptus/v1/usage?by=client", "cadmin").await;
    assert_eq!(status, 200, "{usage}");
    let rows = usage["reports"][0]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{usage}");
    assert_eq!(rows[0]["key"], "c1");
    assert_eq!(usage["totals"]["events"], 2);
    let (status, own) = get(&server, "/api/aptus/v1/usage?client=c1", "cadmin").await;
    assert_eq!(status, 200, "{own}");
    assert_eq!(own["totals"]["events"], 2);

    let (other_status, other) = get(&server, "/api/aptus/v1/usage?client=c2", "cadmin").await;
    let (missing_status, missing) = get(&server, "/api/aptus/v1/usage?client=nope", "cadmin").await;
    assert_eq!(other_status, 404, "{other}");
    assert_eq!(missing_status, 404, "{missing}");
    assert_eq!(other["error"]["code"], missing["error"]["code"]);
    assert_eq!(other["error"]["message"], missing["error"]["message"]);

    let month = this_month();
    let path = format!("/api/aptus/v1/invoices/{month}");
    let (status, statement) = get(&server, &path, "cadmin").await;
    assert_eq!(status, 200, "{statement}");
    assert_eq!(statement["client_id"], "c1");
    assert_eq!(statement["evaluations"], 2);
    assert_eq!(statement["status"], "draft");
    for hidden in ["clients", "plan", "platform", "partner_name"] {
        assert!(statement.get(hidden).is_none(), "{hidden} in {statement}");
    }
    let text = statement.to_string();
    assert!(!text.contains("c2"), "{text}");
    for part in statement["lines"].as_array().unwrap() {
        assert!(part.get("description").is_none(), "{part}");
        assert!(part.get("quantity").is_none(), "{part}");
    }

    let (_, invoice) = get(&server, &path, "padmin").await;
    let c1 = invoice["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client_id"] == "c1")
        .unwrap();
    assert_eq!(statement["total"], c1["total"]);
    assert_eq!(statement["lines"], c1["lines"]);
    assert!(decimal(&statement["total"]) < decimal(&invoice["total"]));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_see_their_binding() {
    let server = TestServer::start().await;
    three_evaluations(&server).await;
    let month = this_month();
    let partner_key = server
        .api_key("aptus", None, vec![Permission::ViewBilling])
        .await;
    let client_key = server
        .api_key("aptus", Some("c2"), vec![Permission::ViewInstitution])
        .await;
    let read = |key: String, path: String| {
        let request = server
            .http
            .get(format!("{}{path}", server.base))
            .header("x-api-key", key);
        async move { support::read(request.send().await.unwrap()).await }
    };
    let (status, invoice) = read(
        partner_key.clone(),
        format!("/api/aptus/v1/invoices/{month}"),
    )
    .await;
    assert_eq!(status, 200, "{invoice}");
    assert_eq!(invoice["clients"].as_array().unwrap().len(), 2);
    let (status, statement) = read(
        client_key.clone(),
        format!("/api/aptus/v1/invoices/{month}"),
    )
    .await;
    assert_eq!(status, 200, "{statement}");
    assert_eq!(statement["client_id"], "c2");
    assert_eq!(statement["evaluations"], 1);
    let (status, usage) = read(client_key, "/api/aptus/v1/usage".to_owned()).await;
    assert_eq!(status, 200, "{usage}");
    assert_eq!(usage["totals"]["events"], 1);
    let (status, usage) = read(partner_key, "/api/aptus/v1/usage".to_owned()).await;
    assert_eq!(status, 200, "{usage}");
    assert_eq!(usage["totals"]["events"], 3);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teachers_and_students_get_403() {
    let server = TestServer::start().await;
    let invoice = format!("/api/aptus/v1/invoices/{}", this_month());
    for user in ["prof", "ana"] {
        for path in [
            "/api/aptus/v1/usage",
            "/api/aptus/v1/usage?client=c1",
            &invoice,
        ] {
            let (status, body) = get(&server, path, user).await;
            assert_eq!(status, 403, "{user} {path}: {body}");
        }
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_partner_gets_404() {
    let server = TestServer::start().await;
    let month = this_month();
    for path in [
        "/api/bravo/v1/usage".to_owned(),
        format!("/api/bravo/v1/invoices/{month}"),
    ] {
        let (status, body) = get(&server, &path, "padmin").await;
        assert_eq!(status, 404, "{path}: {body}");
        let (status, body) = get(&server, &path, "cadmin").await;
        assert_eq!(status, 404, "{path}: {body}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_months_and_dates_get_400() {
    let server = TestServer::start().await;
    let cases = [
        ("/api/aptus/v1/usage?month=2026-13", "2026-13"),
        ("/api/aptus/v1/usage?month=march", "march"),
        (
            "/api/aptus/v1/usage?from=2026-02-30&to=2026-03-01",
            "2026-02-30",
        ),
        (
            "/api/aptus/v1/usage?from=2026-03-01&to=tomorrow",
            "tomorrow",
        ),
        (
            "/api/aptus/v1/usage?from=2026-03-02&to=2026-03-01",
            "2026-03-02",
        ),
        ("/api/aptus/v1/usage?from=2026-03-01", "from and to"),
        (
            "/api/aptus/v1/usage?month=2026-03&from=2026-03-01&to=2026-03-02",
            "month",
        ),
        ("/api/aptus/v1/usage?by=week", "week"),
        ("/api/aptus/v1/usage?group=day", "group"),
        ("/api/aptus/v1/invoices/2026-3", "2026-3"),
        ("/api/aptus/v1/invoices/2026-00", "2026-00"),
    ];
    for (path, named) in cases {
        let (status, body) = get(&server, path, "padmin").await;
        assert_eq!(status, 400, "{path}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(named), "{path}: {message}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn month_before_creation_has_no_invoice() {
    let server = TestServer::start().await;
    let this_month: sam_core::metering::Month = this_month().parse().unwrap();
    let before = this_month
        .first_day()
        .pred_opt()
        .map(sam_core::metering::Month::of_day)
        .unwrap();
    let (status, body) = get(
        &server,
        &format!("/api/aptus/v1/invoices/{before}"),
        "padmin",
    )
    .await;
    assert_eq!(status, 404, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("was created on"), "{message}");
    assert!(message.contains(&before.to_string()), "{message}");
    let (status, body) = get(
        &server,
        &format!("/api/aptus/v1/invoices/{this_month}"),
        "padmin",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["evaluations"], 0);
    server.stop().await;
}
