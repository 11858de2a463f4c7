//! Tenancy store: provisioning, isolation between partners, hostile slugs,
//! lifecycle and migrations, on PostgreSQL and on SQLite.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sam_core::store::{MigrationState, Store, StoreLocation, StoreOptions};
use sam_core::tenancy::{
    GradeScale, InstitutionType, LlmStrategy, NewClient, NewPartner, NewUser, PartnerSlug, Role,
    SubscriptionStatus, TenancyError, Tier,
};
use sam_tests::{on_both_stores, TestLocation};
use sqlx::{Connection, PgConnection, Row};

fn new_partner(slug: &str) -> NewPartner {
    NewPartner {
        slug: PartnerSlug::parse(slug).unwrap(),
        name: format!("Partner {slug}"),
        tier: Tier::Premium,
        strategy: LlmStrategy::CostOptimized,
        daily_quota: None,
        monthly_fee: None,
        time_zone: None,
    }
}

fn new_client(client_id: &str) -> NewClient {
    NewClient {
        client_id: client_id.to_owned(),
        name: format!("Client {client_id}"),
        institution_type: InstitutionType::K12,
        students_count: 100,
        teachers_count: 10,
        grade_scale: GradeScale::default(),
    }
}

/// Returns the tables PostgreSQL has in `schema`, or the SQLite partner file's tables.
async fn partner_tables(location: &StoreLocation, slug: &str) -> Vec<String> {
    match location {
        StoreLocation::Postgres(url) => {
            let mut conn = PgConnection::connect(url).await.unwrap();
            let rows = sqlx::query(
                "SELECT table_name::text AS name FROM information_schema.tables \
                 WHERE table_schema = $1 ORDER BY table_name",
            )
            .bind(format!("partner_{slug}"))
            .fetch_all(&mut conn)
            .await
            .unwrap();
            rows.iter().map(|r| r.get::<String, _>("name")).collect()
        }
        StoreLocation::Sqlite(home) => {
            let path = home.join("partners").join(format!("{slug}.db"));
            if !path.exists() {
                return Vec::new();
            }
            let url = format!("sqlite://{}", path.display());
            let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
            let rows =
                sqlx::query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
            rows.iter().map(|r| r.get::<String, _>("name")).collect()
        }
    }
}

async fn provisioning_creates_partner_tables(location: &TestLocation) {
    let store = location.init().await;
    let partner = store.create_partner(new_partner("aptus")).await.unwrap();
    assert!(partner.provisioned);
    assert_eq!(partner.status, SubscriptionStatus::Active);
    assert_eq!(partner.daily_quota, Tier::Premium.default_daily_quota());
    assert_eq!(partner.time_zone, "America/Santiago");
    let tables = partner_tables(&location.location, "aptus").await;
    for table in [
        "clients",
        "users",
        "assignments",
        "submissions",
        "evaluations",
        "usage_events",
        "idempotency_keys",
    ] {
        assert!(
            tables.iter().any(|t| t == table),
            "missing {table} in {tables:?}"
        );
    }
    assert!(tables.iter().any(|t| t == "_sqlx_migrations"), "{tables:?}");
}
on_both_stores!(provisioning_creates_partner_tables);

async fn partners_never_see_each_others_rows(location: &TestLocation) {
    // One connection per pool, so partner B's queries reuse the exact
    // connection that served partner A.
    location.init().await;
    let store = Store::open(
        &location.location,
        StoreOptions {
            max_connections: 1,
            ..StoreOptions::default()
        },
    )
    .await
    .unwrap();
    store.create_partner(new_partner("alpha")).await.unwrap();
    store.create_partner(new_partner("beta")).await.unwrap();
    let alpha = store
        .partner_db(&PartnerSlug::parse("alpha").unwrap())
        .await
        .unwrap();
    let beta = store
        .partner_db(&PartnerSlug::parse("beta").unwrap())
        .await
        .unwrap();

    alpha.create_client(new_client("school_a")).await.unwrap();
    alpha
        .create_user(NewUser {
            user_id: "teacher_a".to_owned(),
            client_id: "school_a".to_owned(),
            role: Role::Teacher,
            email: Some("a@example.org".to_owned()),
        })
        .await
        .unwrap();
    beta.create_client(new_client("school_b")).await.unwrap();

    for _ in 0..3 {
        let alpha_clients: Vec<_> = alpha
            .clients()
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.client_id)
            .collect();
        let beta_clients: Vec<_> = beta
            .clients()
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.client_id)
            .collect();
        assert_eq!(alpha_clients, ["school_a"]);
        assert_eq!(beta_clients, ["school_b"]);
    }
    let err = beta.client("school_a").await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    let err = beta.user("teacher_a").await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert!(beta.users(None).await.unwrap().is_empty());
    // The same client id may exist in both partners without conflict.
    beta.create_client(new_client("school_a")).await.unwrap();
    assert_eq!(alpha.clients().await.unwrap().len(), 1);
}
on_both_stores!(partners_never_see_each_others_rows);

