//! End-to-end tests of the `samctl` binary on the embedded store.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Sam {
    home: tempfile::TempDir,
}

impl Sam {
    fn new() -> Self {
        Self {
            home: tempfile::tempdir().unwrap(),
        }
    }

    fn home(&self) -> PathBuf {
        self.home.path().join("sam")
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_samctl"))
            .args(args)
            .env("SAM_HOME", self.home())
            .env_remove("SAM_DATABASE_URL")
            .env_remove("SAM_CONFIG")
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "samctl {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = args.to_vec();
        all.extend(["--output", "json"]);
        serde_json::from_str(&self.ok(&all)).unwrap()
    }

    fn file(&self, name: &str, bytes: &[u8]) -> String {
        let path = self.home.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path.display().to_string()
    }

    /// Provisions partner `p1`, client `c1`, teacher `t1` and assignment `a1`.
    fn provision(&self) {
        self.ok(&["init"]);
        self.ok(&[
            "partner",
            "create",
            "p1",
            "--name",
            "Partner One",
            "--tier",
            "basic",
        ]);
        self.ok(&[
            "client", "create", "-p", "p1", "c1", "--name", "School", "--type", "k12",
        ]);
        self.ok(&[
            "user", "create", "-p", "p1", "-c", "c1", "t1", "--role", "teacher",
        ]);
        let assignment = self.file(
            "a1.toml",
            b"id = \"a1\"\nprompt = \"What is a variable?\"\nreference_answer = \"A named location in memory that stores a value.\"\nmax_points = 5\nlanguage = \"en\"\n",
        );
        self.ok(&[
            "assignment",
            "create",
            "-p",
            "p1",
            "-c",
            "c1",
            "--file",
            &assignment,
        ]);
    }
}

