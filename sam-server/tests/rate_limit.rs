//! Rate limits and daily quotas through the real server, with the counters in Redis.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use reqwest::{Method, StatusCode};
use support::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_requests_admit_exactly_burst() {
    let server =
        TestServer::start_rate_limited("[partners.aptus]\nrequests_per_minute = 1\nburst = 10\n")
            .await;
    let token = server.token("padmin").await;
    let requests = (0..50).map(|_| {
        server
            .http
            .get(format!("{}/api/aptus/v1/clients", server.base))
            .bearer_auth(&token)
            .send()
    });
    let responses = futures::future::join_all(requests).await;
    let mut admitted = 0;
    let mut rejected = 0;
    for response in responses {
        let response = response.unwrap();
        match response.status() {
            StatusCode::OK => {
                admitted += 1;
                assert!(response.headers().contains_key("x-ratelimit-remaining"));
            }
            StatusCode::TOO_MANY_REQUESTS => {
                rejected += 1;
                assert!(response.headers().contains_key("retry-after"));
                assert_eq!(response.headers()["x-ratelimit-limit"], "10");
                let body: serde_json::Value = response.json().await.unwrap();
                assert_eq!(body["error"]["code"], "rate_limited");
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(admitted, 10);
    assert_eq!(rejected, 40);

    // Another partner's budget is untouched.
    let other = server
        .request(
            Method::GET,
            "/api/bravo/v1/clients/b1/assignments",
            Some("bprof"),
        )
        .await
        .send()
        .await
        .unwrap();
    assert_ne!(other.status(), StatusCode::TOO_MANY_REQUESTS);
}
