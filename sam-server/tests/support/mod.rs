//! A real sam-server on port 0 over a fresh PostgreSQL database, real
//! Redis under a key prefix of its own, and a wiremock LLM provider that
//! speaks the OpenAI chat completions format.

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response};
use sam_core::auth::{
    create_api_key, Authenticator, KeyConfig, NewApiKey, Permission, TokenAlgorithm, TokenConfig,
    TokenSigner, TokenSubject,
};
use sam_core::cache::{CacheConfig, CachedEvaluator, RedisBackend};
use sam_core::engine::Engine;
use sam_core::eval::OfflineScorer;
use sam_core::llm::{PartnerPolicy, ProviderConfig, ProviderKind, Router, RouterConfig};
use sam_core::store::Store;
use sam_core::tenancy::{
    GradeScale, InstitutionType, LlmStrategy, NewClient, NewPartner, NewUser, PartnerSlug, Role,
    Tier,
};
use sam_server::metrics::Metrics;
use sam_server::{AppState, Limits};
use sam_tests::TestLocation;
use secrecy::{ExposeSecret, SecretSlice};
use serde_json::{json, Value};
use tokio::sync::oneshot;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub mod limits;
pub mod logs;

use limits::RateLimits;
use logs::install_logging;

pub const REDIS_URL: &str = "redis://127.0.0.1:6379";
const KID: &str = "test-key";
const SECRET_ENV: &str = "SAMTEST_JWT_SECRET";
pub const MAX_BODY: usize = 64 * 1024;

pub fn slug(text: &str) -> PartnerSlug {
    PartnerSlug::parse(text).unwrap()
}

/// The users every test server has: partner `aptus` with clients `c1` and
/// `c2`, and partner `bravo` with client `b1`.
pub const USERS: &[(&str, &str, &str, Role)] = &[
    ("aptus", "c1", "padmin", Role::PartnerAdmin),
    ("aptus", "c1", "cadmin", Role::ClientAdmin),
    ("aptus", "c1", "prof", Role::Teacher),
    ("aptus", "c1", "prof2", Role::Teacher),
    ("aptus", "c1", "ana", Role::Student),
    ("aptus", "c1", "beto", Role::Student),
    ("aptus", "c2", "prof_c2", Role::Teacher),
    ("bravo", "b1", "bprof", Role::Teacher),
];

/// A running server and everything around it.
pub struct TestServer {
    pub base: String,
    pub http: reqwest::Client,
    pub store: Store,
    pub llm: MockServer,
    pub state: AppState,
    signer: TokenSigner,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _location: TestLocation,
}

/// The request limits of every test server.
fn default_limits() -> Limits {
    Limits {
        max_body_bytes: MAX_BODY,
        max_json_depth: 32,
        request_timeout: Duration::from_secs(20),
        batch_concurrency: 2,
    }
}

/// The text the mock model returns: 5 of 7 points on the one criterion.
pub fn model_reply() -> Value {
    let text = json!({
        "criteria": [{"name": "correctness", "score": 5, "feedback": "Mostly right."}],
        "overall_feedback": "Good work.",
    })
    .to_string();
    json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1200, "completion_tokens": 150, "total_tokens": 1350},
    })
}

/// Mounts the model reply, sent after `delay`.
pub async fn mount_model(llm: &MockServer, delay: Duration) {
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(model_reply())
                .set_delay(delay),
        )
        .mount(llm)
        .await;
}

fn router_config(base_url: &str) -> RouterConfig {
    RouterConfig {
        providers: vec![ProviderConfig {
            name: "deepseek".to_owned(),
            kind: ProviderKind::OpenAiCompatible,
            base_url: base_url.to_owned(),
            model: "deepseek-chat".to_owned(),
            api_key: None,
            prices: Default::default(),
            max_output_tokens: 512,
        }],
        default_policy: PartnerPolicy {
            strategy: LlmStrategy::Performance,
            timeout: Duration::from_secs(10),
            ..PartnerPolicy::default()
        },
        ..RouterConfig::default()
    }
}

/// A K-12 client `client` with 30 students and 3 teachers.
fn new_client(client: &str) -> NewClient {
    NewClient {
        client_id: client.to_owned(),
        name: format!("Client {client}"),
        institution_type: InstitutionType::K12,
        students_count: 30,
        teachers_count: 3,
        grade_scale: GradeScale::default(),
    }
}

async fn seed(store: &Store) {
    for partner in ["aptus", "bravo"] {
        store
            .create_partner(NewPartner {
                slug: slug(partner),
                name: format!("Partner {partner}"),
                tier: Tier::Premium,
                strategy: LlmStrategy::Performance,
                daily_quota: None,
                monthly_fee: None,
                time_zone: None,
            })
            .await
            .unwrap();
    }
    for (partner, client) in [("aptus", "c1"), ("aptus", "c2"), ("bravo", "b1")] {
        let db = store.partner_db(&slug(partner)).await.unwrap();
        db.create_client(new_client(client)).await.unwrap();
    }
    for (partner, client, user, role) in USERS {
        let db = store.partner_db(&slug(partner)).await.unwrap();
        db.create_user(NewUser {
            user_id: (*user).to_owned(),
            client_id: (*client).to_owned(),
            role: *role,
            email: None,
        })
        .await
        .unwrap();
    }
    store.create_platform_admin("root", None).await.unwrap();
}

