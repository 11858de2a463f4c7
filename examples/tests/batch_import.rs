//! Runs the `batch_import` example binary on the sample gradebook export
//! and on a file with bad rows.

// Test helpers fail loudly on setup errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sam_core::store::EvaluationFilter;
use sam_core::Sam;

fn data(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn run_import(home: &Path, csv: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_batch_import"))
        .arg("--home")
        .arg(home)
        .args(["--partner", "aptus", "--client", "colegio1", "--csv"])
        .arg(csv)
        .args(extra)
        .output()
        .unwrap()
}

fn assignments_arg() -> String {
    data("quickstart/assignments.jsonl").display().to_string()
}

async fn stored_evaluations(home: &Path) -> usize {
    let sam = Sam::builder().embedded(home).build().await.unwrap();
    let all = sam
        .evaluations("aptus", &EvaluationFilter::default())
        .await
        .unwrap();
    sam.close().await;
    all.len()
}

#[tokio::test]
async fn import_evaluates_every_row_once() {
    let home = tempfile::tempdir().unwrap();
    let csv = data("data/gradebook.csv");
    let assignments = assignments_arg();
    let first = run_import(
        home.path(),
        &csv,
        &["--provision", "--assignments", &assignments],
    );
    let stdout = String::from_utf8_lossy(&first.stdout);
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(first.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("assignments registered: 5"), "{stdout}");
    assert!(stdout.contains("bio-fotosintesis: 5 evaluated"), "{stdout}");
    assert!(stdout.contains("geo-ciclo-agua: 3 evaluated"), "{stdout}");
    assert!(
        stdout.contains("rows: 8, evaluated: 8, failed: 0"),
        "{stdout}"
    );
    assert_eq!(stored_evaluations(home.path()).await, 8);

    let second = run_import(home.path(), &csv, &[]);
    let rerun_stdout = String::from_utf8_lossy(&second.stdout);
    assert!(second.status.success(), "{rerun_stdout}");
    assert!(
        rerun_stdout.contains("rows: 8, evaluated: 8, failed: 0"),
        "{rerun_stdout}"
    );
    assert_eq!(stored_evaluations(home.path()).await, 8);
}

#[tokio::test]
async fn import_reports_bad_rows_and_continues() {
    let home = tempfile::tempdir().unwrap();
    let csv = home.path().join("export.csv");
    std::fs::write(
        &csv,
        "student_id,assignment_id,submission_id,text\n\
         est_ana,bio-fotosintesis,s01,La planta usa luz y agua para hacer glucosa y oxígeno.\n\
         est_benja,no-such-assignment,s02,Texto.\n\
         est_carla,bio-fotosintesis,bad id,Texto.\n\
         est_dani,bio-fotosintesis,s04\n",
    )
    .unwrap();

    let assignments = assignments_arg();
    let output = run_import(
        home.path(),
        &csv,
        &["--provision", "--assignments", &assignments],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(5), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("rows: 4, evaluated: 1, failed: 3"),
        "{stdout}"
    );
    assert!(stderr.contains("export.csv:3: assignment"), "{stderr}");
    assert!(
        stderr.contains("export.csv:4: invalid submission_id"),
        "{stderr}"
    );
    assert!(stderr.contains("export.csv:5: invalid row"), "{stderr}");
    assert_eq!(stored_evaluations(home.path()).await, 1);
}