fn code(output: &Output) -> i32 {
    output.status.code().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn hostile_slug_exits_with_usage_code() {
    let sam = Sam::new();
    sam.ok(&["init"]);
    for slug in ["Bad", "a;b", "public", "pg_x", &"a".repeat(41)] {
        let output = sam.run(&["partner", "create", slug, "--name", "X", "--tier", "basic"]);
        assert_eq!(code(&output), 2, "{slug}: {}", stderr(&output));
        assert!(
            stderr(&output).contains("invalid partner slug"),
            "{}",
            stderr(&output)
        );
    }
    assert_eq!(sam.json(&["partner", "list"]), serde_json::json!([]));
}

#[test]
fn commands_before_init_say_to_run_init() {
    let sam = Sam::new();
    let output = sam.run(&["partner", "list"]);
    assert_eq!(code(&output), 2);
    assert!(
        stderr(&output).contains("samctl init"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn partner_lifecycle_through_cli() {
    let sam = Sam::new();
    sam.provision();
    let shown = sam.json(&["partner", "show", "p1"]);
    assert_eq!(shown[0]["status"], "active");
    sam.ok(&["partner", "suspend", "p1"]);
    let output = sam.run(&["client", "list", "-p", "p1"]);
    assert_eq!(code(&output), 4, "{}", stderr(&output));
    assert!(stderr(&output).contains("suspended"));
    sam.ok(&["partner", "resume", "p1"]);
    let refused = sam.run(&["partner", "delete", "p1"]);
    assert_eq!(code(&refused), 2);
    assert!(stderr(&refused).contains("--yes"));
    sam.ok(&["partner", "delete", "p1", "--yes"]);
    assert_eq!(code(&sam.run(&["partner", "show", "p1"])), 3);
    assert!(!sam.home().join("partners/p1.db").exists());
}

#[test]
fn unknown_config_key_is_named() {
    let sam = Sam::new();
    sam.ok(&["init"]);
    std::fs::write(sam.home().join("config.toml"), "databse_url = \"x\"\n").unwrap();
    let output = sam.run(&["partner", "list"]);
    assert_eq!(code(&output), 2);
    assert!(
        stderr(&output).contains("databse_url"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn invalid_log_level_is_named() {
    let sam = Sam::new();
    sam.ok(&["init"]);
    std::fs::write(
        sam.home().join("config.toml"),
        "log_level = \"sam_core=loud\"\n",
    )
    .unwrap();
    let output = sam.run(&["partner", "list"]);
    assert_eq!(code(&output), 2);
    assert!(
        stderr(&output).contains("invalid log_level \"sam_core=loud\""),
        "{}",
        stderr(&output)
    );
}

#[test]
fn evaluate_reports_bad_rows_and_continues() {
    let sam = Sam::new();
    sam.provision();
    let huge = "x ".repeat(40_000);
    let mut file = Vec::new();
    file.extend_from_slice(b"id,student_id,text\n");
    file.extend_from_slice(
        b"s1,st1,\"A location in memory, \"\"named\"\",\nthat stores a value\"\n",
    );
    file.extend_from_slice(b"s2,st2,bad \xff byte\n");
    file.extend_from_slice(format!("s3,st3,{huge}\n").as_bytes());
    file.extend_from_slice(b"s4,st4,\n");
    file.extend_from_slice(b",st5,no id\n");
    let path = sam.file("subs.csv", &file);
    let results = sam.home.path().join("out.jsonl");
    let output = sam.run(&[
        "evaluate",
        "-p",
        "p1",
        "-c",
        "c1",
        "-a",
        "a1",
        "--file",
        &path,
        "--results",
        &results.display().to_string(),
        "-q",
    ]);
    assert_eq!(code(&output), 5, "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("line 4"), "{err}");
    assert!(err.contains("UTF-8"), "{err}");
    assert!(err.contains("s3"), "{err}");
    assert!(err.contains("maximum"), "{err}");
    assert!(err.contains("line 7"), "{err}");
    assert!(err.contains("\"id\""), "{err}");

    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&results)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5);
    let first = lines
        .iter()
        .find(|l| l["evaluation"]["submission_id"] == "s1")
        .unwrap();
    let score = first["evaluation"]["score"].as_f64().unwrap();
    assert!((0.0..=5.0).contains(&score));
    let empty = lines
        .iter()
        .find(|l| l["evaluation"]["submission_id"] == "s4")
        .unwrap();
    assert_eq!(empty["evaluation"]["score"].as_f64().unwrap(), 0.0);

    let exported = sam.ok(&["evaluation", "export", "-p", "p1", "--format", "jsonl"]);
    assert_eq!(exported.lines().count(), 2, "{exported}");
}

#[test]
fn duplicate_submission_id_with_other_text_is_rejected() {
    let sam = Sam::new();
    sam.provision();
    let first = sam.file(
        "one.jsonl",
        b"{\"id\":\"s1\",\"student_id\":\"st1\",\"text\":\"a value in memory\"}\n",
    );
    sam.ok(&[
        "evaluate", "-p", "p1", "-c", "c1", "-a", "a1", "--file", &first, "-q",
    ]);
    let same = sam.run(&[
        "evaluate", "-p", "p1", "-c", "c1", "-a", "a1", "--file", &first, "-q", "-o", "json",
    ]);
    assert_eq!(code(&same), 0);
    let summary: serde_json::Value = serde_json::from_slice(&same.stdout).unwrap();
    assert_eq!(summary["already_evaluated"], 1);
    assert_eq!(summary["evaluated"], 0);
    let other = sam.file(
        "two.jsonl",
        b"{\"id\":\"s1\",\"student_id\":\"st1\",\"text\":\"something else\"}\n",
    );
    let output = sam.run(&[
        "evaluate", "-p", "p1", "-c", "c1", "-a", "a1", "--file", &other, "-q",
    ]);
    assert_eq!(code(&output), 5);
    assert!(
        stderr(&output).contains("already exists"),
        "{}",
        stderr(&output)
    );
}

/// Counts rows of a table in partner `p1`'s database file.
fn count_rows(home: &Path, table: &str) -> i64 {
    let path = home.join("partners/p1.db");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        use sqlx::Connection;
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .read_only(true);
        let mut conn = sqlx::SqliteConnection::connect_with(&options)
            .await
            .unwrap();
        sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&mut conn)
            .await
            .unwrap()
    })
}

/// Sets the creation time of partner `slug` in the control database, so
/// the test can bill months before the day it runs.
fn set_partner_created_at(home: &Path, slug: &str, created_at: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let updated = runtime.block_on(async {
        use sqlx::Connection;
        let options = sqlx::sqlite::SqliteConnectOptions::new().filename(home.join("control.db"));
        let mut conn = sqlx::SqliteConnection::connect_with(&options)
            .await
            .unwrap();
        sqlx::query("UPDATE tenants SET created_at = ?1 WHERE partner_id = ?2")
            .bind(created_at)
            .bind(slug)
            .execute(&mut conn)
            .await
            .unwrap()
            .rows_affected()
    });
    assert_eq!(updated, 1, "no partner {slug}");
}

#[test]
fn interrupted_batch_resumes_without_double_billing() {
    let sam = Sam::new();
    sam.provision();
    let mut file = String::new();
    for i in 0..3000 {
        file.push_str(&format!(
            "{{\"id\":\"s{i}\",\"student_id\":\"st{i}\",\"text\":\"a named place in memory holding value {i}\"}}\n"
        ));
    }
    let path = sam.file("many.jsonl", file.as_bytes());
    let mut child = Command::new(env!("CARGO_BIN_EXE_samctl"))
        .args([
            "evaluate", "-p", "p1", "-c", "c1", "-a", "a1", "--file", &path, "-q",
        ])
        .env("SAM_HOME", sam.home())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let _ = child.kill();
    let _ = child.wait();
    let before = count_rows(&sam.home(), "evaluations");
    assert!(before <= 3000);

    let output = sam.run(&[
        "evaluate", "-p", "p1", "-c", "c1", "-a", "a1", "--file", &path, "-q", "-o", "json",
    ]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        summary["evaluated"].as_i64().unwrap() + summary["already_evaluated"].as_i64().unwrap(),
        3000
    );
    assert_eq!(summary["already_evaluated"].as_i64().unwrap(), before);
    assert_eq!(count_rows(&sam.home(), "evaluations"), 3000);
    assert_eq!(count_rows(&sam.home(), "usage_events"), 3000);
}

#[test]
fn override_keeps_ai_result() {
    let sam = Sam::new();
    sam.provision();
    let path = sam.file(
        "one.jsonl",
        b"{\"id\":\"s1\",\"student_id\":\"st1\",\"text\":\"a named location in memory\"}\n",
    );
    sam.ok(&[
        "evaluate", "-p", "p1", "-c", "c1", "-a", "a1", "--file", &path, "-q",
    ]);
    let listed = sam.json(&["evaluation", "list", "-p", "p1"]);
    let id = listed[0]["id"].as_str().unwrap().to_owned();
    let ai_score = listed[0]["score"].as_f64().unwrap();

    let bad = sam.run(&[
        "evaluation",
        "override",
        "-p",
        "p1",
        &id,
        "--teacher",
        "t1",
        "--score",
        "9",
        "--comment",
        "x",
    ]);
    assert_eq!(code(&bad), 2, "{}", stderr(&bad));
    let not_teacher = sam.run(&[
        "evaluation",
        "approve",
        "-p",
        "p1",
        &id,
        "--teacher",
        "nobody",
    ]);
    assert_eq!(code(&not_teacher), 2, "{}", stderr(&not_teacher));

    let overridden = sam.json(&[
        "evaluation",
        "override",
        "-p",
        "p1",
        &id,
        "--teacher",
        "t1",
        "--score",
        "4.5",
        "--comment",
        "Precise answer",
    ]);
    assert_eq!(overridden["status"], "overridden");
    assert_eq!(
        overridden["score"].as_f64().unwrap(),
        ai_score,
        "AI score kept"
    );
    assert_eq!(overridden["review"]["teacher_score"].as_f64().unwrap(), 4.5);
    assert_eq!(overridden["review"]["teacher_comment"], "Precise answer");
    assert_eq!(overridden["grade"].as_f64().unwrap(), 6.3);

    let again = sam.run(&["evaluation", "approve", "-p", "p1", &id, "--teacher", "t1"]);
    assert_eq!(code(&again), 4, "{}", stderr(&again));
}

#[test]
fn demo_runs_twice_without_new_work() {
    let sam = Sam::new();
    let first = sam.json(&["demo"]);
    let rows = first["summary"]["rows"].as_u64().unwrap();
    assert!(rows >= 20);
    assert_eq!(first["summary"]["evaluated"].as_u64().unwrap(), rows);
    let table = sam.ok(&["demo"]);
    assert!(table.contains("Usage this month"), "{table}");
    assert!(table.contains("Billing preview"), "{table}");
    assert!(table.contains("base_fee"), "{table}");
    let second = sam.json(&["demo"]);
    assert_eq!(second["summary"]["evaluated"], 0);
    assert_eq!(
        second["summary"]["already_evaluated"].as_u64().unwrap(),
        rows
    );
}

/// Starts an OpenAI-compatible mock on loopback that grades every request
/// with 4 points and the given feedback; returns its base URL and the runtime
/// that keeps it alive.
fn mock_llm(status: u16) -> (String, tokio::runtime::Runtime) {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let url = runtime.block_on(async {
        let server = MockServer::start().await;
        let content = serde_json::json!({
            "criteria": [{"name": "correctness", "score": 4, "feedback": "Names memory and value."}],
            "overall_feedback": "Good answer from the model."
        })
        .to_string();
        let body = serde_json::json!({
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100}
        });
        Mock::given(method("POST"))
            .and(path("/v1/chat/completions"))
            .respond_with(ResponseTemplate::new(status).set_body_json(body))
            .mount(&server)
            .await;
        let url = format!("{}/v1", server.uri());
        // The server stops when dropped, so it lives as long as the runtime.
        std::mem::forget(server);
        url
    });
    (url, runtime)
}

#[test]
fn evaluate_uses_provider_preset() {
    let sam = Sam::new();
    sam.provision();
    let (url, _runtime) = mock_llm(200);
    let path = sam.file(
        "one.jsonl",
        b"{\"id\":\"s1\",\"student_id\":\"st1\",\"text\":\"a named location in memory\"}\n",
    );
    let results = sam.home.path().join("out.jsonl");
    let provider = format!("llama_self_hosted={url}");
    sam.ok(&[
        "evaluate",
        "-p",
        "p1",
        "-c",
        "c1",
        "-a",
        "a1",
        "--file",
        &path,
        "-q",
        "--provider",
        &provider,
        "--results",
        &results.display().to_string(),
    ]);
    let line: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(&results)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    let evaluation = &line["evaluation"];
    assert_eq!(evaluation["provider"], "llama_self_hosted");
    assert_eq!(evaluation["score"].as_f64().unwrap(), 4.0);
    assert_eq!(evaluation["input_tokens"], 1000);
    assert_eq!(
        evaluation["overall_feedback"],
        "Good answer from the model."
    );
}

#[test]
fn failing_provider_falls_back_to_offline() {
    let sam = Sam::new();
    sam.provision();
    let (url, _runtime) = mock_llm(400);
    let path = sam.file(
        "one.jsonl",
        b"{\"id\":\"s1\",\"student_id\":\"st1\",\"text\":\"a named location in memory\"}\n",
    );
    let provider = format!("llama_self_hosted={url}");
    sam.ok(&[
        "evaluate",
        "-p",
        "p1",
        "-c",
        "c1",
        "-a",
        "a1",
        "--file",
        &path,
        "-q",
        "--provider",
        &provider,
    ]);
    let listed = sam.json(&["evaluation", "list", "-p", "p1"]);
    assert_eq!(listed[0]["provider"], "offline");
    let flags: Vec<&str> = listed[0]["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(flags.contains(&"offline_fallback"), "{flags:?}");
}

#[test]
fn unknown_provider_preset_is_usage_error() {
    let sam = Sam::new();
    sam.provision();
    let path = sam.file(
        "one.jsonl",
        b"{\"id\":\"s1\",\"student_id\":\"st1\",\"text\":\"x\"}\n",
    );
    let output = sam.run(&[
        "evaluate",
        "-p",
        "p1",
        "-c",
        "c1",
        "-a",
        "a1",
        "--file",
        &path,
        "--provider",
        "gpt5",
    ]);
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    assert!(stderr(&output).contains("gpt5"));
}

/// Returns the current month in America/Santiago, the default partner time zone.
fn this_month() -> String {
    let zone = sam_core::metering::parse_zone("America/Santiago").unwrap();
    sam_core::metering::Month::of_time(chrono::Utc::now(), zone).to_string()
}

#[test]
fn usage_and_billing_through_cli() {
    let sam = Sam::new();
    sam.provision();
    let answers = sam.file(
        "answers.jsonl",
        b"{\"id\":\"s1\",\"student_id\":\"st1\",\"text\":\"a value in memory\"}\n\
          {\"id\":\"s2\",\"student_id\":\"st2\",\"text\":\"a named place\"}\n",
    );
    for _ in 0..2 {
        sam.ok(&[
            "evaluate", "-p", "p1", "-c", "c1", "-a", "a1", "--file", &answers, "-q",
        ]);
    }
    let month = this_month();
    let usage = sam.json(&["usage", "-p", "p1", "--month", &month, "--by", "client"]);
    assert_eq!(usage["totals"]["events"], 2, "{usage}");
    assert_eq!(usage["reports"][0]["rows"][0]["key"], "c1");
    let table = sam.ok(&["usage", "--month", &month]);
    assert!(table.contains("total"), "{table}");

    let invoice = sam.json(&["billing", "preview", "-p", "p1", "--month", &month]);
    assert_eq!(invoice["status"], "draft");
    assert_eq!(invoice["evaluations"], 2);
    assert_eq!(
        invoice["total"], "500.00",
        "basic tier fee, 2 of 2000 included"
    );
    assert!(invoice.get("platform").is_none(), "{invoice}");
    let with_platform = sam.json(&[
        "billing",
        "preview",
        "-p",
        "p1",
        "--month",
        &month,
        "--platform",
    ]);
    assert!(with_platform.get("platform").is_some());

    // p1 was created this month, so it has no invoice for January.
    let before = sam.run(&["billing", "preview", "-p", "p1", "--month", "2026-01"]);
    assert_eq!(code(&before), 3, "{}", stderr(&before));
    assert!(
        stderr(&before).contains("was created on"),
        "{}",
        stderr(&before)
    );
    set_partner_created_at(&sam.home(), "p1", "2026-01-05T15:00:00.000000Z");

    let unconfirmed = sam.run(&["billing", "close", "--month", "2026-01"]);
    assert_eq!(code(&unconfirmed), 2, "{}", stderr(&unconfirmed));
    assert!(stderr(&unconfirmed).contains("--yes"));
    let open = sam.run(&["billing", "close", "--month", &month, "-p", "p1", "--yes"]);
    assert_eq!(code(&open), 4, "{}", stderr(&open));
    assert!(stderr(&open).contains("has not ended"), "{}", stderr(&open));
    sam.ok(&["billing", "close", "--month", "2026-01", "--yes"]);
    let twice = sam.run(&[
        "billing", "close", "--month", "2026-01", "-p", "p1", "--yes",
    ]);
    assert_eq!(code(&twice), 4, "{}", stderr(&twice));
    let bad_month = sam.run(&["billing", "preview", "-p", "p1", "--month", "2026-13"]);
    assert_eq!(code(&bad_month), 2);
    let no_partner = sam.run(&["billing", "preview", "--month", &month]);
    assert_eq!(code(&no_partner), 2, "{}", stderr(&no_partner));
    assert!(
        stderr(&no_partner).contains("--partner"),
        "{}",
        stderr(&no_partner)
    );
    let client_only = sam.run(&["usage", "-c", "c1", "--month", &month]);
    assert_eq!(code(&client_only), 2, "{}", stderr(&client_only));
    assert!(
        stderr(&client_only).contains("--partner"),
        "{}",
        stderr(&client_only)
    );

    let rebuilt = sam.json(&["usage", "rebuild", "-p", "p1"]);
    assert_eq!(rebuilt["before"], rebuilt["after"]);
    assert_eq!(rebuilt["after"]["events"], 2);
}

#[test]
fn billing_export_csv_is_spreadsheet_safe() {
    let sam = Sam::new();
    sam.provision();
    let hostile_partner = "=HYPERLINK(\"http://x\",\"y\")";
    sam.ok(&[
        "partner",
        "create",
        "p2",
        "--name",
        hostile_partner,
        "--tier",
        "basic",
    ]);
    // Names reject control characters, so the tab-prefixed formula is
    // covered by the unit test of the CSV writer.
    let hostile_clients = [("c1", "@SUM(1+1)"), ("c2", "+1"), ("c3", "-2+3")];
    for (id, name) in hostile_clients {
        let name_arg = format!("--name={name}");
        sam.ok(&[
            "client", "create", "-p", "p2", id, &name_arg, "--type", "k12",
        ]);
    }
    let assignment = sam.file(
        "a2.toml",
        b"id = \"a1\"\nprompt = \"What is a variable?\"\nmax_points = 5\nlanguage = \"en\"\n",
    );
    let answers = sam.file(
        "answers.jsonl",
        b"{\"id\":\"s1\",\"student_id\":\"st1\",\"text\":\"a value in memory\"}\n",
    );
    for (id, _) in hostile_clients {
        sam.ok(&[
            "assignment",
            "create",
            "-p",
            "p2",
            "-c",
            id,
            "--file",
            &assignment,
        ]);
        sam.ok(&[
            "evaluate", "-p", "p2", "-c", id, "-a", "a1", "--file", &answers, "-q",
        ]);
    }
    let out = sam.home.path().join("invoices.csv");
    sam.ok(&[
        "billing",
        "export",
        "--month",
        &this_month(),
        "--format",
        "csv",
        "--out",
        &out.display().to_string(),
    ]);
    let mut reader = csv::Reader::from_path(&out).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let p2: Vec<&csv::StringRecord> = rows.iter().filter(|r| &r[0] == "p2").collect();
    assert!(!p2.is_empty());
    for row in &p2 {
        assert_eq!(&row[1], format!("'{hostile_partner}"));
    }
    for (id, name) in hostile_clients {
        let client_rows: Vec<_> = p2.iter().filter(|r| &r[6] == id).collect();
        assert!(!client_rows.is_empty(), "{id}");
        for row in client_rows {
            assert_eq!(&row[7], format!("'{name}"), "{id}");
        }
    }
    let total = p2
        .iter()
        .find(|r| &r[5] == "partner" && &r[8] == "total")
        .unwrap();
    assert_eq!(&total[13], "500.00");
    assert!(
        rows.iter().any(|r| &r[0] == "p1"),
        "every partner is exported"
    );
}

#[test]
fn key_lifecycle_through_cli() {
    let sam = Sam::new();
    sam.provision();
    let created = sam.json(&[
        "key",
        "create",
        "-p",
        "p1",
        "--name",
        "Moodle",
        "--scope",
        "create_evaluation",
    ]);
    let key = created["key"].as_str().unwrap().to_owned();
    let prefix = created["prefix"].as_str().unwrap().to_owned();
    assert!(key.starts_with(&format!("sam_{prefix}_")), "{key}");
    let secret = key.rsplit('_').next().unwrap().to_owned();

    let listed = sam.ok(&["key", "list", "-p", "p1", "--output", "json"]);
    assert!(listed.contains(&prefix));
    assert!(!listed.contains(&secret), "the secret is never listed");
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert!(listed[0]["revoked_at"].is_null());

    sam.ok(&["key", "revoke", "-p", "p1", &prefix]);
    let listed = sam.json(&["key", "list", "-p", "p1"]);
    assert!(!listed[0]["revoked_at"].is_null());
    assert_eq!(
        code(&sam.run(&["key", "revoke", "-p", "p1", "nosuchkey"])),
        3
    );

    let bad_scope = sam.run(&[
        "key", "create", "-p", "p1", "--name", "x", "--scope", "root",
    ]);
    assert_eq!(code(&bad_scope), 2, "{}", stderr(&bad_scope));
    assert!(stderr(&bad_scope).contains("root"));

    let table_key = sam.run(&["key", "create", "-p", "p1", "--name", "Canvas"]);
    assert!(table_key.status.success(), "{}", stderr(&table_key));
    let printed = String::from_utf8(table_key.stdout.clone()).unwrap();
    assert!(printed.trim().starts_with("sam_"), "{printed}");
    assert!(
        stderr(&table_key).starts_with("note: "),
        "{}",
        stderr(&table_key)
    );
}

#[test]
fn token_issue_signs_store_claims() {
    let sam = Sam::new();
    sam.provision();
    let without_auth = sam.run(&["token", "issue", "-p", "p1", "-u", "t1"]);
    assert_eq!(code(&without_auth), 2, "{}", stderr(&without_auth));
    assert!(stderr(&without_auth).contains("[auth]"));

    std::fs::write(
        sam.home().join("config.toml"),
        "[auth]\naudience = \"sam-api\"\nalgorithm = \"HS256\"\nsigning_kid = \"k1\"\n\
         [[auth.keys]]\nkid = \"k1\"\nsecret_env = \"SAMTEST_CLI_JWT_SECRET\"\n",
    )
    .unwrap();
    let secret = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let output = Command::new(env!("CARGO_BIN_EXE_samctl"))
        .args([
            "token", "issue", "-p", "p1", "-u", "t1", "--ttl", "10m", "--output", "json",
        ])
        .env("SAM_HOME", sam.home())
        .env("SAMTEST_CLI_JWT_SECRET", &secret)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let issued: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let claims = &issued["claims"];
    assert_eq!(claims["sub"], "t1");
    assert_eq!(claims["tenant_hierarchy"]["partner_id"], "p1");
    assert_eq!(claims["tenant_hierarchy"]["client_id"], "c1");
    assert_eq!(claims["tenant_hierarchy"]["level"], "teacher");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        600
    );
    assert_eq!(issued["token"].as_str().unwrap().split('.').count(), 3);

    sam.ok(&[
        "user",
        "create",
        "-p",
        "p1",
        "-c",
        "c1",
        "padmin",
        "--role",
        "partner_admin",
    ]);
    let output = Command::new(env!("CARGO_BIN_EXE_samctl"))
        .args([
            "token", "issue", "-p", "p1", "-u", "padmin", "--output", "json",
        ])
        .env("SAM_HOME", sam.home())
        .env("SAMTEST_CLI_JWT_SECRET", &secret)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let issued: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let hierarchy = &issued["claims"]["tenant_hierarchy"];
    assert_eq!(hierarchy["level"], "partner_admin");
    assert_eq!(hierarchy["partner_id"], "p1");
    assert!(hierarchy["client_id"].is_null(), "{hierarchy}");

    let unknown = Command::new(env!("CARGO_BIN_EXE_samctl"))
        .args(["token", "issue", "-p", "p1", "-u", "nobody"])
        .env("SAM_HOME", sam.home())
        .env("SAMTEST_CLI_JWT_SECRET", &secret)
        .output()
        .unwrap();
    assert_eq!(code(&unknown), 3, "{}", stderr(&unknown));
}

#[test]
fn missing_text_column_is_a_row_error() {
    let sam = Sam::new();
    sam.provision();
    let path = sam.file(
        "no_text.csv",
        b"id,student_id,answer\ns1,st1,a value in memory\n",
    );
    let output = sam.run(&[
        "evaluate", "-p", "p1", "-c", "c1", "-a", "a1", "--file", &path, "-q",
    ]);
    assert_eq!(code(&output), 5, "{}", stderr(&output));
    assert!(stderr(&output).contains("\"text\""), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("--text-field"),
        "{}",
        stderr(&output)
    );
    let listed = sam.json(&["evaluation", "list", "-p", "p1"]);
    assert_eq!(listed, serde_json::json!([]), "nothing graded or billed");
    // An empty cell in an existing column is an empty submission.
    let empty = sam.file("empty.csv", b"id,student_id,text\ns2,st2,\n");
    sam.ok(&[
        "evaluate", "-p", "p1", "-c", "c1", "-a", "a1", "--file", &empty, "-q",
    ]);
}

#[test]
fn bad_references_exit_with_documented_codes() {
    let sam = Sam::new();
    sam.provision();
    let path = sam.file("one.csv", b"id,student_id,text\ns1,st1,x\n");
    let unknown = sam.run(&[
        "evaluate", "-p", "p1", "-c", "c1", "-a", "nope", "--file", &path,
    ]);
    assert_eq!(code(&unknown), 3, "{}", stderr(&unknown));
    let bad_id = sam.run(&["evaluation", "show", "-p", "p1", "not-a-uuid"]);
    assert_eq!(code(&bad_id), 2, "{}", stderr(&bad_id));
    let typo = sam.file(
        "typo.toml",
        b"id = \"a2\"\nprompt = \"x\"\nmax_points = 5\nrefernce_answer = \"y\"\n",
    );
    let output = sam.run(&[
        "assignment",
        "create",
        "-p",
        "p1",
        "-c",
        "c1",
        "--file",
        &typo,
    ]);
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("refernce_answer"),
        "{}",
        stderr(&output)
    );
    let missing = sam.run(&[
        "assignment",
        "create",
        "-p",
        "p1",
        "-c",
        "c1",
        "--file",
        "/nonexistent/a.toml",
    ]);
    assert_eq!(code(&missing), 2, "{}", stderr(&missing));
}