impl TestServer {
    /// Starts a server with the default limits.
    pub async fn start() -> Self {
        Self::start_with(default_limits()).await
    }

    /// Starts a server with `limits`.
    pub async fn start_with(limits: Limits) -> Self {
        Self::start_full(limits, None).await
    }

    /// Starts a server with the default limits and the Redis rate limiter
    /// and daily quota configured by `rate` (a `LimitsConfig` in TOML; the
    /// key prefix is made unique here).
    pub async fn start_rate_limited(rate: &str) -> Self {
        Self::start_limited(RateLimits::new(rate)).await
    }

    /// Starts a server with the default limits and the rate limiter and
    /// daily quota of `rate`.
    pub async fn start_limited(rate: RateLimits) -> Self {
        Self::start_full(default_limits(), Some(rate)).await
    }

    async fn start_full(limits: Limits, rate: Option<RateLimits>) -> Self {
        install_logging();
        let location = TestLocation::postgres().await;
        let store = location.init().await;
        seed(&store).await;

        let secret = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let token_config = TokenConfig {
            issuer: sam_core::auth::DEFAULT_ISSUER.to_owned(),
            audience: "sam-api".to_owned(),
            algorithm: TokenAlgorithm::Hs256,
            ttl_secs: 600,
            leeway_secs: 30,
            signing_kid: KID.to_owned(),
            keys: vec![KeyConfig {
                kid: KID.to_owned(),
                secret_env: Some(SECRET_ENV.to_owned()),
                public_key_file: None,
                private_key_file: None,
            }],
        };
        let env = |name: &str| (name == SECRET_ENV).then(|| secret.clone());
        let verifier = token_config.build_verifier_with(env).unwrap();
        let signer = TokenSigner::hmac(
            token_config.settings(),
            KID,
            &SecretSlice::from(secret.clone().into_bytes()),
        )
        .unwrap();

        let llm = MockServer::start().await;
        let router = Arc::new(
            Router::new(router_config(&llm.uri()), Arc::new(OfflineScorer::new())).unwrap(),
        );
        let prefix = format!("samtest-{}", uuid::Uuid::new_v4().simple());
        let backend = RedisBackend::new(REDIS_URL, &prefix).unwrap();
        let evaluator = CachedEvaluator::new(
            Arc::clone(&router),
            Arc::new(backend),
            CacheConfig::default(),
        );
        let engine = Engine::new(Arc::new(evaluator));
        let shared = Arc::new(store.clone());
        let authenticator = Authenticator::new(verifier, shared.clone(), shared);
        let state = AppState::new(
            store.clone(),
            engine,
            authenticator,
            Metrics::new().unwrap(),
            limits,
        )
        .with_router(router);
        let state = match rate {
            Some(rate) => {
                let redis_url = rate.redis_url.as_deref();
                let limits = sam_core::limits::Limits::new(
                    rate.config.validate().unwrap(),
                    redis_url,
                    Arc::clone(&rate.clock),
                )
                .unwrap();
                // As in `run::build_state`, `/readyz` checks the Redis of
                // the limits.
                let readiness = redis::Client::open(redis_url.unwrap_or(REDIS_URL)).unwrap();
                state
                    .with_redis(readiness)
                    .with_rate_limits(limits)
                    .with_clock(rate.clock)
            }
            None => state.with_redis(redis::Client::open(REDIS_URL).unwrap()),
        };

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (shutdown, stop) = oneshot::channel::<()>();
        let server = tokio::spawn(sam_server::run::serve(
            listener,
            state.clone(),
            async move {
                let _ = stop.await;
            },
            Duration::from_secs(10),
        ));
        Self {
            base,
            http: reqwest::Client::new(),
            store,
            llm,
            state,
            signer,
            shutdown: Some(shutdown),
            server: Some(server),
            _location: location,
        }
    }

    /// Returns a bearer token of a seeded user, or of `root` the operator.
    pub async fn token(&self, user: &str) -> String {
        if user == "root" {
            return self.issue(&TokenSubject::super_admin("root", None));
        }
        let (partner, client, _, role) = USERS
            .iter()
            .find(|(_, _, id, _)| *id == user)
            .unwrap_or_else(|| panic!("no seeded user {user}"));
        let client = (*role != Role::PartnerAdmin).then_some(*client);
        self.member_token(partner, client, user).await
    }