async fn hostile_slugs_create_nothing(location: &TestLocation) {
    let store = location.init().await;
    let long_a = format!("{}a", "x".repeat(63));
    let long_b = format!("{}b", "x".repeat(63));
    let hostile = [
        "bad'slug",
        "x\"; drop schema public cascade; --",
        "semi;colon",
        "public",
        "Upper",
        "pg_toast",
        "information_schema",
        &"a".repeat(41),
        &long_a,
        &long_b,
    ];
    for slug in hostile {
        let err = PartnerSlug::parse(slug).unwrap_err();
        assert!(
            matches!(err, TenancyError::InvalidSlug { .. }),
            "{slug}: {err}"
        );
    }
    assert!(store.partners().await.unwrap().is_empty());
    if let StoreLocation::Postgres(url) = &location.location {
        let mut conn = PgConnection::connect(url).await.unwrap();
        let schemas: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name LIKE 'partner%'",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert_eq!(schemas, 0);
    }
}
on_both_stores!(hostile_slugs_create_nothing);

async fn suspend_resume_delete(location: &TestLocation) {
    let store = location.init().await;
    let slug = PartnerSlug::parse("quantic").unwrap();
    store.create_partner(new_partner("quantic")).await.unwrap();
    store
        .partner_db(&slug)
        .await
        .unwrap()
        .create_client(new_client("c1"))
        .await
        .unwrap();

    let suspended = store
        .set_partner_status(&slug, SubscriptionStatus::Suspended)
        .await
        .unwrap();
    assert_eq!(suspended.status, SubscriptionStatus::Suspended);
    let err = store.partner_db(&slug).await.unwrap_err();
    assert!(
        matches!(err, TenancyError::PartnerUnavailable { .. }),
        "{err}"
    );

    store
        .set_partner_status(&slug, SubscriptionStatus::Active)
        .await
        .unwrap();
    let clients = store
        .partner_db(&slug)
        .await
        .unwrap()
        .clients()
        .await
        .unwrap();
    assert_eq!(clients.len(), 1, "data survives suspension");

    store.delete_partner(&slug).await.unwrap();
    assert!(store.partner(&slug).await.unwrap_err().is_not_found());
    assert!(partner_tables(&location.location, "quantic")
        .await
        .is_empty());
    assert!(store
        .delete_partner(&slug)
        .await
        .unwrap_err()
        .is_not_found());

    // The slug can be provisioned again, empty.
    store.create_partner(new_partner("quantic")).await.unwrap();
    assert!(store
        .partner_db(&slug)
        .await
        .unwrap()
        .clients()
        .await
        .unwrap()
        .is_empty());
}
on_both_stores!(suspend_resume_delete);

async fn duplicates_are_rejected(location: &TestLocation) {
    let store = location.init().await;
    store.create_partner(new_partner("dup")).await.unwrap();
    let err = store.create_partner(new_partner("dup")).await.unwrap_err();
    assert!(
        matches!(
            err,
            TenancyError::AlreadyExists {
                kind: "partner",
                ..
            }
        ),
        "{err}"
    );
    let db = store
        .partner_db(&PartnerSlug::parse("dup").unwrap())
        .await
        .unwrap();
    db.create_client(new_client("c1")).await.unwrap();
    let err = db.create_client(new_client("c1")).await.unwrap_err();
    assert!(
        matches!(err, TenancyError::AlreadyExists { kind: "client", .. }),
        "{err}"
    );
    let user = NewUser {
        user_id: "u1".to_owned(),
        client_id: "missing".to_owned(),
        role: Role::Student,
        email: None,
    };
    assert!(db.create_user(user).await.unwrap_err().is_not_found());
}
on_both_stores!(duplicates_are_rejected);

