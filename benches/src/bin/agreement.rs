//! Measures how well the offline scorer agrees with human graders on the
//! UNT short-answer data set, next to the agreement of the two humans and a
//! tf-idf cosine baseline, and how many answers it grades per second.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use sam_benches::baseline::tfidf_cosines;
use sam_benches::data::{Dataset, MAX_POINTS};
use sam_benches::stats::{median, pearson, quadratic_weighted_kappa, rmse};
use sam_core::eval::scorer::TextAnalyzer;
use sam_core::eval::{OfflineScorer, FLAG_PROMPT_INJECTION};

/// Scores every answer of the UNT short-answer data set with the offline
/// scorer and prints its agreement with the human mean score.
#[derive(Debug, Parser)]
struct Args {
    /// Folder with `questions.jsonl` and `answers.jsonl` [default:
    /// ../shared/data/unt-short-answers beside the workspace]
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,

    /// Number of timed runs over all answers. The printed throughput is
    /// their median.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    runs: u32,

    /// Also write `answer_id,question_id,human,sam` for every answer to
    /// this CSV file.
    #[arg(long, value_name = "FILE")]
    scores: Option<PathBuf>,
}

/// One row of the agreement table.
struct Agreement {
    label: &'static str,
    pearson: Option<f64>,
    kappa: Option<f64>,
    rmse: Option<f64>,
}

impl Agreement {
    fn between(label: &'static str, xs: &[f64], ys: &[f64]) -> Self {
        Self {
            label,
            pearson: pearson(xs, ys),
            kappa: quadratic_weighted_kappa(xs, ys, 5),
            rmse: rmse(xs, ys),
        }
    }
}

fn main() -> std::process::ExitCode {
    match run(Args::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let dir = args.data.unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/unt-short-answers")
    });
    let dataset = Dataset::load(&dir)?;
    let assignments = dataset.assignments();
    let scorer = OfflineScorer::new();

    let mut sam = Vec::with_capacity(dataset.answers.len());
    let mut flagged = Vec::new();
    for answer in &dataset.answers {
        let assignment = assignments
            .get(&answer.question_id)
            .with_context(|| format!("no question {}", answer.question_id))?;
        let grading = scorer.score(assignment, &answer.answer);
        if grading
            .flags
            .iter()
            .any(|flag| flag == FLAG_PROMPT_INJECTION)
        {
            flagged.push(answer.answer_id.as_str());
        }
        sam.push(grading.total_points());
    }
    let human: Vec<f64> = dataset.answers.iter().map(|a| a.score).collect();
    let grader1: Vec<f64> = dataset.answers.iter().map(|a| a.grader1).collect();
    let grader2: Vec<f64> = dataset.answers.iter().map(|a| a.grader2).collect();
    let baseline: Vec<f64> = tfidf_cosines(&dataset, &TextAnalyzer::new())
        .into_iter()
        .map(|cosine| cosine * MAX_POINTS)
        .collect();

    let rows = [
        Agreement::between("grader 1 vs grader 2", &grader1, &grader2),
        Agreement::between("tf-idf cosine x 5 vs human mean", &baseline, &human),
        Agreement::between("SAM offline scorer vs human mean", &sam, &human),
    ];

    let mut rates = Vec::new();
    for _ in 0..args.runs {
        let start = Instant::now();
        for answer in &dataset.answers {
            if let Some(assignment) = assignments.get(&answer.question_id) {
                std::hint::black_box(scorer.score(assignment, &answer.answer));
            }
        }
        #[allow(clippy::cast_precision_loss)]
        rates.push(dataset.answers.len() as f64 / start.elapsed().as_secs_f64());
    }

    if let Some(path) = &args.scores {
        write_scores(path, &dataset, &sam)?;
    }

    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{} questions, {} answers, scores 0-{MAX_POINTS} (QWK on scores rounded to whole points)\n",
        dataset.questions.len(),
        dataset.answers.len()
    )?;
    writeln!(out, "| comparison | Pearson r | QWK | RMSE |")?;
    writeln!(out, "|---|---|---|---|")?;
    for row in &rows {
        writeln!(
            out,
            "| {} | {} | {} | {} |",
            row.label,
            format_stat(row.pearson),
            format_stat(row.kappa),
            format_stat(row.rmse)
        )?;
    }
    writeln!(
        out,
        "\nflagged as prompt injection: {} of {} answers {flagged:?}",
        flagged.len(),
        dataset.answers.len()
    )?;
    writeln!(
        out,
        "throughput: {:.0} gradings/s (median of {} runs over all answers, one thread)",
        median(&rates).unwrap_or(0.0),
        args.runs
    )?;
    Ok(())
}

fn write_scores(path: &PathBuf, dataset: &Dataset, sam: &[f64]) -> anyhow::Result<()> {
    let mut text = String::from("answer_id,question_id,human,sam\n");
    for (answer, score) in dataset.answers.iter().zip(sam) {
        text.push_str(&format!(
            "{},{},{},{score:.2}\n",
            answer.answer_id, answer.question_id, answer.score
        ));
    }
    std::fs::write(path, text).with_context(|| format!("failed to write {}", path.display()))
}

fn format_stat(value: Option<f64>) -> String {
    value.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.3}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn args_default_to_five_runs() {
        let args = Args::try_parse_from(["agreement"]).unwrap();
        assert_eq!(args.runs, 5);
        assert!(args.data.is_none());
        assert!(args.scores.is_none());
    }

    #[test]
    fn args_accept_data_folder() {
        let args =
            Args::try_parse_from(["agreement", "--data", "/tmp/unt", "--runs", "2"]).unwrap();
        assert_eq!(args.data, Some(PathBuf::from("/tmp/unt")));
        assert_eq!(args.runs, 2);
    }

    #[test]
    fn args_reject_zero_runs() {
        assert!(Args::try_parse_from(["agreement", "--runs", "0"]).is_err());
    }
}
