//! The OpenAPI document at `/api/openapi.json`: every route it lists
//! exists in the router, it parses as OpenAPI 3.1 with every reference
//! resolved and every path parameter declared, and every response it
//! documents is one the server returns.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use futures::future::LocalBoxFuture;
use http_body_util::BodyExt;
use oas3::spec::{ObjectOrReference, ObjectSchema, ParameterIn, Schema};
use oas3::Spec;
use serde_json::Value;
use support::{mount_model, read, TestServer};
use tower::ServiceExt;

/// Replaces each `{name}` path parameter with a sample value.
fn sample_path(template: &str) -> String {
    template
        .replace("{partner}", "aptus")
        .replace("{client}", "c1")
        .replace("{student}", "ana")
        .replace("{prefix}", "abcdefghij")
        .replace("{id}", "0190d5c4-0000-7000-8000-000000000000")
        .replace("{month}", "2026-03")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documented_routes_exist() {
    let server = TestServer::start().await;
    let app = sam_server::app(server.state.clone());

    let response = app
        .clone()
        .oneshot(
            Request::get("/api/openapi.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let document: Value = serde_json::from_slice(&bytes).unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    let paths = document["paths"].as_object().unwrap();
    assert!(paths.len() >= 14, "{} paths", paths.len());

    let mut checked = 0;
    for (template, operations) in paths {
        for method in operations.as_object().unwrap().keys() {
            let request = Request::builder()
                .method(method.to_uppercase().as_str())
                .uri(sample_path(template))
                .header("content-type", "application/json")
                .body(Body::from("{}"))
                .unwrap();
            let status = app.clone().oneshot(request).await.unwrap().status();
            // Without credentials a tenant route returns 401 and a public
            // one 200. The fallback of an unknown route returns 404, and a
            // known path with another method 405.
            assert!(
                status == StatusCode::UNAUTHORIZED || status == StatusCode::OK,
                "{method} {template} answered {status}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 18, "{checked} operations checked");
    server.stop().await;
}

/// Fetches the document from a running server, as text and as the
/// `oas3` model of OpenAPI 3.1.
async fn fetch_document(server: &TestServer) -> (Value, Spec) {
    let response = server
        .http
        .get(format!("{}/api/openapi.json", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let spec = oas3::from_json(&text)
        .unwrap_or_else(|error| panic!("the document is not valid OpenAPI 3.1: {error}"));
    (serde_json::from_str(&text).unwrap(), spec)
}

/// Collects every `$ref` value in `value`.
fn collect_refs<'a>(value: &'a Value, refs: &mut Vec<&'a str>) {
    match value {
        Value::Object(object) => {
            for (key, child) in object {
                match (key.as_str(), child) {
                    ("$ref", Value::String(target)) => refs.push(target),
                    _ => collect_refs(child, refs),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_refs(item, refs)),
        _ => {}
    }
}

/// Returns the `{name}` parameters of a path template.
fn template_parameters(path: &str) -> BTreeSet<String> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn document_is_valid_openapi() {
    let server = TestServer::start().await;
    let (document, spec) = fetch_document(&server).await;
    let version = spec.validate_version().unwrap();
    assert_eq!((version.major, version.minor), (3, 1), "{version}");

    let mut refs = Vec::new();
    collect_refs(&document, &mut refs);
    assert!(!refs.is_empty(), "the document has no $ref to check");
    for target in refs {
        let pointer = target
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("$ref {target} points outside the document"));
        assert!(
            document.pointer(pointer).is_some(),
            "$ref {target} does not resolve"
        );
    }

    let paths = spec.paths.as_ref().unwrap();
    for (path, method, operation) in spec.operations() {
        let item = &paths[&path];
        let mut declared = BTreeSet::new();
        for parameter in item.parameters.iter().chain(&operation.parameters) {
            let parameter = parameter
                .resolve(&spec)
                .unwrap_or_else(|error| panic!("{method} {path}: parameter: {error}"));
            if parameter.location == ParameterIn::Path {
                assert_eq!(
                    parameter.required,
                    Some(true),
                    "{method} {path}: path parameter {} is not required",
                    parameter.name
                );
                declared.insert(parameter.name);
            }
        }
        assert_eq!(
            declared,
            template_parameters(&path),
            "{method} {path}: declared path parameters differ from the template"
        );
        for (status, response) in operation.responses.iter().flatten() {
            let response = response
                .resolve(&spec)
                .unwrap_or_else(|error| panic!("{method} {path} {status}: {error}"));
            for media in response.content.values() {
                media
                    .schema(&spec)
                    .unwrap_or_else(|error| panic!("{method} {path} {status}: {error}"));
            }
        }
    }
    server.stop().await;
}

/// Returns the documented (method, path template, status) triples.
fn documented_responses(spec: &Spec) -> BTreeSet<(String, String, u16)> {
    let mut documented = BTreeSet::new();
    for (path, method, operation) in spec.operations() {
        for status in operation
            .responses
            .iter()
            .flatten()
            .map(|(status, _)| status)
        {
            let status: u16 = status
                .parse()
                .unwrap_or_else(|_| panic!("{method} {path}: response {status:?} is not a status"));
            documented.insert((method.to_string(), path.clone(), status));
        }
    }
    documented
}

/// Returns the required property names of an object schema, following a
/// reference.
fn required_properties(schema: &ObjectOrReference<ObjectSchema>, spec: &Spec) -> Vec<String> {
    schema.resolve(spec).unwrap().required
}

/// Checks that `body` has the required properties of the documented JSON
/// body of `response`, for an object or for each item of an array.
fn check_body(label: &str, response: &oas3::spec::Response, spec: &Spec, body: &Value) {
    let Some(media) = response.content.get("application/json") else {
        return;
    };
    let Some(schema) = &media.schema else {
        return;
    };
    let resolved = schema.resolve(spec).unwrap();
    let (objects, required) = match (&resolved.items, body) {
        (Some(items), Value::Array(elements)) => {
            let Schema::Object(items) = items.as_ref() else {
                panic!("{label}: array items are a boolean schema");
            };
            (elements.iter().collect(), required_properties(items, spec))
        }
        (Some(_), other) => panic!("{label}: documented an array, got {other}"),
        (None, object) => (vec![object], resolved.required.clone()),
    };
    for object in objects {
        for property in &required {
            assert!(
                object.get(property).is_some(),
                "{label}: required property {property} missing from {object}"
            );
        }
    }
}

/// Checks the error envelope `{"error": {"code", "message", "request_id"}}`.
fn check_error_envelope(label: &str, body: &Value, request_id: Option<&str>) {
    let error = &body["error"];
    let code = error["code"].as_str().unwrap_or_default();
    assert!(!code.is_empty(), "{label}: no error code in {body}");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "{label}: no error message in {body}");
    assert!(request_id.is_some(), "{label}: no x-request-id header");
    assert_eq!(error["request_id"].as_str(), request_id, "{label}: {body}");
}

/// The schema reference of the error envelope.
const ERROR_BODY: &str = "#/components/schemas/ErrorBody";

/// Returns whether `response` documents the error envelope as its JSON body.
fn documents_envelope(response: &oas3::spec::Response) -> bool {
    let schema = response
        .content
        .get("application/json")
        .and_then(|media| media.schema.as_ref());
    matches!(schema, Some(ObjectOrReference::Ref { ref_path, .. }) if ref_path == ERROR_BODY)
}

/// Checks a response against its documented status, headers and body.
async fn check_response(
    label: &str,
    response: reqwest::Response,
    status: u16,
    documented: &oas3::spec::Response,
    spec: &Spec,
) {
    let headers = response.headers().clone();
    let (actual, body) = read(response).await;
    assert_eq!(actual, status, "{label}: got {actual} with {body}");
    for name in documented.headers.keys() {
        assert!(
            headers.contains_key(name.as_str()),
            "{label}: documented header {name} missing from {headers:?}"
        );
    }
    if status >= 400 && documents_envelope(documented) {
        let request_id = headers.get("x-request-id").map(|v| v.to_str().unwrap());
        check_error_envelope(label, &body, request_id);
    } else {
        check_body(label, documented, spec, &body);
    }
}

/// The path prefix of the tenant routes.
const TENANT_PREFIX: &str = "/api/{partner}/v1/";

/// The statuses the middleware returns on every tenant route, each
/// produced by one generic request per operation: no credential (401),
/// a credential of partner `bravo` on `aptus`'s path (404), and a valid
/// credential after the partner's rate is spent (429).
const GENERIC_STATUSES: [u16; 3] = [401, 404, 429];

/// Sends `method` to the sample path of `template` with an empty JSON
/// object, as `user` or without a credential.
async fn send_generic(
    server: &TestServer,
    method: &str,
    template: &str,
    user: Option<&str>,
) -> reqwest::Response {
    let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    server
        .request(method, &sample_path(template), user)
        .await
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap()
}

/// A rate of one request a minute for partner `aptus`: after one request,
/// every request of the partner gets 429 for a minute, longer than the
/// generic 429 requests take.
const ONE_PER_MINUTE: &str = "[partners.aptus]\nrequests_per_minute = 1\nburst = 1\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documented_responses_are_returned() {
    let server = TestServer::start().await;
    mount_model(&server.llm, Duration::ZERO).await;
    let (_, spec) = fetch_document(&server).await;

    let mut operations = BTreeMap::new();
    for (path, method, operation) in spec.operations() {
        operations.insert((method.to_string(), path), operation.responses(&spec));
    }
    let tenant_operations: Vec<(String, String)> = operations
        .keys()
        .filter(|(_, path)| path.starts_with(TENANT_PREFIX))
        .cloned()
        .collect();
    assert!(
        tenant_operations.len() >= 19,
        "{} tenant operations",
        tenant_operations.len()
    );

    let cases = cases();
    let documented = documented_responses(&spec);
    let mut covered = BTreeSet::new();
    for case in &cases {
        let key = (case.method.to_owned(), case.path.to_owned(), case.status);
        assert!(
            covered.insert(key),
            "two cases for {} {} {}",
            case.method,
            case.path,
            case.status
        );
    }
    for (method, path) in &tenant_operations {
        for status in GENERIC_STATUSES {
            covered.insert((method.clone(), path.clone(), status));
        }
    }
    let missing: Vec<String> = documented
        .difference(&covered)
        .map(|(method, path, status)| format!("case!(\"{method}\" \"{path}\" {status} => ...)"))
        .collect();
    assert!(
        missing.is_empty(),
        "documented responses without an entry in cases(); add:\n{}",
        missing.join("\n")
    );
    let undocumented: Vec<String> = covered
        .difference(&documented)
        .map(|(method, path, status)| format!("{method} {path} {status}"))
        .collect();
    assert!(
        undocumented.is_empty(),
        "cases for responses the document lacks: {undocumented:?}"
    );
    for ((method, path), responses) in &operations {
        for (status, response) in responses {
            let label = format!("{method} {path} {status}");
            let is_error = status.starts_with('4') || status.starts_with('5');
            let has_body = !response.content.is_empty();
            assert!(
                !is_error || has_body,
                "{label}: an error response without the error envelope"
            );
        }
    }

    let documented_response = |method: &str, path: &str, status: u16| {
        &operations[&(method.to_owned(), path.to_owned())][&status.to_string()]
    };
    for case in &cases {
        let label = format!("{} {} {}", case.method, case.path, case.status);
        let response = (case.run)(&server).await;
        let documented = documented_response(case.method, case.path, case.status);
        check_response(&label, response, case.status, documented, &spec).await;
    }
    for (method, path) in &tenant_operations {
        for (status, user) in [(401, None), (404, Some("bprof"))] {
            let label = format!("{method} {path} {status} (generic)");
            let response = send_generic(&server, method, path, user).await;
            let documented = documented_response(method, path, status);
            check_response(&label, response, status, documented, &spec).await;
        }
    }
    server.stop().await;

    let limited = TestServer::start_rate_limited(ONE_PER_MINUTE).await;
    let (status, body) = limited
        .call(
            reqwest::Method::GET,
            "/api/aptus/v1/clients",
            Some("padmin"),
            None,
        )
        .await;
    assert_eq!(status, 200, "the request that spends the rate: {body}");
    for (method, path) in &tenant_operations {
        let label = format!("{method} {path} 429 (generic)");
        let response = send_generic(&limited, method, path, Some("padmin")).await;
        let documented = documented_response(method, path, 429);
        check_response(&label, response, 429, documented, &spec).await;
    }
    limited.stop().await;
}

/// Builds the future of a contract case.
type Run = for<'a> fn(&'a TestServer) -> LocalBoxFuture<'a, reqwest::Response>;

/// A request that produces one documented response.
struct Case {
    method: &'static str,
    path: &'static str,
    status: u16,
    run: Run,
}

/// `case!("GET" "/path/{id}" 200 => function)` adds the case where
/// `function(&TestServer)` sends a request that gets that response.
macro_rules! case {
    ($method:literal $path:literal $status:literal => $run:path) => {
        Case {
            method: $method,
            path: $path,
            status: $status,
            run: |server| Box::pin($run(server)),
        }
    };
}

/// One case for each (method, path template, status) the document lists,
/// and no other, except the 401, 404 and 429 of each tenant operation,
/// which `documented_responses_are_returned` produces with generic
/// requests. Adding an operation or a response code to the document needs
/// a case here.
fn cases() -> Vec<Case> {
    vec![
        case!("GET" "/healthz" 200 => cases::healthz),
        case!("GET" "/readyz" 200 => cases::readyz),
        case!("GET" "/readyz" 503 => cases::readyz_without_redis),
        case!("GET" "/api/{partner}/v1/health" 200 => cases::partner_health),
        case!("GET" "/api/{partner}/v1/health" 403 => cases::partner_health_as_student),
        case!("GET" "/api/{partner}/v1/health" 503 => cases::partner_health_without_schema),
        case!("POST" "/api/{partner}/v1/clients" 201 => cases::create_client),
        case!("POST" "/api/{partner}/v1/clients" 400 => cases::create_client_invalid_type),
        case!("POST" "/api/{partner}/v1/clients" 403 => cases::create_client_as_client_admin),
        case!("POST" "/api/{partner}/v1/clients" 409 => cases::create_existing_client),
        case!("GET" "/api/{partner}/v1/clients" 200 => cases::list_clients),
        case!("GET" "/api/{partner}/v1/clients" 403 => cases::list_clients_as_teacher),
        case!("POST" "/api/{partner}/v1/clients/{client}/users" 201 => cases::create_user),
        case!("POST" "/api/{partner}/v1/clients/{client}/users" 400 => cases::create_user_invalid_role),
        case!("POST" "/api/{partner}/v1/clients/{client}/users" 403 => cases::create_user_as_teacher),
        case!("POST" "/api/{partner}/v1/clients/{client}/users" 409 => cases::create_existing_user),
        case!("GET" "/api/{partner}/v1/clients/{client}/users" 200 => cases::list_users),
        case!("GET" "/api/{partner}/v1/clients/{client}/users" 403 => cases::list_users_as_teacher),
        case!("POST" "/api/{partner}/v1/clients/{client}/assignments" 201 => cases::create_assignment),
        case!("POST" "/api/{partner}/v1/clients/{client}/assignments" 400 => cases::create_assignment_without_prompt),
        case!("POST" "/api/{partner}/v1/clients/{client}/assignments" 403 => cases::create_assignment_as_student),
        case!("POST" "/api/{partner}/v1/clients/{client}/assignments" 409 => cases::create_existing_assignment),
        case!("GET" "/api/{partner}/v1/clients/{client}/assignments" 200 => cases::list_assignments),
        case!("GET" "/api/{partner}/v1/clients/{client}/assignments/{id}" 200 => cases::get_assignment),
        case!("GET" "/api/{partner}/v1/clients/{client}/assignments/{id}" 404 => cases::get_missing_assignment),
        case!("POST" "/api/{partner}/v1/clients/{client}/evaluations" 201 => cases::evaluate),
        case!("POST" "/api/{partner}/v1/clients/{client}/evaluations" 200 => cases::evaluate_again),
        case!("POST" "/api/{partner}/v1/clients/{client}/evaluations" 400 => cases::evaluate_without_text),
        case!("POST" "/api/{partner}/v1/clients/{client}/evaluations" 403 => cases::evaluate_as_student),
        case!("POST" "/api/{partner}/v1/clients/{client}/evaluations" 409 => cases::evaluate_changed_text),
        case!("GET" "/api/{partner}/v1/clients/{client}/evaluations" 200 => cases::list_evaluations),
        case!("GET" "/api/{partner}/v1/clients/{client}/evaluations" 400 => cases::list_evaluations_invalid_limit),
        case!("GET" "/api/{partner}/v1/clients/{client}/evaluations" 403 => cases::list_evaluations_as_student),
        case!("POST" "/api/{partner}/v1/clients/{client}/evaluations/batch" 202 => cases::start_batch),
        case!("POST" "/api/{partner}/v1/clients/{client}/evaluations/batch" 400 => cases::start_empty_batch),
        case!("POST" "/api/{partner}/v1/clients/{client}/evaluations/batch" 403 => cases::start_batch_as_student),
        case!("GET" "/api/{partner}/v1/clients/{client}/students/{student}/feedback" 200 => cases::student_feedback),
        case!("GET" "/api/{partner}/v1/clients/{client}/students/{student}/feedback" 403 => cases::student_feedback_without_scope),
        case!("GET" "/api/{partner}/v1/evaluations/{id}" 200 => cases::get_evaluation),
        case!("GET" "/api/{partner}/v1/evaluations/{id}" 400 => cases::get_evaluation_invalid_id),
        case!("GET" "/api/{partner}/v1/evaluations/{id}" 403 => cases::get_evaluation_as_student),
        case!("GET" "/api/{partner}/v1/evaluations/{id}" 404 => cases::get_missing_evaluation),
        case!("POST" "/api/{partner}/v1/evaluations/{id}/approve" 200 => cases::approve),
        case!("POST" "/api/{partner}/v1/evaluations/{id}/approve" 400 => cases::approve_invalid_body),
        case!("POST" "/api/{partner}/v1/evaluations/{id}/approve" 403 => cases::approve_as_student),
        case!("POST" "/api/{partner}/v1/evaluations/{id}/approve" 409 => cases::approve_reviewed),
        case!("POST" "/api/{partner}/v1/evaluations/{id}/override" 200 => cases::override_score),
        case!("POST" "/api/{partner}/v1/evaluations/{id}/override" 400 => cases::override_invalid_id),
        case!("POST" "/api/{partner}/v1/evaluations/{id}/override" 403 => cases::override_as_student),
        case!("POST" "/api/{partner}/v1/evaluations/{id}/override" 409 => cases::override_reviewed),
        case!("GET" "/api/{partner}/v1/jobs/{id}" 200 => cases::get_job),
        case!("GET" "/api/{partner}/v1/jobs/{id}" 400 => cases::get_job_invalid_id),
        case!("GET" "/api/{partner}/v1/jobs/{id}" 403 => cases::get_job_as_student),
        case!("GET" "/api/{partner}/v1/jobs/{id}" 404 => cases::get_missing_job),
        case!("POST" "/api/{partner}/v1/keys" 201 => cases::create_key),
        case!("POST" "/api/{partner}/v1/keys" 400 => cases::create_key_invalid_scope),
        case!("POST" "/api/{partner}/v1/keys" 403 => cases::create_key_as_teacher),
        case!("POST" "/api/{partner}/v1/keys" 404 => cases::create_key_for_missing_client),
        case!("GET" "/api/{partner}/v1/keys" 200 => cases::list_keys),
        case!("GET" "/api/{partner}/v1/keys" 403 => cases::list_keys_as_teacher),
        case!("POST" "/api/{partner}/v1/keys/{prefix}/revoke" 200 => cases::revoke_key),
        case!("POST" "/api/{partner}/v1/keys/{prefix}/revoke" 403 => cases::revoke_key_as_teacher),
        case!("POST" "/api/{partner}/v1/keys/{prefix}/revoke" 404 => cases::revoke_missing_key),
        case!("GET" "/api/{partner}/v1/usage" 200 => cases::usage),
        case!("GET" "/api/{partner}/v1/usage" 400 => cases::usage_invalid_month),
        case!("GET" "/api/{partner}/v1/usage" 403 => cases::usage_as_teacher),
        case!("GET" "/api/{partner}/v1/usage" 404 => cases::usage_of_missing_client),
        case!("GET" "/api/{partner}/v1/usage" 500 => cases::usage_without_rollups),
        case!("GET" "/api/{partner}/v1/invoices/{month}" 200 => cases::invoice),
        case!("GET" "/api/{partner}/v1/invoices/{month}" 400 => cases::invoice_invalid_month),
        case!("GET" "/api/{partner}/v1/invoices/{month}" 403 => cases::invoice_as_teacher),
        case!("GET" "/api/{partner}/v1/invoices/{month}" 404 => cases::invoice_before_creation),
        case!("GET" "/api/{partner}/v1/invoices/{month}" 409 => cases::invoice_after_currency_change),
        case!("GET" "/api/{partner}/v1/invoices/{month}" 500 => cases::invoice_without_rollups),
    ]
}

#[path = "openapi/cases.rs"]
mod cases;
