//! End-to-end tests of samctl's remote mode: a real sam-server on port 0
//! over a fresh PostgreSQL database, driven by the `samctl` binary.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use sam_core::auth::{
    Authenticator, KeyConfig, TokenAlgorithm, TokenConfig, TokenSigner, TokenSubject,
};
use sam_core::engine::Engine;
use sam_core::eval::OfflineScorer;
use sam_core::store::{Store, StoreLocation};
use sam_core::tenancy::{
    GradeScale, InstitutionType, LlmStrategy, NewClient, NewPartner, NewUser, PartnerSlug, Role,
    Tier,
};
use sam_server::metrics::Metrics;
use sam_server::{AppState, Limits};
use sam_tests::TestLocation;
use secrecy::{ExposeSecret, SecretSlice};
use serde_json::Value;
use tokio::sync::oneshot;

const KID: &str = "remote-test";
const SECRET_ENV: &str = "SAMTEST_REMOTE_JWT_SECRET";

/// A sam-server with partners `aptus` (client `c1`, partner admin
/// `padmin`) and `bravo` (client `b1`, partner admin `badmin`).
struct Server {
    base: String,
    store: Store,
    signer: TokenSigner,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    location: TestLocation,
}

fn slug(text: &str) -> PartnerSlug {
    PartnerSlug::parse(text).unwrap()
}

async fn seed(store: &Store) {
    for (partner, client, admin) in [("aptus", "c1", "padmin"), ("bravo", "b1", "badmin")] {
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
        let db = store.partner_db(&slug(partner)).await.unwrap();
        db.create_client(NewClient {
            client_id: client.to_owned(),
            name: format!("Client {client}"),
            institution_type: InstitutionType::K12,
            students_count: 30,
            teachers_count: 3,
            grade_scale: GradeScale::default(),
        })
        .await
        .unwrap();
        db.create_user(NewUser {
            user_id: admin.to_owned(),
            client_id: client.to_owned(),
            role: Role::PartnerAdmin,
            email: None,
        })
        .await
        .unwrap();
    }
}