    /// Returns a bearer token of `user` of `partner`, bound to `client`
    /// when given.
    pub async fn member_token(&self, partner: &str, client: Option<&str>, user: &str) -> String {
        let partner = self.store.partner(&slug(partner)).await.unwrap();
        let db = self.store.partner_db(&partner.slug).await.unwrap();
        let user = db.user(user).await.unwrap();
        let client = match client {
            Some(client) => Some(db.client(client).await.unwrap()),
            None => None,
        };
        self.issue(&TokenSubject::member(&partner, client.as_ref(), &user).unwrap())
    }

    fn issue(&self, subject: &TokenSubject) -> String {
        self.signer
            .issue(subject)
            .unwrap()
            .token
            .expose_secret()
            .to_owned()
    }

    /// Creates a premium partner with `daily_quota` evaluations per day in
    /// `time_zone` (the store's default when `None`), its client `c1` and
    /// the client's teacher `teacher`.
    pub async fn add_partner(&self, partner: &str, daily_quota: i64, time_zone: Option<&str>) {
        self.store
            .create_partner(NewPartner {
                slug: slug(partner),
                name: format!("Partner {partner}"),
                tier: Tier::Premium,
                strategy: LlmStrategy::Performance,
                daily_quota: Some(daily_quota),
                monthly_fee: None,
                time_zone: time_zone.map(str::to_owned),
            })
            .await
            .unwrap();
        let db = self.store.partner_db(&slug(partner)).await.unwrap();
        db.create_client(new_client("c1")).await.unwrap();
        db.create_user(NewUser {
            user_id: "teacher".to_owned(),
            client_id: "c1".to_owned(),
            role: Role::Teacher,
            email: None,
        })
        .await
        .unwrap();
    }

    /// Creates an API key of `partner`, bound to `client` when given.
    pub async fn api_key(
        &self,
        partner: &str,
        client: Option<&str>,
        scopes: Vec<Permission>,
    ) -> String {
        let new = NewApiKey {
            partner: slug(partner),
            client_id: client.map(str::to_owned),
            name: "test key".to_owned(),
            scopes,
            expires_at: None,
        };
        create_api_key(&self.store, &new, chrono::Utc::now())
            .await
            .unwrap()
            .key
            .expose_secret()
            .to_owned()
    }

    /// Builds a request to `path` with the bearer token of `user`, or no
    /// credential when `user` is `None`.
    pub async fn request(&self, method: Method, path: &str, user: Option<&str>) -> RequestBuilder {
        let builder = self.http.request(method, format!("{}{path}", self.base));
        match user {
            Some(user) => builder.bearer_auth(self.token(user).await),
            None => builder,
        }
    }

    /// Sends a JSON request as `user` and returns the status and body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        user: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut builder = self.request(method, path, user).await;
        if let Some(body) = body {
            builder = builder.json(&body);
        }
        read(builder.send().await.unwrap()).await
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
    }

    /// Returns the number of usage events of a client of `aptus`.
    pub async fn usage_events(&self, client: &str) -> i64 {
        let sql = "SELECT CAST(COUNT(*) AS BIGINT) FROM \"partner_aptus\".usage_events WHERE client_id = $1";
        sqlx::query_scalar(sql)
            .bind(client)
            .fetch_one(&mut self.database().await)
            .await
            .unwrap()
    }

    /// Runs one SQL statement on the server's database.
    pub async fn execute_sql(&self, sql: &str) {
        sqlx::query(sql)
            .execute(&mut self.database().await)
            .await
            .unwrap_or_else(|error| panic!("{sql} failed: {error}"));
    }

    async fn database(&self) -> sqlx::PgConnection {
        let url = match &self._location.location {
            sam_core::store::StoreLocation::Postgres(url) => url.clone(),
            sam_core::store::StoreLocation::Sqlite(_) => {
                unreachable!("server tests use PostgreSQL")
            }
        };
        <sqlx::PgConnection as sqlx::Connection>::connect(&url)
            .await
            .unwrap()
    }

    /// Returns the number of requests the mock model received.
    pub async fn llm_calls(&self) -> usize {
        self.llm.received_requests().await.map_or(0, |r| r.len())
    }
}

/// Reads a response's status and JSON body (`null` when empty or not JSON).
pub async fn read(response: Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// An assignment body for `id`, 7 points, with a reference answer.
pub fn assignment(id: &str) -> Value {
    json!({
        "id": id,
        "title": "Photosynthesis",
        "prompt": "Explain photosynthesis.",
        "reference_answer": "Plants turn light, water and CO2 into glucose and oxygen.",
        "max_points": 7,
        "language": "en",
    })
}

/// An evaluation request body.
pub fn submission(assignment: &str, submission: &str, student: &str) -> Value {
    json!({
        "assignment_id": assignment,
        "submission_id": submission,
        "student_id": student,
        "text": format!("Plants use light to make glucose and oxygen ({submission})."),
    })
}
