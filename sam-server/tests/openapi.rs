//! The OpenAPI document parses, and every route it lists exists in the router.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use support::TestServer;
use tower::ServiceExt;

/// Replaces each `{name}` path parameter with a sample value.
fn sample_path(template: &str) -> String {
    template
        .replace("{partner}", "aptus")
        .replace("{client}", "c1")
        .replace("{student}", "ana")
        .replace("{prefix}", "abcdefghij")
        .replace("{id}", "0190d5c4-0000-7000-8000-000000000000")
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