async fn migrations_are_idempotent(location: &TestLocation) {
    let store = location.init().await;
    store.create_partner(new_partner("puc")).await.unwrap();
    // A second init and an explicit migrate apply nothing new.
    let again = Store::init(&location.location, StoreOptions::default())
        .await
        .unwrap();
    assert_eq!(again.migrate().await.unwrap(), 0);
    let status = again.migration_status().await.unwrap();
    assert!(status.iter().any(|m| m.scope == "control"));
    assert!(status.iter().any(|m| m.scope == "puc"));
    assert!(
        status.iter().all(|m| m.state == MigrationState::Applied),
        "{status:?}"
    );
    assert_eq!(again.partners().await.unwrap().len(), 1);
}
on_both_stores!(migrations_are_idempotent);

#[tokio::test]
async fn open_uninitialised_store_fails_clearly() {
    let location = TestLocation::sqlite();
    let err = Store::open(&location.location, StoreOptions::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("samctl init"), "{err}");
}

#[tokio::test]
async fn invalid_partner_fields_are_rejected() {
    let location = TestLocation::sqlite();
    let store = location.init().await;
    let mut bad_zone = new_partner("zone");
    bad_zone.time_zone = Some("Mars/Olympus".to_owned());
    let err = store
        .create_partner(bad_zone)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("time_zone"), "{err}");
    let mut bad_quota = new_partner("quota");
    bad_quota.daily_quota = Some(-1);
    assert!(store.create_partner(bad_quota).await.is_err());
    assert!(store.partners().await.unwrap().is_empty());
}

async fn failed_provisioning_leaves_nothing(location: &TestLocation) {
    let store = location.init().await;
    // A leftover `clients` table makes the partner migration fail part-way.
    match &location.location {
        StoreLocation::Postgres(url) => {
            let mut conn = PgConnection::connect(url).await.unwrap();
            sqlx::query("CREATE SCHEMA partner_broken")
                .execute(&mut conn)
                .await
                .unwrap();
            sqlx::query("CREATE TABLE partner_broken.clients (x INT)")
                .execute(&mut conn)
                .await
                .unwrap();
        }
        StoreLocation::Sqlite(home) => {
            let path = home.join("partners").join("broken.db");
            let options = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(&path)
                .create_if_missing(true);
            let mut conn = sqlx::SqliteConnection::connect_with(&options)
                .await
                .unwrap();
            sqlx::query("CREATE TABLE clients (x INT)")
                .execute(&mut conn)
                .await
                .unwrap();
            conn.close().await.unwrap();
        }
    }
    let err = store
        .create_partner(new_partner("broken"))
        .await
        .unwrap_err();
    assert!(matches!(err, TenancyError::Migration(_)), "{err}");
    assert!(
        store.partners().await.unwrap().is_empty(),
        "failed partner must not be listed"
    );
    assert!(partner_tables(&location.location, "broken")
        .await
        .is_empty());
    // Provisioning works once the obstacle is gone.
    store.create_partner(new_partner("broken")).await.unwrap();
    assert!(
        store
            .partner(&PartnerSlug::parse("broken").unwrap())
            .await
            .unwrap()
            .provisioned
    );
}
on_both_stores!(failed_provisioning_leaves_nothing);

async fn cached_clients_end_with_their_partner(location: &TestLocation) {
    location.init().await;
    let options = StoreOptions {
        lookup_ttl: std::time::Duration::from_secs(60),
        ..StoreOptions::default()
    };
    let store = Store::open(&location.location, options).await.unwrap();
    let slug = PartnerSlug::parse("alpha").unwrap();
    store.create_partner(new_partner("alpha")).await.unwrap();
    let db = store.partner_db(&slug).await.unwrap();
    db.create_client(new_client("school_a")).await.unwrap();
    assert_eq!(db.client("school_a").await.unwrap().client_id, "school_a");

    // The same slug, created again, starts without the old client.
    store.delete_partner(&slug).await.unwrap();
    store.create_partner(new_partner("alpha")).await.unwrap();
    let db = store.partner_db(&slug).await.unwrap();
    let err = db.client("school_a").await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
}
on_both_stores!(cached_clients_end_with_their_partner);