impl Server {
    async fn start() -> Self {
        let location = TestLocation::postgres().await;
        let store = location.init().await;
        seed(&store).await;
        let secret = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let config = TokenConfig {
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
        let verifier = config.build_verifier_with(env).unwrap();
        let signer = TokenSigner::hmac(
            config.settings(),
            KID,
            &SecretSlice::from(secret.clone().into_bytes()),
        )
        .unwrap();
        let shared = Arc::new(store.clone());
        let authenticator = Authenticator::new(verifier, shared.clone(), shared);
        let engine = Engine::new(Arc::new(OfflineScorer::new()));
        let state = AppState::new(
            store.clone(),
            engine,
            authenticator,
            Metrics::new().unwrap(),
            Limits::default(),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (shutdown, stop) = oneshot::channel::<()>();
        let task = tokio::spawn(sam_server::run::serve(
            listener,
            state,
            async move {
                let _ = stop.await;
            },
            Duration::from_secs(5),
        ));
        Self {
            base,
            store,
            signer,
            shutdown: Some(shutdown),
            task: Some(task),
            location,
        }
    }

    /// Returns a token of partner admin `user` of `partner`.
    async fn admin_token(&self, partner: &str, user: &str) -> String {
        let record = self.store.partner(&slug(partner)).await.unwrap();
        let db = self.store.partner_db(&record.slug).await.unwrap();
        let user = db.user(user).await.unwrap();
        let subject = TokenSubject::member(&record, None, &user).unwrap();
        self.signer
            .issue(&subject)
            .unwrap()
            .token
            .expose_secret()
            .to_owned()
    }

    /// Creates client admin `user` of `aptus` client `client` and returns
    /// a token of that user.
    async fn client_admin_token(&self, client: &str, user: &str) -> String {
        let record = self.store.partner(&slug("aptus")).await.unwrap();
        let db = self.store.partner_db(&record.slug).await.unwrap();
        let user = db
            .create_user(NewUser {
                user_id: user.to_owned(),
                client_id: client.to_owned(),
                role: Role::ClientAdmin,
                email: None,
            })
            .await
            .unwrap();
        let client = db.client(client).await.unwrap();
        let subject = TokenSubject::member(&record, Some(&client), &user).unwrap();
        self.signer
            .issue(&subject)
            .unwrap()
            .token
            .expose_secret()
            .to_owned()
    }

    /// Returns samctl working on this server's database, without the server.
    fn local(&self) -> Samctl {
        let StoreLocation::Postgres(url) = &self.location.location else {
            panic!("the remote tests use PostgreSQL");
        };
        Samctl {
            home: tempfile::tempdir().unwrap(),
            server: None,
            database_url: Some(url.clone()),
        }
    }

    /// Returns the number of usage events of an `aptus` client.
    async fn usage_events(&self, client: &str) -> i64 {
        let StoreLocation::Postgres(url) = &self.location.location else {
            panic!("the remote tests use PostgreSQL");
        };
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(url)
            .await
            .unwrap();
        sqlx::query_scalar(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM \"partner_aptus\".usage_events WHERE client_id = $1",
        )
        .bind(client)
        .fetch_one(&mut conn)
        .await
        .unwrap()
    }

    async fn stop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }
}

/// One samctl user: a SAM home folder holding a login profile, and the
/// server or the database the commands go to.
struct Samctl {
    home: tempfile::TempDir,
    server: Option<String>,
    database_url: Option<String>,
}

impl Samctl {
    fn new(server: &str) -> Self {
        Self {
            home: tempfile::tempdir().unwrap(),
            server: Some(server.to_owned()),
            database_url: None,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_samctl"));
        command
            .args(args)
            .env("SAM_HOME", self.home.path())
            .env_remove("SAMCTL_SERVER")
            .env_remove("SAM_DATABASE_URL")
            .env_remove("SAM_CONFIG");
        if let Some(server) = &self.server {
            command.env("SAMCTL_SERVER", server);
        }
        if let Some(url) = &self.database_url {
            command.env("SAM_DATABASE_URL", url);
        }
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn login(&self, secret: &str, extra: &[&str]) -> Output {
        let mut args = vec!["login", "--no-keyring"];
        args.extend(extra);
        let mut child = self
            .command(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(secret.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "samctl {args:?} failed: {}",
            stderr(&output)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["--output", "json"]);
        let text = self.ok(&all);
        serde_json::from_str(&text).unwrap_or_else(|err| panic!("{err}: {text}"))
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.home.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

fn code(output: &Output) -> i32 {
    output.status.code().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn ids(listing: &Value, field: &str) -> Vec<String> {
    listing
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item[field].as_str().unwrap().to_owned())
        .collect()
}

/// The `key create` arguments of an `aptus` API key that grades.
const GRADER_KEY: [&str; 10] = [
    "key",
    "create",
    "-p",
    "aptus",
    "--name",
    "grader",
    "--scope",
    "create_evaluation",
    "--scope",
    "view_own_clients",
];

const ASSIGNMENT: &str = "id = \"a1\"\nprompt = \"What is a variable?\"\nreference_answer = \"A named location in memory that stores a value.\"\nmax_points = 5\nlanguage = \"en\"\n";

const ANSWERS: &str = "id,student_id,text\ns1,ana,A variable is a named location in memory that stores a value.\ns2,beto,A value.\ns3,carla,It names a place in memory holding data.\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partner_admin_works_through_server() {
    let mut server = Server::start().await;
    let admin = Samctl::new(&server.base);
    let token = server.admin_token("aptus", "padmin").await;
    let login = admin.login(&token, &["--token"]);
    assert!(login.status.success(), "{}", stderr(&login));
    assert!(!String::from_utf8_lossy(&login.stdout).contains(&token));

    // Clients and users.
    let table = admin.ok(&[
        "client",
        "create",
        "-p",
        "aptus",
        "c2",
        "--name",
        "Colegio Dos",
        "--type",
        "k12",
        "--students",
        "40",
    ]);
    assert!(table.contains("Colegio Dos"), "{table}");
    assert!(table.contains("0.6"), "{table}");
    let clients = admin.json(&["client", "list", "-p", "aptus"]);
    assert_eq!(ids(&clients, "client_id"), ["c1", "c2"]);
    let csv = admin.ok(&["client", "list", "-p", "aptus", "--output", "csv"]);
    assert!(
        csv.starts_with("client,name,type,students,teachers,exigencia,created"),
        "{csv}"
    );
    admin.ok(&[
        "user", "create", "-p", "aptus", "-c", "c2", "prof2", "--role", "teacher",
    ]);
    let users = admin.json(&["user", "list", "-p", "aptus", "-c", "c2"]);
    assert_eq!(ids(&users, "user_id"), ["prof2"]);
    let everyone = admin.json(&["user", "list", "-p", "aptus"]);
    assert_eq!(ids(&everyone, "user_id"), ["padmin", "prof2"]);

    // An API key for the grading job, shown once and never listed.
    let created = admin.json(&GRADER_KEY);
    let key = created["key"].as_str().unwrap().to_owned();
    let prefix = created["prefix"].as_str().unwrap().to_owned();
    let listed = admin.ok(&["key", "list", "-p", "aptus", "--output", "json"]);
    assert!(listed.contains(&prefix), "{listed}");
    assert!(!listed.contains(&key), "key list shows a secret");
    let listed: Value = serde_json::from_str(&listed).unwrap();
    let mut scopes: Vec<String> = serde_json::from_value(listed[0]["scopes"].clone()).unwrap();
    scopes.sort();
    assert_eq!(scopes, ["create_evaluation", "view_own_clients"]);

    let grader = Samctl::new(&server.base);
    let login = grader.login(&key, &["--partner", "aptus"]);
    assert!(login.status.success(), "{}", stderr(&login));

    // Assignments and evaluation, resumable without double billing.
    let file = grader.file("a1.toml", ASSIGNMENT);
    grader.ok(&[
        "assignment",
        "create",
        "-p",
        "aptus",
        "-c",
        "c2",
        "--file",
        file.to_str().unwrap(),
    ]);
    let assignments = grader.json(&["assignment", "list", "-p", "aptus", "-c", "c2"]);
    assert_eq!(ids(&assignments, "assignment_id"), ["a1"]);
    let table = grader.ok(&["assignment", "list", "-p", "aptus", "-c", "c2"]);
    assert!(table.contains("correctness (5)"), "{table}");
    let shown = grader.ok(&["assignment", "show", "-p", "aptus", "-c", "c2", "a1"]);
    assert!(shown.contains("What is a variable?"), "{shown}");

    let questions = grader.file(
        "questions.jsonl",
        "{\"id\": \"q1\", \"prompt\": \"Define a loop.\", \"max_points\": 4}\n{\"id\": \"q2\", \"prompt\": \"Define a list.\", \"max_points\": 2}\n",
    );
    let questions = questions.to_str().unwrap();
    let import = [
        "assignment",
        "import",
        "-p",
        "aptus",
        "-c",
        "c2",
        "--file",
        questions,
        "--language",
        "en",
    ];
    let imported = grader.json(&import);
    assert_eq!(imported["created"], 2, "{imported}");
    let again = grader.json(&import);
    assert_eq!(again["created"], 0, "{again}");
    assert_eq!(again["unchanged"], 2, "{again}");

    let answers = grader.file("answers.csv", ANSWERS);
    let answers = answers.to_str().unwrap();
    let first = grader.json(&[
        "evaluate",
        "-p",
        "aptus",
        "-c",
        "c2",
        "--file",
        answers,
        "--assignment",
        "a1",
    ]);
    assert_eq!(first["evaluated"], 3, "{first}");
    assert_eq!(first["failed"], 0, "{first}");
    assert_eq!(server.usage_events("c2").await, 3);
    let again = grader.json(&[
        "evaluate",
        "-p",
        "aptus",
        "-c",
        "c2",
        "--file",
        answers,
        "--assignment",
        "a1",
    ]);
    assert_eq!(again["evaluated"], 0, "{again}");
    assert_eq!(again["already_evaluated"], 3, "{again}");
    assert_eq!(
        server.usage_events("c2").await,
        3,
        "a re-run is billed again"
    );

    // A row naming a missing assignment fails alone, with exit code 5.
    let mixed = grader.file(
        "mixed.csv",
        "id,student_id,assignment_id,text\ns4,dora,a1,Memory with a name.\ns5,eva,nope,Anything.\n",
    );
    let output = grader.run(&[
        "evaluate",
        "-p",
        "aptus",
        "-c",
        "c2",
        "--file",
        mixed.to_str().unwrap(),
    ]);
    assert_eq!(code(&output), 5, "{}", stderr(&output));
    assert!(stderr(&output).contains("line 3"), "{}", stderr(&output));
    assert!(stderr(&output).contains("404"), "{}", stderr(&output));
    assert_eq!(server.usage_events("c2").await, 4);

    // The revoked key is rejected at once.
    admin.ok(&["key", "revoke", "-p", "aptus", &prefix]);
    let output = grader.run(&["client", "list", "-p", "aptus"]);
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    assert!(stderr(&output).contains("401"), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("log in again"),
        "{}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains("request id"),
        "{}",
        stderr(&output)
    );
    assert!(!stderr(&output).contains(&key), "an error shows the key");
    let output = admin.run(&["key", "revoke", "-p", "aptus", "nosuchkey"]);
    assert_eq!(code(&output), 3, "{}", stderr(&output));

    // The server stopped: a clear message naming the URL.
    server.stop().await;
    let output = admin.run(&["client", "list", "-p", "aptus"]);
    assert_eq!(code(&output), 1);
    assert!(
        stderr(&output).contains("cannot reach the SAM server"),
        "{}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains(&server.base),
        "{}",
        stderr(&output)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_errors_map_to_exit_codes() {
    let mut server = Server::start().await;
    let admin = Samctl::new(&server.base);
    let token = server.admin_token("aptus", "padmin").await;
    assert!(admin.login(&token, &["--token"]).status.success());

    // Another partner's data returns exactly what missing data returns.
    let output = admin.run(&["user", "list", "-p", "aptus", "-c", "b1"]);
    assert_eq!(code(&output), 3, "{}", stderr(&output));
    assert!(stderr(&output).contains("404"), "{}", stderr(&output));
    let output = admin.run(&["user", "list", "-p", "bravo", "-c", "b1"]);
    assert_eq!(code(&output), 3, "{}", stderr(&output));
    let output = admin.run(&["client", "show", "-p", "aptus", "b1"]);
    assert_eq!(code(&output), 3, "{}", stderr(&output));

    // A partner admin does not grade, so the server refuses it assignments.
    let output = admin.run(&["assignment", "list", "-p", "aptus", "-c", "c1"]);
    assert_eq!(code(&output), 4, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("do not allow this"),
        "{}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains("create_evaluation scope"),
        "{}",
        stderr(&output)
    );

    // Conflicts and invalid input.
    let output = admin.run(&[
        "client", "create", "-p", "aptus", "c1", "--name", "Again", "--type", "k12",
    ]);
    assert_eq!(code(&output), 4, "{}", stderr(&output));
    let output = admin.run(&[
        "user", "create", "-p", "aptus", "-c", "c1", "Bad Id", "--role", "teacher",
    ]);
    assert_eq!(code(&output), 2, "{}", stderr(&output));

    // Database-only commands name themselves and the way out.
    let output = admin.run(&["partner", "create", "x1", "--name", "X", "--tier", "basic"]);
    assert_eq!(code(&output), 2);
    assert!(
        stderr(&output).contains("`samctl partner create`"),
        "{}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains("without --server"),
        "{}",
        stderr(&output)
    );
    let output = admin.run(&["billing", "close", "--month", "2026-01", "--yes"]);
    assert_eq!(code(&output), 2);
    assert!(
        stderr(&output).contains("`samctl billing close`"),
        "{}",
        stderr(&output)
    );

    let output = admin.run(&["usage", "rebuild", "-p", "aptus"]);
    assert_eq!(code(&output), 2);
    assert!(
        stderr(&output).contains("`samctl usage rebuild`"),
        "{}",
        stderr(&output)
    );
    let output = admin.run(&["billing", "export", "--month", "2026-01", "--format", "csv"]);
    assert_eq!(code(&output), 2);
    assert!(
        stderr(&output).contains("`samctl billing export`"),
        "{}",
        stderr(&output)
    );

    // A token the server did not sign is rejected at login and nothing is stored.
    let stranger = Samctl::new(&server.base);
    let forged = format!("{}x", &token[..token.len() - 1]);
    let output = stranger.login(&forged, &["--token"]);
    assert_ne!(code(&output), 0);
    assert!(stderr(&output).contains("401"), "{}", stderr(&output));
    assert!(
        !stderr(&output).contains(&forged),
        "an error shows the token"
    );
    let output = stranger.run(&["client", "list", "-p", "aptus"]);
    assert_ne!(code(&output), 0);
    assert!(
        stderr(&output).contains("samctl login"),
        "{}",
        stderr(&output)
    );

    // A key is verified against the partner given at login.
    let output = stranger.login("sam_abcdefghij_0123456789", &["--partner", "aptus"]);
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    server.stop().await;
}

/// Returns the `total` of client `client` in an invoice's JSON.
fn client_total(invoice: &Value, client: &str) -> Value {
    invoice["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|part| part["client_id"] == client)
        .unwrap_or_else(|| panic!("no client {client} in {invoice}"))["total"]
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_and_billing_through_server() {
    let mut server = Server::start().await;
    let admin = Samctl::new(&server.base);
    let token = server.admin_token("aptus", "padmin").await;
    assert!(admin.login(&token, &["--token"]).status.success());
    admin.ok(&[
        "client",
        "create",
        "-p",
        "aptus",
        "c2",
        "--name",
        "Colegio Dos",
        "--type",
        "k12",
    ]);

    // A grading key evaluates three submissions in c1 and three in c2.
    let created = admin.json(&GRADER_KEY);
    let grader = Samctl::new(&server.base);
    let key = created["key"].as_str().unwrap();
    let login = grader.login(key, &["--partner", "aptus"]);
    assert!(login.status.success(), "{}", stderr(&login));
    let assignment = grader.file("a1.toml", ASSIGNMENT);
    let answers = grader.file("answers.csv", ANSWERS);
    for client in ["c1", "c2"] {
        grader.ok(&[
            "assignment",
            "create",
            "-p",
            "aptus",
            "-c",
            client,
            "--file",
            assignment.to_str().unwrap(),
        ]);
        let evaluated = grader.json(&[
            "evaluate",
            "-p",
            "aptus",
            "-c",
            client,
            "--file",
            answers.to_str().unwrap(),
            "--assignment",
            "a1",
        ]);
        assert_eq!(evaluated["evaluated"], 3, "{evaluated}");
    }
    let local = server.local();

    // Usage: the server's report equals the database's, in every format.
    let remote_usage = admin.json(&["usage"]);
    let local_usage = local.json(&["usage", "-p", "aptus"]);
    assert_eq!(remote_usage, local_usage);
    assert_eq!(remote_usage["totals"]["events"], 6, "{remote_usage}");
    assert_eq!(remote_usage["reports"][0]["partner"], "aptus");
    let by_client = admin.json(&["usage", "-p", "aptus", "--by", "client"]);
    assert_eq!(
        by_client,
        local.json(&["usage", "-p", "aptus", "--by", "client"])
    );
    assert_eq!(ids(&by_client["reports"][0]["rows"], "key"), ["c1", "c2"]);
    assert_eq!(by_client["reports"][0]["rows"][0]["events"], 3);
    let month = remote_usage["reports"][0]["from"].as_str().unwrap()[..7].to_owned();
    let one_client = ["usage", "-p", "aptus", "-c", "c2", "--month", &month];
    assert_eq!(admin.json(&one_client), local.json(&one_client));
    assert_eq!(admin.json(&one_client)["totals"]["events"], 3);
    let first_day = remote_usage["reports"][0]["from"].as_str().unwrap();
    let last_day = remote_usage["reports"][0]["to"].as_str().unwrap();
    let range = [
        "usage", "-p", "aptus", "--from", first_day, "--to", last_day, "--by", "client",
    ];
    assert_eq!(admin.json(&range), by_client);
    let table = ["usage", "-p", "aptus", "--month", &month, "--by", "model"];
    assert_eq!(admin.ok(&table), local.ok(&table));
    let csv = ["usage", "-p", "aptus", "--month", &month, "-o", "csv"];
    let remote_csv = admin.ok(&csv);
    assert_eq!(remote_csv, local.ok(&csv));
    assert!(
        remote_csv.starts_with("partner,key,events,"),
        "{remote_csv}"
    );

    // Billing preview: the partner's whole invoice without platform figures.
    let preview = ["billing", "preview", "--month", &month];
    let remote_invoice = admin.json(&preview);
    let local_invoice = local.json(&["billing", "preview", "-p", "aptus", "--month", &month]);
    assert_eq!(remote_invoice["total"], local_invoice["total"]);
    assert_eq!(remote_invoice, local_invoice);
    assert_eq!(remote_invoice["evaluations"], 6, "{remote_invoice}");
    assert!(remote_invoice.get("platform").is_none(), "{remote_invoice}");
    let total = remote_invoice["total"].as_str().unwrap().to_owned();
    let table = admin.ok(&preview);
    assert!(table.contains("Invoice of Partner aptus"), "{table}");
    assert!(table.contains(&total), "{table}");
    assert!(!table.contains("Platform"), "{table}");
    assert_eq!(
        table,
        local.ok(&["billing", "preview", "-p", "aptus", "--month", &month])
    );
    let output = admin.run(&["billing", "preview", "--month", &month, "--platform"]);
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("--platform"),
        "{}",
        stderr(&output)
    );

    // A client admin sees only its own client, in usage and in billing.
    let client_admin = Samctl::new(&server.base);
    let token = server.client_admin_token("c1", "cadmin").await;
    assert!(client_admin.login(&token, &["--token"]).status.success());
    let own = client_admin.json(&["usage", "--month", &month, "--by", "client"]);
    assert_eq!(ids(&own["reports"][0]["rows"], "key"), ["c1"]);
    assert_eq!(own["totals"]["events"], 3, "{own}");
    let output = client_admin.run(&["usage", "-c", "c2", "--month", &month]);
    assert_eq!(code(&output), 3, "{}", stderr(&output));
    let statement = client_admin.json(&preview);
    assert_eq!(statement["client_id"], "c1", "{statement}");
    assert_eq!(statement["evaluations"], 3, "{statement}");
    assert_eq!(statement["total"], client_total(&remote_invoice, "c1"));
    assert_ne!(statement["total"], remote_invoice["total"]);
    assert!(statement.get("clients").is_none(), "{statement}");
    assert!(statement.get("plan").is_none(), "{statement}");
    let table = client_admin.ok(&preview);
    assert!(
        table.contains("Statement of client Client c1 (c1)"),
        "{table}"
    );
    assert!(!table.contains("c2"), "{table}");
    assert!(
        table.contains(statement["total"].as_str().unwrap()),
        "{table}"
    );
    let csv = client_admin.ok(&["billing", "preview", "--month", &month, "-o", "csv"]);
    assert!(csv.starts_with("line,adjusts month,amount\n"), "{csv}");
    assert!(csv.contains("\ntotal,,"), "{csv}");

    // Invalid and missing months, and a key that does not name its partner.
    let output = admin.run(&["billing", "preview", "--month", "2026-13"]);
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    assert!(stderr(&output).contains("2026-13"), "{}", stderr(&output));
    let output = admin.run(&["usage", "--month", "2026-13"]);
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    assert!(stderr(&output).contains("2026-13"), "{}", stderr(&output));
    let output = admin.run(&["billing", "preview", "--month", "2020-01"]);
    assert_eq!(code(&output), 3, "{}", stderr(&output));
    let output = admin.run(&["billing", "preview", "-p", "bravo", "--month", &month]);
    assert_eq!(code(&output), 3, "{}", stderr(&output));
    let output = grader.run(&["usage", "--month", &month]);
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    assert!(stderr(&output).contains("--partner"), "{}", stderr(&output));
    server.stop().await;
}
