//! Runs the `minimal` example binary on fresh and reused store folders.

// Test helpers fail loudly on setup errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

/// Runs `minimal`, checks that it succeeded and returns its stdout.
fn run_minimal(home: Option<&std::path::Path>) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_minimal"));
    if let Some(home) = home {
        command.arg(home);
    }
    let output = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "minimal failed: {stderr}");
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn minimal_prints_three_drafts() {
    let stdout = run_minimal(None);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    assert!(lines[0].starts_with("store: sqlite://"), "{stdout}");
    for (line, submission) in lines[1..].iter().zip(["s1", "s2", "s3"]) {
        assert!(line.starts_with(submission), "{line}");
        assert!(line.contains("/7 points"), "{line}");
        assert!(line.contains("draft"), "{line}");
    }
}

#[test]
fn minimal_rerun_returns_same_results() {
    let home = tempfile::tempdir().unwrap();
    let first = run_minimal(Some(home.path()));
    let second = run_minimal(Some(home.path()));
    assert_eq!(first, second);
    assert!(home.path().join("partners").join("demo.db").is_file());
}
