//! Redis cache backends: one node through a `ConnectionManager`, or a Redis
//! Cluster through `cluster_async`.

use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use tokio::sync::OnceCell;

use super::{CacheBackend, CacheError};

/// How long a cache command may take before it counts as a miss.
const COMMAND_TIMEOUT: Duration = Duration::from_millis(500);

/// A cache on one Redis node. The connection is opened on first use and
/// reopened after a failure, so a Redis that is down at start-up or goes
/// away later only causes misses.
#[derive(Clone)]
pub struct RedisBackend {
    manager: ConnectionManager,
    prefix: String,
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackend")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisBackend {
    /// Builds the backend for `url` (such as `redis://127.0.0.1:6379`)
    /// without connecting. Every key is prefixed with `prefix`, which may be
    /// empty.
    ///
    /// # Errors
    /// [`CacheError::Redis`] for an invalid URL, [`CacheError::InvalidConfig`]
    /// when called outside a Tokio runtime, which the connection task needs.
    pub fn new(url: &str, prefix: &str) -> Result<Self, CacheError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(CacheError::InvalidConfig(
                "RedisBackend::new must be called inside a Tokio runtime".to_owned(),
            ));
        }
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(COMMAND_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_number_of_retries(1);
        let manager = ConnectionManager::new_lazy_with_config(client, config)?;
        Ok(Self {
            manager,
            prefix: prefix.to_owned(),
        })
    }

    /// Returns the server's id of the current connection, so a test can
    /// kill it with `CLIENT KILL ID`.
    #[cfg(test)]
    pub(crate) async fn client_id(&self) -> Result<i64, CacheError> {
        let mut connection = self.manager.clone();
        Ok(redis::cmd("CLIENT")
            .arg("ID")
            .query_async::<i64>(&mut connection)
            .await?)
    }
}

#[async_trait]
impl CacheBackend for RedisBackend {
    async fn get(&self, key: &str) -> Result<Option<String>, CacheError> {
        let mut connection = self.manager.clone();
        get(&mut connection, &format!("{}{key}", self.prefix)).await
    }

    async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), CacheError> {
        let mut connection = self.manager.clone();
        set(
            &mut connection,
            &format!("{}{key}", self.prefix),
            value,
            ttl,
        )
        .await
    }
}

/// A cache on a Redis Cluster. The cluster connection is opened on first
/// use; until it succeeds every call is a miss.
// NOTE: not covered by tests, because the test machine runs a single
// Redis node and no cluster.
pub struct RedisClusterBackend {
    client: ClusterClient,
    connection: OnceCell<ClusterConnection>,
    prefix: String,
}

impl std::fmt::Debug for RedisClusterBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisClusterBackend")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisClusterBackend {
    /// Builds the backend for the cluster's seed `nodes` without connecting.
    ///
    /// # Errors
    /// [`CacheError::Redis`] for an invalid node URL.
    pub fn new(nodes: &[&str], prefix: &str) -> Result<Self, CacheError> {
        let client = ClusterClient::builder(nodes.iter().copied())
            .connection_timeout(COMMAND_TIMEOUT)
            .response_timeout(COMMAND_TIMEOUT)
            .build()?;
        Ok(Self {
            client,
            connection: OnceCell::new(),
            prefix: prefix.to_owned(),
        })
    }

    async fn connection(&self) -> Result<ClusterConnection, CacheError> {
        let connection = self
            .connection
            .get_or_try_init(|| self.client.get_async_connection())
            .await?;
        Ok(connection.clone())
    }
}

#[async_trait]
impl CacheBackend for RedisClusterBackend {
    async fn get(&self, key: &str) -> Result<Option<String>, CacheError> {
        let mut connection = self.connection().await?;
        get(&mut connection, &format!("{}{key}", self.prefix)).await
    }

    async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), CacheError> {
        let mut connection = self.connection().await?;
        set(
            &mut connection,
            &format!("{}{key}", self.prefix),
            value,
            ttl,
        )
        .await
    }
}

async fn get<C: ConnectionLike + Send>(
    connection: &mut C,
    key: &str,
) -> Result<Option<String>, CacheError> {
    let value = redis::cmd("GET")
        .arg(key)
        .query_async::<Option<String>>(connection)
        .await?;
    Ok(value)
}

/// Stores with `SET key value PX ttl_ms`; a TTL under 1 ms is stored as 1 ms.
async fn set<C: ConnectionLike + Send>(
    connection: &mut C,
    key: &str,
    value: &str,
    ttl: Duration,
) -> Result<(), CacheError> {
    let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
    redis::cmd("SET")
        .arg(key)
        .arg(value)
        .arg("PX")
        .arg(millis)
        .query_async::<()>(connection)
        .await?;
    Ok(())
}
