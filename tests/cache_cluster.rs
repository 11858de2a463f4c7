//! The Redis Cluster cache backend against a real local cluster.
//!
//! `.ci/run` starts a three-node cluster on 127.0.0.1:7000-7002 when the
//! machine has `redis-server` and sets `SAMTEST_REDIS_CLUSTER` to its node
//! URLs, comma-separated. Without it the test says it is skipped.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use sam_core::cache::{CacheBackend, RedisClusterBackend};

#[tokio::test]
async fn cluster_backend_round_trips_across_slots() {
    let Ok(nodes) = std::env::var("SAMTEST_REDIS_CLUSTER") else {
        eprintln!("skipped: SAMTEST_REDIS_CLUSTER is not set, so no Redis Cluster to test against");
        return;
    };
    let nodes: Vec<&str> = nodes.split(',').map(str::trim).collect();
    let prefix = format!("samtest:{}:", uuid::Uuid::new_v4().simple());
    let backend = RedisClusterBackend::new(&nodes, &prefix).unwrap();
    // Keys of different partners hash to different slots, so several nodes serve them.
    let keys: Vec<String> = (0..50)
        .map(|i| format!("partner{i}:client:llm:abc"))
        .collect();
    for (i, key) in keys.iter().enumerate() {
        backend
            .set(key, &format!("{{\"value\":{i}}}"), Duration::from_secs(60))
            .await
            .unwrap();
    }
    for (i, key) in keys.iter().enumerate() {
        let value = backend.get(key).await.unwrap();
        assert_eq!(
            value.as_deref(),
            Some(format!("{{\"value\":{i}}}").as_str()),
            "{key}"
        );
    }
    assert_eq!(backend.get("partner_missing:c:llm:x").await.unwrap(), None);

    backend
        .set("expiring", "1", Duration::from_millis(200))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        backend.get("expiring").await.unwrap(),
        None,
        "entry outlived its TTL"
    );
}
